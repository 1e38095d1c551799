"""Hostile files, second pass (issue 33): the readers the first pass did not reach.

Each reproduction is made here as the attacker made it, and each run must end in exit 0 with the right
result, or exit 1 with one line; no marker written, no outside byte copied, no victim changed, no hang
(10 s), and little memory (``measured`` reports each run's own peak RSS).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from PIL import Image

import gentools
from gentools import store
from tests.conftest import photo_crops, run_cli
from tests.test_hostile import _features, measured

SMALL = 1024  # MB: the most any run here may use (the command's own baseline is ~400 MB with torch)


@functools.lru_cache(maxsize=None)
def _fast() -> float:
    """10 s (the issue's hang bound) plus twice torch's import now: on 2 cores running the suite in parallel,
    start-up alone takes seconds. Every refused piece of work here took minutes, or never ended."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, gentools.cli"], check=True)
    return 10 + 2 * (time.perf_counter() - started)


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _images(root, count=6):
    folder = root / "images"
    folder.mkdir(exist_ok=True)
    for k, crop in enumerate(photo_crops(count, 16)):
        Image.fromarray(crop).save(folder / f"{k:02d}.png")
    return folder


def _ok(proc, seconds, rss, limit=SMALL):
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode() and seconds < _fast() and rss < limit, (seconds, rss)


def _one_line(proc, seconds, rss, *words, limit=SMALL):
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("gentools: error:"), err
    assert all(w in err for w in words), err
    assert seconds < _fast() and rss < limit, (seconds, rss, limit)
    return err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A small image folder and its finished extraction (-b pixels:8): the partial files below are made from it."""
    root = tmp_path_factory.mktemp("partial")
    images = _images(root)
    run_cli("extract", images, "-b", "pixels:8", "--workers", "0", "-o", root / "whole.h5", check=0)
    with gentools.load(str(root / "whole.h5")) as f:
        return images, root / "whole.h5", f.array()


def _partial_from(finished, dest, rows=3):
    """``dest.partial`` as an interrupted run of the same job leaves it: ``rows`` rows done, complete=false."""
    partial = f"{dest}.partial"
    shutil.copy(finished[1], partial)
    with h5py.File(partial, "r+") as h5:
        for key in ("count",):
            del h5.attrs[key]
        h5.attrs["complete"], h5.attrs["rows_done"], h5.attrs["items_done"] = False, rows, rows
    return partial


@pytest.mark.parametrize("attack", ["external-link", "symlink", "fifo"])
def test_a_crafted_partial_never_writes_outside_itself(tmp_path, finished, attack):
    """Issue 33, item 3: ``features`` as an ExternalLink to another features file turned that 3,000-row file into
    60 unreadable rows; a symlinked partial is the same attack; a FIFO hung. Now the partial is refused, the run
    starts again (one warning) and the victim is unchanged."""
    images, _, whole = finished
    victim = _features(tmp_path / "victim.h5", rows=3000)
    before = _sha256(victim)
    dest = tmp_path / "out.h5"
    partial = _partial_from(finished, dest)
    if attack == "external-link":
        with h5py.File(partial, "r+") as h5:
            del h5["features"]
            h5["features"] = h5py.ExternalLink(str(victim), "features")
    elif attack == "symlink":
        os.unlink(partial)
        os.symlink(victim, partial)
    else:
        os.unlink(partial)
        os.mkfifo(partial)
    proc, seconds, rss = measured("extract", images, "-b", "pixels:8", "--workers", "0", "-o", dest, "--resume")
    _ok(proc, seconds, rss)
    assert "cannot be continued" in proc.stderr.decode() and "starting again" in proc.stderr.decode()
    assert _sha256(victim) == before
    with gentools.load(str(dest)) as f:
        np.testing.assert_array_equal(f.array(), whole)


@pytest.mark.parametrize("change", ["contiguous", "int8", "array-rows-done", "huge-ids", "soft-link",
                                    "virtual"])
def test_a_partial_gentools_did_not_write_cannot_be_resumed(tmp_path, finished, change):
    """Each was "unexpected TypeError", a silent resume, or 1.27 GB of ids; now :class:`CannotResume`, one line."""
    images, whole_path, _ = finished
    dest = tmp_path / "out.h5"
    partial = _partial_from(finished, dest)
    with h5py.File(partial, "r+") as h5:
        features = h5["features"][()]
        provenance = {k: v for k, v in h5.attrs.items()}
        if change in ("contiguous", "wide", "int8"):
            del h5["features"]
            data = {"contiguous": features, "int8": features.astype(np.int8)}[change]
            h5.create_dataset("features", data=data, **({} if change == "contiguous" else
                                                        {"maxshape": (None, data.shape[1]), "chunks": True}))
        elif change == "array-rows-done":
            h5.attrs["rows_done"] = np.array([3, 3])
        elif change == "huge-ids":
            h5.attrs["rows_done"], h5.attrs["items_done"] = 30_000_000, 30_000_000
        elif change == "soft-link":
            h5["elsewhere"] = features
            del h5["features"]
            h5["features"] = h5py.SoftLink("/elsewhere")
        else:
            layout = h5py.VirtualLayout(shape=features.shape, dtype=np.float32)
            layout[:] = h5py.VirtualSource(str(whole_path), "features", shape=features.shape)
            del h5["features"]
            h5.create_virtual_dataset("features", layout)
    with gentools.load(str(whole_path)) as f:
        ids = f.ids
    expected = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in provenance.items()}
    intact = _partial_from(finished, tmp_path / "intact.h5")  # the control: the same job's partial resumes
    assert store.FeatureWriter.resume_state(intact[: -len(".partial")], ids, expected) == (3, 3, [])
    with pytest.raises(store.CannotResume) as caught:
        store.FeatureWriter.resume_state(str(dest), ids, expected)
    assert "\n" not in str(caught.value) and str(caught.value)


def test_a_partial_of_this_job_still_resumes(tmp_path, finished):
    images, _, whole = finished
    dest = tmp_path / "out.h5"
    _partial_from(finished, dest)
    proc, seconds, rss = measured("extract", images, "-b", "pixels:8", "--workers", "0", "-o", dest, "--resume")
    _ok(proc, seconds, rss)
    assert "resuming" in proc.stderr.decode() and "3 rows done" in proc.stderr.decode()
    with gentools.load(str(dest)) as f:
        np.testing.assert_array_equal(f.array(), whole)


def test_a_partial_of_another_width_is_one_line(tmp_path, finished):
    """A partial of the right provenance whose rows are 3 wide (the job gives 192): was "unexpected TypeError"."""
    images, _, _ = finished
    dest = tmp_path / "out.h5"
    partial = _partial_from(finished, dest)
    with h5py.File(partial, "r+") as h5:
        del h5["features"]
        h5.create_dataset("features", data=np.zeros((6, 3), np.float32), maxshape=(None, 3), chunks=True)
    proc, seconds, rss = measured("extract", images, "-b", "pixels:8", "--workers", "0", "-o", dest, "--resume")
    err = proc.stderr.decode().splitlines()
    assert proc.returncode == 1 and len(err) == 2 and err[0].startswith("gentools: resuming"), err
    assert err[1].startswith("gentools: error:") and "rows of shape (3,)" in err[1] and "(192,)" in err[1], err
    assert seconds < _fast() and rss < SMALL and not dest.exists()


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    from tests.conftest import tiny_generator

    path = tmp_path_factory.mktemp("gen") / "g.pt2"
    tiny_generator(path)
    return path


def _latents_file(path, make):
    with h5py.File(path, "w") as h5:
        h5.attrs["gentools_format"], h5.attrs["format_version"] = "latents", 1
        make(h5)
    return path


def test_latents_with_external_storage_copy_no_outside_byte(tmp_path, generator):
    """Issue 33, item 4: ``latents`` kept in an external file copied that file's bytes into out_latents.h5."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(12, dtype=np.float32).tobytes() + b"TOP-SECRET-BYTES")
    evil = _latents_file(tmp_path / "evil.h5", lambda h5: h5.create_dataset(
        "latents", shape=(2, 6), dtype=np.float32, external=[(str(secret), 0, 48)]))
    proc, seconds, rss = measured("interp", generator, "--latents", evil, "--steps", "3", "-o", tmp_path / "g.png")
    _one_line(proc, seconds, rss, "external file", str(evil))
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "g_latents.h5").exists()


@pytest.mark.parametrize("case", ["external-link", "virtual", "gzip-bomb", "empty-rows", "zero-d", "strings",
                                  "object-npy", "fifo", "names-mismatch"])
def test_latents_files_are_checked_as_every_input(tmp_path, case):
    """Each was followed, 4.8 GB, or an "unexpected" error; now one line naming the file."""
    from gentools.errors import GentoolsError

    path = tmp_path / ("evil.npy" if case in ("zero-d", "object-npy") else "evil.h5")
    if case == "external-link":
        _latents_file(tmp_path / "other.h5", lambda h5: h5.create_dataset("latents", data=np.ones((4, 6))))
        _latents_file(path, lambda h5: h5.__setitem__("latents", h5py.ExternalLink(str(tmp_path / "other.h5"),
                                                                                     "latents")))
    elif case == "virtual":
        _latents_file(tmp_path / "other.h5", lambda h5: h5.create_dataset("latents", data=np.ones((4, 6))))
        layout = h5py.VirtualLayout(shape=(4, 6), dtype=np.float64)
        layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "latents", shape=(4, 6))
        _latents_file(path, lambda h5: h5.create_virtual_dataset("latents", layout))
    elif case == "gzip-bomb":  # 4 GB of zeros declared in a few KB
        _latents_file(path, lambda h5: h5.create_dataset("latents", shape=(1 << 20, 1024), dtype=np.float32,
                                                         chunks=(1024, 1024), compression="gzip", fillvalue=0)
                      .__setitem__((slice(0, 1024),), np.zeros((1024, 1024), np.float32)))
    elif case == "empty-rows":
        _latents_file(path, lambda h5: h5.create_dataset("latents", data=np.zeros((4, 0), np.float32)))
    elif case == "zero-d":
        np.save(path, np.float32(3))
    elif case == "strings":
        _latents_file(path, lambda h5: h5.create_dataset("latents", data=["a", "b"],
                                                         dtype=h5py.string_dtype("utf-8")))
    elif case == "object-npy":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif case == "fifo":
        os.mkfifo(path)
    else:
        _latents_file(path, lambda h5: (h5.create_dataset("latents", data=np.ones((4, 6), np.float32)),
                                        h5.create_dataset("names", data=["a"], dtype=h5py.string_dtype("utf-8"))))
    with pytest.raises(GentoolsError) as caught:
        store.read_latents(str(path))
    assert "\n" not in str(caught.value) and str(path) in str(caught.value), str(caught.value)


def test_latents_files_of_plain_numbers_still_read(tmp_path):
    rows = np.random.RandomState(0).randn(4, 6).astype(np.float32)
    np.save(tmp_path / "z.npy", rows)
    store.write_latents(str(tmp_path / "z.h5"), {"latents": rows, "names": ["a", "b", "c", "d"]}, {})
    for name in ("z.npy", "z.h5"):
        got, names = store.read_latents(str(tmp_path / name))
        np.testing.assert_array_equal(got, rows)
    assert names == ["a", "b", "c", "d"]


# --- audio (issue 33, item 7; item 11's truncated WAV) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def vggish_weights(tmp_path_factory):
    import torch

    from gentools.features.backbones.audio import random_vggish_state_dict

    path = tmp_path_factory.mktemp("vggish") / "vggish.pth"
    torch.save(random_vggish_state_dict(3), path)
    return path


@pytest.fixture(scope="module")
def vggish_limit(tmp_path_factory, vggish_weights):
    """1 GB over the baseline: the peak RSS of the same command on a one-second WAV (torch and VGGish: ~1 GB)."""
    import soundfile

    root = tmp_path_factory.mktemp("baseline")
    soundfile.write(root / "one.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    proc, _, rss = _vggish(root / "one.wav", vggish_weights, root)
    assert proc.returncode == 0, proc.stderr.decode()
    return rss + SMALL


def _vggish(path, weights, tmp_path, *extra):
    return measured("extract", path, "-b", "vggish", "--weights", weights, "--workers", "0", "-o",
                    tmp_path / "x.h5", "-q", *extra)  # -q: not the notice that these weights are not VGGish's


def test_a_wav_at_44101_hz_is_one_line_in_little_memory(tmp_path, vggish_weights, vggish_limit):
    """A coprime rate needed a 16000 x 44475 float64 filter bank (5.7 GB), then "unexpected RuntimeError"."""
    import soundfile

    path = tmp_path / "odd.wav"
    soundfile.write(path, np.zeros(44101, np.float32), 44101, subtype="PCM_16")
    _one_line(*_vggish(path, vggish_weights, tmp_path), "odd.wav: cannot decode audio", "44101 Hz to 16000 Hz",
              limit=vggish_limit)
    assert not (tmp_path / "x.h5").exists()


def test_a_three_hour_flac_of_half_a_megabyte_stays_within_the_budget(tmp_path, vggish_weights, vggish_limit):
    """3 hours of silence at 48 kHz compress to ~0.5 MB of FLAC and decoded to 5.4 GB; the need is checked from the
    header first, against --max-memory."""
    import soundfile

    path = tmp_path / "long.flac"
    with soundfile.SoundFile(path, "w", 48000, 1, format="FLAC") as out:
        block = np.zeros(48000 * 60, np.float32)
        for _ in range(180):
            out.write(block)
    assert path.stat().st_size < 2 << 20
    _one_line(*_vggish(path, vggish_weights, tmp_path, "--max-memory", "1G"), "long.flac: cannot decode audio",
              "over the memory budget", limit=vggish_limit)


def test_a_truncated_wav_is_refused_not_zero_padded(tmp_path, vggish_weights, vggish_limit):
    import soundfile

    whole = tmp_path / "whole.wav"
    soundfile.write(whole, np.random.RandomState(0).randn(16000).astype(np.float32) * 0.1, 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:2000])  # head -c 2000
    _one_line(*_vggish(cut, vggish_weights, tmp_path), "cut.wav: cannot decode audio",
              "truncated: its header declares 32000 bytes of samples, the file holds 1956", limit=vggish_limit)
    _ok(*_vggish(whole, vggish_weights, tmp_path), limit=vggish_limit)  # the control: the whole file is read


# --- FIFOs and links in folders (item 9, item 10), video (item 8) ----------------------------------------------------

@pytest.mark.parametrize("kind", ["images", "audio", "frames"])
def test_a_fifo_in_a_folder_is_skipped_not_waited_on(tmp_path, kind, vggish_weights):
    """Each hung, even with --skip-bad: the FIFO was opened for reading and waited for a writer."""
    import soundfile

    folder = tmp_path / "in"
    if kind == "images":
        folder = _images(tmp_path, 3)
        os.mkfifo(folder / "zz.png")
        args = ["-b", "pixels:8"]
    elif kind == "audio":
        folder.mkdir()
        for k in range(2):
            soundfile.write(folder / f"{k}.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_16")
        os.mkfifo(folder / "zz.wav")
        args = ["-b", "vggish", "--weights", vggish_weights]
    else:
        pytest.importorskip("av")
        (folder / "clip").mkdir(parents=True)
        for k, crop in enumerate(photo_crops(4, 16)):
            Image.fromarray(crop).save(folder / "clip" / f"{k:03d}.png")
        os.mkfifo(folder / "clip" / "004.png")
        from gentools.features.video import Clips, VideoReader, list_videos

        items, _ = list_videos([str(folder)])  # the clip reader opens each frame as an image
        started = time.perf_counter()
        with pytest.raises(ValueError, match="a FIFO, not a regular file"):
            VideoReader().clips(items[0], Clips(frames=5))
        assert time.perf_counter() - started < 5
        return
    proc, seconds, rss = measured("extract", folder, *args, "--workers", "0", "--skip-bad", "-q",
                                  "-o", tmp_path / "x.h5")
    _ok(proc, seconds, rss, limit=4 * SMALL)
    with store.open_input(str(tmp_path / "x.h5")) as f:
        assert [str(s) for s in f.raw("skipped")][-1].endswith("zz.png" if kind == "images" else "zz.wav")


def test_a_symlink_out_of_an_image_folder_is_not_read(tmp_path):
    folder = _images(tmp_path, 3)
    outside = tmp_path / "outside.png"
    Image.fromarray(photo_crops(1, 16)[0]).save(outside)
    os.symlink(outside, folder / "zz.png")
    os.symlink(folder / "00.png", folder / "inner.png")  # a link inside the folder is read
    proc = run_cli("extract", folder, "-b", "pixels:8", "--workers", "0", "-o", tmp_path / "x.h5", check=0)
    assert "a symbolic link out of" in proc.stderr.decode()
    with gentools.load(str(tmp_path / "x.h5")) as f:
        assert sorted(f.ids) == ["00.png", "01.png", "02.png", "inner.png"]


def _gif(path, frames=3, size=16, screen=None):
    images = [Image.fromarray(c) for c in photo_crops(frames, size, seed=len(str(path)))]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
    if screen:  # the logical screen of the GIF header: width and height, little-endian, at byte 6
        data = bytearray(path.read_bytes())
        data[6:10] = screen.to_bytes(2, "little") * 2
        path.write_bytes(bytes(data))
    return path


def test_a_folder_of_gifs_is_that_many_videos(tmp_path):
    """Issue 33, item 8: a folder of 16 GIFs gave 17 rows (one frame folder of the GIFs' first frames, id 'gifs')."""
    pytest.importorskip("av")
    from gentools.features.video import list_videos

    folder = tmp_path / "gifs"
    folder.mkdir()
    for k in range(16):
        _gif(folder / f"{k:02d}.gif")
    items, _ = list_videos([str(folder)])
    assert len(items) == 16 and {i.kind for i in items} == {"file"} and "gifs" not in {i.id for i in items}


def test_a_gif_screen_bomb_is_refused_from_its_header(tmp_path):
    """A 959-byte GIF declaring a 16000 x 16000 screen took 8.4 GB."""
    pytest.importorskip("av")
    from gentools import memory
    from gentools.features.video import decode_video

    bomb = _gif(tmp_path / "bomb.gif", screen=16000)
    assert bomb.stat().st_size < 4096
    memory.set_budget(1 << 30)
    try:
        started = time.perf_counter()
        with pytest.raises(ValueError, match="16000x16000"):
            decode_video(str(bomb))
        assert time.perf_counter() - started < 5
    finally:
        memory.set_budget(None)
    assert decode_video(str(_gif(tmp_path / "fine.gif"))).shape == (3, 16, 16, 3)  # the control


def test_random_clip_starts_keep_only_the_frames_of_their_clips(tmp_path):
    """``--clip-start random`` decoded and kept a whole video to count its frames (6.6 GB for an 836 KB mp4); the
    count now comes from a pass that keeps nothing, and the second pass keeps only the clips' frames."""
    pytest.importorskip("av")
    from gentools.features.video import Clips, VideoReader, decode_frames, decode_video, list_videos

    video = _gif(tmp_path / "long.gif", frames=40)
    whole = decode_video(str(video))
    kept, count = decode_frames(str(video), {3, 5, 39, 80})
    assert count == 40 and sorted(kept) == [3, 5, 39]
    np.testing.assert_array_equal(kept[5], whole[5])
    items, _ = list_videos([str(video)])
    clips = Clips(frames=4, subsample=2, start="random", seed=7, per_video=2)
    got, starts, available = VideoReader().clips(items[0], clips)
    assert available == 40 and len(starts) == 2
    np.testing.assert_array_equal(got, np.stack([whole[clips.indices(s)] for s in starts]))


def test_videos_too_short_for_a_clip_say_so(tmp_path):
    """Videos shorter than the clip, and a one-frame video, said "no image could be decoded"."""
    pytest.importorskip("av")
    folder = tmp_path / "short"
    folder.mkdir()
    _gif(folder / "a.gif", frames=3)
    _gif(folder / "b.gif", frames=1)
    from tests.video.inputs import write_stand_in

    detector = write_stand_in(tmp_path / "i3d_torchscript.pt")
    proc = run_cli("extract", folder, "-b", "i3d", "--weights", detector, "--frames", "8", "--workers", "0", "-q",
                   "-o", tmp_path / "x.h5")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "shorter than one clip of 8 frames" in err and "no image" not in err, err
