"""The paired metrics of ``gentools.Evaluator``: ``update(x, target=y)`` scores each output against its own
target with the metric's :class:`~gentools.api.pairing.Scorer` (the one the command uses) and keeps running sums,
not the pairs: per metric the sum of the finite scores, how many there were, the infinite ones (PSNR of identical
pairs) and the failed ones (NaN, with the first reason), and for float images the smallest value seen.

Images ``[B, C, H, W]``: uint8 (data range 255, as 8-bit files) or floats in the Evaluator's ``pixel_range``
(the data range its span), scored as they are; the commands give the same values on the same pixels written to
PNG (uint8) or to ``.npy`` with ``--data-range`` / ``--pixel-range``. Sounds ``[B, T]`` or ``[B, C, T]`` floats
(channels averaged, as files are read) at ``sample_rate``, resampled as the commands resample.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from gentools.api.pairing import Scorer, summary
from gentools.api.pairing_sound import rate_settings, to_rate
from gentools.errors import GentoolsError, InputError, UsageError, option, warn
from gentools.text import escape


def scorer_options(metric) -> list:
    """The keywords of ``metric``'s scorer factory the Evaluator takes (``device`` is the Evaluator's)."""
    import inspect

    return [name for name in inspect.signature(metric.paired).parameters if name != "device"]


class PairTallies:
    """The running sums of the chosen paired metrics (``{name: (Metric, options)}``), all of images or all of
    sounds; the scorers (LPIPS' network among them) are built once, here, on ``device``."""

    def __init__(self, chosen: dict, device, pixel_range: tuple):
        import inspect

        self.scorers: dict = {}
        for name, (metric, options) in chosen.items():
            takes_device = "device" in inspect.signature(metric.paired).parameters
            self.scorers[name] = metric.paired(**options, **({"device": device} if takes_device else {}))
        kinds = {name: scorer.modality for name, scorer in self.scorers.items()}
        if len(set(kinds.values())) > 1:
            by_kind: dict = {}
            for name, kind in kinds.items():
                by_kind.setdefault(kind, []).append(name)
            clash = " and ".join(f"{', '.join(names)} score {kind}" for kind, names in by_kind.items())
            raise UsageError(f"Evaluator: {clash}; one Evaluator's update(x, target=y) feeds one of them")
        first = next(iter(self.scorers.values()))
        self.modality, self.sound, self.texts = first.modality, first.sound, first.texts is not None
        self.device, self.pixel_range = device, tuple(float(v) for v in pixel_range)
        self.reset()

    def reset(self) -> None:
        self.tallies = {name: [0.0, 0, 0, 0, ""] for name in self.scorers}  # sum, finite, infinite, failed, reason
        self.smallest: Optional[float] = None
        self.rates: set = set()
        self.corpus: tuple = ([], [])  # the texts' metrics score the corpus at once: hypotheses, references
        self.signatures: dict = {}  # sacrebleu's, from the last compute()

    def score(self, x, y, sample_rate: Optional[int]) -> tuple:
        """The batch's scores ``({name: (values, reasons)}, smallest, rates)``, nothing kept yet (a bad batch
        raises and changes nothing): see :meth:`add`."""
        if self.sound:
            return self._score_sounds(x, y, sample_rate)
        if self.texts:
            from gentools.features.texts import checked_list

            return checked_list(x, "update()"), _references(y, len(x)), None
        if sample_rate is not None:
            raise UsageError(f"update(sample_rate=...): {', '.join(self.scorers)} score images")
        return self._score_images(x, y)

    def add(self, scored: tuple) -> None:
        """Fold a batch :meth:`score` gave into the sums."""
        if self.texts:
            self.corpus[0].extend(scored[0])
            self.corpus[1].extend(scored[1])
            return
        values_of, smallest, rates = scored
        for name, (values, reasons) in values_of.items():
            tally = self.tallies[name]
            finite = values[np.isfinite(values)]
            tally[0] += float(finite.sum())
            tally[1] += len(finite)
            tally[2] += int(np.isinf(values).sum())
            failed = np.flatnonzero(np.isnan(values))
            tally[3] += len(failed)
            if len(failed) and not tally[4]:
                tally[4] = reasons[failed[0]]
        if smallest is not None:
            self.smallest = smallest if self.smallest is None else min(self.smallest, smallest)
        self.rates |= rates

    def compute(self) -> tuple:
        """``(values, failures)`` over every rank's pairs: ``pairs`` (seen), each metric's mean as its command
        names it (``psnr_identical`` too), ``NAME_failed`` for the speech metrics (a warning names the first
        failure's reason); a metric that cannot give a value (no pair scored) is in ``failures``."""
        from gentools.features.distributed import caller_ranks

        if self.texts:
            return self._compute_texts()
        tallies, smallest = self.tallies, self.smallest
        ranks = caller_ranks()
        if ranks is not None and ranks.world > 1:
            parts = ranks.all_gather((tallies, smallest))
            tallies = {name: [sum(p[0][name][k] for p in parts) for k in range(4)]
                       + [next((p[0][name][4] for p in parts if p[0][name][4]), "")] for name in tallies}
            lows = [p[1] for p in parts if p[1] is not None]
            smallest = min(lows) if lows else None
        values: dict = {}
        failures: dict = {}
        for name, scorer in self.scorers.items():
            total, finite, infinite, failed, reason = tallies[name]
            values["pairs"] = finite + infinite + failed
            if failed:
                warn(f"{name}: scored {finite + infinite} of {finite + infinite + failed} pairs; {failed} failed "
                     f"(first: {reason})")
            try:
                if scorer.checked is not None:
                    scorer.checked(self.pixel_range, smallest)
                values.update(summary(name, scorer, total, finite, infinite))
            except GentoolsError as exc:
                failures[name] = exc
            if scorer.sound:
                values[f"{name.replace('-', '_')}_failed"] = failed
        return values, failures

    def _compute_texts(self) -> tuple:
        """The corpus over every rank's texts (gathered in rank order), as the commands score it."""
        from gentools.features.distributed import caller_ranks

        hypotheses, references = self.corpus
        ranks = caller_ranks()
        if ranks is not None and ranks.world > 1:
            parts = ranks.all_gather(self.corpus)
            hypotheses = [h for p in parts for h in p[0]]
            references = [r for p in parts for r in p[1]]
        values: dict = {"pairs": len(hypotheses)}
        failures: dict = {}
        for name, scorer in self.scorers.items():
            if not hypotheses:
                failures[name] = InputError(f"{name}: no pair could be scored")
                continue
            scores, _, settings = scorer.texts(hypotheses, references)
            for message in settings.pop("messages", []):
                warn(f"{name}: {escape(message)}")
            values.update(scores)
            if "signature" in settings:
                self.signatures[name] = settings["signature"]
        return values, failures

    def settings(self) -> dict:
        """Each metric's scorer settings, and the rates and resampler for sounds."""
        return {name: dict(scorer.params, **(rate_settings(self.rates) if self.sound else {}),
                           **({"signature": self.signatures[name]} if name in self.signatures else {}))
                for name, scorer in self.scorers.items()}

    def _score_images(self, x, y) -> tuple:
        import torch

        x, y = (_image_batch(v, self.pixel_range, what) for v, what in ((x, "update()"), (y, "update(target=...)")))
        if x.shape != y.shape or x.dtype != y.dtype:
            raise InputError(f"update(x, target=y): x is {x.dtype} {list(x.shape)} and target {y.dtype} "
                             f"{list(y.shape)}; each output and its target must have one size and type")
        if not len(x):
            return {}, None, set()
        span = (0.0, 255.0) if x.dtype == torch.uint8 else self.pixel_range
        x64, y64 = (v.detach().to(self.device, torch.float64) for v in (x, y))
        scored = {name: (scorer.score(x64, y64, span).cpu().numpy().astype(np.float64), [""] * len(x))
                  for name, scorer in self.scorers.items()}
        smallest = None if x.dtype == torch.uint8 else float(torch.minimum(x64.min(), y64.min()))
        return scored, smallest, set()

    def _score_sounds(self, x, y, sample_rate: Optional[int]) -> tuple:
        if not sample_rate:
            raise UsageError(f"update(waveforms, target=..., sample_rate=SR): {', '.join(self.scorers)} need the "
                             f"waveforms' sample rate")
        x, y = (_waveforms(v, what) for v, what in ((x, "update()"), (y, "update(target=...)")))
        if len(x) != len(y):
            raise InputError(f"update(x, target=y): {len(x)} waveforms against {len(y)} targets")
        scored: dict = {name: (np.full(len(x), math.nan), [""] * len(x)) for name in self.scorers}
        rates = set()
        for name, scorer in self.scorers.items():
            values, reasons = scored[name]
            for k, (generated, reference) in enumerate(zip(x, y)):
                generated, reference, rate = to_rate(scorer, generated, int(sample_rate), reference,
                                                     int(sample_rate))
                rates.add((int(sample_rate), int(sample_rate), rate))
                values[k], reasons[k] = scorer.function(reference, generated, rate)
        return scored, None, rates


def _references(references, count: int) -> list:
    """Each output's references: a text, or a list of texts (several references)."""
    if isinstance(references, str) or not isinstance(references, (list, tuple)):
        raise InputError(f"update(target=...) takes a list of references (texts, or lists of texts), got "
                         f"{escape(type(references).__name__)}")
    from gentools.features.texts import checked_references

    if len(references) != count:
        raise InputError(f"update(x, target=y): {count} texts against {len(references)} references")
    return [checked_references(entry, f"update(target=...)[{i}]") for i, entry in enumerate(references)]


def _image_batch(images, pixel_range: tuple, what: str):
    """``images`` as a torch tensor ``[B, C, H, W]`` (C 1 or 3), uint8 or finite floats in ``pixel_range``."""
    import torch

    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise InputError(f"{what} takes a torch tensor or numpy array [B, 3, H, W], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise InputError(f"{what} takes images [B, 3, H, W] (or [B, 1, H, W]), got shape {list(images.shape)}")
    if images.dtype == torch.uint8 or not images.numel():
        return images
    if not images.is_floating_point():
        raise InputError(f"{what} takes uint8 or float images, got {images.dtype}")
    if not bool(torch.isfinite(images).all()):
        raise InputError(f"{what}: the images hold NaN or Inf values")
    low, high = (float(v) for v in torch.aminmax(images))
    if low < pixel_range[0] or high > pixel_range[1]:
        raise InputError(f"{what}: float images must lie in [{pixel_range[0]:g}, {pixel_range[1]:g}] "
                         f"({option('pixel_range', tuple(pixel_range))}), these span [{low:.4g}, {high:.4g}]",
                         hint="clamp them, or choose pixel_range=(0, 1) or (-1, 1)")
    return images


def _waveforms(waveforms, what: str) -> list:
    """``[B, T]`` or ``[B, C, T]`` finite floats (torch or numpy) as B mono float64 arrays (channels averaged)."""
    import torch

    if isinstance(waveforms, torch.Tensor):
        waveforms = waveforms.detach().cpu().numpy()
    if not isinstance(waveforms, np.ndarray):
        raise InputError(f"{what} takes waveforms [B, T] as a torch tensor or numpy array, got "
                         f"{escape(type(waveforms).__name__)}")
    if waveforms.ndim not in (2, 3) or not np.issubdtype(waveforms.dtype, np.floating):
        raise InputError(f"{what} takes float waveforms [B, T] or [B, C, T], got {waveforms.dtype} "
                         f"{list(waveforms.shape)}")
    if not np.isfinite(waveforms).all():
        raise InputError(f"{what}: the waveforms hold NaN or Inf values")
    waveforms = waveforms.astype(np.float64)
    return list(waveforms.mean(axis=1) if waveforms.ndim == 3 else waveforms)


__all__ = ["PairTallies", "Scorer", "scorer_options"]
