"""MAUVE, gentools against mauve-text 0.4.0 (with faiss) on the same features in one run, and the ratio.

    python benchmarks/bench_mauve.py [-n 5000] [--dim 1280] [--factors 64] [--repeats 1]

The features are seeded: ``--factors`` latent directions mixed into ``--dim`` dimensions plus noise (GPT-2's
last-token features are far from isotropic: PCA to 90% variance keeps tens to hundreds of components, not all
1,280), GEN shifted from REF. mauve-text runs as its users run it, ``compute_mauve(p_features=gen,
q_features=ref)`` with its defaults; gentools runs ``gentools.mauve(gen, ref)`` on the same arrays. Printed: the
seconds of each, the ratio, both MAUVE values, and gentools' split into normalisation + PCA and k-means (faiss,
the same call with the same settings as mauve-text's, so that part cannot differ).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def features(n: int, dim: int, factors: int, shift: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(1234).normal(size=(factors, dim)) / np.sqrt(factors)
    latent = rng.normal(size=(n, factors)) + shift
    return (latent @ mixing + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import mauve

    import gentools
    from gentools.metrics import mauve as ours

    gen = features(args.n, args.dim, args.factors, 0.15, 1)
    ref = features(args.n, args.dim, args.factors, 0.0, 2)
    theirs_s, ours_s = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        theirs = mauve.compute_mauve(p_features=gen, q_features=ref)
        theirs_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        got = gentools.mauve(gen, ref)
        ours_s.append(time.perf_counter() - start)
    start = time.perf_counter()
    reduced = ours.reduce(gen, ref)
    reduce_s = time.perf_counter() - start
    start = time.perf_counter()
    ours.quantise(reduced, ours.num_buckets_for(len(gen), len(ref)))
    kmeans_s = time.perf_counter() - start
    t, o = min(theirs_s), min(ours_s)
    print(f"rows\t{args.n} + {args.n} x {args.dim} ({reduced.shape[1]} PCA components, "
          f"{ours.num_buckets_for(len(gen), len(ref))} buckets)")
    print(f"mauve-text\t{t:.2f} s\tmauve {theirs.mauve:.6f}")
    print(f"gentools\t{o:.2f} s\tmauve {got['mauve']:.6f}")
    print(f"ratio\t{t / o:.2f}x (mauve-text time / gentools time)")
    print(f"gentools split\tnormalise + PCA {reduce_s:.2f} s, k-means {kmeans_s:.2f} s "
          f"({100 * kmeans_s / (reduce_s + kmeans_s):.0f}% of the two)")


if __name__ == "__main__":
    main()
