"""``gentools.interp``: latent interpolations, latent arithmetic and path length of a generator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from gentools import memory, presets, render, store
from gentools.api._common import Result
from gentools.errors import InputError, UsageError, warn
from gentools.features import generators
from gentools.features.backbones.base import resolve_device
from gentools.metrics import latent


def interp(generator: str, *, output: Optional[str] = None, save_latents: Optional[str] = None, pairs: int = 4,
           steps: int = 8, mode: str = "slerp", latent_dim: Optional[int] = None, latents: Optional[str] = None,
           encode: Optional[Sequence[str]] = None, encoder: Optional[str] = None, arith: Optional[str] = None,
           path_length: bool = False, samples: int = 256, backbone: Optional[str] = None, device: str = "auto",
           tile: int = 64, seed: Optional[int] = None, latents_out: Optional[str] = None) -> Result:
    """Walk a generator's latent space: a grid of ``pairs`` interpolations (slerp, Shoemake 1985, or lerp)
    at ``steps`` values of t, latent ``arith``metic over named latents, and the ``path_length`` statistic
    (Karras et al. 2019 PPL style). Returns ``grid``/``latents`` (paths written), ``arith_norm``,
    ``path_length`` as computed. ``save_latents``: the HDF5 of the latents used (``--save-latents``; the
    earlier keyword ``latents_out`` still works, with a warning)."""
    if latents_out is not None:
        warn("gentools.interp(latents_out=...) is now save_latents=")
        save_latents = save_latents or latents_out
    seed = presets.DEFAULT.seed if seed is None else seed
    if mode not in ("slerp", "lerp"):
        raise UsageError(f"--mode {mode}: expected slerp or lerp")
    if encode and not encoder:
        raise UsageError("--encode needs --encoder")
    if sum(bool(v) for v in (latents, encode)) > 1:
        raise UsageError("give --latents or --encode, not both")
    dev = resolve_device(device)
    gen = generators.load_generator(generator, dev)
    interpolate = latent.slerp if mode == "slerp" else latent.lerp

    z, names = _latents(gen, latents, encode, encoder, latent_dim, pairs, seed, dev)
    if len(z) < 2 and not arith:
        raise InputError(f"need at least 2 latents to interpolate, have {len(z)}")

    def generate(batch: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return gen(torch.from_numpy(np.asarray(batch, dtype=np.float32)).to(dev))

    values: dict = {}
    t = np.linspace(0.0, 1.0, steps)
    grid_rows = len(z) // 2 + bool(arith)  # one row per pair: the grid is the big allocation, not the latents
    grid_columns = max(steps, len(re.findall(r"[^\s+-]+", arith)) + 1 if arith else 0)
    memory.require(grid_rows * grid_columns * tile * tile * 3 * 2,
                   f"a grid of {grid_rows} rows of {tile}-pixel tiles", str(latents or generator))
    paths = np.stack([interpolate(z[2 * i], z[2 * i + 1], t) for i in range(len(z) // 2)]) if len(z) >= 2 else None
    rows = [list(generators.to_uint8_images(generate(p)).cpu().numpy()) for p in paths] if paths is not None else []
    labels = [[f"t={v:.2f}" for v in t] for _ in rows]
    if arith:
        try:
            result, operands = latent.arithmetic(arith, z, names)
        except ValueError as exc:
            raise UsageError(f"--arith: {exc}") from None
        operand_z = np.stack([z[names.index(o)] for o in operands] + [result])
        rows.append(list(generators.to_uint8_images(generate(operand_z)).cpu().numpy()))
        signs = re.findall(r"[+-]?\s*[^\s+-]+", arith)
        labels.append([sign.replace(" ", "") for sign in signs] + ["= result"])
        values["arith_norm"] = float(np.linalg.norm(result))
    if path_length:
        values["path_length"] = _path_length(generate, z.shape[1], samples, seed, interpolate, backbone, dev)
    if output is not None:
        render.save_atomic(str(output), lambda p: render.image_grid(rows, labels, tile).save(p, format="PNG"))
        values["grid"] = str(output)
        save_latents = save_latents or str(Path(output).with_name(Path(output).stem + "_latents.h5"))
    if save_latents is not None:
        arrays = {"latents": z, "names": names, "t": t}
        if paths is not None:
            arrays["paths"] = paths.astype(np.float32)
        store.write_latents(str(save_latents), arrays, {"generator": generator, "mode": mode, "seed": seed})
        values["latents"] = str(save_latents)
    return Result(values, [{"generator": generator}], {"pairs": len(z) // 2, "steps": steps, "mode": mode,
                                                       "seed": seed, "arith": arith or ""})


def _latents(gen, latents, encode, encoder, latent_dim, pairs: int, seed: int, device):
    """``(z [N, D], names)``: rows of a latents file, encoded images, or ``2 * pairs`` seeded Gaussians."""
    if latents is not None:
        return store.read_latents(str(latents))
    if encode:
        return _encode(encoder, encode, device), [Path(p).stem for p in encode]
    dim = latent_dim or getattr(gen, "latent_dim", None)
    if not dim:
        raise UsageError("--latent-dim is needed (the generator has no latent_dim attribute)")
    z = generators.latents(seed, range(2 * pairs), int(dim))  # sample i: as extract --generator's sample i
    return z, [str(i) for i in range(len(z))]


def _encode(spec: str, images: list, device):
    from gentools.features.images import decode

    try:
        decoded = [decode(str(p)) for p in images]
    except (ValueError, OSError) as exc:
        raise InputError(f"--encode: cannot decode an image ({exc})") from None
    if len({image.shape for image in decoded}) > 1:
        raise InputError(f"--encode: images must share one size, got {sorted({im.shape for im in decoded})}")
    batch = np.stack(decoded)
    encoder = generators.load_generator(spec, device)
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1
    with torch.inference_mode():
        out = encoder(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.float().cpu().numpy().reshape(len(batch), -1)


def _path_length(generate, dim: int, samples: int, seed: int, interpolate, backbone: str | None, device) -> float:
    za = generators.latents(seed + 1, range(samples), dim)  # the pairs' ends: samples of --seed + 1
    zb = generators.latents(seed + 1, range(samples, 2 * samples), dim)
    t = np.random.default_rng([seed + 1, 2 ** 32]).random(samples)
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
