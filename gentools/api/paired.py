"""The paired family: each generated item scored against its own reference, the two matched by id.

``gentools ssim``, ``ms-ssim`` and ``psnr`` (and ``gentools.ssim``, ``ms_ssim``, ``psnr``). GEN and REF are
folders, archives, globs or arrays of images. An item's id is its path relative to the folder (or its member
name) without the extension, or its index in an array. The peers pair by position and lose samples without a
word (pytorch-msssim #55 zips two unsorted globs; the LPIPS two-folder script skips unmatched names): here an
id without its partner is an error naming the first few, ``allow_unmatched`` scores the ids both sides hold
and reports both counts, and ``pairs`` (a ``gen_id<TAB>ref_id`` file) maps differently named items.

A pair that cannot be scored (an undecodable image) is NaN with its reason in the per-item file, counted in
``pairs_failed``, never dropped.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from gentools.api._common import Result
from gentools.api.registry import GEN, Input, Option, register_metric
from gentools.errors import InputError, UsageError, option, warn
from gentools.text import escape

REF = Input("ref", "Reference set (each generated item's own reference, matched by id)")
PAIRED = (GEN, REF)
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


def _side(value, what: str) -> Side:
    """A folder, archive, glob or array file (paths), or an ``(N, H, W[, C])`` array."""
    if isinstance(value, (str, os.PathLike)):
        from gentools.features.images import Reader, is_image_name, list_inputs
        from gentools.features.items import ARRAY_SUFFIXES, TAR_SUFFIXES

        path = os.fspath(value)
        if os.path.isfile(path) and not path.lower().endswith((".zip", *TAR_SUFFIXES, *ARRAY_SUFFIXES)) and not is_image_name(path):
            raise InputError(f"{escape(path)}: not an image, nor a folder, archive or array of images (a paired "
                             f"metric scores images, not features)")
        items, source = list_inputs([path])
        if not items:
            raise InputError(f"{escape(os.fspath(value))}: no images found")
        reader = Reader()
        ids = [_pair_id(item, os.fspath(value)) for item in items]
        if any(item.kind == "array" for item in items):
            first = reader.handle(items[0])
            dtype = np.asarray(first[0]).dtype
            read = _array_reader(lambda i: np.asarray(reader.handle(items[i])[items[i].member]))
        else:
            dtype = np.dtype(np.uint8)  # decoded with PIL convert("RGB"), as every image input
            read = lambda i: reader.read(items[i])  # noqa: E731
        return Side(_unique(ids, os.fspath(value)), read, dtype, escape(os.fspath(value)), source)
    array = np.asarray(value)
    if array.ndim not in (3, 4) or not array.size:
        raise UsageError(f"{what}: expected an (N, H, W) or (N, H, W, C) array, got shape {array.shape}")
    return Side([str(i) for i in range(len(array))], _array_reader(lambda i: array[i]), array.dtype,
                f"{what} array", f"{what} array")


def _pair_id(item, arg: str) -> str:
    """A folder's file: its relative path; an archive's member: its name; a glob's match: its path below the
    pattern's first wildcard's folder; each without its extension. An array's row: its index."""
    import glob

    if item.kind == "array":
        return str(item.member)
    if item.kind in ("zip", "tar"):
        name = str(item.member)
    elif os.path.isdir(arg):
        name = item.id
    elif glob.has_magic(arg):
        fixed = []
        for part in arg.split(os.sep):
            if glob.has_magic(part):
                break
            fixed.append(part)
        name = os.path.relpath(item.path, os.sep.join(fixed) or ".")
    else:
        name = os.path.basename(item.path)
    return os.path.splitext(name.replace(os.sep, "/"))[0]


def _array_reader(row):
    def read(i: int) -> np.ndarray:
        image = np.asarray(row(i))
        return image[..., None] if image.ndim == 2 else image

    return read


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


def score_pairs(metric: str, gen, ref, score, *, data_range, pairs, allow_unmatched, batch_size, device,
                per_item, bootstrap, seed, params: dict, summary=None, span_of=None, checked=None) -> Result:
    """Read and match both sets, ``score(x, y, span) -> (n,)`` on batches of pairs of one shape (float64
    ``(n, C, H, W)`` tensors), write ``per_item``, and return the mean, the counts and the bootstrap interval.
    ``span``: :func:`data_range_of` the inputs' type, or ``span_of(dtype)``; ``checked()`` runs once every pair is
    scored, before anything is written."""
    import torch

    a, b = _side(gen, "gen"), _side(ref, "ref")
    listed = read_pairs_file(pairs) if pairs is not None else None
    matched, unmatched_gen, unmatched_ref = match(a.ids, b.ids, listed, allow_unmatched, (a.label, b.label))
    if a.dtype != b.dtype:
        raise UsageError(f"{metric}: {a.label} holds {a.dtype.name} values and {b.label} {b.dtype.name}: give both "
                         f"sets in one type")
    span = span_of(a.dtype) if span_of is not None else data_range_of(a.dtype, data_range, metric)
    torch_device = torch.device(device)
    values = np.full(len(matched), np.nan)
    reasons = [""] * len(matched)
    groups: dict = {}
    for k, (i, j) in enumerate(matched):
        try:
            x = a.read(i)
        except ValueError as exc:
            reasons[k] = f"gen: {escape(str(exc))}"
            continue
        try:
            y = b.read(j)
        except ValueError as exc:
            reasons[k] = f"ref: {escape(str(exc))}"
            continue
        if x.shape != y.shape:
            raise InputError(f"{escape(a.ids[i])}: {_shape(x)} against its reference's {_shape(y)} "
                             f"({escape(b.ids[j])}); a pair must have one size")
        group = groups.setdefault(x.shape, [])
        group.append((k, x, y))
        if len(group) == batch_size:
            _flush(group, values, score, span, torch_device)
    for group in groups.values():
        _flush(group, values, score, span, torch_device)
    scored = ~np.isnan(values)
    if checked is not None:
        checked()
    if per_item is not None:
        _write_per_item(per_item, metric, [(a.ids[i], b.ids[j]) for i, j in matched], values, reasons)
    result = (summary or _mean)(metric, values[scored])
    result.update({"pairs_scored": int(scored.sum()), "pairs_failed": int((~scored).sum())})
    if allow_unmatched:
        result.update({"unmatched_gen": unmatched_gen, "unmatched_ref": unmatched_ref})
    if bootstrap:
        result.update(_bootstrap(metric, values[scored], bootstrap, seed))
    if (~scored).any():
        warn(f"{metric}: scored {int(scored.sum())} of {len(matched)} pairs; {int((~scored).sum())} failed "
             f"(first: {escape(a.ids[matched[int(np.flatnonzero(~scored)[0])][0]])}: "
             f"{reasons[int(np.flatnonzero(~scored)[0])]})")
    inputs = [{"path": s.source, "kind": "paired", "n": len(s.ids)} for s in (a, b)]
    settings = dict(params, **({"data_range": span} if span_of is None else {}))
    return Result(result, inputs, dict(settings, pairs=len(matched), bootstrap=bootstrap,
                                       seed=seed if bootstrap else None))


def _shape(image: np.ndarray) -> str:
    return "x".join(map(str, image.shape[:2])) + (f"x{image.shape[2]}" if image.ndim == 3 else "")


def _flush(group: list, values: np.ndarray, score, span: float, device) -> None:
    import torch

    if not group:
        return
    x = torch.from_numpy(np.stack([g[1] for g in group])).to(device, torch.float64).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.stack([g[2] for g in group])).to(device, torch.float64).permute(0, 3, 1, 2)
    values[[g[0] for g in group]] = score(x, y, span).cpu().numpy()
    group.clear()


def _mean(metric: str, values: np.ndarray) -> dict:
    if not len(values):
        raise InputError(f"{metric}: no pair could be scored")
    return {metric.replace("-", "_"): float(values.mean())}


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


DATA_RANGE = Option("data_range", None, "The span of the values: 255 for 8-bit images (taken from the type); "
                    "floats need it (1 for [0, 1], 2 for [-1, 1]). Never read off the data.", type=float, min=0,
                    default_text="255 for uint8")
PAIRS = Option("pairs", None, "A file of gen_id<TAB>ref_id lines: which reference each generated item is scored "
               "against (default: the item with the same id).", type=str, metavar="FILE.tsv")
ALLOW_UNMATCHED = Option("allow_unmatched", False, "Score the ids both sets hold and report how many of each "
                         "had no partner (default: an unmatched id is an error).")
PER_ITEM = Option("per_item", None, "Write id, ref_id, score and reason (a failed pair's) per pair to this TSV.",
                  type=str, metavar="FILE.tsv")
BOOTSTRAP = Option("bootstrap", 0, "Resample the pairs B times for a 95% percentile interval of the mean.", min=0)
PAIR_SEED = Option("seed", 0, "Seed of the bootstrap.", type=int)
BATCH = Option("batch_size", 50, "Pairs per batch.", min=1)
DEVICE = Option("device", "cpu", "Where to compute: cpu, cuda, cuda:N.", type=str)
SHARED = (DATA_RANGE, PAIRS, ALLOW_UNMATCHED, PER_ITEM, BOOTSTRAP, PAIR_SEED, BATCH, DEVICE)
CONVENTION = Option("preset", "wang", "The SSIM convention: wang (Gaussian 11x11, sigma 1.5, population covariance, "
                    "valid windows; skimage with gaussian_weights=True, use_sample_covariance=False; "
                    "pytorch-msssim), skimage (its defaults: uniform 7x7, sample covariance), torchmetrics "
                    "(Gaussian, reflect padding, whole-map mean).", type=str,
                    choices=("wang", "skimage", "torchmetrics"))


@register_metric(
    "ssim", inputs=PAIRED, metavar="GEN REF", paired=True, options=(CONVENTION, *SHARED),
    summary="SSIM (Wang et al. 2004) of each generated image against its own reference, matched by id; the mean "
            "over pairs.\n\nExample: gentools ssim recon/ originals/ --per-item ssim.tsv")
def ssim(gen, ref, *, preset, data_range, pairs, allow_unmatched, per_item, bootstrap, seed, batch_size,
         device) -> Result:
    """Mean SSIM over pairs matched by id (:mod:`gentools.metrics.paired`; ``preset``: wang, skimage or
    torchmetrics windows). Returns ``ssim``, ``pairs_scored``, ``pairs_failed`` (and the unmatched counts, the
    bootstrap interval ``ssim_ci_low``/``ssim_ci_high`` when asked)."""
    from gentools.metrics import paired

    side = paired.CONVENTIONS[preset].size

    def score(x, y, span):
        if min(x.shape[2:]) < side:
            raise InputError(f"ssim: a pair of {x.shape[2]}x{x.shape[3]} images; the {preset} window needs both "
                             f"sides at least {side} px")
        return paired.ssim(x, y, span, preset)

    return score_pairs("ssim", gen, ref, score,
                       data_range=data_range, pairs=pairs, allow_unmatched=allow_unmatched, batch_size=batch_size,
                       device=device, per_item=per_item, bootstrap=bootstrap, seed=seed, params={"preset": preset})


@register_metric(
    "ms-ssim", inputs=PAIRED, metavar="GEN REF", paired=True, options=SHARED,
    summary="MS-SSIM (Wang, Simoncelli & Bovik 2003) of each generated image against its own reference, as "
            "pytorch-msssim computes it; images need both sides over 160 px.\n\n"
            "Example: gentools ms-ssim recon/ originals/")
def ms_ssim(gen, ref, *, data_range, pairs, allow_unmatched, per_item, bootstrap, seed, batch_size,
            device) -> Result:
    """Mean MS-SSIM over pairs matched by id (5 scales, pytorch-msssim's weights). Returns ``ms_ssim`` and the
    counts, as :func:`ssim`."""
    from gentools.metrics import paired

    smallest = paired.ms_ssim_min_side()

    def score(x, y, span):
        if min(x.shape[2:]) < smallest:
            raise InputError(f"ms-ssim: a pair of {x.shape[2]}x{x.shape[3]} images; MS-SSIM's 4 halvings need both "
                             f"sides at least {smallest} px", hint="use gentools ssim for small images")
        return paired.ms_ssim(x, y, span)

    return score_pairs("ms-ssim", gen, ref, score, data_range=data_range, pairs=pairs,
                       allow_unmatched=allow_unmatched, batch_size=batch_size, device=device, per_item=per_item,
                       bootstrap=bootstrap, seed=seed, params={"preset": "wang"})


def _psnr_summary(metric: str, values: np.ndarray) -> dict:
    """The mean over the pairs that differ; identical pairs (``inf``) counted apart, as no mean holds them."""
    finite = values[np.isfinite(values)]
    identical = int(len(values) - len(finite))
    if identical:
        warn(f"psnr: {identical} of {len(values)} pairs are identical (PSNR inf); the mean is over the other "
             f"{len(finite)}")
    if not len(finite):
        raise InputError(f"psnr: every one of the {len(values)} pairs is identical (PSNR inf)")
    return {"psnr": float(finite.mean()), "psnr_identical": identical}


@register_metric(
    "psnr", inputs=PAIRED, metavar="GEN REF", paired=True, options=SHARED,
    summary="PSNR of each generated image against its own reference, 10 log10(L^2 / MSE) per pair (skimage's "
            "peak_signal_noise_ratio), then the mean; identical pairs are counted apart.\n\n"
            "Example: gentools psnr recon/ originals/")
def psnr(gen, ref, *, data_range, pairs, allow_unmatched, per_item, bootstrap, seed, batch_size, device) -> Result:
    """Mean PSNR over pairs matched by id, per pair first (torchmetrics' default pools the batch's MSE instead).
    Returns ``psnr`` (over the pairs that differ), ``psnr_identical`` and the counts."""
    from gentools.metrics import paired

    return score_pairs("psnr", gen, ref, paired.psnr, data_range=data_range, pairs=pairs,
                       allow_unmatched=allow_unmatched, batch_size=batch_size, device=device, per_item=per_item,
                       bootstrap=bootstrap, seed=seed, params={}, summary=_psnr_summary)


def _pixel_range(text: Optional[str], dtype: np.dtype) -> tuple:
    """LPIPS' input range: 8-bit images are [0, 255]; floats must declare theirs, "0,1" or "-1,1"."""
    if np.dtype(dtype) == np.uint8:
        if text not in (None, "0,255"):
            raise UsageError(f"lpips: {option('pixel_range', text)} on 8-bit images, whose range is 0,255")
        return (0.0, 255.0)
    if text is None:
        raise UsageError("lpips: float inputs need pixel_range (0,1 or -1,1); LPIPS takes [-1, 1] and nothing in "
                         "the lpips package checks it")
    return {"0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0)}[text]


@register_metric(
    "lpips", inputs=PAIRED, metavar="GEN REF", paired=True,
    options=(Option("net", "alex", "The trunk: alex, vgg (vgg16) or squeeze (squeezenet1_1), as lpips.LPIPS(net=).",
                    type=str, choices=("alex", "vgg", "squeeze")),
             Option("weights", None, "The trunk's torchvision weights file (default: the caches, then the "
                    "published file, verified).", type=str, metavar="FILE"),
             Option("lin_weights", None, "The lin layers' file, lpips' weights/v0.1/NET.pth (default: an installed "
                    "lpips package, the caches, then the published file).", type=str, metavar="FILE"),
             Option("pixel_range", None, "The range of float inputs: 0,1 or -1,1 (8-bit images are 0,255). Values "
                    "outside it, and [0, 1] data declared -1,1, are refused.", type=str,
                    choices=("0,255", "0,1", "-1,1"), default_text="0,255 for uint8"),
             *(o for o in SHARED if o.name != "data_range")),
    summary="LPIPS v0.1 (Zhang et al. 2018) of each generated image against its own reference, matched by id: "
            "lpips.LPIPS(net=...) with the same trunk and lin weights; the mean over pairs.\n\n"
            "Example: gentools lpips recon/ originals/ --net alex --per-item lpips.tsv")
def lpips(gen, ref, *, net, weights, lin_weights, pixel_range, pairs, allow_unmatched, per_item, bootstrap, seed,
          batch_size, device) -> Result:
    """Mean LPIPS over pairs matched by id (:mod:`gentools.features.backbones.lpips`); inputs mapped to [−1, 1]
    from their range. Returns ``lpips`` and the counts, as :func:`ssim`."""
    import torch

    from gentools.features.backbones.lpips import load_lpips

    model, provenance = load_lpips(net, weights, lin_weights, torch.device(device))
    seen = {"min": np.inf}

    def score(x, y, span):
        low, high = span
        for values, side in ((x, "gen"), (y, "ref")) if span != (0.0, 255.0) else ():  # 8-bit: in range
            smallest, largest = (float(v) for v in torch.aminmax(values))
            if smallest < low or largest > high:
                raise InputError(f"lpips: {side} values reach [{smallest:.4g}, {largest:.4g}], outside the declared "
                                 f"pixel range [{low:g}, {high:g}]")
            seen["min"] = min(seen["min"], smallest)
        with torch.no_grad():  # to [-1, 1], channels-last as the model is
            scaled = [v.to(torch.float32, memory_format=torch.channels_last).mul_(2.0 / (high - low))
                      .add_(-1.0 - 2.0 * low / (high - low)) for v in (x, y)]
            return model(*scaled).double()

    def checked():
        if pixel_range == "-1,1" and seen["min"] >= 0:
            raise InputError("lpips: every value lies in [0, 1] though pixel_range is -1,1: images in [0, 1] given "
                             "as [-1, 1] score optimistically (nerfstudio #1424)", hint="pass pixel_range 0,1")

    return score_pairs("lpips", gen, ref, score, data_range=None, pairs=pairs, allow_unmatched=allow_unmatched,
                       batch_size=batch_size, device=device, per_item=per_item, bootstrap=bootstrap, seed=seed,
                       params=dict(provenance, pixel_range=pixel_range or "0,255"),
                       span_of=lambda dtype: _pixel_range(pixel_range, dtype), checked=checked)
