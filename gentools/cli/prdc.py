"""gentools prdc: precision, recall, density, coverage."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Append, Force, Json, NoStdin, PresetOption, Quiet, Tag


def prdc(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN REF",
                                                help="Generated features first, reference (real) second.")],
    k: Annotated[Optional[int], typer.Option("--k", min=1, help="Neighbour rank of the radii (--k 3: Kynkäänniemi "
                                                                "et al. / torch-fidelity P&R) [default: 5].",
                                             show_default=False)] = None,
    preset: PresetOption = None,
    chunk_mb: Annotated[int, typer.Option("--chunk-mb", min=1, help="Memory per distance chunk, MiB.")] = 128,
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
    from gentools.cli._inputs import check_compatible, describe, open_inputs, require_features
    from gentools.cli.output import Reporter
    from gentools.errors import InputError, UsageError
    from gentools.metrics.prdc import prdc as prdc_metric

    from gentools import presets

    _console.set_quiet(quiet)
    reporter = Reporter("prdc", json_, append, tag)
    chosen = presets.get(preset)
    k = chosen.pr_k if k is None else k
    if len(inputs) != 2:
        raise UsageError(f"prdc takes two inputs (GEN REF), got {len(inputs)}")
    gen, ref = require_features(open_inputs(inputs, no_stdin), "prdc")
    _check_backbone(chosen.pr_backbone, preset, gen, ref)
    check_compatible([gen, ref], force)
    for item in (gen, ref):
        if item.n <= k:
            raise InputError(f"--k {k} needs more than {k} rows, have {item.n} ({item.label})")
    with _console.progress("PRDC", ref.n) as tick:
        values = prdc_metric(ref.array(), gen.array(), k, budget=chunk_mb << 17, progress=tick,
                             strict=chosen.pr_strict, float16=chosen.pr_float16)
    reporter.emit(values, [describe(gen), describe(ref)], {"k": k, "comparison": "<" if chosen.pr_strict else "<=",
                                                           "float16": chosen.pr_float16, "preset": preset or ""})


def _check_backbone(required: str, preset, *items) -> None:
    """A preset whose P&R is defined on one network (StyleGAN: NVIDIA's VGG16) refuses other features."""
    from gentools.errors import InputError

    for item in items:
        found = item.provenance.get("backbone", "")
        if required and found != required:
            detector = required.split(":", 1)[1]
            raise InputError(f"--preset {preset} computes P&R on {required} features, this file holds "
                             f"{found or 'features of unknown origin'} ({item.label})",
                             hint=f"gentools extract IMAGES --backbone nvidia:{detector}.pt -o F.h5")
