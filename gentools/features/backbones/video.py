"""Video backbones: a batch of uint8 clips ``[B, T, H, W, 3]`` -> one 400-d row per clip.

``i3d[:PATH]``: StyleGAN-V's TorchScript port of tf-hub's ``i3d-kinetics-400/1``
(``src/metrics/frechet_video_distance.py``), called as its ``compute_fvd`` calls it: uint8 ``[B, C, T, H, W]``
at the clips' own size (``images.permute(0, 2, 1, 3, 4)`` in ``metric_utils.py``) with ``detector_kwargs =
dict(rescale=True, resize=True, return_features=True)``. What ``rescale`` and ``resize`` do lives inside the
TorchScript file, so gentools passes the arguments and resizes nothing itself.

``i3d400``: the Inception-v1 I3D of TATS (``tats/fvd/pytorch_i3d.py``, from piergiaj/pytorch-i3d), with its
module names so ``i3d_pretrained_400.pt`` loads as it is; preprocessing as TATS's ``preprocess``: every
frame ``F.interpolate(..., (224, 224), mode='bilinear', align_corners=False)`` on 0..255 floats, then
``2 * x / 255 - 1``; the 400 logits averaged over time (``logits.mean(dim=2)``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gentools.errors import InputError
from gentools.features.weights import Published

I3D_TORCHSCRIPT = "i3d_torchscript.pt"
I3D_TORCHSCRIPT_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
I3D400_FILE = "i3d_pretrained_400.pt"
I3D400_URL = "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt"
I3D = Published("i3d", I3D_TORCHSCRIPT, I3D_TORCHSCRIPT_URL, url_env="GENTOOLS_I3D_URL")
I3D400 = Published("i3d400", I3D400_FILE, I3D400_URL, url_env="GENTOOLS_I3D400_URL")
I3D_KWARGS = {"rescale": True, "resize": True, "return_features": True}  # StyleGAN-V's detector_kwargs


def _same_padding(sizes, kernel, stride) -> tuple:
    """TF 'SAME' padding of TATS's ``compute_pad``, as ``F.pad``'s (w_front, w_back, h_front, h_back, t_front,
    t_back)."""
    pads = []
    for size, k, s in zip(sizes, kernel, stride):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads.append((total // 2, total - total // 2))
    (tf, tb), (hf, hb), (wf, wb) = pads
    return wf, wb, hf, hb, tf, tb


class Unit3D(nn.Module):
    """Conv3d (no padding of its own: TF 'SAME' on the input) + BatchNorm3d(eps 1e-5) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1),
                 batch_norm: bool = True, relu: bool = True, bias: bool = False):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.001) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride)))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class SamePool(nn.MaxPool3d):
    """MaxPool3d after TF 'SAME' zero padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, _same_padding(x.shape[2:], self.kernel_size, self.stride)))


class Mixed(nn.Module):
    """An Inception module: 1x1 | 1x1 -> 3x3x3 | 1x1 -> 3x3x3 | pool -> 1x1, concatenated."""

    def __init__(self, in_channels: int, out: tuple):
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a = SamePool((3, 3, 3), (1, 1, 1), 0)
        self.b3b = Unit3D(in_channels, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


# (name, module) in forward order, the names of TATS's InceptionI3d.VALID_ENDPOINTS
_LAYOUT = (
    ("Conv3d_1a_7x7", lambda: Unit3D(3, 64, (7, 7, 7), (2, 2, 2))),
    ("MaxPool3d_2a_3x3", lambda: SamePool((1, 3, 3), (1, 2, 2), 0)),
    ("Conv3d_2b_1x1", lambda: Unit3D(64, 64)),
    ("Conv3d_2c_3x3", lambda: Unit3D(64, 192, (3, 3, 3))),
    ("MaxPool3d_3a_3x3", lambda: SamePool((1, 3, 3), (1, 2, 2), 0)),
    ("Mixed_3b", lambda: Mixed(192, (64, 96, 128, 16, 32, 32))),
    ("Mixed_3c", lambda: Mixed(256, (128, 128, 192, 32, 96, 64))),
    ("MaxPool3d_4a_3x3", lambda: SamePool((3, 3, 3), (2, 2, 2), 0)),
    ("Mixed_4b", lambda: Mixed(480, (192, 96, 208, 16, 48, 64))),
    ("Mixed_4c", lambda: Mixed(512, (160, 112, 224, 24, 64, 64))),
    ("Mixed_4d", lambda: Mixed(512, (128, 128, 256, 24, 64, 64))),
    ("Mixed_4e", lambda: Mixed(512, (112, 144, 288, 32, 64, 64))),
    ("Mixed_4f", lambda: Mixed(528, (256, 160, 320, 32, 128, 128))),
    ("MaxPool3d_5a_2x2", lambda: SamePool((2, 2, 2), (2, 2, 2), 0)),
    ("Mixed_5b", lambda: Mixed(832, (256, 160, 320, 32, 128, 128))),
    ("Mixed_5c", lambda: Mixed(832, (384, 192, 384, 48, 128, 128))),
)


class InceptionI3d(nn.Module):
    """Inception-v1 I3D (Carreira & Zisserman 2017, "Quo Vadis, Action Recognition?") with the module names of
    TATS's ``pytorch_i3d.py``: ``[B, 3, T, 224, 224]`` in [-1, 1] -> 400 logits averaged over time. Needs
    T >= 9 (the 2x7x7 average pool)."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.endpoints = [name for name, _ in _LAYOUT]
        for name, make in _LAYOUT:
            self.add_module(name, make())
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=(1, 1, 1))
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.endpoints:
            x = self._modules[name](x)
        x = self.logits(self.avg_pool(x))  # TATS's dropout sits here: the identity in eval mode
        return x.squeeze(3).squeeze(3).mean(dim=2)


def tats_preprocess(clips: torch.Tensor) -> torch.Tensor:
    """TATS's ``preprocess``: uint8 ``[B, T, H, W, C]`` -> float ``[B, C, T, 224, 224]`` in [-1, 1]."""
    b, t, h, w, c = clips.shape
    frames = clips.float().flatten(end_dim=1).permute(0, 3, 1, 2).contiguous()
    resized = F.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
    videos = resized.view(b, t, c, 224, 224).transpose(1, 2).contiguous()
    return 2.0 * videos / 255.0 - 1


def random_i3d400_state_dict(seed: int = 0) -> dict:
    """Seeded random weights in TATS's layout (the keys and shapes of ``i3d_pretrained_400.pt``), for tests;
    batch-norm statistics are drawn too, so they matter in the test."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        state = InceptionI3d().state_dict()
        for key, value in state.items():
            if key.endswith("running_var"):
                state[key] = torch.rand_like(value) + 0.5
            elif key.endswith("running_mean") or key.endswith("bn.bias"):
                state[key] = torch.randn_like(value) * 0.1
        return state


def calibrated_i3d400_state_dict(seed: int = 0, clips: int = 8) -> dict:
    """:func:`random_i3d400_state_dict` whose batch norms carry the statistics they measure on ``clips`` seeded
    synthetic clips (coloured squares moving over smooth noise, 16 frames of 64x64): with drawn statistics,
    20 layers of batch norm pass almost nothing and every FVD rounds to 0 (7e-12)."""
    import numpy as np

    model = InceptionI3d()
    model.load_state_dict(random_i3d400_state_dict(seed))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.reset_running_stats()
            module.momentum = None  # cumulative: the statistics of everything it sees
    rng = np.random.RandomState(seed)
    videos = np.empty((clips, 16, 64, 64, 3), np.uint8)
    for k in range(clips):
        background = np.kron(rng.randint(0, 120, (8, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
        colour, (x, y), (dx, dy) = rng.randint(120, 256, 3), rng.randint(0, 48, 2), rng.randint(-3, 4, 2)
        for t in range(16):
            frame = background.copy()
            frame[(y + dy * t) % 48:(y + dy * t) % 48 + 16, (x + dx * t) % 48:(x + dx * t) % 48 + 16] = colour
            videos[k, t] = frame
    with torch.no_grad(), torch.random.fork_rng():
        model.train()(tats_preprocess(torch.from_numpy(videos)))
    return model.state_dict()


def _file(path: str, weights: str | None, row: Published) -> Path:
    """``--weights``, else ``PATH`` (``i3d:PATH``), else :func:`gentools.features.weights.resolve`: the cached
    file, else a download of the published file; offline, a one-line error naming the URL."""
    from gentools.features.weights import resolve

    return resolve(row, weights or path or None)


def i3d_torchscript(path: str, weights: str | None, device: torch.device):
    """The ``i3d[:PATH]`` backbone (module docstring): 400-d features per clip."""
    from gentools.features.backbones.base import Backbone
    from gentools.features.model_files import load_torchscript
    from gentools.features.weights import sha256_of

    file = _file(path, weights, I3D)
    net = load_torchscript(file, device, "I3D detector")
    try:
        arguments = {a.name for a in net.forward.schema.arguments}
    except (RuntimeError, AttributeError):
        arguments = set()
    if not set(I3D_KWARGS) <= arguments:
        raise InputError(f"{file}: not StyleGAN-V's I3D detector (its forward takes no "
                         f"{', '.join(sorted(set(I3D_KWARGS) - arguments))})")

    def run(clips: torch.Tensor) -> dict:
        return {"features": net(clips.permute(0, 4, 1, 2, 3).contiguous(), **I3D_KWARGS).float()}

    return Backbone(name="i3d", layer="return_features (400-d, before the softmax)", input_size=0,
                    normalisation="uint8, inside the detector (rescale=True)", resize="inside the detector (resize=True)",
                    weights_sha256=sha256_of(file), run=run, device=device, runtime="torchscript", modality="video")


def i3d400(weights: str | None, device: torch.device):
    """The ``i3d400`` backbone (module docstring): TATS's I3D, 400 logits per clip averaged over time."""
    file = _file("", weights, I3D400)
    return _state_dict_backbone(InceptionI3d(), file, "I3D (TATS's i3d_pretrained_400.pt layout)", tats_preprocess,
                                device, name="i3d400", layer="logits, mean over time", normalisation="2x/255 - 1")


def _state_dict_backbone(model: nn.Module, file: Path, what: str, preprocess, device: torch.device, **record):
    """A video backbone from a state-dict file: ``model(preprocess(clips))`` per batch of uint8 clips, at 224²."""
    from gentools.features.backbones.base import Backbone, load_state_file

    sha256 = load_state_file(model, file, what)
    model = model.eval().to(device)

    def run(clips: torch.Tensor) -> dict:
        return {"features": model(preprocess(clips))}

    return Backbone(input_size=224, resize="bilinear 224x224 per frame (align_corners=False)", weights_sha256=sha256,
                    run=run, device=device, runtime="eager", modality="video", **record)


VIDEOMAE_FILE = "vit_g_hybrid_pt_1200e_ssv2_ft.pth"
VIDEOMAE_URL = ("https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/videomaev2/"
                "vit_g_hybrid_pt_1200e_ssv2_ft.pth")
VIDEOMAE = Published("videomae", VIDEOMAE_FILE, VIDEOMAE_URL, url_env="GENTOOLS_VIDEOMAE_URL")
# content-debiased-fvd's load_videomae_model: vit_giant_patch14_224(img_size=224, num_classes=174, all_frames=16,
# tubelet_size=2, use_mean_pooling=True): patch 14, 1408 wide, 40 blocks of 16 heads, mlp 48/11, LayerNorm eps 1e-6
VIT_G = {"dim": 1408, "depth": 40, "heads": 16, "mlp_ratio": 48 / 11, "classes": 174}
_GRID = (8, 16, 16)  # tubelets of 16 frames at 224²: 2 frames x 14² pixels each


def sinusoid_table(positions: int, dim: int) -> torch.Tensor:
    """VideoMAE's fixed position encoding ``[1, positions, dim]`` (``get_sinusoid_encoding_table``): angle
    ``p / 10000^(2 (j // 2) / dim)``, sine on even and cosine on odd columns, built in float64 and kept float32."""
    import numpy as np

    position = np.arange(positions)[:, None]
    exponent = 2 * (np.arange(dim) // 2) / dim
    table = position / np.power(10000, exponent)[None, :]
    table[:, 0::2], table[:, 1::2] = np.sin(table[:, 0::2]), np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float).unsqueeze(0)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias, self.v_bias = nn.Parameter(torch.zeros(dim)), nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))  # no bias on k
        q, k, v = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), _Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=(2, 14, 14), stride=(2, 14, 14))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class VideoMAEv2(nn.Module):
    """VideoMAE-v2's fine-tuned ViT (Wang et al. 2023, "VideoMAE V2: Scaling Video Masked Autoencoders with Dual
    Masking") with the module names of content-debiased-fvd's ``third_party/VideoMAEv2/videomaev2_finetune.py``, so
    ``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` loads as it is; ``forward`` is its ``forward_features``: tubelets of
    2x14x14 at 224², the fixed sinusoid position table (interpolated in time for other than 16 frames, as its
    ``interpolate_pos_encoding``), pre-norm blocks, the token mean through ``fc_norm``. Default size: ViT-g."""

    def __init__(self, dim: int = VIT_G["dim"], depth: int = VIT_G["depth"], heads: int = VIT_G["heads"],
                 mlp_ratio: float = VIT_G["mlp_ratio"], classes: int = VIT_G["classes"]):
        super().__init__()
        self.patch_embed = _PatchEmbed(dim)
        self.register_buffer("pos_embed", sinusoid_table(_GRID[0] * _GRID[1] * _GRID[2], dim), persistent=False)
        self.blocks = nn.ModuleList([_Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)  # in the checkpoint; the features are taken before it

    def _positions(self, frames: int) -> torch.Tensor:
        tubelets = frames // 2
        if tubelets == _GRID[0]:
            return self.pos_embed
        dim = self.pos_embed.shape[-1]
        table = self.pos_embed.permute(0, 2, 1).reshape(1, dim, *_GRID)
        table = F.interpolate(table, scale_factor=((tubelets + 0.1) / _GRID[0], 1, 1), mode="trilinear")
        return table.reshape(1, dim, -1).permute(0, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, frames = x.size(0), x.size(2)
        x = self.patch_embed(x)
        x = x + self._positions(frames).expand(b, -1, -1).type_as(x).to(x.device).clone().detach()
        for block in self.blocks:
            x = block(x)
        return self.fc_norm(x.mean(1))


def cdfvd_preprocess(clips: torch.Tensor) -> torch.Tensor:
    """content-debiased-fvd's ``preprocess_videomae``: uint8 ``[B, T, H, W, C]`` -> per video ``permute(3, 0, 1,
    2) / 255`` then ``interpolate(size=(224, 224), mode='bilinear', align_corners=False)`` over each frame; no
    mean/std."""
    videos = clips.permute(0, 4, 1, 2, 3).to(torch.float32) / 255
    b, c, t, h, w = videos.shape
    resized = F.interpolate(videos.reshape(b * c, t, h, w), size=(224, 224), mode="bilinear", align_corners=False)
    return resized.reshape(b, c, t, 224, 224)


def videomae(path: str, weights: str | None, device: torch.device):
    """The ``videomae[:PATH]`` backbone: content-debiased-fvd's VideoMAE-v2 ViT-g features (1408-d per clip)."""
    file = _file(path, weights, VIDEOMAE)
    return _state_dict_backbone(VideoMAEv2(**VIT_G), file, "VideoMAE-v2 ViT-g (content-debiased-fvd's layout)",
                                cdfvd_preprocess, device, name="videomae",
                                layer="forward_features (fc_norm of the token mean, 1408-d)",
                                normalisation="x/255, no mean/std")
