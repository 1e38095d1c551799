"""The extraction loop: decode in workers, batch as uint8, run the backbone, collect rows in input order.

:func:`image_batches` and :func:`generator_batches` yield :class:`Rows`, one
per batch, in input order, so a caller can write them incrementally.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np
import torch

from gentools.errors import InputError
from gentools.features.backbones.base import Backbone, full_float32
from gentools.features.images import DEFAULT_MAX_PIXELS, ImageDataset, Item


@dataclass
class Rows:
    """One batch of results: ``ids`` in order, ``arrays`` name -> [B, ...], ``skipped`` ids.

    ``positions`` / ``skipped_positions``: where each row / skipped input sits
    in the list the batches were made from.
    """

    ids: list
    arrays: dict
    skipped: list = field(default_factory=list)
    positions: list = field(default_factory=list)
    skipped_positions: list = field(default_factory=list)
    inputs: Optional[int] = None  # inputs consumed (rows + skipped unless one input gives many rows: audio)

    def consumed(self) -> int:
        return len(self.ids) + len(self.skipped) if self.inputs is None else self.inputs


def default_workers() -> int:
    """Decoding processes: the cores left after the network's own threads, at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def _collate(samples):
    """Pack a batch: images of one shape stacked as one uint8 tensor (shared memory from workers)."""
    indices = [s[0] for s in samples]
    errors = [(s[0], s[3]) for s in samples if s[3] is not None]
    good = [s for s in samples if s[3] is None]
    groups: dict = {}
    for s in good:
        groups.setdefault(s[1].shape + (s[1].dtype.str,), []).append(s)
    batches = [([s[0] for s in group], torch.from_numpy(np.stack([s[1] for s in group])),
                torch.from_numpy(np.stack([s[2] for s in group])) if group[0][2] is not None else None)
               for group in groups.values()]
    return indices, batches, errors


def _worker_init(_):
    import signal

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle (flush, exit 130)


def image_batches(items: list[Item], backbone: Backbone, batch_size: int = 50, workers: int = 0,
                  skip_bad: bool = False, thumbnails: Optional[int] = None,
                  positions: Optional[list[int]] = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Rows]:
    """Features of ``items``, one :class:`Rows` per batch, in the order of ``items``; ``positions[i]`` is
    item ``i``'s position in the job (default ``i``), reported in ``Rows.positions``. Images over ``max_pixels``
    are undecodable inputs."""
    at = positions if positions is not None else range(len(items))
    dataset = ImageDataset(items, backbone.worker_transform, thumbnails, max_pixels)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_collate,
        worker_init_fn=_worker_init if workers else None, prefetch_factor=4 if workers else None,
        pin_memory=backbone.device.type == "cuda", persistent_workers=False)
    for indices, batches, errors in loader:
        skipped = []
        for index, reason in errors:
            item = items[index]
            if not skip_bad:
                raise InputError(f"{item.path if item.kind == 'file' else item.id}: cannot decode image ({reason})",
                                 hint="--skip-bad skips undecodable images and lists them in the file")
            skipped.append(item.id)
        rows: dict = {}
        for batch_indices, images, thumbs in batches:
            out = _run(backbone, images)
            if thumbs is not None:
                out["thumbnails"] = thumbs.numpy()
            for name, values in out.items():
                rows.setdefault(name, {}).update(zip(batch_indices, values))
        bad = {index for index, _ in errors}
        kept = [i for i in indices if i not in bad]
        arrays = {name: np.stack([by_index[i] for i in kept]) if kept else None for name, by_index in rows.items()}
        yield Rows([items[i].id for i in kept], arrays, skipped, [at[i] for i in kept], [at[i] for i in sorted(bad)])


def uint8_features(backbone: Backbone, images: torch.Tensor) -> dict:
    """Rows of a uint8 NHWC batch as extract computes them: the backbone's per-image worker transform (if it has
    one) then :func:`_run`. Shared by ``extract --generator`` and :class:`gentools.Evaluator`."""
    batch = images
    if backbone.worker_transform is not None:
        batch = torch.from_numpy(np.stack([backbone.worker_transform(im) for im in images.numpy()]))
    return _run(backbone, batch)


CPU_SLICE = 16  # images per forward pass on CPU: activations stay in cache (1.4x faster than 50 on 2 cores)


def _run(backbone: Backbone, images: torch.Tensor) -> dict:
    """uint8 NHWC (or float NHWC from a worker transform) -> backbone outputs as numpy float32 rows.

    On CPU the batch goes through the network in slices of ``CPU_SLICE``
    images; on a GPU as a whole.
    """
    x = images.permute(0, 3, 1, 2).to(backbone.device, non_blocking=True)
    step = CPU_SLICE if backbone.device.type == "cpu" else len(x)
    parts: dict = {}
    with torch.inference_mode(), full_float32(backbone.device):
        for start in range(0, len(x), step):
            for name, value in backbone.run(x[start:start + step]).items():
                parts.setdefault(name, []).append(value.float().cpu().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def generator_batches(generator: Callable, indices: list, latent_dim: int, seed: int, backbone: Backbone,
                      batch_size: int = 50, thumbnails: Optional[int] = None,
                      positions: Optional[list[int]] = None, classes: int = 0,
                      class_input: str = "index") -> Iterator[Rows]:
    """Features of the generated samples ``indices`` (never written as images), one Rows per batch;
    ``positions[i]`` is sample ``i``'s position in the job (default ``i``). With ``classes=N`` the
    generator is called ``G(z, c)``, sample i of class ``i % N`` (``class_input``: ``index`` gives int64
    ``[B]``, ``onehot`` a float ``[B, N]``), as StyleGAN's conditional generators take it."""
    from gentools.features.images import thumbnail
    from gentools.features.generators import generator_id, to_uint8_images

    for indices_here, at_here, z in _latent_batches(indices, latent_dim, seed, backbone.device, batch_size, positions):
        with torch.inference_mode():
            if classes:
                c = torch.tensor([i % classes for i in indices_here], dtype=torch.int64, device=backbone.device)
                images = generator(z, torch.nn.functional.one_hot(c, classes).float() if class_input == "onehot" else c)
            else:
                images = generator(z)
            images = to_uint8_images(images).cpu()
        out = uint8_features(backbone, images)
        if thumbnails:
            out["thumbnails"] = np.stack([thumbnail(im, thumbnails) for im in images.numpy()])
        yield Rows([generator_id(seed, i) for i in indices_here], out, positions=at_here)


def _latent_batches(indices: list, latent_dim: int, seed: int, device, batch_size: int, positions: Optional[list[int]]):
    """``(indices, positions, z)`` per batch of generated samples: sample i's latent is ``latents(seed, [i])``
    wherever it falls, so shards and resumes draw the same z; ``positions[i]`` defaults to ``i``."""
    from gentools.features.generators import latents

    at = positions if positions is not None else range(len(indices))
    for first in range(0, len(indices), batch_size):
        here = range(first, min(first + batch_size, len(indices)))
        indices_here = [indices[p] for p in here]
        yield indices_here, [at[p] for p in here], torch.from_numpy(latents(seed, indices_here, latent_dim)).to(device)


def _as_list(samples):
    """Collate of inputs that give many rows each (sound files, videos): the samples as they are."""
    return samples


def audio_rows(backbone: Backbone, waveforms: list, ids: list, positions: list, float16: bool = False) -> Rows:
    """Frames of prepared waveforms (float64 mono at the backbone's rate), each waveform's rows together and
    carrying its id; ``float16`` rounds the frames to float16 as fadtk stores its embeddings."""
    row_ids, row_positions, parts = [], [], []
    with torch.inference_mode(), full_float32(backbone.device):
        for waveform, sid, pos in zip(waveforms, ids, positions):
            frames = backbone.run(waveform)["features"].float().cpu().numpy()
            if float16:
                frames = frames.astype(np.float16).astype(np.float32)
            parts.append(frames)
            row_ids += [sid] * len(frames)
            row_positions += [pos] * len(frames)
    arrays = {"features": np.concatenate(parts) if parts else None}
    return Rows(row_ids, arrays, positions=row_positions, inputs=len(ids))


def audio_batches(items: list[Item], backbone: Backbone, batch_size: int = 50, workers: int = 0,
                  skip_bad: bool = False, positions: Optional[list[int]] = None,
                  float16: bool = False) -> Iterator[Rows]:
    """Frames of audio ``items``, ``batch_size`` files per :class:`Rows`, in input order: decoded, mono and
    resampled in the workers (:class:`gentools.features.audio.AudioDataset`), framed by the backbone."""
    from gentools.features.audio import AudioDataset

    at = positions if positions is not None else range(len(items))
    loader = torch.utils.data.DataLoader(
        AudioDataset(items, backbone.loading), batch_size=batch_size, shuffle=False, num_workers=workers,
        collate_fn=_as_list, worker_init_fn=_worker_init if workers else None,
        prefetch_factor=2 if workers else None, persistent_workers=False)
    for samples in loader:
        good, skipped, skipped_at = [], [], []
        for index, waveform, reason in samples:
            item = items[index]
            if reason is None:
                good.append((index, waveform))
                continue
            if not skip_bad:
                raise InputError(f"{item.path if item.kind == 'file' else item.id}: cannot decode audio ({reason})",
                                 hint="--skip-bad skips undecodable files and lists them in the file")
            skipped.append(item.id)
            skipped_at.append(at[index])
        rows = audio_rows(backbone, [w for _, w in good], [items[i].id for i, _ in good], [at[i] for i, _ in good],
                          float16)
        rows.skipped, rows.skipped_positions, rows.inputs = skipped, skipped_at, len(samples)
        yield rows


def waveform_rows(backbone: Backbone, waveforms, sample_rate: int, ids: list, positions: list,
                  float16: bool = False) -> Rows:
    """Frames of in-memory waveforms (``[B, T]`` / ``[B, C, T]`` floats in [-1, 1] at ``sample_rate``) through
    the same mono, resampling and framing as files. Shared by ``extract --generator`` and the Evaluator."""
    from gentools.features.audio import waveform_rows as checked

    try:
        rows = checked(waveforms, sample_rate)
    except ValueError as exc:
        raise InputError(f"generated waveforms: {exc}") from None
    prepared = [backbone.loading.prepare(w, sample_rate) for w in rows]
    return audio_rows(backbone, prepared, ids, positions, float16)


def waveform_generator_batches(generator: Callable, indices: list, latent_dim: int, seed: int, backbone: Backbone,
                               sample_rate: int, batch_size: int = 50, positions: Optional[list[int]] = None,
                               float16: bool = False) -> Iterator[Rows]:
    """Frames of the generated waveforms ``indices`` (sample i's latent as for images), one Rows per batch."""
    from gentools.features.generators import generator_id

    for indices_here, at_here, z in _latent_batches(indices, latent_dim, seed, backbone.device, batch_size, positions):
        with torch.inference_mode():
            waveforms = generator(z)
        yield waveform_rows(backbone, waveforms, sample_rate, [generator_id(seed, i) for i in indices_here], at_here,
                            float16)


# Clips per forward pass on CPU: one. A clip is a large input on its own, and oneDNN picks its 3-D convolution
# kernels by batch size, so a clip batched with others gives features a few ulps off; one at a time, a clip's
# features do not depend on its neighbours and shards, resumes and the Evaluator reproduce one run bit for bit.
CPU_CLIP_SLICE = 1


def clip_rows(backbone: Backbone, clips: list, starts: list, ids: list, positions: list, inputs: int) -> Rows:
    """Features of uint8 clips ``[T, H, W, 3]`` (one row each, in order; ``ids`` / ``positions`` per clip): clips
    of one shape go through the network together, ``CPU_CLIP_SLICE`` at a time on CPU."""
    step = CPU_CLIP_SLICE if backbone.device.type == "cpu" else 64
    out = [None] * len(clips)
    by_shape: dict = {}
    for k, clip in enumerate(clips):
        by_shape.setdefault(clip.shape, []).append(k)
    with torch.inference_mode(), full_float32(backbone.device):
        for members in by_shape.values():
            for first in range(0, len(members), step):
                here = members[first:first + step]
                batch = torch.from_numpy(np.stack([clips[k] for k in here])).to(backbone.device)
                values = backbone.run(batch)["features"].float().cpu().numpy()
                for k, row in zip(here, values):
                    out[k] = row
    arrays = {"features": np.stack(out) if out else None,
              "clip_start": np.asarray(starts, np.int64) if out else None}
    return Rows(list(ids), arrays, positions=list(positions), inputs=inputs)


def video_batches(items: list[Item], backbone: Backbone, clips, batch_size: int = 8, workers: int = 0,
                  skip_bad: bool = False, positions: Optional[list[int]] = None,
                  max_pixels: Optional[int] = None) -> Iterator[Rows]:
    """Clip features of video ``items``, ``batch_size`` videos per :class:`Rows`, in input order: decoded and
    sampled in the workers (:class:`gentools.features.video.VideoDataset`), one row per clip, every clip of a
    video carrying its id. A video shorter than one clip is skipped and listed (StyleGAN-V discards them)."""
    from gentools.features.images import DEFAULT_MAX_PIXELS
    from gentools.features.video import VideoDataset

    at = positions if positions is not None else range(len(items))
    dataset = VideoDataset(items, clips, DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
        collate_fn=_as_list, worker_init_fn=_worker_init if workers else None,
        prefetch_factor=2 if workers else None, persistent_workers=False)
    for samples in loader:
        kept, starts, ids, where, skipped, skipped_at = [], [], [], [], [], []
        for index, video_clips, video_starts, _available, reason in samples:
            item = items[index]
            if reason is not None and not skip_bad:
                raise InputError(f"{item.path if item.kind in ('file', 'frames') else item.id}: cannot decode video "
                                 f"({reason})", hint="--skip-bad skips undecodable videos and lists them in the file")
            if video_clips is None:  # undecodable (with --skip-bad), or shorter than one clip
                skipped.append(item.id)
                skipped_at.append(at[index])
                continue
            kept += list(video_clips)
            starts += video_starts
            ids += [item.id] * len(video_clips)
            where += [at[index]] * len(video_clips)
        rows = clip_rows(backbone, kept, starts, ids, where, len(samples))
        rows.skipped, rows.skipped_positions = skipped, skipped_at
        yield rows


def generated_clip_rows(backbone: Backbone, videos, clips, ids: list, positions: list) -> Rows:
    """Clip features of in-memory videos ``[B, T, C, H, W]`` (uint8, or floats in [-1, 1] quantised as StyleGAN-V
    does) through the clip sampling of files; a video shorter than one clip is an input error. Shared by
    ``extract --generator`` and the Evaluator."""
    from gentools.features.video import video_clips

    try:
        videos = video_clips(videos, clips)
    except ValueError as exc:
        raise InputError(f"generated videos: {exc}") from None
    kept, starts, row_ids, where = [], [], [], []
    for video, vid, pos in zip(videos, ids, positions):
        video_starts = clips.starts(len(video), vid)
        if not video_starts:
            raise InputError(f"generated videos: {len(video)} frames, fewer than one clip of {clips.frames} frames "
                             f"every {clips.subsample} ({clips.span})")
        kept += [video[clips.indices(s)] for s in video_starts]
        starts += video_starts
        row_ids += [vid] * len(video_starts)
        where += [pos] * len(video_starts)
    return clip_rows(backbone, kept, starts, row_ids, where, len(ids))


def video_generator_batches(generator: Callable, indices: list, latent_dim: int, seed: int, backbone: Backbone,
                            clips, batch_size: int = 8, positions: Optional[list[int]] = None) -> Iterator[Rows]:
    """Clip features of the generated videos ``indices`` (sample i's latent as for images), one Rows per batch."""
    from gentools.features.generators import generator_id

    for indices_here, at_here, z in _latent_batches(indices, latent_dim, seed, backbone.device, batch_size, positions):
        with torch.inference_mode():
            videos = generator(z)
        yield generated_clip_rows(backbone, videos, clips, [generator_id(seed, i) for i in indices_here], at_here)
