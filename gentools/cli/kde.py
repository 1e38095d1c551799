"""gentools kde: Parzen-window log-likelihood (Goodfellow et al. 2014 protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Append, Force, Json, NoStdin, Quiet, Tag


def kde(
    samples: Annotated[str, typer.Argument(metavar="SAMPLES", help="Generated samples' features (the KDE's centres).")],
    valid: Annotated[str, typer.Option("--valid", help="Validation set: chooses sigma.")],
    test: Annotated[str, typer.Option("--test", help="Test set: scored with the chosen sigma.")],
    sigmas: Annotated[Optional[List[float]], typer.Option(
        "--sigma", help="Candidate sigma (repeatable). Default: 20 values log-spaced over [0.05, 2] x the "
                        "median nearest-neighbour distance of SAMPLES.", show_default=False)] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="PNG of validation log-likelihood against sigma.",
                                                 show_default=False)] = None,
    force: Force = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Parzen-window (Gaussian KDE) log-likelihood of TEST under SAMPLES, sigma chosen on VALID.

    log p(x) = logsumexp_i(-|x - s_i|²/(2σ²)) - log n - (d/2) log(2πσ²), equal to
    sklearn's KernelDensity. Chunked: 10k samples x 10k test x 784 dims runs in
    bounded memory. Warning: unreliable in high dimensions (Theis et al. 2016) —
    use it on pixels or small features, and to compare models, not absolutely.

    Example: gentools kde gen_pixels.h5 --valid valid.h5 --test test.h5 --plot sigma.png
    """
    from gentools.api.methods import kde as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("kde", json_, append, tag)
    items = sources([samples, valid, test], no_stdin)
    reporter.report(run(*items, sigmas=sigmas, plot=str(plot) if plot is not None else None, force=force))
