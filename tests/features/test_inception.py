"""The FID Inception and the resize modes against torch-fidelity, pytorch-fid and clean-fid (same weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentools.features import pipeline, resize
from gentools.features.backbones import load_backbone
from gentools.features.images import list_inputs
from tests.conftest import photo_crops

TOL = 1e-4  # METRICS.md: per element, relative to max |f|


def _close(ours, ref):
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return np.abs(ours - ref).max() / np.abs(ref).max()


@pytest.fixture(scope="module")
def batch():
    """Six real crops of two sizes, as uint8 NCHW (the references' input)."""
    return [torch.from_numpy(np.stack(photo_crops(3, size, seed=1))).permute(0, 3, 1, 2).contiguous()
            for size in (32, (48, 40))]


def _ours(batch, weights, mode, spatial=False):
    net = load_backbone("inception", str(weights), mode, spatial, torch.device("cpu"))
    with torch.inference_mode():
        return net.run(batch), net


def test_tf_mode_matches_torch_fidelity(batch, inception_weights):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    ref_net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=str(inception_weights)).eval()
    for images in batch:
        with torch.no_grad():
            ref_features, ref_logits = ref_net(images)
        out, _ = _ours(images, inception_weights, "tf")
        assert _close(out["features"], ref_features) < TOL
        assert _close(out["logits"], ref_logits) < TOL
        assert ref_features.abs().max() > 0.1 and ref_features.std() > 0.01  # not a degenerate network


def test_pytorch_fid_mode_matches_pytorch_fid(batch, inception_weights, tmp_path, monkeypatch):
    from pytorch_fid.inception import InceptionV3

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "pt_inception-2015-12-05-6726825d.pth").symlink_to(inception_weights)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ref_net = InceptionV3([3]).eval()
    for images in batch:
        with torch.no_grad():
            ref = ref_net(images.float() / 255)[0].flatten(1)
        out, _ = _ours(images, inception_weights, "pytorch-fid")
        assert _close(out["features"], ref) < TOL


def test_clean_resize_matches_clean_fid():
    from cleanfid.resize import make_resizer

    reference = make_resizer("PIL", False, "bicubic", (299, 299))
    for image in photo_crops(3, (37, 53), seed=2):
        assert np.abs(resize.clean_resize(image, 299) - reference(image)).max() < 1e-4


def test_tf_resize_is_torch_fidelitys_bit_for_bit():
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = torch.randint(0, 256, (2, 3, 61, 47)).float()
    ref = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.equal(resize.tf1_bilinear(x, 299), ref)


def test_spatial_features_are_mixed_6d_branch1x1(batch, inception_weights):
    from gentools.features.backbones.inception import build

    net = build(torch.load(inception_weights, weights_only=True))
    captured = {}
    net.Mixed_6d.branch1x1.register_forward_hook(lambda m, i, o: captured.setdefault("tap", o))
    x = resize.to_network_input(batch[0], "tf", 299)
    with torch.inference_mode():
        net(x)
        out, _ = _ours(batch[0], inception_weights, "tf", spatial=True)
    expected = captured["tap"][:, :7].permute(0, 2, 3, 1).reshape(len(x), -1)
    assert out["spatial"].shape == (3, 2023)
    assert _close(out["spatial"], expected) < TOL


def test_rows_do_not_depend_on_batch_size_or_workers(image_folder, inception_weights):
    items, _ = list_inputs([str(image_folder)])
    items = items[:14]
    net = load_backbone("inception", str(inception_weights), "tf", False, torch.device("cpu"))
    runs = {}
    for batch_size, workers in [(1, 0), (7, 2), (50, 0)]:
        rows = list(pipeline.image_batches(items, net, batch_size, workers))
        runs[batch_size, workers] = np.concatenate([r.arrays["features"] for r in rows])
        assert sum((r.ids for r in rows), []) == [item.id for item in items]
    base = runs[1, 0]
    for key, features in runs.items():
        assert np.abs(features - base).max() <= 1e-5 * np.abs(base).max(), key
