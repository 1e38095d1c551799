"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"), v0.1.

Our own module with the ``lpips`` package's (0.1.4, BSD-2) layer names, so that its state dict and ours are
one: ``scaling_layer.shift/scale``, the trunk's ``net.sliceK.I.*`` (torchvision's ``features.I.*``, cut into
slices at the ReLUs LPIPS reads) and ``linK.model.1.weight`` (1x1 convolutions, no bias)::

    d(x, y) = Σ_l mean_hw ( w_l · (f̂_l(x) − f̂_l(y))² ),   f̂ = f / (‖f‖₂ over channels + 1e-10)

with ``x`` and ``y`` in [−1, 1], scaled per channel by ``(x − shift) / scale`` first (v0.1). The trunk is
torchvision's ImageNet network (alex, vgg16, squeezenet1_1); the "lin" weights ship in the ``lpips`` wheel
(``lpips/weights/v0.1/NET.pth``) and are published in its repository.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from gentools.errors import InputError
from gentools.features.weights import Published

# lpips/pretrained_networks.py: the torchvision ``features`` indices of each slice (alexnet: "for x in range(2)",
# "range(2, 5)", "range(5, 8)", "range(8, 10)", "range(10, 12)"), and lpips/lpips.py's ``self.chns``.
SLICES = {
    "alex": ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12)),
    "vgg": ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30)),
    "squeeze": ((0, 2), (2, 5), (5, 8), (8, 10), (10, 11), (11, 12), (12, 13)),
}
CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512),
            "squeeze": (64, 128, 256, 384, 384, 512, 512)}
TRUNKS = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}
# lpips/lpips.py ScalingLayer: torch.Tensor([-.030,-.088,-.188]), torch.Tensor([.458,.448,.450])
SHIFT, SCALE = (-.030, -.088, -.188), (.458, .448, .450)


def _lpips_package_weights(net: str) -> list:
    """The ``lin`` file inside an installed ``lpips`` package, found without importing it."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.origin:
        return []
    return [Path(spec.origin).parent / "weights" / "v0.1" / f"{net}.pth"]


# torchvision/models/{alexnet,vgg,squeezenet}.py: url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
# ".../vgg16-397923af.pth", ".../squeezenet1_1-b8a52dc0.pth" (the name's suffix is the sha256's first digits)
TRUNK = {
    "alex": Published("lpips:alex", "alexnet-owt-7be5be79.pth",
                      "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", "7be5be79"),
    "vgg": Published("lpips:vgg", "vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth",
                     "397923af"),
    "squeeze": Published("lpips:squeeze", "squeezenet1_1-b8a52dc0.pth",
                         "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth", "b8a52dc0"),
}
# The lin files of lpips 0.1.4's wheel (sha256 of lpips/weights/v0.1/*.pth as installed), published in its repository.
_LIN_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/{}.pth"
LIN = {
    net: Published(f"lpips:{net}:lin", f"lpips_v0.1_{net}.pth", _LIN_URL.format(net), sha256,
                   elsewhere=lambda net=net: _lpips_package_weights(net))
    for net, sha256 in (("alex", "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"),
                        ("vgg", "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"),
                        ("squeeze", "4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76"))
}


class ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class Trunk(nn.Module):
    """torchvision's ``features`` cut into ``slice1..sliceL`` (the module indices kept); returns each slice's
    output."""

    def __init__(self, net: str, features: nn.Sequential | None = None):
        super().__init__()
        features = features if features is not None else torchvision_features(net)
        for k, (start, stop) in enumerate(SLICES[net], 1):
            part = nn.Sequential()
            for i in range(start, stop):
                part.add_module(str(i), features[i])
            setattr(self, f"slice{k}", part)
        self.count = len(SLICES[net])

    def forward(self, x: torch.Tensor) -> list:
        outs = []
        for k in range(1, self.count + 1):
            x = getattr(self, f"slice{k}")(x)
            outs.append(x)
        return outs


def torchvision_features(net: str, initialise: bool = True) -> nn.Sequential:
    """torchvision's ``features`` of the trunk, randomly initialised (vgg16's built alone: its classifier holds
    120 M of its 138 M parameters, which LPIPS never runs); ``initialise=False``: storage only, for weights
    loaded next (no random draws: alexnet's classifier alone takes 0.5 s to initialise)."""
    import torchvision

    if not initialise:
        with torch.device("meta"):
            return torchvision_features(net).to_empty(device="cpu")
    if net == "vgg":
        from torchvision.models.vgg import cfgs, make_layers

        return make_layers(cfgs["D"], batch_norm=False)
    return getattr(torchvision.models, TRUNKS[net])(weights=None).features


class LinLayer(nn.Module):
    """lpips' NetLinLayer: ``model = Sequential(Dropout(), Conv2d(C, 1, 1, bias=False))`` (dropout is off in eval)."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, stride=1, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Lins(nn.Module):
    """``lin0..linL``: the layout of lpips' ``weights/v0.1/NET.pth``."""

    def __init__(self, net: str):
        super().__init__()
        for k, channels in enumerate(CHANNELS[net]):
            setattr(self, f"lin{k}", LinLayer(channels))


class LPIPS(nn.Module):
    """LPIPS v0.1 (module docstring): ``forward(x, y)`` of ``(N, 3, H, W)`` in [−1, 1] -> ``(N,)``."""

    def __init__(self, net: str = "alex", features: nn.Sequential | None = None, lins: Lins | None = None):
        super().__init__()
        self.scaling_layer = ScalingLayer()
        self.net = Trunk(net, features)
        lins = lins if lins is not None else Lins(net)
        for k in range(len(CHANNELS[net])):
            setattr(self, f"lin{k}", getattr(lins, f"lin{k}"))
        self.layers = len(CHANNELS[net])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        both = self.net(self.scaling_layer(torch.cat([x, y])))  # one pass over both: larger convolutions
        total = 0
        for k, (a, b) in enumerate(f.split(len(x)) for f in both):
            a = a / (torch.sqrt(torch.sum(a ** 2, dim=1, keepdim=True)) + 1e-10)
            b = b / (torch.sqrt(torch.sum(b ** 2, dim=1, keepdim=True)) + 1e-10)
            total = total + getattr(self, f"lin{k}")((a - b) ** 2).mean([2, 3])
        return total.flatten()


def _features_only(state) -> dict:
    """``features.I.*`` of a torchvision state dict, as the keys of ``features`` itself (the classifier unread)."""
    if not isinstance(state, dict):
        raise ValueError("not a state dict")
    return {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}


def load_lpips(net: str, weights: str | None, lin_weights: str | None, device) -> tuple[LPIPS, dict]:
    """The LPIPS module for ``net`` in eval mode on ``device``: its trunk from ``weights`` (torchvision's file;
    its ``features.I.*``), its lin layers from ``lin_weights`` (lpips' ``weights/v0.1/NET.pth``),
    each resolved as every backbone's weights are (``--weights``/``--lin-weights``, the caches, the published
    URL with its sha256) and loaded strictly; and the provenance (net, each file's sha256)."""
    from gentools.features.backbones.base import load_state_file
    from gentools.features.weights import resolve

    if net not in SLICES:
        raise InputError(f"lpips: unknown net {net!r}; expected one of {', '.join(SLICES)}")
    features, lins = torchvision_features(net, initialise=False), Lins(net)
    trunk_sha = load_state_file(features, resolve(TRUNK[net], weights), f"torchvision {TRUNKS[net]}",
                                select=_features_only)
    lin_sha = load_state_file(lins, resolve(LIN[net], lin_weights), f"LPIPS v0.1 {net} lin")
    # channels-last: oneDNN's convolutions run about 15% faster on it (CPU)
    model = LPIPS(net, features, lins).eval().to(device, memory_format=torch.channels_last)
    return model, {"net": net, "weights_sha256": trunk_sha, "lin_sha256": lin_sha}
