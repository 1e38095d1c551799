"""``Evaluator(metrics=["psnr", "ssim", "lpips"]).update(recon, target=x)``: running sums that equal the commands
on the same pairs written to files (PNG for uint8, .npy for floats; WAV for speech), and the checks at
construction and on each batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import gentools
from gentools.errors import GentoolsError, InputError, MetricsError, UsageError
from tests.conftest import cli_values


@pytest.fixture
def trunk(tmp_path, monkeypatch):
    """Seeded random AlexNet trunk weights in torchvision's layout; no download can happen."""
    from gentools.features.backbones.lpips import torchvision_features

    pytest.importorskip("lpips")  # the lin layers: the installed package's weights/v0.1/alex.pth
    monkeypatch.setenv("GENTOOLS_WEIGHTS_MIRROR", "http://127.0.0.1:9")
    torch.manual_seed(0)
    path = tmp_path / "alex.pth"
    torch.save({f"features.{k}": v for k, v in torchvision_features("alex").state_dict().items()}, path)
    return str(path)


def _pairs(seed: int, count: int, size=(40, 48)) -> tuple:
    rng = np.random.default_rng(seed)
    ref = np.kron(rng.integers(0, 256, (count, 3, size[0] // 8, size[1] // 8)), np.ones((1, 1, 8, 8)))
    gen = np.clip(ref + rng.integers(-40, 41, ref.shape), 0, 255)
    return gen.astype(np.uint8), ref.astype(np.uint8)


def _write_png(folder, images, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images, start):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i:03d}.png")


def test_uint8_batches_equal_the_commands_on_png_files(tmp_path, trunk):
    gen, ref = _pairs(0, 7)
    gen[6] = ref[6]  # one identical pair: PSNR inf, counted apart
    ev = gentools.Evaluator(metrics={"psnr": {}, "ssim": {}, "lpips": {"weights": trunk}}, device="cpu")
    ev.update(torch.from_numpy(gen[:3]), target=torch.from_numpy(ref[:3]))
    ev.update(gen[3:], target=ref[3:])  # numpy too
    with pytest.warns(UserWarning, match="1 of 7 pairs are identical"):
        got = ev.compute()
    _write_png(tmp_path / "gen", gen)
    _write_png(tmp_path / "ref", ref)
    psnr = cli_values("psnr", tmp_path / "gen", tmp_path / "ref")
    ssim = cli_values("ssim", tmp_path / "gen", tmp_path / "ref")
    lpips = cli_values("lpips", tmp_path / "gen", tmp_path / "ref", "--weights", trunk)
    assert got["psnr"] == pytest.approx(psnr["psnr"], abs=1e-9) and got["psnr_identical"] == psnr["psnr_identical"] == 1
    assert got["ssim"] == pytest.approx(ssim["ssim"], abs=1e-9)
    assert got["lpips"] == pytest.approx(lpips["lpips"], abs=1e-6)
    assert got["pairs"] == 7 and ev.n == 7
    assert 0.2 < got["ssim"] < 0.99 and got["lpips"] > 0  # the pairs differ: nothing above is trivially equal
    ev.reset()
    ev.update(gen[:2], target=ref[:2])
    assert ev.compute()["pairs"] == 2


def test_float_batches_in_pixel_range_equal_the_api_on_arrays(tmp_path, trunk):
    gen, ref = (v.astype(np.float32) / 255 for v in _pairs(1, 5))
    ev = gentools.Evaluator(metrics={"psnr": {}, "ssim": {"preset": "skimage"}, "lpips": {"weights": trunk}},
                            pixel_range=(0, 1), device="cpu")
    for part in (slice(0, 2), slice(2, 5)):
        ev.update(torch.from_numpy(gen[part]), target=torch.from_numpy(ref[part]))
    got = ev.compute()
    np.save(tmp_path / "gen.npy", gen.transpose(0, 2, 3, 1))
    np.save(tmp_path / "ref.npy", ref.transpose(0, 2, 3, 1))
    assert got["psnr"] == pytest.approx(
        cli_values("psnr", tmp_path / "gen.npy", tmp_path / "ref.npy", "--data-range", "1")["psnr"], abs=1e-9)
    assert got["ssim"] == pytest.approx(gentools.ssim(gen.transpose(0, 2, 3, 1), ref.transpose(0, 2, 3, 1),
                                                      data_range=1.0, preset="skimage")["ssim"], abs=1e-9)
    assert got["lpips"] == pytest.approx(
        cli_values("lpips", tmp_path / "gen.npy", tmp_path / "ref.npy", "--pixel-range", "0,1",
                   "--weights", trunk)["lpips"], abs=1e-6)


def test_what_is_refused_at_construction_and_on_a_batch(tmp_path, trunk):
    with pytest.raises(UsageError, match="ssim takes preset in training; 'per_item' is an option of its command"):
        gentools.Evaluator(metrics={"ssim": {"per_item": "x.tsv"}})
    with pytest.raises(UsageError, match="lpips takes net, weights, lin_weights .*pixel_range applies"):
        gentools.Evaluator(metrics={"lpips": {"pixel_range": "0,1"}})
    with pytest.raises(UsageError, match="ref= feeds the metrics over stored features; psnr take"):
        gentools.Evaluator("ref.h5", metrics=["psnr"])
    with pytest.raises(UsageError, match="ssim score image and pesq score audio; one"):
        gentools.Evaluator(metrics=["ssim", "pesq"])
    ev = gentools.Evaluator(metrics=["psnr", "ssim"], device="cpu")
    gen, ref = _pairs(2, 4)
    with pytest.raises(UsageError, match=r"psnr, ssim need each output's target: update\(x, target=y\)"):
        ev.update(gen)
    ev.update(gen[:2], target=ref[:2])
    before = ev.compute()
    for bad, message in (((gen[2:], ref[2:, :, :32]), "must have one size and type"),
                         ((gen[2:].astype(np.float32) / 255 * 3, ref[2:].astype(np.float32) / 255),
                          r"must lie in \[-1, 1\]"),
                         ((gen[2:, :, :8, :8], ref[2:, :, :8, :8]), "the wang window needs both sides at least 11"),
                         ((gen[2:, 0], ref[2:, 0]), r"takes images \[B, 3, H, W\]")):
        with pytest.raises(InputError, match=message):
            ev.update(bad[0], target=bad[1])
    assert ev.compute() == before and ev.n == 2  # a refused batch changed nothing
    plain = gentools.Evaluator.__new__(gentools.Evaluator)  # target= without a paired metric
    plain._pairs = None
    with pytest.raises(UsageError, match="none is chosen"):
        gentools.Evaluator.update(plain, gen, target=ref)


def test_lpips_on_0_1_images_declared_minus_1_1_fails_at_compute_with_the_others_kept(trunk):
    gen, ref = (v.astype(np.float32) / 255 for v in _pairs(3, 3))
    ev = gentools.Evaluator(metrics={"psnr": {}, "lpips": {"weights": trunk}}, device="cpu")
    ev.update(gen, target=ref)
    with pytest.raises(MetricsError, match="lpips: every value lies in \\[0, 1\\]") as caught:
        ev.compute()
    assert set(caught.value.partial) == {"pairs", "psnr", "psnr_identical"}


def test_speech_batches_equal_the_commands_and_a_failed_pair_is_counted(tmp_path):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    soundfile = pytest.importorskip("soundfile")
    from tests.audio.test_speech_pairs import speech_like

    rate, rng = 16000, np.random.default_rng(0)
    clean = np.stack([speech_like(2.0, rate, seed) for seed in (1, 2, 3)])
    noisy = (clean + rng.normal(0, 0.02, clean.shape)).astype(np.float32)
    clean[2] = 0  # a silent reference: NaN with its reason, counted
    ev = gentools.Evaluator(metrics={"pesq": {"mode": "wb"}, "stoi": {}}, device="cpu")
    ev.update(torch.from_numpy(noisy[:1]), target=torch.from_numpy(clean[:1]), sample_rate=rate)
    ev.update(noisy[1:], target=clean[1:], sample_rate=rate)
    with pytest.warns(UserWarning) as caught:
        got = ev.compute()
    assert sorted(str(w.message) for w in caught) == [
        f"{name}: scored 2 of 3 pairs; 1 failed (first: the reference is silent)" for name in ("pesq", "stoi")]
    for side, signals in (("gen", noisy), ("ref", clean)):
        (tmp_path / side).mkdir()
        for i, signal in enumerate(signals):
            soundfile.write(tmp_path / side / f"{i}.wav", signal, rate, subtype="FLOAT")
    pesq = cli_values("pesq", tmp_path / "gen", tmp_path / "ref", "--workers", "0")
    stoi = cli_values("stoi", tmp_path / "gen", tmp_path / "ref", "--workers", "0")
    assert got["pesq"] == pesq["pesq"] and got["pesq_failed"] == pesq["pairs_failed"] == 1
    assert got["stoi"] == pytest.approx(stoi["stoi"], abs=1e-12) and got["stoi_failed"] == 1
    assert 1.0 < got["pesq"] < 4.7 and got["pairs"] == 3
    with pytest.raises(UsageError, match="need the waveforms' sample rate"):
        ev.update(noisy, target=clean)
    with pytest.raises(GentoolsError, match="NaN or Inf"):
        ev.update(noisy * np.nan, target=clean, sample_rate=rate)


def test_log_writes_the_paired_values_and_their_settings(tmp_path):
    import json

    gen, ref = _pairs(4, 3)
    ev = gentools.Evaluator(metrics=["ssim", "psnr"], device="cpu")
    ev.update(gen, target=ref)
    values = ev.log(tmp_path / "run.jsonl", step=10, loss=0.5)
    record = json.loads((tmp_path / "run.jsonl").read_text())
    assert record["values"]["ssim"] == values["ssim"] and record["values"]["loss"] == 0.5
    assert record["params"]["paired"]["ssim"] == {"preset": "wang"} and record["params"]["n"] == 3


def test_beside_a_metric_over_features_x_feeds_the_backbone_and_the_pairs(tmp_path):
    gen, ref = _pairs(5, 24, size=(16, 16))
    reference = gentools.extract(ref.transpose(0, 2, 3, 1), backbone="pixels:4:gray", workers=0)
    ev = gentools.Evaluator(reference, metrics=["fid", "psnr"], backbone="pixels:4:gray", device="cpu")
    ev.update(gen[:10], target=ref[:10])
    ev.update(gen[10:], target=ref[10:])
    got = ev.compute()
    alone = gentools.Evaluator(reference, metrics=["fid"], backbone="pixels:4:gray", device="cpu")
    alone.update(gen[:10])
    alone.update(gen[10:])
    assert got["fid"] == alone.compute()["fid"] > 0
    assert got["psnr"] == pytest.approx(gentools.psnr(gen.transpose(0, 2, 3, 1), ref.transpose(0, 2, 3, 1))["psnr"],
                                        abs=1e-9)
    assert got["pairs"] == ev.n == 24
