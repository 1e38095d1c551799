"""clap:laion-audio / clap:laion-music against fadtk's CLAPLaionModel on laion_clap, through the side venv.

laion_clap pins numpy<2, so it runs in the side venv (benchmarks/audio_reference/make_clap_reference.py), over the
waveforms and seeded weights of tests/audio/inputs.py; its frames are in tests/fixtures/clap_reference.npz. Here the
same weights are written as a laion_clap checkpoint (``state_dict`` under ``module.``, text-tower keys and a numpy
epoch beside them) and gentools extracts the same waveforms from WAV files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from gentools import store
from tests.audio.inputs import CLAP_FIXED, CLAP_SECONDS, clap_waveform, seeded_weights
from tests.conftest import run_cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "clap_reference.npz"
SIZE = {"laion-audio": "tiny", "laion-music": "base"}


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def _checkpoint(kind: str, reference: dict, path: Path) -> None:
    """laion_clap's layout, checked against the side venv's model, with the drawn weights and each side's own fixed
    tensors (Swin's buffers from gentools' module, the STFT and mel matrices from torchlibrosa)."""
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    from gentools.features.backbones.clap import ClapAudio

    state = ClapAudio(SIZE[kind]).state_dict()
    assert [f"{k} {tuple(v.shape)} {v.dtype}" for k, v in state.items()] == list(reference[f"{kind}.layout"])
    front = Spectrogram(n_fft=1024, hop_length=480, win_length=1024, window="hann", center=True, pad_mode="reflect",
                        freeze_parameters=True).state_dict()
    front["melW"] = LogmelFilterBank(sr=48000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, ref=1.0, amin=1e-10,
                                     top_db=None, freeze_parameters=True).melW.data
    for key, total in zip(reference[f"{kind}.fixed_keys"], reference[f"{kind}.fixed_sums"]):
        short = key.split("audio_branch.spectrogram_extractor.")[-1].split("audio_branch.logmel_extractor.")[-1]
        if short in front:
            state[key] = front[short]
        assert key.endswith(CLAP_FIXED)
        assert abs(state[key].double().sum().item() - total) <= 1e-6 * max(1.0, abs(total)), key
    drawn = seeded_weights({k: (tuple(v.shape), str(v.dtype)) for k, v in state.items()})
    state.update({k: torch.from_numpy(v) for k, v in drawn.items()})
    checkpoint = {f"module.{k}": v for k, v in state.items()}
    checkpoint["module.text_branch.embeddings.position_ids"] = 0  # as fadtk's unpatch_model_430 writes it
    checkpoint["module.logit_scale_a"] = torch.tensor(2.6593)
    torch.save({"epoch": np.int64(15), "state_dict": checkpoint}, path)


@pytest.mark.parametrize("kind", ["laion-audio", "laion-music"])
def test_clap_frames_equal_fadtk_clap_laion_model(kind, reference, tmp_path):
    """Each file's rows equal fadtk's ``CLAPLaionModel._get_embedding`` (laion_clap's forward) on the same waveform
    and weights to 1e-5, ``ceil(seconds)`` rows per file (one 10 s chunk per second)."""
    weights = tmp_path / "clap.pt"
    _checkpoint(kind, reference, weights)
    folder = tmp_path / "sounds"
    folder.mkdir()
    names = list(CLAP_SECONDS[kind])
    for index, (name, seconds) in enumerate(CLAP_SECONDS[kind].items()):
        soundfile.write(folder / f"{name}.wav", clap_waveform(index, seconds), 48000, subtype="FLOAT")
    out = tmp_path / "f.h5"
    run_cli("extract", folder, "-b", f"clap:{kind}", "--weights", weights, "--workers", "0", "-o", out, "-q",
            check=0)
    with store.open_input(str(out)) as f:
        rows, ids, provenance = f.array(), f.ids, dict(f.provenance)
    assert provenance["backbone"] == f"clap:{kind}" and provenance["sample_rate"] == 48000
    for name in sorted(names):
        mine = rows[[i for i, file in enumerate(ids) if file == f"{name}.wav"]]
        theirs = reference[f"{kind}.{name}"]
        assert len(mine) == int(np.ceil(CLAP_SECONDS[kind][name])) == len(theirs)
        assert np.abs(mine - theirs).max() <= 1e-5, (name, np.abs(mine - theirs).max())
    # the frames differ from one another by far more than the tolerance: the comparison can fail
    assert np.abs(reference[f"{kind}.mid"] - reference[f"{kind}.short"][0]).max() > 1e-3


def test_clap_sources_are_in_the_installed_fadtk_and_laion_clap(reference):
    """Every fadtk and laion_clap line the backbone follows (make_clap_reference.py's QUOTED) was found in the side
    venv's installed packages."""
    count = len([k for k in reference if k.startswith("source.")])
    assert count >= 10
    for k in range(count):
        assert reference[f"source_found.{k}"], str(reference[f"source.{k}"])


def test_clap_checkpoint_refusals_are_one_line(tmp_path):
    """A missing file names where the checkpoint is published; a file with other window indices is refused."""
    from tests.conftest import offline_audio_error, one_line_error

    line = offline_audio_error(tmp_path, "clap:laion-music", 48000)
    assert "https://huggingface.co/lukewys/laion_clap/resolve/main/music_audioset_epoch_15_esc_90.14.pt" in line

    from gentools.features.backbones.clap import ClapAudio

    state = ClapAudio("tiny").state_dict()
    key = "audio_branch.layers.0.blocks.0.attn.relative_position_index"
    state[key] = torch.zeros_like(state[key])
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, bad)
    sound = tmp_path / "silent.wav"
    line = one_line_error("extract", sound, "-b", "clap:laion-audio", "--weights", bad, "-o", tmp_path / "y.h5")
    assert "bad.pt: not a LAION-CLAP HTSAT-tiny" in line and "window indices" in line
    proc = run_cli("extract", sound, "-b", "clap:laion-speech", "-o", tmp_path / "z.h5", "-q", check=2)
    assert b"expected clap:laion-audio or clap:laion-music" in proc.stderr
