"""Issue 33, item 11: what a new user ran into, each fixed and held here."""

from __future__ import annotations

import numpy as np

from gentools import presets
from tests.conftest import cli_env, run_cli


def test_an_unknown_backbone_name_suggests_the_nearest(tmp_path):
    """``-b VGGish`` on an audio folder said "no images found"; ``-b vgish`` printed 1,400 characters."""
    for given, nearest in (("VGGish", "vggish"), ("vgish", "vggish"), ("incepton", "inception")):
        proc = run_cli("extract", tmp_path, "-b", given, "-o", tmp_path / "x.h5")
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.count("\n") == 1 and f"did you mean {nearest}?" in err, err
        assert len(err) < 200


def test_help_lists_every_preset_from_the_table():
    """The help of extract, fid and ref make listed 5 of the 16 presets."""
    for command in (["extract"], ["fid"], ["ref", "make"]):
        text = run_cli(*command, "--help", env=cli_env(COLUMNS="400"), check=0).stdout.decode()
        missing = [name for name in presets.PRESETS if name != "gentools" and name not in text]
        assert not missing, (command, missing)


def test_an_unknown_device_is_a_usage_error(tmp_path):
    """``--device gpu`` gave "unexpected RuntimeError"."""
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    proc = run_cli("extract", tmp_path, "-b", "pixels:4", "--device", "gpu", "-o", tmp_path / "x.h5")
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "--device gpu: expected auto, cpu, cuda" in err, err


def test_ref_make_draws_its_rows_with_the_seed_everything_else_uses(tmp_path, monkeypatch):
    """``ref make --seed`` defaulted to 0, where every other command uses 2020."""
    from gentools.api.ref import ref_make
    from gentools.inputs import load

    monkeypatch.setenv("GENTOOLS_CACHE", str(tmp_path / "cache"))
    rng = np.random.RandomState(0)
    np.save(tmp_path / "f.npy", rng.randn(200, 6).astype(np.float32))
    rows = {}
    for seed in (None, 2020, 0):
        out = tmp_path / f"out{seed}"
        ref_make([str(tmp_path / "f.npy")], name="lab/r", rows=20, seed=seed, output=str(out))
        with load(str(out / "rows.h5")) as f:
            rows[seed] = f.array()
    assert presets.DEFAULT.seed == 2020
    np.testing.assert_array_equal(rows[None], rows[2020])
    assert not np.array_equal(rows[None], rows[0])


def test_skipped_inputs_can_be_read_back_and_are_named_by_their_kind(tmp_path):
    """The warning said "image(s)" for audio, ``info`` showed a count only, and the API had no way to read them."""
    import soundfile
    import torch

    import gentools
    from gentools.features.backbones.audio import random_vggish_state_dict

    torch.save(random_vggish_state_dict(3), tmp_path / "vggish.pth")
    (tmp_path / "in").mkdir()
    soundfile.write(tmp_path / "in" / "a.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    (tmp_path / "in" / "b\tbad.wav").write_bytes(b"RIFF not really")
    proc = run_cli("extract", tmp_path / "in", "-b", "vggish", "--weights", tmp_path / "vggish.pth", "--workers", "0",
                   "--skip-bad", "-o", tmp_path / "x.h5", check=0)
    assert "skipped 1 undecodable sound file(s)" in proc.stderr.decode()
    with gentools.load(str(tmp_path / "x.h5")) as f:
        assert f.skipped == ["b\tbad.wav"]
    listed = run_cli("info", tmp_path / "x.h5", "--skipped", check=0).stdout.decode()
    assert listed == "b\\tbad.wav\n"  # escaped: a tab in a name is no second field
    assert "skipped\t1\n" in run_cli("info", tmp_path / "x.h5", check=0).stdout.decode()


def test_fad_infinity_below_fadtks_500_frames_warns(tmp_path):
    from gentools import store

    rng = np.random.RandomState(0)
    prov = {"backbone": "vggish", "modality": "audio", "complete": True}
    for name, rows in (("gen", 120), ("ref", 300)):
        ids = [f"{name}{k // 10:02d}" for k in range(rows)]
        store.write_features(str(tmp_path / f"{name}.h5"), {"features": rng.randn(rows, 4).astype(np.float32),
                                                            "ids": ids}, dict(prov, count=rows))
    proc = run_cli("fid", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "fadtk", "--infinity", check=0)
    err = proc.stderr.decode()
    assert "FAD∞ from 120 frames, fewer than fadtk's min_n=500" in err and "fid_infinity\t" in proc.stdout.decode()


def test_a_missing_optional_package_is_one_line_with_workers(tmp_path):
    """Without soundfile (or PyAV), the error reached the user as a DataLoader worker's traceback on one line."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "soundfile.py").write_text("raise ImportError('soundfile is blocked for this test')\n")
    (blocked / "av.py").write_text("raise ImportError('av is blocked for this test')\n")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "in" / "v.mp4").write_bytes(b"\0\0\0 ftyp")
    import torch

    from gentools.features.backbones.audio import random_vggish_state_dict
    from tests.video.inputs import write_stand_in

    torch.save(random_vggish_state_dict(3), tmp_path / "vggish.pth")
    weights = {"vggish": tmp_path / "vggish.pth", "i3d": write_stand_in(tmp_path / "i3d_torchscript.pt")}
    for backbone, hint in (("vggish", "pip install 'gentools[audio]'"), ("i3d", "pip install 'gentools[video]'")):
        proc = run_cli("extract", tmp_path / "in", "-b", backbone, "--weights", weights[backbone], "--workers", "2",
                       "-q", "-o", tmp_path / "x.h5", env=cli_env(PYTHONPATH=str(blocked)))
        err = proc.stderr.decode()
        assert proc.returncode in (1, 2) and err.count("\n") == 1 and hint in err, err
        assert "Traceback" not in err and "worker" not in err, err


def test_per_file_fid_on_one_row_per_file_is_refused(tmp_path):
    """``fid --per-file`` on image features (one row per file) ran, and printed no per-file value."""
    from gentools import store

    rng = np.random.RandomState(0)
    for name, runs in (("images", 1), ("audio", 3)):  # rows per id: 1 (images), 3 (an audio file's frames)
        ids = [f"f{k // runs:03d}" for k in range(60)]
        store.write_features(str(tmp_path / f"{name}.h5"), {"features": rng.randn(60, 4).astype(np.float32),
                                                            "ids": ids}, {"backbone": "x", "complete": True, "count": 60})
    proc = run_cli("fid", tmp_path / "images.h5", tmp_path / "audio.h5", "--per-file")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and "one row per file" in err and "images.h5" in err, err
    values = dict(line.split("\t") for line in run_cli("fid", tmp_path / "audio.h5", tmp_path / "images.h5",
                                                       "--per-file", check=0).stdout.decode().splitlines())
    assert len([k for k in values if k.startswith("fid.f")]) == 20 and "fid" in values
