"""Latents files (``interp``): ``gentools_format="latents"``, ``latents`` float32 [..., D] plus named arrays."""

from __future__ import annotations

import h5py
import numpy as np

from gentools import memory
from gentools.errors import FormatError, InputError
from gentools.store import safety
from gentools.store.formats import _attr, _read_head, sniff, source_label
from gentools.text import escape
from gentools.files import atomic_path
from gentools.store.write import _write_attrs

LATENTS = "latents"


def write_latents(dest: str, arrays: dict, provenance: dict) -> None:
    """A latents file (``gentools_format="latents"``): ``latents`` float32 [..., D] plus extra arrays."""
    with atomic_path(dest) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, LATENTS, provenance)
        for name, data in arrays.items():
            if isinstance(data, (list, tuple)) and data and isinstance(data[0], str):
                h5.create_dataset(name, data=list(data), dtype=h5py.string_dtype("utf-8"))
            else:
                h5.create_dataset(name, data=np.asarray(data))

def read_latents(path: str) -> tuple[np.ndarray, list[str]]:
    """Latent rows ``[N, D]`` and their names from a latents file (any gentools HDF5 with ``latents``)
    or an ``.npy`` array, checked as every input is: HDF5 through :mod:`gentools.store.safety` (nothing
    outside the file, no decompression bombs), numbers only, within the memory budget."""
    label = source_label(path)
    kind = sniff(_read_head(path))
    if kind == "npy":
        from gentools.store.read import _load_numpy

        array = _load_numpy(path, label, mmap=True)
        names = None
    elif kind == "hdf5":
        array, names = _hdf5_latents(path, label)
    else:
        raise FormatError(f"latents must be .npy or a gentools latents HDF5 file ({label})")
    _check_shape(array, label)
    array = np.asarray(array).reshape(-1, array.shape[-1]).astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"latents contain NaN or Inf ({label})")
    if names is not None and len(names) != len(array):
        raise FormatError(f"'names' has {len(names)} entries for {len(array)} latents ({label})")
    return array, names or [str(i) for i in range(len(array))]


def _hdf5_latents(path: str, label: str):
    """The ``latents`` dataset (read by the caller once its shape is checked) and ``names`` of an HDF5 file."""
    from gentools.store.hdf5_input import _check_heaps

    _check_heaps(path, label)
    try:
        with safety.bounded_allocation(safety.METADATA_BYTES):
            h5 = h5py.File(path, "r")
    except safety.H5PY_ERRORS as exc:
        raise FormatError(f"cannot read HDF5 file: {exc} ({label})") from None
    try:
        if "latents" not in h5:
            raise FormatError(f"no 'latents' dataset ({label})")
        latents = safety.dataset(h5, "latents", label)
        names = None
        if "names" in h5:
            stored = safety.dataset(h5, "names", label)
            if stored.ndim != 1 or h5py.check_string_dtype(stored.dtype) is None or len(stored) != len(latents):
                raise FormatError(f"'names' must be one string per latent ({label})")
            with safety.bounded_allocation(safety.METADATA_BYTES + 64 * stored.size):
                names = [escape(_attr(n)) for n in stored[()]]
        _check_shape(latents, label)
        return latents[()], names
    except safety.H5PY_ERRORS as exc:
        raise FormatError(f"corrupt HDF5 file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__} "
                          f"({label})") from None
    finally:
        h5.close()


def _check_shape(array, label: str) -> None:
    """Latents are numbers ``[..., D]`` with at least one row, within the memory budget as float32 (twice)."""
    shape = tuple(array.shape)
    if len(shape) < 2 or 0 in shape or np.dtype(array.dtype).kind not in "fiu":
        raise FormatError(f"latents have shape {shape} and dtype {array.dtype}; expected numbers [N, D] ({label})")
    memory.require(2 * 4 * int(np.prod(shape, dtype=np.int64)), f"reading latents {list(shape)}", label)
