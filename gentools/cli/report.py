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
    from gentools.api.report import report as run
    from gentools.cli.output import print_table

    _console.set_quiet(quiet)
    result = run([str(p) for p in logs], output=str(output) if output is not None else None, x=x)
    print_table([result["x"], *result["columns"]],
                ([_as_logged(xv), *[row.get(c, "") for c in result["columns"]]] for xv, row in result["rows"]))
    if output is not None:
        print(output)


def _as_logged(value: float):
    """The x tag as it was logged: a whole number (a step) as an int, printed without a trailing ``.0``."""
    return int(value) if float(value).is_integer() else float(value)
