"""Input kinds: what a backbone's inputs are (images, sound, videos), one object per modality, as a registry.

A kind (:class:`~gentools.kinds.base.InputKind`) owns listing and decoding its
inputs, checking the ``extract`` options that belong to it, turning a preset's
values into its loading settings, building batches from files, generators and
in-memory data (``Evaluator.update``), and its guarded provenance keys. The api
finds the kind from the backbone (each backbone registers the ``modality`` it
takes) and never branches on a modality's name. A new kind is one module with an
``InputKind`` and its name in :data:`BUILT_IN` (or :func:`register` from outside).
"""

from __future__ import annotations

import importlib

from gentools.errors import UsageError
from gentools.kinds.base import InputKind, Job, Request

BUILT_IN = ("image", "audio", "video", "text")  # modules of this package; each defines KIND
KINDS: dict = {}


def register(kind: InputKind) -> None:
    """Add ``kind`` under its ``name`` (the ``modality`` its backbones register with); a name is taken once."""
    if not kind.name or kind.name in KINDS:
        raise ValueError(f"input kind {kind.name!r} is empty or taken")
    KINDS[kind.name] = kind


def named(modality: str) -> InputKind:
    """The kind of ``modality``."""
    if modality not in KINDS:
        raise UsageError(f"no input kind takes {modality!r} inputs (known: {', '.join(KINDS)})")
    return KINDS[modality]


def of_backbone(spec: str) -> InputKind:
    """The kind the backbone ``spec`` takes (an unknown name is a usage error with the nearest names)."""
    from gentools.features.backbones import modality_of

    return named(modality_of(spec))


def of_net(net) -> InputKind:
    """The kind a loaded backbone takes."""
    return named(net.modality)


def guarded_keys() -> tuple:
    """Every kind's guarded provenance keys (the metric commands compare them between GEN and REF)."""
    return tuple(dict.fromkeys(key for kind in KINDS.values() for key in kind.guarded_keys))


for _module in BUILT_IN:
    register(importlib.import_module(f"gentools.kinds.{_module}").KIND)

__all__ = ["BUILT_IN", "KINDS", "InputKind", "Job", "Request", "guarded_keys", "named", "of_backbone", "of_net",
           "register"]
