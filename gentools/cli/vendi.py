"""gentools vendi: the Vendi diversity score (Friedman & Dieng 2023)."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Append, Json, NoStdin, Quiet, Tag


def vendi(
    inputs: Annotated[List[str], typer.Argument(metavar="FEATURES", help="One features file.")],
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Vendi score (Friedman & Dieng 2023): the effective number of distinct samples, exp(entropy of K/n).

    K is the cosine-similarity kernel of the rows; computed from the d x d
    matrix when d < n. Equal to the vendi-score package.

    Example: gentools vendi gen.h5
    """
    from gentools.api.metrics import vendi as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("vendi", json_, append, tag)
    (source,) = sources(inputs, no_stdin, "vendi", 1)
    reporter.report(run(source))
