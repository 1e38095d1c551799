"""The resumable writer of an extraction: rows appended to ``DEST.partial``, renamed to ``DEST`` when complete."""

from __future__ import annotations

import contextlib
import os
import stat

import h5py
import numpy as np

from gentools import memory
from gentools.errors import FormatError, InputError
from gentools.files import NotRegular, kind_of_mode
from gentools.store import safety
from gentools.store.formats import (CLIP_KEYS, FEATURES, GUARDED_KEYS, ROW_DATASETS, TEXT_ROWS, _attr, id_runs,
                                    many_rows_per_input, provenance_differences, row_dtype)
from gentools.files import umask
from gentools.store.write import _write_attrs, chunk_rows


def partial_path(dest: str) -> str:
    """Where an unfinished extraction keeps its rows: ``DEST.partial`` beside the final name."""
    return f"{dest}.partial"

def rows_done(partial: str) -> int:
    """How many rows a partial file holds, readable while its writer is still at work (without HDF5's lock);
    0 when there is no readable partial file yet. For watching a long extraction."""
    try:
        with h5py.File(partial, "r", locking=False) as h5:
            return int(h5.attrs.get("rows_done", 0))
    except OSError:
        return 0


def _own_regular_file(path: str) -> os.stat_result:
    """``lstat`` of ``path`` when it is a regular file and not a link (a FIFO would hang the reader, a link would
    let a resume write another file); an ``OSError`` otherwise."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegular(f"{path}: {kind_of_mode(info.st_mode)}, not a partial file gentools wrote")
    return info


def _checked_datasets(h5, path: str, rows: int) -> dict:
    """The partial file's row datasets, each one gentools would have written: stored in the file (no links,
    external storage or virtual datasets), chunked and growable, of its dtype, with at least ``rows`` rows."""
    datasets = {name: safety.dataset(h5, name, path) for name in ROW_DATASETS + ("skipped", "skipped_at")
                if name in h5}
    for name in ("features", "ids"):
        if name not in datasets:
            raise FormatError(f"no '{name}' dataset ({path})")
    for name, data in datasets.items():
        text = name in TEXT_ROWS or name == "skipped"
        if text != (h5py.check_string_dtype(data.dtype) is not None) or \
                (not text and data.dtype != np.dtype(np.int64 if name == "skipped_at" else row_dtype(name))):
            raise FormatError(f"'{name}' has dtype {data.dtype}, not the one gentools writes ({path})")
        if name in ROW_DATASETS and (data.chunks is None or data.maxshape[0] is not None or data.shape[0] < rows):
            raise FormatError(f"'{name}' is not a growable row dataset of at least {rows} rows ({path})")
    return datasets


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
        self.skipped_at: list = []  # each skipped input's position in the job's inputs (merge places runs by it)
        self._buffer: list = []

    @staticmethod
    def resume_state(dest: str, expected_ids, provenance: dict) -> tuple[int, int, list]:
        """``(rows_done, items_done, skipped)`` of a valid partial file for this job; raises
        :class:`CannotResume` saying why the partial file cannot be continued."""
        path = partial_path(dest)
        try:
            _own_regular_file(path)
            with h5py.File(path, "r", locking=False) as h5:
                with safety.bounded_allocation(safety.METADATA_BYTES):
                    attrs = {k: _attr(v) for k, v in h5.attrs.items()}
                rows, items = (safety.attribute(attrs.get(k), k, path, int) for k in ("rows_done", "items_done"))
                for key, _, _ in provenance_differences(attrs, provenance, GUARDED_KEYS + CLIP_KEYS + ("source", "shard"))[:1]:
                    raise ValueError(f"{key} differs")
                if rows == 0 and items == 0:
                    return 0, 0, []
                many = many_rows_per_input(attrs)
                if not 0 < items <= len(expected_ids) or not 0 < rows or (rows > items and not many):
                    raise ValueError("row counts disagree")
                datasets = _checked_datasets(h5, path, rows)
                memory.require(rows * 512, f"reading {rows} ids", path)
                with safety.bounded_allocation(safety.METADATA_BYTES + rows * 512):
                    ids = [_attr(i) for i in datasets["ids"][:rows]]
                    skipped = [_attr(i) for i in datasets["skipped"][:items + 1]] if "skipped" in datasets else []
                if many:  # one input, many rows: compare the inputs
                    ids = [ids[start] for start, _ in id_runs(ids)]
                if len(ids) + len(skipped) != items:
                    raise ValueError("row counts disagree")
                consumed = set(ids) | set(skipped)
                if ids != [i for i in expected_ids[:items] if i in consumed] or len(consumed) != items:
                    raise ValueError("ids are not this job's inputs")
                if not np.isfinite(datasets["features"][rows - 1]).all():
                    raise ValueError("last row is not finite")
                return rows, items, skipped
        except (FormatError, TypeError, *safety.H5PY_ERRORS) as exc:  # unreadable, or not this job's: start again
            raise CannotResume(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def open(self, resume_from=None) -> None:
        """Start a new partial file, or continue ``resume_from = (rows, items, skipped)``."""
        if resume_from:
            self.rows_done, self.items_done, self.skipped = resume_from
            before = _own_regular_file(self.path)
            self.h5 = h5py.File(self.path, "r+")
            opened = os.fstat(self.h5.id.get_vfd_handle())
            if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):  # swapped since it was checked
                self.h5.close()
                raise InputError(f"{self.path} changed while it was being resumed; run the command again")
            _checked_datasets(self.h5, self.path, self.rows_done)
            if "skipped_at" in self.h5 and len(self.h5["skipped_at"]) == len(self.skipped):
                self.skipped_at = [int(p) for p in self.h5["skipped_at"][:]]
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

    def append(self, ids: list, arrays: dict, skipped: list, inputs: int | None = None,
               skipped_at: list | None = None) -> None:
        """Buffer one batch: row ``ids``, ``arrays`` name -> rows, ``skipped`` ids, how many inputs it
        consumed (default rows + skipped; an audio file gives many rows), and the skipped inputs' positions."""
        self._buffer.append((ids, arrays, skipped, len(ids) + len(skipped) if inputs is None else inputs,
                             list(skipped_at or [])))

    def flush(self) -> None:
        if not self._buffer:
            return
        ids = [i for b in self._buffer for i in b[0]]
        skipped = [s for b in self._buffer for s in b[2]]
        names = {n for b in self._buffer for n, v in b[1].items() if v is not None}
        new = len(ids)
        for name in names:
            rows = np.concatenate([b[1][name] for b in self._buffer if b[1].get(name) is not None])
            if name in TEXT_ROWS:
                rows = [str(v) for v in rows]
            self._dataset(name, np.shape(rows)[1:], None)
            self.h5[name].resize(self.rows_done + new, axis=0)
            self.h5[name][self.rows_done:] = rows
        if new:
            self._dataset("ids", (), None)
            self.h5["ids"].resize(self.rows_done + new, axis=0)
            self.h5["ids"][self.rows_done:] = ids
        if skipped:
            self.skipped += skipped
            self.skipped_at += [p for b in self._buffer for p in b[4]]
            for name in ("skipped", "skipped_at"):
                if name in self.h5:
                    del self.h5[name]
            self.h5.create_dataset("skipped", data=self.skipped, dtype=h5py.string_dtype("utf-8"))
            if len(self.skipped_at) == len(self.skipped):
                self.h5.create_dataset("skipped_at", data=np.asarray(self.skipped_at, np.int64))
        self.h5.flush()
        os.fsync(self.h5.id.get_vfd_handle())
        self.rows_done += new
        self.items_done += sum(b[3] for b in self._buffer)
        self._buffer = []
        self._set_progress()

    def _set_progress(self) -> None:
        self.h5.attrs["rows_done"] = self.rows_done
        self.h5.attrs["items_done"] = self.items_done
        self.h5.flush()

    def _dataset(self, name: str, tail: tuple, dtype) -> None:
        if name in self.h5:
            if name not in TEXT_ROWS and self.h5[name].shape[1:] != tuple(tail):
                self._buffer = []  # nothing of this batch is written, also not by the close that follows
                raise FormatError(f"'{name}' of {self.path} holds rows of shape {self.h5[name].shape[1:]}, this job "
                                  f"gives {tuple(tail)}: not this job's partial file; run again with --overwrite")
            return
        if name in TEXT_ROWS:
            self.h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=h5py.string_dtype("utf-8"),
                                   chunks=(4096,))
            return
        dtype = row_dtype(name)
        chunk = chunk_rows(int(np.prod(tail)) * np.dtype(dtype).itemsize, 4096)
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
        os.chmod(self.path, 0o666 & ~umask())
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
