"""The store's data model: :class:`Stats` (mean, covariance, n) and :class:`FeatureFile` (row datasets read
on demand, checked as they are read). The readers (:mod:`read`, :mod:`hdf5_input`, :mod:`torch_cache`,
:mod:`pickles`) build them; nothing here knows a file format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import h5py
import numpy as np

from gentools import memory
from gentools.errors import FormatError, InputError
from gentools.store import safety
from gentools.store.formats import ROW_DATASETS, TEXT_ROWS
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
        return make_stats(np.asarray(values["mu"]), np.asarray(values["sigma"]),
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


def make_stats(mu, sigma, n, label, spatial=None, provenance=None) -> Stats:
    """A :class:`Stats` from arrays read out of a file: numeric ``mu [D]`` and ``sigma [D, D]``, finite, ``n``
    an integer from 2 to 2^53 where given; else a one-line error naming ``label``."""
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
