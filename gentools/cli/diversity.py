"""gentools diversity (and its alias vendi): Vendi score and class-histogram diversity of a generated set."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Append, Json, NoStdin, PerClass, Quiet, Tag


def diversity(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN", help="One features file (generated set).")],
    ref: Annotated[Optional[str], typer.Option("--ref", help="Reference features: their labels join the class "
                                                             "universe and give class_kl.", show_default=False)] = None,
    per_class: PerClass = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Diversity: vendi (Friedman & Dieng 2023), and from the rows' labels (or their logits' argmax)
    class_entropy (nats), class_gini, modes (classes hit at least once) and, with --ref, class_kl.

    vendi = exp(entropy of K/n), K the rows' cosine-similarity kernel; equal to
    the vendi-score package. --per-class adds vendi.LABEL for each class.

    Example: gentools diversity gen.h5 --ref test.h5
    """
    from gentools.api.classes import diversity as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("diversity", json_, append, tag)
    (source,) = sources(inputs, no_stdin, "diversity", 1)
    reference = sources([ref], True)[0] if ref else None
    reporter.report(run(source, ref=reference, per_class=per_class))
