"""Image inputs: what to read (folders, globs, archives, arrays, path lists) and how to decode it.

Every input becomes a list of :class:`Item` in a fixed order (folders
recursively and sorted, hidden files and folders ignored, image extensions
only) with the id recorded in the features file: a path relative to the input
root, ``archive.zip:member``, ``arr.npz[17]``. Decoding happens in worker
processes (:class:`ImageDataset`); archives and arrays are opened once per
process, members are read into memory and never extracted to disk.
"""

from __future__ import annotations

import glob
import os
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from gentools.errors import InputError
from gentools.features.items import (  # noqa: F401 - Item and the suffixes, where image code finds them
    ARRAY_SUFFIXES, TAR_SUFFIXES, Item, MemberReader, npz_member, tar_entries, visible, walk,
    zip_entries)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                              ".ppm", ".pgm", ".pbm", ".pnm", ".jfif"})


def is_image_name(name: str) -> bool:
    return visible(name) and Path(name).suffix.lower() in IMAGE_EXTENSIONS


def list_inputs(args: Iterable[str], accept: Callable[[str], bool] = is_image_name,
                what: str = "image") -> tuple[list[Item], str]:
    """Items of every argument, in order, and the ``source`` provenance string. ``accept`` picks the member
    names of folders, globs and archives (image names; :func:`gentools.features.audio.is_audio_name` for
    sound); ``.npy``/``.npz`` arrays are image inputs only."""
    items: list[Item] = []
    sources = []
    for arg in args:
        found, source = _list_one(arg, accept, what)
        items += found
        sources.append(source)
    return items, ";".join(sources)


def _list_one(arg: str, accept: Callable[[str], bool], what: str) -> tuple[list[Item], str]:
    path = Path(arg)
    if path.is_dir():
        return _list_folder(path, accept), str(path.resolve())
    if path.is_file():
        lower = path.name.lower()
        if lower.endswith(ARRAY_SUFFIXES) and accept is is_image_name:
            return _list_array(path), str(path.resolve())
        if lower.endswith(".zip"):
            return _list_zip(path, accept), str(path.resolve())
        if lower.endswith(TAR_SUFFIXES):
            return _list_tar(path, accept), str(path.resolve())
        return [Item(arg, "file", str(path))], str(path.resolve())
    if glob.has_magic(arg):
        matches = sorted(m for m in glob.glob(arg, recursive=True) if os.path.isfile(m) and accept(m))
        if not matches:
            raise InputError(f"{arg}: the pattern matches no {what} files")
        return [Item(m, "file", m) for m in matches], os.path.abspath(arg)
    raise InputError(f"{arg}: no such file or folder")


def _list_folder(root: Path, accept: Callable[[str], bool]) -> list[Item]:
    items = [Item(os.path.relpath(os.path.join(folder, name), root), "file", os.path.join(folder, name))
             for folder, files in walk(root, accept) for name in files]
    items.sort(key=lambda item: item.id.split(os.sep))
    return items


def _list_zip(path: Path, accept: Callable[[str], bool]) -> list[Item]:
    return [Item(f"{path.name}:{i.filename}", "zip", str(path), i.filename, i.file_size)
            for i in zip_entries(path, accept)]


def _list_tar(path: Path, accept: Callable[[str], bool]) -> list[Item]:
    return [Item(f"{path.name}:{name}", "tar", str(path), name, size) for name, size in tar_entries(path, accept)]


def oversized_members(items: list[Item], max_pixels: int) -> list[Item]:
    """The archive members too large to be an image within ``max_pixels`` (refused unread)."""
    limit = max_member_bytes(max_pixels)
    return [item for item in items if item.size > limit]


def _list_array(path: Path) -> list[Item]:
    array = open_image_array(str(path))
    return [Item(f"{path.name}[{i}]", "array", str(path), i) for i in range(len(array))]


def open_image_array(path: str) -> np.ndarray:
    """A uint8 image array ``[N, H, W]``, ``[N, H, W, C]`` or ``[N, C, H, W]`` from .npy/.npz, memory-mapped when stored plainly.

    From an npz, ``arr_0`` (guided-diffusion's sample batches) or else its only array.
    """
    try:
        if path.lower().endswith(".npy"):
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            array = npz_member(path)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: cannot read the image array ({exc})") from exc
    if array.dtype != np.uint8:
        raise InputError(f"{path}: image arrays must be uint8, this one is {array.dtype}")
    if array.ndim not in (3, 4) or len(array) == 0:
        raise InputError(f"{path}: image arrays must be [N, H, W(, C)] with N > 0, this one is {list(array.shape)}")
    return array


def array_row_to_rgb(row: np.ndarray) -> np.ndarray:
    """One array row as ``(H, W, 3)`` uint8, as PIL ``convert("RGB")`` would (gray repeated, alpha dropped)."""
    if row.ndim == 3 and row.shape[0] in (1, 3, 4) and row.shape[-1] not in (1, 3, 4):
        row = np.moveaxis(row, 0, -1)  # channels-first
    if row.ndim == 2:
        row = row[:, :, None]
    if row.shape[-1] == 1:
        return np.repeat(row, 3, axis=2)
    return np.ascontiguousarray(row[:, :, :3])


# PIL's own default (Image.MAX_IMAGE_PIXELS): 1024^3 / 4 / 3 pixels, ~89.5M (a 9459^2 image).
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3


def max_member_bytes(max_pixels: int) -> int:
    """The largest archive member read for one image: an uncompressed RGBA image of ``max_pixels``, plus 1 MiB."""
    return 4 * max_pixels + (1 << 20)


class Reader(MemberReader):
    """Decodes items to ``(H, W, 3)`` uint8 RGB; keeps archives and arrays open (one per process).

    Images over ``max_pixels`` are refused from their header, and archive members larger than
    :func:`max_member_bytes` from the archive's directory, before anything is read."""

    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: Optional[int] = None):
        super().__init__(max_member_bytes(max_pixels) if max_bytes is None else max_bytes, open_image_array)
        self.max_pixels = max_pixels

    def read(self, item: Item) -> np.ndarray:
        """The image, or raises ``ValueError`` with the reason it cannot be decoded."""
        if item.kind == "array":
            return array_row_to_rgb(np.asarray(self.handle(item)[item.member]))
        if item.kind == "file":
            return decode(item.path, self.max_pixels)
        import io

        return decode(io.BytesIO(self.member(item)), self.max_pixels)


def decode(source, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file (path or file object) to ``(H, W, 3)`` uint8 with PIL ``convert("RGB")``.

    Exactly what pytorch-fid, torch-fidelity and clean-fid do, so the numbers
    agree; note that PIL clips 16-bit values at 255 rather than rescaling them.
    Animated images give their first frame. An image of more than ``max_pixels``
    pixels is refused from its header (PIL's decompression-bomb warning is an
    error here; ``--max-pixels`` moves the limit either way).
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    import contextlib

    from gentools.files import NotRegular, open_regular

    saved = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None  # the check below is PIL's, with our limit; restored in finally
            if isinstance(source, (str, os.PathLike)):  # a FIFO or a device would block or never end
                source = stack.enter_context(open_regular(source))
            with Image.open(source) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ValueError(f"{width}x{height} is {width * height} pixels, over the limit of {max_pixels} "
                                     f"(a decompression bomb? --max-pixels N allows larger images)")
                return np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise ValueError("not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            EOFError, MemoryError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, FileNotFoundError):
            reason = "no such file"
        elif isinstance(exc, NotRegular):
            reason = str(exc).rsplit(": ", 1)[-1]
        elif isinstance(exc, PermissionError):
            reason = "permission denied"
        raise ValueError(reason) from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """A ``size``×``size`` uint8 thumbnail (PIL bicubic), for nn-grid."""
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), resample=Image.BICUBIC))


class ImageDataset:
    """Map-style dataset of items -> ``(index, image, thumbnail, error)``; decoding errors are returned, not raised."""

    def __init__(self, items: list[Item], worker_transform=None, thumbnails: Optional[int] = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.items = items
        self.worker_transform = worker_transform
        self.thumbnails = thumbnails
        self.reader = Reader(max_pixels)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        item = self.items[index]
        try:
            image = self.reader.read(item)
        except ValueError as exc:
            return index, None, None, str(exc)
        thumb = thumbnail(image, self.thumbnails) if self.thumbnails else None
        if self.worker_transform is not None:
            image = self.worker_transform(image)
        return index, image, thumb, None
