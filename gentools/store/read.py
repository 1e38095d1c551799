"""Reading metric inputs: gentools features/stats HDF5 files, ``.npy``/``.npz`` arrays and npz stats."""

from __future__ import annotations

import io

import numpy as np

from gentools import memory
from gentools.errors import FormatError
from gentools.store import pickles, safety, torch_cache
from gentools.store.formats import ROW_DATASETS, Source, _read_head, is_pickle, sniff, source_label
from gentools.store.hdf5_input import open_hdf5
from gentools.store.model import FeatureFile, Stats, make_stats


def open_input(source: Source, allow_incomplete: bool = False, allow_sets: bool = False):
    """Open any metric input: features (HDF5/npy/npz) or statistics (HDF5/npz, EDM2 ``.pkl``).

    A features file marked ``complete=false`` (interrupted extraction) is refused
    unless ``allow_incomplete``. An EDM2 pickle holds several statistics
    (a :class:`~gentools.store.pickles.StatsSet`); only callers that pick an
    entry by the other input's backbone pass ``allow_sets``.
    """
    label = source_label(source)
    head = source[:8] if isinstance(source, bytes) else _read_head(source)
    if is_pickle(head):
        if not allow_sets:
            raise FormatError(f"an EDM2 statistics pickle serves only `gentools fid` (which picks its entry by the "
                              f"other input's backbone) ({label})")
        data = source if isinstance(source, bytes) else _read_all(source)
        return pickles.load_stats_pickle(data, label)
    kind = sniff(head)
    if kind == "hdf5":
        return open_hdf5(source, label, allow_incomplete)
    if kind == "npy":
        arr = _load_numpy(source, label, mmap=True)
        return FeatureFile(label, {"features": arr}, {})
    if kind == "npz":
        return _open_npz(source, label)
    raise FormatError(f"unknown file format: expected a gentools HDF5 file, .npy, .npz or an EDM2 .pkl ({label})")


def _read_all(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _load_numpy(source: Source, label: str, mmap: bool = False):
    try:
        if isinstance(source, bytes):
            return np.load(io.BytesIO(source), allow_pickle=False)
        return np.load(source, allow_pickle=False, mmap_mode="r" if mmap else None)
    except Exception as exc:  # numpy raises many kinds on corrupt files
        raise FormatError(f"cannot read numpy file: {exc} ({label})") from None


STATS_MEMBERS = ("mu", "sigma", "mu_s", "sigma_s")


def _open_npz(source: Source, label: str) -> FeatureFile | Stats:
    with _load_numpy(source, label) as npz:
        if torch_cache.is_torch_archive(npz.zip):
            _check_npz_members(npz, label, npz.zip.namelist())
            return torch_cache.open_torch(source, label)
        if _is_fadtk_stats(npz.files):
            return _fadtk_stats(npz, label)
        # Statistics are read alone: an ADM reference batch also holds 10,000 images (arr_0) that fid never needs.
        wanted = [k for k in STATS_MEMBERS if k in npz.files] if {"mu", "sigma"} <= set(npz.files) else npz.files
        _check_npz_members(npz, label, [m for k in wanted for m in (k, f"{k}.npy")])
        try:
            arrays = {k: npz[k] for k in wanted}
        except Exception as exc:  # noqa: BLE001 - numpy and zipfile raise many kinds on corrupt members
            raise FormatError(f"cannot read npz member: {type(exc).__name__}: {exc} ({label})") from None
    if "mu" in arrays and "sigma" in arrays:
        spatial = None
        if "mu_s" in arrays and "sigma_s" in arrays:
            spatial = make_stats(arrays["mu_s"], arrays["sigma_s"], None, label)
        return make_stats(arrays["mu"], arrays["sigma"], None, label, spatial)
    if "features" not in arrays and "feats" in arrays and len(arrays) == 1:  # clean-fid's _kid.npz
        arrays = {"features": arrays["feats"]}
    if "features" not in arrays:
        if len(arrays) != 1:
            raise FormatError(f"npz holds {sorted(arrays)}; expected 'features', 'mu'/'sigma', or a single array ({label})")
        arrays = {"features": next(iter(arrays.values()))}
    return FeatureFile(label, {k: v for k, v in arrays.items() if k in ROW_DATASETS}, {})


def _is_fadtk_stats(names) -> bool:
    """fadtk's stats npz: only ``MODEL.mu`` / ``MODEL.cov`` pairs."""
    models = {n.rsplit(".", 1)[0] for n in names if n.endswith((".mu", ".cov"))}
    return bool(models) and set(names) == {f"{m}.{k}" for m in models for k in ("mu", "cov")}


def _fadtk_stats(npz, label: str):
    """A fadtk stats file as a :class:`~gentools.store.pickles.StatsSet` keyed by fadtk's model names."""
    _check_npz_members(npz, label, [f"{n}.npy" for n in npz.files])
    models = sorted({n.rsplit(".", 1)[0] for n in npz.files})
    try:
        entries = {m: make_stats(npz[f"{m}.mu"], npz[f"{m}.cov"], None, f"{label}:{m}") for m in models}
    except (OSError, ValueError, EOFError) as exc:
        raise FormatError(f"cannot read npz member: {type(exc).__name__}: {exc} ({label})") from None
    return pickles.StatsSet(entries, label, tool="fadtk")


def _check_npz_members(npz, label: str, names) -> None:
    """Each member to be read (``names``) within the memory budget and, when compressed, within
    :data:`~gentools.store.safety.MAX_COMPRESSION` of its stored bytes: checked from the zip directory, unread."""
    names = set(names)
    for info in npz.zip.infolist():
        if info.filename not in names:
            continue
        memory.require(info.file_size, f"npz member '{info.filename}'", label)
        if info.compress_type != 0 and info.compress_size * safety.MAX_COMPRESSION < info.file_size:
            raise FormatError(f"npz member '{info.filename}' unpacks {info.file_size} bytes from "
                              f"{info.compress_size}, more than {safety.MAX_COMPRESSION}x: refused as a "
                              f"decompression bomb ({label})")
