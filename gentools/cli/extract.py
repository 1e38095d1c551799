"""gentools extract: images (or a generator's samples) -> features file, once."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Output, Quiet, Seed


def extract(
    inputs: Annotated[Optional[List[str]], typer.Argument(
        metavar="INPUT...", help="Folders, image files, globs, .zip/.tar archives, .npy/.npz uint8 arrays; "
                                 "'-' (or a pipe and no INPUT) reads image paths from stdin, one per line.",
        show_default=False)] = None,
    output: Output = None,
    backbone: Annotated[str, typer.Option(
        "--backbone", "-b", help="inception (FID Inception-v3), tv:NAME (torchvision classifier), ts:PATH "
                                 "(TorchScript), pixels[:SIZE][:gray], or module:function.")] = "inception",
    weights: Annotated[Optional[str], typer.Option(
        "--weights", envvar="GENTOOLS_WEIGHTS", show_envvar=True,
        help="Weights file (Inception: pt_inception-2015-12-05-6726825d.pth layout; tv: a state dict). "
             "Default: $TORCH_HOME/hub/checkpoints, else download.", show_default=False)] = None,
    resize: Annotated[Optional[str], typer.Option(
        "--resize", help="Inception input resize: tf (default; torch-fidelity), pytorch-fid, clean "
                         "(clean-fid), none.", show_default=False)] = None,
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
    quiet: Quiet = False,
) -> None:
    """Extract features from images, or from a generator's samples, into one HDF5 features file.

    Rows follow the input order (folders sorted, recursively); every row's id
    is recorded, with backbone, weights hash, resize mode and input size.

    Example: gentools extract samples/ -o gen.h5
    """
    import sys

    from gentools import store
    from gentools.cli.output import write_file_output
    from gentools.errors import InputError, UsageError
    from gentools.features.backbones import load_backbone
    from gentools.features.backbones.base import resolve_device
    from gentools.features import pipeline

    _console.set_quiet(quiet)
    inputs = list(inputs or [])
    if generator and inputs:
        raise UsageError("give either INPUT... or --generator, not both")
    if generator and not num_samples:
        raise UsageError("--generator needs --num-samples N")
    if not generator:
        items, source = _image_items(inputs)
        if not items:
            raise InputError(f"{source}: no images found", hint="image extensions: png jpg jpeg bmp gif tif webp ...")
    torch_device = resolve_device(device)
    net = load_backbone(backbone, weights, resize, spatial, torch_device)
    if generator:
        gen = pipeline.load_generator(generator, torch_device)
        latent_dim = latent_dim or getattr(gen, "latent_dim", None)
        if not latent_dim:
            raise UsageError("--latent-dim is needed (the generator has no latent_dim attribute)")
        total, source = num_samples, f"generator:{generator}"
        batches = pipeline.generator_batches(gen, num_samples, int(latent_dim), seed, net, batch_size, thumbnails)
    else:
        total = len(items)
        batches = pipeline.image_batches(items, net, batch_size, pipeline.default_workers() if workers is None
                                         else workers, skip_bad, thumbnails)
    arrays, skipped = _collect(batches, total)
    if skipped:
        _console.warn(f"skipped {len(skipped)} undecodable image(s); their ids are in the file's 'skipped' list")
    if not arrays["ids"]:
        raise InputError(f"{source}: no image could be decoded")
    provenance = {**net.provenance(), "source": source, "count": len(arrays["ids"]), "complete": True, "shard": ""}
    if generator:
        provenance.update(seed=seed, latent_dim=int(latent_dim))
    write_file_output(output, lambda path: store.write_features(path, {**arrays, "skipped": skipped}, provenance),
                      ".h5")


def _image_items(inputs: list[str]):
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


def _collect(batches, total: int):
    """Concatenate the batches' rows (issue: flushing for resume builds on this)."""
    import numpy as np

    parts: dict = {}
    ids, skipped = [], []
    with _console.progress("extract", total) as tick:
        for rows in batches:
            ids += rows.ids
            skipped += rows.skipped
            for name, values in rows.arrays.items():
                if values is not None:
                    parts.setdefault(name, []).append(values)
            if tick:
                tick(len(rows.ids) + len(rows.skipped))
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    arrays["ids"] = ids
    return arrays, skipped
