"""gentools nn-grid: nearest training neighbours of generated samples, and memorisation statistics."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Force, Json, NoStdin, Quiet, Seed, Tag
from gentools.errors import UsageError


def nn_grid(
    inputs: Annotated[List[str], typer.Argument(metavar="GEN TRAIN", help="Generated features, training features.")],
    output: Annotated[Optional[Path], typer.Option(
        "-o", "--output", help="PNG grid: one row per query, then its k nearest training images with distances.",
        show_default=False)] = None,
    test: Annotated[Optional[str], typer.Option("--test", help="Held-out real features: enables nn_ratio_median, "
                                                               "copies and ct_z.", show_default=False)] = None,
    table: Annotated[Optional[Path], typer.Option("--table", help="TSV of query_id, rank, train_id, distance.",
                                                  show_default=False)] = None,
    queries: Annotated[int, typer.Option("--queries", min=1, help="Generated samples shown (seeded choice).")] = 8,
    query_ids: Annotated[Optional[List[str]], typer.Option("--query-id", help="Show this generated id (repeatable).",
                                                           show_default=False)] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="Neighbours per query.")] = 5,
    metric: Annotated[str, typer.Option("--metric", help="euclidean or cosine.")] = "euclidean",
    cells: Annotated[int, typer.Option("--cells", min=1, help="k-means cells for ct_z (Meehan et al. 2020).")] = 10,
    tile: Annotated[int, typer.Option("--tile", min=8, help="Height of each image in the PNG, pixels "
                                                           "(small images are enlarged, nearest-neighbour).")] = 64,
    images_root: Annotated[Optional[Path], typer.Option(
        "--images-root", help="Folder to re-read images from through the ids (default: the input root recorded "
                              "at extraction); only regular files under it are opened.", show_default=False)] = None,
    seed: Seed = DEFAULT_SEED,
    force: Force = False,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Nearest training neighbours of generated samples: a PNG grid, a table, and memorisation statistics.

    Prints authenticity (Alaa et al. 2022), and with --test: nn_ratio_median,
    copies and ct_z (Meehan et al. 2020; strongly negative = data-copying),
    then the paths written (grid, table). Images come from the files'
    thumbnails (extract --thumbnails) or are re-read through their ids.

    Example: gentools nn-grid gen.h5 train.h5 --test test.h5 -o grid.png --table nn.tsv
    """
    from gentools.api.methods import nn_grid as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("nn-grid", json_, append, tag)
    if len(inputs) != 2:
        raise UsageError(f"nn-grid takes two inputs (GEN TRAIN), got {len(inputs)}")
    items = sources(inputs + ([test] if test else []), no_stdin)
    reporter.report(run(items[0], items[1], test=items[2] if test else None, output=_str(output), table=_str(table),
                        queries=queries, query_ids=query_ids, k=k, metric=metric, cells=cells, tile=tile, seed=seed,
                        force=force, images_root=_str(images_root)))


def _str(path) -> Optional[str]:
    return None if path is None else str(path)
