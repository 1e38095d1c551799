"""The paired commands (ssim, ms-ssim, psnr): pairing by id, unmatched ids, explicit pairs, failed pairs, output."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

import gentools
from tests.conftest import parse_tsv, run_cli

skimage_metrics = pytest.importorskip("skimage.metrics")


@pytest.fixture
def pair_folders(tmp_path):
    """gen/ and ref/ of 6 RGB 32x40 images each (one in a subfolder), gen a noisy copy of ref."""
    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d", "e", "sub/f"]
    images = {}
    for name in names:
        ref = np.kron(rng.integers(0, 256, (4, 5, 3)), np.ones((8, 8, 1))).astype(np.uint8)
        gen = np.clip(ref.astype(int) + rng.integers(-40, 41, ref.shape), 0, 255).astype(np.uint8)
        images[name] = (gen, ref)
        for side, image in (("gen", gen), ("ref", ref)):
            path = tmp_path / side / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
    return tmp_path, images


def _values(*argv) -> dict:
    proc = run_cli(*argv, "-q", check=0)
    return {k: float(v) for k, v in parse_tsv(proc.stdout).items()}


def test_ssim_psnr_equal_skimage_per_pair_and_order_does_not_matter(pair_folders):
    root, images = pair_folders
    expected = np.mean([skimage_metrics.structural_similarity(g, r, channel_axis=-1, gaussian_weights=True,
                                                              sigma=1.5, use_sample_covariance=False, data_range=255)
                        for g, r in images.values()])
    got = _values("ssim", root / "gen", root / "ref", "--per-item", root / "ssim.tsv")
    assert got == {"ssim": pytest.approx(expected, abs=1e-9), "pairs_scored": 6, "pairs_failed": 0}
    rows = [line.split("\t") for line in (root / "ssim.tsv").read_text().splitlines()]
    assert rows[0] == ["id", "ref_id", "ssim", "reason"] and [r[0] for r in rows[1:]] == list(images)
    # the reference in an archive whose members are in another order: the same pairs, the same numbers
    with zipfile.ZipFile(root / "ref.zip", "w") as archive:
        for name in reversed(list(images)):
            archive.write(root / "ref" / f"{name}.png", f"{name}.png")
    assert _values("ssim", root / "gen", root / "ref.zip")["ssim"] == pytest.approx(expected, abs=1e-12)
    psnr = _values("psnr", root / "gen", root / "ref")
    assert psnr["psnr"] == pytest.approx(np.mean([skimage_metrics.peak_signal_noise_ratio(r, g)
                                                  for g, r in images.values()]), rel=1e-9)
    assert psnr["psnr_identical"] == 0


def test_unmatched_ids_are_an_error_naming_them_unless_allowed(pair_folders):
    root, _ = pair_folders
    (root / "ref" / "c.png").unlink()
    proc = run_cli("ssim", root / "gen", root / "ref")
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1
    assert "1 generated ids have no reference" in proc.stderr.decode() and ": c;" in proc.stderr.decode()
    got = _values("ssim", root / "gen", root / "ref", "--allow-unmatched")
    assert (got["pairs_scored"], got["unmatched_gen"], got["unmatched_ref"]) == (5, 1, 0)


def test_pairs_file_maps_differently_named_items(pair_folders, tmp_path):
    root, images = pair_folders
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for k, name in enumerate(images):
        (renamed / f"ref_{k}.png").write_bytes((root / "ref" / f"{name}.png").read_bytes())
    (tmp_path / "pairs.tsv").write_text("".join(f"{name}\tref_{k}\n" for k, name in enumerate(images)))
    got = _values("psnr", root / "gen", renamed, "--pairs", tmp_path / "pairs.tsv")
    assert got["psnr"] == pytest.approx(_values("psnr", root / "gen", root / "ref")["psnr"], rel=1e-12)
    (tmp_path / "pairs.tsv").write_text("a\n")
    proc = run_cli("psnr", root / "gen", renamed, "--pairs", tmp_path / "pairs.tsv")
    assert proc.returncode == 1 and "pairs.tsv:1: expected gen_id<TAB>ref_id" in proc.stderr.decode()


def test_an_undecodable_image_is_a_failed_pair_with_its_reason_not_a_dropped_one(pair_folders):
    root, _ = pair_folders
    (root / "gen" / "b.png").write_bytes(b"not a png")
    proc = run_cli("ssim", root / "gen", root / "ref", "--per-item", root / "p.tsv", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["values"]["pairs_scored"] == 5 and record["values"]["pairs_failed"] == 1
    assert "scored 5 of 6 pairs" in proc.stderr.decode()
    row = next(r.split("\t") for r in (root / "p.tsv").read_text().splitlines() if r.startswith("b\t"))
    assert row[2] == "nan" and row[3] == "gen: not a recognised image format"
    assert record["params"]["preset"] == "wang" and record["params"]["data_range"] == 255


def test_float_arrays_need_their_range_and_8_bit_images_keep_theirs(pair_folders, tmp_path):
    root, images = pair_folders
    gen = np.stack([g for g, _ in images.values()]).astype(np.float32) / 255
    ref = np.stack([r for _, r in images.values()]).astype(np.float32) / 255
    with pytest.raises(gentools.GentoolsError, match="float inputs need data_range"):
        gentools.ssim(gen, ref)
    from_floats = gentools.ssim(gen, ref, data_range=1.0)["ssim"]
    assert from_floats == pytest.approx(_values("ssim", root / "gen", root / "ref")["ssim"], abs=1e-6)
    proc = run_cli("ssim", root / "gen", root / "ref", "--data-range", "1")
    assert proc.returncode == 2 and "on 8-bit images, whose range is 255" in proc.stderr.decode()


def test_ms_ssim_refuses_a_pair_under_161_px_in_one_line(pair_folders):
    root, _ = pair_folders
    proc = run_cli("ms-ssim", root / "gen", root / "ref")
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1
    assert "need both sides at least 161 px" in proc.stderr.decode()


def test_psnr_counts_identical_pairs_and_bootstraps_over_pairs(pair_folders):
    root, _ = pair_folders
    (root / "gen" / "a.png").write_bytes((root / "ref" / "a.png").read_bytes())
    got = _values("psnr", root / "gen", root / "ref", "--bootstrap", "200", "--seed", "1")
    assert got["psnr_identical"] == 1 and got["pairs_scored"] == 6
    assert got["psnr_ci_low"] < got["psnr"] < got["psnr_ci_high"]
    assert got == _values("psnr", root / "gen", root / "ref", "--bootstrap", "200", "--seed", "1")


def test_api_equals_cli_for_every_paired_registration(pair_folders, tmp_path):
    """Float for float: gentools.NAME(GEN, REF) is what `gentools NAME GEN REF` prints; a features file is refused."""
    import torch

    from gentools.api import registry
    from gentools.features.backbones.lpips import torchvision_features

    root, _ = pair_folders
    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in torchvision_features("alex").state_dict().items()}, tmp_path / "t.pth")
    options = {"lpips": {"weights": str(tmp_path / "t.pth")}}  # its lin layers: the installed lpips package's
    paired = [m for m in registry.metrics().values()
              if m.paired and {"data_range", "pixel_range"} & set(m.keywords)]  # images
    assert {m.name for m in paired} >= {"ssim", "ms-ssim", "psnr", "lpips"}
    for metric in paired:
        if metric.name == "ms-ssim":
            continue  # 32x40 images: the refusal above
        given = options.get(metric.name, {})
        from_api = getattr(gentools, metric.api_name)(str(root / "gen"), str(root / "ref"), **given)
        flags = [x for key, value in given.items() for x in ("--" + key.replace("_", "-"), value)]
        assert dict(from_api) == _values(metric.name, root / "gen", root / "ref", *flags)
    (root / "f.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    proc = run_cli("ssim", root / "f.h5", root / "ref")
    assert proc.returncode == 1 and "f.h5: not an image, nor a folder" in proc.stderr.decode()
