"""PESQ, STOI and ESTOI per pair against the packages themselves (pesq 0.0.4, pystoi 0.4.1), on speech-like sounds
written as WAV files, matched by id; and every cause of a failed pair as NaN with its reason. The lines relied on:

pesq/_pesq.py
    _pesq_inner: max_val = max(np.max(np.abs(ref / 1.0)), np.max(np.abs(deg / 1.0)))
                 cypesq(fs, (ref / max_val).astype(np.float32), (deg / max_val).astype(np.float32), mode_code)
pesq/cypesq.pyx
    NO_UTTERANCES_DETECTED = -7; "Buffer needs to be at least 1/4 of a second long"
pystoi/stoi.py
    if x_spec.shape[-1] < N: warnings.warn('Not enough STFT frames ... Returning 1e-5 ...'); return 1e-5
"""

from __future__ import annotations

import numpy as np
import pytest

import gentools
from tests.conftest import parse_tsv, run_cli

pesq = pytest.importorskip("pesq")
pystoi = pytest.importorskip("pystoi")
soundfile = pytest.importorskip("soundfile")


def speech_like(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Voiced syllables: a 120-220 Hz harmonic series under a syllable-rate envelope, with pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = rng.uniform(120, 220)
    voice = sum(np.sin(2 * np.pi * pitch * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.0) * t), 0, None) ** 2
    return (0.3 * voice * envelope / np.abs(voice).max()).astype(np.float32)


def _write(folder, name, signal, rate):
    folder.mkdir(exist_ok=True)
    soundfile.write(folder / f"{name}.wav", signal, rate, subtype="FLOAT")


def _read(path) -> np.ndarray:
    return soundfile.read(path, dtype="float32")[0].astype(np.float64)  # as gentools reads: float32, then float64


@pytest.fixture
def speech(tmp_path):
    """gen/ and ref/ at 16 kHz: two scorable 3 s pairs, and one pair for each failure cause."""
    rate, rng = 16000, np.random.default_rng(0)
    for name, seed in (("a", 1), ("b", 2)):
        clean = speech_like(3.0, rate, seed)
        _write(tmp_path / "ref", name, clean, rate)
        _write(tmp_path / "gen", name, clean + rng.normal(0, 0.02, clean.shape).astype(np.float32), rate)
    short = speech_like(0.2, rate, 3)
    _write(tmp_path / "ref", "short", short, rate)
    _write(tmp_path / "gen", "short", short, rate)
    _write(tmp_path / "ref", "silent", np.zeros(rate * 2, np.float32), rate)
    _write(tmp_path / "gen", "silent", speech_like(2.0, rate, 4), rate)
    _write(tmp_path / "ref", "lengths", speech_like(2.0, rate, 5), rate)
    _write(tmp_path / "gen", "lengths", speech_like(2.5, rate, 5), rate)
    few = speech_like(0.3, rate, 6)  # over 0.25 s, under 30 STOI frames at 10 kHz
    _write(tmp_path / "ref", "few", few, rate)
    _write(tmp_path / "gen", "few", few * 0.9, rate)
    return tmp_path


def _per_item(path) -> dict:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return {row[0]: (float(row[2]), row[3]) for row in rows}


@pytest.mark.parametrize("mode", ["wb", "nb"])
def test_pesq_equals_the_pesq_package_and_every_failure_is_nan_with_its_reason(speech, mode):
    proc = run_cli("pesq", speech / "gen", speech / "ref", "--mode", mode, "--per-item", speech / "p.tsv",
                   "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    rows = _per_item(speech / "p.tsv")
    rate = 16000  # wb at 16 kHz; nb keeps 16 kHz files as they are
    for name in ("a", "b", "few"):
        expected = pesq.pesq(rate, _read(speech / "ref" / f"{name}.wav"), _read(speech / "gen" / f"{name}.wav"), mode)
        assert rows[name] == (expected, ""), name  # exactly
    assert rows["short"][1] == "under 0.25 s (0.200 s)" and np.isnan(rows["short"][0])
    assert rows["silent"][1] == "the reference is silent"
    assert rows["lengths"][1] == "lengths differ: 40000 generated against 32000 reference samples"
    values = parse_tsv(proc.stdout)
    assert (values["pairs_scored"], values["pairs_failed"]) == ("3", "3")
    assert float(values["pesq"]) == pytest.approx(np.mean([rows[n][0] for n in ("a", "b", "few")]), rel=1e-12)
    assert "scored 3 of 6 pairs" in proc.stderr.decode()


def test_stoi_and_estoi_equal_pystoi_and_too_few_frames_is_a_reason_not_1e_5(speech):
    for metric, extended in (("stoi", False), ("estoi", True)):
        proc = run_cli(metric, speech / "gen", speech / "ref", "--per-item", speech / f"{metric}.tsv",
                       "--workers", "0", check=0)
        rows = _per_item(speech / f"{metric}.tsv")
        for name in ("a", "b"):
            expected = pystoi.stoi(_read(speech / "ref" / f"{name}.wav"), _read(speech / "gen" / f"{name}.wav"),
                                   16000, extended=extended)
            assert rows[name][0] == pytest.approx(expected, abs=1e-9) and 0 < expected < 1
        assert rows["few"][1] == "fewer than 30 frames after silence removal (pystoi returns 1e-5)"
        assert np.isnan(rows["few"][0]) and parse_tsv(proc.stdout)["pairs_failed"] == "4"
        from_api = getattr(gentools, metric)(str(speech / "gen"), str(speech / "ref"), workers=0)
        # pystoi's float64 matrix products may sum in another order between runs (BLAS threads): 1e-9, not bits
        assert {k: float(v) for k, v in parse_tsv(proc.stdout).items()} == pytest.approx(dict(from_api), rel=1e-9)


def test_a_44_1_khz_pair_is_resampled_with_the_kaiser_resampler_and_workers_change_nothing(tmp_path):
    import torch

    from gentools.features.resample import resample

    rng = np.random.default_rng(0)
    for name, seed in (("a", 1), ("b", 2), ("c", 3)):
        clean = speech_like(3.0, 44100, seed)
        _write(tmp_path / "ref", name, clean, 44100)
        _write(tmp_path / "gen", name, clean + rng.normal(0, 0.03, clean.shape).astype(np.float32), 44100)
    proc = run_cli("pesq", tmp_path / "gen", tmp_path / "ref", "--json", "--workers", "2", check=0)
    import json

    record = json.loads(proc.stdout)
    assert record["params"]["rate"] == [16000] and record["params"]["resampler"].startswith("kaiser-sinc")
    expected = np.mean([pesq.pesq(16000, *(resample(torch.from_numpy(_read(tmp_path / side / f"{name}.wav")), 44100,
                                                    16000).numpy() for side in ("ref", "gen")), "wb")
                        for name in ("a", "b", "c")])
    assert record["values"]["pesq"] == pytest.approx(expected, rel=1e-12)
    in_process = gentools.pesq(str(tmp_path / "gen"), str(tmp_path / "ref"), workers=0)
    assert in_process["pesq"] == record["values"]["pesq"]


def test_pesq_at_8_khz_narrow_band_and_a_pair_without_utterances(tmp_path):
    """nb on 8 kHz files equals pesq.pesq exactly; a pair in which PESQ detects no utterance (drawn from the
    benchmark's generator until pesq raises NoUtterancesError) is NaN with PESQ's reason, never its error code."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    for attempt in range(400):
        pitch = rng.uniform(120, 220)
        voice = sum(np.sin(2 * np.pi * pitch * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
        envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.0) * t), 0, None) ** 2
        clean = (0.3 * voice * envelope / np.abs(voice).max()).astype(np.float32)
        noisy = (clean + rng.normal(0, 0.02, clean.shape)).astype(np.float32)
        try:
            pesq.pesq(16000, clean.astype(np.float64), noisy.astype(np.float64), "wb")
        except pesq.NoUtterancesError:
            break
    else:
        pytest.fail("no pair without utterances in 400 draws")
    _write(tmp_path / "ref", "none", clean, 16000)
    _write(tmp_path / "gen", "none", noisy, 16000)
    proc = run_cli("pesq", tmp_path / "gen", tmp_path / "ref", "--per-item", tmp_path / "p.tsv", "--workers", "0")
    assert proc.returncode == 1 and "pesq: no pair could be scored" in proc.stderr.decode()  # the only pair
    none = _per_item(tmp_path / "p.tsv")["none"]  # written before the summary fails
    assert none[1] == "PESQ detected no utterances (its error -7)" and np.isnan(none[0])
    clean8, noisy8 = speech_like(3.0, 8000, 7), speech_like(3.0, 8000, 7) * 0.7
    _write(tmp_path / "ref8", "eight", clean8, 8000)
    _write(tmp_path / "gen8", "eight", noisy8 + np.float32(0.01) * np.sin(np.arange(len(noisy8))).astype(np.float32),
           8000)
    proc = run_cli("pesq", tmp_path / "gen8", tmp_path / "ref8", "--mode", "nb", "--per-item", tmp_path / "p8.tsv",
                   "--workers", "0", check=0)
    expected = pesq.pesq(8000, _read(tmp_path / "ref8" / "eight.wav"), _read(tmp_path / "gen8" / "eight.wav"), "nb")
    assert _per_item(tmp_path / "p8.tsv")["eight"] == (expected, "")  # exactly, at 8 kHz
