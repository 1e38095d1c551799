import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance, compute_statistics_of_path

from gentools import store
from gentools.metrics.frechet import frechet_distance, mean_cov
from tests.conftest import parse_tsv, run_cli


def test_stats_file_gives_same_fid_as_features(feature_files, tmp_path, gaussian_pair):
    gen, ref = feature_files
    assert run_cli("stats", ref, "-o", tmp_path / "ref_stats.h5", check=0).stdout == \
        f"{tmp_path / 'ref_stats.h5'}\n".encode()
    s = store.open_input(str(tmp_path / "ref_stats.h5"))
    assert s.n == 500 and s.provenance["backbone"] == "inception"
    np.testing.assert_allclose(s.sigma, np.cov(gaussian_pair[1].astype(np.float64), rowvar=False), atol=1e-10)
    a = float(parse_tsv(run_cli("fid", gen, ref, check=0).stdout)["fid"])
    b = float(parse_tsv(run_cli("fid", gen, tmp_path / "ref_stats.h5", check=0).stdout)["fid"])
    c = float(parse_tsv(run_cli("fid", tmp_path / "ref_stats.h5", gen, check=0).stdout)["fid"])
    assert a == pytest.approx(b, rel=1e-12) and a == pytest.approx(c, rel=1e-9)


def test_stats_npz_loads_in_pytorch_fid(tmp_path, gaussian_pair):
    gen, ref = gaussian_pair
    np.save(tmp_path / "gen.npy", gen)
    np.save(tmp_path / "ref.npy", ref)
    run_cli("stats", tmp_path / "gen.npy", "--npz", "-o", tmp_path / "gen.npz", check=0)
    run_cli("stats", tmp_path / "ref.npy", "--npz", "-o", tmp_path / "ref.npz", check=0)
    # pytorch-fid's own loader for precomputed .npz statistics (no model needed for npz).
    m1, s1 = compute_statistics_of_path(str(tmp_path / "gen.npz"), None, 50, 2048, "cpu")
    m2, s2 = compute_statistics_of_path(str(tmp_path / "ref.npz"), None, 50, 2048, "cpu")
    theirs = calculate_frechet_distance(m1, s1, m2, s2)
    ours = float(parse_tsv(run_cli("fid", tmp_path / "gen.npz", tmp_path / "ref.npz", "-q", check=0).stdout)["fid"])
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours == pytest.approx(frechet_distance(*mean_cov(gen), *mean_cov(ref)), rel=1e-9)


def test_stats_merge_of_three_parts_equals_whole(tmp_path, digits):
    parts = np.array_split(digits, [500, 1200])
    for i, part in enumerate(parts):
        np.save(tmp_path / f"p{i}.npy", part)
        run_cli("stats", tmp_path / f"p{i}.npy", "-o", tmp_path / f"s{i}.h5", check=0)
    run_cli("stats", "--merge", *[tmp_path / f"s{i}.h5" for i in range(3)], "-o", tmp_path / "m.h5", check=0)
    merged = store.open_input(str(tmp_path / "m.h5"))
    x = digits.astype(np.float64)
    assert merged.n == len(digits)
    np.testing.assert_allclose(merged.mu, x.mean(axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(merged.sigma, np.cov(x, rowvar=False), rtol=0, atol=1e-10)
    proc = run_cli("stats", tmp_path / "s0.h5", tmp_path / "s1.h5", "-o", tmp_path / "x.h5", check=2)
    assert b"--merge" in proc.stderr
    np.savez(tmp_path / "foreign.npz", mu=np.zeros(64), sigma=np.eye(64))
    proc = run_cli("stats", "--merge", tmp_path / "s0.h5", tmp_path / "foreign.npz", "-o", tmp_path / "x.h5",
                   "-q", check=1)
    assert b"no sample count n" in proc.stderr


def test_merge_shards_restores_order_and_checks_gaps(tmp_path):
    x = np.arange(70, dtype=np.float32).reshape(35, 2)
    prov = {"backbone": "inception", "source": "/data", "weights_sha256": "w", "resize": "tf", "complete": True}
    for i in range(3):
        rows = x[i::3]
        store.write_features(str(tmp_path / f"shard_{i}.h5"),
                             {"features": rows, "ids": [f"r{int(v[0]) // 2}" for v in rows]},
                             dict(prov, shard=f"{i}/3", count=len(rows)))
    shards = [tmp_path / f"shard_{i}.h5" for i in (2, 0, 1)]
    run_cli("merge", *shards, "-o", tmp_path / "all.h5", check=0)
    merged = store.open_input(str(tmp_path / "all.h5"))
    np.testing.assert_array_equal(merged.array(), x)
    assert list(merged.raw("ids")) == [f"r{i}" for i in range(35)]
    assert merged.provenance["shard"] == "" and merged.provenance["count"] == 35
    proc = run_cli("merge", *shards[:2], "-o", tmp_path / "bad.h5", check=1)
    assert b"missing shard(s) 1/3" in proc.stderr
    store.write_features(str(tmp_path / "alien.h5"), {"features": x[1::3]},
                         dict(prov, shard="1/3", source="/elsewhere"))
    proc = run_cli("merge", shards[0], shards[1], tmp_path / "alien.h5", "-o", tmp_path / "bad.h5", check=1)
    assert b"source differs" in proc.stderr
    store.write_features(str(tmp_path / "other_weights.h5"), {"features": x[1::3]},
                         dict(prov, shard="1/3", weights_sha256="v"))
    proc = run_cli("merge", shards[0], shards[1], tmp_path / "other_weights.h5", "-o", tmp_path / "bad.h5", check=1)
    assert b"weights_sha256 differs" in proc.stderr and proc.stderr.count(b"\n") == 1
    assert not (tmp_path / "bad.h5").exists()


def test_info_prints_provenance(feature_files, tmp_path):
    gen, _ = feature_files
    values = parse_tsv(run_cli("info", gen, check=0).stdout)
    assert values["kind"] == "features" and values["n"] == "600" and values["dim"] == "32"
    assert values["backbone"] == "inception" and values["shape.ids"] == "600"
    store.write_features(str(tmp_path / "part.h5"), {"features": np.zeros((3, 2))}, {"complete": False})
    assert parse_tsv(run_cli("info", tmp_path / "part.h5", check=0).stdout)["complete"] == "false"
    proc = run_cli("fid", tmp_path / "part.h5", tmp_path / "part.h5", check=1)
    assert b"--resume" in proc.stderr
