"""gentools interp: latent interpolations, latent arithmetic and path length of a generator."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Append, Json, Quiet, Seed, Tag


def interp(
    generator: Annotated[str, typer.Argument(metavar="GENERATOR", help="TorchScript file or module:function: "
                                             "latents [B, D] -> images [B, C, H, W] (floats in [-1, 1] or uint8).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="PNG: one row per pair (and one for "
                                                   "--arith).", show_default=False)] = None,
    save_latents: Annotated[Optional[Path], typer.Option(
        "--save-latents", help="HDF5 of the latents used (default: next to -o, NAME_latents.h5).",
        show_default=False)] = None,
    pairs: Annotated[int, typer.Option("--pairs", min=1, help="Interpolation rows (seeded latent pairs).")] = 4,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Values of t in [0, 1], ends included.")] = 8,
    mode: Annotated[str, typer.Option("--mode", help="slerp (Gaussian latents) or lerp.")] = "slerp",
    latent_dim: Annotated[Optional[int], typer.Option("--latent-dim", min=1, help="Latent size (default: the "
                                                      "generator's latent_dim attribute).", show_default=False)] = None,
    latents: Annotated[Optional[Path], typer.Option("--latents", help="Latent rows (.npy, or HDF5 'latents' "
                                                    "with optional 'names') instead of seeded ones; consecutive "
                                                    "rows are paired.", show_default=False)] = None,
    encode: Annotated[Optional[List[Path]], typer.Option(
        "--encode", help="Image to encode (repeatable, in pairs) through --encoder.", show_default=False)] = None,
    encoder: Annotated[Optional[str], typer.Option(
        "--encoder", help="TorchScript file or module:function: images [B, 3, H, W] in [-1, 1] -> latents "
                          "(or (mu, logvar): mu is used).", show_default=False)] = None,
    arith: Annotated[Optional[str], typer.Option(
        "--arith", help="Latent arithmetic over the latents' names (row numbers unless the file names them), "
                        "e.g. '0 - 1 + 2'; drawn as a row: operands then result.", show_default=False)] = None,
    path_length: Annotated[bool, typer.Option("--path-length", help="Also print the path-length statistic "
                                              "(PPL-style, squared distance / eps², eps=1e-4).")] = False,
    samples: Annotated[int, typer.Option("--samples", min=2, help="Random pairs for --path-length.")] = 256,
    backbone: Annotated[Optional[str], typer.Option(
        "--backbone", help="Feature space for --path-length (default: the generator's raw output pixels).",
        show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda.")] = "auto",
    tile: Annotated[int, typer.Option("--tile", min=8, help="Height of each image in the PNG, pixels "
                                                           "(small images are enlarged, nearest-neighbour).")] = 64,
    seed: Seed = DEFAULT_SEED,
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
) -> None:
    """Walk a generator's latent space: interpolation grid, latent arithmetic, path length.

    Prints 'grid' and 'latents' (the paths written) and, with --path-length,
    'path_length'. Latents are z ~ N(0, I) from --seed (sample i as extract --generator's sample i), rows
    of --latents, or --encode images through --encoder.

    Example: gentools interp G.pt -o strip.png --pairs 4 --steps 8 --path-length
    """
    from gentools.api.interp import interp as run
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("interp", json_, append, tag)
    reporter.report(run(generator, output=_str(output), save_latents=_str(save_latents), pairs=pairs, steps=steps,
                        mode=mode, latent_dim=latent_dim, latents=_str(latents),
                        encode=[str(p) for p in encode] if encode else None, encoder=encoder, arith=arith,
                        path_length=path_length, samples=samples, backbone=backbone, device=device, tile=tile,
                        seed=seed))


def _str(path) -> Optional[str]:
    return None if path is None else str(path)
