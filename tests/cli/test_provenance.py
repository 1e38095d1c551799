from gentools import store
from tests.conftest import parse_tsv, run_cli


def _write(path, x, **prov):
    base = {"backbone": "inception", "layer": "pool3", "weights_sha256": "aaa", "resize": "tf"}
    store.write_features(str(path), {"features": x}, dict(base, **prov))


def test_guard_names_both_values_and_force_proceeds(tmp_path, gaussian_pair):
    gen, ref = gaussian_pair
    for key, other in (("backbone", "tv:resnet50"), ("weights_sha256", "bbb"), ("resize", "clean"),
                       ("layer", "fc")):
        _write(tmp_path / "gen.h5", gen)
        _write(tmp_path / "ref.h5", ref, **{key: other})
        for command in ("fid", "kid", "prdc"):
            extra = ["--subset-size", "100", "--subsets", "3"] if command == "kid" else []
            proc = run_cli(command, tmp_path / "gen.h5", tmp_path / "ref.h5", *extra, check=1)
            err = proc.stderr.decode()
            assert f"inputs differ in {key}" in err and "'aaa'" in err or f"'{other}'" in err, err
            assert f"'{other}'" in err and err.count("\n") == 1
            assert "--force" in err
        proc = run_cli("fid", tmp_path / "gen.h5", tmp_path / "ref.h5", "--force", check=0)
        assert float(parse_tsv(proc.stdout)["fid"]) > 0
        assert b"(--force)" in proc.stderr


def test_same_provenance_no_warning(tmp_path, gaussian_pair):
    _write(tmp_path / "gen.h5", gaussian_pair[0])
    _write(tmp_path / "ref.h5", gaussian_pair[1])
    proc = run_cli("fid", tmp_path / "gen.h5", tmp_path / "ref.h5", check=0)
    assert proc.stderr == b""
