"""Pairs for the paired metrics (:mod:`gentools.api.paired`): reading both sets, matching items by id, scoring
the pairs in batches, and what every paired command reports (the mean, the counts, the per-item file, the
bootstrap interval).

An item's id is its path relative to the folder (or its member name) without the extension, or its index in an
array. The peers pair by position and lose samples without a word (pytorch-msssim #55 zips two unsorted globs;
the LPIPS two-folder script skips unmatched names): here an id without its partner is an error naming the first
few, ``allow_unmatched`` scores the ids both sides hold and reports both counts, and ``pairs`` (a
``gen_id<TAB>ref_id`` file) maps differently named items. A pair that cannot be scored (an undecodable image)
is NaN with its reason in the per-item file, counted in ``pairs_failed``, never dropped.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from gentools.api._common import Result
from gentools.errors import InputError, UsageError, option, warn
from gentools.features.items import pair_id
from gentools.text import escape

SHOWN = 5  # unmatched ids named in an error


@dataclass(frozen=True)
class Side:
    """One set of a paired metric: ``ids`` in order, ``read(i)`` -> ``(H, W, C)`` array (raises ValueError
    with the reason), ``dtype`` of its values (``uint8`` for image files), ``label`` for messages."""

    ids: list
    read: object
    dtype: np.dtype
    label: str
    source: str


@dataclass(frozen=True)
class Scorer:
    """How a paired metric scores a pair, whoever feeds it (the command's files, the Evaluator's batches).

    Images: ``score(x, y, span) -> (n,)`` on float64 ``(n, C, H, W)`` tensors whose values lie in ``span`` =
    ``(low, high)`` (``(0, 255)`` for 8-bit). Sounds: ``function(reference, generated, rate) -> (value, reason)``
    per pair, both brought to ``rate_of(the reference's rate)`` Hz. ``identical``: a pair scoring inf (PSNR of
    identical images) is counted in ``NAME_identical`` and the mean is over the others. ``checked(span,
    smallest)``: run once every pair is scored, with the smallest float value seen (None for 8-bit), to refuse a
    whole set (LPIPS: [0, 1] images declared [-1, 1]). Texts: ``texts(hypotheses, references)`` scores the
    whole corpus at once (BLEU is not a mean over pairs). ``params``: the settings for provenance and the JSON."""

    params: dict
    score: Optional[Callable] = None
    function: Optional[Callable] = None
    rate_of: Optional[Callable] = None
    identical: bool = False
    checked: Optional[Callable] = None
    texts: Optional[Callable] = None  # texts: (hypotheses, [references]) -> (values, per-item columns, settings)

    @property
    def sound(self) -> bool:
        return self.function is not None

    @property
    def modality(self) -> str:
        """The input kind it scores (:mod:`gentools.kinds`' names)."""
        return "audio" if self.sound else "text" if self.texts is not None else "image"


def summary(metric: str, scorer: Scorer, total: float, finite: int, infinite: int) -> dict:
    """The mean ``total / finite`` as ``NAME``; for an ``identical`` scorer also ``NAME_identical`` (a warning
    when there are any), the mean being over the pairs that differ."""
    name = metric.replace("-", "_")
    if not finite + infinite:
        raise InputError(f"{metric}: no pair could be scored")
    if not scorer.identical:
        return {name: total / finite}
    if infinite:
        warn(f"{metric}: {infinite} of {finite + infinite} pairs are identical ({name.upper()} inf); the mean is "
             f"over the other {finite}")
    if not finite:
        raise InputError(f"{metric}: every one of the {infinite} pairs is identical ({name.upper()} inf)")
    return {name: total / finite, f"{name}_identical": infinite}


def _side(value, what: str) -> Side:
    """A folder, archive, glob or array file (paths), or an ``(N, H, W[, C])`` array."""
    if isinstance(value, (str, os.PathLike)):
        from gentools.features.images import Reader, is_image_name, list_inputs
        from gentools.features.items import ARRAY_SUFFIXES, TAR_SUFFIXES

        path = os.fspath(value)
        containers = (".zip", *TAR_SUFFIXES, *ARRAY_SUFFIXES)
        if os.path.isfile(path) and not path.lower().endswith(containers) and not is_image_name(path):
            raise InputError(f"{escape(path)}: not an image, nor a folder, archive or array of images (a paired "
                             f"metric scores images, not features)")
        if os.path.isfile(path) and path.lower().endswith(ARRAY_SUFFIXES):
            return _array_side(_array_file(path), escape(path), escape(path))
        items, source = list_inputs([path])
        if not items:
            raise InputError(f"{escape(os.fspath(value))}: no images found")
        reader = Reader()
        ids = [pair_id(item, os.fspath(value)) for item in items]
        read = lambda i: reader.read(items[i])  # noqa: E731  (PIL convert("RGB"), as every image input)
        return Side(_unique(ids, os.fspath(value)), read, np.dtype(np.uint8), escape(os.fspath(value)), source)
    array = np.asarray(value)
    if array.ndim not in (3, 4) or not array.size:
        raise UsageError(f"{what}: expected an (N, H, W) or (N, H, W, C) array, got shape {array.shape}")
    return _array_side(array, f"{what} array", f"{what} array")


def _array_file(path: str) -> np.ndarray:
    """An ``.npy`` (memory-mapped) or ``.npz`` array of uint8 or float images, ``[N, H, W(, C)]`` or
    ``[N, C, H, W]``; no pickles."""
    import zipfile

    from gentools.features.items import npz_member

    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False) if path.lower().endswith(".npy") \
            else npz_member(path)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{escape(path)}: cannot read the image array ({escape(str(exc))})") from None
    if array.dtype != np.uint8 and array.dtype.kind != "f":
        raise InputError(f"{escape(path)}: image arrays must be uint8 or float, this one is {array.dtype}")
    if array.ndim not in (3, 4) or not len(array):
        raise InputError(f"{escape(path)}: image arrays must be [N, H, W(, C)] with N > 0, this one is "
                         f"{list(array.shape)}")
    return array


def _array_side(array: np.ndarray, label: str, source: str) -> Side:
    """Rows of an image array by index, each ``(H, W, C)`` (a channels-first row moved, a gray one given C 1)."""
    def read(i: int) -> np.ndarray:
        image = np.asarray(array[i])
        if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
            image = np.moveaxis(image, 0, -1)
        return image[..., None] if image.ndim == 2 else image

    return Side([str(i) for i in range(len(array))], read, array.dtype, label, source)


def _unique(ids: list, where: str) -> list:
    seen: dict = {}
    for position, key in enumerate(ids):
        if key in seen:
            raise InputError(f"{escape(where)}: two items have the id {escape(key)!r} (ids are paths without their "
                             f"extension)")
        seen[key] = position
    return ids


def read_pairs_file(path) -> list:
    """``gen_id<TAB>ref_id`` per line (UTF-8; blank lines skipped) -> ``[(gen_id, ref_id)]``."""
    from gentools.files import read_regular

    name = escape(os.fspath(path))
    try:
        data = read_regular(path, 64 << 20)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{name}:{line}: not UTF-8") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not all(f.strip() for f in fields):
            raise InputError(f"{name}:{number}: expected gen_id<TAB>ref_id, got {escape(line[:80])!r}")
        pairs.append((fields[0].strip(), fields[1].strip()))
    if not pairs:
        raise InputError(f"{name}: no pairs")
    return pairs


def match(gen_ids: list, ref_ids: list, pairs: Optional[list] = None, allow_unmatched: bool = False,
          labels: tuple = ("GEN", "REF")) -> tuple[list, int, int]:
    """``([(gen position, ref position)], unmatched gen, unmatched ref)``, in GEN's order (``pairs``: the
    explicit ``(gen_id, ref_id)`` list, in its order). Unmatched ids are an error unless ``allow_unmatched``."""
    gen_at = {key: i for i, key in enumerate(gen_ids)}
    ref_at = {key: i for i, key in enumerate(ref_ids)}
    if pairs is None:
        pairs = [(key, key) for key in gen_ids]
        missing_gen = [key for key in ref_ids if key not in gen_at]
    else:
        listed = {g for g, _ in pairs}
        missing_gen = [g for g, _ in pairs if g not in gen_at]
        unlisted = [key for key in gen_ids if key not in listed]
        if unlisted and not allow_unmatched:
            raise InputError(f"{labels[0]}: {len(unlisted)} of {len(gen_ids)} items are not in the pairs file: "
                             f"{_first(unlisted)}", hint=f"pass {option('allow_unmatched', True)} to score the pairs "
                             f"listed")
    missing_ref = [r for g, r in pairs if r not in ref_at and g in gen_at]
    if (missing_gen or missing_ref) and not allow_unmatched:
        parts = []
        if missing_ref:
            parts.append(f"{len(missing_ref)} generated ids have no reference in {labels[1]}: {_first(missing_ref)}")
        if missing_gen:
            parts.append(f"{len(missing_gen)} ids are missing from {labels[0]}: {_first(missing_gen)}")
        raise InputError("; ".join(parts), hint=f"pass {option('allow_unmatched', True)} to score the ids both hold")
    matched = [(gen_at[g], ref_at[r]) for g, r in pairs if g in gen_at and r in ref_at]
    if not matched:
        raise InputError(f"no id of {labels[0]} matches one of {labels[1]}: {_first(gen_ids)} against "
                         f"{_first(ref_ids)}")
    used_gen, used_ref = {g for g, _ in matched}, {r for _, r in matched}
    return matched, len(gen_ids) - len(used_gen), len(ref_ids) - len(used_ref)


def _first(ids: list) -> str:
    shown = ", ".join(escape(str(key)) for key in ids[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def data_range_of(dtype: np.dtype, given: Optional[float], metric: str) -> float:
    """255 for uint8 (a different ``data_range`` is refused); floats need it given: a range read off a batch
    (torchmetrics' ``data_range=None``) makes one pair's score depend on the others."""
    if np.dtype(dtype) == np.uint8:
        if given is not None and given != 255:
            raise UsageError(f"{metric}: {option('data_range', given)} on 8-bit images, whose range is 255")
        return 255.0
    if not np.issubdtype(dtype, np.floating):
        raise UsageError(f"{metric}: inputs of type {np.dtype(dtype).name}: expected uint8 images or floats")
    if given is None:
        raise UsageError(f"{metric}: float inputs need {option('data_range')} (1 for [0, 1], 2 for [-1, 1]); it is "
                         f"never read off the data")
    return float(given)


def score_pairs(metric: str, gen, ref, scorer: Scorer, *, data_range, pairs, allow_unmatched, batch_size, device,
                per_item, bootstrap, seed, span_of=None) -> Result:
    """Read and match both sets, score them with ``scorer`` in batches of pairs of one shape, write
    ``per_item``, and return the mean, the counts and the bootstrap interval. The values' span: ``(0,``
    :func:`data_range_of` ``)`` the inputs' type, or ``span_of(dtype)``."""
    import torch

    a, b = _side(gen, "gen"), _side(ref, "ref")
    listed = read_pairs_file(pairs) if pairs is not None else None
    matched, unmatched_gen, unmatched_ref = match(a.ids, b.ids, listed, allow_unmatched, (a.label, b.label))
    if a.dtype != b.dtype:
        raise UsageError(f"{metric}: {a.label} holds {a.dtype.name} values and {b.label} {b.dtype.name}: give both "
                         f"sets in one type")
    span = span_of(a.dtype) if span_of is not None else (0.0, data_range_of(a.dtype, data_range, metric))
    torch_device = torch.device(device)
    values = np.full(len(matched), np.nan)
    reasons = [""] * len(matched)
    groups: dict = {}
    smallest = [None]
    for k, (i, j) in enumerate(matched):
        x, y, reasons[k] = _read_pair(a, b, i, j)
        if reasons[k]:
            continue
        if x.shape != y.shape:
            raise InputError(f"{escape(a.ids[i])}: {_shape(x)} against its reference's {_shape(y)} "
                             f"({escape(b.ids[j])}); a pair must have one size")
        group = groups.setdefault(x.shape, [])
        group.append((k, x, y))
        if len(group) == batch_size:
            _flush(group, values, scorer.score, span, torch_device, smallest)
    for group in groups.values():
        _flush(group, values, scorer.score, span, torch_device, smallest)
    if scorer.checked is not None:
        scorer.checked(span, smallest[0])
    settings = dict(scorer.params, **({"data_range": span[1] - span[0]} if span_of is None else
                                       {"pixel_range": ",".join(f"{v:g}" for v in span)}))
    return _report(metric, scorer, a, b, matched, (unmatched_gen, unmatched_ref) if allow_unmatched else None,
                   values, reasons, per_item, bootstrap, seed, settings)


def _report(metric: str, scorer: Scorer, a: Side, b: Side, matched: list, unmatched: Optional[tuple],
            values: np.ndarray, reasons: list, per_item, bootstrap: int, seed: int, settings: dict) -> Result:
    """What every paired command reports: ``per_item`` written, the mean (``summary``), the counts of pairs
    scored and failed (a warning names the first failure), the unmatched counts, the bootstrap interval."""
    scored = ~np.isnan(values)
    if per_item is not None:
        _write_per_item(per_item, metric, [(a.ids[i], b.ids[j]) for i, j in matched], values, reasons)
    finite = values[np.isfinite(values)]
    result = summary(metric, scorer, float(finite.sum()), len(finite), int(scored.sum()) - len(finite))
    result.update({"pairs_scored": int(scored.sum()), "pairs_failed": int((~scored).sum())})
    if unmatched is not None:
        result.update({"unmatched_gen": unmatched[0], "unmatched_ref": unmatched[1]})
    if bootstrap:
        result.update(_bootstrap(metric, values[scored], bootstrap, seed))
    if (~scored).any():
        first = int(np.flatnonzero(~scored)[0])
        warn(f"{metric}: scored {int(scored.sum())} of {len(matched)} pairs; {int((~scored).sum())} failed "
             f"(first: {escape(a.ids[matched[first][0]])}: {reasons[first]})")
    inputs = [{"path": side.source, "kind": "paired", "n": len(side.ids)} for side in (a, b)]
    return Result(result, inputs, dict(settings, pairs=len(matched), bootstrap=bootstrap,
                                       seed=seed if bootstrap else None))


def _read_pair(a: Side, b: Side, i: int, j: int, failed=(None, None)) -> tuple:
    """``(gen item i, ref item j, "")``, or ``failed`` and the reason one of them cannot be read."""
    try:
        x = a.read(i)
    except ValueError as exc:
        return (*failed, f"gen: {escape(str(exc))}")
    try:
        y = b.read(j)
    except ValueError as exc:
        return (*failed, f"ref: {escape(str(exc))}")
    return x, y, ""


def _shape(image: np.ndarray) -> str:
    return "x".join(map(str, image.shape[:2])) + (f"x{image.shape[2]}" if image.ndim == 3 else "")


def _flush(group: list, values: np.ndarray, score, span: tuple, device, smallest: list) -> None:
    import torch

    if not group:
        return
    x = torch.from_numpy(np.stack([g[1] for g in group])).to(device, torch.float64).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.stack([g[2] for g in group])).to(device, torch.float64).permute(0, 3, 1, 2)
    values[[g[0] for g in group]] = score(x, y, span).cpu().numpy()
    if span != (0.0, 255.0):
        low = float(torch.minimum(x.min(), y.min()))
        smallest[0] = low if smallest[0] is None else min(smallest[0], low)
    group.clear()


def _bootstrap(metric: str, values: np.ndarray, resamples: int, seed: int) -> dict:
    """Percentile bootstrap over pairs: the mean of ``resamples`` draws with replacement (numpy
    ``default_rng(seed)``), its 2.5 and 97.5 percentiles."""
    finite = values[np.isfinite(values)]
    rng = np.random.default_rng(seed)
    means = np.array([finite[rng.integers(0, len(finite), len(finite))].mean() for _ in range(resamples)])
    name = metric.replace("-", "_")
    low, high = np.percentile(means, [2.5, 97.5])
    return {f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)}


def _write_per_item(path, metric: str, ids: list, values: np.ndarray, reasons: list) -> None:
    from gentools.files import atomic_path

    with atomic_path(os.fspath(path)) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write(f"id\tref_id\t{metric.replace('-', '_')}\treason\n")
        for (gen_id, ref_id), value, reason in zip(ids, values, reasons):
            text = "nan" if math.isnan(value) else repr(float(value))
            out.write(f"{escape(gen_id)}\t{escape(ref_id)}\t{text}\t{reason}\n")
