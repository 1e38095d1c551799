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

import gentools
from tests.conftest import cli_env

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


def _extract(tmp_path, image_folder, out: str, cache) -> tuple:
    """``python -W error::FutureWarning -m gentools extract`` with the plugin; (features, provenance, stderr)."""
    env = cli_env(PYTHONPATH=str(tmp_path), GENTOOLS_CACHE=str(cache),
                  TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    proc = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-m", "gentools", "extract", image_folder,
                           "-b", "smallnet:make", "--workers", "0", "-o", tmp_path / out],
                          env=env, capture_output=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    with gentools.load(str(tmp_path / out)) as f:
        return f.array(), dict(f.provenance), proc.stderr.decode()


def _entry(cache):
    records = list((cache / "compiled").glob("*.json"))
    packages = list((cache / "compiled").glob("*.pt2"))
    assert len(records) == 1 and len(packages) == 1, (records, packages)
    return records[0], packages[0]


def test_built_once_loaded_after_rebuilt_when_cut_or_stale(tmp_path, image_folder):
    (tmp_path / "smallnet.py").write_text(PLUGIN)
    cache = tmp_path / "cache"
    cold, provenance, err = _extract(tmp_path, image_folder, "cold.h5", cache)
    assert provenance["runtime"] == "aoti" and "compiling the smallnet:make network" in err
    assert err.count("\n") == 1 and "Traceback" not in err  # the one notice, no torch log lines
    record, package = _entry(cache)
    fields = json.loads(record.read_text())["fields"]
    assert {"torch", "isa", "device", "weights_sha256", "backbone", "code", "input_shape"} <= set(fields)
    assert fields["backbone"] == "smallnet:make" and fields["input_shape"] == [3, 12, 12]

    warm, provenance, err = _extract(tmp_path, image_folder, "warm.h5", cache)
    assert err == "" and provenance["runtime"] == "aoti"  # loaded, not rebuilt
    np.testing.assert_array_equal(warm, cold)

    off, provenance, err = _extract(tmp_path, image_folder, "off.h5", "off")
    assert provenance["runtime"] == "eager" and err == ""
    np.testing.assert_allclose(off, cold, rtol=0, atol=1e-6 * np.abs(off).max())
    assert off.std() > 1e-3

    package.write_bytes(package.read_bytes()[: package.stat().st_size // 2])  # a cut entry
    cut, provenance, err = _extract(tmp_path, image_folder, "cut.h5", cache)
    assert "cached compiled network is unusable" in err and "rebuilding" in err and "compiling" in err
    assert provenance["runtime"] == "aoti"
    np.testing.assert_array_equal(cut, cold)
    record, package = _entry(cache)
    assert json.loads(record.read_text())["size"] == package.stat().st_size

    # A record for another torch is refused (and the entry removed) before anything is loaded.
    import warnings

    from gentools.errors import GentoolsNotice
    from gentools.features.backbones import compiled

    stale = dict(json.loads(record.read_text())["fields"], torch="0.0.1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert compiled._load_entry(record.with_suffix(""), stale) is None
    assert [w.category for w in caught] == [GentoolsNotice] and "built for another torch" in str(caught[0].message)
    assert not record.exists() and not package.exists()


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
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.Flatten())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ready, runtime = compiled.prepare(net, torch.device("cpu"), (3, 4, 4), {"backbone": "x", "weights_sha256": ""})
    assert runtime == "eager" and [w.category for w in caught] == [GentoolsWarning]
    assert "cannot write the compiled-network cache" in str(caught[0].message)
    assert ready(torch.zeros(2, 3, 4, 4)).shape == (2, 32)
