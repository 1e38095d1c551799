"""Finding, downloading and fingerprinting the FID Inception weights.

Order: ``--weights PATH``; ``$GENTOOLS_WEIGHTS``; the published file names in
torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``, where
pytorch-fid and torch-fidelity keep them); else download from pytorch-fid's
release URL into that folder and check the hash. The published hash is the
torch-hub convention: the file's sha256 starts with the 8 hex digits in its name.

Every download of weights (:func:`download`) is bounded as ``ref pull``'s are (:mod:`gentools.download`: a
size limit, a deadline, no encoded bodies, http(s) redirects only, resumed only with If-Range), and kept
only when its hash is the published one.
"""

from __future__ import annotations

import os
import urllib.parse
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
MAX_SIZE = 8 << 30  # the largest published file we fetch is VideoMAE-v2 ViT-g (4 GB)


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
    return download(os.environ.get(URL_ENV, URL), folder / FILE_NAMES[0], PUBLISHED_PREFIX,
                    hint=", or set GENTOOLS_WEIGHTS")


def download(url: str, dest: Path, sha256_prefix: str, progress=None, max_size: int = MAX_SIZE,
             timeout: float | None = None, hint: str = "") -> Path:
    """Fetch ``url`` to ``dest`` through ``dest.partial`` (a rerun resumes an http(s) transfer), bounded by
    ``max_size`` and ``timeout``; the file takes its name only if its sha256 starts with ``sha256_prefix``.
    A ``file://`` URL is a mirror on this machine: copied, within the same size."""
    fetch_verified(url, dest, sha256_prefix, progress, max_size, timeout, hint)
    return dest


def fetch_verified(url: str, dest: Path, sha256_prefix: str, progress=None, max_size: int = MAX_SIZE,
                   timeout: float | None = None, hint: str = "") -> str:
    """:func:`download`, returning the kept file's sha256 (computed once, to check it)."""
    from gentools.download import DEADLINE, check_url
    from gentools.download import download as fetch

    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f"{dest.name}.partial")
    try:
        if urllib.parse.urlsplit(url).scheme == "file":
            _copy_local(url, partial, max_size)
        else:  # the bounded transfer keeps an interrupted partial for the rerun and removes a refused one
            fetch(check_url(url), partial, progress, DEADLINE if timeout is None else timeout, max_size)
    except (OSError, ValueError, InputError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"no {dest.name} here and the download failed ({reason}): put it (from {url}) in "
                         f"{dest.parent}/, or pass --weights PATH{hint}") from exc
    digest = sha256_of(partial)
    if not digest.startswith(sha256_prefix):
        partial.unlink()
        raise InputError(f"{url}: downloaded file has sha256 {digest[:16]}…, expected {sha256_prefix}…; "
                         f"not kept (corrupt or wrong file)")
    os.replace(partial, dest)
    return digest


def _copy_local(url: str, partial: Path, max_size: int) -> None:
    """A ``file://`` mirror copied to ``partial``, within ``max_size`` bytes; nothing is left when it fails."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            while block := response.read(1 << 20):
                if out.tell() + len(block) > max_size:
                    raise InputError(f"{url}: over the {max_size} bytes a weights file may have")
                out.write(block)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
