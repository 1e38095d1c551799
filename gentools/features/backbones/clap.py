"""``clap:laion-audio`` and ``clap:laion-music``: LAION-CLAP's audio tower as fadtk's ``CLAPLaionModel`` runs it.

LAION-CLAP (Wu, Chen et al. 2023, "Large-scale Contrastive Language-Audio Pretraining with Feature Fusion and
Keyword-to-Caption Augmentation") embeds 10 s of 48 kHz audio with HTS-AT (Chen et al. 2022, "HTS-AT: A
Hierarchical Token-Semantic Audio Transformer"), a Swin transformer over the log-mel spectrogram, then
``audio_projection`` and an L2 normalisation: 512-d. Transcribed from ``laion_clap`` 1.1.7
(``clap_module/htsat.py``, ``model.py``: ``get_audio_embedding``), with its module names, so the published
checkpoints load as they are; the text tower is not built (its keys are ignored).

As fadtk 1.1.0's ``CLAPLaionModel._get_embedding``: the waveform goes through
``int16_to_float32(float32_to_int16(audio))`` (clip to [-1, 1], ``* 32767.``, truncate to int16, ``/ 32767.0``),
then one 10 s chunk starts at every second (``range(0, len, sr)``), each zero-padded to 10 s: ``ceil(len / 48000)``
rows per file. ``laion-audio`` is ``630k-audioset-best.pt`` on HTSAT-tiny, ``laion-music`` is
``music_audioset_epoch_15_esc_90.14.pt`` on HTSAT-base (fadtk's choices). Non-fusion models only, as fadtk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gentools.errors import InputError, UsageError
from gentools.features.weights import Published
from gentools.features.backbones.audio import LogMel, Spectrogram, log_mel

CLAP_RATE = 48000
CHUNK_SECONDS = 10
CHUNK_BATCH = 4  # chunks per forward pass: a file's rows never depend on which other files are in the batch
CHECKPOINTS = {  # fadtk's model_loader.py: its url for each type, and laion_clap's amodel for it
    "laion-audio": ("630k-audioset-best.pt", "tiny"),
    "laion-music": ("music_audioset_epoch_15_esc_90.14.pt", "base"),
}
CLAP_URL = "https://huggingface.co/lukewys/laion_clap/resolve/main/"
HTSAT_SIZES = {"tiny": dict(embed_dim=96, depths=(2, 2, 6, 2)), "base": dict(embed_dim=128, depths=(2, 2, 12, 2))}
_HEADS, _WINDOW, _SPEC_SIZE, _MELS, _CLASSES = (4, 8, 16, 32), 8, 256, 64, 527


def _relative_position_index(window: int) -> torch.Tensor:
    """Swin's index of each token pair's relative offset inside a ``window x window`` window."""
    coords = torch.stack(torch.meshgrid([torch.arange(window), torch.arange(window)], indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    relative[:, :, 0] += window - 1
    relative[:, :, 1] += window - 1
    relative[:, :, 0] *= 2 * window - 1
    return relative.sum(-1)


def _windows(x: torch.Tensor, window: int) -> torch.Tensor:
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window, window, c)


def _unwindow(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    b = int(windows.shape[0] / (h * w / window / window))
    x = windows.view(b, h // window, w // window, window, window, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


def _shift_mask(resolution: int, window: int, shift: int) -> torch.Tensor:
    """Swin's attention mask for the shifted windows: -100 between tokens from different image regions."""
    regions = torch.zeros((1, resolution, resolution, 1))
    slices = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    count = 0
    for h in slices:
        for w in slices:
            regions[:, h, w, :] = count
            count += 1
    windows = _windows(regions, window).view(-1, window * window)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class _Attention(nn.Module):
    """HTS-AT's ``WindowAttention``: multi-head self-attention in a window, with a relative position bias."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.window, self.heads, self.scale = window, heads, (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", _relative_position_index(window))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attention = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        attention = attention + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            count = mask.shape[0]
            attention = attention.view(b // count, count, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attention = attention.view(-1, self.heads, n, n)
        attention = torch.softmax(attention, dim=-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(nn.functional.gelu(self.fc1(x)))


class _Block(nn.Module):
    """HTS-AT's ``SwinTransformerBlock`` (pre-norm window attention then MLP; odd blocks shift the windows by half,
    except where the window covers the whole map)."""

    def __init__(self, dim: int, resolution: int, heads: int, shift: bool):
        super().__init__()
        self.resolution = resolution
        self.window = min(_WINDOW, resolution)
        self.shift = _WINDOW // 2 if shift and resolution > _WINDOW else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, self.window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim)
        self.register_buffer("attn_mask", _shift_mask(resolution, self.window, self.shift) if self.shift else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, c = x.shape
        r, window, shift = self.resolution, self.window, self.shift
        shortcut = x
        x = self.norm1(x).view(b, r, r, c)
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        attended = self.attn(_windows(x, window).view(-1, window * window, c), self.attn_mask)
        x = _unwindow(attended.view(-1, window, window, c), window, r, r)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = shortcut + x.view(b, r * r, c)
        return x + self.mlp(self.norm2(x))


class _Merging(nn.Module):
    """Swin's ``PatchMerging``: 2x2 neighbours concatenated, normalised, projected to twice the width."""

    def __init__(self, resolution: int, dim: int):
        super().__init__()
        self.resolution = resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        x = x.view(b, self.resolution, self.resolution, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class _Stage(nn.Module):
    def __init__(self, dim: int, resolution: int, depth: int, heads: int, last: bool):
        super().__init__()
        self.blocks = nn.ModuleList(_Block(dim, resolution, heads, shift=i % 2 == 1) for i in range(depth))
        self.downsample = None if last else _Merging(resolution, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class _PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=4, stride=4)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class HTSAT(nn.Module):
    """``HTSAT_Swin_Transformer`` as ``create_htsat_model`` builds it for CLAP (48 kHz, 1024/480 STFT, 64 mel bands
    50-14000 Hz, spec_size 256, patch 4, window 8, heads 4/8/16/32) in eval mode; ``forward``: ``[B, 480000]`` ->
    its ``embedding`` output ``[B, num_features]``, the mean of the last stage's normalised tokens."""

    def __init__(self, embed_dim: int, depths: tuple):
        super().__init__()
        self.spectrogram_extractor = Spectrogram(1024, 480)
        self.logmel_extractor = LogMel(513, _MELS)
        self.bn0 = nn.BatchNorm2d(_MELS)
        self.patch_embed = _PatchEmbed(embed_dim)
        grid, stages = _SPEC_SIZE // 4, len(depths)
        self.layers = nn.ModuleList(_Stage(embed_dim * 2 ** i, grid // 2 ** i, depths[i], _HEADS[i],
                                           last=i == stages - 1) for i in range(stages))
        self.num_features = embed_dim * 2 ** (stages - 1)
        self.norm = nn.LayerNorm(self.num_features)
        self.freq_ratio = _SPEC_SIZE // _MELS
        # The classification head: in the checkpoint, not on the embedding's path.
        head_bins = _SPEC_SIZE // 2 ** (stages - 1) // 4 // self.freq_ratio
        self.tscam_conv = nn.Conv2d(self.num_features, _CLASSES, kernel_size=(head_bins, 3), padding=(0, 1))
        self.head = nn.Linear(_CLASSES, _CLASSES)

    def _as_image(self, x: torch.Tensor) -> torch.Tensor:
        """``reshape_wav2img``: 1001 x 64 log-mel frames, bicubic to 1024 in time, folded into 256 x 256."""
        target_time, ratio = _SPEC_SIZE * self.freq_ratio, self.freq_ratio
        if x.shape[2] < target_time:
            x = nn.functional.interpolate(x, (target_time, x.shape[3]), mode="bicubic", align_corners=True)
        x = x.permute(0, 1, 3, 2).contiguous()
        x = x.reshape(x.shape[0], x.shape[1], x.shape[2], ratio, x.shape[3] // ratio)
        x = x.permute(0, 1, 3, 2, 4).contiguous()
        return x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3], x.shape[4])

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = log_mel(self.spectrogram_extractor, self.logmel_extractor, waveform)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        x = self._as_image(x)
        frames = x.shape[2]
        x = self.patch_embed(x)
        for stage in self.layers:
            x = stage(x)
        x = self.norm(x)
        b, _, c = x.shape
        side = frames // 2 ** (len(self.layers) - 1) // 4
        x = x.permute(0, 2, 1).contiguous().reshape(b, c, side, side)
        bins = side // self.freq_ratio
        x = x.reshape(b, c, side // bins, bins, side).permute(0, 1, 3, 2, 4).contiguous().reshape(b, c, bins, -1)
        return torch.flatten(nn.functional.adaptive_avg_pool1d(torch.flatten(x, 2), 1), 1)


class ClapAudio(nn.Module):
    """CLAP's audio tower under its checkpoint names: ``audio_branch`` (HTS-AT) then ``audio_projection``
    (Linear, ReLU, Linear to 512) and an L2 normalisation, as ``CLAP.get_audio_embedding``."""

    def __init__(self, size: str):
        super().__init__()
        self.audio_branch = HTSAT(**HTSAT_SIZES[size])
        self.audio_projection = nn.Sequential(nn.Linear(self.audio_branch.num_features, 512), nn.ReLU(),
                                              nn.Linear(512, 512))

    def forward(self, chunks: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.audio_projection(self.audio_branch(chunks)), dim=-1)


def quantise(waveform: np.ndarray) -> np.ndarray:
    """fadtk's ``int16_to_float32(float32_to_int16(audio))`` (laion_clap's too), in float64 as fadtk runs it on its
    float64 waveform: clip to [-1, 1], ``* 32767.``, truncate to int16, ``/ 32767.0`` as float32."""
    return ((np.clip(waveform, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def chunks(waveform: np.ndarray, starts: range) -> np.ndarray:
    """fadtk's framing: the 10 s chunks at ``starts`` (one every second: ``range(0, N, sr)``), each zero-padded to
    10 s: float32 ``[len(starts), 480000]``. Built a batch at a time, so a long file never holds all its chunks
    (1.9 MB per second of audio) at once."""
    size = CHUNK_SECONDS * CLAP_RATE
    out = np.zeros((len(starts), size), np.float32)
    for row, start in enumerate(starts):
        piece = waveform[start:start + size]
        out[row, :len(piece)] = piece
    return out


def state_dict_of(checkpoint: dict) -> dict:
    """The audio tower's tensors of a CLAP checkpoint (``state_dict``, keys under ``module.`` as laion_clap saves
    them): ``audio_branch.*`` and ``audio_projection.*``; the text tower's keys are dropped."""
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise ValueError("no state dict in the file")
    out = {}
    for key, value in state.items():
        name = key[len("module."):] if isinstance(key, str) and key.startswith("module.") else key
        if isinstance(name, str) and name.startswith(("audio_branch.", "audio_projection.")):
            out[name] = value
    return out


def _fixed_buffers(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("relative_position_index", "attn_mask"))}


def resolve_clap_weights(kind: str, option: str | None) -> Path:
    """``--weights PATH``, else torch hub's folder, else fadtk's and laion_clap's checkpoint folders, else the
    published checkpoint, downloaded (:func:`gentools.features.weights.resolve`)."""
    from gentools.features.weights import resolve

    return resolve(PUBLISHED[kind], option)


def _peer_folders(name: str) -> list:
    """fadtk's ``.model-checkpoints`` and laion_clap's package folder, where installed."""
    import importlib.util

    places = []
    for package, folder in (("fadtk", ".model-checkpoints"), ("laion_clap", "")):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            places.append(Path(list(spec.submodule_search_locations)[0]) / folder / name)
    return places


PUBLISHED = {kind: Published(f"clap:{kind}", name, CLAP_URL + name, elsewhere=lambda name=name: _peer_folders(name))
             for kind, (name, _) in CHECKPOINTS.items()}


def clap(spec: str, weights: str | None, device: torch.device, pcm16: bool = False):
    """``clap:laion-audio|laion-music`` (module docstring): 512-d, one row per second of 48 kHz audio."""
    from gentools.features.audio import Loading
    from gentools.features.backbones.base import Backbone, load_state_file

    kind = spec.split(":", 1)[1] if ":" in spec else ""
    if kind not in CHECKPOINTS:
        raise UsageError(f"--backbone {spec}: expected clap:laion-audio or clap:laion-music")
    path = resolve_clap_weights(kind, weights)
    size = CHECKPOINTS[kind][1]
    model = ClapAudio(size)
    fixed = _fixed_buffers(model)
    what = f"LAION-CLAP HTSAT-{size} (laion_clap layout)"
    sha256 = load_state_file(model, path, what, select=state_dict_of)
    loaded = model.state_dict()
    if any(not torch.equal(value, loaded[key]) for key, value in fixed.items()):
        raise InputError(f"{path}: not a {what} state dict (its window indices or masks are not HTS-AT's)")
    model = model.eval().to(device)

    def embed(waveform: np.ndarray) -> dict:
        audio = quantise(waveform)
        starts = range(0, len(audio), CLAP_RATE)
        rows = [model(torch.from_numpy(chunks(audio, starts[i:i + CHUNK_BATCH])).to(device))
                for i in range(0, len(starts), CHUNK_BATCH)]
        return {"features": torch.cat(rows)}

    return Backbone(name=f"clap:{kind}", layer=f"audio_projection, L2-normalised (HTSAT-{size})", input_size=0,
                    normalisation="16-bit quantised; 10 s chunks every 1 s, zero-padded", resize="",
                    weights_sha256=sha256, run=embed, device=device, runtime="eager", modality="audio",
                    loading=Loading(CLAP_RATE, pcm16=pcm16))
