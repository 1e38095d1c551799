"""The check a ``.pt2`` archive passes before ``torch.export.load`` opens it: only what that loader reads as plain
tensors and JSON, named as it looks names up, within the memory budget.

torch's loader (``torch/export/pt2_archive/_package.py``, ``load_pt2``) reads members through
``torch._C.PyTorchFileReader``, whose miniz lookup ignores case: a member stored as
``G/data/constants/OPAQUE_OBJ_0`` answers a read of ``data/constants/opaque_obj_0``. What it does with a
member is decided by the payload configs, not by the member's name: a constant whose ``path_name`` starts
with ``opaque_obj_`` is ``pickle.loads``-ed, ``custom_obj_`` goes to ``torch._C._pickle_load_obj``, and
``use_pickle`` means ``torch.load(weights_only=False)``; sample inputs that ``torch.load(weights_only=True)``
refuses are loaded again with ``weights_only=False`` (``deserialize_torch_artifact``). A weight member of
zero bytes becomes ``torch.zeros(sizes)`` of whatever size its config declares.

So every member name must be one of the forms ``torch.export.save`` writes, with no two names equal but for
case, no backslash, ``.`` or empty path component; every name this check looks up is looked up as torch does
(ignoring case); every payload entry is a plain tensor (``weight_N`` / ``tensor_N``, not pickled); the
sample inputs load as plain tensors; and the bytes the members unpack to, and the tensors the configs
declare, fit the memory budget.
"""

from __future__ import annotations

import json
import re
import zipfile

from gentools import memory
from gentools.errors import InputError
from gentools.store.safety import MAX_COMPRESSION  # past this a member is a decompression bomb
from gentools.text import escape

MAX_JSON_BYTES = 64 << 20
MAX_SAMPLE_INPUT_BYTES = 1 << 30
_NAME = r"[A-Za-z0-9_.\-]+"
# The member forms torch.export.save writes (torch/export/pt2_archive/constants.py), relative to the archive's
# one top folder, compared ignoring case as torch's reader looks them up.
MEMBER_FORMS = {
    "meta": re.compile(r"archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"),
    "model": re.compile(rf"models/(?P<model>{_NAME})\.json"),
    "sample_inputs": re.compile(rf"data/sample_inputs/{_NAME}\.pt"),
    "config": re.compile(rf"data/(weights|constants)/{_NAME}_(weights|constants)_config\.json"),
    "tensor": re.compile(r"data/weights/weight_\d+|data/constants/tensor_\d+"),
    "extra": re.compile(rf"extra/{_NAME}"),
}
PAYLOAD_PREFIX = {"weights": "weight_", "constants": "tensor_"}


class Refused(InputError):
    """An archive gentools will not hand to torch."""


def check(path) -> None:
    """Raise :class:`Refused` (one line naming ``path``) unless the ``.pt2`` at ``path`` holds only plain tensors
    and JSON in the forms torch writes, within the memory budget. Reads the archive's directory, its JSON
    configs and the sample inputs (with ``weights_only=True``), nothing else."""
    label = escape(str(path))

    def refuse(why: str) -> Refused:
        return Refused(f"{label}: {why}; gentools loads exported programs of plain tensors only")

    with zipfile.ZipFile(path) as archive:
        members = _members(archive, refuse)
        _check_sizes(members, label, refuse)
        models = [m["model"] for name, (form, m, _) in members.items() if form == "model"]
        if not models:
            raise refuse("no serialised model (models/*.json)")
        if _read(archive, members, "archive_format", refuse, MAX_JSON_BYTES).strip() != b"pt2":
            raise refuse("archive_format is not pt2")
        declared = 0
        for model in models:
            for kind in ("weights", "constants"):
                config = _read(archive, members, f"data/{kind}/{model}_{kind}_config.json", refuse, MAX_JSON_BYTES)
                declared += _check_payloads(config, kind, members, refuse)
            _check_tensors_only(_read(archive, members, f"data/sample_inputs/{model}.pt", refuse,
                                      MAX_SAMPLE_INPUT_BYTES), refuse)
        memory.require(declared, "the tensors the .pt2 declares", label)


def _members(archive: zipfile.ZipFile, refuse) -> dict:
    """Lower-cased relative name -> ``(form, match, ZipInfo)``, each name one torch would write."""
    infos = archive.infolist()
    for info in infos:
        name = info.filename
        if "\\" in name or any(p in ("", ".", "..") for p in name.split("/")) or not name.isprintable():
            raise refuse(f"archive entry {escape(name)!r} is not a plain relative name")
    roots = {info.filename.split("/", 1)[0] for info in infos}
    if len(roots) != 1:
        raise refuse("entries under more than one top folder" if roots else "an empty archive")
    root = roots.pop()
    members: dict = {}
    for info in infos:
        relative = info.filename[len(root) + 1:]
        form = next(((form, match) for form, pattern in MEMBER_FORMS.items()
                     if (match := pattern.fullmatch(relative.lower()))), None)
        if form is None:
            aoti = relative.lower().startswith("data/aotinductor/")
            raise refuse("an AOTInductor package (compiled native code), not an exported program" if aoti else
                         f"unexpected archive entry {escape(relative)!r} (not one torch.export.save writes)")
        if relative.lower() in members:  # torch's reader ignores case: either could be the one it reads
            raise refuse(f"two archive entries named {escape(relative)!r} (ignoring case)")
        members[relative.lower()] = (form[0], form[1], info)
    return members


def _check_sizes(members: dict, label: str, refuse) -> None:
    total = 0
    for _, _, info in members.values():
        if info.compress_type != zipfile.ZIP_STORED and info.compress_size * MAX_COMPRESSION < info.file_size:
            raise refuse(f"{escape(info.filename)} unpacks {info.file_size} bytes from {info.compress_size}: "
                         f"refused as a decompression bomb")
        total += info.file_size
    memory.require(total, "the .pt2's members", label)


def _read(archive, members: dict, relative: str, refuse, limit: int) -> bytes:
    entry = members.get(relative.lower())
    if entry is None:
        raise refuse(f"{escape(relative)} is missing")
    info = entry[2]
    if info.file_size > limit:
        raise refuse(f"{escape(relative)} is {info.file_size} bytes, over {limit}")
    return archive.read(info)


def _check_payloads(raw: bytes, kind: str, members: dict, refuse) -> int:
    """The bytes the plain tensors of one payload config take; refuses pickled, custom and opaque payloads."""
    from torch._export.serde.serialize import _SERIALIZE_TO_TORCH_DTYPE

    try:
        entries = json.loads(raw)["config"]
        if not isinstance(entries, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise refuse(f"its {kind} config is not a payload config") from None
    sizes: dict = {}
    for fqn, entry in entries.items():
        what = f"{kind} entry {escape(str(fqn))[:80]!r}"
        if not isinstance(entry, dict) or entry.get("use_pickle", False) is not False:
            raise refuse(f"{what} is a pickled object")
        path_name = entry.get("path_name")
        if not isinstance(path_name, str) or not re.fullmatch(rf"{PAYLOAD_PREFIX[kind]}\d+", path_name):
            raise refuse(f"{what} is stored as {escape(str(path_name))[:60]!r}, not as a plain tensor "
                         f"(custom and opaque objects are unpickled)")
        member = members.get(f"data/{kind}/{path_name}")
        if member is None:
            raise refuse(f"{what} names data/{kind}/{escape(path_name)}, which is missing")
        try:
            meta = entry["tensor_meta"]
            itemsize = _SERIALIZE_TO_TORCH_DTYPE[meta["dtype"]].itemsize
            numel = 1
            for size in meta["sizes"]:
                value = size["as_int"]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise TypeError
                numel *= value
        except (KeyError, TypeError, AttributeError):
            raise refuse(f"{what} has no plain tensor shape and dtype") from None
        stored = member[2].file_size  # a zero-byte member is made as torch.zeros(sizes): its declared size counts
        sizes[path_name] = max(sizes.get(path_name, 0), stored if stored else numel * itemsize)
    return sum(sizes.values())


def _check_tensors_only(raw: bytes, refuse) -> None:
    """The sample inputs as ``torch.load(weights_only=True)`` reads them, which is the load torch tries first."""
    import io

    import torch

    try:
        torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - anything the restricted unpickler refuses
        raise refuse(f"its sample inputs are not plain tensors ({escape(str(exc).splitlines()[0])[:120]})") from None
