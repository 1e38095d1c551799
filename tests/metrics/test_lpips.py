"""LPIPS against the lpips package (0.1.4) with the same trunk and lin weights: ``lpips.LPIPS(net=..., pnet_rand=True)``
(a random torchvision trunk, no download; its lin layers from the wheel's weights/v0.1/NET.pth), then our trunk's
weights loaded into it. The lines it depends on, from lpips' source:

lpips/lpips.py
    150: self.register_buffer('shift', torch.Tensor([-.030,-.088,-.188])[None,:,None,None])
    151: self.register_buffer('scale', torch.Tensor([.458,.448,.450])[None,:,None,None])
    163: layers += [nn.Conv2d(chn_in, chn_out, 1, stride=1, padding=0, bias=False),]
    15:  return in_tens.mean([2,3],keepdim=keepdim)                        (spatial_average)
lpips/__init__.py
    14:  norm_factor = torch.sqrt(torch.sum(in_feat**2,dim=1,keepdim=True))
    15:  return in_feat/(norm_factor+eps)                                   (eps=1e-10)
lpips/pretrained_networks.py
    59:  alexnet_pretrained_features = tv.alexnet(pretrained=pretrained).features
    66-75: the slices range(2), range(2, 5), range(5, 8), range(8, 10), range(10, 12)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import gentools
from tests.conftest import parse_tsv, run_cli

lpips = pytest.importorskip("lpips")


def _trunk_file(tmp_path, net: str):
    """Seeded random torchvision weights in the published layout (``features.I.*``) for ``net``."""
    from gentools.features.backbones.lpips import torchvision_features

    torch.manual_seed(0)
    path = tmp_path / f"{net}.pth"
    torch.save({f"features.{k}": v for k, v in torchvision_features(net).state_dict().items()}, path)
    return path


def _theirs(net: str, trunk_file):
    reference = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    state = torch.load(trunk_file, weights_only=True)
    reference.net.load_state_dict({f"slice{k}.{i}.{name}": state[f"features.{i}.{name}"]
                                   for k, part in enumerate(reference.net.children(), 1)
                                   for i, module in part.named_children()
                                   for name, _ in module.named_parameters()})
    return reference.eval()


@pytest.mark.parametrize("net", ["alex", "vgg", "squeeze"])
def test_lpips_equals_the_lpips_package_with_the_same_weights(tmp_path, net, monkeypatch):
    from gentools.features.backbones.lpips import load_lpips

    monkeypatch.setenv("GENTOOLS_WEIGHTS_MIRROR", "http://127.0.0.1:9")
    trunk = _trunk_file(tmp_path, net)
    ours, provenance = load_lpips(net, str(trunk), None, "cpu")  # lin: the installed lpips package's file
    theirs = _theirs(net, trunk)
    assert set(ours.state_dict()) <= set(theirs.state_dict())  # the package's layer names
    torch.manual_seed(1)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    y = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)
    with torch.no_grad():
        got, expected = ours(x, y), theirs(x, y).flatten()
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=1e-6)
    assert got.min() > 1e-4 and provenance["lin_sha256"].startswith({"alex": "df73285e", "vgg": "a78928a0",
                                                                     "squeeze": "4a5350f2"}[net])


def test_lpips_command_on_image_pairs_and_the_range_checks(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "gen").mkdir()
    (tmp_path / "ref").mkdir()
    gen, ref = [], []
    for i in range(4):
        r = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
        g = np.clip(r.astype(int) + rng.integers(-60, 61, r.shape), 0, 255).astype(np.uint8)
        Image.fromarray(r).save(tmp_path / "ref" / f"{i}.png")
        Image.fromarray(g).save(tmp_path / "gen" / f"{i}.png")
        gen.append(g)
        ref.append(r)
    trunk = _trunk_file(tmp_path, "alex")
    env_mirror = {"GENTOOLS_WEIGHTS_MIRROR": "http://127.0.0.1:9"}
    from tests.conftest import cli_env

    proc = run_cli("lpips", tmp_path / "gen", tmp_path / "ref", "--weights", trunk, "-q", env=cli_env(**env_mirror),
                   check=0)
    theirs = _theirs("alex", trunk)
    to_tensor = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float() / 127.5 - 1  # noqa: E731
    with torch.no_grad():
        expected = theirs(to_tensor(gen), to_tensor(ref)).flatten().double().mean().item()
    assert float(parse_tsv(proc.stdout)["lpips"]) == pytest.approx(expected, abs=1e-6)

    floats_gen, floats_ref = np.stack(gen).astype(np.float32) / 255, np.stack(ref).astype(np.float32) / 255
    kwargs = {"weights": str(trunk)}
    same = gentools.lpips(floats_gen, floats_ref, pixel_range="0,1", **kwargs)["lpips"]
    assert same == pytest.approx(expected, abs=1e-6)
    with pytest.raises(gentools.GentoolsError, match="every value lies in \\[0, 1\\] though pixel_range is -1,1"):
        gentools.lpips(floats_gen, floats_ref, pixel_range="-1,1", **kwargs)
    with pytest.raises(gentools.GentoolsError, match="float inputs need pixel_range"):
        gentools.lpips(floats_gen, floats_ref, **kwargs)
    with pytest.raises(gentools.GentoolsError, match="outside the declared pixel range"):
        gentools.lpips(floats_gen * 2, floats_ref, pixel_range="0,1", **kwargs)


def test_weights_random_writes_files_lpips_loads(tmp_path, monkeypatch):
    """`gentools weights random lpips:NET` and `lpips:NET:lin` (the digits demo's LPIPS): the published layouts,
    loaded strictly; the lin layers non-negative and summing to 1 per layer; the same seed, the same file."""
    from gentools.features.backbones.lpips import CHANNELS, load_lpips

    monkeypatch.setenv("GENTOOLS_WEIGHTS_MIRROR", "http://127.0.0.1:9")
    for name, file in (("lpips:squeeze", "trunk.pth"), ("lpips:squeeze:lin", "lin.pth"),
                       ("lpips:squeeze:lin", "again.pth")):
        run_cli("weights", "random", name, "-o", tmp_path / file, "--seed", "3", check=0)
    model, provenance = load_lpips("squeeze", str(tmp_path / "trunk.pth"), str(tmp_path / "lin.pth"), "cpu")
    lins = torch.load(tmp_path / "lin.pth", weights_only=True)
    assert len(lins) == len(CHANNELS["squeeze"])
    assert all(float(w.min()) >= 0 and float(w.sum()) == pytest.approx(1, rel=1e-6) for w in lins.values())
    again = torch.load(tmp_path / "again.pth", weights_only=True)
    assert all(torch.equal(lins[key], again[key]) for key in lins)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert float(model(x, x).abs().max()) == 0 and float(model(x, x.flip(0)).min()) > 0
