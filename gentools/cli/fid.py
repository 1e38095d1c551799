"""gentools fid: Fréchet distance between two feature sets or their statistics."""

from __future__ import annotations

from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Force, Json, NoStdin, PresetOption, Quiet, Seed, Tag


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
    from gentools.cli._inputs import check_compatible, describe, open_inputs
    from gentools.cli.output import Reporter
    from gentools.errors import UsageError
    from gentools.metrics import frechet

    _console.set_quiet(quiet)
    reporter = Reporter("fid", json_, append, tag)
    if len(inputs) != 2:
        raise UsageError(f"fid takes two inputs (GEN REF), got {len(inputs)}")
    from gentools import presets

    ddof = presets.get(preset).fid_ddof
    gen, ref = _pick_entries(*open_inputs(inputs, no_stdin, allow_sets=True))
    check_compatible([_part(gen, spatial), _part(ref, spatial)], force)
    (mu1, s1), (mu2, s2) = _moments(gen, spatial, ddof), _moments(ref, spatial, ddof)
    values = {"sfid" if spatial else frechet.FID: frechet.frechet_distance(mu1, s1, mu2, s2)}
    name = "spatial" if spatial else "features"
    if infinity:
        if not hasattr(gen, "dim"):
            raise UsageError("--infinity needs GEN as features, not stats", hint=gen.label)
        with _console.progress("FID∞", 15) as tick:
            values[frechet.FID_INFINITY] = frechet.fid_infinity(gen.array(name), mu2, s2, seed, progress=tick)
    if bootstrap:
        if not (hasattr(gen, "dim") and hasattr(ref, "dim")):
            raise UsageError("--bootstrap needs features on both sides, not stats")
        with _console.progress("bootstrap", bootstrap) as tick:
            values.update(frechet.fid_bootstrap(gen.array(name), ref.array(name), bootstrap, seed, progress=tick))
    if mifid:
        from gentools.cli._inputs import require_features
        from gentools.metrics import beyond

        (train,) = require_features(open_inputs([mifid], True), "fid --mifid")
        if not hasattr(gen, "dim"):
            raise UsageError("--mifid needs GEN as features, not stats", hint=gen.label)
        check_compatible([gen, train], force)
        distance, penalty = beyond.memorisation_distance(gen.array(name), train.array(name))
        values["memorization_distance"] = distance
        values["mifid"] = beyond.mifid(values["sfid" if spatial else frechet.FID], penalty)
    params = {"spatial": spatial, "bootstrap": bootstrap, "infinity": infinity, "seed": seed, "mifid": mifid or "",
              "ddof": ddof, "preset": preset or ""}
    reporter.emit(values, [describe(gen), describe(ref)], params)


def _part(item, spatial: bool):
    """The features file itself, or the (spatial) Stats, for the compatibility check."""
    if not spatial:
        return item
    from gentools.errors import InputError

    if hasattr(item, "dim"):
        if not item.has("spatial"):
            raise InputError(f"has no 'spatial' features; extract with --spatial for sFID ({item.label})")
        return item
    if item.spatial is None:
        raise InputError(f"stats have no spatial_mu/spatial_sigma for sFID ({item.label})")
    item.spatial.provenance = item.provenance
    return item.spatial


def _pick_entries(gen, ref):
    """An EDM2 pickle on one side gives the entry that matches the other side's backbone."""
    from gentools.errors import InputError
    from gentools.store import StatsSet

    if isinstance(gen, StatsSet) and isinstance(ref, StatsSet):
        raise InputError(f"both inputs are EDM2 statistics pickles: one side must be features or stats with a "
                         f"backbone to pick the entry ({gen.label}, {ref.label})")
    if isinstance(gen, StatsSet):
        return gen.pick(ref.provenance), ref
    if isinstance(ref, StatsSet):
        return gen, ref.pick(gen.provenance)
    return gen, ref


def _moments(item, spatial: bool, ddof: int = 1):
    """``(mu, sigma)`` of a features file (streamed) or stats, sigma with ``ddof``; warns when singular."""
    from gentools.errors import InputError
    from gentools.stats import stats_of_file

    if hasattr(item, "dim"):
        acc = stats_of_file(item, "spatial" if spatial else "features")
        n, (mu, sigma) = acc.n, acc.mean_cov(ddof) if acc.n > 1 else _too_few(item)
    else:
        stats = item.spatial if spatial else item
        n, mu, sigma = stats.n, stats.mu, stats.sigma
        if ddof != 1:
            if not n:
                raise InputError(f"stats carry no sample count n, needed to convert the covariance to "
                                 f"ddof={ddof} ({item.label})")
            sigma = sigma * ((n - 1) / (n - ddof))
    if n is not None and n <= len(mu):
        _console.warn(f"covariance of {item.label} is singular (n={n} <= d={len(mu)}); FID is computed but "
                      "biased and unstable: use more samples than feature dimensions")
    return mu, sigma


def _too_few(item):
    from gentools.errors import InputError

    raise InputError(f"FID needs at least 2 rows to estimate a covariance ({item.label})")
