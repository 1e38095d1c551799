"""--preset's files and detectors: EDM2 reference pickles (restricted unpickler), NVIDIA's TorchScript metric
detectors (``nvidia:PATH``), EDM2's DINOv2 resize, and the ``presets`` table with its sources. The evaluators'
lines are quoted in each test (read with the search tool's read_file from NVlabs/stylegan2-ada-pytorch and
NVlabs/edm2)."""

from __future__ import annotations

import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gentools import presets
from gentools.presets import PRESETS
from tests.conftest import cli_env, cli_values, one_line_error, run_cli
from tests.test_presets import _stylegan_inception_score


def _edm2_pickle(path: Path, stats: dict, protocol: int) -> None:
    """As EDM2 calculate_metrics.py ``save_stats``: ``pickle.dump(stats, f)`` of
    ``r.stats = dict(num_images=r.num_images)``, ``r.stats[s.metric] = dict(mu=..., sigma=...)``."""
    with open(path, "wb") as f:
        pickle.dump(stats, f, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 5])
def test_edm2_pickle_gives_the_same_fid_as_a_stats_file(feature_files, tmp_path, protocol):
    from gentools import store
    from gentools.metrics.frechet import frechet_distance

    gen_h5, ref_h5 = feature_files
    stats_h5 = tmp_path / "ref_stats.h5"
    run_cli("stats", ref_h5, "-o", stats_h5, "-q", check=0)
    ref = store.open_input(str(stats_h5))
    rng = np.random.RandomState(1)
    dino = rng.randn(400, 24).astype(np.float32)
    dino_mu, dino_sigma = dino.astype(np.float64).mean(0), np.cov(dino.astype(np.float64), rowvar=False)
    pkl = tmp_path / "ref.pkl"
    _edm2_pickle(pkl, {"num_images": ref.n, "fid": {"mu": ref.mu, "sigma": ref.sigma},
                       "fd_dinov2": {"mu": dino_mu, "sigma": dino_sigma}}, protocol)
    from_pkl = cli_values("fid", gen_h5, pkl)["fid"]
    assert from_pkl == pytest.approx(cli_values("fid", gen_h5, stats_h5)["fid"], rel=1e-9)
    assert cli_values("fid", pkl, gen_h5)["fid"] == pytest.approx(from_pkl, rel=1e-9)
    prov = {"backbone": "dinov2:vitl14", "layer": "cls_token", "weights_sha256": "d", "resize": "torch-bicubic"}
    gen_dino = rng.randn(300, 24).astype(np.float32) + 0.1
    store.write_features(str(tmp_path / "dino.h5"), {"features": gen_dino}, prov)
    g64 = gen_dino.astype(np.float64)
    expected = frechet_distance(g64.mean(0), np.cov(g64, rowvar=False), dino_mu, dino_sigma)
    assert cli_values("fid", tmp_path / "dino.h5", pkl)["fid"] == pytest.approx(expected, rel=1e-9)
    store.write_features(str(tmp_path / "tv.h5"), {"features": gen_dino}, dict(prov, backbone="tv:resnet18"))
    err = one_line_error("fid", tmp_path / "tv.h5", pkl)
    assert "fd_dinov2, fid" in err and "tv:resnet18" in err


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_pickle_is_refused_and_nothing_runs(feature_files, tmp_path):
    marker = tmp_path / "ran"
    pkl = tmp_path / "evil.pkl"
    _edm2_pickle(pkl, {"fid": {"mu": _Evil(marker), "sigma": np.eye(2)}}, 4)
    gen_h5, _ = feature_files
    err = one_line_error("fid", gen_h5, pkl)
    assert "refused" in err and "system" in err and not marker.exists()
    for command in (("kid", gen_h5, pkl), ("info", pkl)):
        one_line_error(*command)
    assert not marker.exists()


class _InceptionDetector(torch.nn.Module):
    """A stand-in with the call signature of NVIDIA's inception-2015-12-05.pt (random weights): uint8
    [N, 3, H, W] in, resized inside; ``return_features=True`` -> features, ``no_output_bias=True`` -> softmax
    probabilities without the output bias (stylegan2-ada-pytorch metrics/frechet_inception_distance.py
    ``detector_kwargs = dict(return_features=True)``; metrics/inception_score.py
    ``detector_kwargs = dict(no_output_bias=True)``)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = torch.nn.Parameter(torch.randn(3 * 8 * 8, 12, generator=g), requires_grad=False)
        self.fc = torch.nn.Parameter(torch.randn(12, 10, generator=g) * 0.3, requires_grad=False)
        self.bias = torch.nn.Parameter(torch.randn(10, generator=g), requires_grad=False)

    def forward(self, img: torch.Tensor, return_features: bool = False, no_output_bias: bool = False):
        assert img.dtype == torch.uint8
        features = F.interpolate(img.to(torch.float32), size=(8, 8), mode="area").flatten(1) @ self.proj / 255
        if return_features:
            return features
        logits = features @ self.fc
        if not no_output_bias:
            logits = logits + self.bias
        return torch.softmax(logits, dim=1)


class _VGGDetector(torch.nn.Module):
    """A stand-in with the call signature of NVIDIA's vgg16.pt (metrics/precision_recall.py
    ``detector_kwargs = dict(return_features=True)``)."""

    def __init__(self):
        super().__init__()
        self.inner = _InceptionDetector()

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False,
                return_features: bool = False):
        return self.inner(img, return_features=True) * 2


@pytest.fixture(scope="module")
def detectors(tmp_path_factory):
    root = tmp_path_factory.mktemp("nvidia")
    for name, module in (("inception-2015-12-05.pt", _InceptionDetector()), ("vgg16.pt", _VGGDetector())):
        torch.jit.save(torch.jit.script(module), str(root / name))
    return root


def _batches_of(image_folder, ids, size):
    from PIL import Image

    images = np.stack([np.asarray(Image.open(image_folder / i).convert("RGB")) for i in ids])
    return [torch.from_numpy(images[i:i + size]).permute(0, 3, 1, 2) for i in range(0, len(images), size)]


def test_nvidia_detector_called_as_stylegan_calls_it(tmp_path, image_folder, detectors):
    from gentools import store

    out = tmp_path / "nv.h5"
    run_cli("extract", image_folder, "-b", f"nvidia:{detectors / 'inception-2015-12-05.pt'}", "--batch-size", "8",
            "--workers", "0", "-o", out, "-q", check=0)
    module = torch.jit.load(str(detectors / "inception-2015-12-05.pt"))
    with store.open_input(str(out)) as f:
        ids = list(f.raw("ids"))
        features, logits = f.array(), f.array("logits")
        assert f.provenance["backbone"] == "nvidia:inception-2015-12-05"
    batches = _batches_of(image_folder, ids, 8)
    with torch.inference_mode():
        expected = torch.cat([module(b, return_features=True) for b in batches]).numpy()
        probs = torch.cat([module(b, no_output_bias=True) for b in batches]).numpy()
    np.testing.assert_array_equal(features, expected)
    np.testing.assert_allclose(logits, np.log(probs.astype(np.float64)), rtol=1e-6)  # log p, stored as float32
    ours = cli_values("is", out, "--preset", "stylegan")
    mean, std = _stylegan_inception_score(probs)
    assert ours["is_mean"] == pytest.approx(mean, rel=1e-6) and ours["is_std"] == pytest.approx(std, rel=1e-5)


def test_nvidia_weights_from_hub_cache_and_offline_error(tmp_path, image_folder, detectors):
    torch_home = tmp_path / "torch"
    env = cli_env(TORCH_HOME=str(torch_home), GENTOOLS_NVIDIA_URL=f"file://{tmp_path}/nowhere/")
    err = one_line_error("extract", image_folder / "sub", "-b", "nvidia:vgg16.pt", "-o", tmp_path / "a.h5",
                          "--workers", "0", env=env)
    assert "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt" in err
    (torch_home / "hub" / "checkpoints").mkdir(parents=True, exist_ok=True)  # the failed fetch made it
    os.link(detectors / "vgg16.pt", torch_home / "hub" / "checkpoints" / "vgg16.pt")
    for name in ("gen", "ref"):
        run_cli("extract", image_folder, "-b", "nvidia:vgg16.pt", "-o", tmp_path / f"{name}.h5", "--workers", "0",
                "-q", env=env, check=0)
    values = cli_values("prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "stylegan")
    assert values["precision"] == 1.0 and values["recall"] == 1.0  # the same images on both sides


def test_edm2_resize_equals_dinov2_detector_transform(tmp_path):
    """EDM2 calculate_metrics.py ``DINOv2Detector.__call__`` with ``resize_mode='torch'``, transcribed:
    ``x = torch.nn.functional.interpolate(x.to(torch.float32), size=(224, 224), mode='bicubic', antialias=True)``
    ``x = x.to(torch.float32) / 255``
    ``x = x - misc.const_like(x, [0.485, 0.456, 0.406]).reshape(1, -1, 1, 1)``
    ``x = x / misc.const_like(x, [0.229, 0.224, 0.225]).reshape(1, -1, 1, 1)``"""
    from gentools.features.backbones.foundation import edm2_dinov2_input
    from tests.conftest import photo_crops

    for size in ((37, 45), (301, 173), (224, 224)):
        x = torch.from_numpy(np.stack(photo_crops(2, size, seed=5))).permute(0, 3, 1, 2)
        edm2 = F.interpolate(x.to(torch.float32), size=(224, 224), mode="bicubic", antialias=True)
        edm2 = edm2.to(torch.float32) / 255
        edm2 = edm2 - torch.tensor([0.485, 0.456, 0.406]).reshape(1, -1, 1, 1)
        edm2 = edm2 / torch.tensor([0.229, 0.224, 0.225]).reshape(1, -1, 1, 1)
        ours = edm2_dinov2_input(x)
        assert ours.shape == (2, 3, 224, 224) and float((ours - edm2).abs().max()) <= 1e-6


def test_edm2_preset_extracts_with_torch_resize(tmp_path):
    timm = pytest.importorskip("timm")
    from PIL import Image

    from gentools import store
    from gentools.features.backbones.foundation import edm2_dinov2_input
    from tests.conftest import photo_crops

    folder = tmp_path / "odd"
    folder.mkdir()
    crops = photo_crops(3, (37, 45), seed=2)
    for i, crop in enumerate(crops):
        Image.fromarray(crop).save(folder / f"{i}.png")
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch14_dinov2.lvd142m", pretrained=False, num_classes=0, img_size=224)
    torch.save(model.state_dict(), tmp_path / "dino.pth")
    out = tmp_path / "edm2.h5"
    run_cli("extract", folder, "--preset", "edm2", "-b", "dinov2:vits14", "--weights", tmp_path / "dino.pth",
            "--workers", "0", "-o", out, "-q", check=0)
    with store.open_input(str(out)) as f:
        assert f.provenance["resize"] == "torch-bicubic-antialias-224" and f.provenance["preset"] == "edm2"
        ours = f.array()
    with torch.inference_mode():
        expected = model.eval()(edm2_dinov2_input(torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2))).numpy()
    assert np.abs(ours - expected).max() <= 1e-5 * np.abs(expected).max()


def test_presets_table_and_sources():
    table = run_cli("presets", check=0).stdout.decode().splitlines()
    assert table[0].startswith("preset\tbackbone\tresize\tfid_ddof") and len(table) == 1 + len(PRESETS)
    rows = [line.split("\t") for line in run_cli("presets", "--sources", check=0).stdout.decode().splitlines()]
    assert rows[0] == ["preset", "setting", "value", "repo", "path", "line", "url"]
    assert {r[0] for r in rows[1:]} == set(PRESETS)
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("adm", "is_logits")][5] == "logits = tf.matmul(input_batch, w)"
    assert by_key[("stylegan", "fid_ddof")][5] == "cov = self.raw_cov / self.num_items"
    assert by_key[("stylegan", "fid_ddof")][6].startswith("https://github.com/NVlabs/stylegan2-ada-pytorch/")


def test_quoted_lines_of_installed_peers_are_in_their_source():
    """Every source line quoted from a package installed here is found verbatim in that package's file."""
    checked = 0
    for row in presets.sources():
        if row["repo"] not in presets.PACKAGE_REPOS or row["path"].endswith(".md"):
            continue
        module = row["path"].split("/")[0]
        folder = Path(importlib.util.find_spec(module).origin).parent
        text = (folder.parent / row["path"]).read_text()
        assert row["line"] in text, (row["preset"], row["setting"], row["line"])
        checked += 1
    assert checked >= 20
