"""``gentools.report``: the trend of every value logged with ``--append`` / ``gentools.log``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from gentools.errors import InputError


def report(logs: Sequence[str], *, output: Optional[str] = None, x: Optional[str] = None) -> dict:
    """Collect the JSONL records of ``logs`` against the ``x`` tag (default ``step``): returns ``x`` (its
    name), ``columns`` (one per metric value) and ``rows`` (``(x value, {column: value})``, sorted by x);
    with ``output`` also a PNG with one panel per column."""
    from gentools import render
    from gentools.metrics.report import collect

    records = []
    for path in logs:
        records += _read_jsonl(path)
    if not records:
        raise InputError(f"no metric lines in {', '.join(map(str, logs))}")
    try:
        x_name, table, series = collect(records, x)
    except ValueError as exc:
        raise InputError(f"{exc} ({', '.join(map(str, logs))})") from None
    if output is not None:
        render.save_atomic(str(output), lambda p: render.metric_panels(series, x_name, p))
    columns = sorted({k for row in table.values() for k in row})
    return {"x": x_name, "columns": columns, "rows": [(xv, table[xv]) for xv in sorted(table)],
            "plot": str(output) if output is not None else ""}


def _read_jsonl(path: Path) -> list[dict]:
    import json

    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number} is not JSON ({exc.msg}) ({path})") from None
        if not isinstance(obj, dict) or "values" not in obj:
            raise InputError(f"line {number} is not a gentools --append record ({path})")
        records.append(obj)
    return records
