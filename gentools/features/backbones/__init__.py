"""Backbones: networks that turn a preprocessed image batch into feature rows."""

from __future__ import annotations

import torch

from gentools.errors import UsageError

DINOV2_RESIZES = ("pil", "torch")


def load_backbone(spec: str, weights: str | None, resize: str | None, spatial: bool, device: torch.device):
    """The :class:`~gentools.features.backbones.base.Backbone` named by ``--backbone``."""
    from gentools.features.backbones import others

    if spatial and spec != "inception":
        raise UsageError("--spatial is only defined for the inception backbone (sFID)")
    if spec == "inception":
        from gentools.features.backbones import inception
        from gentools.features.resize import MODES

        mode = resize or "tf"
        if mode not in MODES:
            raise UsageError(f"--resize {mode}: expected one of {', '.join(MODES)}")
        return inception.backbone(weights, mode, spatial, device)
    if spec == "dinov2" or spec.startswith("dinov2:"):
        from gentools.features.backbones import foundation

        if (resize or "pil") not in DINOV2_RESIZES:
            raise UsageError(f"--resize {resize}: dinov2 takes {' or '.join(DINOV2_RESIZES)}")
        return foundation.dinov2(spec, weights, device, resize or "pil")
    if resize:
        raise UsageError(f"--resize applies to the inception and dinov2 backbones; {spec} declares its own "
                         f"preprocessing")
    if spec == "clip" or spec.startswith("clip:"):
        from gentools.features.backbones import foundation

        return foundation.clip(spec, weights, device)
    if spec.startswith("nvidia:"):
        from gentools.features.backbones import nvidia

        return nvidia.detector(spec[len("nvidia:"):], weights, device)
    if spec.startswith("tv:"):
        return others.torchvision_classifier(spec, weights, device)
    if spec.startswith("ts:"):
        return others.torchscript(spec[3:], device)
    if spec == "pixels" or spec.startswith("pixels:"):
        return others.pixels(spec, device)
    if ":" in spec:
        return others.plugin(spec, device)
    raise UsageError(f"--backbone {spec}: expected inception, dinov2:VARIANT, clip:NAME, nvidia:PATH, tv:NAME, "
                     f"ts:PATH, pixels[:SIZE] or module:function")
