"""Class-conditional evaluation: per-class metrics (``per_class=True``, ``--per-class``).

Rows are grouped by their ``labels``; the metric over all rows comes first
under its own name, then each class's generated rows measured against the same
class's reference rows as ``METRIC.LABEL``, then their unweighted mean as
``intra_METRIC`` (``intra_fid``: Miyato & Koyama 2018, "cGANs with projection
discriminator").
"""

from __future__ import annotations

import re

from typing import Callable, Optional

import numpy as np

from gentools.api._common import Result
from gentools.errors import InputError, option
from gentools.inputs import InputLike, check_compatible, describe, load, require_features
from gentools.store import ROW_DATASETS, FeatureFile

MIN_ROWS = 2


def labels_of(item) -> list:
    """The rows' class labels; a one-line error when the file has none."""
    labels = item.labels if item.kind == "features" else None
    if labels is None:
        raise InputError(f"has no labels, so {option('per_class', True)} cannot group its rows; extract with "
                         f"--labels folder, --labels FILE.tsv or --classes N ({item.label})")
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
        groups.append({k: np.flatnonzero(labels == k) for k in sorted(set(labels), key=natural)})
    for (item, mine), (other, theirs) in (((gen, groups[0]), (ref, groups[1])), ((ref, groups[1]), (gen, groups[0]))):
        missing = [k for k in mine if k not in theirs]
        if missing:
            raise InputError(f"class '{missing[0]}' is in {item.label} but not in {other.label}")
        small = [k for k, rows in mine.items() if len(rows) < min_rows]
        if small:
            raise InputError(f"class '{small[0]}' has {len(mine[small[0]])} row(s) in {item.label}; per-class "
                             f"metrics need at least {min_rows}")
    return sorted(groups[0], key=natural), groups[0], groups[1]


def by_class(metric: Callable, gen: InputLike, ref: InputLike, mean_names: Optional[dict] = None,
             min_rows: int = MIN_ROWS, **options) -> Result:
    """``metric(gen, ref, **options)`` over all rows (``NAME``), then ``metric(gen_k, ref_k, **options)`` for
    every class k (``NAME.k``), then each NAME's unweighted mean over classes (``intra_NAME``, or as
    ``mean_names`` names it)."""
    gen, ref = require_features([load(gen), load(ref)], option("per_class", True))
    check_compatible([gen, ref], options.get("force", False))
    classes, gen_rows, ref_rows = classes_in(gen, ref, min_rows)
    gen, ref = gen.loaded(), ref.loaded()  # each input read once, not once per class
    values, per_name = dict(metric(gen, ref, **options)), {}
    for k in classes:
        result = metric(subset(gen, gen_rows[k], k), subset(ref, ref_rows[k], k), **options)
        for name, value in result.items():
            values[f"{name}.{k}"] = value
            per_name.setdefault(name, []).append(value)
    for name, series in per_name.items():
        values[(mean_names or {}).get(name, f"intra_{name}")] = float(np.mean(series))
    params = dict(getattr(result, "params", {}), per_class=True, classes=classes)
    return Result(values, [describe(gen), describe(ref)], params)


_INTEGER = re.compile(r"-?[0-9]{1,30}")


def natural(label: str):
    """Numeric labels in numeric order ("2" before "10"), then the others."""
    return (0, int(label), "") if _INTEGER.fullmatch(label) else (1, 0, label)
