"""The writer convention and the pipe rule, through real shell pipes."""

import os
import pty
import subprocess
import time

import numpy as np
import pytest

from gentools.metrics.frechet import frechet_distance, mean_cov
from tests.conftest import BIN, cli_env, parse_tsv, run_cli, run_shell


@pytest.fixture()
def arrays(tmp_path, gaussian_pair):
    gen, ref = gaussian_pair
    np.save(tmp_path / "a.npy", gen)
    np.save(tmp_path / "ref.npy", ref)
    np.save(tmp_path / "other.npy", ref[::-1] * 0.1)
    return tmp_path


def _fd(x, y):
    return frechet_distance(*mean_cov(x), *mean_cov(y))


def test_pipe_waits_for_slow_writer_with_stale_output(arrays, gaussian_pair):
    gen, ref = gaussian_pair
    # A stale s.h5 with other values exists; the writer only replaces it after 2 s.
    run_cli("stats", arrays / "other.npy", "-o", arrays / "s.h5", check=0)
    stale = _fd(ref[::-1] * 0.1, ref)
    started = time.monotonic()
    proc = run_shell("(sleep 2; gentools stats a.npy -o s.h5) | gentools fid s.h5 ref.npy -q", arrays)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started >= 2
    fid = float(parse_tsv(proc.stdout)["fid"])
    assert fid == pytest.approx(_fd(gen, ref), rel=1e-9)
    assert abs(fid - stale) > 1


def test_literal_pipe_without_sleep(arrays, gaussian_pair):
    proc = run_shell("gentools stats a.npy -o s.h5 | gentools fid s.h5 ref.npy -q", arrays)
    assert proc.returncode == 0, proc.stderr
    assert float(parse_tsv(proc.stdout)["fid"]) == pytest.approx(_fd(*gaussian_pair), rel=1e-9)


def test_while_read_loop_leaves_stdin_alone(arrays, gaussian_pair):
    for name in ("x1", "x2", "x3"):
        run_cli("stats", arrays / "a.npy", "-o", arrays / f"{name}.h5", check=0)
    proc = run_shell('ls x*.h5 | while read f; do echo "$f"; gentools fid "$f" ref.npy -q; done', arrays)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[0::2] == ["x1.h5", "x2.h5", "x3.h5"]  # every line reached the loop
    assert all(line.startswith("fid\t") for line in lines[1::2])


def test_no_stdin_flag_and_env_skip_waiting(arrays):
    run_cli("stats", arrays / "a.npy", "-o", arrays / "s.h5", check=0)
    for env in ({}, {"GENTOOLS_NO_STDIN": "1"}):
        flag = [] if env else ["--no-stdin"]
        # An open, empty pipe that never closes: without the opt-out the command would wait forever.
        proc = subprocess.Popen([str(BIN / "gentools"), "fid", "s.h5", "ref.npy", "-q", *flag],
                                cwd=arrays, env=cli_env(**env), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert proc.wait(timeout=60) == 0
            assert proc.stdout.read().startswith(b"fid\t")
        finally:
            proc.stdin.close()


def test_open_empty_pipe_makes_command_wait(arrays):
    run_cli("stats", arrays / "a.npy", "-o", arrays / "s.h5", check=0)
    proc = subprocess.Popen([str(BIN / "gentools"), "fid", "s.h5", "ref.npy", "-q"],
                            cwd=arrays, env=cli_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=2)
    proc.stdin.write(b"done\n")
    proc.stdin.close()  # upstream finished: now it proceeds
    assert proc.wait(timeout=60) == 0
    assert proc.stdout.read().startswith(b"fid\t")


def test_stats_bytes_to_stdout_and_dash_input(arrays, gaussian_pair):
    proc = run_shell("gentools stats a.npy | gentools fid - ref.npy -q", arrays)
    assert proc.returncode == 0, proc.stderr
    assert float(parse_tsv(proc.stdout)["fid"]) == pytest.approx(_fd(*gaussian_pair), rel=1e-9)
    # A path on stdin's first line.
    proc = run_shell("echo a.npy | gentools fid - ref.npy -q", arrays)
    assert float(parse_tsv(proc.stdout)["fid"]) == pytest.approx(_fd(*gaussian_pair), rel=1e-9)
    # npz stats bytes through a pipe, and the writer printing its path.
    proc = run_shell("gentools stats a.npy --npz -o s.npz && gentools stats a.npy --npz | gentools info -", arrays)
    assert proc.stdout.decode().splitlines()[0] == "s.npz"
    assert "kind\tstats" in proc.stdout.decode()


def test_writer_refuses_binary_to_terminal(arrays):
    primary, secondary = pty.openpty()
    proc = subprocess.run([str(BIN / "gentools"), "stats", "a.npy"], cwd=arrays, env=cli_env(),
                          stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE, timeout=60)
    os.close(secondary)
    os.close(primary)
    assert proc.returncode == 2
    assert b"give -o FILE" in proc.stderr
