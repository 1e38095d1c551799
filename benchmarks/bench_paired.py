"""Paired metrics, gentools against the peer on the same pairs in one run, and the ratio: SSIM against
pytorch-msssim, LPIPS (alex) against the lpips package with the same trunk and lin weights.

    python benchmarks/bench_paired.py [-n 2000] [--size 256] [--batch 50] [--lpips-n 1000] [--lpips-size 256]
                                      [--pesq-n 200]

The pairs are seeded 8-bit RGB images (smooth noise and a noisy copy). pytorch-msssim runs as its users run it:
float32 tensors, ``ssim(X, Y, data_range=255, size_average=False)``, on batches of ``--batch`` pairs.
gentools runs ``gentools.ssim(gen, ref)`` on the uint8 arrays (float64 arithmetic, ids, batching and the
per-pair bookkeeping included). Both use every core torch is given. Printed: pairs/s of each, the ratio, and the
mean of each (pytorch-msssim's float32 window and arithmetic differ by about 1e-6).

LPIPS: ``lpips.LPIPS(net="alex", pnet_rand=True)`` given the same seeded random trunk file, called on float
tensors in [-1, 1] in batches of ``--batch``, against ``gentools.lpips(gen, ref, weights=...)`` on the uint8
arrays; each timed from its weights files to the numbers (building the network included).

PESQ: 200 pairs of 3 s at 16 kHz (speech-like syllables and a noisy copy) as WAV files; a loop of
``pesq.pesq(16000, ref, deg, "wb")`` over the files read with soundfile, against ``gentools.pesq(gen/, ref/)``
with its default workers (one process per core).
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
    parser.add_argument("--pesq-n", type=int, default=200)
    args = parser.parse_args()
    if args.n:
        bench_ssim(args.n, args.size, args.batch)
    if args.lpips_n:
        bench_lpips(args.lpips_n, args.lpips_size, args.batch)
    if args.pesq_n:
        bench_pesq(args.pesq_n)


def bench_ssim(n: int, size: int, batch: int) -> None:
    import pytorch_msssim

    import gentools

    gen, ref = pairs(n, size)
    start = time.perf_counter()
    theirs = []
    with torch.no_grad():
        for i in range(0, n, batch):
            x = torch.from_numpy(gen[i:i + batch]).permute(0, 3, 1, 2).float()
            y = torch.from_numpy(ref[i:i + batch]).permute(0, 3, 1, 2).float()
            theirs.append(pytorch_msssim.ssim(x, y, data_range=255, size_average=False).double())
    peer = time.perf_counter() - start
    theirs = torch.cat(theirs).numpy()

    start = time.perf_counter()
    ours = gentools.ssim(gen, ref, batch_size=batch, per_item=None)
    mine = time.perf_counter() - start
    report(f"{n} pairs of {size}x{size} RGB, {torch.get_num_threads()} torch threads", n,
           ("pytorch-msssim 1.0.0 (float32)", peer, theirs.mean()), ("gentools ssim (float64)", mine, ours["ssim"]))


def report(title: str, n: int, peer: tuple, ours: tuple) -> None:
    """The two rates, the ratio (above 1: gentools is faster) and the two means; ``(name, seconds, mean)`` each."""
    print(title)
    for name, seconds, _ in (peer, ours):
        print(f"{name}\t{n / seconds:.1f} pairs/s")
    print(f"ratio (gentools / peer speed)\t{peer[1] / ours[1]:.2f}")
    print(f"mean: {ours[0]} {ours[2]:.9f}, {peer[0]} {peer[2]:.9f}")


def bench_pesq(n: int) -> None:
    import os
    import tempfile

    import pesq
    import soundfile

    import gentools

    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    with tempfile.TemporaryDirectory() as folder:
        for side in ("gen", "ref"):
            os.mkdir(os.path.join(folder, side))
        for i in range(n):
            pitch = rng.uniform(120, 220)
            voice = sum(np.sin(2 * np.pi * pitch * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
            envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.0) * t), 0, None) ** 2
            clean = 0.3 * voice * envelope / np.abs(voice).max()
            soundfile.write(os.path.join(folder, "ref", f"{i}.wav"), clean.astype(np.float32), 16000, "FLOAT")
            noisy = (clean + rng.normal(0, 0.02, clean.shape)).astype(np.float32)
            soundfile.write(os.path.join(folder, "gen", f"{i}.wav"), noisy, 16000, "FLOAT")
        start = time.perf_counter()
        theirs = []
        for i in range(n):  # a pair pesq cannot score raises: NaN, as gentools reports it
            try:
                theirs.append(pesq.pesq(16000, soundfile.read(os.path.join(folder, "ref", f"{i}.wav"))[0],
                                        soundfile.read(os.path.join(folder, "gen", f"{i}.wav"))[0], "wb"))
            except pesq.PesqError:
                theirs.append(np.nan)
        peer = time.perf_counter() - start
        start = time.perf_counter()
        ours = gentools.pesq(os.path.join(folder, "gen"), os.path.join(folder, "ref"))
        mine = time.perf_counter() - start
    report(f"{n} pairs of 3 s at 16 kHz, PESQ wb; failed pairs: gentools {ours['pairs_failed']}, the loop "
           f"{int(np.isnan(theirs).sum())}", n, ("pesq 0.0.4 loop", peer, np.nanmean(theirs)),
           (f"gentools pesq ({os.cpu_count()} processes)", mine, ours["pesq"]))


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
    report(f"{n} pairs of {size}x{size} RGB, LPIPS alex", n,
           ("lpips 0.1.4", peer, torch.cat(theirs).double().mean().item()), ("gentools lpips", mine, ours["lpips"]))


if __name__ == "__main__":
    main()
