"""--preset reproduces each tool's numbers on the same features: against the running package where it installs
(torch-fidelity, clean-fid, prdc), else against a transcription of the evaluator's own code, whose lines are quoted
in each test (read with the search tool's read_file from openai/guided-diffusion, NVlabs/stylegan2-ada-pytorch,
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
from tests.conftest import cli_env, parse_tsv, run_cli


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    rng = np.random.RandomState(0)
    gen, ref = rng.randn(300, 16) + 0.2, rng.randn(250, 16)
    logits = rng.randn(12000, 30) * 3
    for name, value in (("gen", gen), ("ref", ref), ("logits", logits)):
        np.save(root / f"{name}.npy", value)
    return root, gen, ref, logits


def _values(*argv, env=None):
    return {k: float(v) for k, v in parse_tsv(run_cli(*argv, "-q", check=0, env=env).stdout).items()}


def _one_line_error(*argv, env=None):
    """Run a command that must fail with one stderr line (``-q``: warnings off) and exit 1."""
    proc = run_cli(*argv, "-q", env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("gentools: error:"), err
    return err


def test_torch_fidelity_preset_is_and_pr(arrays):
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    root, gen, ref, logits = arrays
    ours = _values("is", root / "logits.npy", "--preset", "torch-fidelity")
    theirs = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=True, rng_seed=2020)
    assert ours["is_mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert ours["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-6)
    ours = _values("prdc", root / "gen.npy", root / "ref.npy", "--preset", "torch-fidelity")
    precision, recall = calculate_precision_recall_full(torch.from_numpy(gen), torch.from_numpy(ref), neighborhood=3)
    assert ours["precision"] == pytest.approx(precision, abs=1e-6) and ours["recall"] == pytest.approx(recall, abs=1e-6)


def test_clean_fid_and_stylegan_kid_clamp(arrays):
    """stylegan2-ada-pytorch metrics/kernel_inception_distance.py:
    ``m = min(min(real_features.shape[0], gen_features.shape[0]), max_subset_size)``, generated rows drawn first."""
    from cleanfid.fid import kernel_distance

    root, gen, ref, _ = arrays
    np.random.seed(7)
    theirs = kernel_distance(ref, gen)  # clean-fid: (reference, generated), 100 x min(n, 1000)
    for preset in ("clean-fid", "stylegan"):
        ours = _values("kid", root / "gen.npy", root / "ref.npy", "--preset", preset, "--seed", "7")
        assert ours["kid_mean"] == pytest.approx(theirs, rel=1e-9)
    _one_line_error("kid", root / "gen.npy", root / "ref.npy", "--preset", "torch-fidelity")


def _adm_inception_score(probs: np.ndarray, split_size: int = 5000) -> float:
    """guided-diffusion evaluations/evaluator.py ``compute_inception_score``, transcribed:
    ``for i in range(0, len(preds), split_size):``
    ``    part = preds[i : i + split_size]``
    ``    kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))``
    ``    kl = np.mean(np.sum(kl, 1))``
    ``    scores.append(np.exp(kl))``
    ``return float(np.mean(scores))``"""
    scores = []
    for i in range(0, len(probs), split_size):
        part = probs[i: i + split_size]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return float(np.mean(scores))


def _stylegan_inception_score(gen_probs: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """stylegan2-ada-pytorch metrics/inception_score.py ``compute_is``, transcribed:
    ``part = gen_probs[i * num_gen // num_splits : (i + 1) * num_gen // num_splits]``
    ``kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))``
    ``return float(np.mean(scores)), float(np.std(scores))``"""
    num_gen, scores = len(gen_probs), []
    for i in range(num_splits):
        part = gen_probs[i * num_gen // num_splits: (i + 1) * num_gen // num_splits]
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def _softmax(logits):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_adm_and_stylegan_is_settings(arrays):
    root, _, _, logits = arrays
    adm = _values("is", root / "logits.npy", "--preset", "adm")
    assert adm["is_mean"] == pytest.approx(_adm_inception_score(_softmax(logits)), rel=1e-9)  # chunks of 5000
    stylegan = _values("is", root / "logits.npy", "--preset", "stylegan")
    mean, std = _stylegan_inception_score(_softmax(logits))
    assert stylegan["is_mean"] == pytest.approx(mean, rel=1e-9) and stylegan["is_std"] == pytest.approx(std, rel=1e-6)


def test_adm_extract_stores_unbiased_logits_and_is_matches_evaluator(tmp_path, image_folder, inception_weights):
    """guided-diffusion evaluations/evaluator.py ``_create_softmax_graph``: ``w = matmul.inputs[1]``,
    ``logits = tf.matmul(input_batch, w)``, ``return tf.nn.softmax(logits)``: pool3 · Wᵀ, no fc bias."""
    from gentools import store

    out = tmp_path / "adm.h5"
    run_cli("extract", image_folder, "--weights", inception_weights, "--preset", "adm", "-o", out, "--workers", "0",
            "-q", check=0)
    state = torch.load(inception_weights, weights_only=True)
    with store.open_input(str(out)) as f:
        assert f.provenance["resize"] == "tf" and f.provenance["preset"] == "adm" and "is_logits" not in f.provenance
        pool3 = f.array().astype(np.float64)
        logits = pool3 @ state["fc.weight"].numpy().T.astype(np.float64)
        stored = f.array("logits")
    assert np.abs(stored - logits).max() <= 1e-4 * np.abs(logits).max()
    softmax = _softmax(logits.astype(np.float32))  # tf.nn.softmax on float32 logits
    ours = _values("is", out, "--preset", "adm")
    assert ours["is_mean"] == pytest.approx(_adm_inception_score(softmax), rel=1e-6)


def test_is_refuses_logits_with_fc_bias_from_older_files(tmp_path):
    from gentools import store

    path = str(tmp_path / "old.h5")
    store.write_features(path, {"features": np.ones((20, 4)), "logits": np.random.RandomState(0).randn(20, 8)},
                         {"backbone": "inception", "is_logits": "biased", "preset": "adm"})
    err = _one_line_error("is", path, "--preset", "adm")
    assert "fc bias" in err and "re-extract" in err and "old.h5" in err


def _stylegan_fid(gen: np.ndarray, ref: np.ndarray) -> float:
    """stylegan2-ada-pytorch: metrics/metric_utils.py ``FeatureStats``
    ``self.raw_mean += x64.sum(axis=0)``, ``self.raw_cov += x64.T @ x64``, ``get_mean_cov``:
    ``mean = self.raw_mean / self.num_items``, ``cov = self.raw_cov / self.num_items``,
    ``cov = cov - np.outer(mean, mean)``; metrics/frechet_inception_distance.py:
    ``m = np.square(mu_gen - mu_real).sum()``,
    ``s, _ = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real), disp=False)``,
    ``fid = np.real(m + np.trace(sigma_gen + sigma_real - s * 2))``"""
    import scipy.linalg

    def mean_cov(x):
        x64 = x.astype(np.float32).astype(np.float64)
        mean = x64.sum(axis=0) / len(x64)
        return mean, (x64.T @ x64) / len(x64) - np.outer(mean, mean)

    (mu_gen, sigma_gen), (mu_real, sigma_real) = mean_cov(gen), mean_cov(ref)
    m = np.square(mu_gen - mu_real).sum()
    s = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real))  # disp=False is deprecated in SciPy; same matrix
    return float(np.real(m + np.trace(sigma_gen + sigma_real - s * 2)))


def test_fid_stylegan_preset_uses_ddof0_covariance(feature_files, gaussian_pair, tmp_path):
    gen_h5, ref_h5 = feature_files
    expected = _stylegan_fid(*gaussian_pair)
    ours = _values("fid", gen_h5, ref_h5, "--preset", "stylegan")["fid"]
    default = _values("fid", gen_h5, ref_h5)["fid"]
    assert ours == pytest.approx(expected, rel=1e-6)
    assert abs(ours - default) > 1e-3 * default  # n = 600 and 500: the two estimators differ visibly
    stats = tmp_path / "ref_stats.h5"
    run_cli("stats", ref_h5, "-o", stats, "-q", check=0)
    assert _values("fid", gen_h5, stats, "--preset", "stylegan")["fid"] == pytest.approx(expected, rel=1e-6)
    bare = tmp_path / "bare.npz"  # foreign stats carry no n: no exact conversion
    np.savez(bare, mu=np.zeros(32), sigma=np.eye(32))
    assert "ddof=0" in _one_line_error("fid", gen_h5, bare, "--preset", "stylegan")


def _stylegan_pr(real: np.ndarray, gen: np.ndarray, nhood_size: int = 3) -> tuple[float, float]:
    """stylegan2-ada-pytorch metrics/precision_recall.py ``compute_pr``, transcribed on one device:
    features ``.get_all_torch().to(torch.float16)``; per manifold
    ``kth.append(dist.to(torch.float32).kthvalue(nhood_size + 1).values.to(torch.float16))`` and
    ``pred.append((dist <= kth).any(dim=1))``. torch has no float16 ``cdist`` on the CPU, so the distances of
    the float16 features are taken in float32 here (on a GPU StyleGAN's own are float16)."""
    real16 = torch.from_numpy(real).to(torch.float16).float()
    gen16 = torch.from_numpy(gen).to(torch.float16).float()
    results = {}
    for name, manifold, probes in (("precision", real16, gen16), ("recall", gen16, real16)):
        kth = torch.cdist(manifold[None], manifold[None])[0].kthvalue(nhood_size + 1).values
        dist = torch.cdist(probes[None], manifold[None])[0]
        results[name] = float((dist <= kth).any(dim=1).float().mean())
    return results["precision"], results["recall"]


def test_pr_float16_and_stylegan_backbone_guard(tmp_path, arrays):
    from gentools import store
    from gentools.metrics.prdc import prdc

    _, gen, ref, _ = arrays
    gen, ref = gen * 3.1, ref * 3.1  # float16 rounding moves these in the 3rd-4th digit
    vgg = {"backbone": "nvidia:vgg16", "layer": "return_features", "weights_sha256": "v", "resize": "x"}
    for name, value, prov in (("gen", gen, vgg), ("ref", ref, vgg), ("inc", ref, dict(vgg, backbone="inception"))):
        store.write_features(str(tmp_path / f"{name}.h5"), {"features": value}, prov)
    ours = _values("prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "stylegan")
    precision, recall = _stylegan_pr(ref, gen)
    # StyleGAN's mean is float32: equal counts, to float32 rounding (one sample weighs 1/300).
    assert ours["precision"] == pytest.approx(precision, abs=1e-6) and ours["recall"] == pytest.approx(recall, abs=1e-6)
    adm = _values("prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "adm")
    assert adm == ours  # same k, comparison and float16 rounding
    exact = prdc(ref.astype(np.float16).astype(np.float32), gen.astype(np.float16).astype(np.float32), 3,
                 strict=False)
    assert adm["precision"] == exact["precision"] and adm["density"] == exact["density"]
    err = _one_line_error("prdc", tmp_path / "gen.h5", tmp_path / "inc.h5", "--preset", "stylegan")
    assert "nvidia:vgg16" in err and "gentools extract" in err and "--backbone nvidia:vgg16.pt" in err


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
    from_pkl = _values("fid", gen_h5, pkl)["fid"]
    assert from_pkl == pytest.approx(_values("fid", gen_h5, stats_h5)["fid"], rel=1e-9)
    assert _values("fid", pkl, gen_h5)["fid"] == pytest.approx(from_pkl, rel=1e-9)
    prov = {"backbone": "dinov2:vitl14", "layer": "cls_token", "weights_sha256": "d", "resize": "torch-bicubic"}
    gen_dino = rng.randn(300, 24).astype(np.float32) + 0.1
    store.write_features(str(tmp_path / "dino.h5"), {"features": gen_dino}, prov)
    g64 = gen_dino.astype(np.float64)
    expected = frechet_distance(g64.mean(0), np.cov(g64, rowvar=False), dino_mu, dino_sigma)
    assert _values("fid", tmp_path / "dino.h5", pkl)["fid"] == pytest.approx(expected, rel=1e-9)
    store.write_features(str(tmp_path / "tv.h5"), {"features": gen_dino}, dict(prov, backbone="tv:resnet18"))
    err = _one_line_error("fid", tmp_path / "tv.h5", pkl)
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
    err = _one_line_error("fid", gen_h5, pkl)
    assert "refused" in err and "system" in err and not marker.exists()
    for command in (("kid", gen_h5, pkl), ("info", pkl)):
        _one_line_error(*command)
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
    ours = _values("is", out, "--preset", "stylegan")
    mean, std = _stylegan_inception_score(probs)
    assert ours["is_mean"] == pytest.approx(mean, rel=1e-6) and ours["is_std"] == pytest.approx(std, rel=1e-5)


def test_nvidia_weights_from_hub_cache_and_offline_error(tmp_path, image_folder, detectors):
    torch_home = tmp_path / "torch"
    env = cli_env(TORCH_HOME=str(torch_home), GENTOOLS_NVIDIA_URL=f"file://{tmp_path}/nowhere/")
    err = _one_line_error("extract", image_folder / "sub", "-b", "nvidia:vgg16.pt", "-o", tmp_path / "a.h5",
                          "--workers", "0", env=env)
    assert "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt" in err
    (torch_home / "hub" / "checkpoints").mkdir(parents=True, exist_ok=True)  # the failed fetch made it
    os.link(detectors / "vgg16.pt", torch_home / "hub" / "checkpoints" / "vgg16.pt")
    for name in ("gen", "ref"):
        run_cli("extract", image_folder, "-b", "nvidia:vgg16.pt", "-o", tmp_path / f"{name}.h5", "--workers", "0",
                "-q", env=env, check=0)
    values = _values("prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "stylegan")
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
