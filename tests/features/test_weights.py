"""Inception weights: resolution order, download with hash check (local file URL), offline error."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from gentools.errors import InputError
from gentools.features import weights
from tests.conftest import cli_env, photo_crops, run_cli


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("GENTOOLS_WEIGHTS", raising=False)
    monkeypatch.setenv(weights.URL_ENV, (tmp_path / "nowhere.pth").as_uri())
    return home / "hub" / "checkpoints"


def test_resolution_order(torch_home, tmp_path, monkeypatch, inception_weights):
    torch_home.mkdir(parents=True)
    fidelity = torch_home / weights.FILE_NAMES[1]
    shutil.copy(inception_weights, fidelity)
    assert weights.resolve_inception_weights(None) == fidelity  # torch-fidelity's download is reused
    pytorch_fid = torch_home / weights.FILE_NAMES[0]
    shutil.copy(inception_weights, pytorch_fid)
    assert weights.resolve_inception_weights(None) == pytorch_fid  # pytorch-fid's name comes first
    env_file = tmp_path / "env.pth"
    shutil.copy(inception_weights, env_file)
    monkeypatch.setenv("GENTOOLS_WEIGHTS", str(env_file))
    assert weights.resolve_inception_weights(None) == env_file
    assert weights.resolve_inception_weights(str(inception_weights)) == inception_weights  # --weights wins
    with pytest.raises(InputError, match="weights file not found"):
        weights.resolve_inception_weights(str(tmp_path / "missing.pth"))


def test_download_checks_the_hash(tmp_path, inception_weights):
    digest = hashlib.sha256(inception_weights.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "w.pth"
    assert weights.download(inception_weights.as_uri(), dest, digest[:8]) == dest
    assert dest.read_bytes() == inception_weights.read_bytes()
    other = tmp_path / "cache2" / "w.pth"
    with pytest.raises(InputError, match="not kept"):
        weights.download(inception_weights.as_uri(), other, weights.PUBLISHED_PREFIX)
    assert list(other.parent.iterdir()) == []  # nothing half-written or wrong left behind


def test_download_is_used_when_nothing_is_cached(torch_home, monkeypatch, tmp_path, inception_weights):
    monkeypatch.setenv(weights.URL_ENV, inception_weights.as_uri())
    with pytest.raises(InputError, match="sha256"):  # random weights: not the published hash
        weights.resolve_inception_weights(None)
    monkeypatch.setattr(weights, "PUBLISHED_PREFIX", hashlib.sha256(inception_weights.read_bytes()).hexdigest()[:8])
    assert weights.resolve_inception_weights(None) == torch_home / weights.FILE_NAMES[0]


def test_offline_error_says_where_to_put_the_file(tmp_path, image_folder):
    env = cli_env(TORCH_HOME=str(tmp_path / "torch"), GENTOOLS_WEIGHTS_URL=(tmp_path / "none.pth").as_uri())
    env.pop("GENTOOLS_WEIGHTS", None)
    proc = run_cli("extract", image_folder, "-o", tmp_path / "o.h5", env=env, check=1)
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "pt_inception-2015-12-05-6726825d.pth" in err and str(tmp_path / "torch" / "hub" / "checkpoints") in err
    assert "--weights" in err and "GENTOOLS_WEIGHTS" in err


def test_unpublished_hash_warns_and_is_recorded(tmp_path, inception_weights):
    from PIL import Image

    from gentools import store

    Image.fromarray(photo_crops(1)[0]).save(tmp_path / "a.png")
    proc = run_cli("extract", tmp_path / "a.png", "-o", tmp_path / "o.h5", "--weights", inception_weights, check=0)
    assert "not comparable with published" in proc.stderr.decode()
    with store.open_input(str(tmp_path / "o.h5")) as f:
        assert f.provenance["weights_sha256"] == hashlib.sha256(inception_weights.read_bytes()).hexdigest()
