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


# The filter bank is built and applied in blocks of output phases of at most this many float64 values: a bank
# for coprime rates (44,101 -> 16,000 Hz) would otherwise be 16,000 x 44,475 x 8 bytes = 5.7 GB. Common rates
# (44.1 or 48 kHz -> 16 kHz: 160 phases of 815 taps) fit one block, so they run as torchaudio does, in one conv.
BLOCK_VALUES = 1 << 22
# Past this many filter values a rate pair is refused: coprime rates such as 44,101 -> 16,000 Hz need 7e8 of them
# (a minute of Bessel functions on a CPU, for one file), where the common pairs need under 2e5.
MAX_BANK_VALUES = 1 << 26


@functools.lru_cache(maxsize=16)
def sinc_kaiser_kernel(orig_freq: int, new_freq: int, lowpass_filter_width: int = FADTK_WIDTH,
                       rolloff: float = FADTK_ROLLOFF, beta: float = FADTK_BETA,
                       phases: tuple = (0, None)) -> tuple[torch.Tensor, int]:
    """The float32 filter bank ``[new, 1, 2·width + orig]`` and ``width`` for rates reduced by their gcd;
    ``phases = (first, stop)``: only those output phases' filters."""
    gcd = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // gcd, new_freq // gcd
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    first, stop = phases[0], new if phases[1] is None else phases[1]
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(-first, -stop, -1)[:, None, None] / new + idx  # int64 / int is float32, then promoted
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
    from gentools import memory

    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    shape = waveform.size()
    flat = waveform.reshape(-1, shape[-1])
    length = flat.shape[-1]
    taps = 2 * math.ceil(FADTK_WIDTH * orig / (min(orig, new) * FADTK_ROLLOFF)) + orig
    if new * taps > MAX_BANK_VALUES:
        raise ValueError(f"resampling {orig_freq} Hz to {new_freq} Hz needs a filter bank of {new} x {taps} taps, "
                         f"over the {MAX_BANK_VALUES} gentools builds; resample the file to a common rate first")
    block = max(1, min(new, BLOCK_VALUES // taps))
    steps = (length + 2 * taps) // orig + 2  # output positions per phase
    memory.require(8 * (block * taps + 2 * flat.shape[0] * steps * new) + 8 * flat.shape[0] * (length + 2 * taps),
                   f"resampling {length} samples from {orig_freq} to {new_freq} Hz")
    if block == new:  # one conv over every phase, as torchaudio
        kernel, width = sinc_kaiser_kernel(int(orig_freq), int(new_freq))
        padded = torch.nn.functional.pad(flat, (width, width + orig))
        out = torch.nn.functional.conv1d(padded[:, None], kernel.to(flat.device, flat.dtype), stride=orig)
        out = out.transpose(1, 2).reshape(flat.shape[0], -1)
    else:
        width = (taps - orig) // 2
        frames = torch.nn.functional.pad(flat, (width, width + orig)).unfold(-1, taps, orig)  # [B, L, taps], a view
        out = flat.new_empty((flat.shape[0], frames.shape[1], new))
        for first in range(0, new, block):  # the conv above as a product, one block of phases at a time
            kernel, _ = _phase_block(int(orig_freq), int(new_freq), first, min(new, first + block))
            out[:, :, first:first + kernel.shape[0]] = frames @ kernel[:, 0].T.to(flat.device, flat.dtype)
        out = out.reshape(flat.shape[0], -1)
    target = int(torch.ceil(torch.as_tensor(new * length / orig)))  # float32 ceil, as torchaudio
    return out[..., :target].reshape(shape[:-1] + (-1,))


def _phase_block(orig_freq: int, new_freq: int, first: int, stop: int) -> tuple[torch.Tensor, int]:
    """Output phases ``first..stop`` of :func:`sinc_kaiser_kernel`, built for this block alone (not cached)."""
    return sinc_kaiser_kernel.__wrapped__(orig_freq, new_freq, phases=(first, stop))
