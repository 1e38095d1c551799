"""Joining feature files: extraction shards (``--shard i/n``) or plain parts."""

from __future__ import annotations

import numpy as np

from gentools.errors import InputError
from gentools.store import (CLIP_KEYS, GUARDED_KEYS, ROW_DATASETS, STORED_ROWS, FeatureFile, id_runs, many_rows_per_input,
                            provenance_differences)

# Attributes that must agree between shards of one extraction.
_SHARD_KEYS = GUARDED_KEYS + CLIP_KEYS + ("source", "input_size")


def parse_shard(value: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    try:
        i, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise InputError(f"bad shard '{value}', expected i/n") from None
    if not 0 <= i < n:
        raise InputError(f"bad shard '{value}': need 0 <= i < n")
    return i, n


def merge_feature_files(files: list[FeatureFile]) -> tuple[dict, dict]:
    """Rows of all ``files`` in original order -> ``(arrays, provenance)``.

    Shards (attribute ``shard = "i/n"``) are interleaved back: row ``r`` of shard
    ``i`` is row ``i + r*n`` of the whole. Files without a shard attribute are
    concatenated in the order given. Mixing the two, gaps, overlaps, or
    differing source/backbone/weights/resize are errors naming the files.
    """
    first = files[0]
    for other in files[1:]:
        for key, a, b in provenance_differences(first.provenance, other.provenance, _SHARD_KEYS)[:1]:
            raise InputError(f"cannot merge: {key} differs: '{a}' ({first.label}) vs '{b}' ({other.label})")
    names = [name for name in ROW_DATASETS if all(f.has(name) for f in files)]
    shards = [f.provenance.get("shard") or "" for f in files]
    if all(shards):
        parts = {name: [_rows(f, name) for f in files] for name in names}
        many = many_rows_per_input(first.provenance)
        if many or any(_skipped_at(f) for f in files):
            # An input is a run of rows with one id (or one row): runs are put back around the skipped inputs.
            runs = [id_runs(ids) if many else [(r, r + 1) for r in range(len(ids))] for ids in parts["ids"]]
            slots = [_input_slots(f, len(r)) for f, r in zip(files, runs)]
            order = _shard_order(files, shards, [len(r) + len(_skipped_at(f)) for f, r in zip(files, runs)])
            arrays = {name: _interleave_runs(parts[name], runs, order, slots) for name in names}
        else:
            order = _shard_order(files, shards, [f.n for f in files])
            arrays = {name: _interleave(parts[name], order) for name in names}
    elif any(shards):
        raise InputError("cannot merge shard files with non-shard files: "
                         + ", ".join(f"{f.label} (shard '{s}')" for f, s in zip(files, shards)))
    else:
        arrays = {name: np.concatenate([_rows(f, name) for f in files]) for name in names}
    skipped = [s for f in files for s in (f.raw("skipped") if f.has("skipped") else [])]
    if skipped:
        arrays["skipped"] = np.array(skipped, dtype=object)
    provenance = dict(first.provenance, shard="", count=int(len(arrays["features"])))
    return arrays, provenance


def _rows(f: FeatureFile, name: str) -> np.ndarray:
    return f.raw(name) if name in STORED_ROWS else f.array(name)


def _shard_order(files: list[FeatureFile], shards: list[str], counts: list[int]) -> list[int]:
    """Each file's shard index, once the shards are checked to be one whole split; ``counts``: each file's
    inputs (rows, or an audio file's runs of rows)."""
    parsed = [parse_shard(s) for s in shards]
    totals = {n for _, n in parsed}
    if len(totals) != 1:
        raise InputError("cannot merge: shards of different splits: " + ", ".join(shards))
    total = totals.pop()
    seen = {}
    for f, (i, _) in zip(files, parsed):
        if i in seen:
            raise InputError(f"cannot merge: shard {i}/{total} given twice ({seen[i]}, {f.label})")
        seen[i] = f.label
    missing = sorted(set(range(total)) - set(seen))
    if missing:
        raise InputError(f"cannot merge: missing shard(s) {', '.join(f'{i}/{total}' for i in missing)}")
    order = [i for i, _ in parsed]
    sizes = {i: count for count, (i, _) in zip(counts, parsed)}
    whole = sum(sizes.values())
    for i, size in sizes.items():
        expected = len(range(i, whole, total))
        if size != expected:
            raise InputError(f"cannot merge: shard {i}/{total} has {size} rows, expected {expected} "
                             f"of {whole} ({seen[i]})")
    return order


def _interleave(parts: list[np.ndarray], order: list[int]) -> np.ndarray:
    total = len(parts)
    whole = sum(len(p) for p in parts)
    out = np.empty((whole, *parts[0].shape[1:]), dtype=parts[0].dtype)
    for part, i in zip(parts, order):
        out[i::total] = part
    return out


def _skipped_at(f: FeatureFile) -> list:
    """The positions (in the shard's inputs) of the inputs the shard skipped, when the file records them."""
    at = f.raw("skipped_at") if f.has("skipped_at") else None
    skipped = f.raw("skipped") if f.has("skipped") else []
    if at is None or len(at) != len(skipped):
        return []
    return sorted(int(p) for p in at)


def _input_slots(f: FeatureFile, count: int) -> list:
    """The position in the shard's inputs of each of its ``count`` runs of rows: the positions not skipped."""
    skipped = set(_skipped_at(f))
    slots = [p for p in range(count + len(skipped)) if p not in skipped]
    return slots[:count]


def _interleave_runs(parts: list[np.ndarray], runs: list[list], order: list[int], slots: list[list]) -> np.ndarray:
    """Runs of rows put back in input order: the run at input ``s`` of shard ``i`` is input ``i + s*n``."""
    total = len(parts)
    placed = sorted((i + slot[r] * total, k, start, stop) for k, (i, file_runs, slot) in
                    enumerate(zip(order, runs, slots)) for r, (start, stop) in enumerate(file_runs))
    return np.concatenate([parts[k][start:stop] for _, k, start, stop in placed]) if placed else parts[0][:0]
