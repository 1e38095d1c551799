"""Seeded video inputs for the video tests: moving squares over noise, written losslessly (FFV1 in Matroska,
PNG frame folders, uint8 arrays), and a scripted stand-in for StyleGAN-V's ``i3d_torchscript.pt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 32


def moving_square(frames: int, seed: int, size: int = SIZE) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: a coloured square moving over seeded noise."""
    rng = np.random.RandomState(seed)
    background = rng.randint(0, 80, (size, size, 3)).astype(np.uint8)
    colour = rng.randint(120, 256, 3).astype(np.uint8)
    dx, dy = rng.randint(1, 3, 2)
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        frame = background.copy()
        x, y = (3 + dx * t) % (size - 8), (5 + dy * t) % (size - 8)
        frame[y:y + 8, x:x + 8] = colour
        frame[0, 0] = t % 256  # every frame differs
        out[t] = frame
    return out


def _write(path, video: np.ndarray, codec: str, pix_fmt: str, rate: int) -> Path:
    import av

    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], pix_fmt
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_ffv1(path, video: np.ndarray, rate: int = 8) -> Path:
    """A lossless video: FFV1 with bgr0 pixels in Matroska (decodes to exactly these RGB frames)."""
    return _write(path, video, "ffv1", "bgr0", rate)


def write_mp4(path, video: np.ndarray, rate: int = 8) -> Path:
    """A lossy MPEG-4 Part 2 mp4 (for decoding errors: the test cuts the file)."""
    return _write(path, video, "mpeg4", "yuv420p", rate)


def write_frames(folder, video: np.ndarray) -> Path:
    """A StyleGAN-V frame folder: ``000000.png``, ``000001.png``, ..."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(video):
        Image.fromarray(frame).save(folder / f"{t:06d}.png")
    return folder


class StandInI3D(torch.nn.Module):
    """The call signature of StyleGAN-V's I3D detector (``forward(x, rescale, resize, return_features)``, uint8
    ``[B, C, T, H, W]`` in, 400-d out) over a small seeded network."""

    def __init__(self):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.conv = torch.nn.Conv3d(3, 16, 3, stride=2)
            self.fc = torch.nn.Linear(16, 400)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        h = x.float()
        if rescale:
            h = h / 255 * 2 - 1
        if resize:
            h = F.interpolate(h, size=(h.shape[2], 24, 24), mode="trilinear", align_corners=False)
        out = self.fc(self.conv(h).relu().mean(dim=(2, 3, 4)))
        return out if return_features else out.softmax(-1)


def write_stand_in(path) -> Path:
    path = Path(path)
    torch.jit.script(StandInI3D()).save(str(path))
    return path
