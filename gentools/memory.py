"""The memory budget: work that would need more than it stops before it starts, with one line saying so.

The budget is ``--max-memory`` (the CLI's, accepted anywhere on the line), else
``GENTOOLS_MAX_MEMORY``, else the memory available now less 1 GB. Sizes are
bytes or a number with K, M, G or T (powers of 1024): ``4G``, ``512M``.
Readers and metrics call :func:`require` with their peak need (an array about
to be read, d x d covariances, pairwise blocks, an archive member) before
they allocate it.
"""

from __future__ import annotations

import os
import re
from typing import Optional

from gentools.errors import GentoolsError, UsageError

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SETTING: dict = {"bytes": None}
RESERVE = 1 << 30


class OverBudget(GentoolsError):
    """The work would need more memory than the budget allows."""


def parse_size(text: str, what: str = "--max-memory") -> int:
    """``"4G"`` -> 4294967296; a usage error for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", str(text), flags=re.IGNORECASE)
    if not match:
        raise UsageError(f"{what} {text!r}: expected a size such as 4G, 512M or 1000000")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def set_budget(nbytes: Optional[int]) -> None:
    """The budget from now on (None: back to GENTOOLS_MAX_MEMORY or the available memory)."""
    _SETTING["bytes"] = nbytes


def budget_setting() -> Optional[int]:
    """The budget given with :func:`set_budget` (None: none given)."""
    return _SETTING["bytes"]


def budget() -> int:
    """The memory budget in bytes."""
    if _SETTING["bytes"] is not None:
        return _SETTING["bytes"]
    if os.environ.get("GENTOOLS_MAX_MEMORY"):
        return parse_size(os.environ["GENTOOLS_MAX_MEMORY"], "GENTOOLS_MAX_MEMORY")
    return max(available() - RESERVE, RESERVE)


def available() -> int:
    """MemAvailable from /proc/meminfo, else physical memory (sysconf)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def require(need: int, what: str, label: str = "") -> None:
    """Raise :class:`OverBudget` when ``need`` bytes exceed the budget."""
    limit = budget()
    if need > limit:
        where = f" ({label})" if label else ""
        raise OverBudget(f"{what} needs {size_text(need)}, over the memory budget of {size_text(limit)}{where}",
                         hint="raise it with --max-memory SIZE or GENTOOLS_MAX_MEMORY, or use fewer rows")


def size_text(nbytes: int) -> str:
    """``nbytes`` for people: ``5.12 GB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def require_covariance(dim: int, where: str = "") -> None:
    """Room for a ``dim x dim`` float64 covariance and the copies taken to finish it."""
    require(3 * 8 * dim * dim, f"a {dim} x {dim} float64 covariance (with the copies taken to finish it)", where)
