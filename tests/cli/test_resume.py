"""Cluster-scale extraction: SIGTERM/SIGINT/kill -9 and --resume, shards + merge, torchrun."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
from PIL import Image

from gentools import store
from tests.conftest import BIN, cli_env, photo_crops, run_cli, tiny_generator

SLOW_BACKBONE = '''
import time, torch
class Slow(torch.nn.Module):
    """A deterministic conv net that takes ~30 ms per batch, so a run can be interrupted mid-way."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.fc = torch.nn.Linear(8, 5)
    def forward(self, x):
        time.sleep(0.05)
        f = self.conv(x).mean(dim=(2, 3))
        return f, self.fc(f)
def make():
    return Slow()
'''


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    images = root / "images"
    images.mkdir()
    for i, crop in enumerate(photo_crops(300, 16, seed=4)):
        Image.fromarray(crop).save(images / f"{i:04d}.png")
    (root / "slowback.py").write_text(SLOW_BACKBONE)
    env = cli_env(PYTHONPATH=str(root))
    args = [str(images), "-b", "slowback:make", "--batch-size", "4", "--workers", "0", "--flush-every", "2", "-q"]
    whole = root / "whole.h5"
    subprocess.run([str(BIN / "gentools"), "extract", *args, "-o", str(whole)], env=env, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    return root, args, env, _rows(whole)


def _rows(path) -> dict:
    with store.open_input(str(path), allow_incomplete=True) as f:
        out = {name: f.raw(name) for name in ("features", "logits", "ids") if f.has(name)}
        out["complete"] = bool(f.provenance["complete"])
    return out


def _rows_done(partial) -> int:
    return store.rows_done(str(partial))  # the writer holds the HDF5 lock: read without it


def _start_and_stop(args, env, out, how):
    proc = subprocess.Popen([str(BIN / "gentools"), "extract", *args, "-o", str(out)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = f"{out}.partial"
    deadline = time.time() + 120
    while _rows_done(partial) < 40 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(how)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


def _assert_same(a, b):
    assert a["ids"].tolist() == b["ids"].tolist()
    np.testing.assert_array_equal(a["features"], b["features"])
    np.testing.assert_array_equal(a["logits"], b["logits"])


@pytest.mark.parametrize("how, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_flushes_and_resume_completes(job, tmp_path, how, code):
    root, args, env, whole = job
    out = tmp_path / "out.h5"
    rc, err = _start_and_stop(args, env, out, how)
    assert rc == code and "--resume" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    with store.open_input(f"{out}.partial", allow_incomplete=True) as f:
        assert f.provenance["complete"] is False and 0 < f.provenance["rows_done"] < 300
    refused = run_cli("fid", f"{out}.partial", f"{out}.partial", check=1).stderr.decode()
    assert "unfinished" in refused and "--resume" in refused
    again = run_cli("extract", *args, "-o", out, env=env, check=1).stderr.decode()
    assert "--resume" in again and "--overwrite" in again  # never silently overwritten
    run_cli("extract", *args, "-o", out, "--resume", env=env, check=0)
    assert not os.path.exists(f"{out}.partial")
    got = _rows(out)
    assert got["complete"]
    _assert_same(got, whole)


def test_kill_9_never_leaves_a_final_file_and_resume_recovers(job, tmp_path):
    root, args, env, whole = job
    out = tmp_path / "out.h5"
    rc, _ = _start_and_stop(args, env, out, signal.SIGKILL)
    assert rc == -9 and not out.exists()
    run_cli("extract", *args, "-o", out, "--resume", env=env, check=0)
    _assert_same(_rows(out), whole)
    # A damaged partial file is never read: --resume starts cleanly.
    (tmp_path / "bad.h5.partial").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    run_cli("extract", *args, "-o", tmp_path / "bad.h5", "--resume", env=env, check=0)
    _assert_same(_rows(tmp_path / "bad.h5"), whole)


def test_three_shards_merge_to_the_whole(job, tmp_path):
    root, args, env, whole = job
    shards = []
    for i in range(3):
        shards.append(tmp_path / f"shard_{i}.h5")
        run_cli("extract", *args, "--shard", f"{i}/3", "-o", shards[-1], env=env, check=0)
    run_cli("merge", shards[2], shards[0], shards[1], "-o", tmp_path / "all.h5", check=0)
    _assert_same(_rows(tmp_path / "all.h5"), whole)
    err = run_cli("merge", shards[0], shards[1], "-o", tmp_path / "x.h5", check=1).stderr.decode()
    assert "missing shard(s) 2/3" in err and err.count("\n") == 1
    other = tmp_path / "other_source.h5"
    run_cli("extract", root / "images" / "000*.png", "-b", "slowback:make", "--shard", "2/3", "-o", other,
            "--workers", "0", env=env, check=0)
    err = run_cli("merge", shards[0], shards[1], other, "-o", tmp_path / "x.h5", check=1).stderr.decode()
    assert "source differs" in err and err.count("\n") == 1


def test_generator_resume_and_shards(tmp_path):
    tiny_generator(tmp_path / "g.pt", latent_dim=4, size=4, seed=1, with_latent_dim=False)
    args = ["--generator", str(tmp_path / "g.pt"), "--num-samples", "30", "--latent-dim", "4", "-b", "pixels",
            "--batch-size", "4"]
    run_cli("extract", *args, "-o", tmp_path / "whole.h5", check=0)
    for i in range(2):
        run_cli("extract", *args, "--shard", f"{i}/2", "-o", tmp_path / f"s{i}.h5", check=0)
    run_cli("merge", tmp_path / "s0.h5", tmp_path / "s1.h5", "-o", tmp_path / "m.h5", check=0)
    whole = _rows(tmp_path / "whole.h5")
    merged = _rows(tmp_path / "m.h5")
    assert merged["ids"].tolist() == whole["ids"].tolist()
    np.testing.assert_array_equal(merged["features"], whole["features"])
    # A resumed generator run continues with exactly the samples it would have made.
    first = _rows(tmp_path / "s0.h5")
    with h5py.File(tmp_path / "s0.h5", "r+") as h5:  # fake an interruption after 8 rows
        for name in ("features", "ids"):
            h5[name].resize(8, axis=0)
        h5.attrs.update(complete=False, rows_done=8, items_done=8)
    os.replace(tmp_path / "s0.h5", tmp_path / "r.h5.partial")
    run_cli("extract", *args, "--shard", "0/2", "-o", tmp_path / "r.h5", "--resume", check=0)
    np.testing.assert_array_equal(_rows(tmp_path / "r.h5")["features"], first["features"])


def test_torchrun_two_ranks_equal_one_process(job, tmp_path):
    root, args, env, whole = job
    torchrun = BIN / "torchrun"
    out = tmp_path / "dist.h5"
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(BIN / "gentools"),
                           "extract", *args, "-o", str(out)], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    _assert_same(_rows(out), whole)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist.h5"]  # no rank left a file behind


def test_cluster_makefile_shards_merges_and_scores(tmp_path, image_folder, forkserver):
    makefile = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "cluster", "Makefile")
    proc = subprocess.run(["make", "-s", "-f", makefile, f"GEN={image_folder}/", f"REF={image_folder}/sub/",
                           "SHARDS=3", "EXTRACT=gentools extract -b pixels:4 --workers 0 -q", f"OUT={tmp_path}/out"],
                          env=forkserver["env"], capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    whole = tmp_path / "whole.h5"
    run_cli("extract", image_folder, "-b", "pixels:4", "--workers", "0", "-o", whole, check=0)
    merged = _rows(tmp_path / "out" / "gen.h5")
    assert merged["ids"].tolist() == _rows(whole)["ids"].tolist()
    np.testing.assert_array_equal(merged["features"], _rows(whole)["features"])
    assert (tmp_path / "out" / "fid.tsv").read_text().startswith("fid\t")


def test_image_shards_with_skipped_inputs_merge_to_the_whole(tmp_path):
    """Shards that skipped undecodable images (``--skip-bad``) merge back to the single run: each shard records
    where its skipped inputs were, and merge places the rows around them."""
    images = tmp_path / "images"
    images.mkdir()
    for i, crop in enumerate(photo_crops(14, 16, seed=7)):
        Image.fromarray(crop).save(images / f"{i:02d}.png")
    for name in ("03.png", "04.png", "10.png"):  # one in shard 0/3, two in 1/3: 4, 3 and 4 rows
        (images / name).write_bytes(b"not a png")
    args = [images, "-b", "pixels:8", "--skip-bad", "--workers", "0", "--batch-size", "2", "-q"]
    run_cli("extract", *args, "-o", tmp_path / "whole.h5", check=0)
    shards = [tmp_path / f"s{i}.h5" for i in range(3)]
    for i, shard in enumerate(shards):
        run_cli("extract", *args, "--shard", f"{i}/3", "-o", shard, check=0)
    run_cli("merge", shards[1], shards[2], shards[0], "-o", tmp_path / "all.h5", "-q", check=0)
    with store.open_input(str(tmp_path / "whole.h5")) as a, store.open_input(str(tmp_path / "all.h5")) as b:
        assert a.ids == b.ids and len(a.ids) == 11
        np.testing.assert_array_equal(a.array(), b.array())
        assert sorted(a.raw("skipped").tolist()) == sorted(b.raw("skipped").tolist()) == ["03.png", "04.png",
                                                                                          "10.png"]
