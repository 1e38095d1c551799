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

import os
import signal
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from gentools import store
from gentools.cli import _console
from gentools.errors import InputError, Interrupted
from gentools.features.pipeline import Rows

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def shard_positions(count: int, shard: Optional[str]) -> list[int]:
    if not shard:
        return list(range(count))
    from gentools.shards import parse_shard

    i, n = parse_shard(shard)
    return list(range(i, count, n))


class Ranks:
    """torch.distributed under torchrun (``WORLD_SIZE`` > 1), else a single process."""

    def __init__(self, device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def gather(self, obj):
        """Every rank's ``obj`` on rank 0 (a list by rank); ``None`` elsewhere."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world if self.rank == 0 else None
        dist.gather_object(obj, out, dst=0)
        return out

    def _all_flags(self, flag: bool) -> list:
        if self.world == 1:
            return [flag]
        import torch.distributed as dist

        flags = [None] * self.world
        dist.all_gather_object(flags, flag)
        return flags

    def any(self, flag: bool) -> bool:
        return any(self._all_flags(flag))

    def all(self, flag: bool) -> bool:
        return all(self._all_flags(flag))

    def broadcast(self, value):
        """Rank 0's ``value`` on every rank."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


@contextmanager
def caught_signals() -> Iterator[dict]:
    """SIGINT/SIGTERM set ``state["signal"]`` instead of killing; the loop stops at a step boundary."""
    state: dict = {"signal": None}

    def handler(signum, _frame):
        state["signal"] = signum

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
    rows.sort(key=lambda r: r[0])
    skipped.sort()
    names = rows[0][2].keys() if rows else []
    arrays = {n: np.stack([r[2][n] for r in rows]) for n in names}
    return Rows([r[1] for r in rows], arrays, [s[1] for s in skipped])


def run(dest: str, expected_ids: list[str], provenance: dict, make_batches: Callable[[list[int]], Iterator[Rows]],
        ranks: Ranks, resume: bool, overwrite: bool, flush_every: int) -> Optional[store.FeatureWriter]:
    """Extract the inputs ``expected_ids`` (already shard-selected) into ``dest``; rank 0 returns its writer.

    ``make_batches(positions)`` yields Rows for those positions of the list, with
    ``Rows.positions`` / ``skipped_positions`` given as positions of the list.
    """
    writer = state = None
    start = 0
    if ranks.is_writer:
        writer = store.FeatureWriter(dest, provenance)
        partial = store.partial_path(dest)
        if os.path.exists(partial) and not (resume or overwrite):
            raise InputError(f"{partial} exists: an interrupted extraction; add --resume to continue it, "
                             f"or --overwrite to start again")
        if resume and os.path.exists(partial):
            state = store.FeatureWriter.resume_state(dest, expected_ids, provenance)
            if isinstance(state, Exception):
                _console.warn(f"{partial}: cannot be continued ({state}); starting again")
                state = None
            elif state:
                start = state[1]
                _console.info(f"resuming {partial}: {state[0]} rows done, {len(expected_ids) - start} inputs left")
        writer.open(state)
    try:
        return _loop(dest, expected_ids, make_batches, ranks, flush_every, writer, start)
    except Interrupted:
        raise
    except BaseException as exc:
        if writer is not None and writer.h5 is not None:
            writer.abandon()
            if writer.rows_done and isinstance(exc, InputError):
                exc.hint = "; ".join(filter(None, [exc.hint, f"{writer.rows_done} rows before it are kept in "
                                                   f"{writer.path}; --resume continues after a fix"]))
        raise


def _loop(dest, expected_ids, make_batches, ranks, flush_every, writer, start):
    start = ranks.broadcast(start)
    pending = list(range(start, len(expected_ids)))
    batches = make_batches(pending[ranks.rank::ranks.world])
    steps = 0
    with caught_signals() as caught, _console.progress("extract", len(pending)) as tick:
        while True:
            part = next(batches, None)
            parts = ranks.gather(part)
            if ranks.is_writer and any(p is not None for p in parts):
                merged = part if ranks.world == 1 else _merge_step(parts)
                writer.append(merged.ids, merged.arrays, merged.skipped)
                steps += 1
                if tick:
                    tick(len(merged.ids) + len(merged.skipped))
                if steps % flush_every == 0:
                    writer.flush()
            if ranks.any(caught["signal"] is not None):
                _interrupt(writer, caught["signal"] or signal.SIGTERM, dest)
            if ranks.all(part is None):
                return writer


def _interrupt(writer, signum, dest: str):
    code = SIGNAL_EXIT.get(signum, 143)
    if writer is not None:
        writer.close()
        raise Interrupted(f"{signal.Signals(signum).name}: {writer.rows_done} rows kept in "
                          f"{store.partial_path(dest)}; run the same command with --resume to continue", code)
    raise Interrupted(f"{signal.Signals(signum).name}", code)
