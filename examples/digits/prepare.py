"""Offline data and models for the digits demo: sklearn's bundled 8x8 digits, no download.

Writes, under OUT (default: this folder):
  data/train/, data/valid/, data/test/   real digits as 8x8 PNGs (a fixed shuffled split)
  data/noise/                            uniform-noise 8x8 PNGs (a "model" that learned nothing)
  data/{train,valid,test}_labels.tsv     each image's digit (id<TAB>label, for extract --labels)
  models/classifier.pt2   the digits classifier, exported (torch.export): the feature backbone (pt2:), 32-d
                          penultimate features + 10 logits (the offline stand-in for Inception)
  models/vae_decoder.pt2  VAE decoder, latents [B, 8] -> images [B, 1, 8, 8] in [-1, 1]
  models/vae_encoder.pt2  VAE encoder, images [B, 3, 8, 8] in [-1, 1] -> (mu, logvar)
  models/vae_step{N}.pt2  decoder checkpoints during training (for tracking a training run)
  models/vae2_decoder.pt2 a second, weaker model: 2-d latent, trained briefly
  Each is an exported program with a dynamic batch dimension (see export()), the format
  `--generator`, `pt2:` and `interp` take.
  recon/test/, recon/vae/, recon/vae2/  the first 200 test digits and each VAE's reconstruction of them (the
                         encoder's mean, decoded), upscaled 4x to 32x32 (LPIPS' AlexNet needs more than 8x8):
                         the paired metrics (ssim, psnr, lpips) score each reconstruction against its digit by id
  results/run.jsonl      the VAE's training log: loss and gradient norm every 20 steps (gentools.log), and
                         FID of 500 samples against the test digits at each checkpoint (gentools.Evaluator)

Usage: python prepare.py data OUT | python prepare.py models OUT   (the Makefile calls these)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

SEED = 0
CHECKPOINTS = (20, 100, 400, 1500)


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.RandomState(SEED).permutation(len(data.target))
    images = (data.images[order] / 16 * 255).round().astype(np.uint8)
    return images, data.target[order]


def write_data(out: Path) -> None:
    from PIL import Image

    images, labels = digits()
    parts = {"train": slice(0, 1000), "valid": slice(1000, 1300), "test": slice(1300, None)}
    splits = {name: images[part] for name, part in parts.items()}
    splits["noise"] = np.random.RandomState(SEED).randint(0, 256, (400, 8, 8), dtype=np.uint8)
    for name, rows in splits.items():
        folder = out / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(rows):
            Image.fromarray(image, mode="L").save(folder / f"{i:04d}.png")
        if name in parts:  # id<TAB>digit, for extract --labels
            (out / "data" / f"{name}_labels.tsv").write_text(
                "".join(f"{i:04d}.png\t{digit}\n" for i, digit in enumerate(labels[parts[name]])))


class Classifier(nn.Module):
    """MLP on grey 8x8 pixels. forward: float [B, 3, 8, 8] in 0..1 -> (32-d features, 10 logits)."""

    def __init__(self):
        super().__init__()
        self.layer = "penultimate"
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU())
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        features = self.body(x.mean(dim=1).flatten(1))
        return features, self.head(features)


class Encoder(nn.Module):
    def __init__(self, latent: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 2 * latent))
        self.latent = latent

    def forward(self, x):
        """images [B, 3, 8, 8] in [-1, 1] -> (mu, logvar)."""
        h = self.net(((x.mean(dim=1) + 1) / 2).flatten(1))
        return h[:, :self.latent], h[:, self.latent:]


class Decoder(nn.Module):
    def __init__(self, latent: int):
        super().__init__()
        self.latent_dim = latent
        self.net = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 64))

    def forward(self, z):
        """latents [B, latent] -> images [B, 1, 8, 8] in [-1, 1]."""
        return (torch.sigmoid(self.net(z)) * 2 - 1).view(-1, 1, 8, 8)


def train_classifier(images, labels) -> Classifier:
    torch.manual_seed(SEED)
    model = Classifier()
    x = torch.from_numpy(images[:1000]).float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
    y = torch.from_numpy(labels[:1000]).long()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x)[1], y)
        loss.backward()
        opt.step()
    return model.eval()


def train_vae(images, latent: int, steps: int, checkpoint=None, monitor=None):
    torch.manual_seed(SEED)
    enc, dec = Encoder(latent), Decoder(latent)
    x = torch.from_numpy(images[:1000]).float().div(255).flatten(1)
    x3 = (x.view(-1, 1, 8, 8) * 2 - 1).expand(-1, 3, -1, -1)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=2e-3)
    generator = torch.Generator().manual_seed(SEED)
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x), (128,), generator=generator)
        mu, logvar = enc(x3[idx])
        z = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()
        recon = (dec(z).view(-1, 64) + 1) / 2
        rec = nn.functional.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), x[idx], reduction="sum") / 128
        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / 128
        opt.zero_grad()
        (rec + kl).backward()
        grads = [p.grad for p in list(enc.parameters()) + list(dec.parameters())]
        grad_norm = float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
        opt.step()
        if monitor:
            monitor(step, dec, loss=float(rec + kl), grad_norm=grad_norm)
        if checkpoint and step in CHECKPOINTS:
            checkpoint(step, dec)
    return enc.eval(), dec.eval()


def write_models(out: Path) -> None:
    images, labels = digits()
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    classifier = train_classifier(images, labels)
    with torch.no_grad():
        x = torch.from_numpy(images[1300:]).float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
        accuracy = (classifier(x)[1].argmax(1).numpy() == labels[1300:]).mean()
    print(f"classifier test accuracy {accuracy:.3f}", file=sys.stderr)
    pixels = torch.zeros(2, 3, 8, 8)
    export(classifier, pixels, models / "classifier.pt2")

    def save(step, decoder):
        export(decoder.eval(), torch.zeros(2, 8), models / f"vae_step{step}.pt2")
        decoder.train()

    encoder, decoder = train_vae(images, 8, CHECKPOINTS[-1], save, training_monitor(out, models / "classifier.pt2"))
    export(decoder, torch.zeros(2, 8), models / "vae_decoder.pt2")
    export(encoder, pixels, models / "vae_encoder.pt2")
    weak_encoder, weak = train_vae(images, 2, 150)
    export(weak, torch.zeros(2, 2), models / "vae2_decoder.pt2")
    write_reconstructions(out, images[1300:1500], {"vae": (encoder, decoder), "vae2": (weak_encoder, weak)})


def write_reconstructions(out: Path, digits_8x8: np.ndarray, models: dict) -> None:
    """recon/test/NNNN.png and recon/MODEL/NNNN.png: the digits and each model's reconstruction, 4x upscaled."""
    from PIL import Image

    x = torch.from_numpy(digits_8x8).float().div(127.5).sub(1).unsqueeze(1).expand(-1, 3, -1, -1)
    sets = {"test": digits_8x8}
    with torch.no_grad():
        for name, (encoder, decoder) in models.items():
            mean, _ = encoder(x)
            sets[name] = decoder(mean)[:, 0].add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    for name, rows in sets.items():
        folder = out / "recon" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(rows):
            Image.fromarray(np.kron(image, np.ones((4, 4), np.uint8)), mode="L").save(folder / f"{i:04d}.png")


def export(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    """``module`` as an exported program with a dynamic batch dimension (docs/extract.md's recipe)."""
    program = torch.export.export(module.eval(), (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))


def training_monitor(out: Path, classifier: Path):
    """Evaluate inside the training loop: loss and gradient norm every 20 steps with gentools.log, and FID of
    500 samples against the test digits at each checkpoint with a gentools.Evaluator. The latents are those of
    `gentools extract --generator ... --num-samples 500` (seed 2020), so the FID logged here equals the one the
    Makefile computes from the saved checkpoint."""
    import gentools
    from gentools.features.generators import latents as generator_latents

    log = out / "results" / "run.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    backbone = f"pt2:{classifier}"
    reference = gentools.extract(str(out / "data" / "test"), backbone=backbone, workers=0)
    evaluator = gentools.Evaluator(reference, metrics=["fid"], backbone=backbone, device="cpu")
    latents = torch.from_numpy(generator_latents(2020, range(500), 8))

    def monitor(step: int, decoder, **scalars) -> None:
        if step in CHECKPOINTS:  # the weights saved as vae_step{step}.pt2
            evaluator.reset()
            with torch.no_grad():
                evaluator.update(decoder(latents))
            evaluator.log(log, step=step, **scalars)
        elif step % 20 == 0:
            gentools.log(log, step=step, **scalars)

    return monitor


if __name__ == "__main__":
    # The same models on every run: one thread (a parallel reduction's order varies with the thread
    # schedule, and training amplifies it: recall 0.5976 vs 0.5835 in two runs) and deterministic kernels.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    what, out = sys.argv[1], Path(sys.argv[2] if len(sys.argv) > 2 else ".")
    {"data": write_data, "models": write_models}[what](out)
