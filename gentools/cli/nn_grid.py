"""gentools nn-grid: nearest training neighbours of generated samples, and memorisation statistics."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Force, Json, NoStdin, Quiet, Seed, Tag


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
    import numpy as np

    from gentools.cli._inputs import check_compatible, describe, open_inputs, require_features
    from gentools.cli.output import Reporter
    from gentools.errors import InputError, UsageError
    from gentools.metrics import neighbours

    _console.set_quiet(quiet)
    reporter = Reporter("nn-grid", json_, append, tag)
    if metric not in ("euclidean", "cosine"):
        raise UsageError(f"--metric {metric}: expected euclidean or cosine")
    if len(inputs) != 2:
        raise UsageError(f"nn-grid takes two inputs (GEN TRAIN), got {len(inputs)}")
    items = require_features(open_inputs(inputs + ([test] if test else []), no_stdin), "nn-grid")
    check_compatible(items, force)
    gen, train = items[0], items[1]
    if train.n < 2:
        raise InputError(f"need at least 2 training rows, have {train.n} ({train.label})")
    x, g = train.array(), gen.array()
    gen_ids = _ids(gen)
    if query_ids:
        missing = [q for q in query_ids if q not in gen_ids]
        if missing:
            raise InputError(f"--query-id {missing[0]} is not an id of {gen.label}")
        chosen = [gen_ids.index(q) for q in query_ids]
    else:
        chosen = sorted(np.random.RandomState(seed).choice(gen.n, min(queries, gen.n), replace=False).tolist())
    idx, dist = neighbours.nearest(g[chosen], x, k, metric)
    if test:
        values = neighbours.memorisation(g, x, items[2].array(), cells, seed, metric=metric)
    else:
        nearest_idx, nearest_d = neighbours.nearest(g, x, 1, metric)
        values = {"authenticity": neighbours.authenticity(nearest_idx[:, 0], nearest_d[:, 0], x, metric)}
    train_ids = _ids(train)
    if table is not None:
        lines = ["query_id\trank\ttrain_id\tdistance"] + [
            f"{gen_ids[q]}\t{r + 1}\t{train_ids[idx[i, r]]}\t{float(dist[i, r])!r}"
            for i, q in enumerate(chosen) for r in range(idx.shape[1])]
        _write_text(table, "\n".join(lines) + "\n")
        values["table"] = str(table)
    if output is not None:
        from gentools import render

        gen_images = _images(gen, chosen, gen_ids)
        train_images = _images(train, sorted({int(j) for j in idx.ravel()}), train_ids)
        rows = [[gen_images[q]] + [train_images[int(j)] for j in idx[i]] for i, q in enumerate(chosen)]
        labels = [["query"] + [f"{d:.3g}" for d in dist[i]] for i in range(len(chosen))]
        render.save_atomic(str(output), lambda path: render.image_grid(rows, labels, tile).save(path, format="PNG"))
        values["grid"] = str(output)
    reporter.emit(values, [describe(i) for i in items], {"queries": [gen_ids[q] for q in chosen], "k": k,
                                                          "metric": metric, "cells": cells, "seed": seed})


def _ids(item) -> list[str]:
    if not item.has("ids"):
        return [str(i) for i in range(item.n)]
    return [i.decode() if isinstance(i, bytes) else str(i) for i in item.raw("ids")]


def _images(item, rows: list[int], ids: list[str]) -> dict:
    """``{row: (h, w, 3) uint8}`` from the file's thumbnails, else re-read through the ids."""
    from gentools.errors import InputError
    from gentools.features.images import image_for_id

    if item.has("thumbnails"):
        thumbnails = item.raw("thumbnails")
        return {row: thumbnails[row] for row in rows}
    source = str(item.provenance.get("source", ""))
    out = {}
    for row in rows:
        try:
            out[row] = image_for_id(ids[row], source)
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot show row {row} '{ids[row]}' of {item.label}: {exc}",
                             hint="extract with --thumbnails SIZE to keep images inside the file") from None
    return out


def _write_text(path, text: str) -> None:
    from gentools import render

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)

    render.save_atomic(str(path), write)
