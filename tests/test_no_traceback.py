"""Every command with every class of bad input it can receive: a clean exit, one line, never a traceback.

The matrix runs in-process through the CLI's one error boundary (``gentools.cli.run``, what the
console script calls) with stdin at /dev/null, capturing the real file descriptors; the
subprocess path of the same boundary is covered by tests/cli. The counts are printed (-s).
"""

from __future__ import annotations

import io
import os
import zipfile

import h5py
import numpy as np
import pytest
from PIL import Image

from gentools import store
from gentools.cli import run
from tests.conftest import photo_crops

D = 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    rng = np.random.RandomState(0)
    good = rng.randn(40, D).astype(np.float32)
    prov = {"backbone": "pixels", "source": str(root), "complete": True}
    store.write_features(str(root / "good.h5"), {"features": good, "ids": [f"g{i}" for i in range(40)],
                                                 "logits": rng.randn(40, 10)}, prov)
    store.write_features(str(root / "good2.h5"), {"features": good + 1, "ids": [f"h{i}" for i in range(40)]}, prov)
    files = {}

    def add(name, make):
        path = root / name
        make(path)
        files[name] = path

    add("empty.h5", lambda p: p.write_bytes(b""))
    add("text.h5", lambda p: p.write_text("not a features file\n"))
    add("truncated.h5", lambda p: p.write_bytes((root / "good.h5").read_bytes()[:1500]))
    add("wrong_schema.h5", lambda p: h5py.File(p, "w").create_dataset("x", data=[1.0]))
    add("newer_version.h5", lambda p: _newer(root / "good.h5", p))
    add("unfinished.h5", lambda p: store.write_features(str(p), {"features": good}, dict(prov, complete=False)))
    add("nan.npy", lambda p: np.save(p, np.where(np.eye(40, D) > 0, np.nan, good)))
    add("inf.npy", lambda p: np.save(p, np.where(np.eye(40, D) > 0, np.inf, good)))
    add("strings.npy", lambda p: np.save(p, np.array([["a", "b"]] * 40)))
    add("three_d.npy", lambda p: np.save(p, rng.randn(4, 3, 2)))
    add("one_d.npy", lambda p: np.save(p, rng.randn(40)))
    add("dims.npy", lambda p: np.save(p, rng.randn(40, D + 2)))
    add("stats.h5", lambda p: store.write_stats(str(p), store.Stats(good.mean(0), np.cov(good.T), 40, "s")))
    add("dup_ids.h5", lambda p: store.write_features(str(p), {"features": good, "ids": ["same"] * 40}, prov))
    return root, files


def _newer(src, dest):
    dest.write_bytes(src.read_bytes())
    with h5py.File(dest, "r+") as h5:
        h5.attrs["format_version"] = 99


def _run(capfd, argv):
    with open(os.devnull) as devnull:
        saved = os.dup(0)
        os.dup2(devnull.fileno(), 0)
        try:
            code = run([str(a) for a in argv])
        finally:
            os.dup2(saved, 0)
            os.close(saved)
    out, err = capfd.readouterr()
    return code, out, err


def _command_lines(bad, good, good2, out):
    """Each command with the bad input in the place it can receive one."""
    return {
        "fid": ["fid", bad, good, "-q"],
        "kid": ["kid", bad, good, "--subset-size", "10", "--subsets", "2", "-q"],
        "is": ["is", bad, "--splits", "2", "-q"],
        "prdc": ["prdc", bad, good, "-q"],
        "twosample": ["twosample", bad, good, "--permutations", "10", "--test", "mmd,energy", "-q"],
        "nn-grid": ["nn-grid", bad, good, "-q"],
        "kde": ["kde", bad, "--valid", good, "--test", good2, "-q"],
        "stats": ["stats", bad, "-o", out, "-q"],
        "merge": ["merge", good, bad, "-o", out, "-q"],
        "info": ["info", bad, "-q"],
    }


# (command, input) pairs where the input is valid for that command, so exit 0 is right.
ACCEPTED = {("fid", "stats.h5"), ("stats", "stats.h5"), ("info", "stats.h5"), ("info", "unfinished.h5"),
            ("is", "dims.npy"), ("stats", "dims.npy"), ("info", "dims.npy"), ("info", "nan.npy"),
            ("info", "inf.npy")} | {(c, "dup_ids.h5") for c in ("fid", "kid", "prdc", "twosample", "nn-grid",
                                                                "kde", "stats", "merge", "info")}


def test_every_command_every_bad_feature_input(corpus, capfd, tmp_path):
    root, files = corpus
    counts: dict = {}
    failures = []
    for name, path in files.items():
        for command, argv in _command_lines(path, root / "good.h5", root / "good2.h5", tmp_path / "o.h5").items():
            (tmp_path / "o.h5").unlink(missing_ok=True)
            code, out, err = _run(capfd, argv)
            ok = code == 0
            tally = counts.setdefault(command, {"tried": 0, "clean_error": 0, "accepted": 0})
            tally["tried"] += 1
            tally["accepted" if ok else "clean_error"] += 1
            problems = []
            if "Traceback" in err or "Traceback" in out:
                problems.append("traceback")
            if ok != ((command, name) in ACCEPTED):
                problems.append(f"exit {code}")
            if not ok and (err.count("\n") != 1 or not err.startswith("gentools: error: ") or code not in (1, 2)):
                problems.append(f"stderr {err!r}")
            if not ok and name not in err and command not in ("merge",) and "merge" not in err:
                problems.append("message does not name the file")
            if not ok and (tmp_path / "o.h5").exists():
                problems.append("a failed command left its output file")
            if problems:
                failures.append((command, name, problems, err[:300]))
    print("\nbad feature inputs per command:", counts)
    assert not failures, failures


def _image_corpus(root):
    """One folder per bad-image class, each holding only that file (so the outcome is its own)."""
    crop = photo_crops(1, 16)[0]
    cases = {}

    def folder(name):
        path = root / "images" / name
        path.mkdir(parents=True)
        cases[name] = path
        return path

    png = io.BytesIO()
    Image.fromarray(crop).save(png, format="PNG")
    jpg = io.BytesIO()
    Image.fromarray(crop).save(jpg, format="JPEG")
    (folder("truncated_png") / "a.png").write_bytes(png.getvalue()[:100])
    (folder("truncated_jpeg") / "a.jpg").write_bytes(jpg.getvalue()[:300])
    (folder("empty_file") / "a.png").write_bytes(b"")
    (folder("text_as_png") / "a.png").write_text("hello")
    Image.fromarray(crop).convert("CMYK").save(folder("cmyk_jpeg") / "a.jpg")
    Image.fromarray(crop[..., 0].astype(np.uint16) * 257).convert("I;16").save(folder("png_16bit") / "a.png")
    Image.fromarray(crop).convert("P").save(folder("palette_gif") / "a.gif")
    Image.fromarray(crop[:1, :1]).save(folder("one_pixel") / "a.png")
    Image.new("RGB", (4000, 3000), (10, 200, 30)).save(folder("huge_4000x3000") / "a.png")
    frames = [Image.fromarray(crop), Image.fromarray(255 - crop)]
    frames[0].save(folder("animated_gif") / "a.gif", save_all=True, append_images=frames[1:])
    loop = folder("symlink_loop")
    Image.fromarray(crop).save(loop / "a.png")
    (loop / "loop").symlink_to(loop, target_is_directory=True)
    (folder("broken_symlink") / "a.png").symlink_to(root / "nowhere.png")
    folder("empty_folder")
    (folder("no_images") / "notes.txt").write_text("nothing here")
    with zipfile.ZipFile(folder("zip_traversal") / "a.zip", "w") as archive:
        archive.writestr("../../escaped.png", png.getvalue())  # read in memory, never written; '..' is skipped
        archive.writestr("ok.png", png.getvalue())
    unreadable = folder("unreadable")
    Image.fromarray(crop).save(unreadable / "a.png")
    os.chmod(unreadable / "a.png", 0)
    return cases


CONVERTED = {"cmyk_jpeg", "png_16bit", "palette_gif", "one_pixel", "huge_4000x3000", "animated_gif",
             "symlink_loop", "zip_traversal"}


def test_extract_every_bad_image_class(tmp_path, capfd):
    cases = _image_corpus(tmp_path)
    root_can_read = os.access(cases["unreadable"] / "a.png", os.R_OK)  # root ignores permissions
    counts = {"tried": 0, "clean_error": 0, "converted": 0}
    failures = []
    for name, folder in cases.items():
        target = folder / "a.zip" if name == "zip_traversal" else folder
        for extra in ([], ["--skip-bad"]):
            out = tmp_path / f"{name}.h5"
            code, stdout, err = _run(capfd, ["extract", target, "-b", "pixels:8", "--workers", "0", "-o", out,
                                             "-q", *extra])
            counts["tried"] += 1
            expect_ok = name in CONVERTED or (name == "unreadable" and root_can_read)
            counts["converted" if code == 0 else "clean_error"] += 1
            if "Traceback" in err or (code == 0) != expect_ok:
                failures.append((name, extra, code, err))
            if code != 0 and (err.count("\n") != 1 or code != 1 or os.path.exists(out)):
                failures.append((name, extra, code, err))
            if code == 0:
                with store.open_input(str(out)) as f:
                    assert f.n == 1 and np.isfinite(f.array()).all()
    assert not (tmp_path / "escaped.png").exists() and not (tmp_path.parent / "escaped.png").exists()
    print("\nbad image inputs (each with and without --skip-bad):", counts)
    assert not failures, failures


def test_other_commands_bad_inputs(tmp_path, capfd):
    (tmp_path / "g.pt").write_text("not torchscript")
    np.save(tmp_path / "nan_latents.npy", np.full((4, 3), np.nan, np.float32))
    (tmp_path / "bad.jsonl").write_text('{"no": "values"}\n')
    cases = [
        (["interp", tmp_path / "g.pt", "-q"], 1),
        (["interp", "no_such_module:make", "-q"], 2),
        (["report", tmp_path / "bad.jsonl", "-q"], 1),
        (["report", tmp_path / "missing.jsonl", "-q"], 1),
        (["extract", "--generator", tmp_path / "g.pt", "--num-samples", "4", "--latent-dim", "3", "-b", "pixels",
          "-o", tmp_path / "x.h5", "-q"], 1),
        (["fid", tmp_path / "missing.h5", tmp_path / "missing.h5", "-q"], 1),
        (["kid", "-q"], 2),
    ]
    for argv, expected in cases:
        code, _, err = _run(capfd, argv)
        assert code == expected and err.count("\n") == 1 and "Traceback" not in err, (argv, code, err)
