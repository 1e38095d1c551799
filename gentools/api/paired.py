"""The paired family: each generated item scored against its own reference, the two matched by id.

``gentools ssim``, ``ms-ssim``, ``psnr``, ``lpips``, ``pesq``, ``stoi`` and ``estoi`` (and ``gentools.ssim``,
...): one registration each, whose ``paired`` is the metric's scorer factory (:class:`~gentools.api.pairing.Scorer`).
The command and the API function read GEN and REF (folders, archives, globs or arrays) through
:mod:`gentools.api.pairing`, which matches them by id, scores the pairs and reports; ``Evaluator(metrics=[...])
.update(x, target=y)`` feeds the same scorer batches from a training loop (:mod:`gentools.api.evaluator_pairs`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from gentools.api._common import Result
from gentools.api.pairing import Scorer, score_pairs
from gentools.api.pairing_sound import score_each
from gentools.api.registry import GEN, Input, Option, register_metric
from gentools.errors import InputError, UsageError, option, warn

REF = Input("ref", "Reference set (each generated item's own reference, matched by id)")
PAIRED = (GEN, REF)

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


# How each metric scores a pair, whoever feeds it: the command's files or the Evaluator's batches
# (``Evaluator(metrics=[...]).update(x, target=y)``, whose options are these functions' keywords).

def ssim_scorer(preset: str = "wang") -> Scorer:
    """SSIM under the ``preset`` convention on batches of one size; an image smaller than the window refused."""
    from gentools.metrics import paired

    if preset not in paired.CONVENTIONS:
        raise UsageError(f"ssim: {option('preset', preset)}: expected one of {', '.join(paired.CONVENTIONS)}")
    side = paired.CONVENTIONS[preset].size

    def score(x, y, span):
        if min(x.shape[2:]) < side:
            raise InputError(f"ssim: a pair of {x.shape[2]}x{x.shape[3]} images; the {preset} window needs both "
                             f"sides at least {side} px")
        return paired.ssim(x, y, span[1] - span[0], preset)

    return Scorer({"preset": preset}, score)


def ms_ssim_scorer() -> Scorer:
    """MS-SSIM (5 scales); a pair under 161 px refused."""
    from gentools.metrics import paired

    smallest = paired.ms_ssim_min_side()

    def score(x, y, span):
        if min(x.shape[2:]) < smallest:
            raise InputError(f"ms-ssim: a pair of {x.shape[2]}x{x.shape[3]} images; MS-SSIM's 4 halvings need both "
                             f"sides at least {smallest} px", hint="use gentools ssim for small images")
        return paired.ms_ssim(x, y, span[1] - span[0])

    return Scorer({"preset": "wang"}, score)


def psnr_scorer() -> Scorer:
    """PSNR per pair; identical pairs (inf) counted apart."""
    from gentools.metrics import paired

    return Scorer({}, lambda x, y, span: paired.psnr(x, y, span[1] - span[0]), identical=True)


def lpips_scorer(net: str = "alex", weights: Optional[str] = None, lin_weights: Optional[str] = None,
                 device="cpu") -> Scorer:
    """LPIPS with its network loaded once (on ``device``); values outside the declared range refused, and a set
    wholly in [0, 1] declared [-1, 1]."""
    import torch

    from gentools.features.backbones.lpips import load_lpips

    if net not in ("alex", "vgg", "squeeze"):
        raise UsageError(f"lpips: {option('net', net)}: expected alex, vgg or squeeze")
    model, provenance = load_lpips(net, weights, lin_weights, torch.device(device))

    def score(x, y, span):
        low, high = span
        for values, side in ((x, "gen"), (y, "ref")) if span != (0.0, 255.0) else ():  # 8-bit: in range
            smallest, largest = (float(v) for v in torch.aminmax(values))
            if smallest < low or largest > high:
                raise InputError(f"lpips: {side} values reach [{smallest:.4g}, {largest:.4g}], outside the declared "
                                 f"pixel range [{low:g}, {high:g}]")
        with torch.no_grad():  # to [-1, 1], channels-last as the model is; gray repeated to RGB
            scaled = [v.expand(-1, 3, -1, -1).to(torch.float32, memory_format=torch.channels_last)
                      .mul_(2.0 / (high - low)).add_(-1.0 - 2.0 * low / (high - low)) for v in (x, y)]
            return model(*scaled).double()

    def checked(span, smallest):
        if span == (-1.0, 1.0) and smallest is not None and smallest >= 0:
            raise InputError("lpips: every value lies in [0, 1] though pixel_range is -1,1: images in [0, 1] given "
                             "as [-1, 1] score optimistically (nerfstudio #1424)", hint="pass pixel_range 0,1")

    return Scorer(provenance, score, checked=checked)


def pesq_scorer(mode: str = "wb") -> Scorer:
    """PESQ through the ``pesq`` package at 16 kHz (wb) or 8 kHz (nb; 16 kHz inputs as they are)."""
    import functools

    from gentools.metrics import speech

    if mode not in ("wb", "nb"):
        raise UsageError(f"pesq: {option('mode', mode)}: expected wb or nb")
    _require("pesq", "pesq")
    return Scorer({"mode": mode}, function=functools.partial(speech.pesq, mode=mode),
                  rate_of=lambda rate: 16000 if mode == "wb" else (rate if rate in (8000, 16000) else 8000))


def stoi_scorer() -> Scorer:
    """STOI through pystoi, at the reference's rate (pystoi resamples to 10 kHz itself)."""
    return _stoi_scorer("stoi", False)


def estoi_scorer() -> Scorer:
    """ESTOI through pystoi's ``stoi(extended=True)``."""
    return _stoi_scorer("estoi", True)


def _stoi_scorer(metric: str, extended: bool) -> Scorer:
    import functools

    from gentools.metrics import speech

    _require("pystoi", metric)
    return Scorer({"extended": extended}, function=functools.partial(speech.stoi, extended=extended),
                  rate_of=lambda rate: rate)


@register_metric(
    "ssim", inputs=PAIRED, metavar="GEN REF", paired=ssim_scorer, evaluator="pairs", options=(CONVENTION, *SHARED),
    summary="SSIM (Wang et al. 2004) of each generated image against its own reference, matched by id; the mean "
            "over pairs.\n\nExample: gentools ssim recon/ originals/ --per-item ssim.tsv")
def ssim(gen, ref, *, preset, data_range, pairs, allow_unmatched, per_item, bootstrap, seed, batch_size,
         device) -> Result:
    """Mean SSIM over pairs matched by id (:mod:`gentools.metrics.paired`; ``preset``: wang, skimage or
    torchmetrics windows). Returns ``ssim``, ``pairs_scored``, ``pairs_failed`` (and the unmatched counts, the
    bootstrap interval ``ssim_ci_low``/``ssim_ci_high`` when asked)."""
    return score_pairs("ssim", gen, ref, ssim_scorer(preset), data_range=data_range, pairs=pairs,
                       allow_unmatched=allow_unmatched, batch_size=batch_size, device=device, per_item=per_item,
                       bootstrap=bootstrap, seed=seed)


@register_metric(
    "ms-ssim", inputs=PAIRED, metavar="GEN REF", paired=ms_ssim_scorer, evaluator="pairs", options=SHARED,
    summary="MS-SSIM (Wang, Simoncelli & Bovik 2003) of each generated image against its own reference, as "
            "pytorch-msssim computes it; images need both sides over 160 px.\n\n"
            "Example: gentools ms-ssim recon/ originals/")
def ms_ssim(gen, ref, *, data_range, pairs, allow_unmatched, per_item, bootstrap, seed, batch_size,
            device) -> Result:
    """Mean MS-SSIM over pairs matched by id (5 scales, pytorch-msssim's weights). Returns ``ms_ssim`` and the
    counts, as :func:`ssim`."""
    return score_pairs("ms-ssim", gen, ref, ms_ssim_scorer(), data_range=data_range, pairs=pairs,
                       allow_unmatched=allow_unmatched, batch_size=batch_size, device=device, per_item=per_item,
                       bootstrap=bootstrap, seed=seed)


@register_metric(
    "psnr", inputs=PAIRED, metavar="GEN REF", paired=psnr_scorer, evaluator="pairs", options=SHARED,
    summary="PSNR of each generated image against its own reference, 10 log10(L^2 / MSE) per pair (skimage's "
            "peak_signal_noise_ratio), then the mean; identical pairs are counted apart.\n\n"
            "Example: gentools psnr recon/ originals/")
def psnr(gen, ref, *, data_range, pairs, allow_unmatched, per_item, bootstrap, seed, batch_size, device) -> Result:
    """Mean PSNR over pairs matched by id, per pair first (torchmetrics' default pools the batch's MSE instead).
    Returns ``psnr`` (over the pairs that differ), ``psnr_identical`` and the counts."""
    return score_pairs("psnr", gen, ref, psnr_scorer(), data_range=data_range, pairs=pairs,
                       allow_unmatched=allow_unmatched, batch_size=batch_size, device=device, per_item=per_item,
                       bootstrap=bootstrap, seed=seed)


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
    "lpips", inputs=PAIRED, metavar="GEN REF", paired=lpips_scorer, evaluator="pairs",
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
    return score_pairs("lpips", gen, ref, lpips_scorer(net, weights, lin_weights, device), data_range=None,
                       pairs=pairs, allow_unmatched=allow_unmatched, batch_size=batch_size, device=device,
                       per_item=per_item, bootstrap=bootstrap, seed=seed,
                       span_of=lambda dtype: _pixel_range(pixel_range, dtype))


SPEECH = (Option("sample_rate", None, "The rate of waveform arrays (sound files carry their own).", type=int, min=1,
                 cli=False),
          Option("workers", None, "Processes scoring pairs (default: one per core; 0: this process).", type=int,
                 min=0, default_text="cores"),
          *(o for o in SHARED if o.name not in ("data_range", "batch_size", "device")))


def _workers(workers: Optional[int]) -> int:
    import os

    return (os.cpu_count() or 1) if workers is None else workers


def _require(module: str, metric: str, extra: str = "paired") -> None:
    """``import module``, or one usage line naming the extra that installs it."""
    try:
        __import__(module)
    except ImportError:
        raise UsageError(f"{metric} needs the '{module}' package: pip install 'gentools[{extra}]'"
                         + (" (it builds from source: a C compiler is needed)" if module == "pesq" else "")) from None


@register_metric(
    "pesq", inputs=PAIRED, metavar="GEN REF", paired=pesq_scorer, evaluator="pairs",
    options=(Option("mode", "wb", "wb: wide band (P.862.2, at 16 kHz); nb: narrow band (P.862, at 8 kHz, or 16 kHz "
                    "files as they are).", type=str, choices=("wb", "nb")), *SPEECH),
    summary="PESQ (ITU-T P.862 / P.862.2) of each generated recording against its own reference, matched by id, "
            "through the pesq package; inputs resampled to 16 kHz (wb) or 8 kHz (nb) with gentools' Kaiser-sinc "
            "resampler; a pair PESQ cannot score is NaN with its reason.\n\n"
            "Example: gentools pesq enhanced/ clean/ --mode wb --per-item pesq.tsv")
def pesq(gen, ref, *, mode, sample_rate, workers, pairs, allow_unmatched, per_item, bootstrap, seed) -> Result:
    """Mean PESQ MOS-LQO over pairs matched by id (:func:`gentools.metrics.speech.pesq`). Returns ``pesq`` and
    the counts, as :func:`ssim`."""
    return score_each("pesq", gen, ref, pesq_scorer(mode), pairs=pairs, allow_unmatched=allow_unmatched,
                      per_item=per_item, bootstrap=bootstrap, seed=seed, workers=_workers(workers),
                      sample_rate=sample_rate)


@register_metric(
    "stoi", inputs=PAIRED, metavar="GEN REF", paired=stoi_scorer, evaluator="pairs", options=SPEECH,
    summary="STOI (Taal et al. 2011) of each generated recording against its own clean reference, matched by id, "
            "through pystoi (which resamples to 10 kHz itself); a pair with under 30 frames after silence removal "
            "is NaN with its reason, not pystoi's 1e-5.\n\nExample: gentools stoi enhanced/ clean/")
def stoi(gen, ref, *, sample_rate, workers, pairs, allow_unmatched, per_item, bootstrap, seed) -> Result:
    """Mean STOI over pairs matched by id (:func:`gentools.metrics.speech.stoi`)."""
    return score_each("stoi", gen, ref, stoi_scorer(), pairs=pairs, allow_unmatched=allow_unmatched,
                      per_item=per_item, bootstrap=bootstrap, seed=seed, workers=_workers(workers),
                      sample_rate=sample_rate)


@register_metric(
    "estoi", inputs=PAIRED, metavar="GEN REF", paired=estoi_scorer, evaluator="pairs", options=SPEECH,
    summary="Extended STOI (Jensen & Taal 2016) of each generated recording against its own clean reference, "
            "matched by id, through pystoi's stoi(extended=True).\n\nExample: gentools estoi enhanced/ clean/")
def estoi(gen, ref, *, sample_rate, workers, pairs, allow_unmatched, per_item, bootstrap, seed) -> Result:
    """Mean ESTOI over pairs matched by id (:func:`gentools.metrics.speech.stoi` with ``extended``)."""
    return score_each("estoi", gen, ref, estoi_scorer(), pairs=pairs, allow_unmatched=allow_unmatched,
                      per_item=per_item, bootstrap=bootstrap, seed=seed, workers=_workers(workers),
                      sample_rate=sample_rate)
