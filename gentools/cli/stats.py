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
    from gentools.api.stats import stats as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import write_file_output

    _console.set_quiet(quiet)
    result = run(sources(inputs, no_stdin), merge=merge, force=force)
    write_file_output(output, lambda path: result.save(path, npz=npz), ".npz" if npz else ".h5")
