"""Checks on an HDF5 file from someone else, made before any of its data is read.

An HDF5 file can point outside itself (external storage, external links,
virtual datasets), loop (soft links), run a filter from a plugin, or declare a
dataset far larger than the bytes it holds (never written, so HDF5 returns its
fill value; or compressed a thousandfold). :func:`dataset` admits a dataset
only when it is a plain dataset stored inside the file, with built-in filters,
whose stored bytes can account for its declared size. Attribute values are
checked by type in :func:`attribute`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import h5py
import numpy as np

from gentools.errors import FormatError
from gentools.memory import size_text

# HDF5's built-in filters: deflate, shuffle, fletcher32, szip, nbit, scaleoffset; and h5py's bundled LZF.
BUILTIN_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf"}
# The most a dataset's declared size may exceed its stored bytes when compressed (float features compress ~1.1x,
# uint8 thumbnails a few times; gzip's ceiling is ~1000x, which is what a decompression bomb uses).
MAX_COMPRESSION = 64
# What libhdf5 raises for a corrupt file, depending on where it notices.
H5PY_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, SystemError, MemoryError)
METADATA_BYTES = 256 << 20  # what libhdf5 may allocate to read a file's attributes (each is 64 KB at most)
VLEN_BYTES = 16  # one variable-length string element as HDF5 stores it (heap id), whatever the string's length


@contextlib.contextmanager
def bounded_allocation(extra: int) -> Iterator[None]:
    """Let this process allocate at most ``extra`` more bytes of data (RLIMIT_DATA) while libhdf5 parses a file's
    metadata and strings: a variable-length string whose stored length is a lie (4 GB in a 9 KB file) then fails
    at once as an allocation error, instead of zero-filling gigabytes first. The limit is restored afterwards;
    where /proc or setrlimit is missing, nothing is changed."""
    try:
        import resource

        with open("/proc/self/status") as fh:
            used = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmData:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = used + extra
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft != resource.RLIM_INFINITY and soft <= limit:
            yield
            return
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, OSError, ValueError, StopIteration):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def check_global_heaps(data, label: str) -> None:
    """Refuse a file whose global heap collections (``GCOL``: where variable-length strings live) would send
    libhdf5 into an endless loop: its collection parser advances by each object's declared size, so a free-space
    object of size 0 (a zeroed or shifted heap) never moves it on. ``data``: the file's bytes (or an mmap)."""
    import struct

    start = data.find(b"GCOL")
    while start >= 0:
        if data[start + 4:start + 8] == b"\x01\x00\x00\x00" and start + 16 <= len(data):
            (size,) = struct.unpack_from("<Q", data, start + 8)
            end = min(start + size, len(data))
            pos = start + 16
            while pos + 16 <= end:
                index, = struct.unpack_from("<H", data, pos)
                (length,) = struct.unpack_from("<Q", data, pos + 8)
                step = length if index == 0 else 16 + (length + 7) // 8 * 8
                if step <= 0:
                    raise FormatError(f"corrupt HDF5 file: a global heap object of size 0 at byte {pos} "
                                      f"(libhdf5 would loop on it) ({label})")
                pos += step
        start = data.find(b"GCOL", start + 4)


def dataset(handle: h5py.File, name: str, label: str) -> h5py.Dataset:
    """``handle[name]`` once it is checked to read nothing outside the file and to hold what it declares."""
    link = handle.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise FormatError(f"'{name}' is an external link to another file, which gentools does not follow ({label})")
    if isinstance(link, h5py.SoftLink):
        raise FormatError(f"'{name}' is a soft link, which gentools files do not use ({label})")
    try:
        obj = handle[name]
    except (KeyError, OSError, RuntimeError) as exc:
        raise FormatError(f"cannot open '{name}': {exc} ({label})") from None
    if not isinstance(obj, h5py.Dataset):
        raise FormatError(f"'{name}' is a {type(obj).__name__.lower()}, expected a dataset ({label})")
    if obj.is_virtual:
        raise FormatError(f"'{name}' is a virtual dataset (its data lives in other files), refused ({label})")
    plist = obj.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise FormatError(f"'{name}' keeps its data in an external file, which gentools does not read ({label})")
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    unknown = [code for code in filters if code not in BUILTIN_FILTERS]
    if unknown:
        raise FormatError(f"'{name}' needs HDF5 filter {unknown[0]}, which is not built in; refused ({label})")
    _check_storage(obj, name, label, compressed=bool(filters))
    return obj


def _check_storage(obj: h5py.Dataset, name: str, label: str, compressed: bool) -> None:
    itemsize = VLEN_BYTES if h5py.check_vlen_dtype(obj.dtype) is not None else obj.dtype.itemsize
    declared = int(np.prod(obj.shape, dtype=object)) * itemsize if obj.shape is not None else 0
    if declared == 0:
        return
    stored = obj.id.get_storage_size()
    file_size = obj.file.id.get_filesize()
    offset = obj.id.get_offset() if obj.chunks is None else 0
    if stored + (offset or 0) > file_size:
        raise FormatError(f"'{name}' declares {size_text(stored)} of data but the file holds {size_text(file_size)}: "
                          f"truncated or corrupt ({label})")
    if stored == 0:
        raise FormatError(f"'{name}' declares shape {obj.shape} ({size_text(declared)}) but none of it was ever written "
                          f"({label})")
    if not compressed and stored < declared:
        raise FormatError(f"'{name}' declares shape {obj.shape} ({size_text(declared)}) but stores only "
                          f"{size_text(stored)}: part of it was never written ({label})")
    if compressed and stored * MAX_COMPRESSION < declared:
        raise FormatError(f"'{name}' declares {size_text(declared)} in {size_text(stored)} of compressed data, more than "
                          f"{MAX_COMPRESSION}x: refused as a decompression bomb ({label})")


def attribute(value, name: str, label: str, kind: type):
    """An attribute value checked to be of ``kind`` (bool, int or str); numpy scalars are taken as Python's."""
    if isinstance(value, np.generic):
        value = value.item()
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise FormatError(f"attribute '{name}' is {_shown(value)}, expected {'a boolean' if kind is bool else 'an integer' if kind is int else 'text'} ({label})")


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
