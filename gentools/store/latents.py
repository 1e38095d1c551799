"""Latents files (``interp``): ``gentools_format="latents"``, ``latents`` float32 [..., D] plus named arrays."""

from __future__ import annotations

import h5py
import numpy as np

from gentools.errors import FormatError, InputError
from gentools.store.formats import _attr, _read_head, sniff, source_label
from gentools.store.write import _write_attrs, atomic_path

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
    or an ``.npy`` array."""
    label = source_label(path)
    kind = sniff(_read_head(path))
    if kind == "npy":
        array = np.load(path, allow_pickle=False)
        names = [str(i) for i in range(len(array))]
    elif kind == "hdf5":
        try:
            with h5py.File(path, "r") as h5:
                if "latents" not in h5:
                    raise FormatError(f"no 'latents' dataset ({label})")
                array = np.asarray(h5["latents"][()])
                names = [_attr(n) for n in h5["names"][()]] if "names" in h5 else None
        except OSError as exc:
            raise FormatError(f"cannot read HDF5 file: {exc} ({label})") from None
    else:
        raise FormatError(f"latents must be .npy or a gentools latents HDF5 file ({label})")
    array = array.reshape(-1, array.shape[-1]).astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"latents contain NaN or Inf ({label})")
    return array, names or [str(i) for i in range(len(array))]
