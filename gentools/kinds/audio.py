"""Sound: files in folders, globs and archives, one row per embedding frame; waveforms from a generator or in
training, through the same mono, resampling and framing (features/audio.py)."""

from __future__ import annotations

import dataclasses

from gentools.errors import InputError, UsageError, option
from gentools.kinds.base import InputKind, Job, Request, loaded_generator, no_clip_options, workers_of


class AudioKind(InputKind):
    name = "audio"
    noun = "audio"
    takes = frozenset({"sample_rate"})
    rows_per_input = True

    def check(self, request: Request, parity) -> None:
        super().check(request, parity)
        if request.generator and not request.sample_rate:
            raise UsageError(f"--generator with {request.backbone} needs --sample-rate SR (the rate of the waveforms "
                             f"it returns)")

    def in_memory_refusal(self, backbone: str) -> str:
        return (f"{backbone} takes audio: pass sound files, or waveforms to Evaluator.update(waveforms, "
                f"sample_rate=SR)")

    def list(self, request: Request) -> tuple:
        from gentools.features.audio import is_audio_name
        from gentools.features.images import Item, list_inputs

        if request.listed is not None:
            items, source = [Item(p, "file", p) for p in request.listed], "stdin"
        else:
            items, source = list_inputs(request.inputs, accept=is_audio_name, what="audio")
        if not items:
            raise InputError(f"{source}: no audio files found", hint="audio extensions: wav flac ogg mp3")
        return items, source

    def prepare(self, net, parity) -> None:
        net.loading = dataclasses.replace(net.loading, pcm16=parity.audio_pcm16)

    def job(self, items, chosen: list, net, request: Request, settings) -> Job:
        from gentools.features import generators, pipeline

        r, float16 = request, bool(settings)
        if r.generator:
            gen, latent_dim = loaded_generator(r.generator, r.device, r.latent_dim)

            def make_generated(positions):
                return pipeline.waveform_generator_batches(gen, [chosen[p] for p in positions], int(latent_dim),
                                                           r.seed, net, int(r.sample_rate), r.batch_size, positions,
                                                           float16)

            return Job([generators.generator_id(r.seed, i) for i in chosen], make_generated, latent_dim)
        items = [items[i] for i in chosen]
        workers = workers_of(r)

        def make_batches(positions):
            return pipeline.audio_batches([items[p] for p in positions], net, r.batch_size, workers, r.skip_bad,
                                          positions=positions, float16=float16)

        return Job([item.id for item in items], make_batches)

    def settings(self, request: Request, parity):
        """Whether frames are stored as float16 (fadtk's ``.npy`` cache), from the preset."""
        return bool(parity.frames_float16)

    def provenance(self, request: Request, parity) -> dict:
        record = {"frames_float16": bool(parity.frames_float16)}
        if request.generator:
            record["generator_sample_rate"] = int(request.sample_rate)
        return record

    def adapter(self, net, parity, pixel_range, frames, subsample):
        no_clip_options(self, net, frames, subsample)
        if tuple(pixel_range) != (-1, 1):
            raise UsageError(f"Evaluator: {option('pixel_range', tuple(pixel_range))} applies to images and videos; "
                             f"{net.name} takes waveforms, floats in [-1, 1]")
        return Waveforms(net, bool(parity.frames_float16))


class Waveforms:
    """``Evaluator.update(waveforms, sample_rate=SR)``: ``[B, T]`` or ``[B, C, T]`` floats in [-1, 1], one row per
    frame, each row carrying its waveform's id."""

    noun = "waveforms"

    def __init__(self, net, float16: bool):
        self.net, self.float16 = net, float16


    def rows(self, waveforms, sample_rate, start: int):
        from gentools.features.pipeline import Rows, waveform_rows

        if not sample_rate:
            raise UsageError(f"update(waveforms, sample_rate=SR): {self.net.name} needs the waveforms' sample rate")
        count = len(waveforms)
        ids = [f"waveform:{start + i}" for i in range(count)]
        if count == 0:
            return Rows([], {}, inputs=0)
        return waveform_rows(self.net, waveforms, int(sample_rate), ids, list(range(count)), self.float16)


KIND = AudioKind()
