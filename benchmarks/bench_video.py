"""Video extraction speed: gentools ``extract -b i3d400`` vs cd-fvd's I3D route (TATS's network and preprocessing),
same clips, same weights, in one run.

Writes N seeded clips (moving squares, ``[N, T, H, W, 3]`` uint8 ``.npy``, the input both tools read) and a
random state dict in TATS's ``i3d_pretrained_400.pt`` layout (or uses --weights), then times, each in its own
process: gentools' ``extract`` of the array (network load, decoding workers, features written to a file), and
cd-fvd's ``cdfvd(model='i3d', ckpt_path=W).load_videos(ARRAY)`` + ``compute_real_stats`` (the same network,
batches of 16 clips). Prints clips/s, the ratio, and the largest difference between the two tools' features.

    python benchmarks/bench_video.py                 # 32 clips of 16 frames at 64x64, CPU
    python benchmarks/bench_video.py -n 256 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def job(tool: str, array: str, weights: str, device: str, out: str) -> dict:
    start = time.perf_counter()
    if tool == "gentools":
        import gentools

        features = gentools.extract(array, backbone="i3d400", weights=weights, device=device, batch_size=16,
                                    output=out)
        rows = features.array()
        features.close()
    else:
        from cdfvd import fvd

        evaluator = fvd.cdfvd("i3d", ckpt_path=weights, device=device, compute_feats=True, n_real="full")
        evaluator.compute_real_stats(evaluator.load_videos(array, data_type="video_numpy", batch_size=16))
        rows = evaluator.real_stats.get_all()
    seconds = time.perf_counter() - start
    np.save(out + ".npy", rows)
    return {"seconds": seconds, "clips": int(len(rows))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=32, help="clips")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", help="i3d_pretrained_400.pt (default: seeded random weights in its layout)")
    parser.add_argument("--job", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        tool, array, weights, out = args.job
        print(json.dumps(job(tool, array, weights, args.device, out)))
        return
    sys.path.insert(0, str(ROOT))
    import torch

    from gentools.features.backbones.video import random_i3d400_state_dict
    from tests.video.inputs import moving_square

    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        array = os.path.join(tmp, "clips.npy")
        np.save(array, np.stack([moving_square(args.frames, i, size=args.size) for i in range(args.n)]))
        weights = args.weights or os.path.join(tmp, "i3d_pretrained_400.pt")
        if not args.weights:
            torch.save(random_i3d400_state_dict(0), weights)
        results = {}
        for tool in ("gentools", "cd-fvd"):
            out = os.path.join(tmp, f"{tool}.h5")
            proc = subprocess.run([sys.executable, __file__, "--device", args.device, "--job", tool, array, weights,
                                   out], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if proc.returncode:
                sys.exit(f"{tool} failed:\n{proc.stderr[-2000:]}")
            results[tool] = json.loads(proc.stdout.strip().splitlines()[-1])
            results[tool]["rows"] = np.load(out + ".npy")
        for tool, r in results.items():
            print(f"{tool:9s} {r['clips']} clips in {r['seconds']:.1f} s: {r['clips'] / r['seconds']:.2f} clips/s")
        ratio = results["cd-fvd"]["seconds"] / results["gentools"]["seconds"]
        diff = float(np.abs(results["gentools"]["rows"] - results["cd-fvd"]["rows"]).max())
        print(f"gentools / cd-fvd speed: {ratio:.2f}x; max |features difference| {diff:.3g}")


if __name__ == "__main__":
    main()
