"""``gentools.Evaluator``: metrics of a generator's samples inside a training loop, against a reference file.

``update`` runs the same backbone and preprocessing as ``extract`` (pixels are
quantised to uint8 exactly as ``extract --generator`` does), so its features
equal ``extract``'s for the same pixels. Only what the chosen metrics need is
kept: FID alone keeps a streaming float64 :class:`FeatureStats`; kid, prdc
and cmmd keep the float32 features; is keeps the logits. Under
torch.distributed every rank updates its share and :meth:`compute` gives every
rank the numbers of one process over all samples (stats merged exactly,
features gathered in rank order). With NCCL each rank must have called
``torch.cuda.set_device`` first: ``all_gather_object`` stages on the current device.
"""

from __future__ import annotations

import time
import warnings
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from gentools import presets
from gentools.api.log import append_jsonl, envelope
from gentools.errors import GentoolsWarning, InputError, UsageError
from gentools.metrics.feature_stats import FeatureStats
from gentools.inputs import InputLike, describe, guard, load
from gentools.store import FeatureFile, Stats

METRICS = ("fid", "kid", "prdc", "is", "cmmd")
ROUNDING = 1e-6  # floats may overshoot [-1, 1] by this much (tanh/clamp rounding)


class Evaluator:
    """Evaluate samples during training (SPEC §8)::

        ev = gentools.Evaluator("ref.h5", metrics={"fid": {}, "kid": {"subset_size": 1000}})
        ev.reset()
        for z in latents:
            ev.update(G(z))                    # [B, 3, H, W] uint8, or float in [-1, 1]; any device
        ev.log("run.jsonl", step=step, loss=loss.item())
    """

    def __init__(self, reference: InputLike, metrics: Union[Sequence[str], Mapping[str, dict]] = ("fid",),
                 backbone: Optional[str] = None, weights: Optional[str] = None, resize: Optional[str] = None,
                 preset: Optional[str] = None, device: Optional[str] = None, force: bool = False):
        from gentools.api.extract import backbone_for
        from gentools.features.backbones.base import resolve_device

        self.metrics = {name: dict(options) for name, options in
                        (metrics.items() if isinstance(metrics, Mapping) else ((m, {}) for m in metrics))}
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or not self.metrics:
            raise UsageError(f"metrics {unknown or '[]'}: expected some of {', '.join(METRICS)}")
        self.reference = load(reference)
        self.preset = preset
        self.net = backbone_for(backbone, presets.get(preset), weights, resize, False, resolve_device(device or "auto"))
        self.provenance = {**self.net.provenance(), "source": "evaluator", "preset": preset or ""}
        _guard(self.provenance, self.reference, force)
        self.reset()

    def reset(self) -> None:
        """Start a new round: forget every sample seen."""
        self._stats: Optional[FeatureStats] = None
        self._rows: dict = {}
        self._labels: list = []
        self._started = time.perf_counter()

    @property
    def n(self) -> int:
        """Samples seen since :meth:`reset` on this rank."""
        return len(self._labels)

    def update(self, images, labels=None) -> None:
        """Add a batch ``[B, 3, H, W]`` (or ``[B, 1, H, W]``, repeated to 3 channels): uint8, or float in
        [-1, 1] quantised as ``extract --generator`` does (``x * 127.5 + 128``, clamped, truncated).
        ``labels``: one per image (kept for per-class metrics). An empty batch adds nothing; bad input raises and
        changes nothing."""
        from gentools.features.pipeline import uint8_features
        from gentools.generators import to_uint8_images
        from gentools.text import label_texts

        _check_batch(images)
        if labels is not None:
            try:
                labels = label_texts(labels)
            except (ValueError, TypeError, UnicodeDecodeError) as exc:
                raise InputError(f"update(labels=...): {exc}") from None
            if len(labels) != len(images):
                raise InputError(f"{len(labels)} labels for {len(images)} images")
        if len(images) == 0:  # an empty share (a rank with nothing left to do) adds nothing
            return
        rows = uint8_features(self.net, to_uint8_images(images.detach()).cpu())
        features = rows["features"]
        if "fid" in self.metrics:
            if self._stats is None:
                self._stats = FeatureStats(dim=features.shape[1])
            self._stats.append(features)
        for name in self._kept():
            if name in rows:
                self._rows.setdefault(name, []).append(rows[name])
        self._labels += labels if labels is not None else [""] * len(features)

    def _kept(self) -> set:
        per_class = any(options.get("per_class") for options in self.metrics.values())
        kept = {"features"} if per_class or {"kid", "prdc", "cmmd"} & set(self.metrics) else set()
        return kept | ({"logits"} if "is" in self.metrics else set())

    def compute(self) -> dict:
        """Every chosen metric over all samples since :meth:`reset` (all ranks), named as the API names them."""
        import gentools

        stats, rows, labels = _gathered(self._stats, self._rows, self._labels)
        self._total = len(labels)
        if not labels:
            raise InputError("no samples: call update() before compute()")
        gen = None
        if rows:
            arrays = {name: np.concatenate(parts) for name, parts in rows.items()}
            if any(labels):
                arrays["labels"] = np.asarray(labels, dtype=object)
            gen = FeatureFile("<evaluator>", arrays, dict(self.provenance, count=len(labels)))
        values: dict = {}
        for name, options in self.metrics.items():
            if name == "fid" and options.get("per_class"):
                values.update(gentools.fid(gen, self.reference, preset=self.preset, **options))
            elif name == "fid":
                mu, sigma = stats.mean_cov()
                values.update(gentools.fid(Stats(mu, sigma, stats.n, "<evaluator>", provenance=self.provenance),
                                           self.reference, preset=self.preset, **options))
            elif name == "is":
                values.update(gentools.inception_score(gen, preset=self.preset, **options))
            else:
                values.update(getattr(gentools, name)(gen, self.reference, **_with_preset(name, self.preset, options)))
        return values

    def log(self, path, step: Optional[int] = None, tags: Optional[dict] = None, **scalars) -> dict:
        """Append one JSONL line, the ``--append`` envelope: the metric values plus ``scalars`` (``loss=...``,
        ``grad_norm=...``), tagged with ``step``. Under torch.distributed only rank 0 writes. Returns the values."""
        from gentools.api.log import as_scalar, tags_of

        values = self.compute()
        values.update({name: as_scalar(value) for name, value in scalars.items()})
        if _rank() == 0:
            params = {"metrics": self.metrics, "n": self._total}
            record = envelope("evaluate", values, [describe(self.reference)], params, tags_of(step, tags),
                              time.perf_counter() - self._started)
            append_jsonl(path, record)
        return values


def _with_preset(name: str, preset: Optional[str], options: dict) -> dict:
    return dict(options, preset=preset) if name in ("kid", "prdc") and preset else dict(options)


def _guard(provenance: dict, reference, force: bool) -> None:
    """The provenance guard between the network and the reference file."""
    if not reference.provenance.get("backbone"):
        warnings.warn(f"no provenance in {reference.label}: cannot check that it comes from the same network and "
                      "preprocessing", GentoolsWarning, stacklevel=3)
        return
    guard(provenance, "the evaluator's network", reference.provenance, reference.label, force,
          what="the network and the reference", override="force=True")


def _check_batch(images) -> None:
    """One-line errors for what ``update`` cannot take: not a tensor, rank/channels, range, NaN/Inf."""
    import torch

    if not isinstance(images, torch.Tensor):
        raise InputError(f"update() takes a torch tensor [B, 3, H, W], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise InputError(f"update() takes images [B, 3, H, W] (or [B, 1, H, W]), got shape {list(images.shape)}")
    if images.dtype == torch.uint8 or images.numel() == 0:
        return
    if not images.is_floating_point():
        raise InputError(f"update() takes uint8 or float images, got {images.dtype}")
    if not bool(torch.isfinite(images).all()):
        raise InputError("update(): the images hold NaN or Inf values")
    low, high = float(images.min()), float(images.max())
    if low < -1 - ROUNDING or high > 1 + ROUNDING:
        raise InputError(f"update(): float images must lie in [-1, 1], these span [{low:.4g}, {high:.4g}]",
                         hint="pass uint8 images, or scale to [-1, 1]")


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _gathered(stats: Optional[FeatureStats], rows: dict, labels: list):
    """This rank's state, or under torch.distributed every rank's, merged in rank order (the same on every rank):
    stats by Chan's exact pairwise merge, feature rows and labels concatenated."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return stats, rows, labels
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (stats, {k: np.concatenate(v) for k, v in rows.items()}, labels))
    merged_stats = None
    for part_stats, _, _ in parts:
        if part_stats is not None:
            merged_stats = FeatureStats(dim=part_stats.dim) if merged_stats is None else merged_stats
            merged_stats.merge(part_stats)
    names = {name for p in parts for name in p[1]}
    merged_rows = {name: [p[1][name] for p in parts if name in p[1]] for name in sorted(names)}
    return merged_stats, merged_rows, [label for p in parts for label in p[2]]
