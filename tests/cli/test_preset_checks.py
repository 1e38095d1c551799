"""Issue 34, item 2: a metric's --preset is checked against how the features were made. Each of these ran
without a word (12.30 against 12.81 for stylegan-v on i3d400 features), or ended in "unexpected ValueError"."""

from __future__ import annotations

import numpy as np
import pytest

from gentools import store
from tests.conftest import one_line_error, run_cli

IMAGE = {"backbone": "inception", "resize": "tf", "layer": "pool3", "weights_sha256": "w"}
VIDEO = {"layer": "x", "resize": "", "weights_sha256": "w", "modality": "video", "frames": 16, "subsample": 1}
AUDIO = {"backbone": "vggish", "layer": "x", "resize": "", "weights_sha256": "w", "modality": "audio",
         "sample_rate": 16000, "pcm16": False, "frames_float16": False}

# (what the features were made with, the preset, the setting named, assumed, found)
CASES = [
    ("fid", dict(VIDEO, backbone="i3d"), "fvd2048_128f", "frames", "128", "16"),
    ("fid", dict(VIDEO, backbone="i3d"), "tats", "backbone", "i3d400", "i3d"),
    ("fid", dict(VIDEO, backbone="i3d400"), "stylegan-v", "backbone", "i3d", "i3d400"),
    ("fid", AUDIO, "fadtk", "pcm16", "True", "False"),
    ("fid", IMAGE, "fadtk", "modality", "audio", "image"),
    ("fid", IMAGE, "edm2", "backbone", "dinov2:vitl14", "inception"),
    ("fid", IMAGE, "clean-fid", "resize", "clean", "tf"),
    ("kid", dict(IMAGE, resize="pytorch-fid"), "torch-fidelity", "resize", "tf", "pytorch-fid"),
    ("prdc", dict(IMAGE, resize="clean"), "adm", "resize", "tf", "clean"),
]


def _features(path, provenance: dict, seed: int) -> str:
    rows = np.random.RandomState(seed).randn(48, 8).astype(np.float32)
    ids = [f"f{k // 4:02d}" for k in range(48)]  # runs of 4 rows: a sound file's frames, for fadtk's route
    store.write_features(str(path), {"features": rows, "ids": ids}, dict(provenance, count=48, complete=True))
    return str(path)


@pytest.mark.parametrize("command, provenance, preset, key, assumed, found", CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CASES])
def test_a_preset_on_features_made_otherwise_is_one_line_and_runs_with_force(tmp_path, command, provenance, preset,
                                                                            key, assumed, found):
    gen, ref = (_features(tmp_path / f"{name}.h5", provenance, seed) for seed, name in enumerate(("gen", "ref")))
    if command == "kid":
        ref = [ref, "--subset-size", "20", "--subsets", "5"]
    else:
        ref = [ref]
    err = one_line_error(command, gen, *ref, "--preset", preset)
    assert f"--preset {preset} assumes features extracted with {key} '{assumed}'; " in err, err
    assert f"has {key} '{found}'" in err and "--force" in err, err
    proc = run_cli(command, gen, *ref, "--preset", preset, "--force", check=0)
    assert f"assumes features extracted with {key} '{assumed}'" in proc.stderr.decode()  # said, then computed
    assert proc.stdout.decode().split("\n")[0].split("\t")[1]


def test_the_preset_a_file_was_made_for_passes(tmp_path):
    """The controls: each preset on the settings it assumes runs with no word about them; a file without
    provenance (a plain array) cannot be checked and is not refused."""
    for preset, provenance in (("stylegan-v", dict(VIDEO, backbone="i3d")),
                               ("fvd2048_128f", dict(VIDEO, backbone="i3d", frames=128)),
                               ("tats", dict(VIDEO, backbone="i3d400")),
                               ("fadtk", dict(AUDIO, pcm16=True, frames_float16=True)),
                               ("clean-fid", dict(IMAGE, resize="clean")),
                               ("stylegan", dict(IMAGE, backbone="nvidia:inception-2015-12-05", resize="inside"))):
        gen, ref = (_features(tmp_path / f"{preset}{k}.h5", provenance, k) for k in range(2))
        proc = run_cli("fid", gen, ref, "--preset", preset, check=0)
        assert "assumes" not in proc.stderr.decode(), (preset, proc.stderr.decode())
    rows = np.random.RandomState(0).randn(2, 48, 8)
    for k in range(2):
        np.save(tmp_path / f"plain{k}.npy", rows[k])
    run_cli("fid", tmp_path / "plain0.npy", tmp_path / "plain1.npy", "--preset", "edm2", "-q", check=0)
