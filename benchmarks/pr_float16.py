"""How much the float16 rounding of ADM's and StyleGAN's P&R moves the numbers, on 10k real features.

Real data: 10,000 + 10,000 random 16x16 crops of sklearn's two sample photos
(disjoint seeds), as pixel features (768-d, x/255). Prints precision,
recall, density, coverage with k=3 and `<=` from float32 features and from
float16-rounded ones (``prdc --preset adm/stylegan``), and the difference.

    python benchmarks/pr_float16.py [-n 10000]
"""

from __future__ import annotations

import argparse

import numpy as np

from gentools.metrics.prdc import prdc


def crops(count: int, size: int, seed: int) -> np.ndarray:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.RandomState(seed)
    out = np.empty((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        photo = photos[i % len(photos)]
        y, x = rng.randint(0, photo.shape[0] - size), rng.randint(0, photo.shape[1] - size)
        out[i] = photo[y:y + size, x:x + size]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10000)
    args = parser.parse_args()
    real = crops(args.n, 16, 0).reshape(args.n, -1).astype(np.float32) / 255
    gen = crops(args.n, 16, 1).reshape(args.n, -1).astype(np.float32) / 255
    exact = prdc(real, gen, 3, strict=False)
    rounded = prdc(real, gen, 3, strict=False, float16=True)
    print("metric\tfloat32\tfloat16\tdifference")
    for name in exact:
        print(f"{name}\t{exact[name]:.6f}\t{rounded[name]:.6f}\t{rounded[name] - exact[name]:+.6f}")


if __name__ == "__main__":
    main()
