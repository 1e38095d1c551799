"""gentools is: Inception Score from stored logits."""

from __future__ import annotations

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Json, NoStdin, Quiet, Seed, Tag


def inception_score(
    gen: Annotated[str, typer.Argument(metavar="GEN", help="Features file with 'logits' (or a plain [N, C] "
                                                           "array, taken as logits); '-' is stdin.")],
    splits: Annotated[int, typer.Option("--splits", min=1, help="Number of splits.")] = 10,
    shuffle: Annotated[bool, typer.Option("--shuffle/--no-shuffle",
                                          help="Permute rows with --seed before splitting (torch-fidelity "
                                               "does; the original OpenAI code does not).")] = True,
    seed: Seed = DEFAULT_SEED,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Inception Score (Salimans et al. 2016): exp(E KL(p(y|x) || p(y))), mean and std over splits.

    Uses all stored logits (Inception: the 1008 unbiased logits, as torch-fidelity).

    Example: gentools is gen.h5 --splits 10
    """
    from gentools.cli._inputs import describe, open_inputs, require_features
    from gentools.cli.output import Reporter
    from gentools.errors import InputError
    from gentools.metrics.inception_score import inception_score as is_metric

    _console.set_quiet(quiet)
    reporter = Reporter("is", json_, append, tag)
    (item,) = require_features(open_inputs([gen], no_stdin), "is")
    if item.has("logits"):
        logits = item.array("logits")
    elif item.provenance:
        raise InputError(f"has no 'logits'; extract with a classifier backbone such as inception ({item.label})")
    else:
        logits = item.array("features")
    if splits > len(logits):
        raise InputError(f"--splits {splits} is more than the {len(logits)} rows ({item.label})")
    values = is_metric(logits, splits, shuffle, seed)
    reporter.emit(values, [describe(item)], {"splits": splits, "shuffle": shuffle, "seed": seed})
