"""``gentools.extract``: images, or a generator's samples, through a backbone into one features file."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from typing import Any, Optional, Sequence, Union

from gentools import kinds, presets
from gentools.api._common import Progress
from gentools.errors import GentoolsError, GentoolsNotice, InputError, UsageError, warn
from gentools.features.in_memory import is_in_memory
from gentools.refs import is_ref, path_of
from gentools.store import FeatureFile

GUARD_KEYS_OF_A_JOB = ("source", "shard")


def extract(inputs: Union[str, os.PathLike, Sequence[str], Any, None] = None, *, output: Optional[str] = None,
            image_paths: Optional[Sequence[str]] = None, backbone: Optional[str] = None,
            weights: Optional[str] = None, resize: Optional[str] = None, spatial: bool = False,
            batch_size: int = 50, workers: Optional[int] = None, device: str = "auto", skip_bad: bool = False,
            thumbnails: Optional[int] = None, generator: Optional[str] = None, num_samples: Optional[int] = None,
            latent_dim: Optional[int] = None, seed: Optional[int] = None, preset: Optional[str] = None,
            shard: Optional[str] = None, resume: bool = False, overwrite: bool = False, flush_every: int = 10,
            labels: Optional[str] = None, classes: int = 0, class_input: str = "index",
            captions: Optional[str] = None, max_pixels: Optional[int] = None, sample_rate: Optional[int] = None,
            frames: Optional[int] = None, subsample: Optional[int] = None, clip_start: str = "first",
            clips_per_video: int = 1, text_field: str = "text", id_field: str = "id", lines: bool = False,
            pooling: Optional[str] = None, max_tokens: Optional[int] = None, compile: str = "auto",
            progress: Optional[Progress] = None) -> Optional[FeatureFile]:
    """Features of images, or of a generator's samples, through a backbone: what ``gentools extract`` does.

    Every row's id and the provenance are recorded; rows follow the input order.
    With ``output`` the features file is written there (atomically) and returned
    opened; without, the rows come back in memory. Under torchrun only rank 0
    gets the result (others get None). In-memory pixels give the same features
    as the same pixels saved as PNG and extracted, bit for bit.

    Inputs (one of):
      inputs: folders (recursive, sorted), globs, zip/tar archives, ``.npy``/``.npz`` uint8 arrays (``ref:NAME``:
        a pulled reference's file, e.g. an ADM reference batch's 10,000 images); with an audio backbone
        (``vggish``), sound files (.wav .flac .ogg .mp3) in folders, globs and archives, one row per
        embedding frame, every row of a file carrying its id; with a video backbone (``i3d``, ``i3d400``,
        ``videomae``), video files (.mp4 .webm .avi .mkv .mov .gif), folders of frame images (one folder per video),
        uint8 ``[N, T, H, W, C]`` arrays and zip archives of these, one row per clip; or in
        memory: a uint8 array or tensor ``[N, H, W, C]`` / ``[N, C, H, W]``, or a list of PIL images or
        ``[H, W, C]`` arrays (ids ``array[i]``).
      image_paths: image files taken as they are (``extract -`` reads them from stdin).
      generator: a TorchScript file or ``module:function`` returning the generator (``--generator``), with
        num_samples: how many samples; latent_dim: the latent size (default the generator's ``latent_dim``);
        seed: sample i's latent is ``default_rng([seed, i])`` (default the preset's, 2020); sample_rate: with
        an audio backbone the generator returns waveforms ``[B, T]`` / ``[B, C, T]`` in [-1, 1] at this rate;
        with a video backbone, videos ``[B, T, C, H, W]`` in [-1, 1] (or uint8).
    Clips (video backbones; gentools.features.video): frames: T frames per clip (default the preset's, 16);
      subsample: every S-th frame; clip_start: ``first`` or ``random`` (seeded by ``seed`` and the video's id,
      the starts stored as ``clip_start``); clips_per_video: K clips per video. Videos shorter than ``T*S``
      frames are skipped and listed in the file.
    Texts (``hf-text:`` backbones; gentools.features.texts): ``.txt`` documents in folders, globs and archives
      (id: the path without ``.txt``), ``.jsonl`` (text_field, id_field), ``.tsv``/``.csv`` columns, or one text
      per line with lines; pooling: ``last-token``, ``cls``, ``pooler``, ``mean`` (default the preset's, else
      last-token); max_tokens: longer texts are truncated (counted in a warning; default the model's limit).
    Network:
      backbone: ``inception`` (default, or the preset's), ``pixels[:SIZE[:gray]]``, ``dinov2:...``, ``clip:...``,
        ``nvidia:PATH``, ``ts:PATH``, ``torchvision:NAME``, ``module:function`` (docs/backbones.md).
      weights: a local weights file instead of the download; resize: the resize of the backbone's family
        (inception: ``tf``, ``pytorch-fid``, ``clean``; dinov2: ``pil``, ``torch``); spatial: also the
        ``spatial`` (sFID) features; preset: every default of another tool (``gentools presets``);
      device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``; batch_size: images per forward pass; compile (CPU):
        ``auto`` builds the compiled package only for a job of 3,000 inputs or more (or loads it when
        cached), ``always``, ``never`` (``gentools.features.backbones.compiled``).
    Reading:
      workers: decoding processes (default: the cores left, at most 8); skip_bad: skip undecodable images and
        list them in the file; max_pixels: larger images and video frames are undecodable (default PIL's
        89,478,485; archive members larger than such an image could be are refused unread); thumbnails: keep
        SIZE x SIZE thumbnails for ``nn_grid``.
    Annotations:
      labels: ``"folder"`` (ImageFolder classes) or an ``id<TAB>label`` file; classes: ``N`` generated classes,
        sample i of class ``i % N``, given to the generator as a second argument in the form class_input
        (``index``: int64 ``[B]``, ``onehot``: ``[B, N]``); captions: an ``id<TAB>caption`` file, embedded by
        the ``clip:`` backbone's text encoder as ``text_features``.
    Jobs:
      shard: ``i/n`` keeps inputs ``i, i+n, ...`` (``merge`` puts shards back together); resume: continue an
        interrupted job from its partial file; overwrite: start again over one; flush_every: batches between
        writes to the partial file; progress: ``progress(description, total)`` -> a context manager yielding
        ``tick(k)``.
    """
    with contextlib.ExitStack() as stack:
        in_memory = is_in_memory(inputs)
        if not in_memory:
            inputs = [os.fspath(inputs)] if isinstance(inputs, (str, os.PathLike)) else list(inputs or [])
            # ref:NAME is the cached file: an ADM reference batch's arr_0 images extract like any .npz of images.
            inputs = [str(path_of(i)[0]) if is_ref(i) else i for i in inputs]
        if generator and (in_memory or inputs or image_paths):
            raise UsageError("give either INPUT... or --generator, not both")
        if generator and not num_samples:
            raise UsageError("--generator needs --num-samples N")
        if class_input not in ("index", "onehot"):
            raise UsageError(f"--class-input {class_input}: expected index or onehot")
        parity = presets.get(preset)
        seed = parity.seed if seed is None else seed
        request = kinds.Request(
            backbone=backbone or parity.backbone, inputs=inputs, in_memory=in_memory,
            listed=None if image_paths is None else list(image_paths), generator=generator, latent_dim=latent_dim,
            seed=seed, batch_size=batch_size, workers=workers, skip_bad=skip_bad, thumbnails=thumbnails,
            max_pixels=max_pixels, captions=captions, sample_rate=sample_rate, frames=frames, subsample=subsample,
            clip_start=clip_start, clips_per_video=clips_per_video, classes=classes, class_input=class_input,
            text_field=text_field, id_field=id_field, lines=lines, pooling=pooling, max_tokens=max_tokens)
        kind = kinds.of_backbone(request.backbone)
        kind.check(request, parity)
        settings = kind.settings(request, parity)
        if in_memory:
            request.workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="gentools-"))
        items, source = (None, f"generator:{generator}") if generator else kind.list(request)
        from gentools.features import job  # torch from here on: the inputs are checked first
        from gentools.features.distributed import Ranks
        from gentools.features.backbones.base import resolve_device

        chosen = job.shard_positions(num_samples if generator else len(items), shard)
        ranks = Ranks(resolve_device(device))
        request.device = resolve_device(_rank_device(device, ranks))
        from gentools.features.backbones import compiled

        with compiled.policy(compile, len(chosen)):  # a compiled network repays itself only on large jobs
            net = backbone_for(backbone, parity, weights, resize, spatial, request.device)
        work = kind.job(items, chosen, net, request, settings)
        make_batches = _annotated(work.make_batches, work.ids, chosen, labels, classes if generator else 0,
                                  captions, net)
        provenance = {**net.provenance(), "source": source, "shard": shard or "", "preset": preset or "",
                      **kind.provenance(request, parity)}
        if generator:
            provenance.update(seed=seed, latent_dim=int(work.latent_dim))
        new_job = functools.partial(job.ExtractionJob, expected_ids=work.ids, provenance=provenance,
                                    make_batches=make_batches, ranks=ranks, flush_every=flush_every,
                                    progress=progress)
        return _run(new_job, ranks, output, provenance, resume, overwrite)


def _run(new_job, ranks, output, provenance: dict, resume: bool, overwrite: bool) -> Optional[FeatureFile]:
    """Run the job into ``output`` (or a temporary file); rank 0 gets the features back."""
    with tempfile.TemporaryDirectory(prefix="gentools-") as tmp:
        dest = os.fspath(output) if output is not None else os.path.join(tmp, "out.h5")
        if resume and output is not None and _finished(dest, provenance):
            warn(f"{dest} is already complete", GentoolsNotice)
        else:
            writer = new_job(dest).run(resume, overwrite)
            if writer is not None and writer.skipped:
                from gentools.features.job import skipped_kind

                warn(f"skipped {len(writer.skipped)} {skipped_kind(provenance)}; their ids are in the file's "
                     f"'skipped' list (gentools info FILE --skipped)")
        ranks.close()
        if not ranks.is_writer:
            return None
        return _opened(dest) if output is not None else _in_memory(dest)


def backbone_for(backbone, parity, weights, resize, spatial, device):
    """The backbone ``extract`` and the Evaluator run: ``backbone`` (default the preset's), with the preset's resize
    for its family, and sound through the preset's 16-bit round trip (fadtk's)."""
    from gentools.features.backbones import load_backbone

    backbone = backbone or parity.backbone
    if backbone.split(":")[0] == parity.backbone.split(":")[0]:  # the preset's resize for its backbone family
        resize = resize or parity.resize
    net = load_backbone(backbone, weights, resize, spatial, device)
    kinds.of_net(net).prepare(net, parity)
    return net


def _annotated(make_batches, expected: list, chosen: list, labels, classes: int, captions, net):
    """Rows with their labels and caption embeddings (features/annotations.py)."""
    from gentools.features import annotations

    generated = {i: str(position % classes) for i, position in zip(expected, chosen)} if classes else None
    label_of = annotations.labels_for(labels, expected, generated)
    caption_of = None
    if captions:
        if net.encode_text is None:
            raise InputError(f"--captions needs a clip: backbone (image and caption embedded by one model); "
                             f"{net.name} has no text encoder")
        caption_of = annotations.require_all(expected, annotations.read_tsv(captions, "caption"), "caption",
                                             captions)
        truncated = net.encode_text.truncated(list(caption_of.values()))
        if truncated:
            warn(f"{truncated} caption(s) are longer than the model's context of "
                 f"{net.encode_text.context_length} tokens and were truncated to it")
    return annotations.annotated(make_batches, label_of, caption_of, net.encode_text)


def _rank_device(device: str, ranks) -> str:
    """Under torchrun each rank takes its own GPU (LOCAL_RANK)."""
    if ranks.world > 1 and device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def _finished(dest: str, provenance: dict) -> bool:
    """A complete OUTPUT of this very job already exists (so --resume has nothing left to do)."""
    from gentools import store

    if not os.path.exists(dest) or os.path.exists(store.partial_path(dest)):
        return False
    try:
        with store.open_input(dest) as f:
            return not store.provenance_differences(f.provenance, provenance,
                                                    store.GUARDED_KEYS + store.CLIP_KEYS + GUARD_KEYS_OF_A_JOB)
    except (GentoolsError, OSError):  # unreadable or not a features file: not this job's finished output
        return False


def _opened(path: str) -> FeatureFile:
    from gentools.store import open_input

    return open_input(path)


def _in_memory(path: str) -> FeatureFile:
    """Every dataset of the finished file read into memory (the file itself is about to go)."""
    with _opened(path) as f:
        return f.loaded("<extract>")
