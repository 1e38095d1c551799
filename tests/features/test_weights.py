"""Inception weights: resolution order, download with hash check (local file URL), offline error."""

from __future__ import annotations

import hashlib
import io
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
    import dataclasses

    prefix = hashlib.sha256(inception_weights.read_bytes()).hexdigest()[:8]
    monkeypatch.setattr(weights, "INCEPTION", dataclasses.replace(weights.INCEPTION, sha256=prefix))
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


def test_weights_pull_from_a_loopback_server_checks_the_hash_and_resumes(tmp_path):
    """Issue 34, item 3: ``gentools weights pull`` fetches a backbone's published file as ``ref pull`` does
    (bounded, resumable with If-Range, kept only when it hashes right), so a login node can fill the cache of
    its offline nodes; ``gentools weights`` then says it is here."""
    import os

    from tests.test_refs import Server

    server = Server()
    env = cli_env(TORCH_HOME=str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    try:
        inception = "/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
        server.files[inception] = os.urandom(50_000)  # not the published file: its sha256 is not 6726825d...
        proc = run_cli("weights", "pull", "inception", "--mirror", server.url, env=env)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and err.count("\n") == 1 and "expected 6726825d…; not kept" in err, err
        assert not list(folder.iterdir())  # nothing kept, no partial file

        i3d400 = "/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt"
        body = os.urandom(200_000)
        server.files[i3d400] = body
        server.drop.add(i3d400)  # the first answer is cut at half its bytes
        pull = ("weights", "pull", "i3d400", "--mirror", server.url, "--sha256", hashlib.sha256(body).hexdigest())
        proc = run_cli(*pull, env=env)
        assert proc.returncode == 1 and "run the same pull again to resume" in proc.stderr.decode()
        assert (folder / "i3d_pretrained_400.pt.partial").stat().st_size == len(body) // 2
        assert run_cli(*pull, env=env, check=0).stdout.decode().strip() == str(folder / "i3d_pretrained_400.pt")
        assert server.requests[-1] == (i3d400, f"bytes={len(body) // 2}-")  # resumed, not fetched again
        assert (folder / "i3d_pretrained_400.pt").read_bytes() == body
        listed = {line.split("\t")[0]: line.split("\t") for line in
                  run_cli("weights", env=env, check=0).stdout.decode().splitlines()}
        assert listed["i3d400"][3] == "yes" and listed["inception"][3] == "no"
        assert "already here" in run_cli(*pull, env=env, check=0).stderr.decode()
    finally:
        server.close()


def test_gentools_weights_serves_the_default_backbone_only(tmp_path, inception_weights):
    """``--weights`` read $GENTOOLS_WEIGHTS for every backbone: an Inception file set for the default backbone
    was loaded as VGGish's weights. Now only the Inception reads it; VGGish looks where its own file lives."""
    import numpy as np
    import soundfile

    soundfile.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    env = cli_env(GENTOOLS_WEIGHTS=str(inception_weights), TORCH_HOME=str(tmp_path / "torch"),
                  GENTOOLS_WEIGHTS_MIRROR="http://127.0.0.1:9")  # nothing listens on port 9: offline at once
    proc = run_cli("extract", tmp_path / "a.wav", "-b", "vggish", "-o", tmp_path / "x.h5", env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "no vggish-10086976.pth here and it cannot be fetched" in err, err
    assert str(inception_weights) not in err, err


def test_every_backbone_resolves_its_weights_in_one_order_and_downloads_the_published_file(tmp_path):
    """Issue 34, item 3: vggish, panns and clap never downloaded; now every backbone resolves --weights, its
    variable, the caches, then the published URL (here a loopback mirror, $GENTOOLS_WEIGHTS_MIRROR) with its
    sha256. VGGish's published prefix refuses a wrong file and keeps nothing; CLAP's checkpoint (no published
    hash) is fetched into torch hub's folder, used, and found there the next time without a request."""
    import numpy as np
    import soundfile
    import torch

    from gentools.features.backbones.audio import random_vggish_state_dict
    from gentools.features.backbones.clap import ClapAudio
    from tests.test_refs import Server

    soundfile.write(tmp_path / "a.wav", np.random.default_rng(0).uniform(-0.5, 0.5, 48000).astype(np.float32), 48000)
    server = Server()
    env = cli_env(TORCH_HOME=str(tmp_path / "torch"), GENTOOLS_WEIGHTS_MIRROR=server.url)
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    try:
        vggish = "/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
        buffer = io.BytesIO()
        torch.save(random_vggish_state_dict(0), buffer)
        server.files[vggish] = buffer.getvalue()
        proc = run_cli("extract", tmp_path / "a.wav", "-b", "vggish", "-o", tmp_path / "v.h5", "-q", env=env)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and err.count("\n") == 1 and "expected 10086976…" in err, err
        assert server.requests[-1][0] == vggish and not (folder / "vggish-10086976.pth").exists()

        clap = "/lukewys/laion_clap/resolve/main/630k-audioset-best.pt"
        buffer = io.BytesIO()
        torch.manual_seed(0)
        torch.save({"state_dict": {f"module.{k}": v for k, v in ClapAudio("tiny").state_dict().items()}}, buffer)
        server.files[clap] = buffer.getvalue()
        run_cli("extract", tmp_path / "a.wav", "-b", "clap:laion-audio", "-o", tmp_path / "c.h5", "-q", env=env,
                check=0)
        assert (folder / "630k-audioset-best.pt").read_bytes() == server.files[clap]
        asked = len(server.requests)
        run_cli("extract", tmp_path / "a.wav", "-b", "clap:laion-audio", "-o", tmp_path / "c2.h5", "-q", env=env,
                check=0)
        assert len(server.requests) == asked  # found in the cache: no second request
        listed = {line.split("\t")[0]: line.split("\t") for line in
                  run_cli("weights", env=env, check=0).stdout.decode().splitlines()}
        assert listed["clap:laion-audio"][3] == "yes" and listed["vggish"][3] == "no"
    finally:
        server.close()
