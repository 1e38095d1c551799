"""gentools extract: images (or a generator's samples) -> features file, once."""

from __future__ import annotations

import os
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Output, PresetOption, Quiet, Seed


def extract(
    inputs: Annotated[Optional[List[str]], typer.Argument(
        metavar="INPUT...", help="Folders, image files, globs, .zip/.tar archives, .npy/.npz uint8 arrays; "
                                 "'-' (or a pipe and no INPUT) reads image paths from stdin, one per line.",
        show_default=False)] = None,
    output: Output = None,
    backbone: Annotated[Optional[str], typer.Option(
        "--backbone", "-b", help="inception (FID Inception-v3), dinov2:VARIANT, clip:NAME, nvidia:PATH (NVIDIA's "
                                 "TorchScript metric detectors: inception-2015-12-05.pt, vgg16.pt), tv:NAME "
                                 "(torchvision classifier), ts:PATH (TorchScript), pixels[:SIZE][:gray], or "
                                 "module:function [default: inception, or the --preset's].",
        show_default=False)] = None,
    weights: Annotated[Optional[str], typer.Option(
        "--weights", envvar="GENTOOLS_WEIGHTS", show_envvar=True,
        help="Weights file (Inception: pt_inception-2015-12-05-6726825d.pth layout; tv: a state dict). "
             "Default: $TORCH_HOME/hub/checkpoints, else download.", show_default=False)] = None,
    resize: Annotated[Optional[str], typer.Option(
        "--resize", help="Inception input resize: tf (default; torch-fidelity), pytorch-fid, clean "
                         "(clean-fid), none. DINOv2: pil (default; dgm-eval), torch (EDM2).",
        show_default=False)] = None,
    spatial: Annotated[bool, typer.Option("--spatial", help="Also store sFID spatial features "
                                                            "(Mixed_6d.branch1x1, 7 channels, 2023 values).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")] = 50,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=0, help="Decoding processes (0: decode in the main process). Default: cores - 1, "
                                 "at most 8.", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA if available), cpu, cuda or cuda:N.")] = "auto",
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip images that cannot be decoded; their ids "
                                                              "go to the file's 'skipped' list.")] = False,
    thumbnails: Annotated[Optional[int], typer.Option(
        "--thumbnails", min=4, metavar="SIZE", help="Store SIZExSIZE uint8 thumbnails (for nn-grid).",
        show_default=False)] = None,
    generator: Annotated[Optional[str], typer.Option(
        "--generator", metavar="SPEC", help="Extract a generator's samples instead of images: a TorchScript "
                                            "file or module:function mapping latents [B, D] to images [B, C, H, W] "
                                            "(floats in [-1, 1] or uint8).", show_default=False)] = None,
    num_samples: Annotated[Optional[int], typer.Option("--num-samples", min=1, help="Samples to generate.",
                                                       show_default=False)] = None,
    latent_dim: Annotated[Optional[int], typer.Option(
        "--latent-dim", min=1, help="Latent size (default: the generator's latent_dim attribute).",
        show_default=False)] = None,
    seed: Seed = 2020,
    preset: PresetOption = None,
    shard: Annotated[Optional[str], typer.Option(
        "--shard", metavar="i/n", help="Process only the i-th of n interleaved slices (0-based; inputs i, i+n, ...); "
                                      "join with `gentools merge`.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted extraction from OUTPUT.partial "
                                                          "(a finished OUTPUT of the same job is left as it is).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Discard an existing OUTPUT.partial and "
                                                                "start again.")] = False,
    flush_every: Annotated[int, typer.Option(
        "--flush-every", min=1, metavar="BATCHES", help="Write finished rows to OUTPUT.partial every this many "
                                                        "batches: a pre-emption loses at most that much.")] = 10,
    quiet: Quiet = False,
) -> None:
    """Extract features from images, or from a generator's samples, into one HDF5 features file.

    Rows follow the input order (folders sorted, recursively); every row's id
    is recorded, with backbone, weights hash, resize mode and input size.

    Example: gentools extract samples/ -o gen.h5
    """
    import tempfile

    from gentools import presets
    from gentools.cli.output import refuse_terminal_stdout
    from gentools.errors import InputError, UsageError
    from gentools.features import job, pipeline
    from gentools.features.backbones import load_backbone
    from gentools.features.backbones.base import resolve_device

    _console.set_quiet(quiet)
    inputs = list(inputs or [])
    if generator and inputs:
        raise UsageError("give either INPUT... or --generator, not both")
    if generator and not num_samples:
        raise UsageError("--generator needs --num-samples N")
    to_stdout = output is None or str(output) == "-"
    if to_stdout and resume:
        raise UsageError("--resume needs -o OUTPUT (the partial file lives beside it)")
    if to_stdout:
        refuse_terminal_stdout()
    if not generator:
        all_items, source = _image_items(inputs)
        if not all_items:
            raise InputError(f"{source}: no images found", hint="image extensions: png jpg jpeg bmp gif tif webp ...")
    total = num_samples if generator else len(all_items)
    chosen = job.shard_positions(total, shard)
    ranks = job.Ranks(resolve_device(device))
    torch_device = resolve_device(_rank_device(device, ranks))
    parity = presets.get(preset)
    backbone = backbone or parity.backbone
    if backbone.split(":")[0] == parity.backbone.split(":")[0]:  # the preset's resize for its backbone family
        resize = resize or parity.resize
    net = load_backbone(backbone, weights, resize, spatial, torch_device)
    if generator:
        gen = pipeline.load_generator(generator, torch_device)
        latent_dim = latent_dim or getattr(gen, "latent_dim", None)
        if not latent_dim:
            raise UsageError("--latent-dim is needed (the generator has no latent_dim attribute)")
        source = f"generator:{generator}"
        expected = [pipeline.generator_id(seed, i) for i in chosen]

        def make_batches(positions):
            return _at(positions, pipeline.generator_batches(gen, [chosen[p] for p in positions], int(latent_dim),
                                                             seed, net, batch_size, thumbnails))
    else:
        items = [all_items[i] for i in chosen]
        expected = [item.id for item in items]
        n_workers = pipeline.default_workers() if workers is None else workers

        def make_batches(positions):
            return _at(positions, pipeline.image_batches([items[p] for p in positions], net, batch_size, n_workers,
                                                         skip_bad, thumbnails))

    provenance = {**net.provenance(), "source": source, "shard": shard or "", "preset": preset or ""}
    if generator:
        provenance.update(seed=seed, latent_dim=int(latent_dim))
    with tempfile.TemporaryDirectory(prefix="gentools-") as tmp:
        dest = os.path.join(tmp, "out.h5") if to_stdout else str(output)
        if resume and not to_stdout and _finished(dest, provenance):
            if ranks.is_writer:
                _console.info(f"{dest} is already complete")
                print(dest, flush=True)
            return ranks.close()
        writer = job.run(dest, expected, provenance, make_batches, ranks, resume, overwrite, flush_every)
        if writer is not None:
            try:
                writer.flush()
                if writer.rows_done == 0:
                    raise InputError(f"{source}: no image could be decoded")
                writer.finish()
            except BaseException:
                writer.abandon()
                raise
            if writer.skipped:
                _console.warn(f"skipped {len(writer.skipped)} undecodable image(s); their ids are in the "
                              f"file's 'skipped' list")
            _emit(dest, to_stdout)
        ranks.close()


def _at(positions: list[int], batches):
    """Re-express each batch's row positions (relative to ``positions``) as positions of the job."""
    for rows in batches:
        rows.positions = [positions[p] for p in rows.positions]
        rows.skipped_positions = [positions[p] for p in rows.skipped_positions]
        yield rows


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
            return all(str(f.provenance.get(k, "")) == str(v) for k, v in provenance.items()
                       if k in store.GUARDED_KEYS + ("source", "shard"))
    except Exception:  # noqa: BLE001 - unreadable: not finished
        return False


def _emit(dest: str, to_stdout: bool) -> None:
    from gentools.cli.output import stream_file

    if to_stdout:
        stream_file(dest)
    else:
        print(dest, flush=True)


def _image_items(inputs: list[str]):
    """Items and source of the image inputs (paths from stdin for '-' or a pipe)."""
    import sys

    from gentools.errors import UsageError
    from gentools.features.images import Item, list_inputs

    if not inputs and sys.stdin.isatty():
        raise UsageError("no INPUT given", hint="gentools extract FOLDER -o out.h5, or pipe image paths in")
    if inputs and "-" not in inputs:
        return list_inputs(inputs)
    if inputs and inputs != ["-"]:
        raise UsageError("'-' (paths from stdin) cannot be combined with other inputs")
    lines = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    return [Item(line, "file", line) for line in lines], "stdin"
