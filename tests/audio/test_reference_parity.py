"""Audio parity against fadtk 1.1.0, kadtk 1.1.0 and torchaudio 2.5.1, through their outputs.

Those tools cannot live beside torch 2.14 (torchaudio does not load; fadtk pins numpy<2), so
benchmarks/audio_reference/make_venv.sh ran them in a side venv on the seeded inputs of
tests/audio/inputs.py and saved what they returned in tests/fixtures/audio_reference.npz. These tests
make the same inputs and compare gentools' numbers with those outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gentools import presets, store
from tests.audio.inputs import LOADING_CASES, TARGET_RATE, embedding_sets, write_loading_inputs
from tests.conftest import cli_values, run_cli

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "audio_reference.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory, reference):
    """The embedding sets as gentools features files: one run of rows per file, ids ``r00``… / ``g00``…."""
    root = tmp_path_factory.mktemp("frames")
    ref, gen = embedding_sets()
    prov = {"backbone": "vggish", "modality": "audio", "complete": True}
    paths = {}
    for side, files in (("ref", ref), ("gen", gen)):
        ids = [f"{side[0]}{k:02d}" for k, frames in enumerate(files) for _ in range(len(frames))]
        rows = np.concatenate(files).astype(np.float32)
        paths[side] = root / f"{side}.h5"
        store.write_features(str(paths[side]), {"features": rows, "ids": ids}, dict(prov, count=len(rows)))
    return paths


def test_reference_was_made_by_the_tools_it_names(reference):
    versions = str(reference["versions"])
    assert "torchaudio 2.5.1" in versions and "fadtk 1.1.0" in versions and "kadtk 1.1.0" in versions
    quoted = {str(reference[k]).split("\t", 1)[1]: bool(reference[f"source_found.{k.split('.')[1]}"])
              for k in reference if k.startswith("source.")}
    assert all(quoted.values()), [line for line, found in quoted.items() if not found]
    for setting, source in presets.PRESETS["fadtk"].sources.items():  # every line the preset quotes was found
        if source.repo == "microsoft/fadtk":
            assert source.line in quoted, (setting, source.line)


@pytest.mark.parametrize("case", [c[0] for c in LOADING_CASES])
def test_loading_equals_fadtk_load_audio(tmp_path, reference, case):
    """Resampling equals torchaudio's Resample with fadtk's parameters to 1e-6, and under --preset fadtk
    (16-bit round trip, 1 s minimum) the waveform equals fadtk's load_audio, but for one 16-bit step where the
    value before rounding lies within that 1e-6 of a rounding boundary: the reference was resampled on another
    CPU, whose kernels (AVX2, AVX-512, plain) differ from ours in the last bits."""
    from gentools.features.audio import Loading, decode, pcm16_round_trip

    path = write_loading_inputs(tmp_path)[case]
    data, rate = decode(str(path))
    resampled = Loading(TARGET_RATE).prepare(data, rate)
    expected = reference[f"resampled.{case}"]
    assert resampled.shape == expected.shape
    assert np.abs(resampled - expected).max() <= 1e-6
    fadtk = Loading(TARGET_RATE, pcm16=True, min_samples=TARGET_RATE).prepare(data, rate)
    loaded = reference[f"load.{case}"] / 32768.0
    assert fadtk.shape == loaded.shape == (TARGET_RATE,)  # 0.2 s zero-padded to VGGish's min_len=1 s
    low, high = (np.pad(pcm16_round_trip(expected + shift, TARGET_RATE), (0, TARGET_RATE - len(expected)))
                 for shift in (-1e-6, 1e-6))  # rounding is monotonic: the steps reachable within the tolerance
    assert ((low <= loaded) & (loaded <= high)).all()
    assert ((low <= fadtk) & (fadtk <= high)).all(), np.flatnonzero((fadtk < low) | (fadtk > high))[:5]
    # 1e-6 either side spans 2 * 1e-6 * 32768 = 6.6% of a step: elsewhere (over 90% of samples) it is bit for bit
    assert np.count_nonzero(low != high) <= 0.1 * len(expected)


def test_fadtk_statistics_and_distance(reference):
    from gentools.metrics import audio

    ref, gen = embedding_sets()
    mu_ref, cov_ref = audio.fadtk_statistics(ref)
    mu_gen, cov_gen = audio.fadtk_statistics(gen)
    for got, key in ((mu_ref, "ref_mu"), (cov_ref, "ref_cov"), (mu_gen, "gen_mu"), (cov_gen, "gen_cov")):
        assert np.abs(got - reference[f"fad.{key}"]).max() <= 1e-12, key
    value = audio.fadtk_frechet_distance(mu_ref, cov_ref, mu_gen, cov_gen)
    assert abs(value - float(reference["fad.value"])) <= 1e-6


def test_fid_preset_fadtk_cli_equals_fadtk(frame_files, reference):
    """``fid --preset fadtk`` from features files: FAD to 1e-6, per-file FAD (score_individual) to 1e-6, FAD∞
    (score_inf after np.random.seed) to 1e-6; the default preset equals the exact float64 formula to 1e-9."""
    from gentools.metrics import frechet

    seed = int(reference["fad.inf_seed"])
    values = cli_values("fid", frame_files["gen"], frame_files["ref"], "--preset", "fadtk", "--per-file",
                        "--infinity", "--seed", seed)
    assert abs(values["fid"] - float(reference["fad.value"])) <= 1e-6
    per_file = [values[f"fid.g{k:02d}"] for k in range(len(reference["fad.per_file"]))]
    assert np.abs(np.array(per_file) - reference["fad.per_file"]).max() <= 1e-6
    assert abs(values["fid_infinity"] - float(reference["fad.inf_score"])) <= 1e-6
    assert abs(values["fid_infinity_slope"] - float(reference["fad.inf_slope"])) <= 1e-4
    assert abs(values["fid_infinity_r2"] - float(reference["fad.inf_r2"])) <= 1e-9
    ref, gen = embedding_sets()
    exact = frechet.frechet_distance(*frechet.mean_cov(np.concatenate(gen).astype(np.float64)),
                                     *frechet.mean_cov(np.concatenate(ref).astype(np.float64)))
    default = cli_values("fid", frame_files["gen"], frame_files["ref"])["fid"]
    assert abs(default - exact) <= 1e-9
    assert abs(default - values["fid"]) > 1e-9  # the float16 means and the eig route do change the digits


def test_kad_equals_kadtk(frame_files, reference):
    values = cli_values("kad", frame_files["gen"], frame_files["ref"])
    assert abs(values["kad"] - float(reference["kad.value"])) <= 1e-6
    assert values["kad_bandwidth"] == pytest.approx(float(reference["kad.bandwidth"]), rel=1e-7)
    from_ref = cli_values("kad", frame_files["gen"], frame_files["ref"], "--bandwidth-from", "ref")
    assert abs(from_ref["kad"] - float(reference["kad.value_ref_bandwidth"])) <= 1e-6
    assert from_ref["kad_bandwidth"] == pytest.approx(float(reference["kad.bandwidth_ref"]), rel=1e-7)
    given = cli_values("kad", frame_files["gen"], frame_files["ref"], "--bandwidth",
                       repr(float(reference["kad.bandwidth_ref"])))
    assert given["kad"] == pytest.approx(from_ref["kad"], abs=1e-6)


def test_fadtk_stats_file_round_trip(frame_files, tmp_path, reference):
    """``stats --format fadtk`` writes what fadtk's load_stats reads (``data[f'{self.ml.name}.mu']``,
    ``data[f'{self.ml.name}.cov']`` in fadtk/fad.py), and a fadtk stats file is an input of ``fid``."""
    out = tmp_path / "ref_stats.npz"
    run_cli("stats", frame_files["ref"], "-o", out, "--format", "fadtk", check=0)
    with np.load(out) as data:  # fadtk's own reading, transcribed
        assert set(data.files) == {"vggish.mu", "vggish.cov"}
        mu, cov = data["vggish.mu"], data["vggish.cov"]
    ref, _ = embedding_sets()
    exact_mu, exact_cov = np.concatenate(ref).astype(np.float64).mean(0), np.cov(np.concatenate(ref).T.astype(float))
    assert np.abs(mu - exact_mu).max() <= 1e-12 and np.abs(cov - exact_cov).max() <= 1e-12
    fadtk_file = tmp_path / "fadtk_stats.npz"  # as fadtk's own stats files hold several models
    np.savez(fadtk_file, **{"vggish.mu": reference["fad.ref_mu"], "vggish.cov": reference["fad.ref_cov"],
                            "clap-laion-audio.mu": np.zeros(4), "clap-laion-audio.cov": np.eye(4)})
    values = cli_values("fid", frame_files["gen"], fadtk_file, "--preset", "fadtk")
    assert abs(values["fid"] - float(reference["fad.value"])) <= 1e-6


def test_fadtk_model_names_follow_its_model_loader(tmp_path):
    """fadtk 1.1.0 model_loader.py: ``model_identifier = f"hubert-{size}" + ("" if (layer == 12 and size ==
    'base') or (layer == 24 and size == 'large') else f"-{layer}")`` with ``huggingface_id =
    f"facebook/hubert-{size}-ls960"``; ``'encodec-emb' if variant == '24k'``; ``super().__init__(f"clap-laion-{type}",
    512, 48000)``. fadtk has no PANNs model."""
    from gentools.store.formats import fadtk_model_of

    assert fadtk_model_of("vggish") == "vggish" and fadtk_model_of("encodec:24k") == "encodec-emb"
    assert fadtk_model_of("hf:facebook/hubert-base-ls960", "hidden_states[12]") == "hubert-base"
    assert fadtk_model_of("hf:facebook/wav2vec2-large-960h", "hidden_states[7]") == "w2v2-large-7"
    assert fadtk_model_of("hf:patrickvonplaten/wavlm-libri-clean-100h-base-plus", "hidden_states[12]") == \
        "wavlm-base-plus"
    assert fadtk_model_of("hf:openai/whisper-tiny", "hidden_states[4]") is None
    assert fadtk_model_of("panns:cnn14") is None
    assert fadtk_model_of("clap:laion-audio") == "clap-laion-audio" and fadtk_model_of("clap:laion-music") == \
        "clap-laion-music"
    rows = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    prov = {"backbone": "hf:facebook/hubert-base-ls960", "layer": "hidden_states[3]", "modality": "audio",
            "complete": True, "count": 40}
    store.write_features(str(tmp_path / "f.h5"), {"features": rows, "ids": [f"a{k // 4}" for k in range(40)]}, prov)
    run_cli("stats", tmp_path / "f.h5", "-o", tmp_path / "s.npz", "--format", "fadtk", check=0)
    with np.load(tmp_path / "s.npz") as data:
        assert set(data.files) == {"hubert-base-3.mu", "hubert-base-3.cov"}
    assert cli_values("fid", tmp_path / "f.h5", tmp_path / "s.npz")["fid"] == pytest.approx(0.0, abs=1e-9)
