"""gentools fid: Fréchet distance between two feature sets or their statistics."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import PerClass, DEFAULT_SEED, Append, Force, Json, NoStdin, PresetOption, Quiet, Seed, Tag


def fid(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN REF", help="Generated set first, reference second: "
                                                "features (.h5/.npy/.npz) or stats (.h5/.npz, EDM2 .pkl); "
                                                "'-' is stdin.")],
    spatial: Annotated[bool, typer.Option("--spatial", help="sFID: use the 'spatial' features/stats.")] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", metavar="B", help="Bootstrap B resamples of both sets "
                                           "for a 95% interval (needs features, not stats; B FD evaluations).")] = 0,
    infinity: Annotated[bool, typer.Option("--infinity", help="Also report FID∞ (Chong & Forsyth 2020), "
                                           "extrapolated from 15 subset sizes of GEN (needs GEN features).")] = False,
    mifid: Annotated[Optional[str], typer.Option(
        "--mifid", metavar="TRAIN", help="Also report MiFID: FID divided by the memorisation penalty (mean min "
                                         "cosine distance of GEN rows to TRAIN features, if below 0.1; as "
                                         "torchmetrics).", show_default=False)] = None,
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
    """Fréchet Inception Distance: |mu1-mu2|² + tr(S1 + S2 - 2(S1 S2)^½).

    Either side may be a features file or a stats file (gentools, pytorch-fid,
    clean-fid, TTUR, guided-diffusion npz, EDM2 .pkl: its entry is picked by the
    other input's backbone). Matches pytorch-fid and torch-fidelity to 1e-6
    relative given the same features. --preset stylegan uses StyleGAN's ddof=0
    covariance (raw_cov/n - mu mu^T; stats convert through their stored n).

    Example: gentools fid gen.h5 ref.h5
    """
    from gentools.api.fid import fid as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("fid", json_, append, tag)
    gen, ref = sources(inputs, no_stdin, "fid", 2)
    train = sources([mifid], True)[0] if mifid else None
    reporter.report(run(gen, ref, spatial=spatial, bootstrap=bootstrap, infinity=infinity, mifid=train, preset=preset,
                        seed=seed, force=force, per_class=per_class, progress=_console.progress))
