"""``gentools.report``: the trend of every value logged with ``--append`` / ``gentools.log``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Sequence

from gentools.errors import GentoolsWarning, InputError


MAX_PANELS = 24  # a PNG of more panels is too tall to read, and matplotlib's layout time grows with them


def report(logs: Sequence[str], *, output: Optional[str] = None, x: Optional[str] = None) -> dict:
    """Collect the JSONL records of ``logs`` against the ``x`` tag (default ``step``): returns ``x`` (its
    name), ``columns`` (one per metric value) and ``rows`` (``(x value, {column: value})``, sorted by x);
    with ``output`` also a PNG with one panel per column."""
    from gentools import render
    from gentools.metrics.trends import collect

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
        if len(series) > MAX_PANELS:
            warnings.warn(f"{len(series)} metrics logged; the PNG draws the first {MAX_PANELS} (sorted by name), "
                          f"the table has them all", GentoolsWarning, stacklevel=2)
            series = {name: series[name] for name in sorted(series)[:MAX_PANELS]}
        render.save_atomic(str(output), lambda p: render.metric_panels(series, x_name, p))
    columns = sorted({k for row in table.values() for k in row})
    return {"x": x_name, "columns": columns, "rows": [(xv, table[xv]) for xv in sorted(table)],
            "plot": str(output) if output is not None else ""}


def _read_jsonl(path: Path) -> list[dict]:
    import json

    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror})") from None
    records, bad = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            bad.append((number, f"is not JSON ({getattr(exc, 'msg', 'nested too deeply')})"))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("values"), dict) or \
                not isinstance(obj.get("tags") or {}, dict):
            bad.append((number, "is not a gentools --append record"))
            continue
        records.append(obj)
    if bad and not records:
        number, why = bad[0]
        raise InputError(f"line {number} {why}, and no line is a record ({path})")
    if bad:
        number, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        warnings.warn(f"skipped line {number}{more}: it {why} ({path})", GentoolsWarning, stacklevel=3)
    return records
