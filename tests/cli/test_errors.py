"""Bad inputs: exit 1, one line on stderr naming the file, no traceback (--debug shows it)."""

import h5py
import numpy as np
import pytest

from gentools import store
from tests.conftest import cli_env, run_cli


def _bad_inputs(tmp):
    good = np.random.RandomState(0).randn(50, 4).astype(np.float32)
    np.save(tmp / "good.npy", good)
    np.save(tmp / "oned.npy", good[:, 0])
    np.save(tmp / "empty.npy", good[:0])
    np.save(tmp / "images.npy", np.zeros((4, 8, 8, 3), np.uint8))
    np.save(tmp / "dim8.npy", np.ones((50, 8), np.float32))
    nan = good.copy()
    nan[7, 2] = np.inf
    np.save(tmp / "inf.npy", nan)
    (tmp / "zero.npy").write_bytes(b"")
    (tmp / "text.h5").write_text("not hdf5\n")
    with h5py.File(tmp / "foreign.h5", "w") as h5:
        h5["data"] = good
    store.write_features(str(tmp / "feat.h5"), {"features": good}, {"backbone": "inception"})
    raw = (tmp / "feat.h5").read_bytes()
    (tmp / "trunc.h5").write_bytes(raw[: len(raw) // 3])
    return {
        "missing.npy": "no such file",
        "oned.npy": "1-D",
        "empty.npy": "no rows",
        "images.npy": "gentools extract",
        "dim8.npy": "feature dimensions differ",
        "inf.npy": "row 7",
        "zero.npy": "empty",
        "text.h5": "unknown file format",
        "foreign.h5": "not a gentools",
        "trunc.h5": "truncated or corrupt",
    }


@pytest.mark.parametrize("command", ["fid", "kid", "prdc", "stats", "is"])
def test_bad_inputs_give_one_line_and_exit_1(tmp_path, command):
    cases = _bad_inputs(tmp_path)
    for name, message in cases.items():
        if command in ("is", "stats") and name == "dim8.npy":
            continue
        args = [tmp_path / name] if command == "is" else [tmp_path / name, tmp_path / "good.npy"]
        extra = ["--subset-size", "10", "--subsets", "2"] if command == "kid" else []
        if command == "stats":
            extra = ["-o", tmp_path / "out.h5"]
        proc = run_cli(command, *args, *extra, "-q")
        err = proc.stderr.decode()
        assert proc.returncode == 1, (command, name, err)
        assert err.startswith("gentools: error: ") and err.count("\n") == 1, (command, name, err)
        assert message in err, (command, name, err)
        assert "Traceback" not in err
        if name != "dim8.npy":
            assert name in err, (command, name, err)
    assert not (tmp_path / "out.h5").exists()


def test_stats_file_where_features_are_needed(tmp_path, feature_files):
    gen, ref = feature_files
    run_cli("stats", ref, "-o", tmp_path / "ref_stats.h5", check=0)
    for command in ("kid", "prdc"):
        proc = run_cli(command, gen, tmp_path / "ref_stats.h5", check=1)
        assert b"is a stats file" in proc.stderr


def test_subset_size_larger_than_sets_names_both_sizes(feature_files):
    gen, ref = feature_files
    err = run_cli("kid", gen, ref, "--subset-size", "5000", check=1).stderr.decode()
    assert "--subset-size 5000" in err and "600 rows" in err and "500 rows" in err


def test_debug_shows_traceback(tmp_path):
    proc = run_cli("fid", tmp_path / "nope.npy", tmp_path / "nope.npy", "--debug", check=1)
    assert b"Traceback" in proc.stderr and b"gentools: error: no such file" in proc.stderr
    proc = run_cli("fid", tmp_path / "nope.npy", tmp_path / "nope.npy", env=cli_env(GENTOOLS_DEBUG="1"), check=1)
    assert b"Traceback" in proc.stderr
