"""Generators: loading one (``.pt2`` exported program, TorchScript file or ``module:function``), its latents, and
its images as uint8."""

from __future__ import annotations

import os

import numpy as np
import torch

from gentools.errors import InputError, UsageError


def load_generator(spec: str, device: torch.device):
    """A generator from a model file (``.pt2`` exported program or TorchScript, told apart by content; see
    :mod:`gentools.features.model_files`) or ``module:function`` (which returns the module). An exported
    program's ``latent_dim`` is its input's static width."""
    if os.path.isfile(spec):
        from gentools.features import model_files

        loaded = model_files.load(spec, device, "generator")
        _declare_latent_dim(loaded)
        return loaded.module
    if ":" not in spec:
        raise UsageError(f"--generator {spec}: expected a .pt2 or TorchScript file, or module:function")
    from gentools.features.backbones.others import load_callable
    from gentools.features.model_files import ModelFile, evaluating, exported_input_shape, is_exported

    module = load_callable(spec, "--generator")()
    if is_exported(module):  # ExportedProgram.module(): its latent size as a .pt2 file's
        _declare_latent_dim(ModelFile(module, "pt2", exported_input_shape(module)))
    return evaluating(module).to(device) if isinstance(module, torch.nn.Module) else module


def _declare_latent_dim(loaded) -> None:
    """An exported generator's ``latent_dim``, from its input shape (export drops attributes)."""
    dim = loaded.attribute("latent_dim") if loaded.kind == "pt2" else None
    if dim:
        loaded.module.latent_dim = int(dim)


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
