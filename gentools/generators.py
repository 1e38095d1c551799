"""Generators: loading one (TorchScript file or ``module:function``), its latents, and its images as uint8."""

from __future__ import annotations

import os

import numpy as np
import torch

from gentools.errors import InputError, UsageError


def load_generator(spec: str, device: torch.device):
    """A generator from a TorchScript file or ``module:function`` (which returns the module)."""
    if os.path.isfile(spec):
        from gentools.features.backbones.base import load_torchscript

        try:
            return load_torchscript(spec, device).eval()
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"{spec}: not a loadable TorchScript generator ({str(exc).splitlines()[0][:160]})") from exc
    if ":" not in spec:
        raise UsageError(f"--generator {spec}: expected a TorchScript file or module:function")
    from gentools.features.backbones.others import load_callable

    module = load_callable(spec, "--generator")()
    return module.eval().to(device) if isinstance(module, torch.nn.Module) else module


def latents(seed: int, indices, latent_dim: int) -> np.ndarray:
    """Standard normal latents, sample ``i`` from ``default_rng([seed, i])``: the same sample for
    the same seed and index, whatever the batch size, shard or resume point."""
    return np.stack([np.random.default_rng([seed, int(i)]).standard_normal(latent_dim, dtype=np.float32)
                     for i in indices])


def to_uint8_images(images: torch.Tensor) -> torch.Tensor:
    """Generator output NCHW -> uint8 NHWC RGB. Floats are taken as [-1, 1] (``x * 127.5 + 128``,
    clamped, truncated: StyleGAN's convention); uint8 passes through; 1 channel is repeated."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise InputError(f"generator output has shape {list(images.shape)}, expected [B, 1 or 3, H, W]")
    if images.dtype != torch.uint8:
        images = (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images.permute(0, 2, 3, 1).contiguous()


def generator_id(seed: int, index: int) -> str:
    return f"generator:seed={seed}:index={index}"
