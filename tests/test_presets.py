"""--preset reproduces each tool's numbers on the same features (or, where its code cannot run here, its
documented settings, transcribed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentools.presets import PRESETS
from tests.conftest import parse_tsv, run_cli


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    root = tmp_path_factory.mktemp("presets")
    rng = np.random.RandomState(0)
    gen, ref = rng.randn(300, 16) + 0.2, rng.randn(250, 16)
    logits = rng.randn(12000, 30) * 3
    for name, value in (("gen", gen), ("ref", ref), ("logits", logits)):
        np.save(root / f"{name}.npy", value)
    return root, gen, ref, logits


def _values(*argv):
    return {k: float(v) for k, v in parse_tsv(run_cli(*argv, "-q", check=0).stdout).items()}


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
    from cleanfid.fid import kernel_distance

    root, gen, ref, _ = arrays
    np.random.seed(7)
    theirs = kernel_distance(ref, gen)  # clean-fid: (reference, generated), 100 x min(n, 1000)
    for preset in ("clean-fid", "stylegan"):
        ours = _values("kid", root / "gen.npy", root / "ref.npy", "--preset", preset, "--seed", "7")
        assert ours["kid_mean"] == pytest.approx(theirs, rel=1e-9)
    assert run_cli("kid", root / "gen.npy", root / "ref.npy", "--preset", "torch-fidelity", "-q", check=1)


def _is_chunks(logits, chunks):
    """The OpenAI / ADM / StyleGAN formula over given row chunks, from softmax probabilities."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    scores = []
    for part in chunks:
        q = p[part]
        kl = q * (np.log(q) - np.log(np.mean(q, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores))


def test_adm_and_stylegan_is_settings(arrays):
    root, _, _, logits = arrays
    adm = _values("is", root / "logits.npy", "--preset", "adm")
    expected = _is_chunks(logits, [slice(0, 5000), slice(5000, 10000), slice(10000, 12000)])  # split_size=5000
    assert adm["is_mean"] == pytest.approx(expected, rel=1e-9)
    stylegan = _values("is", root / "logits.npy", "--preset", "stylegan")
    n = len(logits)
    expected = _is_chunks(logits, [slice(i * n // 10, (i + 1) * n // 10) for i in range(10)])  # no shuffle
    assert stylegan["is_mean"] == pytest.approx(expected, rel=1e-9)
    assert PRESETS["adm"].pr_k == PRESETS["stylegan"].pr_k == 3 and not PRESETS["adm"].pr_strict


def test_extract_presets_set_resize_and_logits(tmp_path, image_folder, inception_weights):
    from gentools import store
    from gentools.features.backbones.inception import build

    outs = {}
    for preset in ("pytorch-fid", "adm"):
        outs[preset] = tmp_path / f"{preset}.h5"
        run_cli("extract", image_folder / "sub", "--weights", inception_weights, "--preset", preset, "-o",
                outs[preset], "--workers", "0", "-q", check=0)
    with store.open_input(str(outs["pytorch-fid"])) as f:
        assert f.provenance["resize"] == "pytorch-fid" and f.provenance["preset"] == "pytorch-fid"
    state = torch.load(inception_weights, weights_only=True)
    with store.open_input(str(outs["adm"])) as f:
        assert f.provenance["resize"] == "tf" and f.provenance["is_logits"] == "biased"
        expected = f.array() @ state["fc.weight"].numpy().T.astype(np.float64) + state["fc.bias"].numpy()
        np.testing.assert_allclose(f.array("logits"), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    table = run_cli("presets", check=0).stdout.decode().splitlines()
    assert table[0].startswith("preset\tresize") and len(table) == 1 + len(PRESETS)
