"""Result formats and exit codes, through real subprocesses."""

import json

import numpy as np
import pytest

from gentools.metrics.frechet import frechet_distance, mean_cov
from tests.conftest import parse_tsv, run_cli


def test_fid_tsv_is_full_precision_and_correct(feature_files, gaussian_pair):
    gen, ref = feature_files
    proc = run_cli("fid", gen, ref, check=0)
    values = parse_tsv(proc.stdout)
    expected = frechet_distance(*mean_cov(gaussian_pair[0]), *mean_cov(gaussian_pair[1]))
    assert list(values) == ["fid"]
    assert float(values["fid"]) == pytest.approx(expected, rel=1e-9)
    assert proc.stderr == b""


def test_json_envelope_and_jsonl_append(feature_files, tmp_path):
    gen, ref = feature_files
    log = tmp_path / "metrics.jsonl"
    for step in (100, 200):
        proc = run_cli("kid", gen, ref, "--subset-size", "100", "--subsets", "5", "--json",
                       "--append", log, "--tag", f"step={step}", "--tag", "run=a", check=0)
        obj = json.loads(proc.stdout)
        assert obj["command"] == "kid" and set(obj["values"]) == {"kid_mean", "kid_std"}
        assert obj["tags"] == {"step": step, "run": "a"}
        assert obj["params"] == {"subsets": 5, "subset_size": 100, "seed": 2020, "gemm": "float32",
                                 "preset": ""}
        assert obj["inputs"][0]["path"] == str(gen) and obj["inputs"][0]["n"] == 600
        assert obj["inputs"][0]["provenance"]["backbone"] == "inception"
        assert obj["version"] and obj["seconds"] >= 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["tags"]["step"] for line in lines] == [100, 200]
    # TSV printed when --append is given without --json.
    proc = run_cli("kid", gen, ref, "--subset-size", "100", "--subsets", "5", "--append", log, check=0)
    assert set(parse_tsv(proc.stdout)) == {"kid_mean", "kid_std"}
    assert len(log.read_text().splitlines()) == 3


def test_is_and_prdc_outputs(tmp_path, feature_files):
    logits = np.random.RandomState(0).randn(200, 10).astype(np.float32) * 3
    np.save(tmp_path / "logits.npy", logits)
    values = parse_tsv(run_cli("is", tmp_path / "logits.npy", "--splits", "4", check=0).stdout)
    assert set(values) == {"is_mean", "is_std"} and float(values["is_mean"]) > 1
    gen, ref = feature_files
    values = parse_tsv(run_cli("prdc", gen, ref, "--k", "3", check=0).stdout)
    assert list(values) == ["precision", "recall", "density", "coverage", "f_score"]
    assert all(0 <= float(v) for v in values.values())


def test_quiet_silences_warnings(tmp_path, gaussian_pair):
    np.save(tmp_path / "a.npy", gaussian_pair[0])
    np.save(tmp_path / "b.npy", gaussian_pair[1])
    loud = run_cli("fid", tmp_path / "a.npy", tmp_path / "b.npy", check=0)
    assert b"warning: no provenance" in loud.stderr
    quiet = run_cli("fid", tmp_path / "a.npy", tmp_path / "b.npy", "-q", check=0)
    assert quiet.stderr == b"" and quiet.stdout == loud.stdout


def test_singular_covariance_is_reported(tmp_path, gaussian_pair):
    np.save(tmp_path / "few.npy", gaussian_pair[0][:10])
    proc = run_cli("fid", tmp_path / "few.npy", tmp_path / "few.npy", check=0)
    assert b"singular (n=10 <= d=32)" in proc.stderr


def test_usage_errors_exit_2(feature_files):
    gen, _ = feature_files
    for args in (["fid", gen], ["fid", gen, gen, "--bogus"], ["kid", gen, gen, "--subsets", "x"],
                 ["fid", gen, gen, "--json", "--tag", "novalue"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.decode().startswith("gentools: error: ")
        assert proc.stderr.decode().count("\n") == 1
        assert b"Traceback" not in proc.stderr


def test_help_and_version():
    assert b"Usage" in run_cli("--help", check=0).stdout
    assert run_cli("--version", check=0).stdout.startswith(b"gentools ")


def _commands() -> list:
    """The hand-written commands, then one per registered metric (the registry, not a copy of it)."""
    from gentools.api import registry

    return ["extract", "stats", "merge", "info", "interp", "report", "presets"] + list(registry.metrics())


COMMANDS = _commands()


def test_the_command_list_is_complete():
    from gentools.cli import app

    assert sorted(c.name for c in app.registered_commands) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    text = " ".join(run_cli(command, "--help", check=0).stdout.decode().replace("│", " ").split())
    assert "Example: gentools " in text and f"gentools {command} " in text.split("Example:", 1)[1]
