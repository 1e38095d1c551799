"""hf:MODEL[:LAYER] and encodec:24k: transformers models with random weights in their real architectures (fewer
layers, to stay fast), saved with save_pretrained; gentools' frames against transformers' own forward."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from gentools import store
from tests.conftest import one_line_error, run_cli

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_clips")
    rng = np.random.RandomState(5)
    for i, seconds in enumerate((0.7, 1.3, 2.0)):
        t = np.arange(int(22050 * seconds)) / 22050
        wave = 0.5 * np.sin(2 * np.pi * (300 + 100 * i) * t) + 0.05 * rng.standard_normal(len(t))
        soundfile.write(root / f"c{i}.wav", np.stack([wave, 0.7 * wave], 1).astype(np.float32), 22050)
    return root


def _prepared(clips, rate):
    from gentools.features.audio import Loading, decode

    return [Loading(rate).prepare(*decode(str(clips / f"c{i}.wav"))) for i in range(3)]


def _frames(path):
    with store.open_input(str(path)) as f:
        return f.array("features"), f.ids, dict(f.provenance)


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm", "whisper"])
def test_hf_hidden_states_equal_transformers(clips, tmp_path, kind):
    torch.manual_seed(0)
    if kind == "whisper":
        config = transformers.WhisperConfig(encoder_layers=2, decoder_layers=1, d_model=64, encoder_attention_heads=2,
                                            decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128)
        model = transformers.WhisperModel(config)
        extractor = transformers.WhisperFeatureExtractor()
    else:
        config_class, model_class = {"wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
                                     "hubert": (transformers.HubertConfig, transformers.HubertModel),
                                     "wavlm": (transformers.WavLMConfig, transformers.WavLMModel)}[kind]
        model = model_class(config_class(num_hidden_layers=3, hidden_size=96, num_attention_heads=4,
                                         intermediate_size=192))
        extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=True)
    folder = tmp_path / kind
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    layer = 2
    out = tmp_path / "f.h5"
    run_cli("extract", clips, "-b", f"hf:{folder}:{layer}", "-o", out, "--workers", "0", check=0)
    features, ids, prov = _frames(out)
    model.eval()
    expected, expected_ids = [], []
    for i, wave in enumerate(_prepared(clips, 16000)):
        inputs = extractor(wave, sampling_rate=16000, return_tensors="pt")
        with torch.no_grad():
            if kind == "whisper":
                hidden = model.get_encoder()(inputs["input_features"], output_hidden_states=True).hidden_states
            else:
                hidden = model(**inputs, output_hidden_states=True).hidden_states
        expected.append(hidden[layer][0].numpy())
        expected_ids += [f"c{i}.wav"] * len(expected[-1])
    assert ids == expected_ids and prov["layer"] == "hidden_states[2]" and prov["sample_rate"] == 16000
    assert np.abs(features - np.concatenate(expected)).max() <= 1e-5
    depth = len(hidden) - 1
    assert f"layer 9 is not in 0..{depth}" in one_line_error("extract", clips, "-b", f"hf:{folder}:9", "-o", tmp_path / "x.h5")


def test_hf_missing_model_names_where_it_is_published(clips, tmp_path, monkeypatch):
    env_home = tmp_path / "hf_home"
    from tests.conftest import cli_env

    line = one_line_error("extract", clips, "-b", "hf:facebook/hubert-base-ls960:12", "-o", tmp_path / "x.h5",
                          env=cli_env(HF_HOME=str(env_home), HF_HUB_OFFLINE="1"))
    assert "https://huggingface.co/facebook/hubert-base-ls960" in line and "--weights" in line


def test_encodec_frames_equal_transformers_encoder(clips, tmp_path):
    torch.manual_seed(1)
    model = transformers.EncodecModel(transformers.EncodecConfig())  # the 24 kHz model's architecture
    folder = tmp_path / "encodec"
    model.save_pretrained(folder)
    out = tmp_path / "e.h5"
    run_cli("extract", clips, "-b", "encodec:24k", "--weights", folder, "-o", out, "--workers", "0", check=0)
    features, ids, prov = _frames(out)
    model.eval()
    expected = []
    for wave in _prepared(clips, 24000):
        with torch.no_grad():
            emb = model.encoder(torch.from_numpy(wave.astype(np.float32))[None, None])[0].transpose(0, 1)
        expected.append(emb.numpy())
        assert len(expected[-1]) == int(np.ceil(len(wave) / 320))  # 75 frames per second of 24 kHz audio
    assert features.shape[1] == 128 and prov["sample_rate"] == 24000
    assert np.abs(features - np.concatenate(expected)).max() <= 1e-5


def _cached(home, model_id: str, folder, revision: str) -> None:
    """``folder`` placed in a Hugging Face cache as huggingface_hub lays it out: ``snapshots/REV`` and
    ``refs/main`` naming it."""
    import shutil

    repo = home / "hub" / ("models--" + model_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / revision)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)


def test_hf_cache_weights_are_fingerprinted_by_their_snapshot(clips, tmp_path):
    """A model id read from the cache records the sha256 of the snapshot's weight files (as ``--weights`` of the same
    folder does), and another revision of the same id records another: the guard tells them apart."""
    from tests.conftest import cli_env

    home = tmp_path / "hf_home"
    model_id = "gentools-test/tiny-wav2vec2"
    config = transformers.Wav2Vec2Config(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                         intermediate_size=64, conv_dim=(32,) * 7)
    shas = []
    for seed, revision in ((0, "a" * 40), (1, "b" * 40)):
        torch.manual_seed(seed)
        folder = tmp_path / f"w{seed}"
        transformers.Wav2Vec2Model(config).save_pretrained(folder)
        transformers.Wav2Vec2FeatureExtractor().save_pretrained(folder)
        _cached(home, model_id, folder, revision)
        out = tmp_path / f"cache{seed}.h5"
        run_cli("extract", clips, "-b", f"hf:{model_id}:1", "-o", out, "--workers", "0", "-q", check=0,
                env=cli_env(HF_HOME=str(home), HF_HUB_OFFLINE="1"))
        run_cli("extract", clips, "-b", "hf:x:1", "--weights", folder, "-o", tmp_path / f"dir{seed}.h5",
                "--workers", "0", "-q", check=0)
        cached, direct = _frames(out)[2]["weights_sha256"], _frames(tmp_path / f"dir{seed}.h5")[2]["weights_sha256"]
        assert cached == direct and len(cached) == 64
        shas.append(cached)
    assert shas[0] != shas[1]
    proc = run_cli("fid", tmp_path / "cache0.h5", tmp_path / "cache1.h5", "-q")
    assert proc.returncode == 1 and b"weights_sha256" in proc.stderr


@pytest.mark.parametrize("change", ["layers", "rate", "dev-zero-config", "dev-zero-weights", "pickle"])
def test_hostile_hugging_face_files_are_one_line(clips, tmp_path, change):
    """Issue 33: num_hidden_layers 10^5 took 105 s and 4.7 GB; a sampling_rate of 4e9 tried 24 GB; a snapshot file
    linked to /dev/zero was hashed forever; a pytorch_model.bin pickle ended in an "unexpected" error."""
    import json
    import os
    import pickle
    import time

    torch.manual_seed(0)
    folder = tmp_path / "model"
    transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                                           intermediate_size=64)).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor().save_pretrained(folder)
    if change == "layers":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(dict(config, num_hidden_layers=100_000)))
        expected = "num_hidden_layers is 100000"
    elif change == "rate":
        config = json.loads((folder / "preprocessor_config.json").read_text())
        (folder / "preprocessor_config.json").write_text(json.dumps(dict(config, sampling_rate=4_000_000_000)))
        expected = "sampling_rate is 4000000000"
    elif change == "dev-zero-config":
        (folder / "config.json").unlink()
        os.symlink("/dev/zero", folder / "config.json")
        expected = "a character device"  # the reason, which a long path cannot cut off
    elif change == "dev-zero-weights":
        os.symlink("/dev/zero", folder / "extra.bin")
        expected = "cannot be fingerprinted"
    else:
        for weights in folder.glob("*.safetensors"):
            weights.unlink()
        (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"a": (os.system, ("true",))}))
        expected = "cannot be loaded"
    started = time.perf_counter()
    err = one_line_error("extract", clips, "-b", f"hf:{folder}", "--workers", "0", "-o", tmp_path / "x.h5")
    assert expected in err and time.perf_counter() - started < 60, err
