"""``gentools.report``: the trend of every value logged with ``--append`` / ``gentools.log``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from gentools.errors import InputError, warn


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
    printed = {}  # each value's first appearance: a metric's values keep the order the metric prints them in
    for row in table.values():
        for name in row:
            printed.setdefault(name.rpartition(".")[2], len(printed))
    columns = sorted({k for row in table.values() for k in row}, key=_panel_order(printed))
    if output is not None:
        if len(series) > MAX_PANELS:
            warn(f"{len(series)} metrics logged; the PNG draws the first {MAX_PANELS} (metrics first, "
                 f"then the other values by name), the table has them all")
        names = [c for c in columns if c in series][:MAX_PANELS]
        render.save_atomic(str(output), lambda p: render.metric_panels({n: series[n] for n in names}, x_name, p))
    return {"x": x_name, "columns": columns, "rows": [(xv, table[xv]) for xv in sorted(table)],
            "plot": str(output) if output is not None else ""}


def _panel_order(printed: dict):
    """The sort key of the columns: metrics first, in the registry's order (fid, kid, is, prdc, ...), each
    metric's values in the order it prints them (``printed``: value name -> first appearance, so the training
    loop's ``fid`` sits beside the command's ``fid.fid``), then other values (loss, grad_norm) by name. A value
    belongs to the metric named by its command (``kid.kid_mean``) or its first word (``kid_mean``)."""
    from gentools.api.registry import metrics

    order = {metric: i for i, metric in enumerate(metrics())}

    def key(name: str):
        command, _, value = name.rpartition(".")
        for word in (command, value.split("_")[0], value):
            if word in order:
                return (0, order[word], printed[value], name)
        return (1, 0, 0, name)

    return key


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
        warn(f"skipped line {number}{more}: it {why} ({path})")
    return records
