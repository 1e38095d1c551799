"""Paired image metrics, one value per pair: SSIM, MS-SSIM, PSNR, batched in float64 torch (CPU or CUDA).

Each function takes two ``(N, C, H, W)`` tensors of the same shape and the data range ``L`` (the span of the
values: 255 for uint8), and returns ``(N,)`` float64 values; channels are averaged.

SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, eq. 13), over local windows ``w``::

    SSIM(x, y) = mean_w ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2)),
    C1 = (K1 L)², C2 = (K2 L)²

The window and the border rule are the convention's (:data:`CONVENTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang, Simoncelli & Bovik 2003, Table 1


@dataclass(frozen=True)
class Convention:
    """How an implementation windows SSIM. ``gaussian``: σ (0: a uniform ``size`` x ``size`` window);
    ``sample_covariance``: σ scaled by n/(n−1) over the window's n points; ``border``: ``"valid"`` (only
    windows inside the image) or ``"reflect"`` (the image reflect-padded by half a window, every pixel a
    centre; variances clamped at 0)."""

    size: int
    gaussian: float
    sample_covariance: bool
    border: str
    k1: float = 0.01
    k2: float = 0.03


CONVENTIONS = {
    # Wang et al. 2004; skimage structural_similarity(gaussian_weights=True, sigma=1.5,
    # use_sample_covariance=False); pytorch_msssim.ssim
    "wang": Convention(11, 1.5, False, "valid"),
    # skimage.metrics.structural_similarity's defaults: win_size=7 uniform, use_sample_covariance=True
    "skimage": Convention(7, 0.0, True, "valid"),
    # torchmetrics structural_similarity_index_measure: gaussian 11 / 1.5, F.pad(mode="reflect"), whole-map mean
    "torchmetrics": Convention(11, 1.5, False, "reflect"),
}


def window(convention: Convention, dtype=torch.float64, device=None) -> torch.Tensor:
    """The 1-d window, summing to 1: ``exp(−t²/2σ²)`` at ``t = −r..r`` (``r = size // 2``), or uniform."""
    if not convention.gaussian:
        return torch.full((convention.size,), 1.0 / convention.size, dtype=dtype, device=device)
    t = torch.arange(convention.size, dtype=dtype, device=device) - convention.size // 2
    g = torch.exp(-(t ** 2) / (2 * convention.gaussian ** 2))
    return g / g.sum()


def _filter(stack: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of every channel of ``stack`` with ``taps`` (rows, then columns), as a sum of
    shifted copies: float64 has no fast depthwise convolution on CPU (3.4x slower here)."""
    return _pass(_pass(stack, taps, 3), taps, 2)


def _pass(values: torch.Tensor, taps: torch.Tensor, dim: int) -> torch.Tensor:
    weights = taps.tolist()
    n = values.shape[dim] - len(weights) + 1
    out = values.narrow(dim, 0, n) * weights[0]
    for k, weight in enumerate(weights[1:], 1):
        out.add_(values.narrow(dim, k, n), alpha=weight)
    return out


def ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range: float, convention: Convention
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The SSIM map and the contrast-structure map ``(2 σxy + C2) / (σx² + σy² + C2)``, ``(N, C, h, w)``."""
    if convention.border == "reflect":
        pad = convention.size // 2
        x, y = (F.pad(v, (pad, pad, pad, pad), mode="reflect") for v in (x, y))
    taps = window(convention, x.dtype, x.device)
    mx, my = _filter(x, taps), _filter(y, taps)
    xx, yy, xy = _filter(x * x, taps), _filter(y * y, taps), _filter(x * y, taps)
    scale = 1.0
    if convention.sample_covariance:
        points = convention.size ** 2
        scale = points / (points - 1)
    mxy, mx2, my2 = mx * my, mx.square_(), my.square_()  # in place: these maps are the memory of a batch
    vx, vy, cxy = xx.sub_(mx2).mul_(scale), yy.sub_(my2).mul_(scale), xy.sub_(mxy).mul_(scale)
    if convention.border == "reflect":
        vx, vy = vx.clamp_(min=0), vy.clamp_(min=0)
    c1, c2 = (convention.k1 * data_range) ** 2, (convention.k2 * data_range) ** 2
    cs = cxy.mul_(2).add_(c2).div_(vx.add_(vy).add_(c2))
    luminance = mxy.mul_(2).add_(c1).div_(mx2.add_(my2).add_(c1))
    return luminance.mul_(cs), cs


CPU_CHUNK = 200_000  # values per chunk of pairs on CPU: one 256² RGB pair's maps stay in cache (2x the pairs/s of 50)


def _by_chunks(x: torch.Tensor, y: torch.Tensor, score) -> torch.Tensor:
    """``score`` over chunks of pairs: on CPU about :data:`CPU_CHUNK` values each, on a GPU the whole batch."""
    if x.device.type != "cpu":
        return score(x, y)
    step = max(1, CPU_CHUNK // max(1, x[0].numel()))
    return torch.cat([score(x[i:i + step], y[i:i + step]) for i in range(0, len(x), step)])


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, convention: str = "wang") -> torch.Tensor:
    """SSIM per pair (module docstring): the map's mean over positions and channels, ``(N,)``."""
    def score(a, b):
        return ssim_maps(a.double(), b.double(), data_range, CONVENTIONS[convention])[0].flatten(1).mean(1)

    return _by_chunks(x, y, score)


def ms_ssim_min_side(convention: str = "wang") -> int:
    """The smallest side MS-SSIM takes: over (size − 1)·2⁴ px, so the fifth scale still holds a window."""
    return (CONVENTIONS[convention].size - 1) * 2 ** 4 + 1


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, convention: str = "wang") -> torch.Tensor:
    """MS-SSIM per pair (Wang, Simoncelli & Bovik 2003) as pytorch-msssim computes it: at each of 5 scales the
    per-channel mean of the contrast-structure map (relu'd), at the last the SSIM (relu'd), combined as
    ``∏ value_s ^ weight_s`` per channel, then the mean over channels; between scales a 2x2 average pool
    (padding odd sides by one, the pad counted as zeros)."""
    return _by_chunks(x, y, lambda a, b: _ms_ssim(a.double(), b.double(), data_range, CONVENTIONS[convention]))


def _ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, chosen: Convention) -> torch.Tensor:
    weights = torch.tensor(MS_SSIM_WEIGHTS, dtype=x.dtype, device=x.device)
    levels = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        value, cs = ssim_maps(x, y, data_range, chosen)
        if level < len(MS_SSIM_WEIGHTS) - 1:
            levels.append(torch.relu(cs.flatten(2).mean(2)))
            padding = [side % 2 for side in x.shape[2:]]
            x, y = (F.avg_pool2d(v, kernel_size=2, padding=padding) for v in (x, y))
    levels.append(torch.relu(value.flatten(2).mean(2)))
    per_channel = torch.prod(torch.stack(levels) ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """PSNR per pair: ``10 log10(L² / MSE)``, the MSE over every value of the pair (skimage's
    ``peak_signal_noise_ratio``); ``inf`` for identical images."""
    mse = ((x.double() - y.double()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(data_range ** 2 / mse)
