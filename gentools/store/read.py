"""Reading metric inputs: gentools features/stats HDF5 files, ``.npy``/``.npz`` arrays and npz stats."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Iterator

import h5py
import numpy as np

from gentools import memory
from gentools.errors import FormatError, InputError
from gentools.store import safety, torch_cache
from gentools.store.formats import ROW_DATASETS, TEXT_ROWS, Source, _read_head, sniff, source_label
from gentools.store.pickles import is_pickle
from gentools.store.write import write_features, write_stats_as
from gentools.text import label_text


MAX_ROWS = 2 ** 53  # past this a float64 count is no longer exact


@dataclass(repr=False)
class Stats:
    """Mean and covariance of a feature set: ``mu (d,)``, ``sigma (d, d)`` float64 (ddof=1), ``n`` rows.

    ``gentools.Stats(mu, sigma)`` (``n`` where known, for ddof conversions and exact merges) or
    :meth:`from_dict` (``{"mu": ..., "sigma": ...}``, pytorch-fid's npz keys) build one in Python.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    label: str = "<stats>"
    spatial: "Stats | None" = None
    provenance: dict = field(default_factory=dict)
    kind = "stats"

    def __post_init__(self):
        mu, sigma = np.asarray(self.mu), np.asarray(self.sigma)
        if mu.dtype.kind not in "fiu" or sigma.dtype.kind not in "fiu":
            raise FormatError(f"statistics' mu and sigma must be numeric arrays ({self.label})")
        self.mu, self.sigma = mu.astype(np.float64, copy=False), sigma.astype(np.float64, copy=False)
        if self.mu.ndim != 1 or self.sigma.shape != (len(self.mu), len(self.mu)):
            raise FormatError(f"statistics have mu {self.mu.shape} and sigma {self.sigma.shape}; expected [D] and "
                              f"[D, D] ({self.label})")

    @classmethod
    def from_dict(cls, values: dict, label: str = "<stats>") -> "Stats":
        """From ``{"mu", "sigma"}`` (and optionally ``"n"``), e.g. ``dict(np.load("ref.npz"))``."""
        missing = [k for k in ("mu", "sigma") if k not in values]
        if missing:
            raise FormatError(f"statistics need 'mu' and 'sigma', missing {', '.join(missing)} ({label})")
        n = values.get("n")
        return _make_stats(np.asarray(values["mu"]), np.asarray(values["sigma"]),
                           None if n is None else int(np.asarray(n)), label)

    def __repr__(self) -> str:
        backbone = self.provenance.get("backbone") or "unknown backbone"
        return f"<gentools.Stats {self.label}: n={self.n}, dim={self.dim}, {backbone}>"

    @property
    def dim(self) -> int:
        return len(self.mu)

    def moments(self, *, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` with sigma ``M2 / (n - ddof)``; ddof other than 1 needs the stored ``n``."""
        if ddof == 1:
            return self.mu, self.sigma
        if not self.n:
            raise InputError(f"stats carry no sample count n, needed to convert the covariance to ddof={ddof} "
                             f"({self.label})")
        return self.mu, self.sigma * ((self.n - 1) / (self.n - ddof))

    def save(self, path: str, npz: bool = False, format: str = "gentools") -> str:
        """Write as a gentools stats file, or as another tool's: ``format`` ``pytorch-fid`` (also ``npz=True``),
        ``clean-fid``, ``adm`` or ``edm2`` (:func:`gentools.store.write.write_stats_as`)."""
        write_stats_as(path, self, "pytorch-fid" if npz and format == "gentools" else format)
        return path

class FeatureFile:
    """Read access to a features input: a gentools HDF5 file, ``.npy`` / ``.npz``, or arrays in memory.

    Row datasets are read on demand (``array``) or in row chunks (``chunks``),
    and every read is checked for NaN/Inf, naming the first bad row.
    """

    kind = "features"

    def __init__(self, label: str, arrays: dict, provenance: dict, handle=None):
        self.label = label
        self.provenance = provenance
        self._arrays = arrays  # name -> np.ndarray or h5py.Dataset
        self._handle = handle
        if "features" not in arrays:
            raise FormatError(f"no 'features' dataset ({label})")
        self._check_shape("features")
        self._check_rows()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        backbone = self.provenance.get("backbone") or "unknown backbone"
        extra = sorted(set(self._arrays) - {"features"})
        return (f"<gentools.Features {self.label}: n={self.n}, dim={self.dim}, {backbone}"
                f"{'; also ' + ', '.join(extra) if extra else ''}>")

    @property
    def features(self) -> np.ndarray:
        """The feature rows ``[n, dim]`` (checked for NaN/Inf as read)."""
        return self.array("features")

    @property
    def logits(self) -> np.ndarray | None:
        """The classifier's logits ``[n, classes]``, or None when the backbone gives none."""
        return self.array("logits") if self.has("logits") else None

    @property
    def n(self) -> int:
        return int(self._arrays["features"].shape[0])

    @property
    def dim(self) -> int:
        return int(self._arrays["features"].shape[1])

    def has(self, name: str) -> bool:
        return name in self._arrays

    def loaded(self, label: str | None = None) -> "FeatureFile":
        """Every dataset read into memory as it is stored: the same Features, no longer tied to the file."""
        return FeatureFile(label or self.label, {name: self.raw(name) for name in self._arrays}, dict(self.provenance))

    def save(self, path: str) -> str:
        """Write every dataset and the provenance as a gentools features file (atomically)."""
        write_features(path, self.loaded()._arrays, self.provenance)
        return path

    def moments(self, name: str = "features", *, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` of dataset ``name``, streamed in float64, sigma ``M2 / (n - ddof)``."""
        acc = self.accumulate(name)
        if acc.n < 2:
            raise InputError(f"a covariance needs at least 2 rows, have {acc.n} ({self.label})")
        return acc.mean_cov(ddof)

    def accumulate(self, name: str = "features", rows: int = 8192):
        """Dataset ``name`` folded chunk by chunk into a :class:`~gentools.metrics.feature_stats.FeatureStats`."""
        from gentools.metrics.feature_stats import FeatureStats

        memory.require_covariance(self.shapes()[name][1], self.label)
        acc = FeatureStats(dim=self.shapes()[name][1])
        for block in self.chunks(name, rows):
            acc.append(block)
        return acc

    @property
    def ids(self) -> list | None:
        ids = self.raw("ids")
        return None if ids is None else [str(i) for i in ids]

    @property
    def skipped(self) -> list:
        """The ids of the inputs an extraction skipped (``--skip-bad``; videos shorter than a clip), in order."""
        skipped = self.raw("skipped")
        return [] if skipped is None else [str(i) for i in np.atleast_1d(skipped)]

    @property
    def labels(self) -> list | None:
        labels = self.raw("labels")
        if labels is None:
            return None
        try:
            return [label_text(i) for i in labels]
        except ValueError as exc:
            raise FormatError(f"'labels': {exc} ({self.label})") from None

    def shapes(self) -> dict:
        return {k: tuple(v.shape) for k, v in self._arrays.items()}

    def _check_shape(self, name: str) -> None:
        shape = self._arrays[name].shape
        if len(shape) == 1:
            raise FormatError(f"'{name}' is 1-D (shape {shape}); features must be a 2-D array [N, D] ({self.label})")
        if len(shape) == 4 and name == "features":
            raise FormatError(f"holds images of shape {shape}, not features; run `gentools extract` on it first ({self.label})")
        if len(shape) != 2:
            raise FormatError(f"'{name}' has shape {shape}; expected a 2-D array [N, D] ({self.label})")
        if shape[0] == 0:
            raise InputError(f"'{name}' has no rows ({self.label})")
        if shape[1] == 0:
            raise InputError(f"'{name}' has zero columns ({self.label})")
        kind = np.dtype(self._arrays[name].dtype).kind
        if kind not in "fiu":
            raise FormatError(f"'{name}' has dtype {self._arrays[name].dtype}; expected numbers ({self.label})")

    def _check_rows(self) -> None:
        """Every row dataset has one entry per row; text datasets are 1-D strings."""
        for name, data in self._arrays.items():
            if name not in ROW_DATASETS or name == "features":
                continue
            shape = tuple(data.shape)
            if name in TEXT_ROWS and len(shape) != 1:
                raise FormatError(f"'{name}' has shape {shape}; expected one entry per row, [N] ({self.label})")
            if not shape or shape[0] != self.n:
                raise FormatError(f"'{name}' has {shape[0] if shape else 'no'} rows, 'features' has {self.n}: "
                                  f"they must match row for row ({self.label})")
            if name in TEXT_ROWS:
                continue
            if name == "clip_start":  # a video clip's first frame: one integer per row
                if len(shape) != 1 or np.dtype(data.dtype).kind not in "iu":
                    raise FormatError(f"'clip_start' has shape {shape} and dtype {data.dtype}; expected integers [N] "
                                      f"({self.label})")
                continue
            if len(shape) < 2 or 0 in shape[1:] or np.dtype(data.dtype).kind not in "fiu":
                raise FormatError(f"'{name}' has shape {shape} and dtype {data.dtype}; expected numbers [N, ...] "
                                  f"({self.label})")

    def chunks(self, name: str = "features", rows: int = 8192) -> Iterator[np.ndarray]:
        """Yield consecutive row blocks of dataset ``name`` as float arrays, checked finite."""
        if name not in self._arrays:
            raise InputError(f"has no '{name}' dataset ({self.label})")
        self._check_shape(name)
        data = self._arrays[name]
        for start in range(0, data.shape[0], rows):
            block = _as_float(self._read(name, lambda: np.asarray(data[start:start + rows])))
            _check_finite(block, name, start, self.label)
            yield block

    def array(self, name: str = "features") -> np.ndarray:
        """The whole dataset ``name`` as one float array, checked finite (within the memory budget)."""
        if name in self._arrays:
            data = self._arrays[name]
            itemsize = 8 if np.dtype(data.dtype) == np.float64 else 4
            memory.require(2 * itemsize * int(np.prod(data.shape, dtype=np.int64)), f"reading '{name}' "
                           f"{list(data.shape)}", self.label)
        blocks = list(self.chunks(name))
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def raw(self, name: str) -> np.ndarray | None:
        """Dataset ``name`` as stored (strings as ``str`` objects, numbers unchecked), or None when absent;
        :meth:`array` / :meth:`chunks` are the checked float readers."""
        if name not in self._arrays:
            return None
        data = self._arrays[name]
        if isinstance(data, h5py.Dataset) and h5py.check_string_dtype(data.dtype):
            try:
                strings = self._read(name, lambda: data.asstr()[()],
                                     bound=safety.METADATA_BYTES + 64 * data.size + 4 * data.file.id.get_filesize())
                return np.array(strings, dtype=object)
            except UnicodeDecodeError as exc:
                raise FormatError(f"'{name}' holds text that is not valid UTF-8 ({exc.reason}) ({self.label})") from None
        if name in TEXT_ROWS and np.dtype(data.dtype).kind not in "iufUSO":
            raise FormatError(f"'{name}' has dtype {data.dtype}; expected text or integers ({self.label})")
        return self._read(name, lambda: np.asarray(data[()]))

    def _read(self, name: str, read, bound: int = 0):
        """``read()`` of dataset ``name``, a corrupt file's libhdf5 error as one line; with ``bound``, libhdf5 may
        allocate at most that much meanwhile (variable-length strings: their stored lengths may lie)."""
        try:
            if bound:
                with safety.bounded_allocation(bound):
                    return read()
            return read()
        except safety.H5PY_ERRORS as exc:
            raise FormatError(f"cannot read '{name}': {exc} ({self.label})") from None

def _as_float(block: np.ndarray) -> np.ndarray:
    return block if block.dtype in (np.float32, np.float64) else block.astype(np.float32)

def _check_finite(block: np.ndarray, name: str, start: int, label: str) -> None:
    bad = ~np.isfinite(block).all(axis=1)
    if bad.any():
        row = start + int(np.argmax(bad))
        raise InputError(f"'{name}' row {row} has NaN or Inf values ({label})")

def open_input(source: Source, allow_incomplete: bool = False, allow_sets: bool = False):
    """Open any metric input: features (HDF5/npy/npz) or statistics (HDF5/npz, EDM2 ``.pkl``).

    A features file marked ``complete=false`` (interrupted extraction) is refused
    unless ``allow_incomplete``. An EDM2 pickle holds several statistics
    (a :class:`~gentools.store.pickles.StatsSet`); only callers that pick an
    entry by the other input's backbone pass ``allow_sets``.
    """
    from gentools.store import pickles

    label = source_label(source)
    head = source[:8] if isinstance(source, bytes) else _read_head(source)
    if is_pickle(head):
        if not allow_sets:
            raise FormatError(f"an EDM2 statistics pickle serves only `gentools fid` (which picks its entry by the "
                              f"other input's backbone) ({label})")
        data = source if isinstance(source, bytes) else _read_all(source)
        return pickles.load_stats_pickle(data, label, _make_stats)
    kind = sniff(head)
    if kind == "hdf5":
        from gentools.store.hdf5_input import open_hdf5

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
            spatial = _make_stats(arrays["mu_s"], arrays["sigma_s"], None, label)
        return _make_stats(arrays["mu"], arrays["sigma"], None, label, spatial)
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
    from gentools.store.pickles import StatsSet

    _check_npz_members(npz, label, [f"{n}.npy" for n in npz.files])
    models = sorted({n.rsplit(".", 1)[0] for n in npz.files})
    try:
        entries = {m: _make_stats(npz[f"{m}.mu"], npz[f"{m}.cov"], None, f"{label}:{m}") for m in models}
    except (OSError, ValueError, EOFError) as exc:
        raise FormatError(f"cannot read npz member: {type(exc).__name__}: {exc} ({label})") from None
    return StatsSet(entries, label, tool="fadtk")


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


def _make_stats(mu, sigma, n, label, spatial=None, provenance=None) -> Stats:
    for name, value in (("mu", mu), ("sigma", sigma)):
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
            raise FormatError(f"statistics' {name} is not a numeric array ({label})")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_ROWS):
        raise FormatError(f"statistics' sample count n is {str(n)[:40]!r}; expected an integer from 2 to 2^53 "
                          f"({label})")
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise FormatError(f"statistics have mu {mu.shape} and sigma {sigma.shape}; expected [D] and [D, D] ({label})")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise InputError(f"statistics contain NaN or Inf ({label})")
    return Stats(mu, sigma, n, label, spatial, provenance or {})
