"""The audio demo's data, generators and plot (examples/audio/Makefile), offline: synthesised tones.

    python sounds.py data OUT      # OUT/real/*.wav: 40 two-second chords with harmonics and a decay
    python sounds.py weights OUT   # OUT/vggish.pth: the published VGGish if torch hub has it, else seeded
                                   # random weights in its layout (the demo's numbers then rank, not compare)
    python sounds.py degrade OUT   # OUT/degraded/*.wav: the first 12 real clips under white noise, 30 dB down to
                                   # 0 dB SNR; the last one cut to 1.5 s, a pair PESQ and STOI cannot score
    python sounds.py plot OUT      # OUT/results/audio.png: per-file FAD of both generators, FAD and KAD

The generators are ``module:function`` specs for ``gentools extract --generator G --sample-rate 22050``:
``sounds:close`` makes chords like the real ones (other notes, the same timbre), ``sounds:noisy`` the same
chords under loud noise with a harsher timbre. FAD, KAD and the per-file FADs should rank close < noisy.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

RATE, SECONDS, COUNT = 22050, 2.0, 40


def chord(fundamental: float, brightness: float, t: np.ndarray) -> np.ndarray:
    """Three notes of a major chord, eight harmonics each, amplitude ``brightness ** k``, with a decay."""
    out = np.zeros_like(t)
    for ratio in (1.0, 1.25, 1.5):
        for k in range(1, 9):
            out += brightness ** k * np.sin(2 * np.pi * fundamental * ratio * k * t)
    return out * np.exp(-1.5 * t)


def _normalised(x: np.ndarray) -> np.ndarray:
    return 0.8 * x / np.abs(x).max()


def data(out: Path) -> None:
    import soundfile

    folder = out / "real"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    t = np.arange(int(RATE * SECONDS)) / RATE
    for i in range(COUNT):
        wave = _normalised(chord(rng.uniform(110, 440), rng.uniform(0.5, 0.7), t) + 0.01 * rng.standard_normal(len(t)))
        soundfile.write(folder / f"{i:03d}.wav", wave.astype(np.float32), RATE, subtype="PCM_16")


def degrade(out: Path) -> None:
    import soundfile

    folder = out / "degraded"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(1)
    snrs = np.linspace(30, 0, 11)
    for i in range(12):
        clean, rate = soundfile.read(out / "real" / f"{i:03d}.wav", dtype="float64")
        if i < len(snrs):
            noise = rng.standard_normal(len(clean))
            wave = clean + noise * np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** (snrs[i] / 10))
        else:  # lengths differ: NaN with its reason in the per-item file, never a score
            wave = clean[:int(1.5 * rate)]
        soundfile.write(folder / f"{i:03d}.wav", np.clip(wave, -1, 1).astype(np.float32), rate, subtype="PCM_16")


class Chords(torch.nn.Module):
    """Latents -> chords ``[B, T]`` at 22.05 kHz: the fundamental from z[0], the timbre from z[1]."""

    latent_dim = 4

    def __init__(self, noise: float, brightness: tuple):
        super().__init__()
        self.noise, self.brightness = noise, brightness

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.cpu().numpy()
        t = np.arange(int(RATE * SECONDS)) / RATE
        waves = []
        for row in z:
            fundamental = 110 * 4 ** (0.5 + 0.5 * np.tanh(row[0]))  # 110-440 Hz
            low, high = self.brightness
            brightness = low + (high - low) * (0.5 + 0.5 * np.tanh(row[1]))
            rng = np.random.RandomState(int(abs(row[2]) * 1e6) % 2 ** 31)
            wave = chord(fundamental, brightness, t) + self.noise * rng.standard_normal(len(t)) * 5
            waves.append(_normalised(wave))
        return torch.from_numpy(np.stack(waves).astype(np.float32))


def close() -> Chords:
    return Chords(noise=0.01, brightness=(0.5, 0.7))


def noisy() -> Chords:
    return Chords(noise=0.3, brightness=(0.8, 0.95))


def weights(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from gentools.api.weights import weights_random
    from gentools.features.backbones.audio import VGGISH_FILE
    from gentools.features.weights import checkpoint_dir

    published = checkpoint_dir() / VGGISH_FILE
    out.mkdir(parents=True, exist_ok=True)
    if published.is_file():
        shutil.copyfile(published, out / "vggish.pth")
    else:
        print(f"{published} is not here: the demo uses seeded random VGGish weights (its numbers rank the "
              f"generators but compare with nothing published)", file=sys.stderr)
        weights_random("vggish", out / "vggish.pth", seed=0)  # as `gentools weights random vggish --seed 0`


def plot(out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores = {name: json.loads((out / "results" / f"{name}.json").read_text()) for name in ("close", "noisy")}
    figure = Figure(figsize=(9, 3.5))
    FigureCanvasAgg(figure)
    per_file, summary = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for name, values in scores.items():
        files = sorted(v for k, v in values["fid"]["values"].items() if k.startswith("fid."))
        per_file.hist(files, bins=15, alpha=0.6, label=name)
    per_file.set(title="per-file FAD (fadtk)", xlabel="FAD of one file vs the real set", ylabel="files")
    per_file.legend()
    names = list(scores)
    summary.bar([f"FAD\n{n}" for n in names], [scores[n]["fid"]["values"]["fid"] for n in names], color="tab:blue")
    twin = summary.twinx()
    twin.bar([f"KAD\n{n}" for n in names], [scores[n]["kad"]["values"]["kad"] for n in names], color="tab:orange")
    summary.set(title="FAD (left axis), KAD (right axis)")
    figure.tight_layout()
    figure.savefig(out / "results" / "audio.png", dpi=100)


if __name__ == "__main__":
    {"data": data, "weights": weights, "degrade": degrade, "plot": plot}[sys.argv[1]](Path(sys.argv[2]))
