"""SSIM, MS-SSIM and PSNR per pair against the libraries users compare with: skimage 0.26, pytorch-msssim 1.0.0,
torchmetrics. The lines each convention depends on, from those packages' sources:

skimage/metrics/_structural_similarity.py
    23:  gaussian_weights=False,
    163: sigma = kwargs.pop('sigma', 1.5)
    170: use_sample_covariance = kwargs.pop('use_sample_covariance', True)
    183: win_size = 7  # backwards compatibility
    242: cov_norm = NP / (NP - 1)  # sample covariance
    244: cov_norm = 1.0  # population covariance to match Wang et. al. 2004
skimage/metrics/simple_metrics.py
    171: return 10 * np.log10((data_range**2) / err)
pytorch_msssim/ssim.py
    218: weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    232: padding = [s % 2 for s in X.shape[2:]]
torchmetrics/functional/image/ssim.py
    142: preds = F.pad(preds, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentools.metrics import paired

skimage_metrics = pytest.importorskip("skimage.metrics")
pytorch_msssim = pytest.importorskip("pytorch_msssim")


def _pairs(shape, seed, dtype=np.uint8):
    """Natural-looking pairs: smooth images (upsampled noise) and a noisy, shifted copy of each."""
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    coarse = rng.random((n, h // 8 + 2, w // 8 + 2, c))
    smooth = np.kron(coarse, np.ones((1, 8, 8, 1)))[:, :h, :w]
    noisy = np.clip(np.roll(smooth, 1, axis=2) + rng.normal(0, 0.08, smooth.shape), 0, 1)
    if dtype == np.uint8:
        return (smooth * 255).round().astype(np.uint8), (noisy * 255).round().astype(np.uint8), 255.0
    return smooth.astype(dtype), noisy.astype(dtype), 1.0


def _nchw(a):
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).double()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_wang_ssim_equals_skimage_with_wangs_settings_and_pytorch_msssim(channels, dtype):
    x, y, span = _pairs((4, 40, 48, channels), 0, dtype)
    ours = paired.ssim(_nchw(x), _nchw(y), span).numpy()
    theirs = [skimage_metrics.structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                                    use_sample_covariance=False, data_range=span)
              for a, b in zip(x, y)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    msssim = pytorch_msssim.ssim(_nchw(x).float(), _nchw(y).float(), data_range=span, size_average=False)
    np.testing.assert_allclose(ours, msssim.double().numpy(), rtol=0, atol=1e-5)
    assert 0.2 < ours.min() and ours.max() < 0.99  # neither trivial nor identical


@pytest.mark.parametrize("channels", [1, 3])
def test_skimage_and_torchmetrics_conventions_equal_those_libraries_defaults(channels):
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, y, span = _pairs((3, 33, 41, channels), 1)
    ours = paired.ssim(_nchw(x), _nchw(y), span, "skimage").numpy()
    theirs = [skimage_metrics.structural_similarity(a, b, channel_axis=-1) for a, b in zip(x, y)]  # its defaults
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    ours = paired.ssim(_nchw(x), _nchw(y), span, "torchmetrics").numpy()
    theirs = [float(structural_similarity_index_measure(_nchw(x[i:i + 1]), _nchw(y[i:i + 1]), data_range=span))
              for i in range(len(x))]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    wang = paired.ssim(_nchw(x), _nchw(y), span).numpy()
    assert np.abs(ours - wang).min() > 1e-4  # the conventions differ, so the test above can fail


def test_ms_ssim_equals_pytorch_msssim_on_256_pairs_and_odd_sides():
    for shape in ((2, 256, 256, 3), (2, 171, 203, 1)):
        x, y, span = _pairs(shape, 2)
        ours = paired.ms_ssim(_nchw(x), _nchw(y), span).numpy()
        theirs = pytorch_msssim.ms_ssim(_nchw(x).float(), _nchw(y).float(), data_range=span, size_average=False)
        np.testing.assert_allclose(ours, theirs.double().numpy(), rtol=0, atol=1e-5)
    assert paired.ms_ssim_min_side() == 161  # pytorch-msssim: "Image size should be larger than 160"


def test_psnr_equals_skimage_per_item_and_identical_is_inf():
    x, y, span = _pairs((5, 24, 24, 3), 3)
    ours = paired.psnr(_nchw(x), _nchw(y), span).numpy()
    theirs = [skimage_metrics.peak_signal_noise_ratio(a, b) for a, b in zip(x, y)]  # data_range 255 from uint8
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0)
    assert np.isinf(paired.psnr(_nchw(x), _nchw(x), span).numpy()).all()
