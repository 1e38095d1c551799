"""Shared fixtures: real data (sklearn digits), feature files, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Under pytest-xdist each worker gets its share of the cores: torch's default (one thread per core) in every
# worker and in every command a test starts oversubscribes them, and OpenMP threads spinning at barriers for a
# descheduled sibling cost more than the second thread gains.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

import numpy as np
import pytest

BIN = Path(sys.executable).parent
# The suite runs networks eagerly: an AOTInductor build costs a minute or more per network on 2 cores.
# tests/features/test_compiled.py covers the compiled runtime and its cache, each with its own GENTOOLS_CACHE.
os.environ["GENTOOLS_CACHE"] = "off"


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("GENTOOLS_DEBUG", None)
    env.pop("GENTOOLS_NO_STDIN", None)
    env.update(extra)
    return env


def run_cli(*args, cwd=None, stdin_bytes: bytes | None = None, env=None, check=None,
            process: bool = False) -> subprocess.CompletedProcess:
    """Run ``gentools ARGS`` through its entry point (``gentools.cli.run``) in this process, with the given
    environment, working folder and captured stdout/stderr; stdin reads as empty. ``process=True``, or bytes for
    stdin, runs it as a real subprocess instead: for what only a process shows (exit codes through pipes,
    signals, streaming stdin, a fresh interpreter's imports, its memory). An environment that changes what
    libraries read once, when imported (``PYTHONPATH``, ``HOME``, the Hugging Face cache and offline switches),
    needs a fresh interpreter too, and gets one."""
    if process or stdin_bytes is not None or _read_at_import(env):
        proc = subprocess.run(
            [str(BIN / "gentools"), *map(str, args)], cwd=cwd, env=env or cli_env(),
            input=stdin_bytes, stdin=None if stdin_bytes is not None else subprocess.DEVNULL,
            capture_output=True, timeout=300)
    else:
        proc = _run_in_process([str(a) for a in args], cwd, env or cli_env())
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


_READ_AT_IMPORT = ("PYTHON", "HOME", "HF_", "HUGGINGFACE", "TRANSFORMERS", "XDG_")


def _read_at_import(env) -> bool:
    changed = {k for k in set(env or {}) | set(os.environ) if (env or os.environ).get(k) != os.environ.get(k)}
    return env is not None and any(k.startswith(_READ_AT_IMPORT) for k in changed)


def _run_in_process(argv: list, cwd, env: dict) -> subprocess.CompletedProcess:
    import io

    from gentools.cli import run

    env = dict(env, GENTOOLS_NO_STDIN="1")  # as with stdin from /dev/null: never wait on this worker's fd 0
    saved_env, saved_cwd, saved_stdio = dict(os.environ), os.getcwd(), (sys.stdin, sys.stdout, sys.stderr)
    out, err = io.BytesIO(), io.BytesIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    os.environ.clear()
    os.environ.update(env)
    try:
        if cwd is not None:
            os.chdir(cwd)
        try:
            code = run(argv)
        except SystemExit as exc:  # --version, --help: typer.Exit inside click
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return subprocess.CompletedProcess(["gentools", *argv], code, out.getvalue(), err.getvalue())
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.stdin, sys.stdout, sys.stderr = saved_stdio


def sigterm_after_rows(args: list, out, rows: int) -> tuple[int, bytes]:
    """Start ``gentools extract ARGS -o OUT``, SIGTERM it once its partial file holds ``rows`` rows; returns
    ``(exit code, stderr)``. Fails if it finishes first."""
    import signal
    import time

    from gentools import store

    proc = subprocess.Popen([str(BIN / "gentools"), "extract", *map(str, args), "-o", str(out)], env=cli_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while store.rows_done(f"{out}.partial") < rows and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def run_shell(script: str, cwd) -> subprocess.CompletedProcess:
    """Run a bash pipeline with gentools on PATH."""
    return subprocess.run(["bash", "-c", "set -o pipefail; " + script], cwd=cwd, env=cli_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def forkserver(tmp_path_factory):
    """The example recipes' ``gentools``, forked from a warm server (tests/forkserver.py): ``{"gentools": path of
    the command, "env": cli_env() with it first on PATH}``."""
    folder = tmp_path_factory.mktemp("forkserver")
    socket_path = folder / "s"
    shim = folder / "bin" / "gentools"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).parent / "forkserver_client.py"}" "$@"\n')
    shim.chmod(0o755)
    server = subprocess.Popen([sys.executable, "-m", "tests.forkserver", str(socket_path)], env=cli_env(),
                              cwd=Path(__file__).parent.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert server.stdout.readline().strip() == b"ready"
    env = cli_env(GENTOOLS_FORKSERVER=str(socket_path))
    env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"
    yield {"gentools": shim, "env": env}
    server.kill()
    server.wait()


def parse_tsv(stdout: bytes) -> dict:
    out = {}
    for line in stdout.decode().splitlines():
        key, value = line.split("\t")
        out[key] = value
    return out


def cli_values(*argv, env=None) -> dict:
    """``gentools ARGV -q`` (must exit 0) as ``{name: float}`` from its TSV lines."""
    return {k: float(v) for k, v in parse_tsv(run_cli(*argv, "-q", check=0, env=env).stdout).items()}


def one_line_error(*argv, env=None) -> str:
    """Run a command that must fail with one stderr line (``-q``: warnings off) and exit 1; returns the line."""
    proc = run_cli(*argv, "-q", env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("gentools: error:"), err
    return err


def offline_audio_error(tmp_path, backbone: str, rate: int) -> str:
    """The one-line error of ``extract -b BACKBONE`` on a silent WAV with no weights anywhere (empty HOME and torch
    hub folder) and the download refused (a mirror on a closed port)."""
    import soundfile

    sound = tmp_path / "silent.wav"
    soundfile.write(sound, np.zeros(rate // 10, np.float32), rate)
    return one_line_error("extract", sound, "-b", backbone, "-o", tmp_path / "offline.h5",
                          env=cli_env(HOME=str(tmp_path), TORCH_HOME=str(tmp_path / "th"),
                                      GENTOOLS_WEIGHTS_MIRROR="http://127.0.0.1:9"))  # refused at once


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """sklearn's bundled 8x8 digits as float32 pixel features (1797, 64)."""
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)


@pytest.fixture(scope="session")
def gaussian_pair() -> tuple[np.ndarray, np.ndarray]:
    """Two well-conditioned Gaussian feature sets with different means and covariances (n > d)."""
    rng = np.random.RandomState(7)
    d = 32
    a = rng.randn(600, d) @ (np.eye(d) + 0.3 * rng.randn(d, d))
    b = rng.randn(500, d) @ (np.eye(d) + 0.2 * rng.randn(d, d)) * 1.3 + 0.5
    return a.astype(np.float32), b.astype(np.float32)


@pytest.fixture()
def feature_files(tmp_path, gaussian_pair):
    """gen.h5 / ref.h5 features files with inception-like provenance."""
    from gentools import store

    gen, ref = gaussian_pair
    prov = {"backbone": "inception", "layer": "pool3", "weights_sha256": "abc123", "resize": "tf"}
    store.write_features(str(tmp_path / "gen.h5"), {"features": gen, "ids": [f"g{i}" for i in range(len(gen))]},
                         dict(prov, count=len(gen), complete=True, source="gen/"))
    store.write_features(str(tmp_path / "ref.h5"), {"features": ref}, dict(prov, count=len(ref), complete=True,
                                                                           source="ref/"))
    return tmp_path / "gen.h5", tmp_path / "ref.h5"


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> Path:
    """A seeded random-init Inception state dict in the published layout (never the real weights)."""
    from gentools.api.weights import weights_random

    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    weights_random("inception", path, seed=0)  # `gentools weights random inception --seed 0`
    return path


def photo_crops(count: int, size: int | tuple = 32, seed: int = 0) -> list[np.ndarray]:
    """Real photo crops (sklearn's bundled sample images) as uint8 RGB arrays."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.RandomState(seed)
    h, w = (size, size) if isinstance(size, int) else size
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        y, x = rng.randint(0, photo.shape[0] - h), rng.randint(0, photo.shape[1] - w)
        crops.append(np.ascontiguousarray(photo[y:y + h, x:x + w]))
    return crops


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """24 PNG photo crops of 32x32 in a folder with a subfolder (sorted recursive order)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    (root / "sub").mkdir()
    for i, crop in enumerate(photo_crops(24)):
        Image.fromarray(crop).save(root / ("sub" if i >= 20 else "") / f"img_{i:03d}.png")
    return root


def tiny_generator(path, latent_dim: int = 6, size: int = 8, seed: int = 0, scale: float = 1.0,
                   with_latent_dim: bool = True, scripted: bool = False):
    """The tests' one small generator, saved at ``path``: ``tanh(Linear(z)) * scale`` as ``[B, 3, size, size]``
    in [-scale, scale], weights from ``torch.manual_seed(seed)``. Saved as an exported program (``.pt2`` format,
    dynamic batch; its input shape declares ``latent_dim``), or with ``scripted=True`` as the legacy TorchScript
    file, where ``latent_dim`` is an attribute set in ``__init__`` unless ``with_latent_dim=False``. Returns the
    eager module."""
    import torch

    class TinyGenerator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if with_latent_dim:
                self.latent_dim = latent_dim
            torch.manual_seed(seed)
            self.fc = torch.nn.Linear(latent_dim, 3 * size * size)
            self.scale = scale
            self.size = size

        def forward(self, z):
            return torch.tanh(self.fc(z)).view(-1, 3, self.size, self.size) * self.scale

    module = TinyGenerator().eval()
    if not scripted:
        export_module(module, torch.zeros(2, latent_dim), path)
        return module
    script_module(module, path)
    return module


def export_module(module, example, path) -> None:
    """``torch.export.save`` of ``module`` with a dynamic batch dimension: the README's recipe."""
    import torch

    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(module, (example,), dynamic_shapes=({0: batch},)), str(path))


def script_module(module, path) -> None:
    """A legacy TorchScript file of ``module`` (torch's deprecation warning is expected and silenced here)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(module).save(str(path))


# The files that take longest, first: with `--dist loadfile` each goes whole to one worker, so one started
# last would run alone at the end while the other core idles.
LONGEST_FIRST = ("tests/test_demo.py", "tests/video/test_video_demo.py", "tests/audio/test_audio_demo.py",
                 "tests/features/test_compiled.py", "tests/video/test_fvd.py", "tests/audio/test_audio_extract.py",
                 "tests/cli/test_resume.py", "tests/cli/test_extract.py", "tests/video/test_video_extract.py")


def pytest_collection_modifyitems(items) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
