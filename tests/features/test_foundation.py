"""DINOv2 (timm) and CLIP (open_clip) backbones: random-init weights in the real architectures, no network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentools.features.backbones import foundation, load_backbone
from tests.conftest import cli_env, photo_crops, run_cli

timm = pytest.importorskip("timm")
open_clip = pytest.importorskip("open_clip")


@pytest.fixture(scope="module")
def images():
    """Three photo crops of 40x56 as uint8 HWC arrays."""
    return photo_crops(3, (40, 56), seed=3)


def _through(net, images):
    """What extract does: the worker transform per image, then the batch through the network."""
    batch = torch.from_numpy(np.stack([net.worker_transform(im) for im in images])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        return batch, net.run(batch)["features"]


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_dinov2_equals_timm_cls_token(images, tmp_path):
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch14_dinov2.lvd142m", pretrained=False, num_classes=0, img_size=224)
    torch.save(model.state_dict(), tmp_path / "dino.pth")
    net = load_backbone("dinov2:vits14", str(tmp_path / "dino.pth"), None, False, torch.device("cpu"))
    batch, ours = _through(net, images)
    from PIL import Image
    from torchvision import transforms

    dgm_eval = transforms.Compose([transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC),
                                   transforms.ToTensor(),
                                   transforms.Normalize(foundation.IMAGENET_MEAN, foundation.IMAGENET_STD)])
    x = torch.stack([dgm_eval(Image.fromarray(im)) for im in images])
    assert float((foundation.normalised(batch, foundation.IMAGENET_MEAN, foundation.IMAGENET_STD) - x).abs().max()) < 1e-6
    with torch.inference_mode():
        reference = model.eval().forward_features(x)[:, 0]  # CLS token after the final norm
    assert ours.shape == (3, 384) and _rel(ours, reference) < 1e-5
    assert net.provenance()["backbone"] == "dinov2:vits14" and len(net.weights_sha256) == 64


def test_clip_equals_open_clip_encode_image(images, tmp_path):
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    torch.save(model.state_dict(), tmp_path / "clip.pth")
    net = load_backbone("clip:ViT-B-32", str(tmp_path / "clip.pth"), None, False, torch.device("cpu"))
    from PIL import Image

    batch, ours = _through(net, images)
    x = torch.stack([preprocess(Image.fromarray(im)) for im in images])  # open_clip's own transform
    mean, std = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD
    assert float((foundation.normalised(batch, mean, std) - x).abs().max()) < 1e-5
    with torch.inference_mode():
        reference = model.eval().encode_image(x)
    assert ours.shape == (3, 512) and _rel(ours, reference) < 1e-5


def test_offline_without_weights_is_one_line(tmp_path, image_folder):
    env = cli_env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch"))
    for spec, needle in (("dinov2:vits14", "vit_small_patch14_dinov2"), ("clip:ViT-B-32", "ViT-B-32")):
        err = run_cli("extract", image_folder / "sub", "-b", spec, "-o", tmp_path / "x.h5", "--workers", "0",
                      env=env, check=1).stderr.decode()
        assert err.count("\n") == 1 and needle in err and "--weights" in err, err
