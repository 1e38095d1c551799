"""Run fadtk 1.1.0, kadtk 1.1.0 and torchaudio 2.5.1 on seeded inputs; save their outputs for the tests.

Runs in the side venv that make_venv.sh builds (never in the tests or CI). The inputs come from
tests/audio/inputs.py, which the tests use too. Output: one .npz (a few hundred KB) with

- ``load.NAME`` (int16): fadtk's ``FrechetAudioDistance.load_audio`` of each loading case at 16 kHz with
  VGGish's ``min_len=1`` (the values are ``int16 / 32768.0``, so int16 holds them exactly), and
  ``resampled.NAME`` (float32): the same file through ``torchaudio.load(backend="soundfile")``, mean to mono and
  fadtk's ``torchaudio.transforms.Resample``, before the 16-bit round trip;
- ``fad.*``: on tests/audio/inputs.py's float16 embedding sets, fadtk's ``calculate_embd_statistics_online``
  (``ref_mu``, ``ref_cov``, ``gen_mu``, ``gen_cov``), ``calc_frechet_distance`` (``value``), ``score_individual``
  (``per_file``, in file order) and ``score_inf`` after ``np.random.seed(SEED)`` (``inf_score``, ``inf_slope``,
  ``inf_r2``);
- ``kad.*``: kadtk's ``calc_kernel_audio_distance(embd_bg, embd_eval)`` (``value``, bandwidth from the eval set
  as its code does), with the reference set's median distance as bandwidth (``value_ref_bandwidth``), and both
  bandwidths;
- ``source.N`` / ``source_found.N``: each line gentools' fadtk preset quotes, and whether it is in the installed
  fadtk;
- ``versions``: the packages that made it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.audio.inputs import LOADING_CASES, TARGET_RATE, embedding_sets, write_loading_inputs  # noqa: E402

SEED = 11
# The fadtk lines gentools' presets quote (gentools/presets.py, PRESETS["fadtk"].sources), checked here.
QUOTED = (
    ("fad.py", "covmean = (V * scisqrt(D)) @ linalg.inv(V)"),
    ("fad.py", 'torchaudio.save(str(new), y, self.ml.sr, encoding="PCM_S", bits_per_sample=16)'),
    ("fad.py", "lowpass_filter_width=64,"),
    ("fad.py", "rolloff=0.9475937167399596,"),
    ("fad.py", "beta=14.769656459379492,"),
    ("utils.py", "cov = S / (n - 1)  # compute the covariance matrix"),
    ("model_loader.py", "self.model = torch.hub.load('harritaylor/torchvggish', 'vggish')"),
    ("model_loader.py", "embd = embd.astype(np.float16)"),
    ("model_loader.py", "wav_data = wav_data / 32768.0  # Convert to [-1.0, +1.0]"),
)


def main(out: str) -> None:
    import torch
    import torchaudio
    import fadtk
    from fadtk import fad as fad_module
    from fadtk.fad import FrechetAudioDistance, calc_frechet_distance
    from fadtk.model_loader import ModelLoader
    from fadtk.utils import calculate_embd_statistics_online
    from kadtk.kad import calc_kernel_audio_distance, median_pairwise_distance

    class Frames(ModelLoader):
        """A ModelLoader that loads nothing: fadtk's audio loading and statistics only need its name and rate."""

        def __init__(self):
            super().__init__("vggish", 16, TARGET_RATE, min_len=1)

        def load_model(self):
            pass

        def _get_embedding(self, audio):
            raise NotImplementedError

    arrays: dict = {}
    fad = FrechetAudioDistance(Frames(), audio_load_worker=1, load_model=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, path in write_loading_inputs(tmp / "loading").items():
            x, rate = torchaudio.load(str(path), backend="soundfile")
            x = torch.mean(x, 0).unsqueeze(0)
            y = torchaudio.transforms.Resample(rate, TARGET_RATE, lowpass_filter_width=64,
                                               rolloff=0.9475937167399596, resampling_method="sinc_interp_kaiser",
                                               beta=14.769656459379492)(x)
            arrays[f"resampled.{name}"] = y[0].numpy().astype(np.float32)
            loaded = fad.load_audio(path)
            pcm = np.round(loaded * 32768.0)
            assert np.array_equal(pcm / 32768.0, loaded)
            arrays[f"load.{name}"] = pcm.astype(np.int16)

        ref, gen = embedding_sets()
        ref_files, gen_dir = [], tmp / "gen"
        (gen_dir / "embeddings" / "vggish").mkdir(parents=True)
        for k, frames in enumerate(ref):
            arrays[f"fad.ref.{k:02d}"] = frames
            np.save(tmp / f"ref{k:02d}.npy", frames)
            ref_files.append(tmp / f"ref{k:02d}.npy")
        gen_files = []
        for k, frames in enumerate(gen):
            arrays[f"fad.gen.{k:02d}"] = frames
            (gen_dir / f"g{k:02d}.wav").write_bytes(b"")  # score_individual lists eval files, reads their embeddings
            np.save(gen_dir / "embeddings" / "vggish" / f"g{k:02d}.npy", frames)
            gen_files.append(gen_dir / "embeddings" / "vggish" / f"g{k:02d}.npy")
        ref_mu, ref_cov = calculate_embd_statistics_online(ref_files)
        gen_mu, gen_cov = calculate_embd_statistics_online(gen_files)
        arrays.update({"fad.ref_mu": ref_mu, "fad.ref_cov": ref_cov, "fad.gen_mu": gen_mu, "fad.gen_cov": gen_cov})
        arrays["fad.value"] = np.float64(calc_frechet_distance(ref_mu, ref_cov, gen_mu, gen_cov))
        stats_file = tmp / "ref_stats.npz"
        np.savez(stats_file, **{"vggish.mu": ref_mu, "vggish.cov": ref_cov})
        csv = fad.score_individual(stats_file, gen_dir, tmp / "individual.csv")
        scores = {}
        for line in Path(csv).read_text().splitlines():
            file, value = line.rsplit(",", 1)
            scores[Path(file).stem] = float(value)
        arrays["fad.per_file"] = np.array([scores[f"g{k:02d}"] for k in range(len(gen))])
        np.random.seed(SEED)
        inf = fad.score_inf(stats_file, gen_files)
        arrays.update({"fad.inf_score": np.float64(inf.score), "fad.inf_slope": np.float64(inf.slope),
                       "fad.inf_r2": np.float64(inf.r2), "fad.inf_seed": np.int64(SEED)})

    embd_bg = torch.tensor(np.concatenate(ref))
    embd_eval = torch.tensor(np.concatenate(gen))
    arrays["kad.value"] = np.float64(calc_kernel_audio_distance(embd_bg, embd_eval, (None, None), "cpu").item())
    arrays["kad.bandwidth"] = np.float64(median_pairwise_distance(embd_eval.float()))
    ref_bandwidth = median_pairwise_distance(embd_bg.float())
    arrays["kad.bandwidth_ref"] = np.float64(ref_bandwidth)
    arrays["kad.value_ref_bandwidth"] = np.float64(
        calc_kernel_audio_distance(embd_bg, embd_eval, (None, None), "cpu", bandwidth=ref_bandwidth).item())

    package = Path(fadtk.__file__).parent
    for k, (file, line) in enumerate(QUOTED):
        arrays[f"source.{k}"] = np.array(f"{file}\t{line}")
        arrays[f"source_found.{k}"] = np.bool_(line in (package / file).read_text())
    import kadtk
    import scipy
    import soundfile

    arrays["versions"] = np.array(
        f"torch {torch.__version__}; torchaudio {torchaudio.__version__}; fadtk {_version('fadtk')}; "
        f"kadtk {_version('kadtk')}; numpy {np.__version__}; scipy {scipy.__version__}; "
        f"soundfile {soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__}); "
        f"torchaudio backends {torchaudio.list_audio_backends()}")
    assert fad_module.TORCHAUDIO_RESAMPLING and kadtk
    np.savez_compressed(out, **arrays)
    print(out, Path(out).stat().st_size, "bytes;", arrays["versions"])


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "tests" / "fixtures" / "audio_reference.npz"))
