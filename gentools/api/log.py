"""One log for metrics and training scalars: the JSON envelope of ``--json`` / ``--append``, and ``gentools.log``."""

from __future__ import annotations

import json
import math
import os
from typing import Optional

from gentools._version import __version__


def to_json(record: dict) -> str:
    """``record`` as strict JSON (RFC 8259): a non-finite number anywhere becomes ``null``, with one warning
    naming its key; anything not JSON is written as its text."""
    bad: list = []
    text = json.dumps(_finite(record, "", bad), sort_keys=False, default=str, allow_nan=False)
    if bad:
        from gentools.errors import warn

        warn(f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}: not a finite number, written as "
             f"null (JSON has no NaN or Infinity)")
    return text


def _finite(obj, where: str, bad: list):
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        bad.append(where or "value")
        return None
    if isinstance(obj, dict):
        return {key: _finite(value, f"{where}.{key}" if where else str(key), bad) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value, f"{where}[{i}]", bad) for i, value in enumerate(obj)]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", None) == 0:  # numpy scalars
        return _finite(obj.item(), where, bad)
    return obj


def envelope(command: str, values: dict, inputs: list, params: dict, tags: dict, seconds: float) -> dict:
    """``{"command", "values", "inputs", "params", "tags", "seconds", "version"}``: one result, as ``--json``."""
    return {"command": command, "values": dict(values), "inputs": inputs,
            "params": params, "tags": tags, "seconds": round(seconds, 6), "version": __version__}


def append_jsonl(path: os.PathLike, record: dict) -> None:
    """Append ``record`` as one line, in one ``write`` (lines from concurrent writers never interleave)."""
    line = to_json(record)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def log(path: os.PathLike, step: Optional[int] = None, tags: Optional[dict] = None, **scalars) -> dict:
    """Append training scalars (``loss=...``, ``grad_norm=...``, ``lr=...``) as one line of the ``--append``
    format, tagged with ``step``; ``gentools report`` draws every numeric value as a panel. Returns the record."""
    values = {name: _logged_scalar(name, value) for name, value in scalars.items()}
    record = envelope("log", values, [], {}, tags_of(step, tags), 0.0)
    append_jsonl(path, record)
    return record


def tags_of(step, tags) -> dict:
    """A record's tags: ``tags`` plus ``step`` (an integer: a float step must be a whole number)."""
    from gentools.errors import UsageError

    out = dict(tags or {})
    if step is not None:
        value = as_scalar(step) if not isinstance(step, int) else step
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not (math.isfinite(value) and value.is_integer())) or \
                not -2 ** 63 < value < 2 ** 63:
            raise UsageError(f"step must be a whole number of magnitude below 2^63, got {str(step)[:40]}")
        out["step"] = int(value)
    return out


def _logged_scalar(name: str, value):
    from gentools.errors import UsageError

    try:
        return as_scalar(value)
    except (RuntimeError, ValueError, TypeError, OverflowError):
        shape = list(getattr(value, "shape", []))
        raise UsageError(f"{name} must be one number (a float, or a 0-d or 1-element tensor/array), got "
                         f"{type(value).__name__} of shape {shape}") from None


def as_scalar(value):
    """Numbers as floats (a 0-d tensor or numpy scalar too); anything else as it is."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if abs(value) < 2 ** 1023 else value
    return float(value) if isinstance(value, float) else value
