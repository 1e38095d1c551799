"""Finding, downloading and fingerprinting the FID Inception weights.

Order: ``--weights PATH``; ``$GENTOOLS_WEIGHTS``; the published file names in
torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``, where
pytorch-fid and torch-fidelity keep them); else download from pytorch-fid's
release URL into that folder and check the hash. The published hash is the
torch-hub convention: the file's sha256 starts with the 8 hex digits in its name.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from gentools.errors import InputError
from gentools.files import sha256_of

PUBLISHED_PREFIX = "6726825d"
FILE_NAMES = (
    "pt_inception-2015-12-05-6726825d.pth",  # pytorch-fid
    "weights-inception-2015-12-05-6726825d.pth",  # torch-fidelity
)
URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
       "pt_inception-2015-12-05-6726825d.pth")
URL_ENV = "GENTOOLS_WEIGHTS_URL"  # a mirror (or file:// URL) to download from instead


def checkpoint_dir() -> Path:
    """torch hub's checkpoint folder: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def is_published(sha256: str) -> bool:
    return sha256.startswith(PUBLISHED_PREFIX)


def resolve_inception_weights(option: str | None) -> Path:
    """The weights file to use, by the order in the module docstring; downloads as a last resort."""
    explicit = option or os.environ.get("GENTOOLS_WEIGHTS")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            source = "--weights" if option else "GENTOOLS_WEIGHTS"
            raise InputError(f"{path}: weights file not found (from {source})")
        return path
    folder = checkpoint_dir()
    for name in FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return download(os.environ.get(URL_ENV, URL), folder / FILE_NAMES[0], PUBLISHED_PREFIX)


def download(url: str, dest: Path, sha256_prefix: str) -> Path:
    """Fetch ``url`` to ``dest`` atomically; the file is kept only if its sha256 starts with ``sha256_prefix``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise InputError(
            f"no Inception weights here and the download failed ({reason}): put {FILE_NAMES[0]} "
            f"(from {URL}) in {dest.parent}/, or pass --weights PATH, or set GENTOOLS_WEIGHTS") from exc
    digest = sha256_of(partial)
    if not digest.startswith(sha256_prefix):
        partial.unlink()
        raise InputError(f"{url}: downloaded file has sha256 {digest[:16]}…, expected {sha256_prefix}…; "
                         f"not kept (corrupt or wrong file)")
    os.replace(partial, dest)
    return dest
