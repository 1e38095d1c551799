"""gentools report: plot metrics logged with --append against a tag (a training run's trend)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Quiet


def report(
    logs: Annotated[List[Path], typer.Argument(metavar="FILE.jsonl...", help="Lines written by --append.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="PNG: one panel per metric against "
                                                   "the x tag.", show_default=False)] = None,
    x: Annotated[Optional[str], typer.Option("--x", help="Tag on the x axis (default: 'step' if present, else "
                                             "the first numeric tag).", show_default=False)] = None,
    quiet: Quiet = False,
) -> None:
    """Table and plot of metrics logged with --append --tag KEY=VALUE, one panel per metric.

    Prints a TSV table (x, then one column per metric) on stdout; with -o also a
    PNG. Lines whose other tags differ are drawn as separate lines.

    Example: gentools fid gen_$N.h5 ref.h5 --append m.jsonl --tag step=$N; gentools report m.jsonl -o trend.png
    """
    from gentools import render
    from gentools.errors import InputError
    from gentools.metrics.report import collect

    _console.set_quiet(quiet)
    records = []
    for path in logs:
        records += _read_jsonl(path)
    if not records:
        raise InputError(f"no metric lines in {', '.join(map(str, logs))}")
    try:
        x_name, table, series = collect(records, x)
    except ValueError as exc:
        raise InputError(f"{exc} ({', '.join(map(str, logs))})") from None
    columns = sorted({k for row in table.values() for k in row})
    print("\t".join([x_name] + columns))
    for xv in sorted(table):
        print("\t".join([_fmt(xv)] + [_fmt(table[xv].get(c, "")) for c in columns]))
    if output is not None:
        render.save_atomic(str(output), lambda p: render.metric_panels(series, x_name, p))
        print(output)


def _fmt(value) -> str:
    return repr(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _read_jsonl(path: Path) -> list[dict]:
    import json

    from gentools.errors import InputError

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
