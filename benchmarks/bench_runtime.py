"""How to run the FID Inception on CPU: frozen TorchScript, torch.compile, an AOTInductor package, eager.

    python benchmarks/bench_runtime.py                 # the (a)-(d) table, then extract's set-up and steady state
    python benchmarks/bench_runtime.py --only forward  # the table only
    python benchmarks/bench_runtime.py --only extract  # set-up (process start to first batch) and steady state

Random-init weights in the published layout (or ``--weights``), the same 50
uint8 299x299 crops for every runtime. Each runtime runs in its own process,
twice: on an empty cache (cold) and again on the cache the first run left
(warm). Set-up is what a run pays once: building the network plus the first
call's extra time over a steady call. img/s is the forward rate at batch 50
after two warm-up calls. |Δ| is max |features − torch-fidelity's| / max
|torch-fidelity's|, torch-fidelity's ``FeatureExtractorInceptionV3`` on the
same weights and images.

(a) ``torch.jit.optimize_for_inference(torch.jit.script(net))`` (what gentools
did through 0.x; deprecated by torch 2.10+), (b) ``torch.compile`` (inductor;
cache ``TORCHINDUCTOR_CACHE_DIR``), (c) gentools' ``aoti`` runtime (cache
``GENTOOLS_CACHE``), (d) gentools' ``eager`` runtime (BatchNorm folded,
channels-last, ``inference_mode``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RUNTIMES = {"a": "torchscript", "b": "torch.compile", "c": "aoti", "d": "eager"}


def crops(n: int, size: int = 299) -> np.ndarray:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.RandomState(0)
    out = []
    for i in range(n):
        photo = photos[i % len(photos)]
        y, x = rng.randint(0, photo.shape[0] - size), rng.randint(0, photo.shape[1] - size)
        out.append(photo[y:y + size, x:x + size])
    return np.stack(out)


def child(runtime: str, weights: str, images: str, reference: str, batches: int) -> dict:
    """One runtime's set-up, rate and |Δ|, in this process."""
    import warnings

    import torch

    from gentools.features import resize
    from gentools.features.backbones import compiled, inception

    uint8 = torch.from_numpy(np.load(images)).permute(0, 3, 1, 2).contiguous()
    x = resize.to_network_input(uint8, "tf", inception.INPUT_SIZE).contiguous(memory_format=torch.channels_last)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    start = time.perf_counter()
    module = inception.build(state)
    if runtime == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            net = torch.jit.optimize_for_inference(torch.jit.script(module.to(memory_format=torch.channels_last)))
    elif runtime == "torch.compile":
        net = torch.compile(compiled.fold_batch_norm(module).to(memory_format=torch.channels_last))
    else:
        os.environ["GENTOOLS_RUNTIME"] = runtime
        from gentools.features.weights import sha256_of

        net, chosen = compiled.prepare(module, torch.device("cpu"), (3, 299, 299),
                                       {"backbone": "inception", "resize": "tf", "weights_sha256": sha256_of(weights)})
        assert chosen == runtime, chosen
    built = time.perf_counter() - start
    with torch.inference_mode():
        calls = []
        for _ in range(batches + 2):
            began = time.perf_counter()
            features = net(x)[0]
            calls.append(time.perf_counter() - began)
    steady = statistics.median(calls[2:])
    ref = np.load(reference)
    delta = float(np.abs(features.numpy().astype(np.float64) - ref).max() / np.abs(ref).max())
    return {"setup_s": built + calls[0] + calls[1] - 2 * steady, "img_s": len(x) / steady, "delta": delta}


def torch_fidelity_features(weights: str, images: str, out: str) -> None:
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=weights).eval()
    with torch.no_grad():
        np.save(out, net(torch.from_numpy(np.load(images)).permute(0, 3, 1, 2).contiguous())[0].double().numpy())


def forward_table(weights: str, work: Path, batch: int, batches: int, only: str) -> list:
    images, reference = work / "images.npy", work / "torch_fidelity.npy"
    np.save(images, crops(batch))
    torch_fidelity_features(weights, str(images), str(reference))
    rows = []
    for letter, runtime in RUNTIMES.items():
        if letter not in only:
            continue
        caches = work / f"cache-{letter}"
        env = dict(os.environ, GENTOOLS_CACHE=str(caches / "gentools"), TORCHINDUCTOR_CACHE_DIR=str(caches / "inductor"))
        runs = []
        for _ in ("cold", "warm"):
            out = subprocess.run([sys.executable, __file__, "--child", runtime, "--weights", weights,
                                  "--images", str(images), "--reference", str(reference), "--batches", str(batches)],
                                 env=env, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = {"runtime": f"({letter}) {runtime}", "img_s": runs[1]["img_s"], "cold_setup_s": runs[0]["setup_s"],
               "warm_setup_s": runs[1]["setup_s"], "delta": max(runs[0]["delta"], runs[1]["delta"])}
        rows.append(row)
        print(f"| {row['runtime']} | {row['img_s']:.2f} | {row['cold_setup_s']:.2f} s | {row['warm_setup_s']:.2f} s "
              f"| {row['delta']:.1e} |", flush=True)
    return rows


FIRST_BATCH = """
import sys, time
spawned = float(sys.argv[1])
import gentools
imported = time.time()
class Mark:
    def __call__(self, description, total):
        return self
    def __enter__(self):
        self.first = time.time()
        return lambda k: None
    def __exit__(self, *exc):
        self.done = time.time()
mark = Mark()
called = time.time()
gentools.extract(sys.argv[2], output=sys.argv[3], weights=sys.argv[4] or None, backbone=sys.argv[5],
                 batch_size=50, progress=mark)
print(mark.first - spawned, imported - spawned, mark.first - called, mark.done - mark.first)
"""


def extract_runs(weights: str, work: Path, n: int, repeats: int) -> None:
    """Set-up (process start to first batch) on a cold and a warm cache, and extract's steady state."""
    sys.path.insert(0, str(HERE))
    from bench_extract import make_images

    folder = work / "jpegs"
    folder.mkdir(exist_ok=True)
    make_images(folder, n)
    cache = work / "extract-cache"
    env = dict(os.environ, GENTOOLS_CACHE=str(cache))

    def once(backbone: str, tag: str) -> list:
        out = work / f"{tag}.h5"
        out.unlink(missing_ok=True)
        result = subprocess.run([sys.executable, "-c", FIRST_BATCH, repr(time.time()), str(folder), str(out),
                                 weights if backbone == "inception" else "", backbone],
                                env=env, capture_output=True, text=True, check=True)
        return [float(v) for v in result.stdout.split()]

    for backbone in ("inception", "pixels"):
        cold = once(backbone, "cold")
        warm = [once(backbone, f"warm{i}") for i in range(repeats)]
        first = statistics.median(w[0] for w in warm)
        steady = statistics.median(n / w[3] for w in warm)
        print(f"{backbone}: process start to first batch: cold {cold[0]:.2f} s, warm {first:.2f} s (median of "
              f"{repeats}; of which importing gentools and torch {statistics.median(w[1] for w in warm):.2f} s, "
              f"extract() to first batch {statistics.median(w[2] for w in warm):.2f} s); steady state "
              f"{steady:.2f} img/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", help="an Inception state dict (default: random init, published layout)")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--batches", type=int, default=3, help="steady calls timed per runtime")
    parser.add_argument("--only", choices=["forward", "extract"])
    parser.add_argument("--runtimes", default="abcd")
    parser.add_argument("-n", type=int, default=200, help="images for extract's steady state")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--images")
    parser.add_argument("--reference")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.weights, args.images, args.reference, args.batches)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as tmp:
        work = Path(tmp)
        weights = args.weights
        if not weights:
            import torch

            from gentools.features.backbones import inception

            weights = str(work / "inception.pth")
            torch.save(inception.random_state_dict(0), weights)
        if args.only != "extract":
            print("| runtime | img/s, batch 50 | set-up, cold cache | set-up, warm cache | max feature |Δ| vs "
                  "torch-fidelity |\n|---|---|---|---|---|", flush=True)
            forward_table(weights, work, args.batch, args.batches, args.runtimes)
        if args.only != "forward":
            extract_runs(weights, work, args.n, args.repeats)


if __name__ == "__main__":
    main()
