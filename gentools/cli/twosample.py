"""gentools twosample: MMD, energy and classifier two-sample tests."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Force, Json, NoStdin, Quiet, Seed, Tag

TESTS = ("mmd", "energy", "c2st")


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
    import numpy as np

    from gentools.cli._inputs import check_compatible, describe, open_inputs, require_features
    from gentools.cli.output import Reporter
    from gentools.errors import InputError, UsageError
    from gentools.metrics import twosample as tests

    _console.set_quiet(quiet)
    reporter = Reporter("twosample", json_, append, tag)
    chosen = [t.strip() for t in test.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in TESTS]
    if unknown or not chosen:
        raise UsageError(f"--test {test}: expected a comma-separated list of {', '.join(TESTS)}")
    if classifier not in ("logistic", "knn", "mlp"):
        raise UsageError(f"--classifier {classifier}: expected logistic, knn or mlp")
    if len(inputs) != 2:
        raise UsageError(f"twosample takes two inputs (GEN REF), got {len(inputs)}")
    gen, ref = require_features(open_inputs(inputs, no_stdin), "twosample")
    check_compatible([gen, ref], force)
    for item in (gen, ref):
        if item.n < 4:
            raise InputError(f"two-sample tests need at least 4 rows per set, have {item.n} ({item.label})")
    rng = np.random.RandomState(seed)
    x, y = (_subsample(a, max_samples, rng) for a in (gen.array(), ref.array()))
    values: dict = {}
    with _console.progress("permutations", permutations * sum(t != "c2st" for t in chosen)) as tick:
        for name in chosen:
            if name == "mmd":
                result = tests.mmd_test(x, y, permutations, seed, bandwidth, tick)
            elif name == "energy":
                result = tests.energy_test(x, y, permutations, seed, tick)
            else:
                result = tests.c2st(x, y, classifier, test_fraction, seed)
            values[f"{name}_statistic"] = result["statistic"]
            values[f"{name}_p_value"] = result["p_value"]
            values[f"{name}_reject"] = bool(result["p_value"] <= alpha)
            if name == "mmd":
                values["mmd_bandwidth"] = result["bandwidth"]
    params = {"tests": chosen, "alpha": alpha, "permutations": permutations, "max_samples": max_samples,
              "classifier": classifier, "seed": seed, "n_gen": len(x), "n_ref": len(y)}
    reporter.emit(values, [describe(gen), describe(ref)], params)


def _subsample(rows, size: int, rng):
    """A seeded subsample of ``size`` rows (kept in file order), or all rows."""
    import numpy as np

    return rows[np.sort(rng.choice(len(rows), size, replace=False))] if len(rows) > size else rows
