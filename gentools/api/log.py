"""One log for metrics and training scalars: the JSON envelope of ``--json`` / ``--append``, and ``gentools.log``."""

from __future__ import annotations

import json
import math
import os
from typing import Optional

from gentools import __version__


def json_value(value):
    """JSON has no NaN/Inf: they are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def envelope(command: str, values: dict, inputs: list, params: dict, tags: dict, seconds: float) -> dict:
    """``{"command", "values", "inputs", "params", "tags", "seconds", "version"}``: one result, as ``--json``."""
    return {"command": command, "values": {k: json_value(v) for k, v in values.items()}, "inputs": inputs,
            "params": params, "tags": tags, "seconds": round(seconds, 6), "version": __version__}


def append_jsonl(path: os.PathLike, record: dict) -> None:
    """Append ``record`` as one line, in one ``write`` (lines from concurrent writers never interleave)."""
    line = json.dumps(record, sort_keys=False, default=str)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def log(path: os.PathLike, step: Optional[int] = None, tags: Optional[dict] = None, **scalars) -> dict:
    """Append training scalars (``loss=...``, ``grad_norm=...``, ``lr=...``) as one line of the ``--append``
    format, tagged with ``step``; ``gentools report`` draws every numeric value as a panel. Returns the record."""
    values = {name: as_scalar(value) for name, value in scalars.items()}
    record = envelope("log", values, [], {}, tags_of(step, tags), 0.0)
    append_jsonl(path, record)
    return record


def tags_of(step, tags) -> dict:
    """A record's tags: ``tags`` plus ``step``."""
    out = dict(tags or {})
    if step is not None:
        out["step"] = int(step)
    return out


def as_scalar(value):
    """Numbers as floats (a 0-d tensor or numpy scalar too); anything else as it is."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
