"""Writers under faults: kill -9 at random moments, disk full, two writers on one path.

Repeat the interrupt tests with: pytest tests/test_faults.py tests/cli/test_resume.py --count-free loop, e.g.
  for i in $(seq 20); do .venv/bin/python -m pytest -q -x tests/test_faults.py tests/cli/test_resume.py || break; done
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from gentools import store
from tests.conftest import BIN, cli_env, photo_crops, tiny_generator

SLOW = '''
import time, torch
class Slow(torch.nn.Module):
    def forward(self, x):
        time.sleep(0.02)
        return x.mean(dim=(2, 3))
def make():
    return Slow()
'''


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    rng = np.random.RandomState(0)
    np.save(root / "big.npy", rng.randn(60000, 64).astype(np.float32))
    prov = {"backbone": "pixels", "source": "/data", "complete": True}
    for i in range(3):
        store.write_features(str(root / f"part{i}.h5"), {"features": rng.randn(20000, 64).astype(np.float32),
                                                        "ids": [f"{i}:{j}" for j in range(20000)]}, prov)
    images = root / "images"
    images.mkdir()
    for i, crop in enumerate(photo_crops(120, 8, seed=1)):
        Image.fromarray(crop).save(images / f"{i:03d}.png")
    (root / "slow.py").write_text(SLOW)

    tiny_generator(root / "g.pt", latent_dim=4)
    return root


def _writers(root, out):
    return {
        "stats": (["stats", root / "big.npy", "-o", out / "s.h5"], [out / "s.h5"]),
        "merge": (["merge", root / "part0.h5", root / "part1.h5", root / "part2.h5", "-o", out / "m.h5"],
                  [out / "m.h5"]),
        "extract": (["extract", root / "images", "-b", "slow:make", "--batch-size", "4", "--workers", "0",
                     "-o", out / "e.h5"], [out / "e.h5"]),
        "interp": (["interp", root / "g.pt", "-o", out / "i.png", "--pairs", "8", "--steps", "16", "--path-length",
                    "--samples", "2000"], [out / "i.png", out / "i_latents.h5"]),
        "nn-grid": (["nn-grid", root / "part0.h5", root / "part1.h5", "--test", root / "part2.h5", "-o",
                     out / "g.png", "--queries", "2"], [out / "g.png"]),
    }


def _whole(path) -> bool:
    """A final file that exists must be complete and readable."""
    if path.suffix == ".png":
        with Image.open(path) as image:
            image.load()
        return True
    if path.name.endswith("_latents.h5"):
        import h5py

        with h5py.File(path, "r") as h5:
            return h5.attrs["gentools_format"] == "latents" and len(h5["latents"]) > 0
    item = store.open_input(str(path))
    if item.kind == "features":
        item.close()
    return item.n > 0


def _writing(out) -> bool:
    """A writer is mid-write: its temporary file (``.NAME.*.tmp``) or ``NAME.partial`` exists."""
    return any(p.name.startswith(".") or p.name.endswith(".partial") for p in out.iterdir())


# Writers whose write phase is long enough to be hit for sure, with how long after it begins the kill may land
# (merge writes 60,000 rows; extract appends to its .partial for the whole run). stats, interp and nn-grid compute
# for seconds and then write a small file in milliseconds: for them the kill lands at a random moment of the run.
MID_WRITE = {"merge": 0.05, "extract": 0.5}
KILL_WINDOW = {"stats": (0.05, 0.6)}  # stats is done within a second: kill it early enough to hit it


@pytest.mark.parametrize("command", ["stats", "merge", "extract", "interp", "nn-grid"])
def test_kill_9_at_random_moments_never_leaves_a_partial_final_file(inputs, tmp_path, command):
    env = cli_env(PYTHONPATH=str(inputs))
    rng = random.Random(command)
    hits = mid_write = 0
    for attempt in range(4):
        out = tmp_path / f"run{attempt}"
        out.mkdir()
        argv, finals = _writers(inputs, out)[command]
        proc = subprocess.Popen([str(BIN / "gentools"), *map(str, argv), "-q"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if command in MID_WRITE:  # wait until the write has begun, then kill within its first half second
            deadline = time.monotonic() + 60
            while proc.poll() is None and not _writing(out) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, MID_WRITE[command]))
        else:
            time.sleep(rng.uniform(*KILL_WINDOW.get(command, (0.3, 3.0))))
        writing = _writing(out)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        hits += proc.returncode == -signal.SIGKILL
        mid_write += proc.returncode == -signal.SIGKILL and writing
        for final in finals:
            assert not final.exists() or _whole(final), (command, attempt, final)
    assert hits >= 1, f"{command} finished before every kill: the test killed nothing"
    if command in MID_WRITE:
        assert mid_write >= 1, f"no kill of {command} landed while it was writing"


def test_disk_full_is_a_clear_error_and_leaves_nothing(inputs, tmp_path, monkeypatch, capfd):
    """Every writer, with ENOSPC raised at the write layer (the fsync before the rename)."""
    from gentools.cli import run

    np.save(tmp_path / "x.npy", np.random.RandomState(0).randn(50, 4).astype(np.float32))
    Image.fromarray(photo_crops(1, 8)[0]).save(tmp_path / "a.png")
    store.write_features(str(tmp_path / "t.h5"), {"features": np.random.RandomState(1).randn(6, 4),
                                                 "thumbnails": np.zeros((6, 8, 8, 3), np.uint8)}, {})
    before = sorted(p.name for p in tmp_path.iterdir())

    def no_space(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    part0 = inputs / "part0.h5"
    for argv in (["stats", tmp_path / "x.npy", "-o", tmp_path / "s.h5"],
                 ["extract", tmp_path / "a.png", "-b", "pixels", "-o", tmp_path / "e.h5"],
                 ["merge", part0, part0, "-o", tmp_path / "m.h5"],
                 ["interp", inputs / "g.pt", "-o", tmp_path / "i.png", "--pairs", "1", "--steps", "2"],
                 ["nn-grid", tmp_path / "t.h5", tmp_path / "t.h5", "-o", tmp_path / "g.png", "--queries", "1"]):
        code = run([str(a) for a in argv] + ["-q"])
        err = capfd.readouterr().err
        assert code == 1 and "No space left on device" in err and err.count("\n") == 1, (argv[0], err)
        assert sorted(p.name for p in tmp_path.iterdir()) == before, argv[0]  # no output, no temp file


def test_two_writers_on_one_path_leave_one_whole_file(tmp_path):
    a, b = np.random.RandomState(1).randn(3000, 32), np.random.RandomState(2).randn(3000, 32) + 5
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "s.h5"
    for _ in range(3):
        procs = [subprocess.Popen([str(BIN / "gentools"), "stats", str(tmp_path / f"{n}.npy"), "-o", str(out), "-q"],
                                  env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                 for n in ("a", "b")]
        assert [p.wait() for p in procs] == [0, 0]
        stats = store.open_input(str(out))
        assert any(np.allclose(stats.mu, x.mean(0)) and np.allclose(stats.sigma, np.cov(x.T)) for x in (a, b))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy", "s.h5"]
