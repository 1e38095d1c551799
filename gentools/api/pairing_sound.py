"""Sound pairs for the speech metrics (``pesq``, ``stoi``, ``estoi``): reading sound files or waveform arrays,
bringing each pair to the scorer's rate with gentools' Kaiser-sinc resampler, and scoring the pairs on worker
processes; matching and reporting are :mod:`gentools.api.pairing`'s."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from gentools.api._common import Result
from gentools.api.pairing import Scorer, Side, _read_pair, _report, _unique, match, read_pairs_file
from gentools.features.items import pair_id
from gentools.errors import InputError, UsageError, option
from gentools.text import escape


def sound_side(value, what: str, sample_rate: Optional[int]) -> Side:
    """A folder, archive or glob of sound files (paths), read as mono float64 (channels averaged) with each
    file's rate; or an ``(N, T)`` float array at ``sample_rate``. ``read(i)`` -> ``(waveform, rate)``."""
    if isinstance(value, (str, os.PathLike)):
        from gentools.features.audio import MAX_MEMBER_BYTES, decode, is_audio_name
        from gentools.features.images import list_inputs
        from gentools.features.items import MemberReader

        path = os.fspath(value)
        if os.path.isfile(path) and not path.lower().endswith((".zip", ".tar", ".tgz", ".gz")) \
                and not is_audio_name(path):
            raise InputError(f"{escape(path)}: not a sound file, nor a folder or archive of them")
        items, source = list_inputs([path], accept=is_audio_name, what="sound")
        if not items:
            raise InputError(f"{escape(path)}: no sound files found")
        members = MemberReader(MAX_MEMBER_BYTES)

        def read(i: int) -> tuple:
            import io

            item = items[i]
            data, rate = decode(item.path if item.kind == "file" else io.BytesIO(members.member(item)))
            return data.astype(np.float64).mean(axis=0), rate

        ids = [pair_id(item, path) for item in items]
        return Side(_unique(ids, path), read, np.dtype(np.float64), escape(path), source)
    array = np.asarray(value)
    if array.ndim != 2 or not array.size or not np.issubdtype(array.dtype, np.floating):
        raise UsageError(f"{what}: expected an (N, T) float array of waveforms, got {array.dtype} {array.shape}")
    if sample_rate is None:
        raise UsageError(f"{what}: waveform arrays need {option('sample_rate')}")
    return Side([str(i) for i in range(len(array))], lambda i: (np.asarray(array[i], np.float64), sample_rate),
                array.dtype, f"{what} array", f"{what} array")


def score_each(metric: str, gen, ref, scorer: Scorer, *, pairs, allow_unmatched, per_item, bootstrap, seed,
               workers, sample_rate) -> Result:
    """Sound pairs: read and match both sets, bring each pair to the scorer's rate (:func:`to_rate`), then score
    each pair on ``workers`` processes (0: this one); report as :func:`score_pairs`."""
    a, b = sound_side(gen, "gen", sample_rate), sound_side(ref, "ref", sample_rate)
    listed = read_pairs_file(pairs) if pairs is not None else None
    matched, unmatched_gen, unmatched_ref = match(a.ids, b.ids, listed, allow_unmatched, (a.label, b.label))
    values = np.full(len(matched), np.nan)
    reasons = [""] * len(matched)
    jobs, rates = [], set()
    for k, (i, j) in enumerate(matched):
        (x, x_rate), (y, y_rate), reasons[k] = _read_pair(a, b, i, j, failed=((None, None), (None, None)))
        if reasons[k]:
            continue
        x, y, target = to_rate(scorer, x, x_rate, y, y_rate)
        rates.add((x_rate, y_rate, target))
        jobs.append((k, y, x, target))
    for (k, *_), (value, reason) in zip(jobs, _map(scorer.function, [job[1:] for job in jobs], workers)):
        values[k], reasons[k] = value, reason
    settings = dict(scorer.params, **rate_settings(rates))
    return _report(metric, scorer, a, b, matched, (unmatched_gen, unmatched_ref) if allow_unmatched else None,
                   values, reasons, per_item, bootstrap, seed, settings)


def to_rate(scorer: Scorer, x: np.ndarray, x_rate: int, y: np.ndarray, y_rate: int) -> tuple:
    """``(generated, reference, rate)``: both at ``scorer.rate_of(y_rate)`` Hz, through gentools' Kaiser-sinc
    resampler (:mod:`gentools.features.resample`) where a rate differs."""
    import torch

    from gentools.features.resample import resample

    target = scorer.rate_of(y_rate)
    x, y = (w if r == target else resample(torch.from_numpy(w), r, target).numpy() for w, r in ((x, x_rate),
                                                                                                (y, y_rate)))
    return x, y, target


def rate_settings(rates) -> dict:
    """The provenance of the rates ``{(gen rate, ref rate, scored rate)}``: the rates scored, and the resampler
    where any rate moved."""
    resampled = any(target != x_rate or target != y_rate for x_rate, y_rate, target in rates)
    return {"rate": sorted({target for *_, target in rates}),
            "resampler": "kaiser-sinc (fadtk's: width 64, rolloff 0.9476, beta 14.77)" if resampled else "none"}


def _map(function, arguments: list, workers: int) -> list:
    """``[function(*a) for a in arguments]``, on ``workers`` spawned processes when more than one pair."""
    if workers <= 1 or len(arguments) < 2:
        return [function(*a) for a in arguments]
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(min(workers, len(arguments))) as pool:
        return pool.starmap(function, arguments, chunksize=max(1, len(arguments) // (4 * workers)))
