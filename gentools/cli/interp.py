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
    latents_out: Annotated[Optional[Path], typer.Option(
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
    'path_length'. Latents are z ~ N(0, I) from --seed (torch.Generator), rows
    of --latents, or --encode images through --encoder.

    Example: gentools interp G.pt -o strip.png --pairs 4 --steps 8 --path-length
    """
    import re

    import numpy as np
    import torch

    from gentools import render, store
    from gentools.cli.output import Reporter
    from gentools.errors import InputError, UsageError
    from gentools.features import pipeline
    from gentools.features.backbones.base import resolve_device
    from gentools.metrics import latent

    _console.set_quiet(quiet)
    reporter = Reporter("interp", json_, append, tag)
    if mode not in ("slerp", "lerp"):
        raise UsageError(f"--mode {mode}: expected slerp or lerp")
    if encode and not encoder:
        raise UsageError("--encode needs --encoder")
    if sum(bool(v) for v in (latents, encode)) > 1:
        raise UsageError("give --latents or --encode, not both")
    dev = resolve_device(device)
    gen = pipeline.load_generator(generator, dev)
    interpolate = latent.slerp if mode == "slerp" else latent.lerp

    if latents is not None:
        z, names = store.read_latents(str(latents))
    elif encode:
        z = _encode(encoder, encode, dev)
        names = [p.stem for p in encode]
    else:
        dim = latent_dim or getattr(gen, "latent_dim", None)
        if not dim:
            raise UsageError("--latent-dim is needed (the generator has no latent_dim attribute)")
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(2 * pairs, int(dim), generator=g).numpy()
        names = [str(i) for i in range(len(z))]
    if len(z) < 2 and not arith:
        raise InputError(f"need at least 2 latents to interpolate, have {len(z)}")

    def generate(batch: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return gen(torch.from_numpy(np.asarray(batch, dtype=np.float32)).to(dev))

    values: dict = {}
    t = np.linspace(0.0, 1.0, steps)
    paths = np.stack([interpolate(z[2 * i], z[2 * i + 1], t) for i in range(len(z) // 2)]) if len(z) >= 2 else None
    rows = [list(pipeline.to_uint8_images(generate(p)).cpu().numpy()) for p in paths] if paths is not None else []
    labels = [[f"t={v:.2f}" for v in t] for _ in rows]
    if arith:
        try:
            result, operands = latent.arithmetic(arith, z, names)
        except ValueError as exc:
            raise UsageError(f"--arith: {exc}") from None
        operand_z = np.stack([z[names.index(o)] for o in operands] + [result])
        rows.append(list(pipeline.to_uint8_images(generate(operand_z)).cpu().numpy()))
        signs = re.findall(r"[+-]?\s*[^\s+-]+", arith)
        labels.append([sign.replace(" ", "") for sign in signs] + ["= result"])
        values["arith_norm"] = float(np.linalg.norm(result))
    if path_length:
        values["path_length"] = _path_length(generate, z.shape[1], samples, seed, interpolate, backbone, dev)
    if output is not None:
        render.save_atomic(str(output), lambda p: render.image_grid(rows, labels, tile).save(p, format="PNG"))
        values["grid"] = str(output)
        latents_out = latents_out or output.with_name(output.stem + "_latents.h5")
    if latents_out is not None:
        arrays = {"latents": z, "names": names, "t": t}
        if paths is not None:
            arrays["paths"] = paths.astype(np.float32)
        store.write_latents(str(latents_out), arrays, {"generator": generator, "mode": mode, "seed": seed})
        values["latents"] = str(latents_out)
    reporter.emit(values, [{"generator": generator}], {"pairs": len(z) // 2, "steps": steps, "mode": mode,
                                                       "seed": seed, "arith": arith or ""})


def _encode(spec: str, images: list, device):
    import numpy as np
    import torch

    from gentools.errors import InputError
    from gentools.features import pipeline
    from gentools.features.images import decode

    try:
        batch = np.stack([decode(str(p)) for p in images])
    except ValueError as exc:
        raise InputError(f"--encode: cannot decode an image ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - np.stack of different sizes
        raise InputError(f"--encode: images must share one size ({exc})") from None
    encoder = pipeline.load_generator(spec, device)
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1
    with torch.inference_mode():
        out = encoder(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.float().cpu().numpy().reshape(len(batch), -1)


def _path_length(generate, dim: int, samples: int, seed: int, interpolate, backbone: str | None, device) -> float:
    import torch

    from gentools.metrics import latent

    g = torch.Generator().manual_seed(seed + 1)
    za = torch.randn(samples, dim, generator=g).numpy()
    zb = torch.randn(samples, dim, generator=g).numpy()
    t = torch.rand(samples, generator=g, dtype=torch.float64).numpy()
    net = None
    if backbone:
        from gentools.features.backbones import load_backbone

        net = load_backbone(backbone, None, None, False, device)

    def features(z):
        images = generate(z).float()
        if net is None:
            return images.flatten(1).double()
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        with torch.inference_mode():
            return net.run((images * 127.5 + 128).clamp(0, 255))["features"].double()

    def distance(a, b):
        return ((features(a) - features(b)) ** 2).sum(dim=1).cpu().numpy()

    return latent.path_length(distance, za, zb, t, interpolate)
