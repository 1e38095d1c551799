"""``gentools.twosample``: MMD, energy and classifier two-sample tests of GEN against REF."""

from __future__ import annotations

import numpy as np

from gentools import presets
from gentools.api._common import Result, bar
from gentools.api.registry import FORCE, GEN, SEED, Input, Option, register_metric
from gentools.errors import InputError, UsageError, option
from gentools.inputs import describe, open_pair

TESTS = ("mmd", "energy", "c2st")


@register_metric(
    "twosample", inputs=(GEN, Input("ref")), metavar="GEN REF", evaluator="rows", progress=True,
    renamed={"tests": "test"},
    summary="Two-sample tests: do GEN and REF come from one distribution? (statistic, p-value, reject)\n\n"
            "mmd: unbiased MMD² with a Gaussian kernel (Gretton et al. 2012); energy: energy distance (Székely & "
            "Rizzo); c2st: held-out accuracy of a classifier (Lopez-Paz & Oquab 2017) with a binomial p-value. "
            "Permutation p-values are (1 + #{T_perm >= T}) / (1 + B).\n\n"
            "Example: gentools twosample gen.h5 ref.h5 --test mmd,c2st",
    options=(Option("test", "mmd,energy,c2st", "Comma-separated: mmd, energy, c2st.", type=str),
             Option("alpha", 0.05, "Significance level for 'reject'.", min=0.0, max=1.0),
             Option("permutations", 1000, "Relabellings per permutation test (p resolution 1/(B+1)).", min=1),
             Option("max_samples", 2000, "Seeded subsample of each set. Cost: an (2M)^2 float64 matrix (M=2000: "
                    "128 MB) and 2·B·(2M)^2 flops per permutation test.", min=2),
             Option("bandwidth", None, "MMD Gaussian kernel sigma (default: median pairwise distance).",
                    type=float, min=0.0),
             Option("classifier", "logistic", "C2ST classifier: logistic, knn or mlp.",
                    choices=("logistic", "knn", "mlp")),
             Option("test_fraction", 0.5, "C2ST held-out fraction.", min=0.05, max=0.95),
             SEED, FORCE))
def twosample(gen, ref, *, test, alpha, permutations, max_samples, bandwidth, classifier, test_fraction, seed,
              force, progress) -> Result:
    """Two-sample tests of GEN against REF: ``mmd`` (unbiased MMD², Gaussian kernel, Gretton et al. 2012),
    ``energy`` (Székely & Rizzo), ``c2st`` (Lopez-Paz & Oquab 2017); ``test`` is a list of them or one
    comma-separated string. Permutation p-values are ``(1 + #{T_perm >= T}) / (1 + B)``. Returns
    ``TEST_statistic``, ``TEST_p_value``, ``TEST_reject``."""
    from gentools.metrics.twosample import c2st, energy_test, mmd_test

    seed = presets.DEFAULT.seed if seed is None else seed
    tests = [t.strip() for t in test.split(",") if t.strip()] if isinstance(test, str) else list(test)
    if [t for t in tests if t not in TESTS] or not tests:
        raise UsageError(f"{option('test', ','.join(map(str, tests)))}: expected a comma-separated list of "
                         f"{', '.join(TESTS)}")
    gen, ref = open_pair(gen, ref, "twosample", force)
    for item in (gen, ref):
        if item.n < 4:
            raise InputError(f"two-sample tests need at least 4 rows per set, have {item.n} ({item.label})")
    rng = np.random.RandomState(seed)
    x, y = (_subsample(a, max_samples, rng) for a in (gen.array(), ref.array()))
    run = {"mmd": lambda tick: mmd_test(x, y, permutations, seed, bandwidth, tick),
           "energy": lambda tick: energy_test(x, y, permutations, seed, tick),
           "c2st": lambda tick: c2st(x, y, classifier, test_fraction, seed)}
    values: dict = {}
    with bar(progress, "permutations", permutations * sum(t != "c2st" for t in tests)) as tick:
        for name in tests:
            result = run[name](tick)
            values[f"{name}_statistic"] = result["statistic"]
            values[f"{name}_p_value"] = result["p_value"]
            values[f"{name}_reject"] = bool(result["p_value"] <= alpha)
            if name == "mmd":
                values["mmd_bandwidth"] = result["bandwidth"]
    params = {"tests": tests, "alpha": alpha, "permutations": permutations, "max_samples": max_samples,
              "classifier": classifier, "seed": seed, "n_gen": len(x), "n_ref": len(y)}
    return Result(values, [describe(gen), describe(ref)], params)


def _subsample(rows, size: int, rng):
    """A seeded subsample of ``size`` rows (kept in file order), or all rows."""
    return rows[np.sort(rng.choice(len(rows), size, replace=False))] if len(rows) > size else rows


