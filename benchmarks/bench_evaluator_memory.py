"""Memory of a FID-only Evaluator: 20,000 samples stream through it, and only a float64 mean and scatter are kept.

Reports the process's resident size once the Evaluator (and its network) is built and has taken its first
batch, then the size at the end and the peak in between (VmHWM, restarted after the first batch). The backbone is ``pixels:26`` (26·26·3 = 2028 features, the size of Inception's 2048) so
that 20k samples run in seconds on a CPU; ``--backbone inception`` measures the real network (slow on a CPU).

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
    batch = torch.from_numpy(rng.randint(0, 256, (args.batch_size, 3, 32, 32), dtype=np.uint8))
    ev.update(batch)  # first batch: allocations that stay (the accumulator) and the warm-up
    after_load = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # restart the peak (VmHWM) from here
        fh.write("5")
    for _ in range(args.n // args.batch_size - 1):
        ev.update(torch.from_numpy(rng.randint(0, 256, (args.batch_size, 3, 32, 32), dtype=np.uint8)))
    print(f"samples {ev.n}, backbone {args.backbone}, batch {args.batch_size}")
    print(f"RSS after the network and the first batch: {after_load:.1f} MiB")
    print(f"RSS at the end: {status('VmRSS'):.1f} MiB; peak since the first batch {status('VmHWM'):.1f} MiB")
    print(f"growth over {ev.n} samples: end {status('VmRSS') - after_load:+.1f} MiB, "
          f"peak {status('VmHWM') - after_load:+.1f} MiB")


if __name__ == "__main__":
    main()
