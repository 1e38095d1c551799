"""``gentools.fid``: Fréchet distance between two feature sets or their statistics."""

from __future__ import annotations

import warnings
from typing import Optional

from gentools import memory, presets
from gentools.api._common import Progress, Result, bar
from gentools.errors import GentoolsWarning, InputError, UsageError
from gentools.inputs import InputLike, check_compatible, describe, load, require_features
from gentools.metrics import frechet


def fid(gen: InputLike, ref: InputLike, *, spatial: bool = False, bootstrap: int = 0, infinity: bool = False,
        mifid: Optional[InputLike] = None, preset: Optional[str] = None, seed: Optional[int] = None,
        force: bool = False, per_class: bool = False, progress: Optional[Progress] = None) -> Result:
    """FID = |mu1 - mu2|² + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½) (Heusel et al. 2017).

    ``gen`` and ``ref`` are features or stats (paths, loaded objects, arrays
    ``[N, D]``); an EDM2 ``.pkl`` gives the entry matching the other side's
    backbone. ``spatial``: sFID on the ``spatial`` features. ``infinity``: also
    FID∞ (Chong & Forsyth 2020); ``bootstrap=B``: a 95% interval;
    ``mifid=TRAIN``: MiFID against training features. ``preset="stylegan"``
    uses StyleGAN's ddof=0 covariance. Equal to pytorch-fid's
    ``calculate_frechet_distance`` to 1e-6 relative.

    Returns ``{"fid": ...}`` (``"sfid"`` with ``spatial``) plus the optional values. ``per_class``: the FID
    of each class's rows (``fid.LABEL``) and their mean ``intra_fid`` (Miyato & Koyama 2018).
    """
    if per_class:
        from gentools.api.classes import by_class

        return by_class(fid, gen, ref, {"fid": "intra_fid", "sfid": "intra_sfid"}, spatial=spatial, preset=preset,
                        seed=seed, force=force)
    chosen = presets.get(preset)
    seed = chosen.seed if seed is None else seed
    gen, ref = _pick_entries(load(gen, allow_sets=True), load(ref, allow_sets=True))
    check_compatible([_part(gen, spatial), _part(ref, spatial)], force)
    dim = gen.shapes()["spatial"][1] if spatial and gen.kind == "features" else _part(gen, spatial).dim
    memory.require(8 * 8 * dim * dim, f"FID over {dim} dimensions (two {dim} x {dim} covariances and their "
                   f"square roots in float64)", gen.label)
    (mu1, s1), (mu2, s2) = _moments(gen, spatial, chosen.fid_ddof), _moments(ref, spatial, chosen.fid_ddof)
    key = "sfid" if spatial else frechet.FID
    values = {key: frechet.frechet_distance(mu1, s1, mu2, s2)}
    name = "spatial" if spatial else "features"
    if infinity:
        if gen.kind != "features":
            raise UsageError("--infinity needs GEN as features, not stats", hint=gen.label)
        with bar(progress, "FID∞", 15) as tick:
            values[frechet.FID_INFINITY] = frechet.fid_infinity(gen.array(name), mu2, s2, seed, progress=tick)
    if bootstrap:
        if gen.kind != "features" or ref.kind != "features":
            raise UsageError("--bootstrap needs features on both sides, not stats")
        with bar(progress, "bootstrap", bootstrap) as tick:
            values.update(frechet.fid_bootstrap(gen.array(name), ref.array(name), bootstrap, seed, progress=tick))
    if mifid is not None:
        values.update(_mifid(gen, load(mifid), name, values[key], force))
    params = {"spatial": spatial, "bootstrap": bootstrap, "infinity": infinity, "seed": seed,
              "mifid": mifid if isinstance(mifid, str) else ("<loaded>" if mifid is not None else ""),
              "ddof": chosen.fid_ddof, "preset": preset or ""}
    return Result(values, [describe(gen), describe(ref)], params)


def _mifid(gen, train, name: str, fid_value: float, force: bool) -> dict:
    from gentools.metrics import mifid as memorisation

    (train,) = require_features([train], "fid --mifid")
    if gen.kind != "features":
        raise UsageError("--mifid needs GEN as features, not stats", hint=gen.label)
    check_compatible([gen, train], force)
    distance, penalty = memorisation.memorisation_distance(gen.array(name), train.array(name))
    return {"memorization_distance": distance, "mifid": memorisation.mifid(fid_value, penalty)}


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
        n, (mu, sigma) = item.n, item.moments("spatial" if spatial else "features", ddof)
    else:
        stats = item.spatial if spatial else item
        n, (mu, sigma) = stats.n, stats.moments(ddof)
    if n is not None and n <= len(mu):
        warnings.warn(f"covariance of {item.label} is singular (n={n} <= d={len(mu)}); FID is computed but "
                      "biased and unstable: use more samples than feature dimensions", GentoolsWarning, stacklevel=3)
    return mu, sigma
