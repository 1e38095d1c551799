"""EDM2 reference statistics: ``.pkl`` files ``{'fid': {'mu', 'sigma'}, 'fd_dinov2': {...}, 'num_images': n}``.

Written by EDM2's ``calculate_metrics.py ref`` (``pickle.dump(stats, f)`` of
``dict(num_images=..., fid=dict(mu=..., sigma=...), ...)``, sigma with
ddof=1). They are read through a restricted unpickler: only the opcodes of
dicts, lists, tuples, numbers and strings, plus the few numpy callables that
rebuild an array (``_reconstruct``, ``_frombuffer`` for protocol 5,
``ndarray``, ``dtype``, ``scalar``, and ``_codecs.encode`` for protocol-2
bytes) are admitted. Any other global is
refused before it is called, so nothing in a hostile pickle runs.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field

from gentools.errors import FormatError, InputError

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}
# Which entry serves which backbone (EDM2's metric_specs: 'fid' = Inception, 'fd_dinov2' = dinov2_vitl14).
ENTRY_OF_BACKBONE = (("inception", "fid"), ("nvidia:", "fid"), ("dinov2:vitl14", "fd_dinov2"))


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


@dataclass
class StatsSet:
    """Several named statistics of one image set (EDM2 ``.pkl``); :meth:`pick` chooses one by backbone."""

    entries: dict  # name -> Stats
    label: str
    n: int | None = None
    provenance: dict = field(default_factory=dict)
    kind = "stats-set"

    def pick(self, other_provenance: dict):
        """The entry that matches the other input's ``backbone``; a one-line error when none does."""
        backbone = str(other_provenance.get("backbone", ""))
        for prefix, entry in ENTRY_OF_BACKBONE:
            if (backbone == prefix or (prefix.endswith(":") and backbone.startswith(prefix))) and entry in self.entries:
                return self.entries[entry]
        raise InputError(f"no entry for backbone '{backbone or 'unknown'}' among {', '.join(sorted(self.entries))} "
                         f"(fid: inception or nvidia:, fd_dinov2: dinov2:vitl14) ({self.label})")


def is_pickle(head: bytes) -> bool:
    return head[:2] in PICKLE_MAGIC


def load_stats_pickle(data: bytes, label: str, make_stats) -> StatsSet:
    """Parse an EDM2 statistics pickle; ``make_stats(mu, sigma, n, label)`` builds each entry."""
    try:
        obj = _Restricted(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise FormatError(f"pickle refused: {exc}; only dicts, lists, numbers, strings and numpy arrays are "
                          f"read, and nothing in it was run ({label})") from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt pickles raise many kinds
        raise FormatError(f"cannot read pickle: {type(exc).__name__}: {exc} ({label})") from None
    if not isinstance(obj, dict):
        raise FormatError(f"pickle holds a {type(obj).__name__}, expected EDM2 statistics (a dict) ({label})")
    n = obj.get("num_images")
    n = int(n) if isinstance(n, (int, float)) else None
    entries = {name: make_stats(value["mu"], value["sigma"], n, f"{label}:{name}")
               for name, value in obj.items() if isinstance(value, dict) and {"mu", "sigma"} <= set(value)}
    if not entries:
        raise FormatError(f"pickle has no {{'mu', 'sigma'}} entries (EDM2 reference statistics) ({label})")
    return StatsSet(entries, label, n)
