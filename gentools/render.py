"""Pictures: image grids (nn-grid, interp) with PIL, plots (kde, report) with matplotlib; written atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Callable, Optional, Sequence

import numpy as np

LABEL_HEIGHT = 12
PAD = 2


def save_atomic(dest: str, write: Callable[[str], None]) -> None:
    """``write(tmp_path)`` then rename over ``dest``: a reader never sees half a PNG."""
    folder = os.path.dirname(os.path.abspath(dest))
    suffix = os.path.splitext(dest)[1] or ".png"
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def image_grid(rows: Sequence[Sequence[np.ndarray]], labels: Optional[Sequence[Sequence[str]]] = None):
    """A PIL image: one row of ``(h, w, 3)`` uint8 tiles per entry of ``rows``, optional text under each tile.

    Tile size is the first tile's; a tile is ``w + PAD`` wide and ``h + PAD (+ LABEL_HEIGHT)`` tall.
    """
    from PIL import Image, ImageDraw

    h, w = rows[0][0].shape[:2]
    label_h = LABEL_HEIGHT if labels is not None else 0
    cols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (cols * (w + PAD) + PAD, len(rows) * (h + PAD + label_h) + PAD), "white")
    draw = ImageDraw.Draw(canvas)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            x, y = PAD + j * (w + PAD), PAD + i * (h + PAD + label_h)
            tile = np.asarray(tile, dtype=np.uint8)
            if tile.shape[:2] != (h, w):
                tile = np.asarray(Image.fromarray(tile).resize((w, h), Image.BICUBIC))
            canvas.paste(Image.fromarray(tile), (x, y))
            if labels is not None and labels[i][j]:
                draw.text((x + 1, y + h), labels[i][j], fill="black")
    return canvas


def sigma_curve(sigmas, curve, chosen: float, path: str) -> None:
    """Validation log-likelihood against sigma (log axis), the chosen sigma marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.semilogx(sigmas, curve, "o-")
    ax.axvline(chosen, color="red", linestyle="--", label=f"chosen σ = {chosen:.4g}")
    ax.set_xlabel("σ")
    ax.set_ylabel("mean validation log-likelihood")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
