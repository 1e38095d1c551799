"""gentools is: Inception Score from stored logits."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Json, NoStdin, PresetOption, Quiet, Seed, Tag


def inception_score(
    gen: Annotated[str, typer.Argument(metavar="GEN", help="Features file with 'logits' (or a plain [N, C] "
                                                           "array, taken as logits); '-' is stdin.")],
    splits: Annotated[Optional[int], typer.Option("--splits", min=1, help="Number of splits [default: 10].",
                                                  show_default=False)] = None,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle",
                                                    help="Permute rows with --seed before splitting (torch-fidelity "
                                                         "does; the original OpenAI code does not) [default: shuffle].",
                                                    show_default=False)] = None,
    preset: PresetOption = None,
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
    from gentools.api.metrics import inception_score as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("is", json_, append, tag)
    (source,) = sources([gen], no_stdin)
    reporter.report(run(source, splits=splits, shuffle=shuffle, preset=preset, seed=seed))
