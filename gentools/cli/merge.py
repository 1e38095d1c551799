"""gentools merge: join feature shards into one file, rows in original order."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import NoStdin, Output, Quiet


def merge(
    inputs: Annotated[List[str], typer.Argument(metavar="SHARD...", help="Feature files of one extraction "
                                                "(--shard i/n), or parts to concatenate in order.")],
    output: Output = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Merge feature files: shards are interleaved back into the original row order.

    All shards must share source, backbone, weights, resize and split count,
    with none missing or repeated. Files without a shard attribute are concatenated.

    Example: gentools merge shard_0.h5 shard_1.h5 shard_2.h5 -o all.h5
    """
    from gentools.api.stats import merge as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import write_file_output

    _console.set_quiet(quiet)
    merged = run(sources(inputs, no_stdin))
    write_file_output(output, merged.save, ".h5")
