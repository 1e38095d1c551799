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
                                                    "and clean-fid read (= --format pytorch-fid).")] = False,
    format_: Annotated[str, typer.Option(
        "--format", metavar="FORMAT", help="gentools (HDF5), or another tool's file: pytorch-fid (npz), clean-fid "
                                           "(compressed npz), adm (npz with mu_s/sigma_s: needs --spatial "
                                           "features), edm2 (.pkl: fid or fd_dinov2 by backbone), fadtk (npz with "
                                           "MODEL.mu/MODEL.cov, e.g. vggish.mu).")] = "gentools",
    force: Force = False,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Mean and covariance (float64, ddof=1) of features, streamed in one pass.

    Computing stats once lets `fid` skip the features; --merge pools stats of
    shards exactly, and --format writes the file another tool reads (a
    reference converts: gentools stats ref:NAME --format pytorch-fid -o ref.npz).

    Example: gentools stats ref.h5 -o ref_stats.h5
    """
    from gentools.api.stats import stats as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import write_file_output
    from gentools.errors import UsageError
    from gentools.store.write import STATS_FORMATS

    _console.set_quiet(quiet)
    if format_ not in STATS_FORMATS:
        raise UsageError(f"--format {format_}: expected one of {', '.join(STATS_FORMATS)}")
    if npz and format_ not in ("gentools", "pytorch-fid"):
        raise UsageError(f"--npz is --format pytorch-fid; it cannot go with --format {format_}")
    chosen = "pytorch-fid" if npz else format_
    result = run(sources(inputs, no_stdin), merge=merge, force=force)
    suffix = {"gentools": ".h5", "edm2": ".pkl"}.get(chosen, ".npz")
    write_file_output(output, lambda path: result.save(path, format=chosen), suffix)
