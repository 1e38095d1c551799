"""The ``inception`` backbone: the FID Inception-v3 (``inception_net``) with its weights, resize and runtime.

The network's classes live in :mod:`gentools.features.backbones.inception_net`, imported only to build it:
torchvision's import costs ~4 s here, which a warm start from the compiled cache skips. ``build``,
``random_state_dict`` and ``FIDInception`` are re-exported from there on first use.
"""

from __future__ import annotations

import functools

import torch

INPUT_SIZE = 299
_NETWORK_NAMES = ("FIDInception", "build", "random_state_dict", "SPATIAL_CHANNELS")


def __getattr__(name: str):
    if name in _NETWORK_NAMES:
        from gentools.features.backbones import inception_net

        return getattr(inception_net, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _network_files() -> list:
    """The source files that define the network: ours and torchvision's Inception blocks (found without
    importing torchvision)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("torchvision")
    roots = list(spec.submodule_search_locations or []) if spec else []
    ours = str(Path(__file__).with_name("inception_net.py"))
    return [ours] + [str(Path(root) / "models" / "inception.py") for root in roots]


def backbone(weights: str | None, resize: str, spatial: bool, device: torch.device):
    """The ``inception`` backbone: pool3 features, the 1008 logits ``pool3 · Wᵀ`` without the fc bias (as
    torch-fidelity, StyleGAN's ``no_output_bias=True`` and ADM's ``tf.matmul(input_batch, w)`` score IS),
    optional sFID spatial features."""

    from gentools.errors import warn
    from gentools.features import resize as resizing
    from gentools.features import weights as weight_files
    from gentools.features.backbones import compiled
    from gentools.features.backbones.base import Backbone

    path = weight_files.resolve_inception_weights(weights)
    sha256 = weight_files.sha256_of(path)
    if not weight_files.is_published(sha256):
        warn(f"{path}: sha256 {sha256[:16]}… is not the published FID Inception weights "
             f"({weight_files.PUBLISHED_PREFIX}…); numbers are not comparable with published ones")

    def network():
        from gentools.features.backbones import inception_net

        try:
            return inception_net.build(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:  # noqa: BLE001 - any loading failure is a bad weights file
            raise _weights_error(path, exc) from exc

    net, runtime = compiled.prepare(network, device, (3, INPUT_SIZE, INPUT_SIZE),
                                    {"backbone": "inception", "resize": resize, "weights_sha256": sha256},
                                    code_files=_network_files())

    def run(batch: torch.Tensor) -> dict:
        x = resizing.to_network_input(batch, resize, INPUT_SIZE).contiguous(memory_format=torch.channels_last)
        pool, logits, tap = net(x)
        out = {"features": pool, "logits": logits}
        if spatial:
            out["spatial"] = tap
        return out

    worker = functools.partial(resizing.clean_resize, size=INPUT_SIZE) if resize == "clean" else None
    return Backbone("inception", "pool3", INPUT_SIZE, "(x-128)/128" if resize != "pytorch-fid" else "2*x/255-1",
                    resize, sha256, run, device, worker, runtime)


def _weights_error(path, exc):
    from gentools.errors import InputError

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"{path}: not a FID Inception state dict ({first[:200]})")
