"""Opening gentools HDF5 files (features and stats) from someone else: checked before anything is read.

The global heaps are checked for the loop libhdf5 would fall into, libhdf5's
allocations are bounded while it parses attributes, every attribute is one
typed value, and each dataset passes :func:`gentools.store.safety.dataset`
(no external storage or links, no virtual datasets, no plugin filters, the
declared bytes stored in the file) before :class:`~gentools.store.model.FeatureFile`
or :class:`~gentools.store.model.Stats` reads it.
"""

from __future__ import annotations

import io

import h5py
import numpy as np

from gentools import memory
from gentools.errors import FormatError, InputError
from gentools.store import safety
from gentools.store.formats import FEATURES, FORMAT_VERSION, ROW_DATASETS, STATS, Source, _attr
from gentools.store.model import FeatureFile, Stats, make_stats

# Provenance attributes read with a fixed type; any other type is refused rather than guessed at.
ATTRIBUTE_TYPES = {"complete": bool, "count": int, "n": int, "spatial_n": int}


def open_hdf5(source: Source, label: str, allow_incomplete: bool) -> FeatureFile | Stats:
    """A features or stats file, checked; ``complete=false`` is refused unless ``allow_incomplete``."""
    _check_heaps(source, label)
    try:
        with safety.bounded_allocation(safety.METADATA_BYTES):
            handle = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except (OSError, RuntimeError, ValueError, KeyError, MemoryError) as exc:
        raise FormatError(f"cannot read HDF5 file (truncated or corrupt?): {exc} ({label})") from None
    try:
        with safety.bounded_allocation(safety.METADATA_BYTES):
            attrs = {k: _attr(v) for k, v in handle.attrs.items()}
        fmt = attrs.pop("gentools_format", None)
        version = attrs.pop("format_version", None)
        if fmt not in (FEATURES, STATS):
            raise FormatError(f"not a gentools features or stats file (no gentools_format attribute) ({label})")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise FormatError(
                f"written by a newer gentools (format_version {version}, this one reads {FORMAT_VERSION}); "
                f"upgrade gentools ({label})")
        for key, value in attrs.items():
            if not isinstance(value, (str, int, float, bool)):
                raise FormatError(f"attribute '{key}' holds a {type(value).__name__}, expected one value ({label})")
        for key, kind in ATTRIBUTE_TYPES.items():
            if key in attrs:
                attrs[key] = safety.attribute(attrs[key], key, label, kind)
        if fmt == STATS:
            return _read_stats(handle, attrs, label)
        if attrs.get("complete") is False and not allow_incomplete:
            raise InputError(
                f"unfinished extraction (complete=false); finish it by re-running the same "
                f"`gentools extract` command with --resume ({label})")
        names = set(handle.keys())
        arrays = {k: safety.dataset(handle, k, label) for k in ROW_DATASETS + ("skipped", "skipped_at") if k in names}
        features = FeatureFile(label, arrays, attrs, handle)
        if attrs.get("complete") is not False and attrs.get("count", features.n) != features.n:
            raise FormatError(f"attribute count is {attrs['count']} but 'features' has {features.n} rows ({label})")
        return features
    except safety.H5PY_ERRORS as exc:  # libhdf5 reports a corrupt file as any of these
        handle.close()
        raise FormatError(f"corrupt HDF5 file: {exc} ({label})") from None
    except BaseException:
        handle.close()
        raise

def _check_heaps(source: Source, label: str) -> None:
    if isinstance(source, bytes):
        safety.check_global_heaps(source, label)
        return
    import mmap

    with open(source, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        safety.check_global_heaps(data, label)


def _read_stats(handle, attrs: dict, label: str) -> Stats:
    try:
        names = set(handle.keys())
        missing = [k for k in ("mu", "sigma") if k not in names]
        if missing:
            raise FormatError(f"stats file lacks '{missing[0]}' ({label})")
        spatial = None
        if "spatial_mu" in names:
            if "spatial_sigma" not in names:
                raise FormatError(f"stats file has 'spatial_mu' but no 'spatial_sigma' ({label})")
            spatial = make_stats(_stats_array(handle, "spatial_mu", label), _stats_array(handle, "spatial_sigma", label),
                                  attrs.pop("spatial_n", None), label)
        n = attrs.pop("n", None)
        return make_stats(_stats_array(handle, "mu", label), _stats_array(handle, "sigma", label), n, label, spatial,
                           attrs)
    finally:
        handle.close()

def _stats_array(handle, name: str, label: str) -> np.ndarray:
    data = safety.dataset(handle, name, label)
    if data.ndim not in (1, 2) or data.dtype.kind not in "fiu":
        raise FormatError(f"'{name}' has shape {data.shape} and dtype {data.dtype}; expected numbers ({label})")
    memory.require(2 * 8 * int(np.prod(data.shape, dtype=np.int64)), f"reading '{name}' {list(data.shape)}", label)
    return data[()]
