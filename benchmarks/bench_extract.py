"""Extraction speed: gentools vs pytorch-fid, torch-fidelity and clean-fid, same images, same weights.

Writes N 256x256 JPEGs (crops of sklearn's sample photos) and a random-init
Inception state dict in the published layout (or uses --weights, e.g. the real
file), then times each tool in its own process: load the network, read and
decode every image, compute pool3 features. Prints images/s and the ratio.

    python benchmarks/bench_extract.py                  # 200 images, CPU
    python benchmarks/bench_extract.py -n 2000 --device cuda
    python benchmarks/bench_extract.py --flush       # cost of --flush-every (resumable writing)
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


def make_images(folder: Path, n: int) -> None:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.RandomState(0)
    for i in range(n):
        photo = photos[i % len(photos)]
        side = rng.randint(200, 400)
        y, x = rng.randint(0, photo.shape[0] - side), rng.randint(0, photo.shape[1] - side)
        crop = Image.fromarray(photo[y:y + side, x:x + side]).resize((256, 256), Image.BICUBIC)
        crop.save(folder / f"{i:05d}.jpg", quality=90)


def job(tool: str, folder: str, weights: str, device: str, batch: int, workers: int):
    import torch

    files = sorted(str(p) for p in Path(folder).glob("*.jpg"))
    dev = torch.device(device)
    if tool.startswith("gentools"):
        from gentools.features import pipeline
        from gentools.features.backbones import load_backbone
        from gentools.features.backbones.base import resolve_device
        from gentools.features.images import list_inputs

        net = load_backbone("inception", weights, "tf", False, resolve_device(device))
        items, _ = list_inputs([folder])
        return np.concatenate([r.arrays["features"] for r in pipeline.image_batches(items, net, batch, workers)])
    if tool == "pytorch-fid":
        from pytorch_fid.fid_score import get_activations
        from pytorch_fid.inception import InceptionV3

        model = InceptionV3([3]).to(dev)
        return get_activations(files, model, batch, 2048, dev, workers)
    if tool == "torch-fidelity":
        from torch_fidelity.datasets import ImagesPathDataset
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        from torch_fidelity.utils import get_featuresdict_from_dataset

        fe = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=weights)
        fe = fe.to(dev).eval()
        out = get_featuresdict_from_dataset(ImagesPathDataset(files), fe, batch, dev.type == "cuda", False, False)
        return out["2048"].numpy()
    if tool == "clean-fid":
        from cleanfid.features import build_feature_extractor
        from cleanfid.fid import get_files_features

        model = build_feature_extractor("legacy_pytorch", device=dev, use_dataparallel=False)
        return get_files_features(files, model, num_workers=workers, batch_size=batch, device=dev,
                                  mode="legacy_pytorch", verbose=False)
    raise ValueError(tool)


def worker(args) -> None:
    start = time.perf_counter()
    features = job(args.tool, args.folder, args.weights, args.device, args.batch_size, args.workers)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "n": len(features), "mean": float(np.mean(features))}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--weights", help="Inception weights (default: a random-init file in the published layout)")
    parser.add_argument("--tools", default="gentools,pytorch-fid,torch-fidelity,clean-fid")
    parser.add_argument("--flush", action="store_true", help="time `gentools extract` with --flush-every 1 / 10 "
                                                             "(default) / never, instead of the peers")
    parser.add_argument("--tool", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tool:
        return worker(args)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = tmp / "images"
        images.mkdir()
        make_images(images, args.n)
        checkpoints = tmp / "torch" / "hub" / "checkpoints"
        checkpoints.mkdir(parents=True)
        weights = args.weights
        if weights is None:
            import torch

            from gentools.features.backbones.inception import random_state_dict

            weights = str(tmp / "random.pth")
            torch.save(random_state_dict(0), weights)
        (checkpoints / "pt_inception-2015-12-05-6726825d.pth").symlink_to(os.path.abspath(weights))
        env = {**os.environ, "TORCH_HOME": str(tmp / "torch")}
        if args.flush:
            return flush_overhead(images, weights, args, env, tmp)
        print(f"{args.n} JPEGs 256x256, device {args.device}, batch {args.batch_size}, workers {args.workers}")
        print(f"{'tool':16} {'seconds':>8} {'images/s':>9}")
        results = {}
        for tool in args.tools.split(","):
            cmd = [sys.executable, __file__, "--tool", tool, "--folder", str(images), "--weights", weights,
                   "--device", args.device, "--batch-size", str(args.batch_size), "--workers", str(args.workers)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode:
                print(f"{tool:16} failed: {proc.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[tool] = r["n"] / r["seconds"]
            print(f"{tool:16} {r['seconds']:8.2f} {results[tool]:9.2f}   (mean feature {r['mean']:.6f})", flush=True)
        peers = {t: v for t, v in results.items() if not t.startswith("gentools")}
        if "gentools" in results and peers:
            best = max(peers, key=peers.get)
            print(f"gentools / fastest peer ({best}): {results['gentools'] / peers[best]:.2f}x")


def flush_overhead(images: Path, weights: str, args, env: dict, tmp: Path) -> None:
    """Whole `gentools extract` runs, alternating flush intervals, best of 2 each."""
    gentools = Path(sys.executable).parent / "gentools"
    print(f"{args.n} JPEGs, batch {args.batch_size}: seconds per `gentools extract` run (best of 2)")
    best: dict = {}
    for _ in range(2):
        for every in (1, 10, 10**9):
            cmd = [str(gentools), "extract", str(images), "-o", str(tmp / f"f{every}.h5"), "--weights", weights,
                   "--batch-size", str(args.batch_size), "--flush-every", str(every), "--device", args.device, "-q"]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            best[every] = min(best.get(every, 1e9), time.perf_counter() - start)
    for every, seconds in best.items():
        label = "never (end only)" if every == 10**9 else f"every {every} batch(es)"
        print(f"flush {label:20} {seconds:8.2f} s   overhead {100 * (seconds / best[10**9] - 1):+.1f}%")


if __name__ == "__main__":
    main()
