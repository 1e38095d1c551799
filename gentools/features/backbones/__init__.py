"""Backbones: networks that turn a preprocessed image batch into feature rows."""

from __future__ import annotations

import torch

from gentools.errors import UsageError


def load_backbone(spec: str, weights: str | None, resize: str | None, spatial: bool,
                  device: torch.device, biased_logits: bool = False):
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
        return inception.backbone(weights, mode, spatial, device, biased_logits)
    if resize:
        raise UsageError(f"--resize applies to the inception backbone; {spec} declares its own preprocessing")
    if spec == "dinov2" or spec.startswith("dinov2:"):
        from gentools.features.backbones import foundation

        return foundation.dinov2(spec, weights, device)
    if spec == "clip" or spec.startswith("clip:"):
        from gentools.features.backbones import foundation

        return foundation.clip(spec, weights, device)
    if spec.startswith("tv:"):
        return others.torchvision_classifier(spec, weights, device)
    if spec.startswith("ts:"):
        return others.torchscript(spec[3:], device)
    if spec == "pixels" or spec.startswith("pixels:"):
        return others.pixels(spec, device)
    if ":" in spec:
        return others.plugin(spec, device)
    raise UsageError(f"--backbone {spec}: expected inception, dinov2:VARIANT, clip:NAME, tv:NAME, ts:PATH, "
                     f"pixels[:SIZE] or module:function")
