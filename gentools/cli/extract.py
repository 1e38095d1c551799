"""gentools extract: images (or a generator's samples) -> features file, once."""

from __future__ import annotations

import os
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Output, PresetOption, Quiet, Seed
from gentools.features.backbones import names_help

# The options, one alias each (the --backbone help lists the backbone registry).
InputsOpt = Annotated[Optional[List[str]], typer.Argument(
    metavar="INPUT...", help="Folders, image (sound, video) files, globs, .zip/.tar archives, .npy/.npz uint8 arrays; "
                             "'-' (or a pipe and no INPUT) reads image paths from stdin, one per line.",
    show_default=False)]
LabelsOpt = Annotated[Optional[str], typer.Option(
    "--labels", metavar="folder|FILE.tsv", help="Store each row's class: 'folder' = the first folder under the "
                                               "input root (ImageFolder), or id<TAB>label lines.",
    show_default=False)]
ClassesOpt = Annotated[int, typer.Option(
    "--classes", min=0, metavar="N", help="Conditional --generator: sample i is of class i % N, passed as G(z, c).")]
ClassInputOpt = Annotated[str, typer.Option(
    "--class-input", help="How G gets the class: index (int64 [B]) or onehot ([B, N]).")]
CaptionsOpt = Annotated[Optional[str], typer.Option(
    "--captions", metavar="FILE.tsv", help="id<TAB>caption lines: with a clip: backbone, also store each row's "
                                           "caption embedding as text_features (for clipscore).",
    show_default=False)]
MaxPixelsOpt = Annotated[Optional[int], typer.Option(
    "--max-pixels", min=1, metavar="N", help="Larger images and video frames are undecodable (a decompression "
                                             "bomb is refused from its header). Default: PIL's 89478485 (a "
                                             "9459x9459 image).",
    show_default=False)]
SampleRateOpt = Annotated[Optional[int], typer.Option(
    "--sample-rate", min=1, metavar="SR", help="With an audio backbone and --generator: the rate (Hz) of the "
                                               "waveforms [B, T] or [B, C, T] in [-1, 1] it returns.",
    show_default=False)]
FramesOpt = Annotated[Optional[int], typer.Option(
    "--frames", metavar="T", help="Video backbones: frames per clip (default 16, or the --preset's).",
    show_default=False)]
SubsampleOpt = Annotated[Optional[int], typer.Option(
    "--subsample", metavar="S", help="Video backbones: take every S-th frame (before the clip is cut, as "
                                     "StyleGAN-V; default 1, or the --preset's).", show_default=False)]
ClipStartOpt = Annotated[str, typer.Option(
    "--clip-start", help="Video backbones: first (frame 0) or random (seeded per video by --seed and its id; the "
                         "starts are stored as clip_start).")]
ClipsPerVideoOpt = Annotated[int, typer.Option(
    "--clips-per-video", metavar="K", help="Video backbones: clips per video (first: consecutive; random: K "
                                           "seeded starts). Videos shorter than one clip are skipped and listed.")]
TextFieldOpt = Annotated[str, typer.Option(
    "--text-field", help="Text backbones: the JSONL field or TSV/CSV column holding the text.")]
IdFieldOpt = Annotated[str, typer.Option(
    "--id-field", help="Text backbones: the JSONL field or TSV/CSV column holding the id (absent: the line or row "
                       "number).")]
LinesOpt = Annotated[bool, typer.Option(
    "--lines", help="Text backbones: each line of a .txt file is one text, its id the line number (from 1).")]
PoolingOpt = Annotated[Optional[str], typer.Option(
    "--pooling", metavar="last-token|cls|pooler|mean", help="Text backbones: one row per text from the last real "
    "token's hidden state, the first token's, the model's pooler_output, or the mean over tokens (default "
    "last-token, or the --preset's).", show_default=False)]
MaxTokensOpt = Annotated[Optional[int], typer.Option(
    "--max-tokens", metavar="N", help="Text backbones: longer texts are truncated to N tokens, counted in a "
    "warning (default the model's limit, or the --preset's).", show_default=False)]
CompileOpt = Annotated[str, typer.Option(
    "--compile", metavar="auto|always|never", help="CPU: build the network into a compiled package (cached; ~20% "
                                                   "faster) when the job repays the minute it takes: auto (3,000 "
                                                   "inputs or more, or already cached), always, never.")]
BackboneOpt = Annotated[Optional[str], typer.Option(
    "--backbone", "-b", help=f"{names_help()} [default: inception, or the --preset's].", show_default=False)]
WeightsOpt = Annotated[Optional[str], typer.Option(
    "--weights",
    help="Weights file (Inception: pt_inception-2015-12-05-6726825d.pth layout; tv: a state dict). Default: "
         "$GENTOOLS_WEIGHTS for the default Inception only, then $TORCH_HOME/hub/checkpoints (gentools weights), "
         "else the published file, downloaded and verified.", show_default=False)]
ResizeOpt = Annotated[Optional[str], typer.Option(
    "--resize", help="Inception input resize: tf (default; torch-fidelity), pytorch-fid, clean "
                     "(clean-fid), none. DINOv2: pil (default; dgm-eval), torch (EDM2).",
    show_default=False)]
SpatialOpt = Annotated[bool, typer.Option("--spatial", help="Also store sFID spatial features "
                                                        "(Mixed_6d.branch1x1, 7 channels, 2023 values).")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")]
WorkersOpt = Annotated[Optional[int], typer.Option(
    "--workers", min=0, help="Decoding processes (0: decode in the main process). Default: cores - 1, "
                             "at most 8.", show_default=False)]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA if available), cpu, cuda or cuda:N.")]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad", help="Skip images that cannot be decoded; their ids "
                                                          "go to the file's 'skipped' list.")]
ThumbnailsOpt = Annotated[Optional[int], typer.Option(
    "--thumbnails", min=4, metavar="SIZE", help="Store SIZExSIZE uint8 thumbnails (for nn-grid).",
    show_default=False)]
GeneratorOpt = Annotated[Optional[str], typer.Option(
    "--generator", metavar="SPEC", help="Extract a generator's samples instead of images: a TorchScript "
                                        "file or module:function mapping latents [B, D] to images [B, C, H, W] "
                                        "(floats in [-1, 1] or uint8).", show_default=False)]
NumSamplesOpt = Annotated[Optional[int], typer.Option("--num-samples", min=1, help="Samples to generate.",
                                                   show_default=False)]
LatentDimOpt = Annotated[Optional[int], typer.Option(
    "--latent-dim", min=1, help="Latent size (default: the generator's latent_dim attribute).",
    show_default=False)]
ShardOpt = Annotated[Optional[str], typer.Option(
    "--shard", metavar="i/n", help="Process only the i-th of n interleaved slices (0-based; inputs i, i+n, ...); "
                                  "join with `gentools merge`.", show_default=False)]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted extraction from OUTPUT.partial "
                                                      "(a finished OUTPUT of the same job is left as it is).")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Discard an existing OUTPUT.partial and "
                                                            "start again.")]
FlushEveryOpt = Annotated[int, typer.Option(
    "--flush-every", min=1, metavar="BATCHES", help="Write finished rows to OUTPUT.partial every this many "
                                                    "batches: a pre-emption loses at most that much.")]


def extract(
    inputs: InputsOpt = None,
    output: Output = None,
    backbone: BackboneOpt = None,
    weights: WeightsOpt = None,
    resize: ResizeOpt = None,
    spatial: SpatialOpt = False,
    batch_size: BatchSizeOpt = 50,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    skip_bad: SkipBadOpt = False,
    thumbnails: ThumbnailsOpt = None,
    generator: GeneratorOpt = None,
    num_samples: NumSamplesOpt = None,
    latent_dim: LatentDimOpt = None,
    seed: Seed = DEFAULT_SEED,
    preset: PresetOption = None,
    shard: ShardOpt = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    flush_every: FlushEveryOpt = 10,
    labels: LabelsOpt = None,
    classes: ClassesOpt = 0,
    class_input: ClassInputOpt = "index",
    captions: CaptionsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    sample_rate: SampleRateOpt = None,
    frames: FramesOpt = None,
    subsample: SubsampleOpt = None,
    clip_start: ClipStartOpt = "first",
    clips_per_video: ClipsPerVideoOpt = 1,
    text_field: TextFieldOpt = "text",
    id_field: IdFieldOpt = "id",
    lines: LinesOpt = False,
    pooling: PoolingOpt = None,
    max_tokens: MaxTokensOpt = None,
    compile: CompileOpt = "auto",
    quiet: Quiet = False,
) -> None:
    """Extract features from images, sound files, videos or texts, or from a generator's samples, into one HDF5 features file.

    Rows follow the input order (folders sorted, recursively); every row's id
    is recorded, with backbone, weights hash, resize mode and input size. With
    an audio backbone (-b vggish) each sound file gives one row per frame; with
    a video backbone (-b i3d, i3d400, videomae) each video gives one row per clip; with a text backbone
    (-b hf-text:MODEL) each text (.txt file, JSONL record, TSV row or --lines line) gives one row.

    Example: gentools extract samples/ -o gen.h5
    """
    options = {k: v for k, v in locals().items() if k not in ("inputs", "output", "quiet")}  # the API's names
    import tempfile

    from gentools.api.extract import extract as run
    from gentools.cli.output import refuse_terminal_stdout, stream_file
    from gentools.errors import UsageError

    _console.set_quiet(quiet)
    to_stdout = output is None or str(output) == "-"
    if to_stdout and resume:
        raise UsageError("--resume needs -o OUTPUT (the partial file lives beside it)")
    if to_stdout:
        refuse_terminal_stdout()
    inputs, image_paths = _image_inputs(list(inputs or []), generator)
    with tempfile.TemporaryDirectory(prefix="gentools-") as tmp:
        dest = os.path.join(tmp, "out.h5") if to_stdout else str(output)
        features = run(inputs, output=dest, image_paths=image_paths, progress=_console.progress, **options)
        if features is None:  # a torchrun rank other than 0
            return
        features.close()
        if to_stdout:
            stream_file(dest)
        else:
            print(dest, flush=True)


def _image_inputs(inputs: list[str], generator):
    """``(inputs, image_paths)``: paths from stdin for '-' or a pipe and no INPUT, else the arguments."""
    import sys

    from gentools.errors import UsageError

    if generator:
        return inputs, None
    if not inputs and sys.stdin.isatty():
        raise UsageError("no INPUT given", hint="gentools extract FOLDER -o out.h5, or pipe image paths in")
    if inputs and "-" not in inputs:
        return inputs, None
    if inputs and inputs != ["-"]:
        raise UsageError("'-' (paths from stdin) cannot be combined with other inputs")
    return [], [line.rstrip("\n") for line in sys.stdin if line.strip()]
