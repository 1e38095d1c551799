"""gentools prdc: precision, recall, density, coverage."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import PerClass, Append, Force, Json, NoStdin, PresetOption, Quiet, Tag


def prdc(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN REF",
                                                help="Generated features first, reference (real) second.")],
    k: Annotated[Optional[int], typer.Option("--k", min=1, help="Neighbour rank of the radii (--k 3: Kynkäänniemi "
                                                                "et al. / torch-fidelity P&R) [default: 5].",
                                             show_default=False)] = None,
    preset: PresetOption = None,
    chunk_mb: Annotated[int, typer.Option("--chunk-mb", min=1, help="Memory per distance chunk, MiB.")] = 128,
    per_class: PerClass = False,
    force: Force = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Precision, recall, density, coverage (Naeem et al. 2020) and the P/R f_score.

    k-NN radii in feature space; chunked, so 50k x 50k x 2048 runs in a few GB.
    Equal to prdc.compute_prdc(real_features=REF, fake_features=GEN, nearest_k=k).

    Example: gentools prdc gen.h5 ref.h5 --k 5
    """
    from gentools.api.metrics import prdc as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("prdc", json_, append, tag)
    gen, ref = sources(inputs, no_stdin, "prdc", 2)
    reporter.report(run(gen, ref, k=k, preset=preset, chunk_mb=chunk_mb, force=force, per_class=per_class,
                        progress=_console.progress))
