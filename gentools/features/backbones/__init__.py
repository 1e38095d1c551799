"""Backbones: networks that turn a preprocessed image batch into feature rows, as a registry.

``REGISTRY`` maps a backbone's name (the part of ``--backbone`` before the
first ``:``) to a :class:`Entry`: its help line, the resize modes it takes,
and a loader that imports its module only when it is used (listing the
registry, as ``--help`` does, imports no torch). Any other ``module:function``
is a plugin.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from gentools.errors import UsageError


@dataclass(frozen=True)
class Entry:
    help: str
    resizes: tuple  # accepted --resize modes, the first being the default; () = none
    load: Callable  # (spec, weights, resize, spatial, device) -> Backbone
    modality: str = "image"  # what its inputs are: "image", "audio", "video" or "text"


REGISTRY: dict = {}


def register(name: str, help: str, resizes: tuple, load: Callable, modality: str = "image") -> None:
    """Add backbone ``name``; a name is registered once."""
    if not name or ":" in name or name in REGISTRY:
        raise ValueError(f"backbone name {name!r} is empty, has ':' or is taken")
    REGISTRY[name] = Entry(help, tuple(resizes), load, modality)


def modality_of(spec: str) -> str:
    """``image``, ``audio`` or ``video``: what the backbone ``spec`` takes (plugins take images); an unknown name
    without ``:`` is a usage error with the nearest names (``-b VGGish``: did you mean vggish?)."""
    entry = REGISTRY.get(spec.split(":", 1)[0])
    if entry is None and ":" not in spec:
        raise UsageError(unknown_name(spec))
    return entry.modality if entry is not None else "image"


def unknown_name(spec: str) -> str:
    """The usage error of an unknown backbone name: the nearest registered names, else the short list."""
    import difflib

    lowered = {name.lower(): name for name in REGISTRY}
    near = difflib.get_close_matches(spec.split(":", 1)[0].lower(), lowered, n=3, cutoff=0.6)
    if near:
        return f"--backbone {spec}: unknown backbone; did you mean {' or '.join(lowered[n] for n in near)}?"
    return (f"--backbone {spec}: unknown backbone; expected one of {', '.join(REGISTRY)} (with its :VARIANT where "
            f"it has one), or module:function (a plugin)")


def _lazy(module: str, function: str, call: Callable) -> Callable:
    """A loader that imports ``gentools.features.backbones.MODULE`` when called."""
    def load(spec, weights, resize, spatial, device):
        target = getattr(importlib.import_module(f"gentools.features.backbones.{module}"), function)
        return call(target, spec, weights, resize, spatial, device)
    return load


def _after_colon(spec: str) -> str:
    return spec.split(":", 1)[1] if ":" in spec else ""


register("inception", "inception (FID Inception-v3: pool3 2048 + 1008 logits)", ("tf", "pytorch-fid", "clean", "none"),
         _lazy("inception", "backbone", lambda f, spec, w, r, sp, d: f(w, r, sp, d)))
register("dinov2", "dinov2:vits14|vitb14|vitl14|vitg14 (timm)", ("pil", "torch"),
         _lazy("foundation", "dinov2", lambda f, spec, w, r, sp, d: f(spec, w, d, r)))
register("clip", "clip:NAME (open_clip)", (), _lazy("foundation", "clip", lambda f, spec, w, r, sp, d: f(spec, w, d)))
register("nvidia", "nvidia:PATH (NVIDIA's TorchScript metric detectors: inception-2015-12-05.pt, vgg16.pt)", (),
         _lazy("nvidia", "detector", lambda f, spec, w, r, sp, d: f(_after_colon(spec), w, d)))
register("tv", "tv:NAME (torchvision classifier)", (),
         _lazy("others", "torchvision_classifier", lambda f, spec, w, r, sp, d: f(spec, w, d)))
register("pt2", "pt2:PATH (torch.export program)", (),
         _lazy("others", "model_file", lambda f, spec, w, r, sp, d: f(spec[4:], d)))
register("ts", "ts:PATH (TorchScript, or .pt2 by content)", (),
         _lazy("others", "model_file", lambda f, spec, w, r, sp, d: f(spec[3:], d)))
register("pixels", "pixels[:SIZE][:gray]", (), _lazy("others", "pixels", lambda f, spec, w, r, sp, d: f(spec, d)))
register("vggish", "vggish (audio: torchvggish's VGGish as fadtk runs it, 128-d per 0.96 s)", (),
         _lazy("audio", "vggish", lambda f, spec, w, r, sp, d: f(w, d)), modality="audio")
register("hf", "hf:MODEL[:LAYER] (audio: a transformers encoder, hidden_states[LAYER])", (),
         _lazy("hf_audio", "hf_audio", lambda f, spec, w, r, sp, d: f(spec, w, d)), modality="audio")
register("panns", "panns:cnn14 (audio: PANNs' Cnn14 frame-level embedding, 2048-d per 320 ms)", (),
         _lazy("audio", "panns", lambda f, spec, w, r, sp, d: f(spec, w, d)), modality="audio")
register("clap", "clap:laion-audio|laion-music (audio: LAION-CLAP's HTS-AT embedding, 512-d per second)", (),
         _lazy("clap", "clap", lambda f, spec, w, r, sp, d: f(spec, w, d)), modality="audio")
register("encodec", "encodec:24k (audio: EnCodec's encoder output, 128-d at 75 Hz)", (),
         _lazy("hf_audio", "encodec", lambda f, spec, w, r, sp, d: f(spec, w, d)), modality="audio")

register("hf-text", "hf-text:MODEL[:LAYER] (text: a transformers model's hidden states, pooled per text)", (),
         _lazy("hf_text", "hf_text", lambda f, spec, w, r, sp, d: f(spec, w, d)), modality="text")

register("i3d", "i3d[:PATH] (video: StyleGAN-V's i3d_torchscript.pt, 400-d per clip)", (),
         _lazy("video", "i3d_torchscript", lambda f, spec, w, r, sp, d: f(_after_colon(spec), w, d)), modality="video")
register("i3d400", "i3d400 (video: TATS's I3D, i3d_pretrained_400.pt, 400 logits per clip)", (),
         _lazy("video", "i3d400", lambda f, spec, w, r, sp, d: f(w, d)), modality="video")
register("videomae", "videomae[:PATH] (video: content-debiased-fvd's VideoMAE-v2 ViT-g, 1408-d per clip)", (),
         _lazy("video", "videomae", lambda f, spec, w, r, sp, d: f(_after_colon(spec), w, d)), modality="video")


def names_help() -> str:
    """The ``--backbone`` help: every registered backbone, then plugins."""
    return ", ".join(entry.help for entry in REGISTRY.values()) + ", or module:function (a plugin)"


def load_backbone(spec: str, weights: str | None, resize: str | None, spatial: bool, device):
    """The :class:`~gentools.features.backbones.base.Backbone` named by ``--backbone``."""
    name = spec.split(":", 1)[0]
    entry = REGISTRY.get(name)
    if spatial and name != "inception":
        raise UsageError("--spatial is only defined for the inception backbone (sFID)")
    if entry is None:
        if ":" not in spec:
            raise UsageError(unknown_name(spec))
        from gentools.features.backbones import others

        entry = Entry("", (), lambda s, w, r, sp, d: others.plugin(s, d))
    if resize and not entry.resizes:
        raise UsageError(f"--resize applies to the inception and dinov2 backbones; {spec} declares its own "
                         f"preprocessing")
    if entry.resizes and (resize or entry.resizes[0]) not in entry.resizes:
        raise UsageError(f"--resize {resize}: {name} takes {', '.join(entry.resizes)}")
    return entry.load(spec, weights, resize or (entry.resizes[0] if entry.resizes else None), spatial, device)
