"""Audio inputs: which files are sound, how they are decoded, and the waveform a backbone gets, as fadtk makes it.

fadtk 1.1.0 (``fadtk/fad.py``, ``FrechetAudioDistance.load_audio``, and ``ModelLoader.load_wav`` in
``fadtk/model_loader.py``) reads a file with ``torchaudio.load(str(f), backend="soundfile")``
(float32, channels first), takes ``torch.mean(x, 0)`` to mono, resamples with a Kaiser-sinc
filter (:mod:`gentools.features.resample`), saves the result as 16-bit PCM
(``torchaudio.save(..., encoding="PCM_S", bits_per_sample=16)``, done by libsndfile) and reads it back
as ``soundfile.read(wav_file, dtype='int16') / 32768.0``; a file shorter than the model's
``min_len`` seconds is zero-padded to it. gentools does each step with soundfile and its own
resampler: every input gets the same mono + resampling; only ``--preset fadtk`` adds the 16-bit
round trip, which loses precision for no other gain.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".oga", ".aiff", ".aif"})
MAX_MEMBER_BYTES = 1 << 31  # an archive member larger than 2 GiB is refused unread
SOUNDFILE_HINT = "audio inputs need soundfile: pip install 'gentools[audio]'"


def is_audio_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not any(p.startswith(".") for p in parts if p) and Path(name).suffix.lower() in AUDIO_EXTENSIONS


def soundfile_module():
    """soundfile, or a one-line input error saying how to install it."""
    try:
        import soundfile
    except (ImportError, OSError):  # OSError: the wheel's libsndfile did not load
        from gentools.errors import InputError

        raise InputError(SOUNDFILE_HINT) from None
    return soundfile


def decode(source) -> tuple[np.ndarray, int]:
    """A sound file (path or file object) as float32 ``[C, T]`` and its sample rate; raises ``ValueError``
    with the reason when it cannot be read, holds no samples, or holds NaN or infinite samples."""
    from gentools import memory

    from gentools.files import NotRegular, open_regular

    soundfile = soundfile_module()
    try:
        if isinstance(source, (str, os.PathLike)):  # a FIFO or a device would block or never end
            source = open_regular(source)
        with source if hasattr(source, "fileno") else contextlib.nullcontext(), soundfile.SoundFile(source) as sound:
            truncated = re.search(r"^data\s*:\s*(\d+) \(should be (\d+)\)", sound.extra_info, re.MULTILINE)
            if truncated:
                raise ValueError(f"truncated: its header declares {truncated[1]} bytes of samples, the file holds "
                                 f"{truncated[2]}")
            # decoded float32, transposed, mixed down and resampled: about 6 copies of the samples at once
            memory.require(6 * 4 * max(sound.frames, 0) * sound.channels, f"decoding {sound.frames} x "
                           f"{sound.channels} samples ({sound.frames / max(sound.samplerate, 1):.0f} s)")
            data, rate = sound.read(dtype="float32", always_2d=True), sound.samplerate
    except memory.OverBudget as exc:
        raise ValueError(str(exc)) from None
    except NotRegular as exc:
        raise ValueError(str(exc).rsplit(": ", 1)[-1]) from None
    except (soundfile.LibsndfileError, RuntimeError, OSError, EOFError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a readable sound file ({reason[:160]})") from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError("the file holds no samples")
    if not np.isfinite(data).all():
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise ValueError(f"{bad} sample(s) are NaN or infinite")
    return np.ascontiguousarray(data.T), int(rate)


def pcm16_round_trip(waveform: np.ndarray, rate: int) -> np.ndarray:
    """fadtk's save as 16-bit PCM and read back: libsndfile's own float -> int16 conversion (through an
    in-memory WAV), then ``int16 / 32768.0`` in float64."""
    soundfile = soundfile_module()
    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(waveform, np.float32), rate, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    samples, _ = soundfile.read(buffer, dtype="int16")
    return samples / 32768.0


@dataclass(frozen=True)
class Loading:
    """How a waveform becomes a backbone's input: ``rate`` (Hz), fadtk's 16-bit round trip or not, and the
    minimum length in samples (shorter waveforms are zero-padded at the end, as fadtk's ``enforce_min_len``)."""

    rate: int
    pcm16: bool = False
    min_samples: int = 0

    def provenance(self) -> dict:
        return {"sample_rate": self.rate, "pcm16": bool(self.pcm16)}

    def prepare(self, waveform: np.ndarray, rate: int) -> np.ndarray:
        """float ``[C, T]`` or ``[T]`` at ``rate`` -> float64 mono ``[T']`` at :attr:`rate`."""
        import torch

        from gentools.features.resample import resample

        x = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
        if x.ndim == 2:
            x = torch.mean(x, 0)  # torch's float32 mean, as fadtk takes it
        y = resample(x[None], rate, self.rate)[0]
        out = pcm16_round_trip(y.numpy(), self.rate) if self.pcm16 else y.numpy().astype(np.float64)
        if len(out) < self.min_samples:
            out = np.pad(out, (0, int(math.ceil(self.min_samples - len(out)))))
        return out


def waveform_rows(waveforms, rate: int) -> list[np.ndarray]:
    """In-memory waveforms ``[B, T]`` / ``[B, C, T]`` (array or tensor, floats in [-1, 1]) or a list of
    ``[T]`` / ``[C, T]`` as float32 ``[C, T]`` each; a NaN or a value outside [-1, 1] is a ``ValueError``."""
    if hasattr(waveforms, "detach"):
        waveforms = waveforms.detach().cpu().float().numpy()
    if isinstance(waveforms, np.ndarray):
        if waveforms.ndim not in (2, 3):
            raise ValueError(f"waveforms must be [B, T] or [B, C, T], got {list(waveforms.shape)}")
        waveforms = list(waveforms)
    rows = []
    for i, w in enumerate(waveforms):
        w = np.asarray(w.detach().cpu().float().numpy() if hasattr(w, "detach") else w, np.float32)
        w = w[None] if w.ndim == 1 else w
        if w.ndim != 2 or w.shape[-1] == 0:
            raise ValueError(f"waveform {i} must be [T] or [C, T] with T > 0, got {list(w.shape)}")
        if not np.isfinite(w).all():
            raise ValueError(f"waveform {i} has NaN or infinite samples")
        if np.abs(w).max() > 1.0 + 1e-6:
            raise ValueError(f"waveform {i} has samples outside [-1, 1] (max |x| {float(np.abs(w).max()):.4g})")
        rows.append(w)
    if rate <= 0:
        raise ValueError(f"the sample rate must be positive, got {rate}")
    return rows


from gentools.memory import OverBudget  # noqa: E402 - beside the one class that needs it


class AudioDataset:
    """Map-style dataset of audio items -> ``(index, waveform float64 [T], error)``: decoded, mono, resampled
    and padded in the worker; decoding errors are returned, not raised."""

    def __init__(self, items: list, loading: Loading):
        from gentools.features.items import MemberReader

        soundfile_module()  # here, not first in a DataLoader worker, whose error would carry its traceback
        self.items = items
        self.loading = loading
        self.reader = MemberReader(MAX_MEMBER_BYTES)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        item = self.items[index]
        try:
            source = item.path if item.kind == "file" else io.BytesIO(self.reader.member(item))
            data, rate = decode(source)
            return index, self.loading.prepare(data, rate), None
        except (ValueError, OverBudget) as exc:
            return index, None, str(exc)

