"""``nvidia:PATH``: NVIDIA's TorchScript metric detectors, called as stylegan2-ada-pytorch's ``metrics/`` call them.

- ``inception-2015-12-05.pt`` (FID, KID, IS):
  ``detector(images, return_features=True)`` gives the pool3 ``features``
  [N, 2048] (``metrics/frechet_inception_distance.py``); ``detector(images,
  no_output_bias=True)`` gives softmax probabilities without the fc bias
  (``metrics/inception_score.py``), stored as their natural log in ``logits``,
  so ``gentools is`` (softmax of the logits) scores exactly those
  probabilities. A probability of 0 is stored as ``log(float32 tiny)``.
- ``vgg16.pt`` (precision/recall): ``detector(images, return_features=True)``
  [N, 4096] (``metrics/precision_recall.py``).

Images go in as ``metric_utils.py`` feeds them: a uint8 ``[N, 3, H, W]``
batch at the images' own size; the detectors resize inside. Which calls a
detector takes is read from its TorchScript ``forward`` schema: one without
``return_features`` is not a metric detector.

The file comes from ``--weights``, else PATH, else PATH's file name in torch
hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``), else the published
URL (no hash is published for these files; the sha256 is recorded).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gentools.errors import InputError
from gentools.features.weights import Published
from gentools.features.backbones.base import Backbone
from gentools.features.model_files import load_torchscript

BASE_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
PUBLISHED = ("inception-2015-12-05.pt", "vgg16.pt")
PUBLISHED_ROWS = {name: Published(f"nvidia:{name}", name, BASE_URL + name) for name in PUBLISHED}
LOG_TINY = float(np.log(np.finfo(np.float32).tiny))


def resolve(path: str, weights: str | None) -> Path:
    """The detector file, by the order in the module docstring; NVIDIA's published files through
    :func:`gentools.features.weights.resolve` (``$GENTOOLS_NVIDIA_URL``: a mirror of ``BASE_URL``)."""
    from gentools.features.weights import checkpoint_dir
    from gentools.features.weights import resolve as resolve_published

    for candidate in (weights, path):
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    if weights:
        raise InputError(f"{weights}: detector file not found (--weights)")
    name = Path(path).name
    if name in PUBLISHED_ROWS:
        mirror = os.environ.get("GENTOOLS_NVIDIA_URL")
        return resolve_published(PUBLISHED_ROWS[name], None, mirror + name if mirror else None)
    cached = checkpoint_dir() / name
    if cached.is_file():
        return cached
    raise InputError(f"{path}: no such detector file, and not one of NVIDIA's published ones "
                     f"({', '.join(PUBLISHED)}) that could be fetched")


def detector(path: str, weights: str | None, device: torch.device) -> Backbone:
    """The ``nvidia:PATH`` backbone (see the module docstring)."""
    from gentools.features.weights import sha256_of

    file = resolve(path, weights)
    try:
        net = load_torchscript(file, device, "detector")
        arguments = {a.name for a in net.forward.schema.arguments}
    except (RuntimeError, ValueError, OSError, AttributeError) as exc:
        raise InputError(f"{file}: not a loadable TorchScript detector ({str(exc).splitlines()[0][:160]})") from None
    if "return_features" not in arguments:
        raise InputError(f"{file}: not an NVIDIA metric detector (its forward takes no return_features)")
    probabilities = "no_output_bias" in arguments

    def run(batch: torch.Tensor) -> dict:
        out = {"features": net(batch, return_features=True).float()}
        if probabilities:
            p = net(batch, no_output_bias=True).double()
            out["logits"] = torch.log(p).clamp_min(LOG_TINY).float()
        return out

    name = f"nvidia:{Path(path).stem}"
    return Backbone(name, "return_features", 0, "uint8, inside the detector", "inside the detector",
                    sha256_of(file), run, device)
