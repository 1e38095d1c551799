"""panns:cnn14 against panns_inference's own Cnn14 code, with random weights in its layout.

panns_inference's package ``__init__`` downloads AudioSet's label file at import (``config.py`` runs ``wget``), so
the test imports its ``models.py`` under a bare package object, which runs the models and nothing else.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import soundfile
import torch

from gentools import store
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def panns_models():
    spec = importlib.util.find_spec("panns_inference")
    saved = {k: v for k, v in sys.modules.items() if k == "panns_inference" or k.startswith("panns_inference.")}
    package = types.ModuleType("panns_inference")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["panns_inference"] = package
    try:
        yield importlib.import_module("panns_inference.models")
    finally:
        for name in [k for k in sys.modules if k == "panns_inference" or k.startswith("panns_inference.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def _random_cnn14(models):
    """AudioTagging's ``Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
    classes_num=527)``, its own init, plus drawn batch-norm statistics."""
    with torch.random.fork_rng():
        torch.manual_seed(9)
        model = models.Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
                             classes_num=527)
        state = model.state_dict()
        for key, value in state.items():
            if key.endswith("running_var"):
                state[key] = torch.rand_like(value) + 0.5
            elif key.endswith("running_mean"):
                state[key] = torch.randn_like(value) * 0.1
    return state


def test_panns_frames_equal_cnn14_decision_level_head(panns_models, tmp_path):
    """gentools' rows of each file equal ``relu(fc1(...))`` per frame of panns_inference's Cnn14_DecisionLevelMax
    (the Cnn14 weights loaded into it) on the same 32 kHz waveform, to 1e-5."""
    from gentools.features.audio import Loading, decode

    state = _random_cnn14(panns_models)
    weights = tmp_path / "Cnn14_mAP=0.431.pth"
    torch.save({"model": state}, weights)  # AudioTagging: self.model.load_state_dict(checkpoint['model'])
    folder = tmp_path / "sounds"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for i, seconds in enumerate((0.4, 1.3, 2.1)):
        t = np.arange(int(44100 * seconds)) / 44100
        wave = 0.5 * np.sin(2 * np.pi * (220 + 110 * i) * t) + 0.05 * rng.standard_normal(len(t))
        soundfile.write(folder / f"{i}.wav", np.stack([wave, 0.8 * wave], 1).astype(np.float32), 44100)
    out = tmp_path / "f.h5"
    run_cli("extract", folder, "-b", "panns:cnn14", "--weights", weights, "--workers", "0", "-o", out, "-q", check=0)
    with store.open_input(str(out)) as f:
        rows, ids, provenance = f.array(), f.ids, dict(f.provenance)
    assert provenance["backbone"] == "panns:cnn14" and provenance["sample_rate"] == 32000

    head = panns_models.Cnn14_DecisionLevelMax(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                                               fmin=50, fmax=14000, classes_num=527)
    head.load_state_dict(state)
    head.eval()
    captured = []
    head.fc1.register_forward_hook(lambda module, inputs, output: captured.append(torch.relu(output)))
    loading = Loading(32000, min_samples=32000)
    expected, expected_ids = [], []
    for i in range(3):
        waveform = loading.prepare(*decode(str(folder / f"{i}.wav")))
        with torch.no_grad():
            head(torch.from_numpy(waveform.astype(np.float32))[None])
        expected.append(captured.pop()[0].numpy())
        expected_ids += [f"{i}.wav"] * len(expected[-1])
    expected = np.concatenate(expected)
    assert ids == expected_ids and rows.shape == expected.shape and rows.shape[1] == 2048
    # 1 + N/320 spectrogram frames (1 s minimum), five 2x time pools: 101 -> 3, 131 -> 4, 211 -> 6
    assert [ids.count(f"{i}.wav") for i in range(3)] == [3, 4, 6]
    assert np.abs(rows - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())
    assert np.abs(expected).max() > 1e-3


def test_panns_without_weights_names_the_zenodo_file(tmp_path):
    from tests.conftest import offline_audio_error

    line = offline_audio_error(tmp_path, "panns:cnn14", 16000)
    assert "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth" in line
