import os

import h5py
import numpy as np
import pytest

from gentools import files, store
from gentools.errors import FormatError, InputError


def test_features_roundtrip(tmp_path):
    path = str(tmp_path / "f.h5")
    feats = np.random.RandomState(0).randn(10, 4).astype(np.float32)
    logits = np.random.RandomState(1).randn(10, 6).astype(np.float32)
    store.write_features(path, {"features": feats, "logits": logits, "ids": [f"img{i}.png" for i in range(10)]},
                         {"backbone": "inception", "count": 10, "complete": True})
    with store.open_input(path) as f:
        assert (f.n, f.dim) == (10, 4)
        np.testing.assert_array_equal(f.array(), feats)
        np.testing.assert_array_equal(f.array("logits"), logits)
        assert list(f.raw("ids"))[:2] == ["img0.png", "img1.png"]
        assert f.provenance["backbone"] == "inception" and f.provenance["complete"] is True
    with h5py.File(path) as h5:
        assert h5.attrs["gentools_format"] == "features" and h5.attrs["format_version"] == 1
        assert h5["features"].dtype == np.float32 and h5["features"].chunks is not None
    assert os.listdir(tmp_path) == ["f.h5"]  # no temporary left behind


def test_stats_roundtrip_and_npz(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3) * 2
    spatial = store.Stats(np.ones(2), np.eye(2), 5, "")
    stats = store.Stats(mu, sigma, 7, "", spatial, {"backbone": "inception"})
    store.write_stats(str(tmp_path / "s.h5"), stats)
    back = store.open_input(str(tmp_path / "s.h5"))
    assert back.n == 7 and back.provenance["backbone"] == "inception"
    assert set(back.provenance) == {"backbone", "created", "gentools_version", "argv"}
    assert back.provenance["created"].endswith("+00:00")  # ISO 8601 UTC
    np.testing.assert_array_equal(back.sigma, sigma)
    np.testing.assert_array_equal(back.spatial.mu, np.ones(2))
    store.write_stats_npz(str(tmp_path / "s.npz"), stats)
    with np.load(tmp_path / "s.npz") as npz:
        assert sorted(npz.files) == ["mu", "mu_s", "sigma", "sigma_s"]
    back = store.open_input(str(tmp_path / "s.npz"))
    assert back.n is None and back.spatial is not None


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    dest = tmp_path / "out.h5"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(str(dest)) as tmp:
            open(tmp, "wb").write(b"half")
            raise RuntimeError("interrupted")
    assert dest.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.h5"]


@pytest.mark.parametrize("maker, message", [
    (lambda p: np.save(p, np.zeros(5, np.float32)), "1-D"),
    (lambda p: np.save(p, np.zeros((0, 4), np.float32)), "no rows"),
    (lambda p: np.save(p, np.zeros((3, 8, 8, 3), np.uint8)), "run `gentools extract`"),
    (lambda p: np.save(p, np.array([["a"]])), "dtype"),
    (lambda p: open(p, "wb").write(b""), "empty"),
    (lambda p: open(p, "wb").write(b"hello world"), "unknown file format"),
])
def test_bad_numpy_inputs(tmp_path, maker, message):
    path = str(tmp_path / "bad.npy")
    maker(path)
    with pytest.raises((InputError, FormatError), match=message):
        store.open_input(path)


def test_nan_row_is_named(tmp_path):
    x = np.ones((20, 3), np.float32)
    x[13, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    f = store.open_input(str(tmp_path / "nan.npy"))
    with pytest.raises(InputError, match="row 13"):
        f.array()


def test_hdf5_schema_checks(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(FormatError, match="not a gentools"):
        store.open_input(str(tmp_path / "other.h5"))
    store.write_features(str(tmp_path / "new.h5"), {"features": np.zeros((2, 2))}, {})
    with h5py.File(tmp_path / "new.h5", "a") as h5:
        h5.attrs["format_version"] = 2
    with pytest.raises(FormatError, match="newer gentools"):
        store.open_input(str(tmp_path / "new.h5"))
    store.write_features(str(tmp_path / "part.h5"), {"features": np.zeros((2, 2))}, {"complete": False})
    with pytest.raises(InputError, match="--resume"):
        store.open_input(str(tmp_path / "part.h5"))
    assert store.open_input(str(tmp_path / "part.h5"), allow_incomplete=True).n == 2
    data = (tmp_path / "new.h5").read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="truncated or corrupt"):
        store.open_input(str(tmp_path / "trunc.h5"))


def test_reads_foreign_npz_stats_and_feature_npz(tmp_path):
    np.savez(tmp_path / "pf.npz", mu=np.zeros(4), sigma=np.eye(4))  # pytorch-fid / clean-fid / TTUR
    np.savez(tmp_path / "adm.npz", mu=np.zeros(4), sigma=np.eye(4), mu_s=np.zeros(2), sigma_s=np.eye(2))
    np.savez(tmp_path / "emb.npz", np.ones((5, 3)))
    assert store.open_input(str(tmp_path / "pf.npz")).spatial is None
    assert store.open_input(str(tmp_path / "adm.npz")).spatial.mu.shape == (2,)
    assert store.open_input(str(tmp_path / "emb.npz")).dim == 3
    data = (tmp_path / "pf.npz").read_bytes()
    assert len(store.open_input(data).mu) == 4  # bytes from stdin
