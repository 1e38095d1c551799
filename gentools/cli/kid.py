"""gentools kid: Kernel Inception Distance."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Force, Json, NoStdin, PresetOption, Quiet, Seed, Tag


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
    from gentools.cli._inputs import check_compatible, describe, open_inputs, require_features
    from gentools.cli.output import Reporter
    from gentools.errors import InputError, UsageError
    import numpy as np

    from gentools.metrics.kid import kid as kid_metric

    _console.set_quiet(quiet)
    reporter = Reporter("kid", json_, append, tag)
    if len(inputs) != 2:
        raise UsageError(f"kid takes two inputs (GEN REF), got {len(inputs)}")
    gen, ref = require_features(open_inputs(inputs, no_stdin), "kid")
    check_compatible([gen, ref], force)
    from gentools import presets

    parity = presets.get(preset)
    if parity and parity.kid_clamp:
        subset_size = min(subset_size, gen.n, ref.n)  # clean-fid / StyleGAN: min(n_gen, n_ref, size)
    if subset_size > min(gen.n, ref.n):
        raise InputError(f"--subset-size {subset_size} is larger than the inputs: {gen.n} rows ({gen.label}), "
                         f"{ref.n} rows ({ref.label})", hint=f"use --subset-size {min(gen.n, ref.n)} or less")
    x, y = gen.array(), ref.array()
    gemm = np.float64 if exact else np.result_type(x.dtype, y.dtype, np.float32)
    with _console.progress("KID subsets", subsets) as tick:
        values = kid_metric(x, y, subsets, subset_size, seed, gemm_dtype=gemm, progress=tick)
    params = {"subsets": subsets, "subset_size": subset_size, "seed": seed, "gemm": np.dtype(gemm).name,
              "preset": preset or ""}
    reporter.emit(values, [describe(gen), describe(ref)], params)
