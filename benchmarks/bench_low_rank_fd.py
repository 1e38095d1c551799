"""FD with fewer rows than dimensions: the d x d route against the O(n²d) route, at n = 100, 1000, 5000 and d = 2048.

The d x d route (``frechet_distance`` of the two covariances) pays two d x d eigenproblems whatever n is. With
rows on one side, ``frechet_distance_low_rank`` needs the n x n matrix ``A S2 Aᵀ`` (O(n d²) against stats), and
with rows on both sides the n x m product ``A Bᵀ`` (O(n m d)). Each route is timed from the rows (covariances
included), with the reference as stats (10,000 rows) and as rows (n rows). gentools takes the O(n²d) route when a
side has n <= d rows; n = 5000 > d shows why not beyond. The accuracy of both routes against a 40-digit
evaluation is in tests/metrics/test_frechet.py. Prints a Markdown table.

    python benchmarks/bench_low_rank_fd.py [--d 2048] [--sizes 100 1000 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gentools.metrics.frechet import frechet_distance, frechet_distance_low_rank, mean_cov


def _timed(fn, repeat: int = 3):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--ref-rows", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    d = args.d
    mixing = rng.randn(d, d).astype(np.float32) * (1 / np.sqrt(d))
    ref = (rng.randn(args.ref_rows, d).astype(np.float32) @ mixing + 0.1).astype(np.float32)
    mu2, s2 = mean_cov(ref)
    print(f"| n | d | d x d route, s | n x n route vs stats, s | speed-up | rows vs rows: d x d, s | n x m route, s "
          f"| speed-up | rel. diff vs d x d |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        x = (rng.randn(n, d).astype(np.float32) @ mixing * 1.1).astype(np.float32)
        y = ref[:n]
        full_t, full = _timed(lambda: frechet_distance(*mean_cov(x), mu2, s2), 1 if n >= 5000 else 3)
        low_t, low = _timed(lambda: frechet_distance_low_rank(x, mu2, s2), 1 if n >= 5000 else 3)
        rows_full_t, rows_full = _timed(lambda: frechet_distance(*mean_cov(x), *mean_cov(y)), 1)
        rows_low_t, rows_low = _timed(lambda: frechet_distance_low_rank(x, None, y=y), 1 if n >= 5000 else 3)
        diff = max(abs(low - full) / full, abs(rows_low - rows_full) / rows_full)
        print(f"| {n} | {d} | {full_t:.3f} | {low_t:.3f} | {full_t / low_t:.1f}x | {rows_full_t:.3f} | "
              f"{rows_low_t:.3f} | {rows_full_t / rows_low_t:.1f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
