"""twosample, kde, nn-grid and interp as real subprocesses: output, files written, one bad input each."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from gentools import store
from tests.conftest import cli_env, export_module, parse_tsv, run_cli, tiny_generator


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, digits):
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("digits")
    pixels = digits / 16
    labels = load_digits().target
    paths = {}
    for name, rows in {"low": pixels[labels < 5], "high": pixels[labels >= 5], "train": pixels[:900],
                       "valid": pixels[900:1200], "test": pixels[1200:], "dim3": pixels[:50, :3]}.items():
        paths[name] = root / f"{name}.npy"
        np.save(paths[name], rows.astype(np.float32))
    return paths


def _one_line_error(proc):
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_twosample_rejects_digits_0_4_vs_5_9(digit_files):
    proc = run_cli("twosample", digit_files["low"], digit_files["high"], "--max-samples", "300",
                   "--permutations", "200", check=0)
    values = parse_tsv(proc.stdout)
    for test in ("mmd", "energy", "c2st"):
        assert float(values[f"{test}_p_value"]) <= 0.01 and values[f"{test}_reject"] == "true"
    err = _one_line_error(run_cli("twosample", digit_files["low"], digit_files["dim3"], "-q", check=1))
    assert "dim" in err


def test_kde_output_plot_and_bad_input(digit_files, tmp_path):
    proc = run_cli("kde", digit_files["train"], "--valid", digit_files["valid"], "--test", digit_files["test"],
                   "--plot", tmp_path / "sigma.png", check=0)
    values = parse_tsv(proc.stdout)
    assert set(values) == {"log_likelihood_mean", "log_likelihood_sem", "sigma", "bits_per_dim"}
    assert Image.open(tmp_path / "sigma.png").size == (500, 350)
    np.save(tmp_path / "one.npy", np.zeros((1, 64), np.float32))
    err = _one_line_error(run_cli("kde", tmp_path / "one.npy", "--valid", digit_files["valid"], "--test",
                                  digit_files["test"], "-q", check=1))
    assert "at least 2 samples" in err


def test_nn_grid_flags_copies_draws_the_grid(tmp_path, digits):
    pixels = (digits / 16 * 255).astype(np.uint8).reshape(-1, 8, 8)
    thumbs = np.repeat(pixels[..., None], 3, axis=3)
    features = digits.astype(np.float32) / 16
    rng = np.random.RandomState(0)
    prov = {"backbone": "pixels", "source": str(tmp_path), "complete": True}

    def write(name, rows, ids):
        store.write_features(str(tmp_path / name), {"features": features[rows] + (
            rng.randn(len(rows), 64).astype(np.float32) * 0.01 if name == "copies.h5" else 0),
            "ids": ids, "thumbnails": thumbs[rows]}, prov)

    write("train.h5", np.arange(900), [f"t{i}" for i in range(900)])
    write("test.h5", np.arange(900, 1350), [f"h{i}" for i in range(450)])
    write("copies.h5", np.arange(300), [f"c{i}" for i in range(300)])
    write("fresh.h5", np.arange(1350, 1797), [f"f{i}" for i in range(447)])
    q, k = 6, 4
    proc = run_cli("nn-grid", tmp_path / "copies.h5", tmp_path / "train.h5", "--test", tmp_path / "test.h5",
                   "-o", tmp_path / "grid.png", "--table", tmp_path / "nn.tsv", "--queries", q, "--k", k,
                   "--cells", "5", check=0)
    copied = parse_tsv(proc.stdout)
    assert float(copied["copies"]) > 0.9 and float(copied["authenticity"]) < 0.1 and float(copied["ct_z"]) < -5
    assert copied["grid"] == str(tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size == ((k + 1) * (64 + 2) + 2, q * (64 + 2 + 12) + 2)
    table = [line.split("\t") for line in (tmp_path / "nn.tsv").read_text().splitlines()[1:]]
    assert len(table) == q * k
    assert all(row[2] == "t" + row[0][1:] for row in table if row[1] == "1")  # a copy's nearest is its source
    fresh = parse_tsv(run_cli("nn-grid", tmp_path / "fresh.h5", tmp_path / "train.h5", "--test",
                              tmp_path / "test.h5", "--cells", "5", check=0).stdout)
    assert float(fresh["copies"]) < 0.1 and float(fresh["ct_z"]) > -3
    np.save(tmp_path / "d3.npy", np.zeros((10, 3), np.float32))
    _one_line_error(run_cli("nn-grid", tmp_path / "d3.npy", tmp_path / "train.h5", "-q", check=1))


class _Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.latent_dim = 6

    def forward(self, z):
        return torch.zeros(z.shape[0], 3, 8, 8) + 0.5


def test_interp_grid_latents_arith_and_path_length(tmp_path):
    tiny_generator(tmp_path / "g1.pt")
    tiny_generator(tmp_path / "g2.pt", scale=2.0)
    export_module(_Constant(), torch.zeros(2, 6), tmp_path / "const.pt2")
    pairs, steps = 3, 5
    proc = run_cli("interp", tmp_path / "g1.pt", "-o", tmp_path / "strip.png", "--pairs", pairs, "--steps", steps,
                   "--arith", "0 - 1 + 2", "--path-length", "--samples", "64", check=0)
    values = parse_tsv(proc.stdout)
    assert Image.open(tmp_path / "strip.png").size == (steps * 66 + 2, (pairs + 1) * 78 + 2)  # + arith row
    with h5py.File(tmp_path / "strip_latents.h5", "r") as h5:
        z, paths = h5["latents"][()], h5["paths"][()]
    assert paths.shape == (pairs, steps, 6)
    np.testing.assert_allclose(paths[:, 0], z[0::2], atol=1e-6)
    np.testing.assert_allclose(paths[:, -1], z[1::2], atol=1e-6)
    again = parse_tsv(run_cli("interp", tmp_path / "g1.pt", "--path-length", "--samples", "64", check=0).stdout)
    assert again["path_length"] == values["path_length"]  # deterministic for a seed
    doubled = parse_tsv(run_cli("interp", tmp_path / "g2.pt", "--path-length", "--samples", "64", check=0).stdout)
    assert float(doubled["path_length"]) == pytest.approx(4 * float(values["path_length"]), rel=1e-4)
    const = parse_tsv(run_cli("interp", tmp_path / "const.pt2", "--path-length", "--samples", "64", check=0).stdout)
    assert float(const["path_length"]) == 0.0

    (tmp_path / "mygen.py").write_text("import torch\ndef make():\n    return torch.export.load(open(%r, \"rb\")).module()\n"
                                       % str(tmp_path / "g1.pt"))
    run_cli("interp", "mygen:make", "-o", tmp_path / "m.png", "--pairs", pairs, "--steps", steps,
            env=cli_env(PYTHONPATH=str(tmp_path)), check=0)
    assert Image.open(tmp_path / "m.png").size == (steps * 66 + 2, pairs * 78 + 2)

    bad = np.zeros((4, 6), np.float32)
    bad[1, 2] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    err = _one_line_error(run_cli("interp", tmp_path / "g1.pt", "--latents", tmp_path / "bad.npy", check=1))
    assert "NaN" in err


def test_interp_encode_through_an_encoder(tmp_path):
    class Enc(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3)).repeat(1, 2), x.mean(dim=(2, 3))  # (mu, logvar): mu is used

    export_module(Enc(), torch.zeros(2, 3, 8, 8), tmp_path / "enc.pt")
    tiny_generator(tmp_path / "g.pt")
    for i, value in enumerate((30, 220)):
        Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(tmp_path / f"{i}.png")
    run_cli("interp", tmp_path / "g.pt", "--encoder", tmp_path / "enc.pt", "--encode", tmp_path / "0.png",
            "--encode", tmp_path / "1.png", "-o", tmp_path / "e.png", "--steps", "3", check=0)
    latents, _ = store.read_latents(str(tmp_path / "e_latents.h5"))
    np.testing.assert_allclose(latents[0], np.full(6, 30 / 127.5 - 1), rtol=1e-6)
