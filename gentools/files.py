"""Files gentools writes and keeps: outputs written atomically (:func:`atomic_path`), the cache folder
``$GENTOOLS_CACHE`` (compiled networks, reference statistics), the sha256 that names and checks them, and
opening only regular files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from gentools.errors import InputError


@contextlib.contextmanager
def atomic_path(dest: str) -> Iterator[str]:
    """Yield a temporary path beside ``dest``; on success fsync and rename it to ``dest``."""
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise InputError(f"output folder does not exist ({folder})")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def umask() -> int:
    """The process's umask (read by setting it and putting it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cache_root() -> Optional[Path]:
    """``$GENTOOLS_CACHE`` (default ``~/.cache/gentools``); ``None`` when it is ``off``."""
    value = os.environ.get("GENTOOLS_CACHE", "")
    if value.strip().lower() == "off":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "gentools"


def sha256_of(path: os.PathLike) -> str:
    """The file's sha256, hex."""
    return digest_of(path, "sha256")


def digest_of(path: os.PathLike, algorithm: str) -> str:
    """The file's ``hashlib`` digest (hex), read in 1 MiB blocks; an ``OSError`` for anything but a regular file
    (a FIFO or a device would be read forever)."""
    digest = hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    with open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class NotRegular(OSError):
    """A path that is a FIFO, a device, a socket or a folder where a file was expected, or a link refused."""


def open_regular(path: os.PathLike, follow: bool = True):
    """``open(path, "rb")`` for a regular file only: opened without blocking (a FIFO with no writer would wait
    forever), then checked with ``fstat`` on the open descriptor, so the file checked is the file read.
    ``follow=False`` also refuses a symbolic link. Raises :class:`NotRegular` (an ``OSError``) saying what it is."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow and os.path.islink(path):
            raise NotRegular(f"{os.fspath(path)}: a symbolic link, refused here") from None
        raise exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(f"{os.fspath(path)}: {kind_of_mode(mode)}, not a regular file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_regular(path: os.PathLike, limit: int, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (:func:`open_regular`); an ``OSError`` otherwise."""
    with open_regular(path, follow) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise NotRegular(f"{os.fspath(path)}: {size} bytes, over the {limit} this file may have")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotRegular(f"{os.fspath(path)}: over the {limit} bytes this file may have")
    return data


def kind_of_mode(mode: int) -> str:
    """``a FIFO``, ``a device``… for an ``st_mode``."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"
