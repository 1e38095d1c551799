"""What an input kind provides: the interface the api calls, and the request it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from gentools.errors import UsageError

@dataclass
class Request:
    """What ``extract`` was asked for, as a kind reads it (``None``: not given)."""

    backbone: str
    inputs: list = field(default_factory=list)
    listed: Optional[list] = None  # paths taken as they are (``extract -``: stdin's lines)
    in_memory: bool = False  # inputs: data in memory (arrays, tensors, PIL images)
    workdir: Optional[str] = None  # a folder the job owns (in-memory inputs are written there)
    generator: Optional[str] = None
    latent_dim: Optional[int] = None
    seed: int = 0
    batch_size: int = 50
    workers: Optional[int] = None
    skip_bad: bool = False
    thumbnails: Optional[int] = None
    max_pixels: Optional[int] = None
    captions: Optional[str] = None
    sample_rate: Optional[int] = None
    frames: Optional[int] = None
    subsample: Optional[int] = None
    clip_start: str = "first"
    clips_per_video: int = 1
    classes: int = 0
    class_input: str = "index"
    text_field: str = "text"
    id_field: str = "id"
    lines: bool = False
    pooling: Optional[str] = None
    max_tokens: Optional[int] = None
    device: object = None

    def given(self) -> dict:
        """The kind-specific options given, by name (``clips``: any clip option)."""
        clips = (self.frames is not None or self.subsample is not None or self.clip_start != "first"
                 or self.clips_per_video != 1)
        text = (self.text_field != "text" or self.id_field != "id" or self.lines or self.pooling is not None
                or self.max_tokens is not None)
        values = {"thumbnails": self.thumbnails, "max_pixels": self.max_pixels, "captions": self.captions,
                  "sample_rate": self.sample_rate, "clips": clips, "text": text}
        return {name: value for name, value in values.items() if value}


@dataclass
class Job:
    """The ids of a job's inputs, in order, and ``make_batches(positions)`` over them; ``latent_dim``: the
    generator's latent size (generator jobs)."""

    ids: list
    make_batches: Callable
    latent_dim: Optional[int] = None


_OPTION_WORDS = {"thumbnails": "--thumbnails applies to images", "max_pixels": "--max-pixels applies to images "
                 "and video frames", "captions": "--captions applies to images", "sample_rate": "--sample-rate "
                 "applies to audio backbones (vggish)", "clips": "--frames, --subsample, --clip-start and "
                 "--clips-per-video apply to video backbones (i3d, i3d400, videomae)",
                 "text": "--text-field, --id-field, --lines, --pooling and --max-tokens apply to text backbones "
                 "(hf-text:)"}


class InputKind:
    """One modality. Subclasses set the attributes and override what their inputs need."""

    name = ""  # the modality its backbones register with
    noun = "inputs"  # what one input is called in messages, plural
    takes: frozenset = frozenset()  # the kind-specific options it accepts (names of Request.given())
    guarded_keys: tuple = ()  # provenance keys that must agree between GEN and REF
    in_memory = False  # extract takes this kind's data in memory
    rows_per_input = False  # one input gives many rows (the Evaluator keeps each row's input id)

    # ---------------------------------------------------------------------------------------------- extract

    def check(self, request: Request, parity) -> None:
        """Usage errors for the options this kind does not take, and for its own options' values."""
        if request.max_pixels is not None and request.max_pixels < 1:
            raise UsageError(f"--max-pixels {request.max_pixels}: expected a positive number of pixels")
        for name in request.given():
            if name not in self.takes:
                raise UsageError(f"{_OPTION_WORDS[name]}; {request.backbone} takes {self.noun}")
        if request.in_memory and not self.in_memory:
            raise UsageError(self.in_memory_refusal(request.backbone))

    def in_memory_refusal(self, backbone: str) -> str:
        return f"{backbone} takes {self.noun}: pass files, or {self.noun} to Evaluator.update"

    def settings(self, request: Request, parity):
        """The loading settings this job's inputs get (video: the clips), from the request and the preset."""
        return None

    def list(self, request: Request) -> tuple:
        """``(items, source)``: the job's inputs in order and the ``source`` provenance string."""
        raise NotImplementedError

    def prepare(self, net, parity) -> None:
        """Apply the preset's loading values to a loaded backbone (audio: fadtk's 16-bit round trip)."""

    def job(self, items, chosen: list, net, request: Request, settings) -> Job:
        """The job over ``items`` (or the generator's samples) at positions ``chosen``."""
        raise NotImplementedError

    def provenance(self, request: Request, parity) -> dict:
        """What the features file records beyond the backbone's provenance."""
        return {}

    def row_texts(self, item, wanted: set) -> Optional[dict]:
        """``{id: text}`` shown beside the ``wanted`` rows of features file ``item`` in nn-grid's table, or None
        when this kind's rows are shown as images (the grid) and by id."""
        return None

    # -------------------------------------------------------------------------------------------- Evaluator

    def adapter(self, net, parity, pixel_range: tuple, frames: Optional[int], subsample: Optional[int]):
        """The object whose ``rows(batch, sample_rate, start)`` turns one ``Evaluator.update`` batch into a
        :class:`~gentools.features.pipeline.Rows` (``start``: inputs seen before it); options that do not apply
        to this kind are usage errors here."""
        raise NotImplementedError

    def probe(self, net) -> list:
        """The datasets the backbone produces for this kind's inputs."""
        return ["features"]


def no_clip_options(kind: InputKind, net, frames, subsample) -> None:
    if frames is not None or subsample is not None:
        raise UsageError(f"Evaluator: frames and subsample apply to video backbones; {net.name} takes {kind.noun}")


def no_sample_rate(kind: InputKind, net, sample_rate) -> None:
    if sample_rate is not None:
        raise UsageError(f"update(sample_rate=...) applies to audio backbones; {net.name} takes {kind.noun}")


def loaded_generator(spec: str, device, latent_dim):
    """The generator ``spec`` on ``device`` and its latent size (``--latent-dim``, else its ``latent_dim``)."""
    from gentools.features import generators

    gen = generators.load_generator(spec, device)
    latent_dim = latent_dim or getattr(gen, "latent_dim", None)
    if not latent_dim:
        raise UsageError("--latent-dim is needed (the generator has no latent_dim attribute)")
    return gen, latent_dim


def workers_of(request: Request) -> int:
    from gentools.features import pipeline

    return pipeline.default_workers() if request.workers is None else request.workers
