"""Backbones other than Inception: torchvision classifiers, TorchScript files, raw pixels, plugins.

- ``tv:NAME``: any torchvision classification model, penultimate features (the
  input of the last ``Linear``) plus its logits; the weights' own inference
  transform (resize, centre crop, ImageNet normalisation). Weights through
  torchvision's cache, or ``--weights PATH`` (a state dict).
- ``ts:PATH``: a TorchScript module taking float32 ``[B, 3, H, W]`` in 0..1 and
  returning features ``[B, D]``, ``(features, logits)`` or a dict of them
  (``{"features": ..., "logits": ...}``); an ``input_size`` attribute makes
  gentools resize to it (bilinear), and a ``layer`` attribute names the layer in
  the provenance. Set both in ``__init__`` (``self.input_size = 64``):
  ``torch.jit.script`` drops class attributes. Only with logits can the
  module feed ``is`` and the logits-argmax class histogram of ``diversity``.
- ``pixels[:SIZE][:gray]``: the pixels themselves, ``x / 255`` flattened
  channels-last (for pixel-space KDE), optionally resized (area) and grey.
- ``module:function``: ``function()`` returns a module used like ``ts:``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
import torch.nn.functional as F

from gentools.errors import InputError, UsageError
from gentools.features.backbones.base import Backbone, load_state_file, load_torchscript, optimise, runtime_of, tensor_outputs


def _scaled(batch: torch.Tensor, size: int) -> torch.Tensor:
    x = batch.float() / 255
    if size and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def module_backbone(name: str, module, sha256: str, device: torch.device, scripted: bool) -> Backbone:
    size = int(getattr(module, "input_size", 0) or 0)
    layer = str(getattr(module, "layer", "output"))
    net = module.eval().to(device) if scripted else optimise(module, device)

    def run(batch: torch.Tensor) -> dict:
        return tensor_outputs(net(_scaled(batch, size)))

    return Backbone(name, layer, size, "x/255", "bilinear" if size else "none", sha256, run, device,
                    runtime=runtime_of(net))


def torchscript(path: str, device: torch.device) -> Backbone:
    from gentools.features.weights import sha256_of

    try:
        module = load_torchscript(path, device)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a loadable TorchScript file ({str(exc).splitlines()[0][:160]})") from exc
    return module_backbone(f"ts:{Path(path).name}", module, sha256_of(path), device, scripted=True)


def load_callable(spec: str, what: str):
    """``module:function`` -> the function, with one-line errors."""
    module_name, _, function = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"{what} {spec}: cannot import ({exc})") from exc


def plugin(spec: str, device: torch.device) -> Backbone:
    module = load_callable(spec, "backbone")()
    sha256 = str(getattr(module, "weights_sha256", ""))
    return module_backbone(spec, module, sha256, device, scripted=isinstance(module, torch.jit.ScriptModule))


def pixels(spec: str, device: torch.device) -> Backbone:
    parts = spec.split(":")[1:]
    gray = "gray" in parts
    sizes = [p for p in parts if p != "gray"]
    try:
        size = int(sizes[0]) if sizes else 0
        if len(sizes) > 1 or size < 0:
            raise ValueError
    except ValueError:
        raise UsageError(f"--backbone {spec}: expected pixels[:SIZE][:gray]") from None

    def run(batch: torch.Tensor) -> dict:
        x = batch.float()
        if size and x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="area")
        if gray:  # ITU-R 601 luma, as PIL convert("L")
            x = (x[:, 0:1] * 299 + x[:, 1:2] * 587 + x[:, 2:3] * 114) / 1000
        return {"features": (x / 255).permute(0, 2, 3, 1).flatten(1)}

    return Backbone(spec, "pixels", size, "x/255", "area" if size else "none", "", run, device)


def torchvision_classifier(spec: str, weights: str | None, device: torch.device) -> Backbone:
    import torchvision

    name = spec[3:]
    try:
        default = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError):
        raise UsageError(f"--backbone {spec}: torchvision has no classification model {name!r}") from None
    from gentools.features.weights import checkpoint_dir, sha256_of

    if weights:
        model = torchvision.models.get_model(name, weights=None)
        sha256 = load_state_file(model, weights, name)
    else:
        path = checkpoint_dir() / Path(default.url).name
        try:
            model = torchvision.models.get_model(name, weights=default)
        except OSError as exc:
            raise InputError(f"cannot get the {name} weights ({exc}): put {path.name} (from {default.url}) "
                             f"in {path.parent}/, or pass --weights PATH") from exc
        sha256 = sha256_of(path)
    transform = default.transforms()
    head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    captured = {}
    head.register_forward_hook(lambda module, inputs, output: captured.__setitem__("features", inputs[0]))
    net = model.eval().to(device)

    def run(batch: torch.Tensor) -> dict:
        logits = net(transform(batch).contiguous(memory_format=torch.channels_last))
        return {"features": captured.pop("features").flatten(1).float(), "logits": logits.float()}

    size = transform.crop_size[0]
    norm = f"imagenet mean={list(transform.mean)} std={list(transform.std)}"
    return Backbone(spec, "penultimate", size, norm, f"torchvision resize={transform.resize_size[0]} crop={size}",
                    sha256, run, device)
