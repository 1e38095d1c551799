"""Finding, downloading and fingerprinting a backbone's published weights: one resolver for every backbone.

Order (:func:`resolve`): ``--weights PATH``; the backbone's environment variable (``$GENTOOLS_WEIGHTS``: the
default Inception only); the caches: torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``, where
pytorch-fid, torch-fidelity and torchvggish keep their files), then the folders where the peer tools keep the same
file (panns_inference's ``~/panns_data``, fadtk's and laion_clap's checkpoint folders); else download the
published URL (``$URL_ENV`` of the backbone, or ``$GENTOOLS_WEIGHTS_MIRROR`` in place of its origin) into
torch hub's folder and keep it only when its sha256 is the published one. The published hash is the torch-hub
convention where the publisher follows it: the file's sha256 starts with the 8 hex digits in its name.

Every download of weights (:func:`download`) is bounded as ``ref pull``'s are (:mod:`gentools.download`: a
size limit, a deadline, no encoded bodies, http(s) redirects only, resumed only with If-Range), and kept
only when its hash is the published one.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

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
MIRROR_ENV = "GENTOOLS_WEIGHTS_MIRROR"  # a mirror keeping the published paths, for every backbone


@dataclass(frozen=True)
class Published:
    """A backbone's published weights file: ``file`` in torch hub's checkpoint folder, fetched from ``url`` (or
    ``$url_env``), whose sha256 starts with ``sha256`` where its publisher gives one. ``env``: a variable naming
    a local file, read before the caches; ``elsewhere()``: other places the peer tools keep the same file."""

    backbone: str
    file: str
    url: str
    sha256: str = ""
    url_env: str = ""
    env: str = ""
    elsewhere: Optional[Callable[[], list]] = None

    def source_url(self) -> str:
        """Where a download fetches it: ``$url_env``, else the published URL on ``$GENTOOLS_WEIGHTS_MIRROR``."""
        from gentools.download import mirrored

        return (os.environ.get(self.url_env) if self.url_env else None) or \
            mirrored(self.url, os.environ.get(MIRROR_ENV))

    def places(self) -> list:
        """Where it is looked for, in order: torch hub's folder, then the peers' folders."""
        return [checkpoint_dir() / self.file, *(self.elsewhere() if self.elsewhere else [])]


def resolve(row: Published, option: Optional[str], source_url: Optional[str] = None) -> Path:
    """The weights file of ``row``, by the order in the module docstring (``source_url``: where to download it
    instead of :meth:`Published.source_url`); a path that is not a file is a one-line error naming where it
    came from (``--weights`` or the variable)."""
    for value, source in ((option, "--weights"), (os.environ.get(row.env) if row.env else None, row.env)):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise InputError(f"{path}: weights file not found (from {source})")
            return path
    for place in row.places():
        if place.is_file():
            return place
    dest = checkpoint_dir() / row.file
    try:
        return download(source_url or row.source_url(), dest, row.sha256)
    except InputError as exc:
        reason = exc.__cause__ or exc
        reason = getattr(reason, "reason", None) or reason
        also = f", or set {row.env}" if row.env else ""
        raise InputError(f"no {row.file} here and it cannot be fetched ({reason}): download {row.url} into "
                         f"{dest.parent}/, or pass --weights PATH{also}") from None


INCEPTION = Published("inception", FILE_NAMES[0], URL, PUBLISHED_PREFIX, URL_ENV, "GENTOOLS_WEIGHTS",
                      lambda: [checkpoint_dir() / name for name in FILE_NAMES[1:]])


def checkpoint_dir() -> Path:
    """torch hub's checkpoint folder: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def is_published(sha256: str) -> bool:
    return sha256.startswith(PUBLISHED_PREFIX)


def resolve_inception_weights(option: str | None) -> Path:
    """The FID Inception's weights file (:func:`resolve`)."""
    return resolve(INCEPTION, option)


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
