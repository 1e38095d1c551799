"""Videos: files, frame folders, arrays and zips of these, cut into clips as StyleGAN-V cuts them (one row per
clip); a generator's videos, and videos in training, through the same clip sampling (features/video.py)."""

from __future__ import annotations

from gentools.errors import InputError, UsageError
from gentools.kinds.base import InputKind, Job, Request, loaded_generator, no_sample_rate, workers_of


class VideoKind(InputKind):
    name = "video"
    noun = "videos"
    takes = frozenset({"max_pixels", "clips"})  # a video's frames are images
    guarded_keys = ("frames", "subsample")

    def in_memory_refusal(self, backbone: str) -> str:
        return f"{backbone} takes videos: pass video files or frame folders, or videos to Evaluator.update(videos)"

    def settings(self, request: Request, parity):
        """The clips (defaults: the preset's frames and subsample)."""
        from gentools.features.video import CLIP_STARTS, Clips

        frames = parity.video_frames if request.frames is None else request.frames
        subsample = parity.video_subsample if request.subsample is None else request.subsample
        for name, value in (("frames", frames), ("subsample", subsample),
                            ("clips-per-video", request.clips_per_video)):
            if int(value) < 1:
                raise UsageError(f"--{name} {value}: expected a positive number")
        if request.clip_start not in CLIP_STARTS:
            raise UsageError(f"--clip-start {request.clip_start}: expected {' or '.join(CLIP_STARTS)}")
        return Clips(int(frames), int(subsample), request.clip_start, int(request.clips_per_video),
                     int(request.seed))

    def list(self, request: Request) -> tuple:
        from gentools.features.video import list_videos

        items, source = list_videos(list(request.listed if request.listed is not None else request.inputs))
        if not items:
            raise InputError(f"{source}: no videos found", hint="video files (mp4 webm avi mkv mov gif), folders of "
                             "frame images, or [N, T, H, W, C] uint8 arrays")
        return items, source

    def job(self, items, chosen: list, net, request: Request, clips) -> Job:
        from gentools.features import generators, pipeline

        r = request
        net.loading = clips
        if r.generator:
            gen, latent_dim = loaded_generator(r.generator, r.device, r.latent_dim)

            def make_generated(positions):
                return pipeline.video_generator_batches(gen, [chosen[p] for p in positions], int(latent_dim), r.seed,
                                                        net, clips, r.batch_size, positions)

            return Job([generators.generator_id(r.seed, i) for i in chosen], make_generated, latent_dim)
        items = [items[i] for i in chosen]
        workers = workers_of(r)

        def make_batches(positions):
            return pipeline.video_batches([items[p] for p in positions], net, clips, r.batch_size, workers,
                                          r.skip_bad, positions=positions, max_pixels=r.max_pixels)

        return Job([item.id for item in items], make_batches)

    def adapter(self, net, parity, pixel_range, frames, subsample):
        """Videos cut as ``extract`` cuts them by default: the preset's T and S, from frame 0."""
        from gentools.features.video import Clips

        clips = Clips(parity.video_frames if frames is None else int(frames),
                      parity.video_subsample if subsample is None else int(subsample), "first", 1, parity.seed)
        if clips.frames < 1 or clips.subsample < 1:
            raise UsageError(f"Evaluator: frames={clips.frames}, subsample={clips.subsample}: expected positive "
                             f"numbers")
        net.loading = clips
        return Videos(self, net, tuple(pixel_range))


class Videos:
    """``Evaluator.update(videos)``: ``[B, T, C, H, W]`` uint8, or floats in ``pixel_range`` quantised as
    StyleGAN-V does, each cut to one clip."""

    noun = "videos"

    def __init__(self, kind: VideoKind, net, pixel_range: tuple):
        self.kind, self.net, self.pixel_range = kind, net, pixel_range


    def rows(self, videos, sample_rate, start: int):
        import numpy as np
        import torch

        from gentools.features.pipeline import Rows, generated_clip_rows

        no_sample_rate(self.kind, self.net, sample_rate)
        count = len(videos)
        if count == 0:
            return Rows([], {}, inputs=0)
        ids = [f"video:{start + i}" for i in range(count)]
        floating = videos.is_floating_point() if isinstance(videos, torch.Tensor) else \
            np.asarray(videos).dtype.kind == "f"
        if floating and self.pixel_range == (0, 1):
            videos = videos * 2 - 1  # read as [-1, 1] from here, as images are
        rows = generated_clip_rows(self.net, videos, self.net.loading, ids, list(range(count)))
        return Rows(rows.ids, {"features": rows.arrays["features"]}, positions=rows.positions, inputs=count)


KIND = VideoKind()
