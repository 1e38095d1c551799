"""``gentools ref``: list the catalogue, pull a reference into the cache, make and verify your own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from gentools.errors import GentoolsError, ProvenanceError, UsageError
from gentools.inputs import InputLike, load, require_features
from gentools.refs import cache, catalogue, publish
from gentools.refs import pull as pulling


def ref_list() -> list:
    """The catalogue, one dict per entry (name, dataset, split, resolution, n, preset, format, URL, size, sha256,
    sources), each with ``pulled`` (in the cache now), then the references in the cache that are not in the
    catalogue (pulled by URL or made with :func:`ref_make`; ``catalogue`` false, fields from their record)."""
    try:
        cached = set(cache.cached_names())
    except GentoolsError:  # the cache is off: nothing is pulled
        cached = set()
    rows = [dict(row, pulled=row["name"] in cached, catalogue=True) for row in catalogue.table()]
    for name in sorted(cached - set(catalogue.CATALOGUE)):
        record = cache.read_record(name)
        manifest = cache.read_json(cache.entry_dir(name) / publish.MANIFEST, publish.MANIFEST) or {}
        n = manifest.get("n") if isinstance(manifest.get("n"), int) else catalogue.UNKNOWN
        rows.append({"name": name, "dataset": "", "split": "", "resolution": catalogue.UNKNOWN, "n": n, "rows": 0, "preset": record["preset"], "backbone": "", "resize": "",
                     "format": record["format"], "url": record["url"], "size": record["size"],
                     "sha256": record["sha256"], "md5": "", "sources": [], "pulled": True, "catalogue": False})
    return rows


def ref_pull(spec: str, *, sha256: Optional[str] = None, name: Optional[str] = None, mirror: Optional[str] = None,
             from_file: Optional[str] = None, progress=None, max_size: Optional[int] = None,
             timeout: Optional[float] = None) -> dict:
    """Pull a catalogue entry or a URL into the cache, verified (see :func:`gentools.refs.pull.pull`); then
    ``ref:NAME`` works wherever an input file does. Returns the record, with ``path``. ``max_size`` (bytes) and
    ``timeout`` (seconds) bound a download whose size the catalogue does not give."""
    return pulling.pull(spec, sha256=sha256, name=name, mirror=mirror, from_file=from_file, progress=progress,
                        max_size=max_size, timeout=timeout)


def ref_make(inputs: Sequence[InputLike], *, name: str, preset: Optional[str] = None, rows: int = 0,
             seed: Optional[int] = None, output: Optional[str] = None, force: bool = False) -> dict:
    """Publish a reference: ``stats.h5`` of the inputs (features pooled, stats merged exactly), with ``rows``
    also ``rows.h5`` (that many feature rows, a seeded uniform subset kept in input order, for KID/PRDC), and
    ``manifest.json`` (name, n, dim, provenance, version, each file's sha256). Into ``output``, or into the
    cache as ``ref:NAME`` (``ref:NAME:rows``). ``preset`` must match the features' backbone and resize. ``seed``
    (default 2020, as every other command) draws the rows."""
    from gentools import presets
    from gentools.api.stats import stats
    from gentools.store import write_features

    if catalogue.get(cache.check_name(name)) is not None:
        raise UsageError(f"--name {name} is a catalogue entry (the published file); name your own otherwise, "
                         f"e.g. lab/{name.rsplit('/', 1)[-1]}")
    items = [load(i) for i in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    result = stats(items, merge=True, force=force)
    if preset:
        chosen = presets.get(preset)
        for key, wanted in (("backbone", chosen.backbone), ("resize", chosen.resize)):
            have = result.provenance.get(key)
            if have != wanted and not force:
                raise ProvenanceError(f"--preset {preset} uses {key} '{wanted}', the inputs have '{have or 'none'}'",
                                      hint="extract with that preset, or --force")
    if rows < 0:
        raise UsageError(f"--rows {rows}: expected a count of at least 0")
    folder = Path(output) if output else cache.entry_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    with cache.locked(name):
        result.provenance = dict(result.provenance, preset=preset or result.provenance.get("preset", ""))
        result.save(str(folder / "stats.h5"))
        files = {"stats.h5": "stats"}
        if rows:
            features = _subset(require_features(items, "ref make --rows"), rows,
                               presets.DEFAULT.seed if seed is None else seed)
            write_features(str(folder / "rows.h5"), features, dict(result.provenance, count=rows, complete=True))
            files["rows.h5"] = "rows"
        manifest = publish.write_manifest(folder, name, files, result, preset or "")
        stats_file = manifest["files"]["stats.h5"]
        record = {"name": name, "file": "stats.h5", "rows_file": "rows.h5" if rows else None,
                  "sha256": stats_file["sha256"], "size": stats_file["size"],
                  "url": "", "format": "gentools", "preset": preset or "", "made": cache.now()}
        if not output:
            cache.write_json(folder / cache.RECORD, record)
    return dict(record, path=str(folder / "stats.h5"), manifest=str(folder / publish.MANIFEST), n=result.n, dim=result.dim)


def _subset(items: list, rows: int, seed: int) -> dict:
    """``rows`` rows drawn uniformly without replacement (``RandomState(seed)``) from the pooled inputs, kept in
    their order, with their ids where the inputs have them."""
    total = sum(item.n for item in items)
    if rows > total:
        raise UsageError(f"--rows {rows}: the inputs hold {total} rows")
    chosen = np.sort(np.random.RandomState(seed).choice(total, rows, replace=False))
    blocks, ids, start = [], [], 0
    for item in items:
        mine = chosen[(chosen >= start) & (chosen < start + item.n)] - start
        at = 0
        for block in item.chunks("features"):  # streamed: the inputs may not fit in memory, the subset does
            blocks.append(block[mine[(mine >= at) & (mine < at + len(block))] - at])
            at += len(block)
        item_ids = item.ids
        ids.extend([item_ids[i] for i in mine] if item_ids else [f"{item.label}[{i}]" for i in mine])
        start += item.n
    return {"features": np.concatenate(blocks), "ids": ids}


def ref_verify(target: str) -> list:
    """Re-hash a reference's files against its manifest (``NAME`` in the cache, a ``manifest.json`` or its folder),
    or a pulled file against its record and ``refs.lock``; one row per file, a mismatch raises."""
    return publish.verify(target)
