"""torch.distributed for extraction and the Evaluator: one place that joins, talks to and leaves a process group.

A group the caller created (``torch.distributed.init_process_group`` in a
training script) is used as it is and left initialised; only a group gentools
created itself (``extract`` under torchrun, with no group yet) is destroyed
when gentools is done with it.
"""

from __future__ import annotations

import os
from typing import Optional


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() else None


class Ranks:
    """The ranks of this job: the caller's process group if there is one; else, with ``join`` under torchrun
    (``WORLD_SIZE`` > 1), a group gentools creates (``nccl`` on CUDA, else ``gloo``) and owns; else one process."""

    def __init__(self, device=None, join: bool = True):
        dist = _dist()
        self._owned = False
        if dist is not None and dist.is_initialized():
            self.world, self.rank = dist.get_world_size(), dist.get_rank()
            return
        self.world = int(os.environ.get("WORLD_SIZE", "1")) if join else 1
        self.rank = int(os.environ.get("RANK", "0")) if join else 0
        if self.world > 1:
            dist.init_process_group("nccl" if device is not None and device.type == "cuda" else "gloo")
            self._owned = True

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def gather(self, obj):
        """Every rank's ``obj`` on rank 0 (a list by rank); ``None`` elsewhere."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world if self.rank == 0 else None
        _dist().gather_object(obj, out, dst=0)
        return out

    def all_gather(self, obj) -> list:
        """Every rank's ``obj`` on every rank, in rank order. With NCCL each rank must have called
        ``torch.cuda.set_device`` first: ``all_gather_object`` stages on the current device."""
        if self.world == 1:
            return [obj]
        out: list = [None] * self.world
        _dist().all_gather_object(out, obj)
        return out

    def any(self, flag: bool) -> bool:
        return any(self.all_gather(flag))

    def all(self, flag: bool) -> bool:
        return all(self.all_gather(flag))

    def broadcast(self, value):
        """Rank 0's ``value`` on every rank."""
        if self.world == 1:
            return value
        box = [value]
        _dist().broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        """Wait for every rank; destroy the group only if gentools created it."""
        if self.world > 1:
            dist = _dist()
            dist.barrier()
            if self._owned:
                dist.destroy_process_group()
                self._owned = False


def rank() -> int:
    """This process's rank in the caller's group (0 without one)."""
    dist = _dist()
    return dist.get_rank() if dist is not None and dist.is_initialized() else 0


def caller_ranks() -> Optional[Ranks]:
    """The caller's group as :class:`Ranks` (never creating one), or None outside torch.distributed."""
    dist = _dist()
    return Ranks(join=False) if dist is not None and dist.is_initialized() else None
