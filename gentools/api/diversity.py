"""``gentools.diversity`` (and its alias ``vendi``): Vendi score and class-histogram diversity of a generated set."""

from __future__ import annotations

import numpy as np

from gentools.api._common import Result
from gentools.api.per_class import labels_of, natural
from gentools.api.registry import Input, Option, register_metric
from gentools.errors import InputError
from gentools.inputs import describe, load, require_features


@register_metric(
    "diversity", inputs=(Input("gen", "One features file (generated set)"),
                         Input("ref", "Reference features: their labels join the class universe and give "
                                      "class_kl.", flag="--ref", optional=True)),
    metavar="GEN", aliases=("vendi",), evaluator="rows",
    options=(Option("per_class", False, "Also vendi.LABEL for each class of the rows' labels."),),
    summary="Diversity: vendi (Friedman & Dieng 2023), and from the rows' labels (or their logits' argmax) "
            "class_entropy (nats), class_gini, modes (classes hit at least once) and, with --ref, class_kl.\n\n"
            "vendi = exp(entropy of K/n), K the rows' cosine-similarity kernel; equal to the vendi-score "
            "package. --per-class adds vendi.LABEL for each class.\n\nExample: gentools diversity gen.h5 "
            "--ref test.h5")
def diversity(gen, ref=None, *, per_class) -> Result:
    """Diversity of a generated set: ``vendi`` (Friedman & Dieng 2023), and when its rows have ``labels`` (or
    ``logits``: the argmax) the class histogram's ``class_entropy``, ``class_gini``, ``modes`` and, with
    ``ref``, ``class_kl``. The class universe is the union of both sets' labels, or the logits' width.
    ``per_class``: also ``vendi.LABEL`` for each class."""
    from gentools.metrics.diversity import CLASS_KL, class_counts, class_kl, histogram_diversity
    from gentools.metrics.vendi import vendi_score

    (item,) = require_features([load(gen)], "diversity")
    reference = load(ref) if ref is not None else None
    features = item.array()
    values: dict = {"vendi": vendi_score(features)}
    classes, universe = _classes(item)
    ref_classes, ref_universe = _classes(reference) if reference is not None else (None, [])
    universe = sorted(set(universe) | set(ref_universe), key=natural)
    if classes is not None:
        counts = class_counts(classes, universe)
        values.update(histogram_diversity(counts))
        if ref_classes is not None:
            try:
                values[CLASS_KL] = class_kl(counts, class_counts(ref_classes, universe))
            except ValueError as exc:
                raise InputError(f"class '{universe[exc.args[0]]}' is generated but absent from {reference.label}, "
                                 f"so class_kl is infinite") from None
    if per_class:
        labels = np.asarray(labels_of(item), dtype=object)
        for k in sorted(set(labels), key=natural):
            values[f"vendi.{k}"] = vendi_score(features[labels == k])
    inputs = [describe(item)] + ([describe(reference)] if reference is not None else [])
    return Result(values, inputs, {"universe": len(universe) if universe else 0, "per_class": per_class})


def _classes(item) -> tuple:
    """``(classes of the rows, the classes they may take)``: labels (those present), else the argmax of the
    logits (every index of their width), else ``(None, [])``."""
    if item.kind == "features" and item.labels is not None:
        return list(item.labels), sorted(set(item.labels), key=natural)
    if item.kind == "features" and item.has("logits"):
        logits = item.array("logits")
        return [str(k) for k in logits.argmax(axis=1)], [str(k) for k in range(logits.shape[1])]
    return None, []


