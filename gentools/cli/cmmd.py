"""gentools cmmd: the CLIP-MMD distance (Jayasumana et al. 2024)."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Append, Force, Json, NoStdin, Quiet, Tag


def cmmd(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN REF", help="Generated features first, reference second "
                                                "(CLIP ViT-L/14@336 embeddings in the paper).")],
    sigma: Annotated[float, typer.Option("--sigma", min=0.0, help="Gaussian kernel bandwidth.")] = 10.0,
    scale: Annotated[float, typer.Option("--scale", help="Multiplier of the MMD².")] = 1000.0,
    unbiased: Annotated[bool, typer.Option("--unbiased", help="Drop the kernel diagonals (U-statistic); the "
                                           "paper's reference code keeps them.")] = False,
    normalise: Annotated[bool, typer.Option("--normalise/--no-normalise", help="L2-normalise rows first "
                                            "(CLIP embeddings are compared normalised).")] = True,
    force: Force = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """CMMD (Jayasumana et al. 2024): 1000 · MMD² with a Gaussian kernel, σ = 10, on normalised embeddings.

    Means over the full kernel matrices, diagonals included, as the authors'
    reference code (--unbiased drops them). Chunked: 30k x 30k in bounded memory.
    Any features work; the number is CMMD proper only on CLIP embeddings.

    Example: gentools cmmd gen_clip.h5 ref_clip.h5
    """
    from gentools.api.metrics import cmmd as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("cmmd", json_, append, tag)
    gen, ref = sources(inputs, no_stdin, "cmmd", 2)
    reporter.report(run(gen, ref, sigma=sigma, scale=scale, unbiased=unbiased, normalise=normalise, force=force))
