"""Pictures: image grids (nn-grid, interp) with PIL, plots (kde, report) with matplotlib; written atomically."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

LABEL_HEIGHT = 12
PAD = 2


def save_atomic(dest: str, write: Callable[[str], None]) -> None:
    """``write(tmp_path)`` through the store's atomic write (temp file, fsync, rename over ``dest``)."""
    from gentools.files import atomic_path

    with atomic_path(dest) as tmp:
        write(tmp)


def image_grid(rows: Sequence[Sequence[np.ndarray]], labels: Optional[Sequence[Sequence[str]]] = None,
               tile: int = 64):
    """A PIL image: one row of ``(h, w, 3)`` uint8 tiles per entry of ``rows``, optional text under each tile.

    Tiles are drawn ``tile`` pixels tall (width in proportion): small images
    are enlarged with nearest-neighbour (pixels stay crisp), large ones reduced
    bicubically. A cell is ``w + PAD`` wide and ``h + PAD (+ LABEL_HEIGHT)`` tall.
    """
    from PIL import Image, ImageDraw

    h0, w0 = rows[0][0].shape[:2]
    h, w = tile, max(1, round(w0 * tile / h0))
    label_h = LABEL_HEIGHT if labels is not None else 0
    cols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (cols * (w + PAD) + PAD, len(rows) * (h + PAD + label_h) + PAD), "white")
    draw = ImageDraw.Draw(canvas)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            x, y = PAD + j * (w + PAD), PAD + i * (h + PAD + label_h)
            image = Image.fromarray(np.asarray(tile, dtype=np.uint8))
            if image.size != (w, h):
                image = image.resize((w, h), Image.NEAREST if image.height < h else Image.BICUBIC)
            canvas.paste(image, (x, y))
            if labels is not None and labels[i][j]:
                draw.text((x + 1, y + h), labels[i][j], fill="black")
    return canvas


def sigma_curve(sigmas, curve, chosen: float, path: str) -> None:
    """Validation log-likelihood against sigma (log axis), the chosen sigma marked."""
    fig = _figure((5, 3.5))
    ax = fig.subplots()
    ax.semilogx(sigmas, curve, "o-")
    ax.axvline(chosen, color="red", linestyle="--", label=f"chosen σ = {chosen:.4g}")
    ax.set_xlabel("σ")
    ax.set_ylabel("mean validation log-likelihood")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")


def _figure(size):
    """A matplotlib Figure on its own Agg canvas: no pyplot, no backend switch, nothing of the caller's touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def metric_panels(series: dict, x_label: str, path: str) -> None:
    """One panel per metric, in the order of ``series`` (``series[metric] = {line label: (xs, ys)}``), every
    panel on the same x axis: logarithmic when the x values span 20x or more (steps 100..100k), else linear."""
    names = list(series)
    xs_every = [v for lines in series.values() for xs, _ in lines.values() for v in xs]
    log_x = bool(xs_every) and min(xs_every) > 0 and max(xs_every) / min(xs_every) >= 20
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = _figure((4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        for label, (xs, ys) in sorted(series[name].items()):
            ax.plot(xs, ys, "o-", label=label or None)
        if log_x:
            ax.set_xscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(x_label)
        ax.grid(alpha=0.3)
        if any(series[name]) and len(series[name]) > 1:
            ax.legend(fontsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    if rows <= 3:
        fig.tight_layout()
    else:  # tight_layout's cost grows with the panels (seconds at 24): fixed margins read as well here
        height = 3.2 * rows
        fig.subplots_adjust(left=0.08, right=0.98, wspace=0.3, hspace=0.55, top=1 - 0.3 / height,
                            bottom=0.55 / height)
    fig.savefig(path, format="png")
