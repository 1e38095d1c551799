"""What every input kind shares: the item an input becomes, the folder walk, archive listings and members, and
arrays stored in ``.npz`` files (images, sound and videos each list and decode through these)."""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from gentools.errors import InputError

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ARRAY_SUFFIXES = (".npy", ".npz")


@dataclass(frozen=True)
class Item:
    """One input: ``kind`` is file, zip, tar or array (videos add frames and zipframes); ``member`` the archive
    member, array row or frame names."""

    id: str
    kind: str
    path: str
    member: object = None
    size: int = 0  # an archive member's uncompressed size, from the archive's directory


def visible(name: str) -> bool:
    """No component of ``name`` is hidden (starts with a dot)."""
    return not any(p.startswith(".") for p in name.replace("\\", "/").split("/") if p)


def inside_folder(path: str, root) -> bool:
    """Whether ``path``, listed from folder ``root``, is read there: a symbolic link is followed only to a file
    inside ``root`` (one out of it is left out, with a warning: a folder's inputs are that folder's files)."""
    if not os.path.islink(path):
        return True
    target, base = os.path.realpath(path), os.path.realpath(root)
    if target == base or target.startswith(base.rstrip(os.sep) + os.sep):
        return True
    from gentools.errors import warn
    from gentools.text import escape

    warn(f"{escape(path)}: a symbolic link out of {escape(str(root))}; not read")
    return False


def walk(root: Path, accept: Optional[Callable[[str], bool]] = None) -> Iterator[tuple[str, list]]:
    """``(folder, files)`` under ``root``: folders in sorted order, hidden folders skipped, each folder's
    ``accept``-ed files sorted, a symbolic link never followed out of ``root``; a folder that cannot be listed is
    an input error."""
    for folder, dirs, files in os.walk(root, onerror=_walk_error):  # followlinks=False: no symlink loops
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield folder, [f for f in sorted(files) if (accept is None or accept(f))
                       and inside_folder(os.path.join(folder, f), root)]


def _walk_error(exc: OSError) -> None:
    raise InputError(f"{exc.filename}: cannot list folder ({exc.strerror})")


def zip_entries(path: Path, accept: Callable[[str], bool]) -> list:
    """The accepted file members of a zip archive (``ZipInfo``, sorted by name); an unreadable archive is one
    input error."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if i.filename and not i.is_dir() and accept(i.filename)]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, IndexError, NotImplementedError, UnicodeError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})") from None
    return sorted(infos, key=lambda i: i.filename)


def tar_entries(path: Path, accept: Callable[[str], bool]) -> list:
    """``(name, size)`` of the accepted file members of a tar archive, sorted."""
    try:
        with tarfile.open(path) as archive:
            return sorted((m.name, m.size) for m in archive.getmembers() if m.isfile() and accept(m.name))
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError) as exc:
        raise InputError(f"{path}: not a readable tar archive ({exc})") from None


def npz_member(path: str) -> np.ndarray:
    """``arr_0`` (guided-diffusion's sample batches) or else the only array of an ``.npz``: memory-mapped when
    stored plainly, else read whole within the memory budget."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".npy")]
        name = "arr_0.npy" if "arr_0.npy" in names else (names[0] if len(names) == 1 else None)
        if name is None:
            raise ValueError(f"expected arr_0 or a single array, found {[n[:-4] for n in names]}")
        info = archive.getinfo(name)
        if info.compress_type == zipfile.ZIP_STORED:
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(member)
                header_len = member.tell()
            with open(path, "rb") as raw:  # data offset = local header + member's npy header
                raw.seek(info.header_offset + 26)
                name_len, extra_len = np.frombuffer(raw.read(4), dtype="<u2")
            offset = info.header_offset + 30 + int(name_len) + int(extra_len) + header_len
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                             order="F" if fortran else "C")
    from gentools import memory

    memory.require(info.file_size, f"the compressed array '{name}'", path)  # must be read whole
    with np.load(path, allow_pickle=False) as data:
        return data[name[:-4]]


class MemberReader:
    """Reads archive members once their declared size is checked, keeping archives (and, through
    ``open_array``, arrays) open, one per process."""

    def __init__(self, max_bytes: int, open_array: Optional[Callable[[str], np.ndarray]] = None):
        self._open: dict = {}
        self.max_bytes = max_bytes
        self._openers = {"zip": zipfile.ZipFile, "zipframes": zipfile.ZipFile, "tar": tarfile.open,
                         "array": open_array}

    def handle(self, item: Item):
        key = (item.kind, item.path, os.getpid())
        if key not in self._open:
            self._open[key] = self._openers[item.kind](item.path)
        return self._open[key]

    def member(self, item: Item, name: Optional[str] = None) -> bytes:
        """Member ``name`` (default the item's own) of the item's archive; a corrupt archive, a missing member or
        one larger than ``max_bytes`` as ``ValueError``."""
        import struct
        import zlib

        name = item.member if name is None else name
        try:
            archive = self.handle(item)
            info = archive.getmember(name) if item.kind == "tar" else archive.getinfo(name)
            size = info.size if item.kind == "tar" else info.file_size
            if size > self.max_bytes:
                raise ValueError(f"archive member of {size} bytes, more than the {self.max_bytes} an input may "
                                 f"need; refused before reading it")
            if item.kind != "tar":
                return archive.read(info)
            member = archive.extractfile(info)
            return member.read() if member is not None else b""
        except KeyError:
            raise ValueError("no such member in the archive") from None
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, IndexError, struct.error, zlib.error,
                NotImplementedError, RuntimeError, UnicodeError) as exc:
            raise ValueError(f"corrupt archive: {exc or type(exc).__name__}") from None


def pair_id(item: "Item", arg: str) -> str:
    """An item's id when items are matched across two sets (the paired metrics): a folder's file: its relative path; an archive's member: its name; a glob's match: its path below the
    pattern's first wildcard's folder; each without its extension. An array's row: its index."""
    import glob

    if item.kind == "array":
        return str(item.member)
    if item.kind in ("zip", "tar"):
        name = str(item.member)
    elif os.path.isdir(arg):
        name = item.id
    elif glob.has_magic(arg):
        fixed = []
        for part in arg.split(os.sep):
            if glob.has_magic(part):
                break
            fixed.append(part)
        name = os.path.relpath(item.path, os.sep.join(fixed) or ".")
    else:
        name = os.path.basename(item.path)
    return os.path.splitext(name.replace(os.sep, "/"))[0]
