"""Conditional evaluation: labels in features files, --per-class metrics, diversity, CLIP score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import gentools
from gentools import store
from tests.conftest import cli_values, one_line_error, parse_tsv, run_cli


@pytest.fixture(scope="module")
def digit_folders(tmp_path_factory):
    """sklearn's digits as 8x8 PNGs in ImageFolder layout (root/DIGIT/i.png): gen = even rows, ref = odd rows."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("digits")
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        folder = root / ("gen" if i % 2 == 0 else "ref") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"{i:04d}.png")
    for name in ("gen", "ref"):
        run_cli("extract", root / name, "-b", "pixels:8:gray", "--labels", "folder", "--workers", "0", "-o",
                root / f"{name}.h5", "-q", check=0)
    return root


def test_per_class_fid_equals_direct_frechet_distance(digit_folders):
    from gentools.metrics.frechet import frechet_distance

    root = digit_folders
    printed = cli_values("fid", root / "gen.h5", root / "ref.h5", "--per-class")
    expected = []
    with gentools.load(str(root / "gen.h5")) as gen, gentools.load(str(root / "ref.h5")) as ref:
        assert sorted(set(gen.labels), key=int) == [str(d) for d in range(10)]
        g, r = gen.array().astype(np.float64), ref.array().astype(np.float64)
        gl, rl = np.array(gen.labels), np.array(ref.labels)
        for digit in map(str, range(10)):
            a, b = g[gl == digit], r[rl == digit]
            fd = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
            assert printed[f"fid.{digit}"] == pytest.approx(fd, rel=1e-6)
            expected.append(fd)
    assert printed["intra_fid"] == pytest.approx(np.mean([printed[f"fid.{d}"] for d in range(10)]), rel=1e-12)
    assert printed["intra_fid"] == pytest.approx(np.mean(expected), rel=1e-6)
    # issue 33, item 11: the overall value over all rows was dropped; it comes first, as fid prints it alone
    assert list(printed)[:3] == ["fid", "fid.0", "fid.1"] and list(printed)[-1] == "intra_fid"
    assert printed["fid"] == cli_values("fid", root / "gen.h5", root / "ref.h5")["fid"]
    info = parse_tsv(run_cli("info", root / "gen.h5", check=0).stdout)
    assert info["classes"] == "10"
    options = ("--subsets", "5", "--subset-size", "50")
    kid = cli_values("kid", root / "gen.h5", root / "ref.h5", "--per-class", *options)
    assert kid["intra_kid_mean"] == pytest.approx(np.mean([kid[f"kid_mean.{d}"] for d in range(10)]), rel=1e-12)
    assert kid["kid_mean"] == cli_values("kid", root / "gen.h5", root / "ref.h5", *options)["kid_mean"]
    prdc = cli_values("prdc", root / "gen.h5", root / "ref.h5", "--per-class")
    assert prdc["intra_recall"] == pytest.approx(np.mean([prdc[f"recall.{d}"] for d in range(10)]), rel=1e-12)
    assert prdc["recall"] == cli_values("prdc", root / "gen.h5", root / "ref.h5")["recall"]
    assert prdc["intra_recall"] != prdc["recall"]  # the two are different numbers, and both are printed


def test_each_per_class_value_is_the_metric_on_that_class(digit_folders):
    """``METRIC.LABEL`` of kid, prdc and diversity is the metric over that class's rows alone (prdc against the
    prdc package, vendi against the vendi-score package)."""
    from prdc import compute_prdc
    from vendi_score import vendi

    root = digit_folders
    gen, ref = gentools.load(str(root / "gen.h5")), gentools.load(str(root / "ref.h5"))
    rows = {name: (f.array(), np.asarray(f.labels)) for name, f in (("gen", gen), ("ref", ref))}
    kid = cli_values("kid", root / "gen.h5", root / "ref.h5", "--per-class", "--subsets", "5", "--subset-size", "50")
    prdc = cli_values("prdc", root / "gen.h5", root / "ref.h5", "--per-class")
    diversity = cli_values("diversity", root / "gen.h5", "--per-class")
    for k in ("3", "8"):
        x, y = (a[labels == k] for a, labels in (rows["gen"], rows["ref"]))
        one = gentools.kid(x, y, subsets=5, subset_size=50)
        assert kid[f"kid_mean.{k}"] == one["kid_mean"] and kid[f"kid_std.{k}"] == one["kid_std"]
        theirs = compute_prdc(real_features=y, fake_features=x, nearest_k=5)
        # METRICS.md: counts, equal up to one sample's weight where distances tie (digit pixels tie often)
        weight = {"precision": 1 / len(x), "recall": 1 / len(y), "density": 1 / (5 * len(x)), "coverage": 1 / len(y)}
        ours = gentools.prdc(x, y)  # the same rows through the API: the grouping picked exactly these
        for name, w in weight.items():
            assert prdc[f"{name}.{k}"] == ours[name]
            assert abs(ours[name] - theirs[name]) <= w + 1e-12, (name, k, ours[name], theirs[name])
        assert diversity[f"vendi.{k}"] == pytest.approx(vendi.score_dual(x), rel=1e-6)


def _labelled(path, labels, dim=8, seed=0, logits=None):
    rng = np.random.RandomState(seed)
    arrays = {"features": rng.randn(len(labels), dim), "labels": [str(x) for x in labels]}
    if logits is not None:
        arrays["logits"] = logits
    store.write_features(str(path), arrays, {"backbone": "pixels", "layer": "pixels", "weights_sha256": "",
                                              "resize": "none"})
    return path


def test_diversity_equals_the_formulas_on_known_counts(tmp_path):
    counts = {"0": 40, "1": 30, "2": 20, "3": 7, "4": 3}  # only classes 0-4
    gen = _labelled(tmp_path / "gen.h5", [k for k, c in counts.items() for _ in range(c)])
    ref = _labelled(tmp_path / "ref.h5", [str(k % 10) for k in range(200)], seed=1)  # all ten, 20 each
    values = cli_values("diversity", gen, "--ref", ref)
    c = np.array(list(counts.values()) + [0] * 5, dtype=np.float64)  # universe: the union, 10 classes
    p = c / c.sum()
    nz = p > 0
    assert values["modes"] == 5
    assert values["class_entropy"] == pytest.approx(-(p[nz] * np.log(p[nz])).sum(), rel=1e-12)
    assert values["class_gini"] == pytest.approx(np.abs(c[:, None] - c[None, :]).sum() / (2 * 10 * c.sum()),
                                                 rel=1e-12)
    assert values["class_kl"] == pytest.approx((p[nz] * np.log(p[nz] / 0.1)).sum(), rel=1e-12)
    from vendi_score import vendi

    with gentools.load(str(gen)) as g:
        assert values["vendi"] == pytest.approx(vendi.score_dual(g.array()), rel=1e-6)
    assert parse_tsv(run_cli("vendi", gen, "--ref", ref, "-q", check=0).stdout) == \
        parse_tsv(run_cli("diversity", gen, "--ref", ref, "-q", check=0).stdout)
    err = one_line_error("diversity", ref, "--ref", gen)  # classes 5-9 are generated but absent from gen
    assert "class '5'" in err and "class_kl" in err
    logits = np.eye(7)[np.arange(70) % 3] * 5  # argmax classes 0, 1, 2 of a 7-wide universe
    plain = tmp_path / "logits.h5"
    store.write_features(str(plain), {"features": np.random.RandomState(2).randn(70, 4), "logits": logits},
                         {"backbone": "x"})
    by_logits = cli_values("diversity", plain)
    assert by_logits["modes"] == 3 and by_logits["class_entropy"] == pytest.approx(np.log(3), rel=1e-3)


class Conditional(torch.nn.Module):
    """A conditional generator G(z, c): every pixel of sample i is 20 * class / 127.5 - 1 (uint8 20 * class)."""

    def __init__(self, onehot: bool):
        super().__init__()
        self.latent_dim = 3
        self.onehot = onehot

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        classes = c.argmax(dim=1) if self.onehot else c
        value = (classes.float() * 20 + 0.5) / 127.5 - 128 / 127.5
        return value.view(-1, 1, 1, 1).expand(-1, 3, 4, 4) + 0 * z.sum()


@pytest.mark.parametrize("class_input", ["index", "onehot"])
def test_conditional_generator_receives_each_samples_class(tmp_path, class_input):
    path = tmp_path / "g.pt2"
    batch = torch.export.Dim("batch")
    classes = torch.zeros(2, 7) if class_input == "onehot" else torch.zeros(2, dtype=torch.int64)
    program = torch.export.export(Conditional(class_input == "onehot"), (torch.zeros(2, 3), classes),
                                  dynamic_shapes=({0: batch}, {0: batch}))
    torch.export.save(program, str(path))
    out = tmp_path / "g.h5"
    run_cli("extract", "--generator", path, "--num-samples", "23", "--classes", "7", "--class-input", class_input,
            "-b", "pixels:2", "--batch-size", "5", "-o", out, "-q", check=0)
    with gentools.load(str(out)) as f:
        classes = np.arange(23) % 7
        assert f.labels == [str(k) for k in classes]
        np.testing.assert_allclose(f.array()[:, 0] * 255, classes * 20, atol=1e-4)  # the class reached G


def test_labels_survive_shards_merge_and_resume(tmp_path, digit_folders):
    root = digit_folders
    shards = []
    for i in range(3):
        shards.append(tmp_path / f"s{i}.h5")
        run_cli("extract", root / "gen", "-b", "pixels:4", "--labels", "folder", "--shard", f"{i}/3", "--workers",
                "0", "-o", shards[-1], "-q", check=0)
    run_cli("merge", shards[2], shards[0], shards[1], "-o", tmp_path / "merged.h5", "-q", check=0)
    run_cli("extract", root / "gen", "-b", "pixels:4", "--labels", "folder", "--workers", "0", "-o",
            tmp_path / "whole.h5", "-q", check=0)
    with gentools.load(str(tmp_path / "merged.h5")) as merged, gentools.load(str(tmp_path / "whole.h5")) as whole:
        assert merged.labels == whole.labels and merged.ids == whole.ids and len(set(whole.labels)) == 10
        expected = whole.labels
    import h5py  # fake an interruption after 100 rows: the finished file cut back into a partial one

    with h5py.File(tmp_path / "whole.h5", "r") as src, h5py.File(tmp_path / "resumed.h5.partial", "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst.attrs["complete"], dst.attrs["rows_done"], dst.attrs["items_done"] = False, 100, 100
        for name in ("features", "ids", "labels"):
            data = src[name][:100]
            dst.create_dataset(name, data=data, maxshape=(None, *data.shape[1:]),
                               dtype=src[name].dtype, chunks=True)
    run_cli("extract", root / "gen", "-b", "pixels:4", "--labels", "folder", "--workers", "0", "-o",
            tmp_path / "resumed.h5", "--resume", "-q", check=0)
    with gentools.load(str(tmp_path / "resumed.h5")) as resumed:
        assert resumed.labels == expected


def test_bad_label_and_caption_inputs_are_one_line_errors(tmp_path, digit_folders):
    root = digit_folders
    (tmp_path / "labels.tsv").write_text("0/0000.png\t0\n")
    err = one_line_error("extract", root / "gen", "-b", "pixels:4", "--labels", tmp_path / "labels.tsv", "-o",
                          tmp_path / "x.h5", "--workers", "0")
    assert "no label for" in err and "labels.tsv" in err
    (tmp_path / "caps.tsv").write_text("a.png\tone\na.png\ttwo\n")
    err = one_line_error("extract", root / "gen", "-b", "pixels:4", "--captions", tmp_path / "caps.tsv", "-o",
                          tmp_path / "x.h5", "--workers", "0")
    assert "clip:" in err
    plain = tmp_path / "plain.npy"
    np.save(plain, np.random.RandomState(0).randn(20, 4))
    assert "no labels" in one_line_error("fid", plain, plain, "--per-class")


def test_per_class_needs_each_class_on_both_sides(tmp_path):
    gen = _labelled(tmp_path / "gen.h5", ["a"] * 10 + ["b"] * 10)
    ref = _labelled(tmp_path / "ref.h5", ["a"] * 10 + ["c"] * 10, seed=1)
    assert "class 'b'" in one_line_error("fid", gen, ref, "--per-class")
    one = _labelled(tmp_path / "one.h5", ["a"] * 10 + ["b"])
    assert "class 'b' has 1 row" in one_line_error("fid", one, one, "--per-class")


@pytest.fixture(scope="module")
def clip_weights(tmp_path_factory):
    open_clip = pytest.importorskip("open_clip")
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "clip.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def test_captions_text_features_and_clip_score(tmp_path, image_folder, clip_weights):
    import open_clip

    path, model = clip_weights
    ids = [p.name for p in sorted((image_folder / "sub").glob("*.png"))]
    captions = {i: f"a photo number {n}" for n, i in enumerate(ids)}
    captions[ids[0]] = " ".join(["word"] * 300)  # longer than the 77-token context: truncated, not an error
    (tmp_path / "caps.tsv").write_text("".join(f"{i}\t{c}\n" for i, c in captions.items()))
    out = tmp_path / "clip.h5"
    proc = run_cli("extract", image_folder / "sub", "-b", "clip:ViT-B-32", "--weights", path, "--captions",
                   tmp_path / "caps.tsv", "--workers", "0", "-o", out, check=0)
    assert "1 caption(s) are longer than the model's context of 77 tokens" in proc.stderr.decode()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    with torch.inference_mode():
        expected = model.encode_text(tokenizer([captions[i] for i in ids])).numpy()
    with gentools.load(str(out)) as f:
        assert f.ids == ids
        text, image = f.array("text_features"), f.array()
    assert np.abs(text - expected).max() <= 1e-5 * np.abs(expected).max()
    cos = (image * text).sum(1) / np.linalg.norm(image, axis=1) / np.linalg.norm(text, axis=1)
    assert cli_values("clipscore", out)["clip_score"] == pytest.approx(np.maximum(100 * cos, 0).mean(), rel=1e-6)
    (tmp_path / "dup.tsv").write_text(f"{ids[0]}\tone\n{ids[0]}\ttwo\n")
    err = one_line_error("extract", image_folder / "sub", "-b", "clip:ViT-B-32", "--weights", path, "--captions",
                          tmp_path / "dup.tsv", "--workers", "0", "-o", tmp_path / "d.h5")
    assert "two captions" in err and ids[0] in err


def test_evaluator_takes_labels_for_per_class_fid(digit_folders):
    root = digit_folders
    with gentools.load(str(root / "gen.h5")) as gen:
        ids, labels = gen.ids, gen.labels
    images = np.stack([np.asarray(Image.open(root / "gen" / i).convert("RGB")) for i in ids])
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics={"fid": {"per_class": True}}, backbone="pixels:8:gray",
                            device="cpu")
    batch = torch.from_numpy(images).permute(0, 3, 1, 2)
    for start in range(0, len(ids), 37):
        ev.update(batch[start:start + 37], labels=labels[start:start + 37])
    ours, printed = ev.compute(), cli_values("fid", root / "gen.h5", root / "ref.h5", "--per-class")
    assert set(ours) == set(printed)
    for key, value in printed.items():
        assert ours[key] == pytest.approx(value, rel=1e-9), key


def test_evaluator_labels_as_tensor_array_or_list_give_one_per_class_fid(digit_folders):
    """Labels are canonical whatever their type: ints in a tensor, a numpy array or a list, and whole floats,
    all become the folder labels' digits ("3"), so per-class FID against the labelled reference is the same."""
    root = digit_folders
    with gentools.load(str(root / "gen.h5")) as gen:
        ids, labels = gen.ids, np.array([int(label) for label in gen.labels])
    images = torch.from_numpy(np.stack([np.asarray(Image.open(root / "gen" / i).convert("RGB")) for i in ids]))
    batch = images.permute(0, 3, 1, 2)
    printed = cli_values("fid", root / "gen.h5", root / "ref.h5", "--per-class")
    for given in (torch.from_numpy(labels), labels, labels.tolist(), labels.astype(np.float32)):
        ev = gentools.Evaluator(str(root / "ref.h5"), metrics={"fid": {"per_class": True}},
                                backbone="pixels:8:gray", device="cpu")
        for start in range(0, len(ids), 100):
            ev.update(batch[start:start + 100], labels=given[start:start + 100])
        ours = ev.compute()
        assert set(ours) == set(printed), type(given)
        assert ours["intra_fid"] == pytest.approx(printed["intra_fid"], rel=1e-9), type(given)
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics={"fid": {"per_class": True}}, backbone="pixels:8:gray",
                            device="cpu")
    for bad, message in (("0123", "not one string"), (np.full(4, 0.5), "not a class index")):
        with pytest.raises(gentools.GentoolsError, match=message):
            ev.update(batch[:4], labels=bad)
    assert ev.n == 0
