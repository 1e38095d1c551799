"""``ref:NAME`` (the statistics) and ``ref:NAME:rows`` (the feature rows beside them) as inputs."""

from __future__ import annotations

from pathlib import Path

from gentools.errors import FormatError, InputError
from gentools.refs import cache

PREFIX = "ref:"
# Provenance a reference carries (besides the backbone and resize of its preset, where its file has none).
KEYS = ("ref", "ref_url", "ref_sha256", "preset")


def is_ref(source) -> bool:
    return isinstance(source, str) and source.startswith(PREFIX)


def parse(spec: str) -> tuple[str, str]:
    """``"ref:NAME"`` -> ``(NAME, "")``; ``"ref:NAME:rows"`` -> ``(NAME, "rows")``."""
    body = spec[len(PREFIX):]
    name, _, part = body.partition(":")
    if part not in ("", "rows"):
        raise InputError(f"{spec[:120]}: expected ref:NAME or ref:NAME:rows")
    return cache.check_name(name), part


def path_of(spec: str) -> tuple[Path, dict]:
    """The cached file ``spec`` names and its record; not pulled -> one line naming the pull command."""
    name, part = parse(spec)
    record = cache.read_record(name)
    if record is None:
        raise InputError(f"ref:{name} is not in the cache ({cache.entry_dir(name)}); run `gentools ref pull {name}`")
    if part == "rows" and not record.get("rows_file"):
        raise InputError(f"ref:{name} has no feature rows (made without --rows, or pulled statistics only)")
    path = cache.entry_dir(name) / (record["rows_file"] if part else record["file"])
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"ref:{name}: its file is gone from the cache ({path}); run `gentools ref pull {name}` "
                         f"again") from None
    if not part and size != record["size"]:
        raise InputError(f"ref:{name}: the cached file has {size} bytes, its record {record['size']}: changed since "
                         f"it was pulled ({path})", hint=f"`gentools ref verify {name}` checks it")
    return path, record


def open_ref(spec: str, allow_sets: bool = False):
    """The Stats / Features / StatsSet of a cached reference, labelled ``ref:NAME`` and carrying its source URL,
    sha256 and preset in its provenance (and its preset's backbone and resize where the file records none)."""
    from gentools.store import open_input

    path, record = path_of(spec)
    if record["format"] == "dataset-archive":
        raise InputError(f"{spec} is the image dataset archive torch-fidelity computes its statistics from, not "
                         f"statistics; gentools does not read it ({path})")
    try:
        item = open_input(str(path), allow_sets=allow_sets)
    except FormatError as exc:  # a cached file that no longer reads: changed or damaged since it was pulled
        name = parse(spec)[0]
        exc.hint = "; ".join(filter(None, [exc.hint, f"the cached file is damaged: `gentools ref verify {name}` "
                                                     f"checks it, `gentools ref pull {name}` fetches it again"]))
        raise
    extra = {"ref": parse(spec)[0], "ref_url": record["url"], "ref_sha256": record["sha256"]}
    if record["preset"]:
        extra["preset"] = record["preset"]
    inferred = {key: record[key] for key in ("backbone", "resize") if isinstance(record.get(key), str)}
    entries = getattr(item, "entries", None)
    item.label = spec
    item.provenance = {**({} if entries else inferred), **item.provenance, **extra}
    for key, entry in (entries or {}).items():  # EDM2: fd_dinov2 is the edm2 preset's; fid is an Inception's
        entry.label = f"{spec}:{key}"
        entry.provenance = {**(inferred if key == "fd_dinov2" else {}), **entry.provenance, **extra}
    return item
