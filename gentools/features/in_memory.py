"""Images handed over in Python (``gentools.extract(array)``): a uint8 array or tensor, or a list of PIL images.

They become the same :class:`~gentools.features.images.Item` rows as a
``.npy`` file given on the command line: written once as uint8 ``.npy`` into a
temporary folder the extraction owns (so decoding workers read them memory-mapped
and the pixels go through the very path a PNG's pixels take), with ids
``array[i]``.
"""

from __future__ import annotations

import os

import numpy as np

from gentools.errors import InputError
from gentools.features.images import Item


def is_in_memory(inputs) -> bool:
    """Whether ``inputs`` are images in memory rather than paths."""
    if isinstance(inputs, np.ndarray) or _is_tensor(inputs) or _is_pil(inputs):
        return True
    return isinstance(inputs, (list, tuple)) and bool(inputs) and all(
        isinstance(i, np.ndarray) or _is_pil(i) or _is_tensor(i) for i in inputs)


def as_items(inputs, folder: str) -> tuple[list[Item], str]:
    """The images of ``inputs`` as items backed by ``.npy`` files in ``folder``, and the ``source`` provenance."""
    groups = _uint8_groups(inputs)
    items, start = [], 0
    for number, array in enumerate(groups):
        path = os.path.join(folder, f"array{number}.npy")
        np.save(path, array)
        items += [Item(f"array[{start + i}]", "array", path, i) for i in range(len(array))]
        start += len(array)
    shapes = sorted({tuple(a.shape[1:]) for a in groups})
    return items, f"python:{start} images of {' or '.join('x'.join(map(str, s)) for s in shapes)}"


def _uint8_groups(inputs) -> list[np.ndarray]:
    """``[N, H, W, C]`` uint8 arrays: one for a batch, one per image for a list (images may differ in size)."""
    if isinstance(inputs, np.ndarray) or _is_tensor(inputs):
        return [_nhwc(inputs, "gentools.extract()")]
    if _is_pil(inputs):
        inputs = [inputs]
    return [_nhwc(image, f"gentools.extract(): image {i}", single=True) for i, image in enumerate(inputs)]


def _nhwc(array, what: str, single: bool = False) -> np.ndarray:
    """uint8 ``[N, H, W, C]`` (C = 1, 3 or 4) from NHWC, NCHW (torch's order; a tensor's 1/3/4 at axis 1 is
    channels), ``[N, H, W]``, or for one image HWC, CHW, HW or a PIL image."""
    tensor = _is_tensor(array)
    if _is_pil(array):
        array = np.asarray(array.convert("RGB"))
    elif tensor:
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise InputError(f"{what}: images must be uint8, these are {array.dtype}",
                         hint="floats in [-1, 1] or [0, 1]: gentools.Evaluator(..., pixel_range=...), or "
                              "convert with (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)")
    if single:
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or len(array) == 0:
        raise InputError(f"{what}: expected images [N, H, W, C] or [N, C, H, W], got shape {list(array.shape)}")
    channels_first = array.shape[1] in (1, 3, 4) and (tensor or array.shape[-1] not in (1, 3, 4))
    if channels_first:
        array = np.moveaxis(array, 1, -1)
    if array.shape[-1] not in (1, 3, 4):
        raise InputError(f"{what}: expected 1, 3 or 4 channels, got shape {list(array.shape)}")
    return np.ascontiguousarray(array)


def _is_tensor(value) -> bool:
    return hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy")


def _is_pil(value) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "convert")
