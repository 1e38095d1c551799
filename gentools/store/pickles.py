"""EDM2 reference statistics: ``.pkl`` files ``{'fid': {'mu', 'sigma'}, 'fd_dinov2': {...}, 'num_images': n}``.

Written by EDM2's ``calculate_metrics.py ref`` (``pickle.dump(stats, f)`` of
``dict(num_images=..., fid=dict(mu=..., sigma=...), ...)``, sigma with
ddof=1). Nothing in the file runs: it is read by :mod:`gentools.store.unpickle`,
gentools' own opcode interpreter, which builds plain data and numeric numpy
arrays only.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

import numpy as np

from gentools.errors import FormatError, InputError
from gentools.store.unpickle import PickleRefused, parse_pickle

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
# Which entry serves which backbone (EDM2's metric_specs: 'fid' = Inception, 'fd_dinov2' = dinov2_vitl14).
ENTRY_OF_BACKBONE = (("inception", "fid"), ("nvidia:inception", "fid"), ("dinov2:vitl14", "fd_dinov2"))


# fadtk's stats files (``fadtk/stats/*.npz``, read by ``FrechetAudioDistance.load_stats``) key each model's
# statistics by its ModelLoader name: ``data[f'{self.ml.name}.mu']``, ``data[f'{self.ml.name}.cov']``.
# The names, from fadtk 1.1.0's model_loader.py: ``super().__init__("vggish", 128, 16000, min_len=1)``,
# ``'encodec-emb' if variant == '24k'``, ``super().__init__(f"clap-laion-{type}", 512, 48000)``, and for
# W2V2Model / HuBERTModel / WavLMModel
# ``f"w2v2-{size}" + ("" if (layer == 12 and size == 'base') or (layer == 24 and size == 'large') else f"-{layer}")``
# with ``huggingface_id = f"facebook/wav2vec2-{size}-960h"`` (``hubert-``: ``facebook/hubert-{size}-ls960``;
# ``wavlm-``: ``patrickvonplaten/wavlm-libri-clean-100h-{size}``, base-plus' last layer 12). Whisper has none:
# fadtk keeps decoder positions, ``hf:`` the encoder's hidden states.
FADTK_MODEL_OF_BACKBONE = (("vggish", "vggish"), ("encodec:24k", "encodec-emb"),
                           ("clap:laion-audio", "clap-laion-audio"), ("clap:laion-music", "clap-laion-music"))
FADTK_HF_MODELS = (("facebook/wav2vec2-{size}-960h", "w2v2-{size}", ("base", "large")),
                   ("facebook/hubert-{size}-ls960", "hubert-{size}", ("base", "large")),
                   ("patrickvonplaten/wavlm-libri-clean-100h-{size}", "wavlm-{size}", ("base", "base-plus", "large")))


def fadtk_model_of(backbone: str, layer: str = "") -> str | None:
    """fadtk's model name for a gentools audio backbone and its ``layer`` provenance (``hidden_states[L]`` for
    ``hf:``): the key prefix in fadtk's stats files; None where fadtk has no such model."""
    if backbone in dict(FADTK_MODEL_OF_BACKBONE):
        return dict(FADTK_MODEL_OF_BACKBONE)[backbone]
    match = re.fullmatch(r"hidden_states\[(\d+)\]", layer)
    for hub_id, name, sizes in FADTK_HF_MODELS:
        for size in sizes:
            if match and backbone == "hf:" + hub_id.format(size=size):
                last = 24 if size == "large" else 12
                number = int(match[1])
                return name.format(size=size) + ("" if number == last else f"-{number}")
    return None


def entry_of(backbone: str) -> str | None:
    """The EDM2 key of a backbone's statistics (``nvidia:inception...`` is NVIDIA's Inception detector file)."""
    for prefix, entry in ENTRY_OF_BACKBONE:
        if backbone == prefix or (prefix.startswith("nvidia:") and backbone.startswith(prefix)):
            return entry
    return None


@dataclass
class StatsSet:
    """Several named statistics of one image set (EDM2 ``.pkl``); :meth:`pick` chooses one by backbone."""

    entries: dict  # name -> Stats
    label: str
    n: int | None = None
    provenance: dict = field(default_factory=dict)
    tool: str = "edm2"  # or "fadtk": a fadtk stats npz, entries named by fadtk's model names
    kind = "stats-set"

    def pick(self, other_provenance: dict):
        """The entry that matches the other input's ``backbone``; a one-line error when none does."""
        backbone = str(other_provenance.get("backbone", ""))
        entry = (fadtk_model_of(backbone, str(other_provenance.get("layer", ""))) if self.tool == "fadtk"
                 else entry_of(backbone))
        if entry in self.entries:
            chosen = self.entries[entry]
            if self.tool == "fadtk":  # fadtk's name stands for this backbone and layer
                chosen.provenance = dict(chosen.provenance, backbone=backbone,
                                         layer=other_provenance.get("layer", ""))
            return chosen
        known = ("vggish: vggish, encodec-emb: encodec:24k, w2v2-base: hf:facebook/wav2vec2-base-960h, ..."
                 if self.tool == "fadtk"
                 else "fid: inception or nvidia:inception-*, fd_dinov2: dinov2:vitl14")
        raise InputError(f"no entry for backbone '{backbone or 'unknown'}' among {', '.join(sorted(self.entries))} "
                         f"({known}) ({self.label})")


def is_pickle(head: bytes) -> bool:
    return head[:2] in PICKLE_MAGIC


def load_stats_pickle(data: bytes, label: str, make_stats) -> StatsSet:
    """Parse an EDM2 statistics pickle; ``make_stats(mu, sigma, n, label)`` builds each entry."""
    try:
        obj = parse_pickle(data)
    except PickleRefused as exc:
        raise FormatError(f"pickle refused: {exc}; only dicts, lists, numbers, strings and numeric numpy arrays "
                          f"are read, and nothing in it was run ({label})") from None
    except (UnicodeError, struct.error, RecursionError, MemoryError) as exc:
        raise FormatError(f"corrupt pickle ({type(exc).__name__}); nothing in it was run ({label})") from None
    if not isinstance(obj, dict):
        raise FormatError(f"pickle holds a {type(obj).__name__}, expected EDM2 statistics (a dict) ({label})")
    n = obj.get("num_images")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2):
        raise FormatError(f"num_images is {str(n)[:40]!r}; expected an integer of at least 2 ({label})")
    entries = {}
    for name, value in obj.items():
        if isinstance(value, dict) and {"mu", "sigma"} <= set(value):
            for key in ("mu", "sigma"):
                if not isinstance(value[key], np.ndarray):
                    raise FormatError(f"'{name}' {key} is a {type(value[key]).__name__}, expected a numpy array "
                                      f"({label})")
            entries[name] = make_stats(value["mu"], value["sigma"], None if n is None else int(n), f"{label}:{name}")
    if not entries:
        raise FormatError(f"pickle has no {{'mu', 'sigma'}} entries (EDM2 reference statistics) ({label})")
    return StatsSet(entries, label, None if n is None else int(n))
