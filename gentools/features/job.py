"""One extraction job: shard selection, resume, torchrun ranks, signals, incremental writing.

The job's inputs are an ordered list with known ids (images, or generator
sample indices). ``--shard i/n`` keeps positions ``i, i+n, …``; a resumed job
skips the ``items_done`` inputs its partial file already holds; under torchrun
rank ``r`` of ``W`` takes every W-th remaining input and rank 0 gathers each
step's rows, puts them back in input order and is the only writer. Rows are
flushed every ``flush_every`` steps; SIGINT/SIGTERM finish the step in
flight, flush, and stop with exit 130/143.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from gentools import store
from gentools.errors import GentoolsNotice, InputError, Interrupted, warn
from gentools.features.distributed import Ranks
from gentools.features.pipeline import Rows

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def shard_positions(count: int, shard: Optional[str]) -> list[int]:
    if not shard:
        return list(range(count))
    from gentools.shards import parse_shard

    i, n = parse_shard(shard)
    return list(range(i, count, n))


@contextmanager
def caught_signals() -> Iterator[dict]:
    """SIGINT/SIGTERM set ``state["signal"]`` instead of killing; the loop stops at a step boundary. Installed
    only on the main thread (``signal.signal`` raises elsewhere), and the caller's handlers are put back."""
    state: dict = {"signal": None}

    def handler(signum, _frame):
        state["signal"] = signum

    if threading.current_thread() is not threading.main_thread():
        yield state  # only the main thread may install handlers; a worker thread's job stops as Python does
        return
    previous = {s: signal.signal(s, handler) for s in SIGNAL_EXIT}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _merge_step(parts: list) -> Rows:
    """Rows of one step from every rank, back in input order (``positions`` index the job's inputs)."""
    import numpy as np

    rows, skipped = [], []
    for part in parts:
        if part is None:
            continue
        for k, pos in enumerate(part.positions):
            rows.append((pos, part.ids[k], {n: v[k] for n, v in part.arrays.items()
                                                                   if v is not None}))
        for pos, sid in zip(part.skipped_positions, part.skipped):
            skipped.append((pos, sid))
    rows.sort(key=lambda r: r[0])  # stable: an audio file's frames (one position) stay in order
    skipped.sort()
    names = rows[0][2].keys() if rows else []
    arrays = {n: np.stack([r[2][n] for r in rows]) for n in names}
    return Rows([r[1] for r in rows], arrays, [s[1] for s in skipped], skipped_positions=[s[0] for s in skipped],
                inputs=len({r[0] for r in rows}) + len(skipped))


class ExtractionJob:
    """One extraction into ``dest``: opens (or resumes) the partial file, loops over the batches, and
    finishes it under the final name or, on an error, abandons it keeping what was flushed.

    ``expected_ids`` are the job's inputs in order (already shard-selected);
    ``make_batches(positions)`` yields :class:`Rows` for those positions of that
    list, with ``Rows.positions`` / ``skipped_positions`` given as positions of
    the same list (absolute within the job).
    """

    def __init__(self, dest: str, expected_ids: list[str], provenance: dict,
                 make_batches: Callable[[list[int]], Iterator[Rows]], ranks: Ranks, flush_every: int = 10,
                 progress=None):
        self.dest, self.expected_ids, self.provenance = dest, expected_ids, provenance
        self.make_batches, self.ranks, self.flush_every, self.progress = make_batches, ranks, flush_every, progress
        self.writer: Optional[store.FeatureWriter] = None

    def run(self, resume: bool = False, overwrite: bool = False) -> Optional[store.FeatureWriter]:
        """Extract everything; rank 0 returns its finished writer (``rows_done``, ``skipped``), others None."""
        start = self._open(resume, overwrite) if self.ranks.is_writer else 0
        try:
            self._loop(start)
            if self.writer is not None:
                self.writer.flush()
                if self.writer.rows_done == 0:
                    raise InputError(f"{self.provenance.get('source', '')}: {nothing_made(self.provenance)}")
                self.writer.finish()
            return self.writer
        except Interrupted:
            raise
        except BaseException as exc:
            self._abandon(exc)
            raise

    def _open(self, resume: bool, overwrite: bool) -> int:
        self.writer = store.FeatureWriter(self.dest, self.provenance)
        partial = store.partial_path(self.dest)
        if os.path.exists(partial) and not (resume or overwrite):
            raise InputError(f"{partial} exists: an interrupted extraction; add --resume to continue it, "
                             f"or --overwrite to start again")
        state = None
        if resume and os.path.exists(partial):
            try:
                state = store.FeatureWriter.resume_state(self.dest, self.expected_ids, self.provenance)
                warn(f"resuming {partial}: {state[0]} rows done, {len(self.expected_ids) - state[1]} "
                     f"inputs left", GentoolsNotice)
            except store.CannotResume as exc:
                warn(f"{partial}: cannot be continued ({exc}); starting again")
        self.writer.open(state)
        return state[1] if state else 0

    def _abandon(self, exc: BaseException) -> None:
        writer = self.writer
        if writer is None or writer.h5 is None:
            return
        writer.abandon()
        if writer.rows_done and isinstance(exc, InputError):
            exc.hint = "; ".join(filter(None, [exc.hint, f"{writer.rows_done} rows before it are kept in "
                                               f"{writer.path}; --resume continues after a fix"]))

    def _loop(self, start: int) -> None:
        ranks, writer = self.ranks, self.writer
        start = ranks.broadcast(start)
        pending = list(range(start, len(self.expected_ids)))
        batches = self.make_batches(pending[ranks.rank::ranks.world])
        steps = 0
        progress = self.progress("extract", len(pending)) if self.progress else contextlib.nullcontext(None)
        with caught_signals() as caught, progress as tick:
            while True:
                part = next(batches, None)
                parts = ranks.gather(part)
                if ranks.is_writer and any(p is not None for p in parts):
                    merged = part if ranks.world == 1 else _merge_step(parts)
                    writer.append(merged.ids, merged.arrays, merged.skipped, merged.consumed(), merged.skipped_positions)
                    steps += 1
                    if tick:
                        tick(merged.consumed())
                    if steps % self.flush_every == 0:
                        writer.flush()
                if ranks.any(caught["signal"] is not None):
                    _interrupt(writer, caught["signal"] or signal.SIGTERM, self.dest)
                if ranks.all(part is None):
                    return


def _interrupt(writer, signum, dest: str):
    code = SIGNAL_EXIT.get(signum, 143)
    if writer is not None:
        writer.close()
        raise Interrupted(f"{signal.Signals(signum).name}: {writer.rows_done} rows kept in "
                          f"{store.partial_path(dest)}; run the same command with --resume to continue", code)
    raise Interrupted(f"{signal.Signals(signum).name}", code)


def skipped_kind(provenance: dict) -> str:
    """What a skipped input of this job is, for the warning and the errors: by the input kind it read."""
    if provenance.get("modality") == "video":
        return (f"video(s), undecodable or shorter than one clip of "
                f"{provenance.get('frames', 16) * provenance.get('subsample', 1)} frames")
    return "undecodable sound file(s)" if provenance.get("modality") == "audio" else "undecodable image(s)"


def nothing_made(provenance: dict) -> str:
    """Why a job made no row at all."""
    return f"no row could be made: every input was skipped as one of the {skipped_kind(provenance)}"
