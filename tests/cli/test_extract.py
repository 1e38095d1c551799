"""gentools extract as a real subprocess: every input kind, backbones, generators, bad images, pipes."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gentools import store
from tests.conftest import cli_env, parse_tsv, photo_crops, run_cli, run_shell, script_module, tiny_generator

PIXELS = ("--backbone", "pixels", "--workers", "0")


def read(path) -> dict:
    with store.open_input(str(path)) as f:
        out = {name: f.raw(name) for name in ("features", "logits", "spatial", "ids", "skipped", "thumbnails")
               if f.has(name)}
        out["attrs"] = dict(f.provenance)
    out["ids"] = [i.decode() if isinstance(i, bytes) else i for i in out["ids"]]
    if "skipped" in out:
        out["skipped"] = [i.decode() if isinstance(i, bytes) else i for i in out["skipped"]]
    return out


def _png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def expected_pixels(images) -> np.ndarray:
    return np.stack([im.astype(np.float32).reshape(-1) / 255 for im in images])


def test_folder_recursive_sorted_hidden_ignored(image_folder, tmp_path):
    hidden = tmp_path / "with_hidden"
    (hidden / ".cache").mkdir(parents=True)
    crops = photo_crops(3, seed=5)
    for i, crop in enumerate(crops):
        Image.fromarray(crop).save(hidden / f"b{i}.png")
    Image.fromarray(crops[0]).save(hidden / ".hidden.png")
    Image.fromarray(crops[0]).save(hidden / ".cache" / "x.png")
    (hidden / "notes.txt").write_text("not an image")
    out = tmp_path / "f.h5"
    assert run_cli("extract", hidden, "-o", out, *PIXELS, check=0).stdout.decode().strip() == str(out)
    got = read(out)
    assert got["ids"] == ["b0.png", "b1.png", "b2.png"]
    np.testing.assert_allclose(got["features"], expected_pixels(crops), atol=1e-7)
    assert got["attrs"]["backbone"] == "pixels" and got["attrs"]["source"] == str(hidden.resolve())
    assert got["attrs"]["complete"] in (True, np.True_) and got["attrs"]["count"] == 3

    nested = read_ids(run_cli("extract", image_folder, "-o", tmp_path / "g.h5", *PIXELS, check=0), tmp_path / "g.h5")
    assert nested[:2] == ["img_000.png", "img_001.png"] and nested[-1] == "sub/img_023.png" and len(nested) == 24


def read_ids(proc, path):
    return read(path)["ids"]


def test_glob_zip_tar_npz_npy_and_stdin(tmp_path):
    crops = photo_crops(5, seed=7)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, crop in enumerate(crops):
        Image.fromarray(crop).save(folder / f"{i}.png")
    expected = expected_pixels(crops)

    def extract(*inputs, stdin=None):
        out = tmp_path / "out.h5"
        proc = run_cli("extract", *inputs, "-o", out, *PIXELS, stdin_bytes=stdin, check=0)
        assert proc.stdout.decode().strip() == str(out)
        return read(out)

    got = extract(str(folder / "*.png"))
    assert got["ids"] == [str(folder / f"{i}.png") for i in range(5)]
    np.testing.assert_allclose(got["features"], expected, atol=1e-7)

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        for i, crop in enumerate(crops):
            archive.writestr(f"d/{i}.png", _png_bytes(crop))
        archive.writestr("../evil.txt", b"never extracted")
    got = extract(tmp_path / "a.zip")
    assert got["ids"] == [f"a.zip:d/{i}.png" for i in range(5)]
    np.testing.assert_allclose(got["features"], expected, atol=1e-7)
    assert not (tmp_path.parent / "evil.txt").exists()

    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as archive:
        for i in range(5):
            archive.add(folder / f"{i}.png", arcname=f"{i}.png")
    got = extract(tmp_path / "a.tar.gz")
    assert got["ids"] == [f"a.tar.gz:{i}.png" for i in range(5)]
    np.testing.assert_allclose(got["features"], expected, atol=1e-7)

    batch = np.stack(crops)
    np.savez(tmp_path / "samples.npz", arr_0=batch)  # guided-diffusion's sample batch layout
    got = extract(tmp_path / "samples.npz")
    assert got["ids"] == [f"samples.npz[{i}]" for i in range(5)]
    np.testing.assert_allclose(got["features"], expected, atol=1e-7)
    np.save(tmp_path / "gray.npy", batch[..., 0])
    got = extract(tmp_path / "gray.npy")
    np.testing.assert_allclose(got["features"], expected_pixels([np.repeat(b[..., :1], 3, 2) for b in batch]),
                               atol=1e-7)

    paths = "".join(f"{folder / f'{i}.png'}\n" for i in (3, 1))
    for args in (("-",), ()):
        got = extract(*args, stdin=paths.encode())
        assert got["ids"] == [str(folder / "3.png"), str(folder / "1.png")]
        np.testing.assert_allclose(got["features"], expected[[3, 1]], atol=1e-7)


def test_image_modes_converted_like_pil_convert_rgb(tmp_path):
    rgb = photo_crops(1, seed=3)[0]
    folder = tmp_path / "modes"
    folder.mkdir()
    images = {"a_gray.png": Image.fromarray(rgb).convert("L"), "b_rgba.png": Image.fromarray(rgb).convert("RGBA"),
              "c_palette.gif": Image.fromarray(rgb).convert("P"), "d_cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
              "e_16bit.png": Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).convert("I;16")}
    for name, image in images.items():
        image.save(folder / name)
    run_cli("extract", folder, "-o", tmp_path / "m.h5", *PIXELS, check=0)
    got = read(tmp_path / "m.h5")
    expected = [np.asarray(Image.open(folder / name).convert("RGB")) for name in sorted(images)]
    np.testing.assert_allclose(got["features"], expected_pixels(expected), atol=1e-7)


def test_bad_images_stop_or_are_skipped(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = photo_crops(4, seed=9)
    for i, crop in enumerate(good):
        Image.fromarray(crop).save(folder / f"{i * 2}.png")
    (folder / "1.png").write_bytes(_png_bytes(good[0])[:200])  # truncated PNG
    (folder / "3.jpg").write_bytes(b"")  # empty JPEG
    (folder / "5.png").write_text("this is text, not a PNG")
    proc = run_cli("extract", folder, "-o", tmp_path / "x.h5", *PIXELS, check=1)
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(folder / "1.png") in err and "--skip-bad" in err
    assert not (tmp_path / "x.h5").exists()

    proc = run_cli("extract", folder, "-o", tmp_path / "x.h5", *PIXELS, "--skip-bad", check=0)
    assert "skipped 3" in proc.stderr.decode()
    got = read(tmp_path / "x.h5")
    assert got["ids"] == ["0.png", "2.png", "4.png", "6.png"]
    assert got["skipped"] == ["1.png", "3.jpg", "5.png"]
    np.testing.assert_allclose(got["features"], expected_pixels(good), atol=1e-7)


def test_no_images_and_missing_input_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    for args, needle in [((tmp_path / "empty",), "no images found"), ((tmp_path / "missing",), "no such file")]:
        err = run_cli("extract", *args, "-o", tmp_path / "o.h5", *PIXELS, check=1).stderr.decode()
        assert needle in err and err.count("\n") == 1


def test_pipe_into_fid_with_stale_output(tmp_path, image_folder, inception_weights):
    ref_folder = tmp_path / "ref"
    ref_folder.mkdir()
    for i, crop in enumerate(photo_crops(6, seed=11)):
        Image.fromarray(crop).save(ref_folder / f"{i}.png")
    common = f"--weights {inception_weights} --batch-size 8 -q"
    run_cli("extract", ref_folder, "-o", tmp_path / "ref.h5", *common.split(), check=0)  # the pipe is the next one
    (tmp_path / "f.h5").write_bytes((tmp_path / "ref.h5").read_bytes())  # stale: FD against ref would be 0
    proc = run_shell(f"gentools extract {image_folder} -o f.h5 {common} | gentools fid f.h5 ref.h5 -q", tmp_path)
    assert proc.returncode == 0, proc.stderr
    new, ref = read(tmp_path / "f.h5"), read(tmp_path / "ref.h5")
    assert len(new["ids"]) == 24
    # 24 and 6 rows of 2048-d features: FD through the centred rows, tr (S1 S2)^½ = the nuclear norm of
    # A Bᵀ / sqrt((n-1)(m-1)) (a d x d eigensolver is only ~1e-5 accurate on covariances this singular).
    a, b = (x - x.mean(0) for x in (new["features"].astype(np.float64), ref["features"].astype(np.float64)))
    expected = float(np.sum((new["features"].astype(np.float64).mean(0) - ref["features"].astype(np.float64).mean(0))
                            ** 2) + (a ** 2).sum() / 23 + (b ** 2).sum() / 5
                     - 2 * np.linalg.svd(a @ b.T / np.sqrt(23 * 5), compute_uv=False).sum())
    assert float(parse_tsv(proc.stdout)["fid"]) == pytest.approx(expected, rel=1e-9) and expected > 0
    assert new["attrs"]["backbone"] == "inception" and new["attrs"]["resize"] == "tf"
    assert new["logits"].shape == (24, 1008)


def test_thumbnails_spatial_and_stdout_bytes(tmp_path, image_folder, inception_weights):
    proc = run_shell(f"gentools extract {image_folder}/sub --weights {inception_weights} --spatial "
                     f"--thumbnails 16 -q > out.h5", tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = read(tmp_path / "out.h5")
    assert got["spatial"].shape == (4, 2023) and got["thumbnails"].shape == (4, 16, 16, 3)
    assert got["thumbnails"].dtype == np.uint8


def test_generator_file_and_module_function(tmp_path):
    gen = tiny_generator(tmp_path / "gen.pt")
    args = ("--num-samples", "10", "--latent-dim", "6", "--seed", "3", *PIXELS)
    a = run_cli("extract", "--generator", tmp_path / "gen.pt", "-o", tmp_path / "a.h5", *args, "--batch-size", "4",
                check=0)
    assert a.stdout.decode().strip() == str(tmp_path / "a.h5")
    got = read(tmp_path / "a.h5")
    assert got["ids"] == [f"generator:seed=3:index={i}" for i in range(10)]
    z = np.stack([np.random.default_rng([3, i]).standard_normal(6, dtype=np.float32) for i in range(10)])
    with torch.no_grad():
        images = (gen(torch.from_numpy(z)) * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    np.testing.assert_allclose(got["features"], expected_pixels(images.numpy()), atol=1e-7)
    assert list(tmp_path.glob("*.png")) == []

    (tmp_path / "mygen.py").write_text(
        "import torch\n"
        "def make():\n"
        "    return torch.export.load(open(%r, 'rb')).module()\n" % str(tmp_path / "gen.pt"))
    env = cli_env(PYTHONPATH=str(tmp_path))
    run_cli("extract", "--generator", "mygen:make", "-o", tmp_path / "b.h5", *args, "--batch-size", "7",
            env=env, check=0)
    np.testing.assert_array_equal(read(tmp_path / "b.h5")["features"], got["features"])
    err = run_cli("extract", "--generator", "mygen:nothing", "-o", tmp_path / "c.h5", *args, env=env,
                  check=2).stderr.decode()
    assert "mygen:nothing" in err and err.count("\n") == 1


def test_torchscript_torchvision_and_plugin_backbones(tmp_path, image_folder):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    script_module(net, tmp_path / "net.pt")
    run_cli("extract", image_folder, "-b", f"ts:{tmp_path / 'net.pt'}", "-o", tmp_path / "ts.h5", "--workers", "0",
            check=0)
    got = read(tmp_path / "ts.h5")
    images = torch.from_numpy(np.stack([np.asarray(Image.open(image_folder / i)) for i in got["ids"]]))
    with torch.no_grad():
        expected = net(images.permute(0, 3, 1, 2).float() / 255).numpy()
    np.testing.assert_allclose(got["features"], expected, rtol=1e-5, atol=1e-6)
    assert got["attrs"]["backbone"] == "ts:net.pt" and len(got["attrs"]["weights_sha256"]) == 64

    (tmp_path / "myback.py").write_text(
        "import torch\n"
        "def make():\n"
        "    m = torch.jit.load(%r)\n"
        "    return m\n" % str(tmp_path / "net.pt"))
    run_cli("extract", image_folder, "-b", "myback:make", "-o", tmp_path / "p.h5", "--workers", "0",
            env=cli_env(PYTHONPATH=str(tmp_path)), check=0)
    np.testing.assert_allclose(read(tmp_path / "p.h5")["features"], got["features"], rtol=1e-6)

    import torchvision

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).eval()
    torch.save(resnet.state_dict(), tmp_path / "r18.pth")
    run_cli("extract", image_folder / "sub", "-b", "tv:resnet18", "--weights", tmp_path / "r18.pth",
            "-o", tmp_path / "tv.h5", "--workers", "0", check=0)
    got = read(tmp_path / "tv.h5")
    transform = torchvision.models.ResNet18_Weights.DEFAULT.transforms()
    images = torch.from_numpy(np.stack([np.asarray(Image.open(image_folder / "sub" / i)) for i in got["ids"]]))
    resnet.fc = torch.nn.Identity()
    with torch.no_grad():
        expected = resnet(transform(images.permute(0, 3, 1, 2))).numpy()
    assert got["features"].shape == (4, 512) and got["logits"].shape == (4, 1000)
    np.testing.assert_allclose(got["features"], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert got["attrs"]["layer"] == "penultimate"
