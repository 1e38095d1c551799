"""Band-limited sinc resampling, transcribed from torchaudio's algorithm so that fadtk's numbers need no torchaudio.

torchaudio (``torchaudio/functional/functional.py``, ``_get_sinc_resample_kernel`` and
``_apply_sinc_resample_kernel``, as ``torchaudio.transforms.Resample`` calls them with
``dtype=None``) builds one windowed-sinc filter per output phase and applies them as a strided
``conv1d``. torchaudio's releases stopped at 2.11 and do not load beside torch 2.14, so this is
our own code of the same algorithm, including its dtypes: the phase offsets are divided in
float32 before they meet the float64 grid, ``beta`` and ``i0(beta)`` are float32, and the
kernel is cast to float32 before the convolution. Tested against torchaudio 2.5.1's output
(tests/fixtures/audio_reference.npz).
"""

from __future__ import annotations

import functools
import math

import torch

# fadtk's settings (fadtk/fad.py, FrechetAudioDistance.load_audio): torchaudio.transforms.Resample(fsorig, self.ml.sr,
# lowpass_filter_width=64, rolloff=0.9475937167399596, resampling_method="sinc_interp_kaiser",
# beta=14.769656459379492)
FADTK_WIDTH = 64
FADTK_ROLLOFF = 0.9475937167399596
FADTK_BETA = 14.769656459379492


@functools.lru_cache(maxsize=16)
def sinc_kaiser_kernel(orig_freq: int, new_freq: int, lowpass_filter_width: int = FADTK_WIDTH,
                       rolloff: float = FADTK_ROLLOFF, beta: float = FADTK_BETA) -> tuple[torch.Tensor, int]:
    """The float32 filter bank ``[new, 1, 2·width + orig]`` and ``width`` for rates reduced by their gcd."""
    gcd = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // gcd, new_freq // gcd
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1)[:, None, None] / new + idx  # int64 / int is float32, then promoted
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    beta_tensor = torch.tensor(float(beta))  # float32, as torchaudio has it
    window = torch.i0(beta_tensor * torch.sqrt(1 - (t / lowpass_filter_width) ** 2)) / torch.i0(beta_tensor)
    t *= math.pi
    scale = base_freq / orig
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale
    return kernels.to(dtype=torch.float32), width


def resample(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    """``waveform [..., T]`` (float) at ``orig_freq`` Hz, resampled to ``new_freq`` Hz with fadtk's Kaiser-sinc
    filter; unchanged when the rates are equal (as torchaudio). Output length ``ceil(new·T / orig)``."""
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_freq} and {new_freq}")
    if orig_freq == new_freq:
        return waveform
    kernel, width = sinc_kaiser_kernel(int(orig_freq), int(new_freq))
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    shape = waveform.size()
    flat = waveform.reshape(-1, shape[-1])
    length = flat.shape[-1]
    padded = torch.nn.functional.pad(flat, (width, width + orig))
    out = torch.nn.functional.conv1d(padded[:, None], kernel.to(flat.device, flat.dtype), stride=orig)
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)
    target = int(torch.ceil(torch.as_tensor(new * length / orig)))  # float32 ceil, as torchaudio
    return out[..., :target].reshape(shape[:-1] + (-1,))
