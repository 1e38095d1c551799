"""``gentools mauve`` / ``gentools.mauve``: MAUVE over stored feature rows (:mod:`gentools.metrics.mauve`)."""

from __future__ import annotations

import numpy as np

from gentools.api._common import Result
from gentools.api.registry import FORCE, GEN, PRESET, Input, Option, register_metric
from gentools.errors import InputError, option, warn
from gentools.inputs import check_preset, describe, open_pair

REF = Input("ref", "Reference set (mauve's Q; GEN is P, as Hugging Face evaluate's p_text=predictions)")
VALUES = ("mauve", "frontier_integral", "mauve_star", "frontier_integral_star")


def kmeans_backend(wanted: str) -> str:
    """faiss when installed (mauve's own k-means); else scikit-learn's, with a warning that the numbers differ."""
    if wanted == "sklearn":
        return "sklearn"
    try:
        import faiss  # noqa: F401
    except ImportError:
        if wanted == "faiss":
            raise InputError("mauve: --kmeans faiss needs the faiss package: pip install faiss-cpu") from None
        warn("mauve: faiss is not installed, so k-means is scikit-learn's: the buckets, and so MAUVE, differ "
             "from mauve-text's (pip install faiss-cpu for its numbers)")
        return "sklearn"
    return "faiss"


@register_metric(
    "mauve", inputs=(GEN, REF), metavar="GEN REF", per_class_means={}, evaluator="rows",
    summary="MAUVE (Pillutla et al. 2021): the area under the divergence frontier of GEN's and REF's histograms "
            "over a joint k-means quantisation of the L2-normalised, PCA-reduced features, as mauve-text's "
            "compute_mauve(p_features=GEN, q_features=REF); --seeds N reruns the clustering under N seeds.\n\n"
            "Example: gentools mauve gen.h5 ref.h5 --seeds 5",
    options=(Option("num_buckets", 0, "k-means buckets (0: auto, max(2, round(min(n_gen, n_ref) / 10)), as "
                    "mauve's num_buckets='auto').", min=0),
             Option("explained_variance", 0.9, "Variance the kept principal components explain.", min=0.0, max=1.0),
             Option("kmeans_redo", 5, "k-means runs (the best objective is kept).", min=1),
             Option("kmeans_iter", 500, "k-means iterations per run.", min=1),
             Option("scaling", 5.0, "The constant c of exp(-c KL).", min=0.0),
             Option("points", 25, "Mixtures on the divergence curve.", min=2),
             Option("seed", 25, "mauve's seed: PCA random_state seed+1, k-means seed+2.", type=int),
             Option("seeds", 1, "Rerun the clustering under seeds seed .. seed+N-1 and report the mean and "
                    "standard deviation (ddof 1) of each value (mauve #11: the seed moves MAUVE as much as a "
                    "model change).", min=1),
             Option("kmeans", "auto", "auto (faiss when installed, else scikit-learn with a warning), faiss or "
                    "sklearn.", type=str, choices=("auto", "faiss", "sklearn")),
             PRESET, FORCE))
def mauve(gen, ref, *, num_buckets, explained_variance, kmeans_redo, kmeans_iter, scaling, points, seed, seeds,
          kmeans, preset, force) -> Result:
    """MAUVE of GEN (P) against REF (Q). Returns ``mauve``, ``frontier_integral``, ``mauve_star``,
    ``frontier_integral_star`` and ``num_buckets``; with ``seeds`` > 1 each value is the mean over the seeds,
    with ``NAME_std`` beside it (``per_class``: per class, then the means)."""
    from gentools.metrics import mauve as metric

    if not 0 < explained_variance < 1:
        raise InputError(f"mauve: {option('explained_variance', explained_variance)}: expected a share in (0, 1)")
    gen, ref = open_pair(gen, ref, "mauve", force)
    check_preset(preset, [gen, ref], force)
    p, q = gen.array(), ref.array()
    if min(len(p), len(q)) < 2:
        raise InputError(f"mauve: {len(p)} and {len(q)} rows; MAUVE needs at least 2 in each set")
    buckets = metric.num_buckets_for(len(p), len(q), num_buckets)
    if buckets > len(p) + len(q):
        raise InputError(f"mauve: {option('num_buckets', buckets)} is more than the {len(p) + len(q)} rows")
    backend = kmeans_backend(kmeans)
    reduced = metric.reduce(p, q, explained_variance, seed)  # once: the PCA does not depend on the seed
    runs = [metric.mauve(p, q, buckets, explained_variance, seed + k, kmeans_redo, kmeans_iter, points, scaling,
                         backend, reduced) for k in range(seeds)]
    values: dict = {}
    for name in VALUES:
        column = np.array([run[name] for run in runs])
        values[name] = float(column.mean())
        if seeds > 1:
            values[f"{name}_std"] = float(column.std(ddof=1))
    values["num_buckets"] = buckets
    params = {"num_buckets": buckets, "explained_variance": explained_variance, "components": reduced.shape[1],
              "kmeans": backend, "kmeans_redo": kmeans_redo, "kmeans_iter": kmeans_iter, "scaling": scaling,
              "points": points, "seed": seed, "seeds": seeds, "preset": preset or ""}
    return Result(values, [describe(gen), describe(ref)], params)
