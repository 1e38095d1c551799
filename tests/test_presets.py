"""--preset reproduces each tool's numbers on the same features: against the running package where it installs
(torch-fidelity, clean-fid, prdc), else against a transcription of the evaluator's own code, whose lines are quoted
in each test (read with the search tool's read_file from openai/guided-diffusion, NVlabs/stylegan2-ada-pytorch,
NVlabs/edm2)."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from tests.conftest import cli_values, one_line_error, run_cli


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    rng = np.random.RandomState(0)
    gen, ref = rng.randn(300, 16) + 0.2, rng.randn(250, 16)
    logits = rng.randn(12000, 30) * 3
    for name, value in (("gen", gen), ("ref", ref), ("logits", logits)):
        np.save(root / f"{name}.npy", value)
    return root, gen, ref, logits


def test_torch_fidelity_preset_is_and_pr(arrays):
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    root, gen, ref, logits = arrays
    ours = cli_values("is", root / "logits.npy", "--preset", "torch-fidelity")
    theirs = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=True, rng_seed=2020)
    assert ours["is_mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert ours["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-6)
    ours = cli_values("prdc", root / "gen.npy", root / "ref.npy", "--preset", "torch-fidelity")
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
        ours = cli_values("kid", root / "gen.npy", root / "ref.npy", "--preset", preset, "--seed", "7")
        assert ours["kid_mean"] == pytest.approx(theirs, rel=1e-9)
    one_line_error("kid", root / "gen.npy", root / "ref.npy", "--preset", "torch-fidelity")


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
    adm = cli_values("is", root / "logits.npy", "--preset", "adm")
    assert adm["is_mean"] == pytest.approx(_adm_inception_score(_softmax(logits)), rel=1e-9)  # chunks of 5000
    stylegan = cli_values("is", root / "logits.npy", "--preset", "stylegan")
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
    ours = cli_values("is", out, "--preset", "adm")
    assert ours["is_mean"] == pytest.approx(_adm_inception_score(softmax), rel=1e-6)


def test_is_refuses_logits_with_fc_bias_from_older_files(tmp_path):
    from gentools import store

    path = str(tmp_path / "old.h5")
    store.write_features(path, {"features": np.ones((20, 4)), "logits": np.random.RandomState(0).randn(20, 8)},
                         {"backbone": "inception", "is_logits": "biased", "preset": "adm"})
    err = one_line_error("is", path, "--preset", "adm")
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
    ours = cli_values("fid", gen_h5, ref_h5, "--preset", "stylegan")["fid"]
    default = cli_values("fid", gen_h5, ref_h5)["fid"]
    assert ours == pytest.approx(expected, rel=1e-6)
    assert abs(ours - default) > 1e-3 * default  # n = 600 and 500: the two estimators differ visibly
    stats = tmp_path / "ref_stats.h5"
    run_cli("stats", ref_h5, "-o", stats, "-q", check=0)
    assert cli_values("fid", gen_h5, stats, "--preset", "stylegan")["fid"] == pytest.approx(expected, rel=1e-6)
    bare = tmp_path / "bare.npz"  # foreign stats carry no n: no exact conversion
    np.savez(bare, mu=np.zeros(32), sigma=np.eye(32))
    assert "ddof=0" in one_line_error("fid", gen_h5, bare, "--preset", "stylegan")


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
    ours = cli_values("prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "stylegan")
    precision, recall = _stylegan_pr(ref, gen)
    # StyleGAN's mean is float32: equal counts, to float32 rounding (one sample weighs 1/300).
    assert ours["precision"] == pytest.approx(precision, abs=1e-6) and ours["recall"] == pytest.approx(recall, abs=1e-6)
    # ADM's P&R is on Inception features: on these vgg16 rows --preset adm is refused (issue 34), --force runs it
    assert "assumes features extracted with backbone 'inception'" in one_line_error(
        "prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "adm")
    adm = cli_values("prdc", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "adm", "--force", "-q")
    assert adm == ours  # same k, comparison and float16 rounding
    exact = prdc(ref.astype(np.float16).astype(np.float32), gen.astype(np.float16).astype(np.float32), 3,
                 strict=False)
    assert adm["precision"] == exact["precision"] and adm["density"] == exact["density"]
    err = one_line_error("prdc", tmp_path / "gen.h5", tmp_path / "inc.h5", "--preset", "stylegan")
    assert "nvidia:vgg16" in err and "gentools extract" in err and "--backbone nvidia:vgg16.pt" in err
