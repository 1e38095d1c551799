"""The video demo's data, generators and plot (examples/video/Makefile), offline: moving shapes.

    python shapes.py data OUT [N]  # OUT/real/*.mkv: N (24) clips of squares and discs gliding over a gradient
    python shapes.py weights OUT   # OUT/i3d400.pt: TATS's i3d_pretrained_400.pt if torch hub has it, else seeded
                                   # random weights in its layout with batch-norm statistics measured on the
                                   # real clips (the demo's numbers then rank, not compare)
    python shapes.py plot OUT      # OUT/results/video.png: a frame strip of each set and the FVDs

The generators are ``module:function`` specs for ``gentools extract --generator G --frames 16``, returning
``[B, T, C, H, W]`` in [-1, 1]: ``shapes:smooth`` draws the real process with other latents, ``shapes:jittery``
the same shapes jumping to a random place every frame (no coherent motion), ``shapes:frozen`` the first frame
held still. FVD should rank smooth < jittery and smooth < frozen.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

FRAMES, SIZE, COUNT = 16, 32, 24


def render(params: np.ndarray, mode: str = "smooth") -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` of one clip from 8 numbers in [0, 1]: start, velocity, colour, shape."""
    x0, y0, vx, vy, r, g, b, kind = params
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    background = np.stack([xx / SIZE * 60, yy / SIZE * 60, np.full_like(xx, 40.0)], axis=-1)
    rng = np.random.RandomState(int(kind * 1e6) % 2 ** 31)
    out = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
    for t in range(FRAMES):
        step = 0 if mode == "frozen" else t
        cx = 6 + (x0 * 20 + (vx - 0.5) * 2.4 * step) % 20
        cy = 6 + (y0 * 20 + (vy - 0.5) * 2.4 * step) % 20
        if mode == "jittery":
            cx, cy = 6 + rng.uniform(0, 20), 6 + rng.uniform(0, 20)
        inside = (np.abs(xx - cx) < 5) & (np.abs(yy - cy) < 5) if kind < 0.5 else (xx - cx) ** 2 + (yy - cy) ** 2 < 30
        frame = background.copy()
        frame[inside] = (120 + 135 * r, 120 + 135 * g, 120 + 135 * b)
        out[t] = frame.astype(np.uint8)
    return out


def write_ffv1(path: Path, video: np.ndarray) -> None:
    """A lossless video file: FFV1 with bgr0 pixels in Matroska, 8 frames per second."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("ffv1", rate=8)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "bgr0"
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def data(out: Path, count: int = COUNT) -> None:
    folder = out / "real"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    for i in range(count):
        write_ffv1(folder / f"{i:03d}.mkv", render(rng.uniform(0, 1, 8)))


class Shapes(torch.nn.Module):
    """Latents -> clips ``[B, T, C, H, W]`` in [-1, 1] (each latent's 8 numbers squashed to [0, 1])."""

    latent_dim = 8

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        params = 0.5 + 0.5 * np.tanh(z.cpu().numpy())
        clips = np.stack([render(p, self.mode) for p in params]).astype(np.float32)
        return torch.from_numpy(clips / 127.5 - 1).permute(0, 1, 4, 2, 3)


def smooth() -> Shapes:
    return Shapes("smooth")


def jittery() -> Shapes:
    return Shapes("jittery")


def frozen() -> Shapes:
    return Shapes("frozen")


def weights(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from gentools.api.weights import weights_random
    from gentools.features.backbones.video import I3D400_FILE
    from gentools.features.weights import checkpoint_dir

    published = checkpoint_dir() / I3D400_FILE
    out.mkdir(parents=True, exist_ok=True)
    if published.is_file():
        shutil.copyfile(published, out / "i3d400.pt")
    else:
        print(f"{published} is not here: the demo uses seeded random I3D weights (its numbers rank the generators "
              f"but compare with nothing published)", file=sys.stderr)
        weights_random("i3d400", out / "i3d400.pt", seed=0)  # as `gentools weights random i3d400 --seed 0`


def plot(out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = ("smooth", "jittery", "frozen")
    scores = {n: json.loads((out / "results" / f"{n}.json").read_text())["values"]["fid"] for n in names}
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    rng = np.random.RandomState(1)
    for row, mode in enumerate(("smooth",) + names):
        strip = np.concatenate(list(render(rng.uniform(0, 1, 8), mode)[::3]), axis=1)
        axis = figure.add_subplot(4, 2, 2 * row + 1)
        axis.imshow(strip)
        axis.set_axis_off()
        axis.set_title("real" if row == 0 else mode, fontsize=8)
    bars = figure.add_subplot(1, 2, 2)
    bars.bar(list(names), [scores[n] for n in names], color=["tab:green", "tab:orange", "tab:red"])
    bars.set(title="FVD against the real clips (i3d400, --preset tats)", ylabel="FVD")
    figure.tight_layout()
    figure.savefig(out / "results" / "video.png", dpi=100)


if __name__ == "__main__":
    {"data": data, "weights": weights, "plot": plot}[sys.argv[1]](Path(sys.argv[2]), *map(int, sys.argv[3:]))
