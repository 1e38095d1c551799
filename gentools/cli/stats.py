"""gentools stats: mean and covariance of feature sets, or exact merge of stats."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Force, NoStdin, Output, Quiet


def stats(
    inputs: Annotated[List[str], typer.Argument(metavar="INPUT...", help="Features files (pooled as one set), "
                                                "or stats files with --merge; '-' is stdin.")],
    output: Output = None,
    merge: Annotated[bool, typer.Option("--merge", help="Combine stats files (and features) exactly: "
                                                        "pooled mean and covariance from n, mu, sigma.")] = False,
    npz: Annotated[bool, typer.Option("--npz", help="Write npz with mu/sigma (mu_s/sigma_s), as pytorch-fid "
                                                    "and clean-fid read, instead of gentools HDF5.")] = False,
    force: Force = False,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Mean and covariance (float64, ddof=1) of features, streamed in one pass.

    Computing stats once lets `fid` skip the features; --merge pools stats of
    shards exactly, and --npz writes files pytorch-fid / clean-fid read.

    Example: gentools stats ref.h5 -o ref_stats.h5
    """
    from gentools import store
    from gentools.cli._inputs import check_compatible, open_inputs
    from gentools.cli.output import write_file_output
    from gentools.errors import InputError, UsageError
    from gentools.stats import FeatureStats

    _console.set_quiet(quiet)
    items = open_inputs(inputs, no_stdin)
    check_compatible(items, force)
    stats_inputs = [it for it in items if not hasattr(it, "dim")]
    if stats_inputs and len(items) > 1 and not merge:
        raise UsageError("several inputs include stats files; add --merge to pool them exactly")
    if len(items) == 1 and stats_inputs:
        result = stats_inputs[0]  # format conversion (npz <-> gentools HDF5)
    else:
        main, spatial = FeatureStats(dim=_dim(items[0])), None
        with_spatial = all(_has_spatial(it) for it in items)
        for item in items:
            main.merge(_accumulator(item, "features"))
            if with_spatial:
                part = _accumulator(item, "spatial")
                spatial = part if spatial is None else spatial.merge(part)
        if main.n < 2:
            raise InputError("need at least 2 rows for a covariance", hint=", ".join(i.label for i in items))
        result = _to_stats(main, items[0].provenance, spatial)
    writer = store.write_stats_npz if npz else store.write_stats
    write_file_output(output, lambda path: writer(path, result), ".npz" if npz else ".h5")


def _dim(item) -> int:
    return item.dim if hasattr(item, "dim") else len(item.mu)


def _has_spatial(item) -> bool:
    return item.has("spatial") if hasattr(item, "dim") else item.spatial is not None


def _accumulator(item, name: str):
    from gentools.errors import InputError
    from gentools.stats import FeatureStats, stats_of_file

    if hasattr(item, "dim"):
        return stats_of_file(item, name)
    stats = item if name == "features" else item.spatial
    if stats.n is None:
        raise InputError(f"stats have no sample count n, so they cannot be merged exactly ({item.label})")
    return FeatureStats.from_mean_cov(stats.n, stats.mu, stats.sigma)


def _to_stats(acc, provenance: dict, spatial_acc=None):
    from gentools.store import Stats

    mu, sigma = acc.mean_cov()
    spatial = None
    if spatial_acc is not None:
        s_mu, s_sigma = spatial_acc.mean_cov()
        spatial = Stats(s_mu, s_sigma, spatial_acc.n, "")
    keep = {k: v for k, v in provenance.items() if k not in ("count", "shard", "complete", "n")}
    return Stats(mu, sigma, acc.n, "", spatial, keep)
