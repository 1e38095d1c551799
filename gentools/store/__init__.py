"""The on-disk formats: gentools features/stats HDF5 files, .npy/.npz arrays, npz stats.

This is the only module that imports h5py. Schema (SPEC §3):

features file  root attrs ``gentools_format="features"``, ``format_version=1``
               and provenance; datasets ``features`` float32 [N, D] (chunked by
               rows), optional ``logits`` [N, C], ``spatial`` [N, S],
               ``ids`` UTF-8 [N], ``thumbnails`` uint8 [N, h, w, 3], ``skipped``.
stats file     ``gentools_format="stats"``: ``mu`` float64 [D], ``sigma``
               float64 [D, D] (ddof=1), attr ``n``, optional ``spatial_mu`` /
               ``spatial_sigma`` (+ ``spatial_n``), provenance of the features.

Every write goes to a temporary file in the destination folder, is flushed and
fsynced, then renamed over the final name, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from typing import Iterator, Union

import h5py
import numpy as np

from gentools.errors import FormatError, InputError
from gentools.store.pickles import is_pickle

FORMAT_VERSION = 1
FEATURES, STATS = "features", "stats"
ROW_DATASETS = ("features", "logits", "spatial", "ids", "thumbnails")
# Provenance attributes that must agree between two inputs of one metric.
GUARDED_KEYS = ("backbone", "weights_sha256", "resize", "layer")

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"

# An input is a path, or the bytes of a file read from stdin.
Source = Union[str, bytes]


def sniff(data: bytes) -> str:
    """Name the binary format whose signature starts ``data``, or ``""``."""
    if data.startswith(HDF5_MAGIC):
        return "hdf5"
    if data.startswith(NPY_MAGIC):
        return "npy"
    if data.startswith(ZIP_MAGIC):
        return "npz"
    if is_pickle(data):
        return "pickle"
    return ""


def source_label(source: Source) -> str:
    return "<stdin>" if isinstance(source, bytes) else str(source)


@dataclass
class Stats:
    """Mean and covariance of a feature set: ``mu (d,)``, ``sigma (d, d)`` float64 (ddof=1), ``n`` rows."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None
    label: str
    spatial: "Stats | None" = None
    provenance: dict = field(default_factory=dict)
    kind = "stats"

    @property
    def dim(self) -> int:
        return len(self.mu)

    def moments(self, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` with sigma ``M2 / (n - ddof)``; ddof other than 1 needs the stored ``n``."""
        if ddof == 1:
            return self.mu, self.sigma
        if not self.n:
            raise InputError(f"stats carry no sample count n, needed to convert the covariance to ddof={ddof} "
                             f"({self.label})")
        return self.mu, self.sigma * ((self.n - 1) / (self.n - ddof))

    def save(self, path: str, npz: bool = False) -> str:
        """Write as a gentools stats file (or, with ``npz``, the npz pytorch-fid / clean-fid read)."""
        (write_stats_npz if npz else write_stats)(path, self)
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

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def n(self) -> int:
        return int(self._arrays["features"].shape[0])

    @property
    def dim(self) -> int:
        return int(self._arrays["features"].shape[1])

    def has(self, name: str) -> bool:
        return name in self._arrays

    def save(self, path: str) -> str:
        """Write every dataset and the provenance as a gentools features file (atomically)."""
        arrays = {name: self.raw(name) if name in ("ids", "skipped", "thumbnails", "labels") else
                  np.asarray(data) for name, data in self._arrays.items()}
        write_features(path, arrays, self.provenance)
        return path

    def moments(self, name: str = "features", ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` of dataset ``name``, streamed in float64, sigma ``M2 / (n - ddof)``."""
        from gentools.feature_stats import stats_of_file

        acc = stats_of_file(self, name)
        if acc.n < 2:
            raise InputError(f"a covariance needs at least 2 rows, have {acc.n} ({self.label})")
        return acc.mean_cov(ddof)

    @property
    def ids(self) -> list | None:
        ids = self.raw("ids")
        return None if ids is None else [str(i) for i in ids]

    @property
    def labels(self) -> list | None:
        labels = self.raw("labels")
        return None if labels is None else [str(i) for i in labels]

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

    def chunks(self, name: str = "features", rows: int = 8192) -> Iterator[np.ndarray]:
        """Yield consecutive row blocks of dataset ``name`` as float arrays, checked finite."""
        if name not in self._arrays:
            raise InputError(f"has no '{name}' dataset ({self.label})")
        self._check_shape(name)
        data = self._arrays[name]
        for start in range(0, data.shape[0], rows):
            block = _as_float(np.asarray(data[start:start + rows]))
            _check_finite(block, name, start, self.label)
            yield block

    def array(self, name: str = "features") -> np.ndarray:
        """The whole dataset ``name`` as one float array, checked finite."""
        blocks = list(self.chunks(name))
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def raw(self, name: str) -> np.ndarray | None:
        """A non-numeric row dataset (``ids``, ``thumbnails``, ``skipped``) or None."""
        if name not in self._arrays:
            return None
        data = self._arrays[name]
        if isinstance(data, h5py.Dataset) and h5py.check_string_dtype(data.dtype):
            return np.array(data.asstr()[()], dtype=object)
        return np.asarray(data[()])


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
        return _open_hdf5(source, label, allow_incomplete)
    if kind == "npy":
        arr = _load_numpy(source, label, mmap=True)
        return FeatureFile(label, {"features": arr}, {})
    if kind == "npz":
        return _open_npz(source, label)
    raise FormatError(f"unknown file format: expected a gentools HDF5 file, .npy, .npz or an EDM2 .pkl ({label})")


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise InputError(f"no such file ({path})") from None
    except IsADirectoryError:
        raise InputError(f"is a directory, expected a file ({path})") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror} ({path})") from None
    if not head:
        raise InputError(f"file is empty ({path})")
    return head


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


def _open_npz(source: Source, label: str) -> FeatureFile | Stats:
    with _load_numpy(source, label) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if "mu" in arrays and "sigma" in arrays:
        spatial = None
        if "mu_s" in arrays and "sigma_s" in arrays:
            spatial = _make_stats(arrays["mu_s"], arrays["sigma_s"], None, label)
        return _make_stats(arrays["mu"], arrays["sigma"], None, label, spatial)
    if "features" not in arrays:
        if len(arrays) != 1:
            raise FormatError(f"npz holds {sorted(arrays)}; expected 'features', 'mu'/'sigma', or a single array ({label})")
        arrays = {"features": next(iter(arrays.values()))}
    return FeatureFile(label, {k: v for k, v in arrays.items() if k in ROW_DATASETS}, {})


def _make_stats(mu, sigma, n, label, spatial=None, provenance=None) -> Stats:
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise FormatError(f"statistics have mu {mu.shape} and sigma {sigma.shape}; expected [D] and [D, D] ({label})")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise InputError(f"statistics contain NaN or Inf ({label})")
    return Stats(mu, sigma, n, label, spatial, provenance or {})


def _open_hdf5(source: Source, label: str, allow_incomplete: bool) -> FeatureFile | Stats:
    try:
        handle = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except OSError as exc:
        raise FormatError(f"cannot read HDF5 file (truncated or corrupt?): {exc} ({label})") from None
    try:
        attrs = {k: _attr(v) for k, v in handle.attrs.items()}
        fmt = attrs.pop("gentools_format", None)
        version = attrs.pop("format_version", None)
        if fmt not in (FEATURES, STATS):
            raise FormatError(f"not a gentools features or stats file (no gentools_format attribute) ({label})")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise FormatError(
                f"written by a newer gentools (format_version {version}, this one reads {FORMAT_VERSION}); "
                f"upgrade gentools ({label})")
        if fmt == STATS:
            return _read_stats(handle, attrs, label)
        if attrs.get("complete") is False and not allow_incomplete:
            raise InputError(
                f"unfinished extraction (complete=false); finish it by re-running the same "
                f"`gentools extract` command with --resume ({label})")
        arrays = {k: handle[k] for k in ("features", "logits", "spatial", "ids", "thumbnails", "skipped")
                  if k in handle}
        return FeatureFile(label, arrays, attrs, handle)
    except BaseException:
        handle.close()
        raise


def _read_stats(handle, attrs: dict, label: str) -> Stats:
    try:
        spatial = None
        if "spatial_mu" in handle:
            spatial = _make_stats(handle["spatial_mu"][()], handle["spatial_sigma"][()],
                                  attrs.pop("spatial_n", None), label)
        n = attrs.pop("n", None)
        return _make_stats(handle["mu"][()], handle["sigma"][()], n, label, spatial, attrs)
    except KeyError as exc:
        raise FormatError(f"stats file lacks {exc} ({label})") from None
    finally:
        handle.close()


def _attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


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
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_attrs(h5, fmt: str, provenance: dict) -> None:
    """Format marker, provenance, and the write's own record (time, version, command line)."""
    import datetime
    import shlex
    import sys

    from gentools import __version__

    h5.attrs["gentools_format"] = fmt
    h5.attrs["format_version"] = FORMAT_VERSION
    h5.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    h5.attrs["gentools_version"] = __version__
    h5.attrs["argv"] = shlex.join(["gentools", *sys.argv[1:]])
    provenance = {k: v for k, v in provenance.items() if k not in ("created", "gentools_version", "argv")}
    for key, value in provenance.items():
        if value is not None:
            h5.attrs[key] = value


def write_features(dest: str, arrays: dict, provenance: dict) -> None:
    """Write a features file atomically. ``arrays`` maps dataset name to array/list."""
    with atomic_path(dest) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, FEATURES, provenance)
        for name, data in arrays.items():
            if data is None:
                continue
            if name in ("ids", "skipped"):
                h5.create_dataset(name, data=list(data), dtype=h5py.string_dtype("utf-8"))
                continue
            data = np.asarray(data, dtype=np.uint8 if name == "thumbnails" else np.float32)
            chunk_rows = max(1, min(len(data), (1 << 20) // max(1, data[0].nbytes)))
            h5.create_dataset(name, data=data, chunks=(chunk_rows, *data.shape[1:]) if len(data) else None)


def write_stats(dest: str, stats: Stats) -> None:
    """Write a stats file atomically (float64 ``mu``, ``sigma``, attr ``n``)."""
    with atomic_path(dest) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, STATS, stats.provenance)
        if stats.n is not None:
            h5.attrs["n"] = int(stats.n)
        h5.create_dataset("mu", data=np.asarray(stats.mu, dtype=np.float64))
        h5.create_dataset("sigma", data=np.asarray(stats.sigma, dtype=np.float64))
        if stats.spatial is not None:
            h5.create_dataset("spatial_mu", data=stats.spatial.mu)
            h5.create_dataset("spatial_sigma", data=stats.spatial.sigma)
            if stats.spatial.n is not None:
                h5.attrs["spatial_n"] = int(stats.spatial.n)


def write_stats_npz(dest: str, stats: Stats) -> None:
    """Write ``mu``/``sigma`` (and ``mu_s``/``sigma_s``) as the npz pytorch-fid and clean-fid read."""
    arrays = {"mu": stats.mu, "sigma": stats.sigma}
    if stats.spatial is not None:
        arrays.update(mu_s=stats.spatial.mu, sigma_s=stats.spatial.sigma)
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def partial_path(dest: str) -> str:
    """Where an unfinished extraction keeps its rows: ``DEST.partial`` beside the final name."""
    return f"{dest}.partial"


class CannotResume(Exception):
    """A partial file that cannot be continued (unreadable, or not this job's): start again."""


class FeatureWriter:
    """Appends extraction rows to ``DEST.partial`` and renames it to ``DEST`` when complete.

    The partial file is a features file with ``complete=false`` and two
    attributes telling how far it got: ``rows_done`` (rows written) and
    ``items_done`` (inputs consumed, rows + skipped). Each :meth:`flush` writes
    the buffered rows, flushes HDF5, fsyncs, and only then advances the
    counters, so after a crash at any moment the counters never cover unwritten
    rows. :meth:`resume_state` validates a partial file against the expected
    ids before it is continued; anything unreadable or inconsistent is
    reported as ``None`` (start cleanly), never read as data.
    """

    def __init__(self, dest: str, provenance: dict):
        self.dest = dest
        self.path = partial_path(dest)
        self.provenance = dict(provenance, complete=False)
        self.h5 = None
        self.rows_done = self.items_done = 0
        self.skipped: list = []
        self._buffer: list = []

    @staticmethod
    def resume_state(dest: str, expected_ids, provenance: dict) -> tuple[int, int, list]:
        """``(rows_done, items_done, skipped)`` of a valid partial file for this job; raises
        :class:`CannotResume` saying why the partial file cannot be continued."""
        path = partial_path(dest)
        try:
            with h5py.File(path, "r") as h5:
                attrs = {k: _attr(v) for k, v in h5.attrs.items()}
                rows, items = int(attrs["rows_done"]), int(attrs["items_done"])
                for key in GUARDED_KEYS + ("source", "shard"):
                    if str(attrs.get(key, "")) != str(provenance.get(key, "")):
                        raise ValueError(f"{key} differs")
                if rows == 0:
                    return 0, 0, []
                ids = [_attr(i) for i in h5["ids"][:rows]]
                skipped = [_attr(i) for i in h5["skipped"][:]] if "skipped" in h5 else []
                if len(ids) != rows or items > len(expected_ids) or rows + len(skipped) != items:
                    raise ValueError("row counts disagree")
                consumed = set(ids) | set(skipped)
                if ids != [i for i in expected_ids[:items] if i in consumed] or len(consumed) != items:
                    raise ValueError("ids are not this job's inputs")
                if not np.isfinite(h5["features"][rows - 1]).all():
                    raise ValueError("last row is not finite")
                return rows, items, skipped
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise CannotResume(str(exc)) from None

    def open(self, resume_from=None) -> None:
        """Start a new partial file, or continue ``resume_from = (rows, items, skipped)``."""
        if resume_from:
            self.rows_done, self.items_done, self.skipped = resume_from
            self.h5 = h5py.File(self.path, "r+")
            for name in ROW_DATASETS:
                if name in self.h5:
                    self.h5[name].resize(self.rows_done, axis=0)
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise InputError(f"output folder does not exist ({folder})")
        self.h5 = h5py.File(self.path, "w")
        _write_attrs(self.h5, FEATURES, self.provenance)
        self._set_progress()

    def append(self, ids: list, arrays: dict, skipped: list) -> None:
        self._buffer.append((ids, arrays, skipped))

    def flush(self) -> None:
        if not self._buffer:
            return
        ids = [i for b in self._buffer for i in b[0]]
        skipped = [s for b in self._buffer for s in b[2]]
        names = {n for b in self._buffer for n, v in b[1].items() if v is not None}
        new = len(ids)
        for name in names:
            rows = np.concatenate([b[1][name] for b in self._buffer if b[1].get(name) is not None])
            self._dataset(name, rows.shape[1:], rows.dtype)
            self.h5[name].resize(self.rows_done + new, axis=0)
            self.h5[name][self.rows_done:] = rows
        if new:
            self._dataset("ids", (), None)
            self.h5["ids"].resize(self.rows_done + new, axis=0)
            self.h5["ids"][self.rows_done:] = ids
        if skipped:
            self.skipped += skipped
            if "skipped" in self.h5:
                del self.h5["skipped"]
            self.h5.create_dataset("skipped", data=self.skipped, dtype=h5py.string_dtype("utf-8"))
        self.h5.flush()
        os.fsync(self.h5.id.get_vfd_handle())
        self.rows_done += new
        self.items_done += new + len(skipped)
        self._buffer = []
        self._set_progress()

    def _set_progress(self) -> None:
        self.h5.attrs["rows_done"] = self.rows_done
        self.h5.attrs["items_done"] = self.items_done
        self.h5.flush()

    def _dataset(self, name: str, tail: tuple, dtype) -> None:
        if name in self.h5:
            return
        if name == "ids":
            self.h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=h5py.string_dtype("utf-8"),
                                   chunks=(4096,))
            return
        dtype = np.uint8 if name == "thumbnails" else np.float32
        row_bytes = int(np.prod(tail)) * np.dtype(dtype).itemsize
        chunk = max(1, min(4096, (1 << 20) // max(1, row_bytes)))
        self.h5.create_dataset(name, shape=(0, *tail), maxshape=(None, *tail), dtype=dtype, chunks=(chunk, *tail))

    def finish(self) -> None:
        """Mark complete, fsync, and rename to the final name (atomically replacing an old file)."""
        self.flush()
        for key in ("rows_done", "items_done"):
            del self.h5.attrs[key]
        self.h5.attrs["complete"] = True
        self.h5.attrs["count"] = self.rows_done
        if "ids" not in self.h5:
            self._dataset("ids", (), None)
        self.h5.flush()
        os.fsync(self.h5.id.get_vfd_handle())
        self.h5.close()
        os.chmod(self.path, 0o666 & ~_umask())
        os.replace(self.path, self.dest)

    def abandon(self) -> None:
        """After an error: keep what was flushed for ``--resume``, or remove an empty partial file."""
        with contextlib.suppress(OSError):
            self.close()
        if self.rows_done == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def close(self) -> None:
        """Flush what is done and leave the partial file for ``--resume`` (the handle is closed even
        when the flush fails, e.g. on a full disk)."""
        if self.h5 is not None and self.h5.id.valid:
            try:
                self.flush()
            finally:
                self.h5.close()


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
