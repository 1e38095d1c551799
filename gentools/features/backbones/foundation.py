"""DINOv2 (via timm) and CLIP (via open_clip) image embeddings, optional extras.

- ``dinov2:vit{s,b,l,g}14``: timm ``vit_*_patch14_dinov2.lvd142m`` at 224×224,
  the CLS token after the final norm (what ``torch.hub`` DINOv2 returns, as
  dgm-eval uses it); preprocessing as dgm-eval: PIL bicubic resize to
  224×224, ``x/255``, ImageNet mean/std; ``--resize torch`` (EDM2's default
  ``DINOv2Detector(resize_mode='torch')``) instead resizes the batch on the
  device: ``F.interpolate(x.float(), (224, 224), mode="bicubic",
  antialias=True)`` on 0..255, then ``/255`` and ImageNet mean/std.
  ``pip install gentools[dinov2]``.
- ``clip:NAME`` (``ViT-L-14-336``, ``ViT-L-14``, ``ViT-B-16``, ``ViT-B-32``):
  open_clip ``encode_image`` (not normalised; ``cmmd`` normalises), with
  open_clip's inference transform: PIL bicubic resize of the shorter side to
  the model's size, centre crop, ``x/255``, the OpenAI CLIP mean/std. ``pip install gentools[clip]``.

Weights come from ``--weights PATH`` (a state dict of the same architecture),
or the libraries' own caches (Hugging Face hub / open_clip) when the
pretrained weights are already there; nothing is downloaded behind your back
when offline: the error names the file and where to put it.
"""

from __future__ import annotations

import functools

import torch

from gentools.errors import InputError, UsageError
from gentools.features.backbones.base import Backbone, load_state_file, require_package

DINOV2 = {"vits14": "vit_small_patch14_dinov2.lvd142m", "vitb14": "vit_base_patch14_dinov2.lvd142m",
          "vitl14": "vit_large_patch14_dinov2.lvd142m", "vitg14": "vit_giant_patch14_dinov2.lvd142m"}
CLIP = {"ViT-L-14-336": "openai", "ViT-L-14": "openai", "ViT-B-16": "openai", "ViT-B-32": "openai"}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DINOV2_SIZE = 224


def _normalise(x: torch.Tensor, mean, std) -> torch.Tensor:
    mean = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def pil_resize(image, size: int, crop: bool = False):
    """PIL bicubic on the uint8 image, as the reference transforms do: to ``size``×``size`` (dgm-eval's
    DINOv2 ``Resize((224, 224))``), or with ``crop`` the shorter side to ``size`` then a centre crop
    (open_clip's ``Resize(size) + CenterCrop(size)``, torchvision's rounding). Runs in the decoding workers."""
    import numpy as np
    from PIL import Image

    pil = Image.fromarray(image)
    if not crop:
        return np.asarray(pil.resize((size, size), Image.BICUBIC))
    w, h = pil.size
    new_w, new_h = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    pil = pil.resize((new_w, new_h), Image.BICUBIC)
    left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
    return np.asarray(pil.crop((left, top, left + size, top + size)))


def normalised(batch: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 NCHW (already resized) -> ``(x/255 - mean) / std``."""
    return _normalise(batch.float() / 255, mean, std)


def edm2_dinov2_input(batch: torch.Tensor) -> torch.Tensor:
    """EDM2 ``DINOv2Detector.__call__`` with ``resize_mode='torch'``: uint8 NCHW of any size -> network input."""
    x = torch.nn.functional.interpolate(batch.to(torch.float32), size=(DINOV2_SIZE, DINOV2_SIZE), mode="bicubic",
                                        antialias=True)
    return _normalise(x / 255, IMAGENET_MEAN, IMAGENET_STD)


def dinov2(spec: str, weights: str | None, device: torch.device, resize: str = "pil") -> Backbone:
    timm = require_package("timm", "dinov2")
    variant = spec.split(":", 1)[1] if ":" in spec else "vitl14"
    if variant not in DINOV2:
        raise UsageError(f"--backbone {spec}: expected dinov2:{'|'.join(DINOV2)}")
    name = DINOV2[variant]
    model = timm.create_model(name, pretrained=False, num_classes=0, img_size=DINOV2_SIZE)
    if weights:
        sha256 = load_state_file(model, weights, name)
    else:
        try:
            model = timm.create_model(name, pretrained=True, num_classes=0, img_size=DINOV2_SIZE)
        except Exception as exc:  # noqa: BLE001 - hub errors come in many kinds
            raise InputError(f"no {name} weights here and they cannot be fetched ({type(exc).__name__}): put the "
                             f"model in the Hugging Face cache (~/.cache/huggingface/hub, timm/{name}) on a machine "
                             f"with internet, or pass --weights PATH (a state dict)") from None
        sha256 = f"timm:{name}"
    net = model.eval().to(device)

    prepare = edm2_dinov2_input if resize == "torch" else functools.partial(
        normalised, mean=IMAGENET_MEAN, std=IMAGENET_STD)

    def run(batch: torch.Tensor) -> dict:
        return {"features": net(prepare(batch)).float()}

    worker = None if resize == "torch" else functools.partial(pil_resize, size=DINOV2_SIZE)
    return Backbone(f"dinov2:{variant}", "cls_token", DINOV2_SIZE, f"imagenet mean={list(IMAGENET_MEAN)} "
                    f"std={list(IMAGENET_STD)}", "torch-bicubic-antialias-224" if resize == "torch"
                    else "pil-bicubic-224", sha256, run, device, worker)


def clip(spec: str, weights: str | None, device: torch.device) -> Backbone:
    open_clip = require_package("open_clip", "clip")
    name = spec.split(":", 1)[1] if ":" in spec else "ViT-L-14-336"
    if name not in open_clip.list_models():
        raise UsageError(f"--backbone {spec}: open_clip has no model {name!r} (e.g. {', '.join(CLIP)})")
    if weights:
        model = open_clip.create_model(name, pretrained=None)
        sha256 = load_state_file(model, weights, f"open_clip {name}")
    else:
        tag = CLIP.get(name, "openai")
        try:  # open_clip also logs the failure; the CLI routes third-party logging away from stderr
            model = open_clip.create_model(name, pretrained=tag)
        except Exception as exc:  # noqa: BLE001 - hub and download errors come in many kinds
            raise InputError(f"no {name} ({tag}) weights here and they cannot be fetched ({type(exc).__name__}): "
                             f"run open_clip.create_model({name!r}, pretrained={tag!r}) once on a machine with "
                             f"internet and copy its cache (~/.cache/huggingface/hub), or pass --weights PATH") from None
        sha256 = f"open_clip:{name}:{tag}"
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    mean = getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
    std = getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
    net = model.eval().to(device)

    def run(batch: torch.Tensor) -> dict:
        return {"features": net.encode_image(normalised(batch, mean, std)).float()}

    return Backbone(f"clip:{name}", "image_embedding", size, f"openai-clip mean={list(mean)} std={list(std)}",
                    "pil-bicubic-shorter-side+center-crop", sha256, run, device,
                    functools.partial(pil_resize, size=size, crop=True),
                    encode_text=TextEncoder(net, open_clip.get_tokenizer(name), device))


class TextEncoder:
    """Captions -> the same open_clip model's ``encode_text`` embeddings (float32 ``[N, E]``, not normalised),
    through open_clip's tokenizer, which truncates a caption longer than the context to it."""

    def __init__(self, model, tokenizer, device: torch.device):
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.context_length = int(getattr(tokenizer, "context_length", 77))

    def __call__(self, captions: list):
        with torch.inference_mode():
            tokens = self.tokenizer(list(captions)).to(self.device)
            return self.model.encode_text(tokens).float().cpu().numpy()

    def truncated(self, captions: list) -> int:
        """How many captions do not fit the context (start and end tokens included)."""
        encode = getattr(self.tokenizer, "encode", None)
        if encode is None:
            return 0
        return sum(len(encode(caption)) + 2 > self.context_length for caption in captions)
