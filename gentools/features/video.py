"""Video inputs: which inputs are videos, how they are decoded, and which frames make a clip.

A video is a file PyAV decodes (``.mp4 .webm .avi .mkv .mov .gif``), a folder of frame images (StyleGAN-V's
dataset layout: one folder per video, frames in sorted name order), or row ``i`` of a uint8 ``.npy``/``.npz``
array ``[N, T, H, W, C]``; zip archives may hold video files and frame folders. Every frame comes out as
uint8 RGB ``[H, W, 3]`` (gray repeated, alpha dropped), as StyleGAN-V repeats a single channel.

Clips follow StyleGAN-V (``src/training/dataset.py``, ``VideoFramesFolderDataset.__getitem__``): a clip of
``T`` frames taken every ``S``-th frame from start ``offset`` is ``frames_idx = np.arange(0, T*S, S) +
offset``; a video with fewer than ``T*S`` frames is discarded (``discard_short_videos``: here skipped and
listed in the file). ``first`` starts at 0 (StyleGAN-V's generated folders,
``load_n_consecutive_random_offset = False``); clip ``k`` of ``--clips-per-video K`` starts at ``k*T*S``
(consecutive clips, as many as fit, at least one). ``random`` draws each start from StyleGAN-V's range
``randint(0, n - T*S + S - 1)`` (inclusive), but from ``default_rng([seed, key(video id)])`` instead of
Python's unseeded ``random``, so a shard or a resume draws the same starts; the starts are stored with the
features (``clip_start``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gentools import memory
from gentools.errors import InputError
from gentools.features.images import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS
from gentools.features.items import ARRAY_SUFFIXES, Item, MemberReader, npz_member, visible, walk, zip_entries

VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".avi", ".mkv", ".mov", ".gif", ".m4v"})
MAX_DECODED_BYTES = 1 << 33  # 8 GiB of decoded frames per video: beyond it the video is refused, not allocated
MAX_MEMBER_BYTES = 1 << 32  # an archive member larger than 4 GiB is refused unread
AV_HINT = "video files need PyAV: pip install 'gentools[video]'"
CLIP_STARTS = ("first", "random")


def is_video_name(name: str) -> bool:
    return visible(name) and Path(name).suffix.lower() in VIDEO_EXTENSIONS


def _is_frame_name(name: str) -> bool:
    """A frame of a frame folder: an image name, but not ``.gif``: among video inputs a GIF is a video (its
    frames are its animation), never a frame, so a folder of GIFs is that many videos, not one more."""
    return visible(name) and Path(name).suffix.lower() in IMAGE_EXTENSIONS - VIDEO_EXTENSIONS


# ----------------------------------------------------------------------------------------------------- listing


def list_videos(args: list[str]) -> tuple[list[Item], str]:
    """Videos of every argument, in order, and the ``source`` provenance string. Items: ``file`` / ``zip`` (a
    video file or member), ``frames`` / ``zipframes`` (a folder of frame images: ``member`` is the sorted
    tuple of frame names), ``array`` (row ``member`` of a ``[N, T, H, W, C]`` array)."""
    items, sources = [], []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            items += _list_folder(path)
        elif path.is_file():
            lower = path.name.lower()
            if lower.endswith(ARRAY_SUFFIXES):
                count = len(open_video_array(str(path)))
                items += [Item(f"{path.name}[{i}]", "array", str(path), i) for i in range(count)]
            elif lower.endswith(".zip"):
                items += _list_zip(path)
            else:
                items.append(Item(arg, "file", str(path)))
        else:
            raise InputError(f"{arg}: no such file or folder")
        sources.append(str(path.resolve()))
    return items, ";".join(sources)


def _list_folder(root: Path) -> list[Item]:
    items = []
    for folder, files in walk(root):
        frames = tuple(f for f in files if _is_frame_name(f))
        if frames:
            rel = os.path.relpath(folder, root)
            items.append(Item(root.name if rel == "." else rel, "frames", folder, frames))
        for name in files:
            full = os.path.join(folder, name)
            if is_video_name(name):
                items.append(Item(os.path.relpath(full, root), "file", full))
            elif name.lower().endswith(ARRAY_SUFFIXES) and visible(name):
                count = len(open_video_array(full))
                items += [Item(f"{os.path.relpath(full, root)}[{i}]", "array", full, i) for i in range(count)]
    items.sort(key=lambda item: item.id.split(os.sep))
    return items


def _list_zip(path: Path) -> list[Item]:
    items, folders = [], {}
    for info in zip_entries(path, visible):
        name = info.filename
        if is_video_name(name):
            items.append(Item(f"{path.name}:{name}", "zip", str(path), name, info.file_size))
        elif _is_frame_name(name):
            folders.setdefault(name.rsplit("/", 1)[0] if "/" in name else "", []).append(name)
    for folder, names in folders.items():
        items.append(Item(f"{path.name}:{folder or '.'}", "zipframes", str(path), tuple(sorted(names))))
    items.sort(key=lambda item: item.id.split("/"))
    return items


def open_video_array(path: str) -> np.ndarray:
    """A uint8 video array ``[N, T, H, W, C]`` (C of 1, 3 or 4) from .npy (memory-mapped) or .npz (``arr_0`` or
    its only array)."""
    try:
        array = (np.load(path, mmap_mode="r", allow_pickle=False) if path.lower().endswith(".npy")
                 else npz_member(path))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: cannot read the video array ({str(exc)[:160]})") from None
    if array.dtype != np.uint8:
        raise InputError(f"{path}: video arrays must be uint8, this one is {array.dtype}")
    if array.ndim != 5 or array.shape[-1] not in (1, 3, 4) or 0 in array.shape:
        raise InputError(f"{path}: video arrays must be [N, T, H, W, C] with C of 1, 3 or 4 and no empty axis, this "
                         f"one is {list(array.shape)}")
    return array


# ---------------------------------------------------------------------------------------------------- decoding


def _rgb(frame: np.ndarray) -> np.ndarray:
    """``[H, W]`` / ``[H, W, C]`` uint8 -> ``[H, W, 3]`` (gray repeated, alpha dropped)."""
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.shape[-1] == 1:
        return np.repeat(frame, 3, axis=2)
    return np.ascontiguousarray(frame[:, :, :3])


def av_module():
    try:
        import av
    except ImportError:
        raise InputError(AV_HINT) from None
    return av


def decode_video(source, limit: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The frames of a video file (path or file object) as uint8 ``[T, H, W, 3]``, the first ``limit`` only
    when given; raises ``ValueError`` with the reason when it cannot be decoded, holds no frames, or its
    frames are over ``max_pixels`` (``--max-pixels``)."""
    return np.stack(_decode(source, limit, None, max_pixels)[0])


def decode_frames(source, keep, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[dict, int]:
    """Only frames ``keep`` (indices) of a video, and how many frames it has: every frame is decoded, but no
    other is kept (``--clip-start random`` needs the count, and a few frames of a long video)."""
    frames, count = _decode(source, None, set(keep), max_pixels)
    return dict(zip(sorted(set(keep) & set(range(count))), frames)), count


def _decode(source, limit: int | None = None, keep: set | None = None,
            max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[list, int]:
    """The kept frames (all, the first ``limit``, or those in ``keep``) and the number of frames decoded; the
    frame size is checked from the container's header, against ``max_pixels`` and the memory budget, before
    any frame is decoded."""
    from gentools.files import NotRegular, open_regular

    av = av_module()
    frames: list = []
    count = 0
    try:
        with contextlib.ExitStack() as opened:
            if isinstance(source, (str, os.PathLike)):
                source = opened.enter_context(open_regular(source))  # a FIFO or a device would block forever
            container = opened.enter_context(av.open(source, mode="r"))
            if not container.streams.video:
                raise ValueError("no video stream in the file")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > max_pixels:  # a GIF's screen is its header's
                raise ValueError(f"its frames are {width}x{height}, {width * height} pixels, over the limit of "
                                 f"{max_pixels} (--max-pixels N allows larger frames); refused before decoding")
            if width * height * 3 * 2 > min(MAX_DECODED_BYTES, memory.budget()):  # a GIF's screen is its header's
                raise ValueError(f"its frames are {width}x{height}: one frame (and its copy) is over the memory "
                                 f"budget of {memory.size_text(min(MAX_DECODED_BYTES, memory.budget()))}")
            for frame in container.decode(stream):
                count += 1
                if keep is not None and count - 1 not in keep:
                    continue
                if frames and (frame.width, frame.height) != frames[0].shape[1::-1]:
                    raise ValueError(f"the frame size changes within the video ({frames[0].shape[1]}x"
                                     f"{frames[0].shape[0]}, then {frame.width}x{frame.height})")
                if 2 * (len(frames) + 1) * frame.width * frame.height * 3 > min(MAX_DECODED_BYTES, memory.budget()):
                    raise ValueError(f"more than {memory.size_text(min(MAX_DECODED_BYTES, memory.budget()))} of "
                                     f"decoded frames (and the stacked copy)")
                frames.append(frame.to_ndarray(format="rgb24"))
                if limit is not None and len(frames) >= limit:
                    break
    except EOFError:  # FFmpeg's end of file while flushing the decoder: the frames so far are the video
        pass
    except av.error.FFmpegError as exc:  # before ValueError: PyAV's errors subclass it (and OSError)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__
        raise ValueError(f"not a decodable video ({reason[:160]})") from None
    except ValueError:
        raise
    except NotRegular as exc:
        raise ValueError(str(exc).rsplit(": ", 1)[-1]) from None
    except (OSError, RuntimeError, TypeError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a decodable video ({reason[:160]})") from None
    if not count:
        raise ValueError("the video holds no frames")
    return frames, count


@dataclass(frozen=True)
class Clips:
    """Clip sampling (module docstring): ``frames`` T, every ``subsample``-th frame, ``start`` first or
    random (seeded by ``seed`` and the video's id), up to ``per_video`` clips."""

    frames: int = 16
    subsample: int = 1
    start: str = "first"
    per_video: int = 1
    seed: int = 2020

    @property
    def span(self) -> int:
        """Frames a clip covers: ``T * S`` (StyleGAN-V's ``load_n_consecutive * subsample_factor``)."""
        return self.frames * self.subsample

    def starts(self, available: int, video_id: str) -> list[int]:
        """Start frames of the clips of a video of ``available`` frames; empty when it is shorter than a clip."""
        if available < self.span:
            return []
        if self.start == "first":
            return [k * self.span for k in range(self.per_video) if (k + 1) * self.span <= available] or [0]
        rng = np.random.default_rng([self.seed, id_key(video_id)])
        return [int(s) for s in rng.integers(0, available - self.span + self.subsample, size=self.per_video)]

    def indices(self, start: int) -> np.ndarray:
        """StyleGAN-V's ``frames_idx = np.arange(0, n * sf, sf) + offset``."""
        return np.arange(0, self.frames * self.subsample, self.subsample) + start

    def provenance(self) -> dict:
        return {"frames": self.frames, "subsample": self.subsample, "clip_start": self.start,
                "clips_per_video": self.per_video, "clip_seed": self.seed if self.start == "random" else ""}


def id_key(video_id: str) -> int:
    """A video's id as a 64-bit seed word (the first 8 bytes of its sha256)."""
    return int.from_bytes(hashlib.sha256(video_id.encode("utf-8", "surrogateescape")).digest()[:8], "little")


class VideoReader(MemberReader):
    """Frame counts and frames of video items; keeps archives and arrays open (one per process). A frame of
    more than ``max_pixels`` is undecodable, from its header (``--max-pixels``)."""

    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__(MAX_MEMBER_BYTES, open_video_array)
        self.max_pixels = max_pixels

    def clips(self, item: Item, clips: Clips) -> tuple[np.ndarray | None, list[int], int]:
        """``(uint8 [K, T, H, W, 3] or None, starts, frames available)``: None when the video is shorter than a
        clip. Undecodable inputs raise ``ValueError``."""
        if item.kind in ("frames", "zipframes"):
            names = item.member
            starts = clips.starts(len(names), item.id)
            if not starts:
                return None, [], len(names)
            needed = sorted({int(i) for s in starts for i in clips.indices(s)})
            frames = {i: self._frame(item, names[i]) for i in needed}
            shapes = {f.shape for f in frames.values()}
            if len(shapes) > 1:
                sizes = sorted(f"{w}x{h}" for h, w, _ in shapes)
                raise ValueError(f"frame folder with mixed sizes ({', '.join(sizes)})")
            return np.stack([np.stack([frames[int(i)] for i in clips.indices(s)]) for s in starts]), starts, len(names)
        if item.kind == "array":
            video = self.handle(item)[item.member]
            starts = clips.starts(len(video), item.id)
            if not starts:
                return None, [], len(video)
            return np.stack([np.stack([_rgb(np.asarray(video[i])) for i in clips.indices(s)]) for s in starts]), \
                starts, len(video)
        source = item.path if item.kind == "file" else io.BytesIO(self.member(item))
        if clips.start == "first":
            video = decode_video(source, clips.per_video * clips.span, self.max_pixels)
            available = len(video)
            starts = clips.starts(available, item.id)
            if not starts:
                return None, [], available
            return np.stack([video[clips.indices(s)] for s in starts]), starts, available
        _, available = decode_frames(source, (), self.max_pixels)  # counted, none kept
        starts = clips.starts(available, item.id)
        if not starts:
            return None, [], available
        if hasattr(source, "seek"):
            source.seek(0)
        kept, _ = decode_frames(source, {int(i) for s in starts for i in clips.indices(s)}, self.max_pixels)
        return np.stack([np.stack([kept[int(i)] for i in clips.indices(s)]) for s in starts]), starts, available

    def _frame(self, item: Item, name: str) -> np.ndarray:
        from gentools.features.images import decode

        if item.kind == "frames":
            return decode(os.path.join(item.path, name), self.max_pixels)
        return decode(io.BytesIO(self.member(item, name)), self.max_pixels)


class VideoDataset:
    """Map-style dataset of video items -> ``(index, clips uint8 [K, T, H, W, 3] or None, starts, available,
    error)``: decoded and sampled in the worker; decoding errors are returned, not raised."""

    def __init__(self, items: list, clips: Clips, max_pixels: int = DEFAULT_MAX_PIXELS):
        if any(item.kind in ("file", "zip") for item in items):
            av_module()  # here, not first in a DataLoader worker, whose error would carry its traceback
        self.items = items
        self.clips = clips
        self.reader = VideoReader(max_pixels)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        try:
            clips, starts, available = self.reader.clips(self.items[index], self.clips)
            return index, clips, starts, available, None
        except ValueError as exc:
            return index, None, [], 0, str(exc)


def video_clips(videos, clips: Clips) -> list[np.ndarray]:
    """In-memory videos ``[B, T, C, H, W]`` (array or tensor: uint8, or floats in [-1, 1] quantised as
    StyleGAN-V's ``(x * 127.5 + 128).clamp(0, 255)`` truncated to uint8) -> per video uint8 ``[T, H, W, 3]``;
    a wrong shape is a ``ValueError``."""
    import torch

    if isinstance(videos, np.ndarray):
        videos = torch.from_numpy(np.ascontiguousarray(videos))
    if not isinstance(videos, torch.Tensor) or videos.ndim != 5 or videos.shape[2] not in (1, 3):
        shape = list(getattr(videos, "shape", []))
        raise ValueError(f"videos must be [B, T, C, H, W] with C of 1 or 3, got {shape}")
    videos = videos.detach()
    if videos.dtype != torch.uint8:
        if not torch.isfinite(videos).all():
            raise ValueError("videos hold NaN or infinite values")
        videos = (videos.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    if videos.shape[2] == 1:
        videos = videos.expand(-1, -1, 3, -1, -1)
    return list(videos.permute(0, 1, 3, 4, 2).contiguous().cpu().numpy())
