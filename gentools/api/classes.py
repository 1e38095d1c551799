"""Class-conditional evaluation: per-class metrics (``--per-class``) and ``gentools.diversity``.

Rows are grouped by their ``labels``; each class's generated rows are measured
against the same class's reference rows, and the per-class values are printed
as ``METRIC.LABEL`` followed by their unweighted mean under the metric's own
name (``intra_fid`` for FID: Miyato & Koyama 2018, "cGANs with projection
discriminator").
"""

from __future__ import annotations

import re

from typing import Callable, Optional

import numpy as np

from gentools.api._common import Result
from gentools.errors import InputError
from gentools.inputs import InputLike, check_compatible, describe, load, require_features
from gentools.store import ROW_DATASETS, FeatureFile

MIN_ROWS = 2


def labels_of(item) -> list:
    """The rows' class labels; a one-line error when the file has none."""
    labels = item.labels if item.kind == "features" else None
    if labels is None:
        raise InputError(f"has no labels, so --per-class cannot group its rows; extract with --labels folder, "
                         f"--labels FILE.tsv or --classes N ({item.label})")
    return labels


def subset(item: FeatureFile, rows: np.ndarray, label: str) -> FeatureFile:
    """Rows ``rows`` of every row dataset of ``item`` (already in memory: :meth:`FeatureFile.loaded`) as the
    Features of one class; the metric checks their values as it reads them."""
    arrays = {name: item.raw(name)[rows] for name in ROW_DATASETS if item.has(name)}
    return FeatureFile(f"{item.label}[class {label}]", arrays, item.provenance)


def classes_in(gen, ref, min_rows: int = MIN_ROWS) -> tuple[list, dict, dict]:
    """The sorted classes of both sets and each class's row indices; a class present on one side only, or with
    fewer than ``min_rows`` rows on a side, is a one-line error naming it."""
    groups = []
    for item in (gen, ref):
        labels = np.asarray(labels_of(item), dtype=object)
        groups.append({k: np.flatnonzero(labels == k) for k in sorted(set(labels), key=_natural)})
    for (item, mine), (other, theirs) in (((gen, groups[0]), (ref, groups[1])), ((ref, groups[1]), (gen, groups[0]))):
        missing = [k for k in mine if k not in theirs]
        if missing:
            raise InputError(f"class '{missing[0]}' is in {item.label} but not in {other.label}")
        small = [k for k, rows in mine.items() if len(rows) < min_rows]
        if small:
            raise InputError(f"class '{small[0]}' has {len(mine[small[0]])} row(s) in {item.label}; per-class "
                             f"metrics need at least {min_rows}")
    return sorted(groups[0], key=_natural), groups[0], groups[1]


def by_class(metric: Callable, gen: InputLike, ref: InputLike, mean_names: Optional[dict] = None,
              min_rows: int = MIN_ROWS, **options) -> Result:
    """``metric(gen_k, ref_k, **options)`` for every class k: ``NAME.k`` values, then each NAME's unweighted
    mean over classes (renamed by ``mean_names``, e.g. ``{"fid": "intra_fid"}``)."""
    gen, ref = require_features([load(gen), load(ref)], "--per-class")
    check_compatible([gen, ref], options.get("force", False))
    classes, gen_rows, ref_rows = classes_in(gen, ref, min_rows)
    gen, ref = gen.loaded(), ref.loaded()  # each input read once, not once per class
    values, per_name = {}, {}
    for k in classes:
        result = metric(subset(gen, gen_rows[k], k), subset(ref, ref_rows[k], k), **options)
        for name, value in result.items():
            values[f"{name}.{k}"] = value
            per_name.setdefault(name, []).append(value)
    for name, series in per_name.items():
        values[(mean_names or {}).get(name, name)] = float(np.mean(series))
    params = dict(getattr(result, "params", {}), per_class=True, classes=classes)
    return Result(values, [describe(gen), describe(ref)], params)


def diversity(gen: InputLike, *, ref: Optional[InputLike] = None, per_class: bool = False) -> Result:
    """Diversity of a generated set: ``vendi`` (Friedman & Dieng 2023), and when its rows have ``labels`` (or
    ``logits``: the argmax) the class histogram's ``class_entropy``, ``class_gini``, ``modes`` and, with
    ``ref``, ``class_kl``. The class universe is the union of both sets' labels, or the logits' width.
    ``per_class``: also ``vendi.LABEL`` for each class."""
    from gentools.metrics import diversity as histogram
    from gentools.metrics.vendi import vendi_score

    (item,) = require_features([load(gen)], "diversity")
    reference = load(ref) if ref is not None else None
    features = item.array()
    values: dict = {"vendi": vendi_score(features)}
    classes, universe = _classes(item)
    ref_classes, ref_universe = _classes(reference) if reference is not None else (None, [])
    universe = sorted(set(universe) | set(ref_universe), key=_natural)
    if classes is not None:
        counts = histogram.class_counts(classes, universe)
        values.update(histogram.histogram_diversity(counts))
        if ref_classes is not None:
            try:
                values[histogram.CLASS_KL] = histogram.class_kl(counts, histogram.class_counts(ref_classes, universe))
            except ValueError as exc:
                raise InputError(f"class '{universe[exc.args[0]]}' is generated but absent from {reference.label}, "
                                 f"so class_kl is infinite") from None
    if per_class:
        labels = np.asarray(labels_of(item), dtype=object)
        for k in sorted(set(labels), key=_natural):
            values[f"vendi.{k}"] = vendi_score(features[labels == k])
    inputs = [describe(item)] + ([describe(reference)] if reference is not None else [])
    return Result(values, inputs, {"universe": len(universe) if universe else 0, "per_class": per_class})


def _classes(item) -> tuple:
    """``(classes of the rows, the classes they may take)``: labels (those present), else the argmax of the
    logits (every index of their width), else ``(None, [])``."""
    if item.kind == "features" and item.labels is not None:
        return list(item.labels), sorted(set(item.labels), key=_natural)
    if item.kind == "features" and item.has("logits"):
        logits = item.array("logits")
        return [str(k) for k in logits.argmax(axis=1)], [str(k) for k in range(logits.shape[1])]
    return None, []


_INTEGER = re.compile(r"-?[0-9]{1,30}")


def _natural(label: str):
    """Numeric labels in numeric order ("2" before "10"), then the others."""
    return (0, int(label), "") if _INTEGER.fullmatch(label) else (1, 0, label)
