"""``gentools.Evaluator``: metrics of a generator's samples inside a training loop, against a reference file.

``update`` runs the same backbone and preprocessing as ``extract`` (pixels are
quantised to uint8 exactly as ``extract --generator`` does), so its features
equal ``extract``'s for the same pixels. Only what the chosen metrics need is
kept: FID keeps a streaming float64 :class:`FeatureStats` (and the rows while
there are fewer than dimensions, for the O(n²d) route); the other metrics keep
the float32 rows they read. Under torch.distributed every rank updates its share
and :meth:`compute` gives every rank the numbers of one process over all samples
(stats merged exactly, rows gathered in rank order). With NCCL each rank must
have called ``torch.cuda.set_device`` first: ``all_gather_object`` stages on
the current device.

Everything that can be known before sampling is checked when the Evaluator is
built (metric names, options and their types, what the backbone and the
reference can feed), so a mistake costs no sampling round.
"""

from __future__ import annotations

import time
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from gentools import kinds, memory, presets
from gentools.api import evaluator_checks as checks
from gentools.api.evaluator_pairs import PairTallies
from gentools.api.log import append_jsonl, envelope
from gentools.errors import GentoolsError, InputError, MetricsError, UsageError, option, warn
from gentools.inputs import InputLike, describe, load
from gentools.metrics.feature_stats import FeatureStats
from gentools.store import FeatureFile, Stats

PIXEL_RANGES = ((-1, 1), (0, 1))


class Evaluator:
    """Evaluate samples during training (docs/training.md)::

        ev = gentools.Evaluator("ref.h5", metrics={"fid": {}, "kid": {"subset_size": 1000}})
        ev.reset()
        for z in latents:
            ev.update(G(z))                    # [B, 3, H, W] uint8, or float in pixel_range; torch or numpy
        ev.log("run.jsonl", step=step, loss=loss.item())

    ``metrics``: a name, a list of names, or ``{name: {option: value}}`` with the options of the function of
    the same name ({metrics}). ``pixel_range``: ``(-1, 1)`` (default) or ``(0, 1)`` for float images and
    videos (``ToTensor()``, sigmoid decoders); with an audio backbone it is refused (waveforms are [-1, 1]).
    With an audio backbone the preset's 16-bit round trip applies as in ``extract`` (``preset="fadtk"``).
    ``frames`` / ``subsample``: with a video backbone, the clip each video
    is cut to (default the preset's, 16 and 1), as ``extract --frames --subsample``.

    The paired metrics (``ssim``, ``ms-ssim``, ``psnr``, ``lpips``; ``pesq``, ``stoi``, ``estoi``) score each
    output against its own target, ``update(recon, target=x)``, with running sums; they need no reference
    file or backbone (``Evaluator(metrics=["psnr", "ssim", "lpips"])``), and their options are their scorers'
    (``{"ssim": {"preset": "skimage"}, "lpips": {"net": "vgg"}}``; LPIPS' network is loaded here, on
    ``device``). Unknown metrics or options,
    options of the wrong type, a metric the backbone or the reference cannot feed, and a subset larger than the
    reference raise a one-line
    :class:`GentoolsError` here, not after sampling.
    """

    def __init__(self, ref: InputLike = None, metrics: Union[str, Sequence[str], Mapping[str, dict]] = ("fid",),
                 backbone: Optional[str] = None, weights: Optional[str] = None, resize: Optional[str] = None,
                 preset: Optional[str] = None, device: Optional[str] = None, force: bool = False,
                 pixel_range: Sequence[float] = (-1, 1), *, reference: InputLike = None,
                 frames: Optional[int] = None, subsample: Optional[int] = None):
        from gentools.api.extract import backbone_for
        from gentools.features.backbones.base import resolve_device

        if reference is not None:
            warn("Evaluator(reference=...) is now Evaluator(ref=...)")
            ref = reference if ref is None else ref
        self.metrics = checks.chosen(metrics)
        self._features = {name: chosen for name, chosen in self.metrics.items() if not chosen[0].paired}
        paired = {name: chosen for name, chosen in self.metrics.items() if chosen[0].paired}
        if tuple(pixel_range) not in PIXEL_RANGES:
            raise UsageError(f"Evaluator: {option('pixel_range', tuple(pixel_range))}: expected (-1, 1) or (0, 1)")
        self.pixel_range = tuple(pixel_range)
        self.preset = preset
        torch_device = resolve_device(device or "auto")
        self.reference, self.net, self.kind = None, None, None
        self.provenance = {"source": "evaluator"}
        if self._features:
            if ref is None:
                raise UsageError(f"Evaluator: {', '.join(self._features)} need a reference: "
                                 f"Evaluator(ref='ref.h5', ...)")
            self.reference = load(ref)
            parity = presets.get(preset)
            self.net = backbone_for(backbone, parity, weights, resize, False, torch_device)
            self.kind = kinds.of_net(self.net)
            self._batches = self.kind.adapter(self.net, parity, self.pixel_range, frames, subsample)
            self.provenance = {**self.net.provenance(), "source": "evaluator", "preset": preset or ""}
            checks.reference_guard(self.provenance, self.reference, force)
            self._check_feeds()
        else:
            given = [name for name, value in (("ref", ref), ("backbone", backbone), ("weights", weights),
                                              ("resize", resize), ("preset", preset), ("frames", frames),
                                              ("subsample", subsample)) if value is not None]
            if given:
                raise UsageError(f"Evaluator: {option(given[0])} feeds the metrics over stored features; "
                                 f"{', '.join(paired)} take each output's own target in update(x, target=y)")
        self._pairs = PairTallies(paired, torch_device, self.pixel_range) if paired else None
        if self._pairs is not None and self.kind is not None and kinds.named(self._pairs.modality) is not self.kind:
            raise UsageError(f"Evaluator: {', '.join(paired)} score {self._pairs.modality} and the backbone "
                             f"{self.net.name} takes {self.kind.name} inputs; one update() feeds both")
        self._warned_range = False
        self.reset()

    def _check_feeds(self) -> None:
        """A metric the backbone or the reference cannot feed is refused now, naming the fix."""
        needed = {name for metric, options in self._features.values() for name in checks.datasets(metric, options)}
        if needed - {"features"}:
            produced = set(checks.probe(self.net))
            for metric, options in self._features.values():
                missing = [d for d in checks.datasets(metric, options) if d not in produced]
                if missing:
                    raise UsageError(f"Evaluator: {metric.name} needs '{missing[0]}', which the backbone "
                                     f"{self.net.name} does not produce (it gives {', '.join(sorted(produced))})",
                                     hint="choose a classifier backbone such as inception" if missing[0] == "logits"
                                     else "")
        ref = self.reference
        for metric, options in self._features.values():
            if len(metric.inputs) < 2 or metric.inputs[1].optional:
                continue
            if metric.inputs[1].rows and ref.kind != "features":
                raise UsageError(f"Evaluator: {metric.name} needs the reference's per-row features, and {ref.label} "
                                 f"holds stats", hint="give a features file (gentools extract) as the reference")
            if options.get("per_class") and (ref.kind != "features" or ref.labels is None):
                raise UsageError(f"Evaluator: {metric.name} with {option('per_class', True)} needs labels in the "
                                 f"reference ({ref.label})", hint="extract it with --labels or --classes")
            if metric.check_reference is not None:
                resolved = {o.name: options.get(o.name, o.default) for o in metric.options}
                try:
                    metric.check_reference(resolved, ref, options.get("preset", self.preset))
                except InputError as exc:
                    raise UsageError(f"Evaluator: {exc.message}", hint=exc.hint) from None

    def reset(self) -> None:
        """Start a new round: forget every sample seen."""
        self._stats: Optional[FeatureStats] = None
        self._rows: dict = {}
        self._labels: list = []
        self._ids: list = []  # kinds of many rows per input (audio): each row's input, for per-file statistics
        self._inputs = 0  # images, waveforms or videos seen
        self._started = time.perf_counter()
        if self._pairs is not None:
            self._pairs.reset()

    @property
    def n(self) -> int:
        """Samples (images, waveforms, videos, texts or pairs) seen since :meth:`reset` on this rank."""
        return self._inputs

    def update(self, images, labels=None, sample_rate: Optional[int] = None, *, target=None) -> None:
        """Add a batch ``[B, 3, H, W]`` (or ``[B, 1, H, W]``, repeated to 3 channels), torch or numpy: uint8, or
        float in ``pixel_range`` quantised as ``extract --generator`` does (``x * 127.5 + 128`` for [-1, 1],
        clamped, truncated). With an audio backbone, waveforms ``[B, T]`` or ``[B, C, T]`` floats in [-1, 1] at
        ``sample_rate`` Hz, through the mono, resampling and framing of ``extract`` (one row per frame).
        With a video backbone, videos ``[B, T, C, H, W]`` (uint8, or floats in [-1, 1] quantised as StyleGAN-V
        does), each cut to one clip as ``extract`` cuts files (the preset's frames and subsample, from frame 0).
        ``labels``: one per image, waveform or video (kept for per-class metrics). ``target``: each output's own
        reference, of the same shape and type, for the paired metrics (``ssim``, ``psnr``, ``lpips``, ``pesq``,
        ...; :mod:`gentools.api.evaluator_pairs`): images scored as they are (uint8 with data range 255, floats in
        ``pixel_range``), waveforms at ``sample_rate``. An empty batch adds nothing; bad input raises and changes
        nothing."""
        if (target is None) != (self._pairs is None):
            raise UsageError(f"Evaluator: {', '.join(self._pairs.scorers)} need each output's target: "
                             f"update(x, target=y)" if target is None else
                             "update(target=...) feeds the paired metrics (ssim, psnr, lpips, pesq, ...), and none "
                             "is chosen")
        scored = self._pairs.score(images, target, sample_rate) if self._pairs is not None else None
        if self._features:
            rows = self._batches.rows(images, sample_rate, self._inputs)  # the batch is checked, then run
            count = rows.consumed()
            labels = _labels_for(labels, count, self._batches.noun)
            if count == 0:  # an empty share (a rank with nothing left to do) adds nothing
                return
            row_labels = None if labels is None else [labels[p] for p in rows.positions]
            self._add(rows.arrays, row_labels)
            if self.kind.rows_per_input:
                self._ids += rows.ids
        else:
            if labels is not None:
                raise UsageError("update(labels=...): labels feed the per-class metrics over features; the paired "
                                 "metrics take none")
            count = len(images)
        if scored is not None:
            self._pairs.add(scored)
        self._inputs += count

    def _add(self, rows: dict, labels) -> None:
        """Accumulate one batch's rows (statistics, and the rows the metrics read)."""
        features = rows["features"]
        if self._streams_stats():
            if self._stats is None:
                memory.require_covariance(features.shape[1], "the Evaluator's FID statistics")
                self._stats = FeatureStats(dim=features.shape[1])
            self._stats.append(features)
        for name in self._kept(features.shape[1]):
            if name in rows:
                self._rows.setdefault(name, []).append(rows[name])
        if "features" in self._rows and not self._needs_rows() and len(self._labels) + len(features) > features.shape[1]:
            del self._rows["features"]  # more rows than dimensions: FID's d x d route needs only the stats
        self._labels += labels if labels is not None else [""] * len(features)

    def _streams_stats(self) -> bool:
        """Whether a metric registered with ``evaluator="stats"`` (FID) is chosen: the running mean and scatter
        are kept for it, not the rows."""
        return any(metric.evaluator == "stats" for metric, _ in self._features.values())

    def _needs_rows(self) -> bool:
        """Whether a metric reads the rows: a ``rows`` one, per class, or a ``stats`` one on another route than
        the running statistics (fadtk's FAD: per-file statistics; the FVD routes: the first rows)."""
        return any(options.get("per_class") or metric.evaluator == "rows" and "features" in metric.datasets
                   or metric.evaluator == "stats"
                   and presets.get(options.get("preset", self.preset)).frechet_route != "exact"
                   for metric, options in self._features.values())

    def _kept(self, dim: int) -> set:
        kept = set()
        rows = len(self._labels)
        if self._needs_rows() or (self._streams_stats() and rows < dim and (rows == 0 or "features" in self._rows)):
            kept.add("features")
        for metric, options in self._features.values():
            kept |= set(checks.datasets(metric, options)) - {"features"}
        return kept

    def compute(self) -> dict:
        """Every chosen metric over all samples since :meth:`reset` (all ranks), named as the API names them.
        A metric that cannot run does not take the others down: a :class:`MetricsError` names it and carries
        the other values in ``.partial``."""
        values, failures = self._compute_features() if self._features else ({}, {})
        if self._pairs is not None:
            paired, paired_failures = self._pairs.compute()
            self._total = paired["pairs"]
            if not self._total:
                raise InputError("no samples: call update(x, target=y) before compute()")
            values.update(paired)
            failures.update(paired_failures)
        if failures:
            failed = "; ".join(f"{name}: {exc}" for name, exc in failures.items())
            done = f" (the other values are in .partial: {', '.join(values)})" if values else ""
            raise MetricsError(f"{failed}{done}", values, failures)
        return values

    def _compute_features(self) -> tuple:
        """``(values, failures)`` of the metrics over features."""
        stats, rows, labels = _gathered(self._stats, self._rows, self._labels)
        self._total = len(labels)
        if not labels:
            raise InputError("no samples: call update() before compute()")
        gen, with_rows = None, "features" in rows
        if rows:
            arrays = {name: np.concatenate(parts) for name, parts in rows.items()}
            if any(labels):
                arrays["labels"] = np.asarray(labels, dtype=object)
            if self._ids and with_rows and len(self._ids) == len(labels):
                arrays["ids"] = np.asarray(self._ids, dtype=object)
            if not with_rows:  # logits alone (is): a features file needs its features dataset, none is read
                arrays["features"] = np.zeros((len(labels), 0), np.float32)
            gen = FeatureFile("<evaluator>", arrays, dict(self.provenance, count=len(labels)))
        values: dict = {}
        failures: dict = {}
        for name, (metric, options) in self._features.items():
            options = dict(options)
            if "preset" in metric.keywords and self.preset and "preset" not in options:
                options["preset"] = self.preset
            streamed = metric.evaluator == "stats" and not options.get("per_class")
            inputs = [_stats_of(stats, self.provenance) if streamed and not with_rows else gen]
            if len(metric.inputs) > 1 and not metric.inputs[1].optional:
                inputs.append(self.reference)
            try:
                values.update(metric(*inputs, **options))
            except GentoolsError as exc:
                failures[name] = exc
        return values, failures

    def log(self, path, step: Optional[int] = None, tags: Optional[dict] = None, **scalars) -> dict:
        """Append one JSONL line, the ``--append`` envelope: the metric values plus ``scalars`` (``loss=...``,
        ``grad_norm=...``), tagged with ``step``. Under torch.distributed only rank 0 writes. Returns the values.
        When a metric fails, the line holds the others (its ``params.failed`` names the failure) and the
        :class:`MetricsError` is raised after it is written."""
        from gentools.api.log import as_scalar, tags_of
        from gentools.features.distributed import rank

        tags = tags_of(step, tags)
        failure = None
        try:
            values = self.compute()
        except MetricsError as exc:
            failure, values = exc, dict(exc.partial)
        values.update({name: as_scalar(value) for name, value in scalars.items()})
        if rank() == 0:
            params = {"metrics": {name: options for name, (_, options) in self.metrics.items()}, "n": self._total,
                      **({"paired": self._pairs.settings()} if self._pairs is not None else {})}
            if failure is not None:
                params["failed"] = {name: str(exc) for name, exc in failure.failures.items()}
            inputs = [describe(self.reference)] if self.reference is not None else []
            record = envelope("evaluate", values, inputs, params, tags,
                              time.perf_counter() - self._started)
            append_jsonl(path, record)
        if failure is not None:
            raise failure
        return values


def _labels_for(labels, count: int, what: str):
    """``update(labels=...)`` as texts, one per input, or None."""
    from gentools.text import label_texts

    if labels is None:
        return None
    try:
        labels = label_texts(labels)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"update(labels=...): {exc}") from None
    if len(labels) != count:
        raise InputError(f"{len(labels)} labels for {count} {what}")
    return labels


def _stats_of(stats: FeatureStats, provenance: dict) -> Stats:
    mu, sigma = stats.mean_cov()
    return Stats(mu, sigma, stats.n, "<evaluator>", provenance=provenance)


def _gathered(stats: Optional[FeatureStats], rows: dict, labels: list):
    """This rank's state, or under torch.distributed every rank's, merged in rank order (the same on every rank):
    stats by Chan's exact pairwise merge, rows and labels concatenated; rows some rank dropped are dropped."""
    from gentools.features.distributed import caller_ranks

    ranks = caller_ranks()
    if ranks is None or ranks.world == 1:
        return stats, rows, labels
    parts = ranks.all_gather((stats, {k: np.concatenate(v) for k, v in rows.items()}, labels))
    merged_stats = None
    for part_stats, _, _ in parts:
        if part_stats is not None:
            merged_stats = FeatureStats(dim=part_stats.dim) if merged_stats is None else merged_stats
            merged_stats.merge(part_stats)
    names = set.intersection(*(set(p[1]) for p in parts if p[2])) if any(p[2] for p in parts) else set()
    merged_rows = {name: [p[1][name] for p in parts if name in p[1]] for name in sorted(names)}
    return merged_stats, merged_rows, [label for p in parts for label in p[2]]


def _evaluator_doc() -> None:
    names = ", ".join(f"``{name}``" for name in checks.evaluable())
    Evaluator.__doc__ = Evaluator.__doc__.replace("{metrics}", names)


_evaluator_doc()
