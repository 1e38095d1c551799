"""What every API function shares: the :class:`Result` it returns and the progress-bar factory it takes."""

from __future__ import annotations

import contextlib
import math
from typing import Callable, ContextManager, Optional

Tick = Callable[[int], None]
# progress(description, total) -> a context manager yielding a tick(k) function (or None: no bar).
Progress = Callable[[str, int], ContextManager[Optional[Tick]]]


class Result(dict):
    """A command's values, exactly the names and numbers it prints, as a plain ``dict``.

    ``inputs`` and ``params`` are what the command's ``--json`` envelope
    records beside them (each input's path, kind, n, dim and provenance; every
    setting that changes the numbers).
    """

    def __init__(self, values: dict, inputs: list | None = None, params: dict | None = None):
        from gentools.errors import NumericalError

        for key, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                where = ", ".join(str(i.get("path", "?")) for i in inputs or [] if isinstance(i, dict))
                raise NumericalError(f"{key} came out as {value}, not a number to report"
                                     f"{f' ({where})' if where else ''}",
                                     hint="the inputs' values may be too large for float32 arithmetic, or too "
                                          "few distinct rows")
        super().__init__(values)
        self.inputs = list(inputs or [])
        self.params = dict(params or {})


def bar(progress: Optional[Progress], description: str, total: int) -> ContextManager[Optional[Tick]]:
    """``progress(description, total)``, or a context that yields no tick when ``progress`` is None."""
    return progress(description, total) if progress else contextlib.nullcontext(None)
