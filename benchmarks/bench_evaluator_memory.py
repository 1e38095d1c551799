"""Memory of a FID-only Evaluator: 20,000 samples stream through it, and only a float64 mean and scatter are kept.

The baseline is the process once the network is loaded: the Evaluator built, its network run once on a batch
(outside the Evaluator's state: the forward pass's own working memory) and scipy.linalg imported (code that
update() and compute() load on first use). Then 20,000 samples go through ``update``: the growth and the peak
since the baseline (VmHWM, restarted there) are what the Evaluator keeps: the d x d float64 scatter (31.4 MiB
at d = 2028) and the transient memory of folding a batch in. ``compute()`` is reported apart: the Fréchet
distance's d x d eigendecompositions are transient and do not depend on the number of samples. The backbone
is ``pixels:26`` (26·26·3 = 2028 features, the size of Inception's 2048) so that 20k samples run in seconds on
a CPU; ``--backbone inception`` measures the real network (slow on a CPU).

    python benchmarks/bench_evaluator_memory.py [-n 20000] [--batch-size 500]
"""

from __future__ import annotations

import argparse

import numpy as np


def status(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def main() -> None:
    import torch

    import gentools

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--backbone", default="pixels:26")
    parser.add_argument("--weights")
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    ev = gentools.Evaluator(gentools.load(rng.randn(4, 2028 if args.backbone == "pixels:26" else 2048)),
                            metrics=["fid"], backbone=args.backbone, weights=args.weights, device="cpu")
    batches = (torch.from_numpy(rng.randint(0, 256, (args.batch_size, 3, 32, 32), dtype=np.uint8))
               for _ in range(args.n // args.batch_size))
    import scipy.linalg  # noqa: F401  the code update() and compute() load on first use: code, not samples

    from gentools.features.pipeline import uint8_features

    warm = torch.from_numpy(rng.randint(0, 256, (args.batch_size, 32, 32, 3), dtype=np.uint8))
    uint8_features(ev.net, warm)  # the network's first forward pass, outside the Evaluator's state
    del warm
    after_load = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # restart the peak (VmHWM) from here
        fh.write("5")
    ev.update(next(batches))  # first batch: allocations that stay (the accumulator) and the warm-up
    after_first = status("VmRSS")
    for batch in batches:
        ev.update(batch)
    updated, update_peak = status("VmRSS"), status("VmHWM")
    fid = ev.compute()["fid"]
    computed, peak = status("VmRSS"), status("VmHWM")
    print(f"samples {ev.n}, backbone {args.backbone}, batch {args.batch_size}, fid {fid:.4f}")
    print(f"RSS after loading the network: {after_load:.1f} MiB; after the first batch: {after_first:.1f} MiB")
    print(f"updates: {ev.n} samples grow the process {updated - after_load:+.1f} MiB, peak "
          f"{update_peak - after_load:+.1f} MiB (from the first batch on: {updated - after_first:+.1f} MiB)")
    print(f"compute(): the d x d work of the Frechet distance peaks at {peak - after_load:+.1f} MiB, "
          f"leaves {computed - after_load:+.1f} MiB")


if __name__ == "__main__":
    main()
