"""Images: files, folders, globs, archives and uint8 arrays; a generator's samples; tensors in training."""

from __future__ import annotations

from gentools.errors import InputError
from gentools.kinds.base import InputKind, Job, Request, loaded_generator, no_clip_options, no_sample_rate, workers_of

ROUNDING = 1e-6  # floats may overshoot their range by this much (tanh/clamp rounding)


class ImageKind(InputKind):
    name = "image"
    noun = "images"
    takes = frozenset({"thumbnails", "max_pixels", "captions"})
    in_memory = True

    def list(self, request: Request) -> tuple:
        from gentools.features.images import Item, list_inputs

        if request.in_memory:  # written once as .npy under the job's folder: the path a PNG's pixels take
            from gentools.features.in_memory import as_items

            return as_items(request.inputs, request.workdir)
        if request.listed is not None:
            items, source = [Item(p, "file", p) for p in request.listed], "stdin"
        else:
            items, source = list_inputs(request.inputs)
        if not items:
            raise InputError(f"{source}: no images found", hint="image extensions: png jpg jpeg bmp gif tif webp ...")
        if not request.skip_bad:
            refuse_oversized(items, request.max_pixels)
        return items, source

    def job(self, items, chosen: list, net, request: Request, settings) -> Job:
        from gentools.features import generators, pipeline
        from gentools.features.images import DEFAULT_MAX_PIXELS

        r = request
        if r.generator:
            gen, latent_dim = loaded_generator(r.generator, r.device, r.latent_dim)

            def make_generated(positions):
                return pipeline.generator_batches(gen, [chosen[p] for p in positions], int(latent_dim), r.seed, net,
                                                  r.batch_size, r.thumbnails, positions=positions,
                                                  classes=r.classes, class_input=r.class_input)

            return Job([generators.generator_id(r.seed, i) for i in chosen], make_generated, latent_dim)
        max_pixels = DEFAULT_MAX_PIXELS if r.max_pixels is None else r.max_pixels
        items = [items[i] for i in chosen]
        workers = workers_of(r)

        def make_batches(positions):
            return pipeline.image_batches([items[p] for p in positions], net, r.batch_size, workers, r.skip_bad,
                                          r.thumbnails, positions=positions, max_pixels=max_pixels)

        return Job([item.id for item in items], make_batches)

    def adapter(self, net, parity, pixel_range, frames, subsample):
        no_clip_options(self, net, frames, subsample)
        return ImageBatches(self, net, pixel_range)

    def probe(self, net) -> list:
        import torch

        from gentools.features.pipeline import uint8_features

        size = net.input_size or 32
        return list(uint8_features(net, torch.zeros((1, size, size, 3), dtype=torch.uint8)))


class ImageBatches:
    """``Evaluator.update(images)``: ``[B, 3, H, W]`` (or ``[B, 1, H, W]``) uint8, or floats in ``pixel_range``
    quantised as ``extract --generator`` does."""

    noun = "images"

    def __init__(self, kind: ImageKind, net, pixel_range: tuple):
        self.kind, self.net, self.pixel_range = kind, net, tuple(pixel_range)
        self.warned_range = False


    def rows(self, images, sample_rate, start: int):
        import numpy as np
        import torch

        from gentools.features.generators import to_uint8_images
        from gentools.features.pipeline import Rows, uint8_features

        no_sample_rate(self.kind, self.net, sample_rate)
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(np.ascontiguousarray(images))
        self.check(images)
        count = len(images)
        ids = [f"image:{start + i}" for i in range(count)]
        if count == 0:
            return Rows(ids, {}, inputs=0)
        images = images.detach()
        if images.is_floating_point() and self.pixel_range == (0, 1):
            images = images.float() * 2 - 1
        return Rows(ids, uint8_features(self.net, to_uint8_images(images).cpu()), positions=list(range(count)),
                    inputs=count)

    def check(self, images) -> None:
        """One-line errors for what ``update`` cannot take: not an array, rank/channels, range, NaN/Inf; one
        warning when [-1, 1] floats all lie in [0, 1]."""
        import torch

        from gentools.errors import option, warn

        if not isinstance(images, torch.Tensor):
            raise InputError(f"update() takes a torch tensor or numpy array [B, 3, H, W], got "
                             f"{type(images).__name__}")
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise InputError(f"update() takes images [B, 3, H, W] (or [B, 1, H, W]), got shape "
                             f"{list(images.shape)}")
        if images.dtype == torch.uint8 or images.numel() == 0:
            return
        if not images.is_floating_point():
            raise InputError(f"update() takes uint8 or float images, got {images.dtype}")
        if not bool(torch.isfinite(images).all()):
            raise InputError("update(): the images hold NaN or Inf values")
        low, high = float(images.min()), float(images.max())
        lo, hi = self.pixel_range
        if low < lo - ROUNDING or high > hi + ROUNDING:
            raise InputError(f"update(): float images must lie in [{lo}, {hi}] ({option('pixel_range', (lo, hi))}), "
                             f"these span [{low:.4g}, {high:.4g}]",
                             hint="pass uint8 images, scale them, or choose pixel_range=(0, 1) or (-1, 1)")
        if self.pixel_range == (-1, 1) and low >= -ROUNDING and not self.warned_range:
            self.warned_range = True
            warn(f"update(): these float images lie in [{low:.3g}, {high:.3g}], which looks like [0, 1] "
                 f"(ToTensor(), a sigmoid), but are read as [-1, 1]; pass pixel_range=(0, 1) to the "
                 f"Evaluator if they are")


def refuse_oversized(items, max_pixels) -> None:
    from gentools.features.images import DEFAULT_MAX_PIXELS, oversized_members

    big = oversized_members(items, DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    if big:
        raise InputError(f"{big[0].id}: archive member of {big[0].size} bytes, larger than an image within "
                         f"--max-pixels can be; refused unread ({len(big)} such member(s))",
                         hint="--skip-bad skips them, --max-pixels N raises the limit")


KIND = ImageKind()
