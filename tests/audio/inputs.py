"""The seeded inputs of the audio parity tests, made the same way here and in the side venv that runs fadtk and
kadtk (benchmarks/audio_reference/make_reference.py): numpy's RandomState (stable across versions) and
soundfile only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (name, sample rate, channels, soundfile format, subtype): 8, 22.05, 44.1 and 48 kHz, mono and stereo.
LOADING_CASES = (
    ("r8000_mono", 8000, 1, "WAV", "PCM_16"),
    ("r8000_stereo", 8000, 2, "FLAC", "PCM_16"),
    ("r22050_mono", 22050, 1, "WAV", "FLOAT"),
    ("r22050_stereo", 22050, 2, "WAV", "PCM_16"),
    ("r44100_mono", 44100, 1, "FLAC", "PCM_24"),
    ("r44100_stereo", 44100, 2, "WAV", "FLOAT"),
    ("r48000_mono", 48000, 1, "WAV", "PCM_16"),
    ("r48000_stereo", 48000, 2, "WAV", "FLOAT"),
)
LOADING_SECONDS = 0.2
TARGET_RATE = 16000
SUFFIX = {"WAV": ".wav", "FLAC": ".flac"}


def loading_signal(index: int, rate: int, channels: int) -> np.ndarray:
    """A chirp plus noise ``[T, C]`` in (-1, 1), with a few samples at full scale (the 16-bit clip)."""
    rng = np.random.RandomState(100 + index)
    t = np.arange(int(rate * LOADING_SECONDS)) / rate
    tone = 0.6 * np.sin(2 * np.pi * (300 + 2000 * t) * t)
    data = np.stack([tone * (0.9 - 0.2 * c) + 0.1 * rng.standard_normal(len(t)) for c in range(channels)], axis=1)
    data = np.clip(data, -0.999, 0.999)
    data[5, 0], data[6, 0] = 1.0, -1.0
    return data


def write_loading_inputs(folder) -> dict:
    """Write every loading case into ``folder``; returns ``{name: path}``."""
    import soundfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (name, rate, channels, fmt, subtype) in enumerate(LOADING_CASES):
        path = folder / f"{name}{SUFFIX[fmt]}"
        soundfile.write(path, loading_signal(index, rate, channels).astype(np.float32), rate, subtype=subtype,
                        format=fmt)
        paths[name] = path
    return paths


def embedding_sets(dim: int = 16) -> tuple[list, list]:
    """Seeded per-file embedding frames (float16, as fadtk stores them): ``(reference files, generated files)``.
    The generated set has 600+ frames, so FAD-inf's sizes run from 500 to all of them."""
    rng = np.random.RandomState(7)
    mix = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    ref = [(rng.standard_normal((int(rng.randint(40, 80)), dim)) @ mix).astype(np.float16) for _ in range(10)]
    gen = [(rng.standard_normal((int(rng.randint(40, 80)), dim)) @ (mix * 1.2) + 0.3).astype(np.float16)
           for _ in range(12)]
    return ref, gen


# clap: the 48 kHz waveforms (seconds; 0.4 s is shorter than one hop, 10.3 s is longer than one chunk) and the
# seeded weights both sides load (benchmarks/audio_reference/make_clap_reference.py).
CLAP_SECONDS = {"laion-audio": {"short": 0.4, "mid": 2.5, "long": 10.3}, "laion-music": {"short": 0.4, "mid": 2.5}}
CLAP_SEED = 21
# Tensors that are not drawn: Swin's window indices and masks, and torchlibrosa's STFT and mel matrices, which
# each side builds itself (their sums are in the fixture, so the two are checked to be the same).
CLAP_FIXED = ("relative_position_index", "attn_mask", "stft.conv_real.weight", "stft.conv_imag.weight", "melW")


def clap_waveform(index: int, seconds: float) -> np.ndarray:
    """float32 mono at 48 kHz: two tones, a chirp and noise, peaking above full scale (the int16 clip)."""
    rng = np.random.RandomState(300 + index)
    t = np.arange(int(48000 * seconds)) / 48000
    wave = 0.5 * np.sin(2 * np.pi * (220 + 40 * index) * t) + 0.3 * np.sin(2 * np.pi * (1500 + 3000 * t) * t)
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t)) + 0.08 * rng.standard_normal(len(t))
    wave[100:110] = 1.2
    return wave.astype(np.float32)


def seeded_weights(shapes: dict, seed: int = CLAP_SEED) -> dict:
    """Drawn weights for every key of ``{name: (shape, dtype name)}`` not ending in ``CLAP_FIXED``, each from its
    own RandomState (seed and the key's crc32): matrices ``N(0, 1/fan_in)``, 1-d weights ``1 + 0.1 N``, biases and
    running means ``0.1 N``, running variances ``U(0.5, 1.5)``, counters 0."""
    import zlib

    out = {}
    for name, (shape, dtype) in shapes.items():
        if name.endswith(CLAP_FIXED):
            continue
        rng = np.random.RandomState((seed * 1_000_003 + zlib.crc32(name.encode())) % 2 ** 32)
        if "int" in dtype:
            value = np.zeros(shape, np.int64)
        elif name.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("bias", "running_mean")):
            value = 0.1 * rng.standard_normal(shape)
        elif len(shape) == 1:
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
        out[name] = value.astype(np.int64 if "int" in dtype else np.float32)
    return out
