"""CMMD, MiFID and Vendi against their references (the CMMD authors' formula, torchmetrics, vendi-score)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentools.metrics import cmmd as cmmd_metric
from gentools.metrics import mifid as mifid_metric
from gentools.metrics import vendi as vendi_metric
from gentools.metrics._pairwise import l2_normalise
from gentools.metrics.frechet import frechet_distance, mean_cov


def _cmmd_reference(x, y, sigma=10.0, scale=1000.0):
    """google-research/cmmd distance.mmd, transcribed to numpy (means over full kernel matrices)."""
    gamma = 1 / (2 * sigma ** 2)
    xx, yy, xy = x @ x.T, y @ y.T, x @ y.T
    xs, ys = np.diag(xx), np.diag(yy)
    k_xx = np.mean(np.exp(-gamma * (-2 * xx + xs[:, None] + xs[None, :])))
    k_yy = np.mean(np.exp(-gamma * (-2 * yy + ys[:, None] + ys[None, :])))
    k_xy = np.mean(np.exp(-gamma * (-2 * xy + xs[:, None] + ys[None, :])))
    return scale * (k_xx + k_yy - 2 * k_xy)


def test_cmmd_equals_reference_and_chunking():
    rng = np.random.RandomState(0)
    x = l2_normalise(rng.randn(300, 16))
    y = l2_normalise(rng.randn(250, 16) + 0.3)
    ref = _cmmd_reference(x, y)
    assert cmmd_metric.cmmd(x, y, 10.0, 1000.0) == pytest.approx(ref, rel=1e-6)
    assert cmmd_metric.cmmd(x, y, 10.0, 1000.0, budget=1000) == pytest.approx(ref, rel=1e-10)
    m, n = len(x), len(y)
    gamma = 1 / 200
    kxx = np.exp(-gamma * ((x[:, None] - x[None]) ** 2).sum(-1))
    kyy = np.exp(-gamma * ((y[:, None] - y[None]) ** 2).sum(-1))
    kxy = np.exp(-gamma * ((x[:, None] - y[None]) ** 2).sum(-1))
    unbiased = 1000 * ((kxx.sum() - m) / (m * (m - 1)) + (kyy.sum() - n) / (n * (n - 1)) - 2 * kxy.mean())
    assert cmmd_metric.cmmd(x, y, 10.0, 1000.0, unbiased=True) == pytest.approx(unbiased, rel=1e-6)


def test_mifid_equals_torchmetrics():
    from torchmetrics.image.mifid import _compute_cosine_distance, _mifid_compute

    rng = np.random.RandomState(1)
    train = np.abs(rng.randn(400, 8))
    distances = []
    for gen in (np.abs(rng.randn(300, 8)) + 0.1, train[:300] + 0.02 * rng.rand(300, 8)):  # fresh, memorised
        m, penalty = mifid_metric.memorisation_distance(gen, train)
        ref_d = _compute_cosine_distance(torch.from_numpy(gen), torch.from_numpy(train), 0.1)
        assert penalty == pytest.approx(float(ref_d), rel=1e-6)
        fid = frechet_distance(*mean_cov(gen), *mean_cov(train))
        g, t = torch.from_numpy(gen), torch.from_numpy(train)
        ref = _mifid_compute(g.mean(0), torch.cov(g.T), g, t.mean(0), torch.cov(t.T), t, 0.1)
        assert mifid_metric.mifid(fid, penalty) == pytest.approx(float(ref), rel=1e-6)
        distances.append(m)
    assert distances[1] < 0.1 * distances[0]  # near-copies sit much closer to the training set


def test_vendi_equals_vendi_score():
    from vendi_score import vendi

    rng = np.random.RandomState(2)
    for n, d in ((200, 16), (30, 64)):  # d < n uses the d x d matrix; d >= n the n x n one
        x = rng.randn(n, d)
        assert vendi_metric.vendi_score(x) == pytest.approx(vendi.score_dual(x), rel=1e-6)
        assert vendi_metric.vendi_score(x) == pytest.approx(vendi.score_X(x), rel=1e-6)
    same = np.tile(rng.randn(1, 8), (50, 1))
    assert vendi_metric.vendi_score(same) == pytest.approx(1.0, rel=1e-9)  # one distinct sample


def test_cli_cmmd_vendi_mifid_and_bad_inputs(tmp_path):
    from tests.conftest import parse_tsv, run_cli

    rng = np.random.RandomState(3)
    x, y, train = rng.randn(200, 12), rng.randn(150, 12) + 0.2, rng.randn(300, 12)
    for name, rows in (("x", x), ("y", y), ("train", train), ("d3", rng.randn(20, 3)), ("one", rng.randn(1, 12))):
        np.save(tmp_path / f"{name}.npy", rows.astype(np.float32))
    out = parse_tsv(run_cli("cmmd", tmp_path / "x.npy", tmp_path / "y.npy", "-q", check=0).stdout)
    x32, y32 = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    assert float(out["cmmd"]) == pytest.approx(_cmmd_reference(l2_normalise(x32), l2_normalise(y32)),
                                               rel=1e-6)
    warned = run_cli("cmmd", tmp_path / "x.npy", tmp_path / "y.npy", check=0).stderr.decode()
    assert "not CMMD as published" in warned
    out = parse_tsv(run_cli("vendi", tmp_path / "x.npy", "-q", check=0).stdout)
    assert float(out["vendi"]) == pytest.approx(vendi_metric.vendi_score(x32), rel=1e-9)
    out = parse_tsv(run_cli("fid", tmp_path / "x.npy", tmp_path / "y.npy", "--mifid", tmp_path / "train.npy", "-q",
                            check=0).stdout)
    assert set(out) == {"fid", "memorization_distance", "mifid"}
    for argv in (["cmmd", tmp_path / "x.npy", tmp_path / "d3.npy"], ["cmmd", tmp_path / "one.npy", tmp_path / "x.npy"],
                 ["vendi", tmp_path / "missing.npy"],
                 ["fid", tmp_path / "x.npy", tmp_path / "y.npy", "--mifid", tmp_path / "d3.npy"]):
        err = run_cli(*argv, "-q", check=1).stderr.decode()
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)
