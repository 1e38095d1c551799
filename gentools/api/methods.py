"""``gentools.twosample``, ``kde`` and ``nn_grid``: the evaluation methods beyond FID."""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

from gentools import presets
from gentools.api._common import Progress, Result, bar
from gentools.errors import GentoolsWarning, InputError, UsageError
from gentools.inputs import InputLike, check_compatible, describe, load, open_pair, require_features
from gentools.text import escape

TESTS = ("mmd", "energy", "c2st")
CLASSIFIERS = ("logistic", "knn", "mlp")


def twosample(gen: InputLike, ref: InputLike, *, tests: Sequence[str] = TESTS, alpha: float = 0.05,
              permutations: int = 1000, max_samples: int = 2000, bandwidth: Optional[float] = None,
              classifier: str = "logistic", test_fraction: float = 0.5, seed: Optional[int] = None,
              force: bool = False, progress: Optional[Progress] = None) -> Result:
    """Two-sample tests of GEN against REF: ``mmd`` (unbiased MMD², Gaussian kernel, Gretton et al. 2012),
    ``energy`` (Székely & Rizzo), ``c2st`` (Lopez-Paz & Oquab 2017). Permutation p-values are
    ``(1 + #{T_perm >= T}) / (1 + B)``. Returns ``TEST_statistic``, ``TEST_p_value``, ``TEST_reject``."""
    from gentools.metrics import twosample as methods

    seed = presets.DEFAULT.seed if seed is None else seed
    tests = list(tests)
    if [t for t in tests if t not in TESTS] or not tests:
        raise UsageError(f"--test {','.join(tests)}: expected a comma-separated list of {', '.join(TESTS)}")
    if classifier not in CLASSIFIERS:
        raise UsageError(f"--classifier {classifier}: expected logistic, knn or mlp")
    gen, ref = open_pair(gen, ref, "twosample", force)
    for item in (gen, ref):
        if item.n < 4:
            raise InputError(f"two-sample tests need at least 4 rows per set, have {item.n} ({item.label})")
    rng = np.random.RandomState(seed)
    x, y = (_subsample(a, max_samples, rng) for a in (gen.array(), ref.array()))
    run = {"mmd": lambda tick: methods.mmd_test(x, y, permutations, seed, bandwidth, tick),
           "energy": lambda tick: methods.energy_test(x, y, permutations, seed, tick),
           "c2st": lambda tick: methods.c2st(x, y, classifier, test_fraction, seed)}
    values: dict = {}
    with bar(progress, "permutations", permutations * sum(t != "c2st" for t in tests)) as tick:
        for name in tests:
            result = run[name](tick)
            values[f"{name}_statistic"] = result["statistic"]
            values[f"{name}_p_value"] = result["p_value"]
            values[f"{name}_reject"] = bool(result["p_value"] <= alpha)
            if name == "mmd":
                values["mmd_bandwidth"] = result["bandwidth"]
    params = {"tests": tests, "alpha": alpha, "permutations": permutations, "max_samples": max_samples,
              "classifier": classifier, "seed": seed, "n_gen": len(x), "n_ref": len(y)}
    return Result(values, [describe(gen), describe(ref)], params)


def _subsample(rows, size: int, rng):
    """A seeded subsample of ``size`` rows (kept in file order), or all rows."""
    return rows[np.sort(rng.choice(len(rows), size, replace=False))] if len(rows) > size else rows


def kde(samples: InputLike, valid: InputLike, test: InputLike, *, sigmas: Optional[Sequence[float]] = None,
        plot: Optional[str] = None, force: bool = False) -> Result:
    """Parzen-window (Gaussian KDE) log-likelihood of ``test`` under ``samples``, sigma chosen on ``valid``
    (Goodfellow et al. 2014): ``log p(x) = logsumexp_i(-|x - s_i|²/(2σ²)) - log n - (d/2) log(2πσ²)``, equal
    to sklearn's ``KernelDensity``. ``plot``: PNG of the validation curve."""
    from gentools.metrics.kde import parzen

    items = require_features([load(samples), load(valid), load(test)], "kde")
    check_compatible(items, force)
    if items[0].n < 2:
        raise InputError(f"the KDE needs at least 2 samples, have {items[0].n} ({items[0].label})")
    result = parzen(items[0].array(), items[1].array(), items[2].array(), sigmas)
    if plot is not None:
        from gentools import render

        render.save_atomic(str(plot), lambda path: render.sigma_curve(result["sigmas"], result["valid_curve"],
                                                                       result["sigma"], path))
    values = {k: result[k] for k in ("log_likelihood_mean", "log_likelihood_sem", "sigma", "bits_per_dim")}
    return Result(values, [describe(i) for i in items], {"sigmas": [float(s) for s in result["sigmas"]],
                                                         "dim": items[0].dim})


def nn_grid(gen: InputLike, train: InputLike, *, test: Optional[InputLike] = None, output: Optional[str] = None,
            table: Optional[str] = None, queries: int = 8, query_ids: Optional[Sequence[str]] = None, k: int = 5,
            metric: str = "euclidean", cells: int = 10, tile: int = 64, seed: Optional[int] = None,
            force: bool = False, images_root: Optional[str] = None) -> Result:
    """Nearest training neighbours of generated samples and memorisation statistics: ``authenticity``
    (Alaa et al. 2022), and with ``test`` also ``nn_ratio_median``, ``copies`` and ``ct_z`` (Meehan et al.
    2020). ``output``: PNG grid of queries and neighbours; ``table``: TSV of the neighbours (ids escaped).
    Tiles come from the files' thumbnails, else from regular files under ``images_root`` (default: each file's
    recorded input root)."""
    from gentools.metrics import neighbours

    seed = presets.DEFAULT.seed if seed is None else seed
    if metric not in ("euclidean", "cosine"):
        raise UsageError(f"--metric {metric}: expected euclidean or cosine")
    items = require_features([load(gen), load(train)] + ([load(test)] if test is not None else []), "nn-grid")
    check_compatible(items, force)
    gen, train = items[0], items[1]
    if train.n < 2:
        raise InputError(f"need at least 2 training rows, have {train.n} ({train.label})")
    x, g = train.array(), gen.array()
    gen_ids = _ids(gen)
    chosen = _queries(gen, gen_ids, queries, query_ids, seed)
    idx, dist = neighbours.nearest(g[chosen], x, k, metric)
    if test is not None:
        values = neighbours.memorisation(g, x, items[2].array(), cells, seed, metric=metric)
    else:
        nearest_idx, nearest_d = neighbours.nearest(g, x, 1, metric)
        values = {"authenticity": neighbours.authenticity(nearest_idx[:, 0], nearest_d[:, 0], x, metric)}
    train_ids = _ids(train)
    if table is not None:
        lines = ["query_id\trank\ttrain_id\tdistance"] + [
            f"{escape(gen_ids[q])}\t{r + 1}\t{escape(train_ids[idx[i, r]])}\t{float(dist[i, r])!r}"
            for i, q in enumerate(chosen) for r in range(idx.shape[1])]
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
            raise InputError(f"--query-id {missing[0]} is not an id of {gen.label}")
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
        warnings.warn(f"{len(refused)} tile(s) of {item.label} drawn blank: {refused[0]}; images are re-read only "
                      f"from regular files under the input root (--images-root to name another)",
                      GentoolsWarning, stacklevel=3)
    return out


def _write_text(path, text: str) -> None:
    from gentools import render

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)

    render.save_atomic(str(path), write)
