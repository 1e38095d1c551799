"""Video extraction: decoding, StyleGAN-V's clip sampling, the i3d: backbone against a scripted stand-in, shards,
resume, generators, the Evaluator and bad inputs."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from gentools import store
from tests.conftest import cli_env, one_line_error, run_cli, sigterm_after_rows
from tests.video.inputs import moving_square, write_ffv1, write_frames, write_mp4, write_stand_in

LENGTHS = (20, 23, 26, 29, 35)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Five FFV1 videos of 20-35 frames, a PNG frame folder of 18, one of 6 (shorter than a clip), a uint8 array
    of three more, and the scripted stand-in detector."""
    root = tmp_path_factory.mktemp("videos")
    folder = root / "videos"
    (folder / "sub").mkdir(parents=True)
    clips = {}
    for i, length in enumerate(LENGTHS):
        name = f"sub/v{i}.mkv" if i % 2 else f"v{i}.mkv"
        clips[name] = moving_square(length, i)
        write_ffv1(folder / name, clips[name])
    clips["frames_a"] = moving_square(18, 10)
    write_frames(folder / "frames_a", clips["frames_a"])
    write_frames(folder / "short", moving_square(6, 11))
    array = np.stack([moving_square(24, 20 + i) for i in range(3)])
    np.save(folder / "batch.npy", array)
    for i in range(3):
        clips[f"batch.npy[{i}]"] = array[i]
    (folder / "notes.txt").write_text("not a video")
    return root, folder, write_stand_in(root / "i3d_torchscript.pt"), clips


def _features(path):
    with store.open_input(str(path)) as f:
        return f.array("features"), f.ids, dict(f.provenance), f.raw("clip_start"), \
            list(f.raw("skipped")) if f.has("skipped") else []


def _stand_in(clips: np.ndarray, detector) -> np.ndarray:
    """StyleGAN-V's call of its detector file (metric_utils.py: ``images = images.permute(0, 2, 1, 3, 4)
    .contiguous() # [batch_size, c, t, h, w]``, then ``features = detector(images.to(opts.device),
    **detector_kwargs)`` with ``dict(rescale=True, resize=True, return_features=True)``), one clip per call as
    gentools runs clips on CPU."""
    net = torch.jit.load(str(detector)).eval()
    frames = torch.from_numpy(clips)  # [B, T, H, W, C]: StyleGAN-V's batch['image'] is [B, T, C, H, W]
    x = frames.permute(0, 1, 4, 2, 3).permute(0, 2, 1, 3, 4).contiguous()
    with torch.inference_mode():
        return np.concatenate([net(x[k:k + 1], rescale=True, resize=True, return_features=True).numpy()
                               for k in range(len(x))])


def stylegan_v_frames_idx(n: int, sf: int, offset: int) -> np.ndarray:
    """StyleGAN-V src/training/dataset.py: ``frames_idx = np.arange(0, self.load_n_consecutive *
    self.subsample_factor, self.subsample_factor) + random_offset``."""
    return np.arange(0, n * sf, sf) + offset


def test_lossless_video_and_frame_folder_decode_to_the_written_frames(videos, tmp_path):
    from gentools.features.images import Item
    from gentools.features.video import Clips, VideoReader, decode_video

    root, folder, _, clips = videos
    for name in ("v0.mkv", "sub/v1.mkv"):
        np.testing.assert_array_equal(decode_video(str(folder / name)), clips[name])
    reader = VideoReader()
    whole = Clips(frames=18)
    frames = tuple(sorted(p.name for p in (folder / "frames_a").iterdir()))
    got, starts, available = reader.clips(Item("frames_a", "frames", str(folder / "frames_a"), frames), whole)
    assert starts == [0] and available == 18
    np.testing.assert_array_equal(got[0], clips["frames_a"])
    archive = tmp_path / "v.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(folder / "v0.mkv", "v0.mkv")
        for name in frames:
            z.write(folder / "frames_a" / name, f"frames_a/{name}")
    from gentools.features.video import list_videos

    items, _ = list_videos([str(archive)])
    assert [i.id for i in items] == ["v.zip:frames_a", "v.zip:v0.mkv"]
    np.testing.assert_array_equal(reader.clips(items[0], whole)[0][0], clips["frames_a"])
    np.testing.assert_array_equal(reader.clips(items[1], Clips(frames=20))[0][0], clips["v0.mkv"])


@pytest.mark.parametrize("subsample", [1, 2])
def test_clip_sampling_is_stylegan_v_frames_idx(subsample):
    from gentools.features.video import Clips, id_key

    n = 8
    first = Clips(frames=n, subsample=subsample)
    assert first.starts(40, "a") == [0]
    np.testing.assert_array_equal(first.indices(0), stylegan_v_frames_idx(n, subsample, 0))
    assert Clips(frames=n, subsample=subsample, per_video=3).starts(40, "a") == [0, n * subsample, 2 * n * subsample][
        :40 // (n * subsample)]
    assert first.starts(n * subsample - 1, "a") == []  # discard_short_videos: len(fs) >= n * subsample is kept
    assert first.starts(n * subsample, "a") == [0]
    random = Clips(frames=n, subsample=subsample, start="random", per_video=500, seed=7)
    for available in (n * subsample, 40, 97):
        starts = random.starts(available, "video-1")
        # StyleGAN-V: random.randint(0, num_frames_available - n * sf + sf - 1), both ends included
        high = available - n * subsample + subsample - 1
        assert min(starts) == 0 and max(starts) == high
        expected = np.random.default_rng([7, id_key("video-1")]).integers(0, high + 1, size=500)
        assert starts == expected.tolist()
        for s in starts[:20]:
            idx = random.indices(s)
            np.testing.assert_array_equal(idx, stylegan_v_frames_idx(n, subsample, s))
            assert idx[-1] < available
    assert random.starts(97, "video-1") == random.starts(97, "video-1") != random.starts(97, "video-2")


def test_i3d_features_equal_the_stand_in_on_the_same_clips_bit_for_bit(videos, tmp_path):
    root, folder, detector, clips = videos
    out = tmp_path / "f.h5"
    proc = run_cli("extract", folder, "-b", f"i3d:{detector}", "-o", out, "--workers", "1", check=0)
    assert "skipped 1 video(s)" in proc.stderr.decode()
    features, ids, prov, starts, skipped = _features(out)
    order = ["batch.npy[0]", "batch.npy[1]", "batch.npy[2]", "frames_a", "sub/v1.mkv", "sub/v3.mkv", "v0.mkv",
             "v2.mkv", "v4.mkv"]
    assert ids == order and skipped == ["short"] and starts.tolist() == [0] * 9
    assert prov["modality"] == "video" and prov["frames"] == 16 and prov["subsample"] == 1
    assert prov["backbone"] == "i3d" and prov["clip_start"] == "first" and features.shape == (9, 400)
    expected = _stand_in(np.stack([clips[name][:16] for name in order]), detector)
    np.testing.assert_array_equal(features, expected)


def test_random_starts_are_seeded_stored_and_are_the_clips_taken(videos, tmp_path):
    from gentools.features.video import Clips

    root, folder, detector, clips = videos
    common = [folder, "-b", f"i3d:{detector}", "--workers", "0", "--frames", "8", "--subsample", "2",
              "--clip-start", "random", "--clips-per-video", "2", "-q"]
    run_cli("extract", *common, "--seed", "5", "-o", tmp_path / "a.h5", check=0)
    run_cli("extract", *common, "--seed", "5", "-o", tmp_path / "b.h5", check=0)
    run_cli("extract", *common, "--seed", "6", "-o", tmp_path / "c.h5", check=0)
    a, b, c = (_features(tmp_path / f"{x}.h5") for x in "abc")
    np.testing.assert_array_equal(a[0], b[0])
    assert a[3].tolist() == b[3].tolist() != c[3].tolist()
    sampling = Clips(frames=8, subsample=2, start="random", per_video=2, seed=5)
    assert a[2]["clip_seed"] == 5 and a[2]["clips_per_video"] == 2
    taken = []
    for k in range(0, len(a[1]), 2):
        name = a[1][k]
        assert a[1][k + 1] == name and a[3][k:k + 2].tolist() == sampling.starts(len(clips[name]), name)
        taken += [clips[name][stylegan_v_frames_idx(8, 2, int(s))] for s in a[3][k:k + 2]]
    np.testing.assert_array_equal(a[0], _stand_in(np.stack(taken), detector))


def test_three_shards_merge_to_the_whole(videos, tmp_path):
    root, folder, detector, _ = videos
    common = [folder, "-b", f"i3d:{detector}", "--workers", "0", "--batch-size", "2", "--clip-start", "random",
              "--clips-per-video", "2", "--frames", "8", "-q"]
    run_cli("extract", *common, "-o", tmp_path / "whole.h5", check=0)
    for i in range(3):
        run_cli("extract", *common, "--shard", f"{i}/3", "-o", tmp_path / f"part{i}.h5", check=0)
    run_cli("merge", *[tmp_path / f"part{i}.h5" for i in (2, 0, 1)], "-o", tmp_path / "merged.h5", check=0)
    whole, merged = _features(tmp_path / "whole.h5"), _features(tmp_path / "merged.h5")
    assert merged[1] == whole[1] and merged[3].tolist() == whole[3].tolist() and sorted(merged[4]) == whole[4]
    np.testing.assert_array_equal(merged[0], whole[0])


def test_sigterm_then_resume_reproduces_one_run(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(80):
        write_ffv1(folder / f"{i:03d}.mkv", moving_square(10, i, size=48))
    detector = write_stand_in(tmp_path / "i3d.pt")
    args = [str(folder), "-b", f"i3d:{detector}", "--workers", "0", "--batch-size", "1", "--flush-every", "1",
            "--frames", "4", "--clips-per-video", "2", "-q"]
    run_cli("extract", *args, "-o", tmp_path / "whole.h5", check=0)
    out = tmp_path / "out.h5"
    code, err = sigterm_after_rows(args, out, 20)
    assert code == 143 and "--resume" in err.decode()
    done = store.rows_done(f"{out}.partial")
    assert 0 < done < 160 and done % 2 == 0  # whole videos only: 2 clips each
    run_cli("extract", *args, "-o", out, "--resume", check=0)
    whole, resumed = _features(tmp_path / "whole.h5"), _features(out)
    assert resumed[1] == whole[1] and resumed[3].tolist() == whole[3].tolist()
    np.testing.assert_array_equal(resumed[0], whole[0])


def test_generator_videos_equal_the_same_videos_written_losslessly(videos, tmp_path):
    """``extract --generator`` quantises [-1, 1] floats as StyleGAN-V (``(img * 127.5 + 128).clamp(0, 255)
    .to(torch.uint8)``) and cuts clips as from files; the Evaluator's update(videos) gives the same FVD."""
    import gentools
    from gentools.features.generators import latents

    root, folder, detector, _ = videos
    module = tmp_path / "videogen.py"
    module.write_text(
        "import torch\n"
        "class G(torch.nn.Module):\n"
        "    latent_dim = 6\n"
        "    def forward(self, z):\n"
        "        t = torch.linspace(0, 1, 12).view(1, 12, 1, 1, 1)\n"
        "        x = torch.linspace(-1, 1, 32).view(1, 1, 1, 1, 32)\n"
        "        y = torch.linspace(-1, 1, 32).view(1, 1, 1, 32, 1)\n"
        "        colour, phase, drift = z[:, :3].view(-1, 1, 3, 1, 1), z[:, 3].view(-1, 1, 1, 1, 1), z[:, 4]"
        ".view(-1, 1, 1, 1, 1)\n"
        "        return torch.tanh(colour * torch.sin(3 * x + 2 * t + phase) * y + drift * t)\n"
        "def make():\n"
        "    return G()\n")
    env = cli_env(PYTHONPATH=str(tmp_path))
    out = tmp_path / "gen.h5"
    proc = run_cli("extract", "--generator", "videogen:make", "--num-samples", "6", "--seed", "3", "-b",
                   f"i3d:{detector}", "--frames", "10", "--batch-size", "4", "-o", out, "-q", env=env)
    assert proc.returncode == 0, proc.stderr
    features, ids, prov, starts, _ = _features(out)
    assert ids == [f"generator:seed=3:index={i}" for i in range(6)] and prov["latent_dim"] == 6

    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        from videogen import make
    finally:
        sys.path.remove(str(tmp_path))
    z = torch.from_numpy(latents(3, list(range(6)), 6))
    with torch.no_grad():
        generated = make()(z)
    quantised = (generated * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
    files = tmp_path / "written"
    files.mkdir()
    for i, video in enumerate(quantised):
        write_ffv1(files / f"{i}.mkv", video)
    written = gentools.extract(str(files), backbone=f"i3d:{detector}", frames=10, batch_size=4, workers=0)
    np.testing.assert_array_equal(features, written.array())

    reference = str(out)
    with pytest.raises(gentools.GentoolsError, match="frames"):  # 128-frame clips against 10-frame ones
        gentools.Evaluator(reference, metrics=["fid"], backbone=f"i3d:{detector}", preset="fvd2048_128f")
    evaluator = gentools.Evaluator(reference, metrics={"fid": {}, "kid": {"subset_size": 5}},
                                   backbone=f"i3d:{detector}", frames=10)
    evaluator.update(generated[:4])                       # torch floats in [-1, 1]
    evaluator.update(quantised[4:].transpose(0, 1, 4, 2, 3))  # numpy uint8 [B, T, C, H, W]
    assert evaluator.n == 6
    from_files = gentools.fid(written, reference)["fid"]
    assert abs(evaluator.compute()["fid"] - from_files) <= 1e-9
    # issue 34, silent wrong result 3: float videos were always read as [-1, 1]; in [0, 1] (k / 255) now too
    unit = gentools.Evaluator(reference, metrics=["fid"], backbone=f"i3d:{detector}", frames=10, pixel_range=(0, 1))
    unit.update(torch.from_numpy(quantised.transpose(0, 1, 4, 2, 3)).float() / 255)
    assert abs(unit.compute()["fid"] - from_files) <= 1e-9
    with pytest.raises(gentools.GentoolsError, match="fewer than one clip"):
        evaluator.update(generated[:, :4])


def test_bad_video_inputs_are_one_line(videos, tmp_path):
    root, folder, detector, _ = videos
    common = ["-b", f"i3d:{detector}", "--workers", "0", "-o", tmp_path / "x.h5"]
    truncated = tmp_path / "truncated.mp4"
    write_mp4(truncated, moving_square(20, 1))
    truncated.write_bytes(truncated.read_bytes()[:600])
    assert f"{truncated}: cannot decode video (not a decodable video" in one_line_error("extract", truncated, *common)
    empty = tmp_path / "empty.mkv"
    import av

    with av.open(str(empty), mode="w") as container:
        stream = container.add_stream("ffv1", rate=8)
        stream.width = stream.height = 16
        stream.pix_fmt = "bgr0"
        container.start_encoding()  # the header, and no frame
    assert f"{empty}: cannot decode video (the video holds no frames)" in one_line_error("extract", empty, *common)
    mixed = tmp_path / "mixed"
    write_frames(mixed / "clip", moving_square(20, 2))
    write_frames(mixed / "tmp", moving_square(1, 3, size=16))
    (mixed / "tmp" / "000000.png").rename(mixed / "clip" / "000007.png")
    line = one_line_error("extract", mixed, *common)
    assert "clip: cannot decode video (frame folder with mixed sizes (16x16, 32x32))" in line
    proc = run_cli("extract", folder, "-b", f"i3d:{detector}", "--frames", "0", "-o", tmp_path / "y.h5")
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1 and "--frames 0" in proc.stderr.decode()
    proc = run_cli("extract", folder, "-b", f"i3d:{detector}", "--thumbnails", "8", "-o", tmp_path / "y.h5")
    assert proc.returncode == 2 and "--thumbnails applies to images" in proc.stderr.decode()
    proc = run_cli("extract", folder, "--frames", "8", "-o", tmp_path / "y.h5")
    assert proc.returncode == 2 and "apply to video backbones" in proc.stderr.decode()
    proc = run_cli("extract", folder, "-b", f"i3d:{detector}", "--skip-bad", "-o", tmp_path / "z.h5", "-q")
    assert proc.returncode == 0
    missing = one_line_error("extract", folder, "-b", "i3d", "-o", tmp_path / "w.h5",
                             env=cli_env(TORCH_HOME=str(tmp_path / "th"), GENTOOLS_I3D_URL="http://127.0.0.1:9/x"))
    assert "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1" in missing


def test_frames_over_max_pixels_are_refused_from_the_header(videos, tmp_path):
    """Issue 33, item 8: a video's frame size is checked against --max-pixels (an image option before) from the
    container's header; a frame folder's frames as images are."""
    _, _, detector, _ = videos
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_ffv1(folder / "big.mkv", moving_square(16, 1))  # 32 x 32 = 1024 pixels
    write_ffv1(folder / "small.mkv", moving_square(16, 2, size=16))  # 256
    write_frames(folder / "frames_big", moving_square(16, 3))
    common = ["extract", folder, "-b", f"i3d:{detector}", "--workers", "0", "--max-pixels", "256"]
    err = one_line_error(*common, "-o", tmp_path / "x.h5")
    assert "big.mkv: cannot decode video (its frames are 32x32, 1024 pixels, over the limit of 256" in err, err
    assert not (tmp_path / "x.h5").exists()
    run_cli(*common, "--skip-bad", "-q", "-o", tmp_path / "y.h5", check=0)
    features, ids, _, _, skipped = _features(tmp_path / "y.h5")
    assert ids == ["small.mkv"] and sorted(skipped) == ["big.mkv", "frames_big"]
    run_cli(*common[:-1], "1024", "-q", "-o", tmp_path / "z.h5", check=0)  # the control: at the limit, read
    assert sorted(_features(tmp_path / "z.h5")[1]) == ["big.mkv", "frames_big", "small.mkv"]


def test_a_folder_of_gifs_gives_one_row_per_gif(videos, tmp_path):
    """Issue 33, item 8 (wrong FVD): a folder of 16 GIF videos gave 17 rows, the 17th a frame folder of the GIFs'
    first frames with the folder's id. A .gif among video inputs is a video, never a frame."""
    from PIL import Image

    _, _, detector, _ = videos
    folder = tmp_path / "gifs"
    folder.mkdir()
    for k in range(16):
        frames = [Image.fromarray(f) for f in moving_square(4, 40 + k)]
        frames[0].save(folder / f"{k:02d}.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    run_cli("extract", folder, "-b", f"i3d:{detector}", "--workers", "0", "--frames", "4", "-q", "-o",
            tmp_path / "g.h5", check=0)
    features, ids, _, _, skipped = _features(tmp_path / "g.h5")
    assert len(features) == 16 and ids == [f"{k:02d}.gif" for k in range(16)] and not skipped
