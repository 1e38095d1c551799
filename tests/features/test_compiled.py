"""The compiled runtime: an AOTInductor package built once into $GENTOOLS_CACHE/compiled/, checked, rebuilt.

A plugin network with a fixed input size goes through the same path as the
Inception (compiled.prepare); it compiles in seconds where the Inception takes
a minute or more on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import gentools
from tests.conftest import cli_env, run_cli

SHIM = r"""
#include <stdio.h>
__attribute__((constructor)) static void shim(void) { FILE *f = fopen(MARKER, "w"); if (f) fclose(f); }
"""


def _tiny_net():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.Flatten())


def _prepare(net):
    import warnings

    import torch

    from gentools.features.backbones import compiled

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ready, runtime = compiled.prepare(net, torch.device("cpu"), (3, 4, 4), {"backbone": "x", "weights_sha256": ""})
    return ready, runtime, [str(w.message) for w in caught]


def _own_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GENTOOLS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    monkeypatch.delenv("GENTOOLS_RUNTIME", raising=False)
    return tmp_path / "cache"


PLUGIN = '''
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(6)
        self.bn.running_mean.uniform_(-0.1, 0.1)
        self.fc = torch.nn.Linear(6, 5)
        self.input_size = 12

    def forward(self, x):
        pooled = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        return pooled, self.fc(pooled)

def make():
    return Net()
'''


INDUCTOR: dict = {}
# The tests that build a package (about 25 s of AOTInductor each on 2 cores, three builds) run in `make test-all`
# and CI, not `make test`; the cache's refusals below need no build and run in both.
BUILDS = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _shared_inductor_cache(tmp_path_factory):
    """torch's own compile cache (TORCHINDUCTOR_CACHE_DIR), shared by the tests of this file: what they test is
    gentools' cache and policy; inductor's C++ kernels for the one small network are built once, not per test."""
    INDUCTOR["dir"] = tmp_path_factory.mktemp("inductor")


def _extract(tmp_path, image_folder, out: str, cache) -> tuple:
    """``python -W error::FutureWarning -m gentools extract`` with the plugin; (features, provenance, stderr)."""
    env = cli_env(PYTHONPATH=str(tmp_path), GENTOOLS_CACHE=str(cache), XDG_CONFIG_HOME=str(tmp_path / "config"),
                  TORCHINDUCTOR_CACHE_DIR=str(INDUCTOR["dir"]))
    proc = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-m", "gentools", "extract", image_folder,
                           "-b", "smallnet:make", "--workers", "0", "--compile", "always", "-o", tmp_path / out],
                          env=env, capture_output=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    with gentools.load(str(tmp_path / out)) as f:
        return f.array(), dict(f.provenance), proc.stderr.decode()


def _entry(cache):
    records = list((cache / "compiled").glob("*.json"))
    packages = list((cache / "compiled").glob("*.pt2"))
    assert len(records) == 1 and len(packages) == 1, (records, packages)
    return records[0], packages[0]


@BUILDS
def test_built_once_loaded_after_rebuilt_when_forged_cut_or_stale(tmp_path, image_folder, monkeypatch):
    """Built once, loaded warm; then issue 33's attack: whoever can write the cache swaps the package's .so for a
    shim and recomputes the record's sha256 and size. The record's HMAC (its key in the user's config folder)
    fails, so the entry is rebuilt with a notice and the shim never loads, while the same package loaded without
    that check runs it (the negative control). Cut and stale entries are refused before anything loads."""
    import hashlib
    import os
    import time
    import warnings
    import zipfile

    from gentools.errors import GentoolsNotice
    from gentools.features.backbones import compiled

    (tmp_path / "smallnet.py").write_text(PLUGIN)
    cache = tmp_path / "cache"
    cold, provenance, err = _extract(tmp_path, image_folder, "cold.h5", cache)
    assert provenance["runtime"] == "aoti" and "compiling the smallnet:make network" in err
    assert err.count("\n") == 1 and "Traceback" not in err  # the one notice, no torch log lines
    record, package = _entry(cache)
    fields = json.loads(record.read_text())["fields"]
    assert {"torch", "isa", "device", "weights_sha256", "backbone", "code", "input_shape"} <= set(fields)
    assert fields["backbone"] == "smallnet:make" and fields["input_shape"] == [3, 12, 12]
    assert len(json.loads(record.read_text())["hmac"]) == 64
    assert (tmp_path / "config" / "gentools" / "cache.key").stat().st_mode & 0o777 == 0o600

    warm, provenance, err = _extract(tmp_path, image_folder, "warm.h5", cache)
    assert err == "" and provenance["runtime"] == "aoti"  # loaded, not rebuilt
    np.testing.assert_array_equal(warm, cold)

    off, provenance, err = _extract(tmp_path, image_folder, "off.h5", "off")
    assert provenance["runtime"] == "eager" and err == ""
    np.testing.assert_allclose(off, cold, rtol=0, atol=1e-6 * np.abs(off).max())
    assert off.std() > 1e-3

    marker = tmp_path / "shim-ran"
    (tmp_path / "shim.c").write_text(SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", f'-DMARKER="{marker}"', str(tmp_path / "shim.c"), "-o",
                    str(tmp_path / "shim.so")], check=True)
    with zipfile.ZipFile(package) as src:
        members = {info.filename: src.read(info) for info in src.infolist()}
    shared = [name for name in members if name.endswith(".so")]
    assert shared
    with zipfile.ZipFile(package, "w") as out:
        for name, data in members.items():
            out.writestr(name, (tmp_path / "shim.so").read_bytes() if name in shared else data)
    forged = dict(json.loads(record.read_text()), sha256=hashlib.sha256(package.read_bytes()).hexdigest(),
                  size=package.stat().st_size)
    record.write_text(json.dumps(forged))
    killed = record.parent / f".{record.stem}.killed.pt2"  # a killed build's temporary, two hours old
    killed.write_bytes(b"partial")
    os.utime(killed, (time.time() - 7200,) * 2)
    control = subprocess.run([sys.executable, "-c", "import sys; from gentools.features.backbones.compiled import "
                              "Package; Package(sys.argv[1])", str(package)], capture_output=True)
    assert marker.exists(), control.stderr.decode()[-400:]  # the shim is real: loading the package runs it
    marker.unlink()

    rebuilt, provenance, err = _extract(tmp_path, image_folder, "rebuilt.h5", cache)
    assert "not signed with this user's key" in err and "rebuilding" in err and "compiling" in err, err
    assert provenance["runtime"] == "aoti" and not marker.exists() and not killed.exists()
    np.testing.assert_array_equal(rebuilt, cold)
    record, package = _entry(cache)
    assert json.loads(record.read_text())["size"] == package.stat().st_size

    # A cut package, and a record for another torch, are refused (and the entry removed) before anything loads.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    key = compiled.signing_key()
    record_fields = json.loads(record.read_text())["fields"]
    for change, reason in (("cut", "do not match its record"), ("stale", "built for another torch")):
        if change == "cut":
            saved = package.read_bytes()
            package.write_bytes(saved[: len(saved) // 2])
        asked = dict(record_fields, torch="0.0.1") if change == "stale" else record_fields
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert compiled._load_entry(record.with_suffix(""), asked, key) is None
        assert [w.category for w in caught] == [GentoolsNotice] and reason in str(caught[0].message)
        assert not record.exists() and not package.exists()
        if change == "cut":  # put the entry back for the next case
            package.write_bytes(saved)
            restored = {"fields": record_fields, "package": package.name, "size": len(saved),
                        "sha256": hashlib.sha256(saved).hexdigest()}
            record.write_text(json.dumps(dict(restored, hmac=compiled._signature(restored, key))))


def test_cache_root_and_runtime_choice(monkeypatch, tmp_path):
    import pytest
    import torch

    from gentools.errors import UsageError
    from gentools.features.backbones import compiled

    monkeypatch.setenv("GENTOOLS_CACHE", str(tmp_path))
    assert compiled.cache_root() == tmp_path and compiled.chosen_runtime(torch.device("cpu")) == "aoti"
    monkeypatch.setenv("GENTOOLS_RUNTIME", "eager")
    assert compiled.chosen_runtime(torch.device("cpu")) == "eager"
    monkeypatch.setenv("GENTOOLS_RUNTIME", "jit")
    with pytest.raises(UsageError, match="GENTOOLS_RUNTIME=jit"):
        compiled.chosen_runtime(torch.device("cpu"))
    monkeypatch.delenv("GENTOOLS_RUNTIME")
    monkeypatch.setenv("GENTOOLS_CACHE", "off")
    assert compiled.cache_root() is None and compiled.chosen_runtime(torch.device("cpu")) == "eager"
    monkeypatch.delenv("GENTOOLS_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compiled.cache_root() == tmp_path / ".cache" / "gentools"


def test_unwritable_cache_runs_eagerly_with_one_warning(monkeypatch, tmp_path):
    import warnings

    import torch

    from gentools.errors import GentoolsWarning
    from gentools.features.backbones import compiled

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("GENTOOLS_CACHE", str(tmp_path / "file"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.Flatten())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ready, runtime = compiled.prepare(net, torch.device("cpu"), (3, 4, 4), {"backbone": "x", "weights_sha256": ""})
    assert runtime == "eager" and [w.category for w in caught] == [GentoolsWarning]
    assert "cannot write the compiled-network cache" in str(caught[0].message)
    assert ready(torch.zeros(2, 3, 4, 4)).shape == (2, 32)


def test_a_cache_others_can_write_or_a_key_others_can_read_is_not_run_from(monkeypatch, tmp_path):
    import os

    cache = _own_cache(monkeypatch, tmp_path)
    (cache / "compiled").mkdir(parents=True)
    os.chmod(cache / "compiled", 0o777)
    ready, runtime, notices = _prepare(_tiny_net())
    assert runtime == "eager" and len(notices) == 1 and "other users can write it" in notices[0], notices
    assert not list((cache / "compiled").iterdir())
    os.chmod(cache / "compiled", 0o755)
    key = tmp_path / "config" / "gentools" / "cache.key"
    key.parent.mkdir(parents=True)
    key.write_text("ab" * 32)
    os.chmod(key, 0o644)
    ready, runtime, notices = _prepare(_tiny_net())
    assert runtime == "eager" and len(notices) == 1 and "other users can read it" in notices[0], notices
    assert ready(__import__("torch").zeros(2, 3, 4, 4)).shape == (2, 32)


@BUILDS
def test_auto_compiles_only_a_job_that_repays_it(tmp_path, image_folder):
    """Issue 34, item 6: the first extract on a new machine spent 66 s compiling before its first image. auto
    runs a small job eagerly with one notice, loads a package the cache holds, and compiles a large job
    (here the threshold lowered to the job's size: a real 3,000-image job takes minutes)."""
    from gentools.features.backbones import compiled

    (tmp_path / "smallnet.py").write_text(PLUGIN)
    cache = tmp_path / "cache"
    env = cli_env(PYTHONPATH=str(tmp_path), GENTOOLS_CACHE=str(cache), XDG_CONFIG_HOME=str(tmp_path / "config"),
                  TORCHINDUCTOR_CACHE_DIR=str(INDUCTOR["dir"]))

    def extract(out, *extra, **more):
        code = ("import sys; from gentools.features.backbones import compiled; compiled.REPAYS_AT = "
                f"{more.get('repays_at', compiled.REPAYS_AT)}; from gentools.cli import main; sys.argv[0] = "
                "'gentools'; main()")
        proc = subprocess.run([sys.executable, "-c", code, "extract", image_folder, "-b", "smallnet:make",
                               "--workers", "0", "-o", tmp_path / out, *extra], env=env, capture_output=True,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr.decode()
        with gentools.load(str(tmp_path / out)) as f:
            return f.n, f.provenance["runtime"], proc.stderr.decode()

    n, runtime, err = extract("small.h5")
    assert runtime == "eager" and not list(cache.glob("compiled/*.pt2"))
    assert err.count("\n") == 1 and f"{n} inputs do not repay compiling it" in err and "--compile always" in err
    assert extract("never.h5", "--compile", "never")[1:] == ("eager", "")
    _, runtime, err = extract("large.h5", repays_at=n)  # a job as large as the threshold compiles
    assert runtime == "aoti" and "compiling the smallnet:make network" in err
    assert extract("cached.h5")[1:] == ("aoti", "")  # the small job now loads the cached package, silently
    assert extract("never2.h5", "--compile", "never")[1] == "eager"
    proc = run_cli("extract", image_folder, "-b", "smallnet:make", "--compile", "sometimes", "-o", tmp_path / "x.h5",
                   env=env)
    assert proc.returncode == 2 and proc.stderr.decode() == ("gentools: error: --compile sometimes: expected one of "
                                                             "auto, always, never\n")
