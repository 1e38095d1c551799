"""The FID Inception-v3 network: TensorFlow's 2015-12-05 graph as ported by pytorch-fid and torch-fidelity.

Blocks are torchvision's, with the forward passes of the TF graph: average
pools exclude the padding (``count_include_pad=False``) and the last block
pools with a max pool. Module names are those of the published
``pt_inception-2015-12-05-6726825d.pth`` state dict, so it loads as it is.

``forward`` takes images already resized to 299×299 and scaled to [-1, 1] and
returns ``(pool3, logits, spatial)``: the 2048-d average pool, the 1008 logits
without the fc bias (torch-fidelity's ``logits_unbiased``, used for IS), and
``Mixed_6d.branch1x1`` (TF ``mixed_6/conv``), first 7 channels flattened
channels-last, 17·17·7 = 2023 values (guided-diffusion's sFID features).
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import inception as tv

INPUT_SIZE = 299
SPATIAL_CHANNELS = 7  # also spelled literally in forward


class FIDInceptionA(tv.InceptionA):
    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)


class FIDInceptionC(tv.InceptionC):
    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tap(x)[0]

    def forward_tap(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Block output and its ``branch1x1`` output (the sFID tap)."""
        branch1x1 = self.branch1x1(x)
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_1(x)
        branch7x7dbl = self.branch7x7dbl_3(self.branch7x7dbl_2(branch7x7dbl))
        branch7x7dbl = self.branch7x7dbl_5(self.branch7x7dbl_4(branch7x7dbl))
        branch_pool = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([branch1x1, branch7x7, branch7x7dbl, branch_pool], 1), branch1x1


class FIDInceptionE(tv.InceptionE):
    """Mixed_7b (average pool without padding) and, with ``max_pool=True``, Mixed_7c."""

    def __init__(self, in_channels: int, max_pool: bool = False):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: Tensor) -> Tensor:
        branch1x1 = self.branch1x1(x)
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        if self.max_pool:  # the TF graph's last block max-pools (pytorch-fid's FIDInceptionE_2)
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            pooled = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([branch1x1, branch3x3, branch3x3dbl, self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """Inception-v3 with the FID graph's semantics; see the module docstring."""

    def __init__(self, num_classes: int = 1008):
        super().__init__()
        self.Conv2d_1a_3x3 = tv.BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = tv.BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = tv.BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = tv.BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = tv.BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = tv.InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = tv.InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280)
        self.Mixed_7c = FIDInceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))
        x, tap = self.Mixed_6d.forward_tap(x)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(self.Mixed_6e(x))))
        pool = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        logits = pool @ self.fc.weight.t()  # unbiased logits, as torch-fidelity's IS
        spatial = tap[:, :7].permute(0, 2, 3, 1).flatten(1)  # NHWC order, as the TF graph
        return pool, logits, spatial


def build(state_dict: dict) -> FIDInception:
    """The network in eval mode with ``state_dict`` (published layout) loaded strictly."""
    net = FIDInception()
    net.load_state_dict(state_dict, strict=True)
    return net.eval().requires_grad_(False)


def random_state_dict(seed: int = 0) -> dict:
    """A seeded random-init state dict in the published layout (tests, offline demos).

    He-normal convolutions and BatchNorm statistics that keep activations
    O(1) through the 94 layers, so features are far from degenerate.
    """
    generator = torch.Generator().manual_seed(seed)
    net = FIDInception()
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            module.weight.data = torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
        elif isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.weight.data = 1 + 0.1 * torch.randn(c, generator=generator)
            module.bias.data = 0.1 * torch.randn(c, generator=generator)
            module.running_mean.data = 0.1 * torch.randn(c, generator=generator)
            module.running_var.data = 1 + 0.1 * torch.rand(c, generator=generator)
    net.fc.weight.data = torch.randn(net.fc.weight.shape, generator=generator) * 0.02
    net.fc.bias.data = torch.randn(net.fc.bias.shape, generator=generator) * 0.1
    return {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
