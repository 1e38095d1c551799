"""Inputs of the public API: a path, file bytes, a loaded object, or an array ``[N, D]`` (numpy or torch).

:func:`load` turns any of them into a :class:`Features` or :class:`Stats`
(or, for an EDM2 ``.pkl``, a :class:`StatsSet` that ``fid`` resolves);
:func:`open_pair` does what every two-set metric needs: load both, check the
kind, the feature dimension, the provenance guard (guarded keys: ``store.GUARDED_KEYS`` and each input kind's) and the minimum
number of rows.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from gentools import kinds, presets
from gentools.errors import InputError, ProvenanceError, option, warn
from gentools.refs import is_ref, open_ref
from gentools.store import GUARDED_KEYS, FeatureFile, Stats, open_input, provenance_differences
from gentools.store.pickles import StatsSet

Features = FeatureFile
InputLike = Union[str, os.PathLike, bytes, FeatureFile, Stats, StatsSet, np.ndarray, Any]  # Any: a torch.Tensor


def load(source: InputLike, allow_incomplete: bool = False, allow_sets: bool = False):
    """A :class:`Features` or :class:`Stats` from a path (HDF5, ``.npy``, ``.npz``, EDM2 ``.pkl`` with
    ``allow_sets``, torch-fidelity's cached ``.pt``), ``"ref:NAME"`` (a pulled reference;
    docs/references.md), file bytes, an already loaded object, an array ``[N, D]`` (numpy or torch), or
    statistics as ``(mu, sigma)`` or ``{"mu": ..., "sigma": ...}``."""
    if isinstance(source, (FeatureFile, Stats, StatsSet)):
        return source
    if is_ref(source):
        return open_ref(source, allow_sets)
    if isinstance(source, (str, os.PathLike, bytes)):
        return open_input(source if isinstance(source, bytes) else os.fspath(source), allow_incomplete, allow_sets)
    if isinstance(source, dict):
        return Stats.from_dict(source)
    if isinstance(source, tuple) and len(source) == 2:  # (mu, sigma)
        return Stats.from_dict({"mu": source[0], "sigma": source[1]})
    if hasattr(source, "detach") and hasattr(source, "cpu"):  # a torch tensor, without importing torch
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        return FeatureFile("<array>", {"features": source}, {})
    raise InputError(f"cannot use a {type(source).__name__} as features: give a path, a Features/Stats object, "
                     f"an array [N, D] or (mu, sigma)")


def require_features(items: Sequence, command: str) -> list:
    """Stats cannot serve where per-row features are needed."""
    for item in items:
        if item.kind != "features":
            raise InputError(f"is a stats file, but {command} needs per-row features ({item.label})")
    return list(items)


def check_compatible(items: Sequence, force: bool) -> None:
    """Same feature dimension, and the provenance guard over the guarded keys."""
    first = items[0]
    for other in items[1:]:
        if first.dim != other.dim:
            raise InputError(f"feature dimensions differ: {first.dim} ({first.label}) vs {other.dim} ({other.label})")
    bare = [item.label for item in items if not item.provenance.get("backbone")]
    if bare and len(items) > 1:
        warn(f"no provenance in {', '.join(bare)} (plain arrays or foreign stats): cannot check "
             "that the inputs come from the same network and preprocessing")
    for other in items[1:]:
        guard(first.provenance, first.label, other.provenance, other.label, force)


def guard(a: dict, a_label: str, b: dict, b_label: str, force: bool, what: str = "inputs",
          override: str = "--force") -> None:
    """The provenance guard: guarded keys that differ stop with an error naming both values, or with
    ``force`` give a warning."""
    keys = tuple(dict.fromkeys(GUARDED_KEYS + kinds.guarded_keys()))
    for key, va, vb in provenance_differences(a, b, keys, ignore_missing=True):
        message = f"{what} differ in {key}: '{va}' ({a_label}) vs '{vb}' ({b_label})"
        if not force:
            raise ProvenanceError(message, hint=f"numbers from mixed inputs are not comparable; {override} to "
                                                f"compute anyway")
        warn(f"{message} ({override})")


def check_preset(preset: Optional[str], items, force: bool, check_backbone: bool = True) -> None:
    """``--preset P`` on inputs extracted otherwise: each setting P assumes (:meth:`Preset.extraction`) that an
    input's provenance records otherwise stops with one line naming it and both values; ``force`` warns."""
    if not preset:
        return
    chosen = presets.get(preset)
    for item in items:
        for key, assumed, found in chosen.mismatches(getattr(item, "provenance", {}) or {}, check_backbone):
            message = (f"{option('preset', preset)} assumes features extracted with {key} '{assumed}'; "
                       f"{item.label} has {key} '{found}'")
            if not force:
                raise ProvenanceError(message, hint=f"extract with --preset {preset}, or {option('force', True)} "
                                                    f"to compute anyway")
            warn(f"{message} ({option('force', True)})")


def open_pair(gen: InputLike, ref: InputLike, command: str, force: bool = False, min_rows: int = 0,
              features: bool = True) -> tuple:
    """Load GEN and REF, require features (unless ``features=False``), check them against each other and
    require more than ``min_rows - 1`` rows on each side."""
    pair = [load(gen), load(ref)]
    if features:
        require_features(pair, command)
    check_compatible(pair, force)
    for item in pair:
        if item.n is not None and item.n < min_rows:
            raise InputError(f"{command} needs at least {min_rows} rows, have {item.n} ({item.label})")
    return pair[0], pair[1]


def describe(item) -> dict:
    """The ``inputs`` entry of the JSON envelope."""
    return {"path": item.label, "kind": item.kind, "n": item.n, "dim": item.dim, "provenance": item.provenance}
