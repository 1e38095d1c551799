"""``gentools.stats`` and ``gentools.merge``: sets of features turned into one stats or one features object."""

from __future__ import annotations

from typing import Sequence, Union

from gentools.errors import InputError, UsageError
from gentools.inputs import InputLike, check_compatible, load, require_features
from gentools import memory
from gentools.metrics.feature_stats import FeatureStats
from gentools.store import FeatureFile, Stats


def stats(inputs: Union[InputLike, Sequence[InputLike]], *, merge: bool = False, force: bool = False) -> Stats:
    """Mean and covariance (float64, ddof=1) of features, streamed in one pass; several features inputs
    are pooled as one set, and with ``merge`` stats are pooled exactly from their n, mu and sigma.
    One stats input comes back as it is (a format conversion). ``.save(path, npz=False)`` writes it."""
    items = [load(i) for i in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    check_compatible(items, force)
    stats_inputs = [it for it in items if it.kind == "stats"]
    if stats_inputs and len(items) > 1 and not merge:
        raise UsageError("several inputs include stats files; add --merge to pool them exactly")
    if len(items) == 1 and stats_inputs:
        return stats_inputs[0]
    memory.require_covariance(items[0].dim, items[0].label)
    main, spatial = FeatureStats(dim=items[0].dim), None
    with_spatial = all(_has_spatial(it) for it in items)
    for item in items:
        main.merge(_accumulator(item, "features"))
        if with_spatial:
            part = _accumulator(item, "spatial")
            spatial = part if spatial is None else spatial.merge(part)
    if main.n < 2:
        raise InputError("need at least 2 rows for a covariance", hint=", ".join(i.label for i in items))
    return _to_stats(main, items[0].provenance, spatial)


def _has_spatial(item) -> bool:
    return item.has("spatial") if item.kind == "features" else item.spatial is not None


def _accumulator(item, name: str) -> FeatureStats:
    if item.kind == "features":
        return item.accumulate(name)
    stats_ = item if name == "features" else item.spatial
    if stats_.n is None:
        raise InputError(f"stats have no sample count n, so they cannot be merged exactly ({item.label})")
    return FeatureStats.from_mean_cov(stats_.n, stats_.mu, stats_.sigma)


def _to_stats(acc: FeatureStats, provenance: dict, spatial_acc: FeatureStats | None = None) -> Stats:
    mu, sigma = acc.mean_cov()
    spatial = None
    if spatial_acc is not None:
        s_mu, s_sigma = spatial_acc.mean_cov()
        spatial = Stats(s_mu, s_sigma, spatial_acc.n, "")
    keep = {k: v for k, v in provenance.items() if k not in ("count", "shard", "complete", "n")}
    return Stats(mu, sigma, acc.n, "", spatial, keep)


def merge(shards: Sequence[InputLike]) -> FeatureFile:
    """Feature files of one extraction split with ``--shard i/n``, interleaved back into the original row
    order (or plain parts, concatenated in order). ``.save(path)`` writes the result."""
    from gentools.shards import merge_feature_files

    files = require_features([load(s) for s in shards], "merge")
    arrays, provenance = merge_feature_files(files)
    return FeatureFile("<merged>", arrays, provenance)
