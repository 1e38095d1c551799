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
    from gentools.cli._inputs import describe, open_inputs, require_features
    from gentools.cli.output import Reporter
    from gentools.errors import InputError
    from gentools.metrics.inception_score import inception_score as is_metric

    _console.set_quiet(quiet)
    reporter = Reporter("is", json_, append, tag)
    (item,) = require_features(open_inputs([gen], no_stdin), "is")
    if item.provenance.get("is_logits") == "biased":
        raise InputError(f"holds logits with the fc bias (an older gentools' --preset adm), which no evaluator "
                         f"scores: re-extract with this version ({item.label})")
    if item.has("logits"):
        logits = item.array("logits")
    elif item.provenance:
        raise InputError(f"has no 'logits'; extract with a classifier backbone such as inception ({item.label})")
    else:
        logits = item.array("features")
    from gentools import presets

    chosen = presets.get(preset)
    split_size = chosen.is_split_size if splits is None else 0
    splits = chosen.is_splits if splits is None else splits
    shuffle = chosen.is_shuffle if shuffle is None else shuffle
    if not split_size and splits > len(logits):
        raise InputError(f"--splits {splits} is more than the {len(logits)} rows ({item.label})")
    values = is_metric(logits, splits, shuffle, seed, split_size)
    reporter.emit(values, [describe(item)], {"splits": splits, "split_size": split_size, "shuffle": shuffle,
                                             "seed": seed, "preset": preset or ""})
