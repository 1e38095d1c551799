"""What ``extract --compile auto`` costs a first run, and what it saves a large one (issue 34, item 6).

    python benchmarks/bench_compile_policy.py [--images 50] [--large 10000] [--rate-images 400]

1. A new user's first ``extract`` of ``--images`` images on an empty compiled cache, ``--compile auto`` against
   ``--compile never`` (each in a fresh process and a fresh cache): auto runs eagerly below
   ``compiled.REPAYS_AT`` inputs, so the two should take the same time.
2. A job of ``--large`` images (hard links to the same PNGs) on an empty cache under ``--compile auto``: the
   benchmark waits for its "compiling ... once" notice (the decision), then stops it.
3. The time that job saves: the build time (``--compile always`` minus ``--compile never`` on the small set,
   empty caches) and the steady rates of both runtimes (``--rate-images`` images, the compiled one on the
   cache step 3 left), projected to ``--large`` images: ``large/eager_rate - (build + large/compiled_rate)``.

Random-init weights in the published layout (``gentools weights random inception``), 299x299 photo crops.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent / "gentools"


def _images(folder: Path, count: int) -> Path:
    sys.path.insert(0, str(HERE))
    from bench_runtime import crops
    from PIL import Image

    folder.mkdir(parents=True)
    for i, crop in enumerate(crops(count)):
        Image.fromarray(crop).save(folder / f"{i:05d}.png")
    return folder


def _timed(args: list, cache: Path) -> float:
    env = dict(os.environ, GENTOOLS_CACHE=str(cache))
    started = time.perf_counter()
    subprocess.run([str(BIN), *map(str, args)], env=env, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--rate-images", type=int, default=400)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = tmp / "w.pth"
        subprocess.run([str(BIN), "weights", "random", "inception", "-o", str(weights)], check=True,
                       stdout=subprocess.DEVNULL)
        small = _images(tmp / "small", options.images)
        common = ["--weights", weights, "--workers", "0", "-q", "--overwrite"]

        auto = _timed(["extract", small, "-o", tmp / "a.h5", "--compile", "auto", *common], tmp / "cache-auto")
        never = _timed(["extract", small, "-o", tmp / "n.h5", "--compile", "never", *common], tmp / "cache-never")
        print(f"first extract of {options.images} images, empty cache: auto {auto:.1f} s, never {never:.1f} s, "
              f"auto - never {auto - never:+.1f} s")

        large = tmp / "large"
        large.mkdir()
        pngs = sorted(small.iterdir())
        for i in range(options.large):
            os.link(pngs[i % len(pngs)], large / f"{i:06d}.png")
        env = dict(os.environ, GENTOOLS_CACHE=str(tmp / "cache-large"))
        job = subprocess.Popen([str(BIN), "extract", str(large), "-o", str(tmp / "l.h5"), "--compile", "auto",
                                "--weights", str(weights), "--workers", "0"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        decision = ""
        for line in job.stderr:
            if "compiling" in line or "eagerly" in line:
                decision = line.strip()
                break
        job.send_signal(signal.SIGTERM)
        job.wait()
        print(f"extract of {options.large} images under --compile auto: {decision or 'no notice (?)'}")

        build_cache = tmp / "cache-build"
        always = _timed(["extract", small, "-o", tmp / "b.h5", "--compile", "always", *common], build_cache)
        build = always - never
        rates = _images(tmp / "rate", options.rate_images)
        eager_time = _timed(["extract", rates, "-o", tmp / "re.h5", "--compile", "never", *common], tmp / "c")
        compiled_time = _timed(["extract", rates, "-o", tmp / "rc.h5", "--compile", "always", *common], build_cache)
        extra = options.rate_images - options.images  # both runs pay the same start; the difference is the rate
        eager_small = never
        compiled_small = _timed(["extract", small, "-o", tmp / "bc.h5", "--compile", "always", *common],
                                build_cache)
        eager_rate = extra / (eager_time - eager_small)
        compiled_rate = extra / (compiled_time - compiled_small)
        saved = options.large / eager_rate - (build + options.large / compiled_rate)
        print(f"build {build:.0f} s; steady rates: eager {eager_rate:.2f} img/s, compiled {compiled_rate:.2f} img/s; "
              f"a {options.large}-image job saves {saved:.0f} s ({saved / 60:.1f} min) by compiling "
              f"(break-even at {build / (1 / eager_rate - 1 / compiled_rate):.0f} images)")


if __name__ == "__main__":
    main()
