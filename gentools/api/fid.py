"""``gentools.fid``: Fréchet distance between two feature sets or their statistics."""

from __future__ import annotations


from gentools import memory, presets
from gentools.api._common import Result, bar
from gentools.api.registry import FORCE, PRESET, SEED, Input, Option, register_metric
from gentools.errors import InputError, UsageError, option, warn
from gentools.inputs import check_compatible, check_preset, describe, load, require_features
from gentools.metrics import frechet
from gentools.store import id_runs


@register_metric(
    "fid", inputs=(Input("gen", rows=False), Input("ref", rows=False)), metavar="GEN REF",
    per_class_means={"fid": "intra_fid", "sfid": "intra_sfid"}, evaluator="stats", progress=True,
    summary="Fréchet Inception Distance: |mu1-mu2|² + tr(S1 + S2 - 2(S1 S2)^½).\n\n"
            "Either side may be a features file or a stats file (gentools, pytorch-fid, clean-fid, TTUR, "
            "guided-diffusion npz, EDM2 .pkl: its entry is picked by the other input's backbone). Matches "
            "pytorch-fid and torch-fidelity to 1e-6 relative given the same features. --preset stylegan uses "
            "StyleGAN's ddof=0 covariance (raw_cov/n - mu mu^T; stats convert through their stored n).\n\n"
            "Example: gentools fid gen.h5 ref.h5",
    options=(Option("spatial", False, "sFID: use the 'spatial' features/stats."),
             Option("bootstrap", 0, "Bootstrap B resamples of both sets for a 95% interval (needs features, not "
                    "stats; B FD evaluations).", metavar="B", per_class=False),
             Option("infinity", False, "Also report FID∞ (Chong & Forsyth 2020), extrapolated from 15 subset sizes "
                    "of GEN (needs GEN features; --preset fadtk: fadtk's FAD∞, 25 sizes from 500 frames drawn with "
                    "replacement).", per_class=False),
             Option("per_file", False, "Audio: also fid.ID of each generated file's frames against the whole "
                    "reference (fadtk's score_individual).", per_class=False),
             Option("mifid", None, "Also report MiFID: FID divided by the memorisation penalty (mean min cosine "
                    "distance of GEN rows to TRAIN features, if below 0.1; as torchmetrics).", type=str,
                    metavar="TRAIN", input=True, per_class=False),
             PRESET, SEED, FORCE))
def fid(gen, ref, *, spatial, bootstrap, infinity, per_file, mifid, preset, seed, force, progress) -> Result:
    """FID = |mu1 - mu2|² + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½) (Heusel et al. 2017).

    ``gen`` and ``ref`` are features or stats (paths, loaded objects, arrays
    ``[N, D]``, ``(mu, sigma)``); an EDM2 ``.pkl`` gives the entry matching the
    other side's backbone. ``spatial``: sFID on the ``spatial`` features.
    ``infinity``: also FID∞ (Chong & Forsyth 2020); ``bootstrap=B``: a 95%
    interval; ``mifid=TRAIN``: MiFID against training features.
    ``preset="stylegan"`` uses StyleGAN's ddof=0 covariance. On audio frames this is FAD;
    ``preset="fadtk"`` computes it as fadtk does (per-file float16 statistics, the eig route: see
    :mod:`gentools.api.audio`), ``infinity`` is then fadtk's FAD∞; ``per_file``: ``fid.ID`` per generated file. On
    video clips this is FVD; ``preset="stylegan-v"`` (and ``fvd2048_*``), ``"tats"`` and ``"cdfvd"`` compute it as
    those evaluators do (:mod:`gentools.metrics.video`; StyleGAN-V's over the first 2048 clips). Equal to
    pytorch-fid's ``calculate_frechet_distance`` to 1e-6 relative. A side
    with fewer rows than dimensions takes the O(n²d) route
    (:func:`gentools.metrics.frechet.frechet_distance_low_rank`).

    Returns ``{"fid": ...}`` (``"sfid"`` with ``spatial``) plus the optional values. ``per_class``: the FID
    of each class's rows (``fid.LABEL``) and their mean ``intra_fid`` (Miyato & Koyama 2018); it does not
    combine with ``bootstrap``, ``infinity`` or ``mifid``.
    """
    chosen = presets.get(preset)
    seed = chosen.seed if seed is None else seed
    gen, ref = _pick_entries(load(gen, allow_sets=True), load(ref, allow_sets=True))
    check_compatible([_part(gen, spatial), _part(ref, spatial)], force)
    check_preset(preset, [gen, ref], force)
    dim = gen.shapes()["spatial"][1] if spatial and gen.kind == "features" else _part(gen, spatial).dim
    name = "spatial" if spatial else "features"
    key = "sfid" if spatial else frechet.FID
    if per_file and (spatial or gen.kind != "features"):
        raise UsageError(f"{option('per_file', True)} needs GEN as features (an audio file's frames share its id)")
    if per_file and all(stop - start < 2 for start, stop in id_runs(gen.ids or range(gen.n))):
        raise InputError(f"{option('per_file', True)} needs files of several rows (an audio file's frames share "
                         f"its id); every row here has an id of its own, one row per file ({gen.label})")
    if chosen.frechet_route == "fadtk":
        from gentools.api import audio

        if spatial or bootstrap or mifid is not None:
            raise UsageError("--preset fadtk computes FAD alone: --spatial, --bootstrap and --mifid do not apply")
        values = audio.fadtk_fid(gen, ref, infinity and gen.kind == "features", seed, progress)
    elif chosen.frechet_route in ("sqrtm", "svd"):
        if spatial:
            raise UsageError(f"--preset {preset} is a video FVD: --spatial does not apply")
        values = {key: _fvd(gen, ref, chosen, preset)}
    else:
        values = {key: _distance(gen, ref, name, chosen.fid_ddof, dim)}
    if per_file:
        from gentools.api import audio

        fadtk = chosen.frechet_route == "fadtk"
        values.update(audio.per_file_fid(gen, *(audio.fadtk_moments(ref) if fadtk else
                                                _moments(ref, False, chosen.fid_ddof)), fadtk))
    if infinity and (gen.kind != "features" or chosen.frechet_route != "fadtk"):
        if gen.kind != "features":
            raise UsageError(f"{option('infinity', True)} needs GEN as features, not stats", hint=gen.label)
        mu2, s2 = _moments(ref, spatial, chosen.fid_ddof)
        with bar(progress, "FID∞", 15) as tick:
            values[frechet.FID_INFINITY] = frechet.fid_infinity(gen.array(name), mu2, s2, seed, progress=tick)
    if bootstrap:
        if gen.kind != "features" or ref.kind != "features":
            raise UsageError(f"{option('bootstrap', bootstrap)} needs features on both sides, not stats")
        with bar(progress, "bootstrap", bootstrap) as tick:
            values.update(frechet.fid_bootstrap(gen.array(name), ref.array(name), bootstrap, seed, progress=tick))
    if mifid is not None:
        values.update(_mifid(gen, load(mifid), name, values[key], force))
    params = {"spatial": spatial, "bootstrap": bootstrap, "infinity": infinity, "per_file": per_file, "seed": seed,
              "mifid": mifid if isinstance(mifid, str) else ("<loaded>" if mifid is not None else ""),
              "ddof": chosen.fid_ddof, "preset": preset or ""}
    return Result(values, [describe(gen), describe(ref)], params)


def _distance(gen, ref, name: str, ddof: int, dim: int) -> float:
    """FD of the two sides: through the n x n product when a features side has fewer rows than dimensions
    (and ddof=1), else through both d x d covariances."""
    low = [item for item in (gen, ref) if item.kind == "features" and item.n <= dim]
    if low and ddof == 1:
        for item in (gen, ref):
            if item.kind == "features" and item.n < 2:
                raise InputError(f"FID needs at least 2 rows to estimate a covariance ({item.label})")
        rows = min(low, key=lambda item: item.n)
        other = ref if rows is gen else gen
        _singular_warning(rows, rows.n, dim)
        if other in low:  # both sides: the n x m product of the centred rows
            _singular_warning(other, other.n, dim)
            memory.require(8 * (2 * (gen.n + ref.n) * dim + 2 * gen.n * ref.n), f"FID over {dim} dimensions "
                           f"with {gen.n} and {ref.n} rows", gen.label)
            return frechet.frechet_distance_low_rank(rows.array(name), None, y=other.array(name))
        memory.require(8 * (3 * rows.n * dim + 2 * rows.n * rows.n + 2 * dim * dim), f"FID over {dim} "
                       f"dimensions with {rows.n} rows", rows.label)
        mu_o, s_o = _moments(other, name == "spatial", ddof)
        return frechet.frechet_distance_low_rank(rows.array(name), mu_o, s_o)
    memory.require(8 * 8 * dim * dim, f"FID over {dim} dimensions (two {dim} x {dim} covariances and their "
                   f"square roots in float64)", gen.label)
    (mu1, s1), (mu2, s2) = _moments(gen, name == "spatial", ddof), _moments(ref, name == "spatial", ddof)
    return frechet.frechet_distance(mu1, s1, mu2, s2)


def _fvd(gen, ref, chosen, preset: str) -> float:
    """FVD as StyleGAN-V (``sqrtm``, gen first) or TATS (``svd``, real first) computes it, over the first
    ``fid_max_rows`` clips of each features side (StyleGAN-V's ``max_items``)."""
    from gentools.metrics import video

    (mu_g, s_g), (mu_r, s_r) = (_first_rows_moments(item, chosen, preset) for item in (gen, ref))
    if chosen.frechet_route == "sqrtm":
        return video.sqrtm_route(mu_g, s_g, mu_r, s_r)
    return video.svd_route(mu_r, s_r, mu_g, s_g)


def _first_rows_moments(item, chosen, preset: str):
    """``(mu, sigma)`` with the preset's ddof, of the first ``fid_max_rows`` rows of features (warning when there
    are fewer), or of stats as they are."""
    limit = chosen.fid_max_rows
    if item.kind != "features" or not limit:
        return _moments(item, False, chosen.fid_ddof)
    if item.n < limit:
        warn(f"{item.label} has {item.n} clips; --preset {preset} takes the first {limit} (as StyleGAN-V "
             f"takes min(N, {limit})): the FVD is over {item.n}")
        return _moments(item, False, chosen.fid_ddof)
    from gentools.metrics.feature_stats import FeatureStats

    rows = item.array()[:limit]
    acc = FeatureStats(dim=rows.shape[1])
    acc.append(rows)
    _singular_warning(item, limit, rows.shape[1])
    return acc.mean_cov(chosen.fid_ddof)


def _mifid(gen, train, name: str, fid_value: float, force: bool) -> dict:
    from gentools.metrics import mifid

    (train,) = require_features([train], f"fid {option('mifid')}")
    if gen.kind != "features":
        raise UsageError(f"{option('mifid')} needs GEN as features, not stats", hint=gen.label)
    check_compatible([gen, train], force)
    distance, penalty = mifid.memorisation_distance(gen.array(name), train.array(name))
    return {"memorization_distance": distance, "mifid": mifid.mifid(fid_value, penalty)}


def _pick_entries(gen, ref):
    """An EDM2 pickle on one side gives the entry that matches the other side's backbone."""
    if gen.kind == "stats-set" and ref.kind == "stats-set":
        raise InputError(f"both inputs are EDM2 statistics pickles: one side must be features or stats with a "
                         f"backbone to pick the entry ({gen.label}, {ref.label})")
    if gen.kind == "stats-set":
        return gen.pick(ref.provenance), ref
    if ref.kind == "stats-set":
        return gen, ref.pick(gen.provenance)
    return gen, ref


def _part(item, spatial: bool):
    """The features file itself, or the (spatial) Stats, for the compatibility check."""
    if not spatial:
        return item
    if item.kind == "features":
        if not item.has("spatial"):
            raise InputError(f"has no 'spatial' features; extract with --spatial for sFID ({item.label})")
        return item
    if item.spatial is None:
        raise InputError(f"stats have no spatial_mu/spatial_sigma for sFID ({item.label})")
    item.spatial.provenance = item.provenance
    return item.spatial


def _moments(item, spatial: bool, ddof: int):
    """``(mu, sigma)`` of features (streamed) or stats, sigma with ``ddof``; warns when singular."""
    if item.kind == "features":
        if item.n < 2:
            raise InputError(f"FID needs at least 2 rows to estimate a covariance ({item.label})")
        n, (mu, sigma) = item.n, item.moments("spatial" if spatial else "features", ddof=ddof)
    else:
        stats = item.spatial if spatial else item
        n, (mu, sigma) = stats.n, stats.moments(ddof=ddof)
    _singular_warning(item, n, len(mu))
    return mu, sigma


def _singular_warning(item, n, dim: int) -> None:
    if n is not None and n <= dim:
        warn(f"covariance of {item.label} is singular (n={n} <= d={dim}); FID is computed but "
             "biased and unstable: use more samples than feature dimensions")
