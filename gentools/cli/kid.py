"""gentools kid: Kernel Inception Distance."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import PerClass, DEFAULT_SEED, Append, Force, Json, NoStdin, PresetOption, Quiet, Seed, Tag


def kid(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN REF",
                                                help="Generated features first, reference second; '-' is stdin.")],
    subsets: Annotated[int, typer.Option("--subsets", min=1, help="Number of random subsets.")] = 100,
    subset_size: Annotated[int, typer.Option("--subset-size", min=2, help="Rows per subset, from each set.")] = 1000,
    exact: Annotated[bool, typer.Option("--exact", help="Dot products in float64 even for float32 features "
                                        "(about 2x slower; default: the features' own precision, as "
                                        "torch-fidelity, ~1e-7 relative from exact; kernel sums are float64 "
                                        "either way).")] = False,
    preset: PresetOption = None,
    seed: Seed = DEFAULT_SEED,
    per_class: PerClass = False,
    force: Force = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with k(x,y) = (x·y/d + 1)³.

    Mean and std over --subsets subsets of --subset-size rows, drawn as
    torch-fidelity draws them (same seed, same subsets, same numbers).

    Example: gentools kid gen.h5 ref.h5 --subsets 100 --subset-size 1000
    """
    from gentools.api.metrics import kid as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("kid", json_, append, tag)
    gen, ref = sources(inputs, no_stdin, "kid", 2)
    reporter.report(run(gen, ref, subsets=subsets, subset_size=subset_size, exact=exact, preset=preset, seed=seed,
                        force=force, per_class=per_class, progress=_console.progress))
