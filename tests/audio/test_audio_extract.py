"""Audio extraction: the vggish backbone against torchvggish, files -> frames, shards, resume, bad inputs,
waveforms from a generator and from the Evaluator."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import soundfile
import torch

from gentools import store
from tests.conftest import cli_env, one_line_error, run_cli, sigterm_after_rows

RATE = 44100


def _tone(seconds: float, seed: int, channels: int = 2, rate: int = RATE) -> np.ndarray:
    rng = np.random.RandomState(seed)
    t = np.arange(int(rate * seconds)) / rate
    base = 0.4 * np.sin(2 * np.pi * (200 + 40 * seed) * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([base * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory):
    """Eight sound files of 0.3-3.1 s at 44.1 kHz (stereo WAV and mono FLAC), random VGGish weights."""
    from gentools.features.backbones.audio import random_vggish_state_dict

    root = tmp_path_factory.mktemp("sounds")
    folder = root / "sounds"
    (folder / "sub").mkdir(parents=True)
    for i in range(8):
        seconds = 0.3 + 0.4 * i
        if i % 2:
            soundfile.write(folder / "sub" / f"s{i}.flac", _tone(seconds, i, 1), RATE, format="FLAC")
        else:
            soundfile.write(folder / f"s{i}.wav", _tone(seconds, i), RATE, subtype="PCM_16")
    (folder / "notes.txt").write_text("not audio")
    weights = root / "vggish.pth"
    torch.save(random_vggish_state_dict(3), weights)
    return root, folder, weights


def _features(path):
    with store.open_input(str(path)) as f:
        return f.array("features"), f.ids, dict(f.provenance)


def _torchvggish(weights):
    """torchvggish's own VGG with fadtk's changes: no PCA postprocessing, the last ReLU removed."""
    from torchvggish.torchvggish import VGG, make_layers

    model = VGG(make_layers(), postprocess=False)
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.embeddings = torch.nn.Sequential(*list(model.embeddings.children())[:-1])
    return model.eval()


@pytest.mark.parametrize("preset", ["", "fadtk"])
def test_vggish_frames_equal_torchvggish(sounds, tmp_path, preset):
    """Frames equal torchvggish's waveform_to_examples + forward on the same 16 kHz waveform to 1e-5, one
    per 0.96 s after fadtk's 1 s minimum; each file's rows are contiguous and carry its id."""
    from torchvggish import vggish_input

    from gentools.features.audio import Loading, decode

    root, folder, weights = sounds
    out = tmp_path / "f.h5"
    run_cli("extract", folder, "-b", "vggish", "--weights", weights, "-o", out, "--workers", "1",
            *(["--preset", preset] if preset else []), check=0)
    features, ids, prov = _features(out)
    assert prov["modality"] == "audio" and prov["sample_rate"] == 16000 and prov["pcm16"] == bool(preset)
    names = ["s0.wav", "s2.wav", "s4.wav", "s6.wav", "sub/s1.flac", "sub/s3.flac", "sub/s5.flac", "sub/s7.flac"]
    model = _torchvggish(weights)
    expected, expected_ids = [], []
    for name in names:
        data, rate = decode(str(folder / name))
        wave = Loading(16000, pcm16=bool(preset), min_samples=16000).prepare(data, rate)
        with torch.no_grad():
            frames = model(vggish_input.waveform_to_examples(wave, 16000)).numpy()
        count = 1 + (1 + (len(wave) - 400) // 160 - 96) // 96  # fadtk's frames: 96 log-mel frames of 10 ms each
        assert len(frames) == count
        expected.append(frames.astype(np.float16).astype(np.float32) if preset else frames)
        expected_ids += [name] * count
    assert ids == expected_ids
    assert np.abs(features - np.concatenate(expected)).max() <= 1e-5


def test_archives_globs_and_stdin_lists_give_the_same_rows(sounds, tmp_path):
    root, folder, weights = sounds
    common = ["-b", "vggish", "--weights", weights, "--workers", "0"]
    run_cli("extract", folder / "sub", *common, "-o", tmp_path / "folder.h5", check=0)
    archive = tmp_path / "sounds.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((folder / "sub").glob("*.flac")):
            z.write(path, path.name)
    run_cli("extract", archive, *common, "-o", tmp_path / "zip.h5", check=0)
    run_cli("extract", f"{folder}/sub/*.flac", *common, "-o", tmp_path / "glob.h5", check=0)
    listed = "\n".join(str(p) for p in sorted((folder / "sub").glob("*.flac"))).encode()
    run_cli("extract", "-", *common, "-o", tmp_path / "stdin.h5", stdin_bytes=listed, check=0)
    base = _features(tmp_path / "folder.h5")[0]
    for name in ("zip", "glob", "stdin"):
        np.testing.assert_array_equal(_features(tmp_path / f"{name}.h5")[0], base)
    assert _features(tmp_path / "zip.h5")[1][0] == "sounds.zip:s1.flac"


def test_three_shards_merge_to_the_whole(sounds, tmp_path):
    root, folder, weights = sounds
    common = [folder, "-b", "vggish", "--weights", weights, "--workers", "0", "--batch-size", "2"]
    run_cli("extract", *common, "-o", tmp_path / "whole.h5", check=0)
    for i in range(3):
        run_cli("extract", *common, "--shard", f"{i}/3", "-o", tmp_path / f"part{i}.h5", check=0)
    run_cli("merge", *[tmp_path / f"part{i}.h5" for i in (2, 0, 1)], "-o", tmp_path / "merged.h5", check=0)
    whole, merged = _features(tmp_path / "whole.h5"), _features(tmp_path / "merged.h5")
    assert merged[1] == whole[1]
    np.testing.assert_array_equal(merged[0], whole[0])


def test_sigterm_then_resume_reproduces_one_run(tmp_path):
    from gentools.features.backbones.audio import random_vggish_state_dict

    folder = tmp_path / "long"
    folder.mkdir()
    for i in range(20):
        soundfile.write(folder / f"{i:02d}.wav", _tone(4.0, i, 1, 16000), 16000)
    weights = tmp_path / "w.pth"
    torch.save(random_vggish_state_dict(1), weights)
    args = [str(folder), "-b", "vggish", "--weights", str(weights), "--workers", "0", "--batch-size", "1",
            "--flush-every", "1", "-q"]
    run_cli("extract", *args, "-o", tmp_path / "whole.h5", check=0)
    out = tmp_path / "out.h5"
    code, err = sigterm_after_rows(args, out, 8)
    assert code == 143 and "--resume" in err.decode()
    done = store.rows_done(f"{out}.partial")
    assert 0 < done < 80 and done % 4 == 0  # whole files only: 4 frames each
    run_cli("extract", *args, "-o", out, "--resume", check=0)
    whole, resumed = _features(tmp_path / "whole.h5"), _features(out)
    assert resumed[1] == whole[1]
    np.testing.assert_array_equal(resumed[0], whole[0])


def test_bad_audio_inputs_are_one_line(sounds, tmp_path):
    root, folder, weights = sounds
    common = ["-b", "vggish", "--weights", weights, "--workers", "0", "-o", tmp_path / "x.h5"]
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x07" * 40)
    assert "corrupt.wav: cannot decode audio (not a readable sound file" in one_line_error("extract", corrupt,
                                                                                          *common)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert "empty.wav: cannot decode audio" in one_line_error("extract", empty, *common)
    nan = tmp_path / "nan.wav"
    samples = _tone(1.0, 0, 1, 16000)
    samples[100] = np.nan
    soundfile.write(nan, samples, 16000, subtype="FLOAT")
    assert "nan.wav: cannot decode audio (1 sample(s) are NaN or infinite)" in one_line_error("extract", nan,
                                                                                             *common)
    from PIL import Image

    image = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    assert "photo.png: cannot decode audio" in one_line_error("extract", image, *common)
    text_only = tmp_path / "text_only"
    text_only.mkdir()
    (text_only / "readme.txt").write_text("no sound here")
    assert "text_only: no audio files found" in one_line_error("extract", text_only, *common)
    usage = run_cli("extract", folder, *common, "--resize", "tf", "-q")
    assert usage.returncode == 2 and "--resize" in usage.stderr.decode() and "Traceback" not in usage.stderr.decode()
    skipped = run_cli("extract", corrupt, empty, folder / "s0.wav", *common[:-2], "-o", tmp_path / "skip.h5",
                      "--skip-bad", check=0)
    assert "skipped 2" in skipped.stderr.decode()
    with store.open_input(str(tmp_path / "skip.h5")) as f:
        assert [str(s) for s in f.raw("skipped")] == [str(corrupt), str(empty)] and set(f.ids) == {str(folder / "s0.wav")}


WAVE_GENERATOR = '''
import torch
class Tones(torch.nn.Module):
    latent_dim = 4
    def forward(self, z):
        t = torch.arange(22050 * 2) / 22050
        freq = 200 + 50 * z[:, :1].abs()
        return 0.5 * torch.sin(2 * torch.pi * freq * t)[:, None, :].repeat(1, 2, 1)
def make():
    return Tones()
'''


def test_generator_waveforms_equal_the_same_waveforms_written_as_wav(sounds, tmp_path):
    """``extract --generator G --sample-rate SR`` and ``Evaluator.update(waveforms, sample_rate)`` go through
    the resampling and framing of files: FAD equal to the WAV-file route to 1e-9."""
    import gentools
    from gentools.features.generators import latents

    root, folder, weights = sounds
    (tmp_path / "tones.py").write_text(WAVE_GENERATOR)
    env = cli_env(PYTHONPATH=str(tmp_path))
    run_cli("extract", "--generator", "tones:make", "--num-samples", 5, "--sample-rate", 22050, "-b", "vggish",
            "--weights", weights, "-o", tmp_path / "gen.h5", env=env, check=0)
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        import tones
    finally:
        sys.path.remove(str(tmp_path))
    waves = tones.make()(torch.from_numpy(latents(2020, range(5), 4))).numpy()
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for i, wave in enumerate(waves):
        soundfile.write(wavs / f"{i}.wav", wave.T, 22050, subtype="FLOAT")
    run_cli("extract", wavs, "-b", "vggish", "--weights", weights, "-o", tmp_path / "files.h5", check=0)
    run_cli("extract", folder, "-b", "vggish", "--weights", weights, "-o", tmp_path / "ref.h5", check=0)
    generated, files = _features(tmp_path / "gen.h5"), _features(tmp_path / "files.h5")
    np.testing.assert_array_equal(generated[0], files[0])
    assert generated[1][0] == "generator:seed=2020:index=0" and generated[2]["generator_sample_rate"] == 22050
    by_files = gentools.fid(tmp_path / "files.h5", tmp_path / "ref.h5")["fid"]
    evaluator = gentools.Evaluator(ref=str(tmp_path / "ref.h5"), metrics=["fid", "kad"], backbone="vggish",
                                   weights=str(weights), device="cpu")
    evaluator.update(torch.from_numpy(waves[:3]), sample_rate=22050)
    evaluator.update(waves[3:], sample_rate=22050)
    scores = evaluator.compute()
    assert abs(scores["fid"] - by_files) <= 1e-9
    assert scores["kad"] == pytest.approx(gentools.kad(tmp_path / "files.h5", tmp_path / "ref.h5")["kad"], abs=1e-9)


def test_evaluator_with_preset_fadtk_equals_extract_and_fid_with_it(sounds, tmp_path):
    """Issue 34, silent wrong results 1 and 2: ``Evaluator(preset="fadtk")`` did not apply fadtk's 16-bit round
    trip (only ``extract`` did), and ``pixel_range`` was accepted with an audio backbone, meaning nothing."""
    import gentools

    root, folder, weights = sounds
    rng = np.random.RandomState(5)
    waves = np.clip(0.2 * rng.randn(8, 2, 22050 * 3), -0.99, 0.99).astype(np.float32)  # not 16-bit values
    for name, part in (("wavs", waves[:4]), ("refs", waves[4:] * 0.5)):  # 3 s: fadtk's per-file np.cov needs 2+
        (tmp_path / name).mkdir()
        for i, wave in enumerate(part):
            soundfile.write(tmp_path / name / f"{i}.wav", wave.T, 22050, subtype="FLOAT")
    waves, wavs = waves[:4], tmp_path / "wavs"
    fadtk = ("-b", "vggish", "--weights", weights, "--preset", "fadtk", "-q")
    run_cli("extract", wavs, *fadtk, "-o", tmp_path / "gen.h5", check=0)
    run_cli("extract", tmp_path / "refs", *fadtk, "-o", tmp_path / "ref.h5", check=0)
    run_cli("extract", folder, *fadtk, "-o", tmp_path / "short.h5", check=0)  # 0.3-3.1 s: one frame for most
    err = one_line_error("fid", tmp_path / "gen.h5", tmp_path / "short.h5", "--preset", "fadtk")
    assert "file(s) of one frame" in err and "np.cov" in err, err
    by_commands = gentools.fid(tmp_path / "gen.h5", tmp_path / "ref.h5", preset="fadtk")["fid"]
    evaluator = gentools.Evaluator(ref=str(tmp_path / "ref.h5"), metrics=["fid"], backbone="vggish",
                                   weights=str(weights), device="cpu", preset="fadtk")
    evaluator.update(waves, sample_rate=22050)
    assert evaluator.compute()["fid"] == pytest.approx(by_commands, rel=1e-9)  # random VGGish: FAD ~1e-5
    run_cli("extract", wavs, "-b", "vggish", "--weights", weights, "-q", "-o", tmp_path / "plain.h5", check=0)
    with pytest.raises(gentools.GentoolsError, match="assumes features extracted with pcm16 'True'; .* 'False'"):
        gentools.fid(tmp_path / "plain.h5", tmp_path / "ref.h5", preset="fadtk")
    with pytest.warns(gentools.GentoolsWarning, match="pcm16"):  # without the round trip: another number
        plain = gentools.fid(tmp_path / "plain.h5", tmp_path / "ref.h5", preset="fadtk", force=True)["fid"]
    assert plain != pytest.approx(by_commands, rel=1e-6)
    with pytest.raises(gentools.GentoolsError, match="pixel_range=\\(0, 1\\) applies to images and videos"):
        gentools.Evaluator(ref=str(tmp_path / "ref.h5"), backbone="vggish", weights=str(weights), device="cpu",
                           pixel_range=(0, 1))
