"""Time gentools' metric functions against the peer tools on the same arrays, in one run.

Each (tool, metric) runs in its own subprocess, which builds the same seeded
data, resets its peak-RSS counter (Linux ``/proc/self/clear_refs``), then times
the metric call; so peak memory is the metric's own. Prints a table with the
speed ratio peer/gentools (> 1: gentools is faster).

    python benchmarks/bench_metrics.py            # FD, KID 10k, PRDC 10k
    python benchmarks/bench_metrics.py --large    # also PRDC 50k x 50k x 2048 (gentools only)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

D = 2048


def _features(n: int, seed: int) -> np.ndarray:
    """Inception-like features: non-negative, correlated, float32."""
    rng = np.random.RandomState(seed)
    mix = rng.randn(64, D).astype(np.float32) / 8
    x = rng.randn(n, 64).astype(np.float32) @ mix + rng.randn(n, D).astype(np.float32) * 0.3
    return np.abs(x + 0.5, out=x)


def _covariances(seed: int):
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(2):
        a = rng.randn(D, 3000) / np.sqrt(3000)
        out += [rng.randn(D) * 0.1, a @ a.T]
    return out


def _peak_reset() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _job(tool: str, metric: str, n: int):
    """Return a zero-argument callable computing ``metric`` with ``tool``."""
    import torch

    if metric == "fd":
        mu1, s1, mu2, s2 = _covariances(0)
        if tool == "gentools":
            from gentools.metrics.frechet import frechet_distance
            return lambda: frechet_distance(mu1, s1, mu2, s2)
        if tool == "pytorch-fid":
            from pytorch_fid.fid_score import calculate_frechet_distance
            return lambda: calculate_frechet_distance(mu1, s1, mu2, s2)
        from torch_fidelity.metric_fid import fid_statistics_to_metric
        return lambda: fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False)
    gen, ref = _features(n, 1), _features(n, 2)
    if metric.startswith("kid"):
        if tool.startswith("gentools"):
            from gentools.metrics.kid import kid
            dtype = np.float64 if tool.endswith("--exact") else None
            return lambda: kid(gen, ref, 100, 1000, 2020, gemm_dtype=dtype)
        from torch_fidelity.metric_kid import kid_features_to_metric
        kw = dict(kid_subsets=100, kid_subset_size=1000, rng_seed=2020, verbose=False, kid_kernel="poly",
                  kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
        tg, tr = torch.from_numpy(gen), torch.from_numpy(ref)
        return lambda: kid_features_to_metric(tg, tr, **kw)
    if tool == "gentools":
        from gentools.metrics.prdc import prdc
        return lambda: prdc(ref, gen, k=5)
    import prdc as prdc_package
    return lambda: prdc_package.compute_prdc(real_features=ref, fake_features=gen, nearest_k=5)


def worker(tool: str, metric: str, n: int) -> None:
    fn = _job(tool, metric, n)
    _peak_reset()
    base = _peak_mb()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "base_mb": base, "value": str(value)[:160]}))


def run(tool: str, metric: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", tool, metric, str(n)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also PRDC 50k x 50k x 2048 (several minutes)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return
    plan = [
        ("FD d=2048", "fd", 0, ["gentools", "pytorch-fid", "torch-fidelity"]),
        ("KID 10k x 10k x 2048", "kid", 10_000, ["gentools", "gentools --exact", "torch-fidelity"]),
        ("PRDC 10k x 10k x 2048", "prdc", 10_000, ["gentools", "prdc"]),
    ]
    if args.large:
        plan.append(("PRDC 50k x 50k x 2048", "prdc", 50_000, ["gentools"]))
    print(f"{'benchmark':24} {'tool':16} {'seconds':>9} {'peak MiB':>9}")
    for title, metric, n, tools in plan:
        results = {tool: run(tool, metric, n) for tool in tools}
        for tool, res in results.items():
            if "error" in res:
                print(f"{title:24} {tool:16} error: {res['error']}")
                continue
            print(f"{title:24} {tool:16} {res['seconds']:9.2f} {res['peak_mb']:9.0f}   {res['value']}")
        ours = {t: r["seconds"] for t, r in results.items() if t.startswith("gentools") and "seconds" in r}
        for peer, res in results.items():
            if peer.startswith("gentools") or "seconds" not in res:
                continue
            for tool, seconds in ours.items():
                print(f"{'':24} ratio {peer}/{tool}: {res['seconds'] / seconds:.2f}x "
                      f"({'gentools faster' if res['seconds'] > seconds else 'gentools slower'})")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
