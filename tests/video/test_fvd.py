"""FVD under each preset against the evaluator it names, and the i3d400 network against TATS's I3D.

StyleGAN-V cannot be installed (its repo is a training codebase), so its FeatureStats and ``compute_fvd`` are
transcribed below with the lines quoted (universome/stylegan-v at 3fecd69). TATS's ``tats/fvd/fvd.py`` and
``pytorch_i3d.py`` ship verbatim (bar a ``return_pre_pool`` flag) in cd-fvd's ``cdfvd/third_party/i3d``, which
is installed by the test extra and is called directly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from gentools import presets, store
from tests.conftest import cli_values, run_cli
from tests.video.inputs import moving_square, write_ffv1


class StyleGANVFeatureStats:
    """src/metrics/metric_utils.py, FeatureStats with capture_mean_cov and max_items."""

    def __init__(self, max_items=None):
        self.max_items, self.num_items, self.raw_mean, self.raw_cov = max_items, 0, None, None

    def append(self, x):
        x = np.asarray(x, dtype=np.float32)  # x = np.asarray(x, dtype=np.float32)
        if (self.max_items is not None) and (self.num_items + x.shape[0] > self.max_items):
            if self.num_items >= self.max_items:
                return
            x = x[:self.max_items - self.num_items]
        if self.raw_mean is None:
            self.raw_mean = np.zeros([x.shape[1]], dtype=np.float64)
            self.raw_cov = np.zeros([x.shape[1], x.shape[1]], dtype=np.float64)
        self.num_items += x.shape[0]
        x64 = x.astype(np.float64)
        self.raw_mean += x64.sum(axis=0)
        self.raw_cov += x64.T @ x64

    def get_mean_cov(self):
        mean = self.raw_mean / self.num_items
        cov = self.raw_cov / self.num_items  # cov = self.raw_cov / self.num_items
        cov = cov - np.outer(mean, mean)
        return mean, cov


def stylegan_v_fvd(gen: np.ndarray, real: np.ndarray, max_items: int = 2048) -> float:
    """src/metrics/frechet_video_distance.py, compute_fvd (batches of 16 clips, as NUM_FRAMES_IN_BATCH gives)."""
    stats = []
    for rows in (real, gen):
        s = StyleGANVFeatureStats(max_items=min(len(rows), max_items))
        for k in range(0, len(rows), 16):
            s.append(rows[k:k + 16])
        stats.append(s.get_mean_cov())
    (mu_real, sigma_real), (mu_gen, sigma_gen) = stats
    m = np.square(mu_gen - mu_real).sum()
    s, _ = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real), disp=False)  # pylint: disable=no-member
    fid = np.real(m + np.trace(sigma_gen + sigma_real - s * 2))
    return float(fid)


def _video_features(path, rows: np.ndarray, backbone: str = "i3d", frames: int = 16, subsample: int = 1) -> str:
    store.write_features(str(path), {"features": rows, "ids": [f"v{i}" for i in range(len(rows))],
                                     "clip_start": np.zeros(len(rows), np.int64)},
                         {"backbone": backbone, "layer": "x", "resize": "", "weights_sha256": "w", "modality": "video",
                          "frames": frames, "subsample": subsample, "count": len(rows)})
    return str(path)


def _sets(n_gen: int, n_real: int, dim: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    mix = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    real = (rng.standard_normal((n_real, dim)) @ mix).astype(np.float32)
    gen = (rng.standard_normal((n_gen, dim)) @ (mix * 1.1) + 0.2).astype(np.float32)
    return gen, real


@pytest.mark.parametrize("n_gen, n_real, dim", [(2300, 2100, 48), (2000, 2600, 48), (60, 70, 400)])
def test_stylegan_v_preset_equals_its_feature_stats_and_sqrtm(tmp_path, n_gen, n_real, dim):
    """The first 2048 clips of each side (StyleGAN-V's max_items), ddof=0, sqrtm(S_gen S_real) with no eps."""
    gen, real = _sets(n_gen, n_real, dim)
    expected = stylegan_v_fvd(gen, real)
    for preset in ("stylegan-v", "fvd2048_16f", "fvd2048_128f_subsample8f"):
        clips = (presets.get(preset).video_frames, presets.get(preset).video_subsample)  # as the preset extracts
        g, r = (_video_features(tmp_path / f"{name}.h5", rows, "i3d", *clips)
                for name, rows in (("g", gen), ("r", real)))
        got = cli_values("fid", g, r, "--preset", preset)["fid"]
        assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected)), (preset, got, expected)
    g, r = _video_features(tmp_path / "g.h5", gen), _video_features(tmp_path / "r.h5", real)
    if n_gen < 2048:
        proc = run_cli("fid", g, r, "--preset", "stylegan-v", check=0)
        assert f"has {n_gen} clips; --preset stylegan-v takes the first 2048" in proc.stderr.decode()
    exact = cli_values("fid", g, r)["fid"]
    assert abs(exact - expected) > 1e-6  # all rows with ddof=1 is another number: the preset is what makes it


def test_tats_preset_equals_tats_frechet_distance(tmp_path):
    """TATS tats/fvd/fvd.py ``frechet_distance(x1, x2)`` (cd-fvd's copy) on the same rows in float64,
    ``compute_fvd(real, samples)`` passing the real clips first."""
    from cdfvd.third_party.i3d.utils import frechet_distance

    gen, real = _sets(900, 800, 64, seed=3)
    g = _video_features(tmp_path / "g.h5", gen, "i3d400")
    r = _video_features(tmp_path / "r.h5", real, "i3d400")
    expected = float(frechet_distance(torch.from_numpy(real.astype(np.float64)),
                                      torch.from_numpy(gen.astype(np.float64))))
    got = cli_values("fid", g, r, "--preset", "tats")["fid"]
    assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected))
    float32 = float(frechet_distance(torch.from_numpy(real), torch.from_numpy(gen)))
    assert abs(float32 - expected) > 1e-7  # TATS's own float32 torch differs in the last digits: why we run float64


def test_tats_source_lines_are_cd_fvd_s_installed_copy():
    """The tats preset quotes tats/fvd/fvd.py; the same lines are in cd-fvd's installed cdfvd/third_party/i3d."""
    folder = Path(importlib.util.find_spec("cdfvd").origin).parent / "third_party" / "i3d"
    text = (folder / "utils.py").read_text() + (folder / "pytorch_i3d.py").read_text()
    rows = [row for row in presets.sources() if row["preset"] == "tats"]
    assert len(rows) == 3
    for row in rows:
        assert row["line"] in text, row


def test_i3d400_loads_tats_state_dict_and_equals_tats_i3d(tmp_path):
    """A random state dict with the keys and shapes of TATS's InceptionI3d loads into i3d400; its features equal
    TATS's ``i3d(preprocess(videos, (224, 224)))`` to 1e-5."""
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d
    from cdfvd.third_party.i3d.utils import preprocess_i3d

    from gentools.features.backbones.video import random_i3d400_state_dict

    state = random_i3d400_state_dict(4)
    tats = InceptionI3d(400, in_channels=3)
    assert sorted(tats.state_dict()) == sorted(state)
    assert all(tats.state_dict()[k].shape == v.shape for k, v in state.items())
    tats.load_state_dict(state)
    weights = tmp_path / "i3d_pretrained_400.pt"
    torch.save(state, weights)
    folder = tmp_path / "clips"
    folder.mkdir()
    videos = np.stack([moving_square(16, 50 + i, size=40) for i in range(2)])
    for i, video in enumerate(videos):
        write_ffv1(folder / f"{i}.mkv", video)
    out = tmp_path / "f.h5"
    run_cli("extract", folder, "-b", "i3d400", "--weights", weights, "--workers", "0", "-o", out, "-q", check=0)
    with store.open_input(str(out)) as f:
        ours, provenance = f.array(), dict(f.provenance)
    assert provenance["backbone"] == "i3d400" and provenance["modality"] == "video" and ours.shape == (2, 400)
    with torch.no_grad():
        expected = tats.eval()(preprocess_i3d(videos)).numpy()
    assert np.abs(ours - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())
    assert np.abs(expected).max() > 1e-3  # the random weights give features that can differ


def test_kid_and_prdc_run_on_clip_features(tmp_path):
    gen, real = _sets(300, 300, 32, seed=5)
    g, r = _video_features(tmp_path / "g.h5", gen), _video_features(tmp_path / "r.h5", real)
    kvd = cli_values("kid", g, r, "--subset-size", "100")
    assert kvd["kid_mean"] > 0
    assert 0 <= cli_values("prdc", g, r)["precision"] <= 1


def _cdfvd_small_vit():
    """content-debiased-fvd's VisionTransformer as its vit_giant_patch14_224 builds it, at a width and depth a test
    can run (64 wide, 2 blocks of 4 heads); the full size is checked by keys and shapes below."""
    from functools import partial

    from cdfvd.third_party.VideoMAEv2.videomaev2_finetune import VisionTransformer

    return VisionTransformer(img_size=224, patch_size=14, embed_dim=64, depth=2, num_heads=4, mlp_ratio=48 / 11,
                             qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_classes=174,
                             all_frames=16, tubelet_size=2, use_mean_pooling=True).eval()


def test_videomae_has_cdfvd_s_vit_g_layout():
    """cdfvd's load_videomae_model: ``vit_giant_patch14_224(img_size=224, pretrained=False, num_classes=174,
    all_frames=16, tubelet_size=2, drop_path_rate=0.3, use_mean_pooling=True)``, built on the meta device."""
    from unittest import mock

    from cdfvd.third_party.VideoMAEv2.videomaev2_finetune import vit_giant_patch14_224

    from gentools.features.backbones.video import VIT_G, VideoMAEv2

    with torch.device("meta"), mock.patch.object(torch.Tensor, "item", lambda self: 0.0):  # its drop-path list
        theirs = vit_giant_patch14_224(img_size=224, pretrained=False, num_classes=174, all_frames=16, tubelet_size=2,
                                       drop_path_rate=0.3, use_mean_pooling=True).state_dict()
        ours = VideoMAEv2(**VIT_G).state_dict()
    assert sorted(theirs) == sorted(ours) and all(theirs[k].shape == ours[k].shape for k in ours)
    assert sum(v.numel() for v in ours.values()) > 1_000_000_000


@pytest.mark.parametrize("frames", [16, 8])
def test_videomae_features_equal_cdfvd_s_forward_features(tmp_path, monkeypatch, frames):
    """extract -b videomae equals cdfvd's ``model.forward_features(preprocess_videomae(videos))`` to 1e-5, with random
    weights (the time interpolation of the position table at 8 frames included)."""
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    import gentools
    from gentools.features.backbones import video

    theirs = _cdfvd_small_vit()
    with torch.random.fork_rng():
        torch.manual_seed(6)
        state = {k: torch.randn_like(v) * 0.1 for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(state)
    weights = tmp_path / "small.pth"
    torch.save({"model": state}, weights)  # under "model", as VideoMAE's training checkpoints keep it
    monkeypatch.setattr(video, "VIT_G", {"dim": 64, "depth": 2, "heads": 4, "mlp_ratio": 48 / 11, "classes": 174})
    videos = np.stack([moving_square(frames, 70 + i, size=40) for i in range(3)])
    np.save(tmp_path / "clips.npy", videos)
    features = gentools.extract(str(tmp_path / "clips.npy"), backbone="videomae", weights=str(weights),
                                frames=frames, workers=0)
    assert features.provenance["backbone"] == "videomae" and features.array().shape == (3, 64)
    with torch.no_grad():
        expected = theirs.forward_features(preprocess_videomae(videos)).numpy()
    assert np.abs(features.array() - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())


def test_cdfvd_preset_equals_cdfvd_compute_fvd_from_stats(tmp_path):
    """cd-fvd's own FeatureStats and ``compute_fvd_from_stats`` (``sqrtm(np.dot(sigma_real, sigma_fake))``)."""
    from cdfvd import fvd
    from cdfvd.utils.metric_utils import FeatureStats

    gen, real = _sets(700, 650, 48, seed=8)
    g = _video_features(tmp_path / "g.h5", gen, "videomae")
    r = _video_features(tmp_path / "r.h5", real, "videomae")
    stats = []
    for rows in (gen, real):
        s = FeatureStats(capture_mean_cov=True)
        for k in range(0, len(rows), 16):
            s.append_torch(torch.from_numpy(rows[k:k + 16]), num_gpus=1, rank=0)
        stats.append(s)
    expected = float(fvd.cdfvd.compute_fvd_from_stats(None, fake_stats=stats[0], real_stats=stats[1]))
    got = cli_values("fid", g, r, "--preset", "cdfvd")["fid"]
    assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected))


def test_random_i3d400_weights_give_a_real_fvd(tmp_path):
    """Issue 34, item 3: random i3d400 weights with drawn batch-norm statistics gave FVD 7e-12 between any two
    sets. ``gentools weights random i3d400`` calibrates them on synthetic clips: two different sets of clips
    are then far apart, and a set against itself is at 0."""
    weights = run_cli("weights", "random", "i3d400", "-o", tmp_path / "w.pth", "--seed", "1",
                      check=0).stdout.decode().strip()
    assert weights == str(tmp_path / "w.pth")
    rng = np.random.RandomState(0)
    for name, videos in (("moving", [moving_square(16, k) for k in range(3)]),
                         ("noise", [rng.randint(0, 256, (16, 32, 32, 3), dtype=np.uint8) for _ in range(3)])):
        (tmp_path / name).mkdir()
        for k, video in enumerate(videos):
            write_ffv1(tmp_path / name / f"{k}.mkv", video)
        run_cli("extract", tmp_path / name, "-b", "i3d400", "--weights", weights, "--workers", "0", "-q", "-o",
                tmp_path / f"{name}.h5", check=0)
    far = cli_values("fid", tmp_path / "moving.h5", tmp_path / "noise.h5", "--preset", "tats")["fid"]
    near = cli_values("fid", tmp_path / "moving.h5", tmp_path / "moving.h5", "--preset", "tats")["fid"]
    assert far > 1 and abs(near) < 1e-6 * far, (far, near)
