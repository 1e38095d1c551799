"""``gentools.nn_grid``: nearest training neighbours of generated samples, and memorisation statistics."""

from __future__ import annotations

from typing import Optional

import numpy as np

from gentools import presets
from gentools.api._common import Result
from gentools.api.registry import FORCE, SEED, Input, Option, register_metric
from gentools.errors import InputError, option, warn
from gentools.inputs import check_compatible, describe, load, require_features
from gentools.text import escape


@register_metric(
    "nn-grid", inputs=(Input("gen", "Generated features"), Input("train", "Training features"),
                       Input("test", "Held-out real features: enables nn_ratio_median, copies and ct_z.",
                             flag="--test", optional=True)),
    metavar="GEN TRAIN", renamed={"query_ids": "query_id"},
    summary="Nearest training neighbours of generated samples: a PNG grid, a table, and memorisation "
            "statistics.\n\nPrints authenticity (Alaa et al. 2022), and with --test: nn_ratio_median, copies "
            "and ct_z (Meehan et al. 2020; strongly negative = data-copying), then the paths written (grid, "
            "table). Images come from the files' thumbnails (extract --thumbnails) or are re-read through their "
            "ids; for text features the table also holds each query's and neighbour's text, read again from the "
            "files extracted.\n\nExample: gentools nn-grid gen.h5 train.h5 --test test.h5 -o grid.png --table nn.tsv",
    options=(Option("output", None, "PNG grid: one row per query, then its k nearest training images with "
                    "distances.", type=str, flags=("-o", "--output"), metavar="PATH"),
             Option("table", None, "TSV of query_id, rank, train_id, distance (text features: and query_text, "
                    "train_text).", type=str, metavar="PATH"),
             Option("queries", 8, "Generated samples shown (seeded choice).", min=1),
             Option("query_id", None, "Show this generated id (repeatable).", type=list, item=str),
             Option("k", 5, "Neighbours per query.", min=1),
             Option("metric", "euclidean", "euclidean or cosine.", choices=("euclidean", "cosine")),
             Option("cells", 10, "k-means cells for ct_z (Meehan et al. 2020).", min=1),
             Option("tile", 64, "Height of each image in the PNG, pixels (small images are enlarged, "
                    "nearest-neighbour).", min=8),
             Option("images_root", None, "Folder to re-read images from through the ids (default: the input "
                    "root recorded at extraction); only regular files under it are opened.", type=str,
                    metavar="PATH"),
             SEED, FORCE))
def nn_grid(gen, train, test=None, *, output, table, queries, query_id, k, metric, cells, tile, images_root, seed,
            force) -> Result:
    """Nearest training neighbours of generated samples and memorisation statistics: ``authenticity``
    (Alaa et al. 2022), and with ``test`` also ``nn_ratio_median``, ``copies`` and ``ct_z`` (Meehan et al.
    2020). ``output``: PNG grid of queries and neighbours; ``table``: TSV of the neighbours (ids escaped).
    Tiles come from the files' thumbnails, else from regular files under ``images_root`` (default: each file's
    recorded input root)."""
    from gentools.metrics import neighbours

    seed = presets.DEFAULT.seed if seed is None else seed
    items = require_features([load(gen), load(train)] + ([load(test)] if test is not None else []), "nn-grid")
    check_compatible(items, force)
    gen, train = items[0], items[1]
    if train.n < 2:
        raise InputError(f"need at least 2 training rows, have {train.n} ({train.label})")
    x, g = train.array(), gen.array()
    gen_ids = _ids(gen)
    chosen = _queries(gen, gen_ids, queries, query_id, seed)
    idx, dist = neighbours.nearest(g[chosen], x, k, metric)
    if test is not None:
        values = neighbours.memorisation(g, x, items[2].array(), cells, seed, metric=metric)
    else:
        nearest_idx, nearest_d = neighbours.nearest(g, x, 1, metric)
        values = {"authenticity": neighbours.authenticity(nearest_idx[:, 0], nearest_d[:, 0], x, metric)}
    train_ids = _ids(train)
    if table is not None:
        pairs = [(gen_ids[q], r + 1, train_ids[idx[i, r]], float(dist[i, r]))
                 for i, q in enumerate(chosen) for r in range(idx.shape[1])]
        lines = ["query_id\trank\ttrain_id\tdistance"] + [
            f"{escape(query)}\t{rank}\t{escape(neighbour)}\t{d!r}" for query, rank, neighbour, d in pairs]
        gen_texts, train_texts = _row_texts(gen, {p[0] for p in pairs}), _row_texts(train, {p[2] for p in pairs})
        if gen_texts is not None and train_texts is not None:  # texts: the memorisation table shows them
            lines = [lines[0] + "\tquery_text\ttrain_text"] + [
                f"{line}\t{escape(gen_texts.get(p[0], ''))}\t{escape(train_texts.get(p[2], ''))}"
                for line, p in zip(lines[1:], pairs)]
        _write_text(table, "\n".join(lines) + "\n")
        values["table"] = str(table)
    if output is not None:
        _grid(output, gen, train, chosen, gen_ids, train_ids, idx, dist, tile, images_root)
        values["grid"] = str(output)
    return Result(values, [describe(i) for i in items], {"queries": [gen_ids[q] for q in chosen], "k": k,
                                                         "metric": metric, "cells": cells, "seed": seed})


def _queries(gen, gen_ids: list, queries: int, query_ids, seed: int) -> list[int]:
    if query_ids:
        missing = [q for q in query_ids if q not in gen_ids]
        if missing:
            raise InputError(f"{option('query_id', missing[0])} is not an id of {gen.label}")
        return [gen_ids.index(q) for q in query_ids]
    return sorted(np.random.RandomState(seed).choice(gen.n, min(queries, gen.n), replace=False).tolist())


def _grid(output, gen, train, chosen, gen_ids, train_ids, idx, dist, tile: int, images_root) -> None:
    from gentools import render

    gen_images = _images(gen, chosen, gen_ids, images_root)
    train_images = _images(train, sorted({int(j) for j in idx.ravel()}), train_ids, images_root)
    rows = [[gen_images[q]] + [train_images[int(j)] for j in idx[i]] for i, q in enumerate(chosen)]
    labels = [["query"] + [f"{d:.3g}" for d in dist[i]] for i in range(len(chosen))]
    render.save_atomic(str(output), lambda path: render.image_grid(rows, labels, tile).save(path, format="PNG"))


def _ids(item) -> list[str]:
    ids = item.ids
    return [str(i) for i in range(item.n)] if ids is None else ids


def _images(item, rows: list[int], ids: list[str], images_root: Optional[str] = None) -> dict:
    """``{row: (h, w, 3) uint8}`` from the file's thumbnails, else re-read through the ids: only regular files
    under ``images_root`` (default: the input root recorded at extraction); a refused id is a blank tile and
    one warning."""
    from gentools.features.reread import OutsideRoot, image_for_id

    if item.has("thumbnails"):
        thumbnails = item.raw("thumbnails")
        return {row: thumbnails[row] for row in rows}
    source = str(item.provenance.get("source", ""))
    out, refused = {}, []
    for row in rows:
        try:
            out[row] = image_for_id(ids[row], source, images_root)
        except OutsideRoot as exc:
            refused.append(str(exc))
            out[row] = np.zeros((8, 8, 3), np.uint8)
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot show row {row} '{ids[row]}' of {item.label}: {exc}",
                             hint="extract with --thumbnails SIZE to keep images inside the file") from None
    if refused:
        warn(f"{len(refused)} tile(s) of {item.label} drawn blank: {refused[0]}; images are re-read only "
             f"from regular files under the input root (--images-root to name another)")
    return out


def _row_texts(item, wanted: set):
    """The input kind's texts for the ``wanted`` ids of ``item`` (:meth:`InputKind.row_texts`), or None."""
    from gentools import kinds
    from gentools.errors import UsageError

    try:
        kind = kinds.named(str(item.provenance.get("modality") or "image"))
    except UsageError:  # a modality no kind takes: rows shown by id only
        return None
    return kind.row_texts(item, wanted)


def _write_text(path, text: str) -> None:
    from gentools import render

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)

    render.save_atomic(str(path), write)
