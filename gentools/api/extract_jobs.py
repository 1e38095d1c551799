"""The jobs ``gentools.extract`` runs, one builder per kind of input: which inputs (images, sound files, videos, a
generator's samples), their ids, and ``make_batches(positions)`` over them; plus the checks of the options each
modality takes."""

from __future__ import annotations

from gentools.errors import InputError, UsageError


def input_items(inputs: list, image_paths, modality: str = "image"):
    from gentools.features.images import Item, list_inputs

    if modality == "video":
        from gentools.features.video import list_videos

        items, source = list_videos(list(image_paths if image_paths is not None else inputs))
        if not items:
            raise InputError(f"{source}: no videos found", hint="video files (mp4 webm avi mkv mov gif), folders of "
                             "frame images, or [N, T, H, W, C] uint8 arrays")
        return items, source
    audio = modality == "audio"
    if image_paths is not None:
        items, source = [Item(p, "file", p) for p in image_paths], "stdin"
    elif audio:
        from gentools.features.audio import is_audio_name

        items, source = list_inputs(inputs, accept=is_audio_name, what="audio")
    else:
        items, source = list_inputs(inputs)
    if not items:
        if audio:
            raise InputError(f"{source}: no audio files found", hint="audio extensions: wav flac ogg mp3")
        raise InputError(f"{source}: no images found", hint="image extensions: png jpg jpeg bmp gif tif webp ...")
    return items, source


def modality_of_job(backbone: str, in_memory: bool, thumbnails, max_pixels, captions, generator, sample_rate) -> str:
    """What the backbone takes (``image``, ``audio``, ``video``); image-only options with sound or video, and
    --sample-rate without sound, are usage errors."""
    from gentools.features.backbones import modality_of

    modality = modality_of(backbone)
    if max_pixels is not None and max_pixels < 1:
        raise UsageError(f"--max-pixels {max_pixels}: expected a positive number of pixels")
    if modality != "audio" and sample_rate is not None:
        raise UsageError(f"--sample-rate applies to audio backbones (vggish); {backbone} takes {modality}s")
    if modality == "image":
        return modality
    for name, value in (("thumbnails", thumbnails), ("max-pixels", max_pixels), ("captions", captions)):
        if value and not (name == "max-pixels" and modality == "video"):  # a video's frames are images
            raise UsageError(f"--{name} applies to images; {backbone} takes {modality}")
    if modality == "video":
        if in_memory:
            raise UsageError(f"{backbone} takes videos: pass video files or frame folders, or videos to "
                             f"Evaluator.update(videos)")
        return modality
    if in_memory:
        raise UsageError(f"{backbone} takes audio: pass sound files, or waveforms to Evaluator.update(waveforms, "
                         f"sample_rate=SR)")
    if generator and not sample_rate:
        raise UsageError(f"--generator with {backbone} needs --sample-rate SR (the rate of the waveforms it returns)")
    return modality


def clips_of_job(modality: str, parity, frames, subsample, clip_start: str, clips_per_video: int, seed: int):
    """The clip sampling of a video job (defaults: the preset's frames and subsample), or None for other
    modalities, where any clip option is a usage error."""
    from gentools.features.video import CLIP_STARTS, Clips

    given = frames is not None or subsample is not None or clip_start != "first" or clips_per_video != 1
    if modality != "video":
        if given:
            raise UsageError("--frames, --subsample, --clip-start and --clips-per-video apply to video backbones "
                             "(i3d, i3d400, videomae)")
        return None
    frames = parity.video_frames if frames is None else frames
    subsample = parity.video_subsample if subsample is None else subsample
    for name, value in (("frames", frames), ("subsample", subsample), ("clips-per-video", clips_per_video)):
        if int(value) < 1:
            raise UsageError(f"--{name} {value}: expected a positive number")
    if clip_start not in CLIP_STARTS:
        raise UsageError(f"--clip-start {clip_start}: expected {' or '.join(CLIP_STARTS)}")
    return Clips(int(frames), int(subsample), clip_start, int(clips_per_video), int(seed))


def video_job(items, chosen, net, batch_size, workers, skip_bad, generator, latent_dim, seed, clips, max_pixels):
    """The ids of a video job's inputs (videos, or generated videos), ``make_batches(positions)`` and the latent
    size (generators)."""
    from gentools.features import pipeline

    if generator:
        from gentools.features import generators

        gen, latent_dim = loaded_generator(generator, net.device, latent_dim)

        def make_generated(positions):
            return pipeline.video_generator_batches(gen, [chosen[p] for p in positions], int(latent_dim), seed, net,
                                                    clips, batch_size, positions)

        return [generators.generator_id(seed, i) for i in chosen], make_generated, latent_dim
    items = [items[i] for i in chosen]
    n_workers = pipeline.default_workers() if workers is None else workers

    def make_batches(positions):
        return pipeline.video_batches([items[p] for p in positions], net, clips, batch_size, n_workers, skip_bad,
                                      positions=positions, max_pixels=max_pixels)

    return [item.id for item in items], make_batches, latent_dim


def audio_job(items, chosen, net, batch_size, workers, skip_bad, generator, latent_dim, seed, sample_rate,
               float16: bool):
    """The ids of an audio job's inputs (files, or generated waveforms) and ``make_batches(positions)``."""
    from gentools.features import pipeline

    if generator:
        from gentools.features import generators

        gen, latent_dim = loaded_generator(generator, net.device, latent_dim)

        def make_generated(positions):
            return pipeline.waveform_generator_batches(gen, [chosen[p] for p in positions], int(latent_dim), seed,
                                                       net, int(sample_rate), batch_size, positions, float16)

        make_generated.latent_dim = latent_dim
        return [generators.generator_id(seed, i) for i in chosen], make_generated
    items = [items[i] for i in chosen]
    n_workers = pipeline.default_workers() if workers is None else workers

    def make_batches(positions):
        return pipeline.audio_batches([items[p] for p in positions], net, batch_size, n_workers, skip_bad,
                                      positions=positions, float16=float16)

    return [item.id for item in items], make_batches


def refuse_oversized(items, max_pixels) -> None:
    from gentools.features.images import DEFAULT_MAX_PIXELS, oversized_members

    big = oversized_members(items, DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    if big:
        raise InputError(f"{big[0].id}: archive member of {big[0].size} bytes, larger than an image within "
                         f"--max-pixels can be; refused unread ({len(big)} such member(s))",
                         hint="--skip-bad skips them, --max-pixels N raises the limit")


def image_job(items, chosen, net, batch_size, workers, skip_bad, thumbnails, max_pixels):
    """The ids of the job's inputs and ``make_batches(positions)`` over them (positions absolute)."""
    from gentools.features import pipeline
    from gentools.features.images import DEFAULT_MAX_PIXELS

    max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    items = [items[i] for i in chosen]
    n_workers = pipeline.default_workers() if workers is None else workers

    def make_batches(positions):
        return pipeline.image_batches([items[p] for p in positions], net, batch_size, n_workers, skip_bad,
                                      thumbnails, positions=positions, max_pixels=max_pixels)

    return [item.id for item in items], make_batches


def generator_job(spec, chosen, latent_dim, seed, net, batch_size, thumbnails, device, classes=0,
                   class_input="index"):
    from gentools.features import generators
    from gentools.features import pipeline

    gen, latent_dim = loaded_generator(spec, device, latent_dim)

    def make_batches(positions):
        return pipeline.generator_batches(gen, [chosen[p] for p in positions], int(latent_dim), seed, net,
                                          batch_size, thumbnails, positions=positions, classes=classes,
                                          class_input=class_input)

    return [generators.generator_id(seed, i) for i in chosen], make_batches, latent_dim


def loaded_generator(spec: str, device, latent_dim):
    """The generator ``spec`` on ``device`` and its latent size (``--latent-dim``, else its ``latent_dim``)."""
    from gentools.features import generators

    gen = generators.load_generator(spec, device)
    latent_dim = latent_dim or getattr(gen, "latent_dim", None)
    if not latent_dim:
        raise UsageError("--latent-dim is needed (the generator has no latent_dim attribute)")
    return gen, latent_dim
