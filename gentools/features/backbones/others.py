"""Backbones other than Inception: torchvision classifiers, TorchScript files, raw pixels, plugins.

- ``tv:NAME``: any torchvision classification model, penultimate features (the
  input of the last ``Linear``) plus its logits; the weights' own inference
  transform (resize, centre crop, ImageNet normalisation). Weights through
  torchvision's cache, or ``--weights PATH`` (a state dict).
- ``pt2:PATH``: an exported program (``torch.export.save``, dynamic batch)
  taking float32 ``[B, 3, H, W]`` in 0..1 and returning features ``[B, D]``,
  ``(features, logits)`` or a dict of them (``{"features": ..., "logits": ...}``).
  Exported with a static ``H = W = S``, gentools resizes to ``S`` (bilinear).
- ``ts:PATH``: the same contract for a TorchScript file (deprecated by torch;
  one notice suggests ``.pt2``), or a ``.pt2`` (told apart by content). An
  ``input_size`` attribute makes gentools resize to it (bilinear), and a
  ``layer`` attribute names the layer in the provenance. Set both in
  ``__init__`` (``self.input_size = 64``): scripting drops class attributes.
  Only with logits can the module feed ``is`` and the logits-argmax class
  histogram of ``diversity``.
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
from gentools.features.backbones import compiled
from gentools.features.backbones.base import Backbone, load_state_file, tensor_outputs


def _scaled(batch: torch.Tensor, size: int) -> torch.Tensor:
    x = batch.float() / 255
    if size and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def module_backbone(name: str, module, sha256: str, device: torch.device, runtime: str = "",
                    input_size=None) -> Backbone:
    """A backbone over ``module`` (see the module docstring). ``runtime``: how a module loaded from a file runs
    (``pt2``, ``torchscript``), as it is; empty: a Python module, compiled when it declares its input size."""
    size = int(input_size or getattr(module, "input_size", 0) or 0)
    layer = str(getattr(module, "layer", "output"))
    net = module
    if not runtime:
        if size:
            # keyed by the weights actually held, not a declared hash: the package freezes them in
            net, runtime = compiled.prepare(module, device, (3, size, size),
                                            {"backbone": name, "weights_sha256": _state_sha256(module)})
        else:  # images at their own sizes: no one input shape to compile for
            net, runtime = module.eval().to(device).to(memory_format=torch.channels_last), "eager"

    def run(batch: torch.Tensor) -> dict:
        return tensor_outputs(net(_scaled(batch, size)))

    return Backbone(name, layer, size, "x/255", "bilinear" if size else "none", sha256, run, device,
                    runtime=runtime)


def model_file(path: str, device: torch.device) -> Backbone:
    """``pt2:PATH`` or ``ts:PATH``: an exported program or a TorchScript file, by content."""
    from gentools.features import model_files
    from gentools.features.weights import sha256_of

    loaded = model_files.load(path, device, "backbone")
    prefix = "pt2" if loaded.kind == "pt2" else "ts"
    return module_backbone(f"{prefix}:{Path(path).name}", loaded.module, sha256_of(path), device, loaded.kind,
                           input_size=loaded.attribute("input_size"))


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
    from gentools.features.model_files import is_exported

    runtime = "torchscript" if isinstance(module, torch.jit.ScriptModule) else "pt2" if is_exported(module) else ""
    return module_backbone(spec, module, sha256, device, runtime)


def _state_sha256(module) -> str:
    """sha256 over a module's parameters and buffers (names, shapes, bytes), for a plugin that declares none."""
    import hashlib

    digest = hashlib.sha256()
    state = module.state_dict() if isinstance(module, torch.nn.Module) else {}
    for name, value in sorted(state.items()):
        digest.update(f"{name}:{list(value.shape)}:{value.dtype}".encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


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
