"""Extraction speed: gentools vs pytorch-fid, torch-fidelity and clean-fid, same images, same weights.

Writes N 256x256 JPEGs (crops of sklearn's sample photos) and a random-init
Inception state dict in the published layout (or uses --weights, e.g. the real
file), then times each tool in its own process: load the network, read and
decode every image, compute pool3 features. Prints images/s and the ratio.

    python benchmarks/bench_extract.py                  # 200 images, CPU
    python benchmarks/bench_extract.py -n 2000 --device cuda
    python benchmarks/bench_extract.py --flush       # cost of --flush-every (resumable writing)
    python benchmarks/bench_extract.py --evaluator   # Evaluator.update vs extract's steady state

Each peer runs in its best loader setting: its own default, and 2 loader
workers with 2 torch threads, whichever is faster (both are printed). Set-up
(network load) is timed apart from the steady state.
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


SETUP: dict = {}  # seconds to build the network, filled by job()


def job(tool: str, folder: str, weights: str, device: str, batch: int, workers: int):
    import torch

    files = sorted(str(p) for p in Path(folder).glob("*.jpg"))
    dev = torch.device(device)
    start = time.perf_counter()
    if tool.startswith("gentools"):
        from gentools.features import pipeline
        from gentools.features.backbones import load_backbone
        from gentools.features.backbones.base import resolve_device
        from gentools.features.images import list_inputs

        net = load_backbone("inception", weights, "tf", False, resolve_device(device))
        SETUP["seconds"] = time.perf_counter() - start
        items, _ = list_inputs([folder])
        return np.concatenate([r.arrays["features"] for r in pipeline.image_batches(items, net, batch, workers)])
    if tool == "pytorch-fid":
        from pytorch_fid.fid_score import get_activations
        from pytorch_fid.inception import InceptionV3

        model = InceptionV3([3]).to(dev)
        SETUP["seconds"] = time.perf_counter() - start
        return get_activations(files, model, batch, 2048, dev, workers)
    if tool == "torch-fidelity":
        from torch_fidelity.datasets import ImagesPathDataset
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        from torch_fidelity.utils import get_featuresdict_from_dataset

        fe = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=weights)
        fe = fe.to(dev).eval()
        SETUP["seconds"] = time.perf_counter() - start
        out = get_featuresdict_from_dataset(ImagesPathDataset(files), fe, batch, dev.type == "cuda", False, False)
        return out["2048"].numpy()
    if tool == "clean-fid":
        from cleanfid.features import build_feature_extractor
        from cleanfid.fid import get_files_features

        model = build_feature_extractor("legacy_pytorch", device=dev, use_dataparallel=False)
        SETUP["seconds"] = time.perf_counter() - start
        return get_files_features(files, model, num_workers=workers, batch_size=batch, device=dev,
                                  mode="legacy_pytorch", verbose=False)
    raise ValueError(tool)


def worker(args) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    features = job(args.tool, args.folder, args.weights, args.device, args.batch_size, args.workers)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "setup": SETUP.get("seconds", 0.0), "n": len(features),
                      "mean": float(np.mean(features))}))


def run_tool(tool: str, images: Path, weights: str, args, env: dict, workers: int, threads: int = 0):
    cmd = [sys.executable, __file__, "--tool", tool, "--folder", str(images), "--weights", weights,
           "--device", args.device, "--batch-size", str(args.batch_size), "--workers", str(workers),
           "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        print(f"{tool:16} failed: {proc.stderr.strip().splitlines()[-1]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def evaluator_ratio(images: Path, weights: str, args) -> None:
    """Evaluator.update on decoded uint8 batches against extract's steady state (after its first batch)."""
    import torch
    from PIL import Image

    import gentools
    from gentools.features import pipeline
    from gentools.features.backbones import load_backbone
    from gentools.features.backbones.base import resolve_device
    from gentools.features.images import list_inputs

    net = load_backbone("inception", weights, "tf", False, resolve_device(args.device))
    items, _ = list_inputs([str(images)])
    batches = pipeline.image_batches(items, net, args.batch_size, args.workers)
    first = next(batches)
    start = time.perf_counter()
    rest = sum(len(rows.ids) for rows in batches)
    extract_rate = rest / (time.perf_counter() - start)
    pixels = torch.from_numpy(np.stack([np.asarray(Image.open(i.path).convert("RGB")) for i in items]))
    pixels = pixels.permute(0, 3, 1, 2).contiguous()
    ev = gentools.Evaluator(gentools.load(np.zeros((2, 2048), np.float32)), metrics=["fid"], weights=weights,
                            device=args.device)
    ev.update(pixels[:args.batch_size])  # the same warm-up as extract's first batch
    start = time.perf_counter()
    for i in range(args.batch_size, len(pixels), args.batch_size):
        ev.update(pixels[i:i + args.batch_size])
    update_rate = (len(pixels) - args.batch_size) / (time.perf_counter() - start)
    print(f"{len(items)} JPEGs 256x256, batch {args.batch_size}, extract with {args.workers} decoding workers")
    print(f"extract steady state   {extract_rate:8.2f} images/s (after its first batch of {len(first.ids)})")
    print(f"Evaluator.update       {update_rate:8.2f} images/s (decoded uint8 batches, FID stats kept)")
    print(f"Evaluator / extract: {update_rate / extract_rate:.2f}x (target >= 0.9)")


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
    parser.add_argument("--evaluator", action="store_true", help="time Evaluator.update against extract's "
                                                                 "steady state on the same images")
    parser.add_argument("--repeats", type=int, default=1, help="paired runs; the median is reported")
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
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
        if args.evaluator:
            return evaluator_ratio(images, weights, args)
        compare_tools(images, weights, args, env)


# The peers' own loader defaults: pytorch-fid get_activations(num_workers=1), clean-fid
# get_files_features(num_workers=12); torch-fidelity picks min(4, 2 * cores) itself (not settable).
PEER_WORKERS = {"pytorch-fid": 1, "clean-fid": 12, "torch-fidelity": 0}


def compare_tools(images: Path, weights: str, args, env: dict) -> None:
    """Median of --repeats paired runs; peers in their faster loader setting (default, or 2 workers x 2 threads)."""
    print(f"{args.n} JPEGs 256x256, device {args.device}, batch {args.batch_size}; gentools with "
          f"{args.workers} decoding workers; median of {args.repeats} paired run(s)")
    print(f"{'tool':16} {'setting':22} {'set-up s':>8} {'images/s':>9}")
    settings = {"default": (None, 0), "2 workers x 2 threads": (2, 2)}
    runs: dict = {}
    for _ in range(args.repeats):
        for tool in args.tools.split(","):
            for label, (workers, threads) in settings.items():
                if tool == "gentools" and label != "default":
                    continue
                w = args.workers if tool == "gentools" else PEER_WORKERS.get(tool, 0) if workers is None else workers
                r = run_tool(tool, images, weights, args, env, w, threads)
                if r:
                    runs.setdefault((tool, label), []).append((r["n"] / (r["seconds"] - r["setup"]), r["setup"]))
    best: dict = {}
    for (tool, label), values in runs.items():
        rate = float(np.median([v[0] for v in values]))
        setup = float(np.median([v[1] for v in values]))
        print(f"{tool:16} {label:22} {setup:8.2f} {rate:9.2f}", flush=True)
        if rate > best.get(tool, (0, ""))[0]:
            best[tool] = (rate, label)
    peers = {t: v for t, v in best.items() if t != "gentools"}
    if "gentools" in best and peers:
        top = max(peers, key=lambda t: peers[t][0])
        print(f"gentools / fastest peer ({top}, {peers[top][1]}): {best['gentools'][0] / peers[top][0]:.2f}x "
              f"(steady state, set-up excluded)")


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
