"""Paired metrics, gentools against the peer on the same pairs in one run, and the ratio: SSIM against
pytorch-msssim, LPIPS (alex) against the lpips package with the same trunk and lin weights.

    python benchmarks/bench_paired.py [-n 2000] [--size 256] [--batch 50] [--lpips-n 1000] [--lpips-size 256]

The pairs are seeded 8-bit RGB images (smooth noise and a noisy copy). pytorch-msssim runs as its users run it:
float32 tensors, ``ssim(X, Y, data_range=255, size_average=False)``, on batches of ``--batch`` pairs.
gentools runs ``gentools.ssim(gen, ref)`` on the uint8 arrays (float64 arithmetic, ids, batching and the
per-pair bookkeeping included). Both use every core torch is given. Printed: pairs/s of each, the ratio, and the
mean of each (pytorch-msssim's float32 window and arithmetic differ by about 1e-6).

LPIPS: ``lpips.LPIPS(net="alex", pnet_rand=True)`` given the same seeded random trunk file, called on float
tensors in [-1, 1] in batches of ``--batch``, against ``gentools.lpips(gen, ref, weights=...)`` on the uint8
arrays; each timed from its weights files to the numbers (building the network included).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def pairs(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, size // 16 + 1, size // 16 + 1, 3)).astype(np.float32)
    ref = np.kron(coarse, np.ones((1, 16, 16, 1), np.float32))[:, :size, :size]
    gen = np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255)
    return gen.round().astype(np.uint8), ref.round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--lpips-n", type=int, default=1000)
    parser.add_argument("--lpips-size", type=int, default=256)
    args = parser.parse_args()

    import pytorch_msssim

    import gentools

    gen, ref = pairs(args.n, args.size)
    start = time.perf_counter()
    theirs = []
    with torch.no_grad():
        for i in range(0, args.n, args.batch):
            x = torch.from_numpy(gen[i:i + args.batch]).permute(0, 3, 1, 2).float()
            y = torch.from_numpy(ref[i:i + args.batch]).permute(0, 3, 1, 2).float()
            theirs.append(pytorch_msssim.ssim(x, y, data_range=255, size_average=False).double())
    peer = time.perf_counter() - start
    theirs = torch.cat(theirs).numpy()

    start = time.perf_counter()
    ours = gentools.ssim(gen, ref, batch_size=args.batch, per_item=None)
    mine = time.perf_counter() - start
    print(f"{args.n} pairs of {args.size}x{args.size} RGB, {torch.get_num_threads()} torch threads")
    print(f"pytorch-msssim 1.0.0 (float32)\t{args.n / peer:.1f} pairs/s")
    print(f"gentools ssim (float64)\t{args.n / mine:.1f} pairs/s")
    print(f"ratio (gentools / pytorch-msssim speed)\t{peer / mine:.2f}")
    print(f"mean ssim: gentools {ours['ssim']:.9f}, pytorch-msssim {theirs.mean():.9f}")
    if args.lpips_n:
        bench_lpips(args.lpips_n, args.lpips_size, args.batch)


def bench_lpips(n: int, size: int, batch: int) -> None:
    import os
    import tempfile

    import lpips

    import gentools
    from gentools.features.backbones.lpips import torchvision_features

    gen, ref = pairs(n, size, seed=1)
    torch.manual_seed(0)
    features = torchvision_features("alex")
    with tempfile.TemporaryDirectory() as folder:
        trunk = os.path.join(folder, "alex.pth")
        torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, trunk)
        start = time.perf_counter()  # each timed from its weights files on disk to the numbers
        reference = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
        state = torch.load(trunk, weights_only=True)
        reference.net.load_state_dict({f"slice{k}.{i}.{name}": state[f"features.{i}.{name}"] for k, part in
                                       enumerate(reference.net.children(), 1) for i, module in part.named_children()
                                       for name, _ in module.named_parameters()})
        theirs = []
        with torch.no_grad():
            for i in range(0, n, batch):
                x = torch.from_numpy(gen[i:i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
                y = torch.from_numpy(ref[i:i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
                theirs.append(reference(x, y).flatten())
        peer = time.perf_counter() - start
        start = time.perf_counter()
        ours = gentools.lpips(gen, ref, weights=trunk, batch_size=batch)
        mine = time.perf_counter() - start
    print(f"{n} pairs of {size}x{size} RGB, LPIPS alex")
    print(f"lpips 0.1.4\t{n / peer:.1f} pairs/s")
    print(f"gentools lpips\t{n / mine:.1f} pairs/s")
    print(f"ratio (gentools / lpips speed)\t{peer / mine:.2f}")
    print(f"mean lpips: gentools {ours['lpips']:.9f}, lpips {torch.cat(theirs).double().mean().item():.9f}")


if __name__ == "__main__":
    main()
