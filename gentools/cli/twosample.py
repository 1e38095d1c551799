"""gentools twosample: MMD, energy and classifier two-sample tests."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Force, Json, NoStdin, Quiet, Seed, Tag

def twosample(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN REF", help="Generated features first, reference second.")],
    test: Annotated[str, typer.Option("--test", help="Comma-separated: mmd, energy, c2st.")] = "mmd,energy,c2st",
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="Significance level for 'reject'.")] = 0.05,
    permutations: Annotated[int, typer.Option("--permutations", min=1, help="Relabellings per permutation "
                                              "test (p resolution 1/(B+1)).")] = 1000,
    max_samples: Annotated[int, typer.Option(
        "--max-samples", min=2, help="Seeded subsample of each set. Cost: an (2M)^2 float64 matrix "
                                     "(M=2000: 128 MB) and 2·B·(2M)^2 flops per permutation test.")] = 2000,
    bandwidth: Annotated[Optional[float], typer.Option(
        "--bandwidth", min=0.0, help="MMD Gaussian kernel sigma (default: median pairwise distance).",
        show_default=False)] = None,
    classifier: Annotated[str, typer.Option("--classifier", help="C2ST classifier: logistic, knn or mlp.")] = "logistic",
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.05, max=0.95,
                                                 help="C2ST held-out fraction.")] = 0.5,
    seed: Seed = DEFAULT_SEED,
    force: Force = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Two-sample tests: do GEN and REF come from one distribution? (statistic, p-value, reject)

    mmd: unbiased MMD² with a Gaussian kernel (Gretton et al. 2012); energy:
    energy distance (Székely & Rizzo); c2st: held-out accuracy of a classifier
    (Lopez-Paz & Oquab 2017) with a binomial p-value. Permutation p-values are
    (1 + #{T_perm >= T}) / (1 + B).

    Example: gentools twosample gen.h5 ref.h5 --test mmd,c2st
    """
    from gentools.api.methods import twosample as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("twosample", json_, append, tag)
    tests = [t.strip() for t in test.split(",") if t.strip()]
    gen, ref = sources(inputs, no_stdin, "twosample", 2)
    reporter.report(run(gen, ref, tests=tests, alpha=alpha, permutations=permutations, max_samples=max_samples,
                        bandwidth=bandwidth, classifier=classifier, test_fraction=test_fraction, seed=seed,
                        force=force, progress=_console.progress))
