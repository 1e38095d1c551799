"""Arrange logged metric records (the ``--append`` JSON lines) as a table and plot series.

A value is named ``command.value`` (``fid.fid``, ``kid.kid_mean``), except in
the training loop's own records (``Evaluator.log``: ``evaluate``,
``gentools.log``: ``log``), where it is the value's name alone: ``loss`` from
``log`` and from ``evaluate`` is one series."""

from __future__ import annotations

import math

LOOP_COMMANDS = ("evaluate", "log")


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def collect(records: list[dict], x: str | None = None):
    """``(x_name, table, series)`` from records with ``command``, ``values`` and ``tags``.

    ``table[x][command.metric] = value`` (last record wins); ``series[command.metric][label] = (xs, ys)``,
    label = the record's other tags, so several runs give several lines.
    """
    tags = [r.get("tags") or {} for r in records]
    if x is None:
        numeric = [k for t in tags for k, v in t.items() if _number(v) is not None]
        if not numeric:
            raise ValueError("no numeric tag to plot against: log with --tag step=N")
        x = "step" if "step" in numeric else numeric[0]
    table: dict = {}
    points: dict = {}
    for record, tag in zip(records, tags):
        xv = _number(tag.get(x))
        if xv is None:
            continue
        label = ",".join(f"{k}={v}" for k, v in sorted(tag.items()) if k != x)
        for name, value in (record.get("values") or {}).items():
            y = _number(value)
            if y is None or isinstance(value, bool):
                continue
            command = record.get("command", "?")
            key = str(name) if command in LOOP_COMMANDS else f"{command}.{name}"
            table.setdefault(xv, {})[key] = y
            points.setdefault(key, {}).setdefault(label, {})[xv] = y
    if not table:
        raise ValueError(f"no record has a numeric '{x}' tag")
    series = {key: {label: (sorted(p), [p[v] for v in sorted(p)]) for label, p in lines.items()}
              for key, lines in points.items()}
    return x, table, series
