"""EDM2 reference statistics: ``.pkl`` files ``{'fid': {'mu', 'sigma'}, 'fd_dinov2': {...}, 'num_images': n}``.

Written by EDM2's ``calculate_metrics.py ref`` (``pickle.dump(stats, f)`` of
``dict(num_images=..., fid=dict(mu=..., sigma=...), ...)``, sigma with
ddof=1). Nothing in the file runs: it is read by :mod:`gentools.store.unpickle`,
gentools' own opcode interpreter, which builds plain data and numeric numpy
arrays only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from gentools.errors import FormatError, InputError
from gentools.store.formats import entry_of, fadtk_model_of
from gentools.store.model import make_stats
from gentools.store.unpickle import PickleRefused, parse_pickle

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
            if self.tool == "fadtk":  # fadtk's name stands for this backbone and layer, of sound
                chosen.provenance = dict(chosen.provenance, backbone=backbone,
                                         layer=other_provenance.get("layer", ""), modality="audio")
            return chosen
        known = ("vggish: vggish, encodec-emb: encodec:24k, w2v2-base: hf:facebook/wav2vec2-base-960h, ..."
                 if self.tool == "fadtk"
                 else "fid: inception or nvidia:inception-*, fd_dinov2: dinov2:vitl14")
        raise InputError(f"no entry for backbone '{backbone or 'unknown'}' among {', '.join(sorted(self.entries))} "
                         f"({known}) ({self.label})")


def load_stats_pickle(data: bytes, label: str) -> StatsSet:
    """Parse an EDM2 statistics pickle into a :class:`StatsSet` of checked :class:`Stats` entries."""
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
