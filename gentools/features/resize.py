"""Resize modes: how uint8 pixels become the network's input (METRICS.md, Features).

| mode          | pixels → input in [-1, 1]                                              |
|---------------|------------------------------------------------------------------------|
| `tf`          | float 0..255, TF1 bilinear (torch-fidelity), then ``(x - 128) / 128``  |
| `pytorch-fid` | ``x / 255``, ``F.interpolate(bilinear, align_corners=False)``, ``2x-1`` |
| `clean`       | per channel PIL bicubic on float32 (clean-fid), clip, ``(x-128)/128``  |
| `none`        | no resize (input must already have the network's size), ``(x-128)/128``|

Batch modes run on whole uint8 batches in the main process (on the device);
`clean` is per image and runs in the decoding workers (:func:`clean_resize`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gentools.errors import InputError

MODES = ("tf", "pytorch-fid", "clean", "none")


def tf1_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1.x ``resize_bilinear(align_corners=False)`` of a float NCHW batch.

    Source coordinate ``dst * in / out`` (no half-pixel offset), neighbours
    ``floor`` and ``min(floor + 1, in - 1)``. The same float32 operations as
    torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` ("slow",
    bit-exact on CPU), done separably: along width once per input row, then
    along height.
    """
    _, _, h, w = x.shape
    xs_lo, xs_hi, dx = _taps(w, size, x.device)
    ys_lo, ys_hi, dy = _taps(h, size, x.device)
    left, right = x.index_select(3, xs_lo), x.index_select(3, xs_hi)
    rows = left + (right - left) * dx.view(1, 1, 1, size)
    top, bottom = rows.index_select(2, ys_lo), rows.index_select(2, ys_hi)
    return top + (bottom - top) * dy.view(1, 1, size, 1)


def _taps(n_in: int, n_out: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    grid = torch.arange(n_out, dtype=torch.float32, device=device) * torch.tensor(n_in / n_out, dtype=torch.float32)
    lo = grid.long()
    hi = (lo + 1).clamp_max(n_in - 1)
    return lo, hi, grid - lo.float()


def _pytorch_fid(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    x = x / 255
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return 2 * x - 1


def _tf(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    return _already_sized(tf1_bilinear(x, size) if x.shape[-2:] != (size, size) else x, size, mode)


def _already_sized(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """`none`, or `clean` (resized in the decoding workers): the batch must have the network's size."""
    if x.shape[-2:] != (size, size):
        raise InputError(f"images are {x.shape[-1]}x{x.shape[-2]}, the network needs {size}x{size} "
                         f"(--resize {mode} does not resize)", hint="use --resize tf, pytorch-fid or clean")
    return (x - 128) / 128


# name -> (float NCHW 0..255 batch, size, name) -> network input in [-1, 1]
MODES = {"tf": _tf, "pytorch-fid": _pytorch_fid, "clean": _already_sized, "none": _already_sized}


def to_network_input(batch: torch.Tensor, mode: str, size: int) -> torch.Tensor:
    """uint8 (or, for `clean`, already resized float 0..255) NCHW batch -> float32 in [-1, 1]."""
    return MODES[mode](batch.float(), size, mode)


def clean_resize(image: np.ndarray, size: int) -> np.ndarray:
    """clean-fid's resizer: each channel as a float32 PIL image, bicubic to ``size``, clipped to 0..255.

    ``image: (H, W, 3) uint8`` -> ``(size, size, 3) float32`` (clean-fid
    ``make_resizer("PIL", False, "bicubic", (size, size))``).
    """
    from PIL import Image

    channels = [np.asarray(Image.fromarray(image[:, :, c].astype(np.float32), mode="F")
                           .resize((size, size), resample=Image.BICUBIC)) for c in range(image.shape[2])]
    return np.clip(np.stack(channels, axis=2), 0, 255)
