"""The library inside a notebook or a training script (issue 19): one registry behind the commands and the API,
Python inputs, early errors in the caller's words, and no side effects on the caller's process."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gentools
from gentools import store
from gentools.api import registry
from gentools.errors import UsageError
from tests.conftest import BIN, cli_env, parse_tsv, photo_crops, run_cli

ROOT = Path(__file__).resolve().parents[1]
PROVENANCE = {"backbone": "pixels:8", "layer": "pixels", "weights_sha256": "", "resize": "pil", "input_size": 8,
              "normalisation": "none", "complete": True}


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """gen.h5, ref.h5 and test.h5: 32-d features with logits, labels (3 classes), text_features and ids."""
    root = tmp_path_factory.mktemp("library")
    rng = np.random.RandomState(5)
    for name, n, shift in (("gen", 240, 0.3), ("ref", 260, 0.0), ("test", 200, 0.1)):
        features = (rng.randn(n, 32) + shift).astype(np.float32)
        arrays = {"features": features, "logits": (features[:, :10] * 2).astype(np.float32),
                  "text_features": (features + rng.randn(n, 32) * 0.5).astype(np.float32),
                  "labels": [str(i % 3) for i in range(n)], "ids": [f"{name}{i}" for i in range(n)]}
        store.write_features(str(root / f"{name}.h5"), arrays, dict(PROVENANCE, count=n, source=f"{name}/"))
    return root


# Small settings so every metric runs in about a second; a metric registered without an entry runs on defaults.
FAST = {"kid": {"subsets": 10, "subset_size": 50}, "twosample": {"permutations": 30, "max_samples": 150},
        "is": {"splits": 4}, "nn-grid": {"cells": 4}, "kde": {"sigma": [0.5, 1.0]}}
FILES = {"gen": "gen", "ref": "ref", "train": "ref", "valid": "ref", "test": "test"}


def _flags(metric, options: dict) -> list:
    out = []
    for name, value in options.items():
        flag = "--per-class" if name == "per_class" else metric.option(name).flag
        if value is True:
            out.append(flag)
        elif isinstance(value, list):
            for item in value:
                out += [flag, str(item)]
        else:
            out += [flag, str(value)]
    return out


def _printed(argv) -> dict:
    values = {}
    for key, text in parse_tsv(run_cli(*argv, "-q", check=0).stdout).items():
        values[key] = {"true": True, "false": False}[text] if text in ("true", "false") else float(text)
    return values


CASES = [(name, False) for name, m in registry.metrics().items() if not m.paired] + \
        [(name, True) for name, m in registry.metrics().items() if m.per_class_means is not None]


@pytest.mark.parametrize("name,per_class", CASES, ids=[f"{n}{'-per-class' if p else ''}" for n, p in CASES])
def test_api_equals_cli_for_every_registered_metric(sets, name, per_class):
    """Float for float: gentools.NAME(paths, **options) is what `gentools NAME` prints, for every registration."""
    metric = registry.get(name)
    options = dict(FAST.get(metric.name, {}), **({"per_class": True} if per_class else {}))
    positional = [i for i in metric.inputs if not i.flag]
    named = [i for i in metric.inputs if i.flag]
    paths = {i.name: str(sets / f"{FILES[i.name]}.h5") for i in metric.inputs}
    argv = [name, *(paths[i.name] for i in positional)]
    for item in named:
        argv += [item.flag, paths[item.name]]
    printed = _printed(argv + _flags(metric, options))
    function = getattr(gentools, name.replace("-", "_") if name != "is" else "inception_score")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cmmd and clipscore note that these are not CLIP features
        from_api = function(*(paths[i.name] for i in positional), **{i.name: paths[i.name] for i in named},
                            **options)
    assert dict(from_api) == printed and printed
    assert from_api.inputs and from_api.inputs[0]["path"] == paths["gen"]


def test_every_command_of_the_registry_is_a_command_and_an_api_function():
    from gentools.cli import app

    commands = {c.name for c in app.registered_commands}
    for name, metric in registry.metrics().items():
        assert name in commands
        assert callable(getattr(gentools, metric.api_name)) and metric.api_name in gentools.__all__
    assert gentools.vendi is gentools.diversity  # the vendi command is diversity's alias, and so is the function
    assert "subset_size=1000" in str(inspect.signature(gentools.kid))  # the defaults are the table's


def test_a_registration_whose_keywords_differ_from_its_options_is_refused():
    with pytest.raises(TypeError, match="differ from the registration"):
        @registry.register_metric("drift", inputs=(registry.GEN,), options=(registry.SEED,), metavar="GEN",
                                  summary="")
        def drift(gen, *, seed, subsets):  # noqa: ARG001 - the mismatch is the test
            return {}


NEXT_METRIC = '''
import sys, numpy as np
from gentools.api.registry import FORCE, GEN, Input, Option, register_metric
from gentools.api._common import Result
from gentools.inputs import describe, open_pair

@register_metric("mean-gap", inputs=(GEN, Input("ref")), metavar="GEN REF", evaluator="rows", per_class_means={},
                 summary="|mean(GEN) - mean(REF)| scaled.", options=(Option("scale", 1.0, "Multiplier."), FORCE))
def mean_gap(gen, ref, *, scale, force):
    gen, ref = open_pair(gen, ref, "mean-gap", force)
    value = scale * float(np.linalg.norm(gen.array().mean(0) - ref.array().mean(0)))
    return Result({"mean_gap": value}, [describe(gen), describe(ref)], {"scale": scale})

import gentools
from gentools.cli import run
api = gentools.mean_gap(sys.argv[1], sys.argv[2], scale=2.0)["mean_gap"]
ev = gentools.Evaluator(sys.argv[2], metrics={"mean-gap": {"scale": 2.0}}, backbone="pixels:8", device="cpu",
                        force=True)
try:
    gentools.Evaluator(sys.argv[2], metrics={"mean-gap": {"scael": 2.0}}, backbone="pixels:8", device="cpu",
                       force=True)
except gentools.GentoolsError as exc:
    print("refused:", exc)
print("api", repr(api))
sys.exit(run(["mean-gap", sys.argv[1], sys.argv[2], "--scale", "2", "--per-class"]))
'''


def test_one_registration_adds_a_command_an_api_function_and_an_evaluator_metric(sets, tmp_path):
    """What adding the next metric costs: one registered function (here in a script), nothing else."""
    (tmp_path / "next.py").write_text(NEXT_METRIC)
    proc = subprocess.run([sys.executable, str(tmp_path / "next.py"), str(sets / "gen.h5"), str(sets / "ref.h5")],
                          capture_output=True, env=cli_env(PYTHONPATH=str(ROOT)), timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "refused: Evaluator metrics['mean-gap']: unknown option 'scael'; expected some of scale, force" in out
    lines = dict(line.split("\t") for line in out.splitlines() if "\t" in line)
    assert set(lines) == {"mean_gap", "mean_gap.0", "mean_gap.1", "mean_gap.2", "intra_mean_gap"}
    with gentools.load(str(sets / "gen.h5")) as gen, gentools.load(str(sets / "ref.h5")) as ref:
        whole = 2 * float(np.linalg.norm(gen.features.mean(0) - ref.features.mean(0)))
    assert float(out.split("api ")[1].split()[0]) == pytest.approx(whole, rel=1e-12)
    assert float(lines["mean_gap"]) == pytest.approx(whole, rel=1e-12)  # --per-class keeps the overall value


def test_warnings_point_at_the_callers_line():
    """Issue 33, item 11: warnings named api/registry.py:164 (or whichever gentools module noticed), so a filter
    on the caller's module, and the line printed, were gentools' own."""
    rng = np.random.RandomState(0)
    x, y = rng.randn(20, 40), rng.randn(20, 40)  # plain arrays (no provenance) and n <= d: two warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        gentools.fid(x, y)
        gentools.kid(x, y, subset_size=10, subsets=2)
    assert len(caught) >= 3 and {w.category.__name__ for w in caught} == {"GentoolsWarning"}
    assert {(Path(w.filename).name, w.lineno) for w in caught} == {("test_library.py", line),
                                                                   ("test_library.py", line + 1)}


def test_python_spelling_from_python_and_flags_from_the_command_line(sets):
    with pytest.raises(gentools.GentoolsError) as caught:
        gentools.kid(str(sets / "gen.h5"), str(sets / "ref.h5"))
    assert "subset_size=1000 is larger" in str(caught.value) and "--" not in str(caught.value).split(";")[0]
    err = run_cli("kid", sets / "gen.h5", sets / "ref.h5", "-q", check=1).stderr.decode()
    assert "--subset-size 1000 is larger" in err and "use --subset-size 240 or less" in err
    with pytest.raises(gentools.GentoolsError, match=r"k=300 needs more than 300 rows"):
        gentools.prdc(str(sets / "gen.h5"), str(sets / "ref.h5"), k=300)
    with pytest.raises(gentools.GentoolsError, match="gentools.kid: subsets='5' is not an integer"):
        gentools.kid(str(sets / "gen.h5"), str(sets / "ref.h5"), subsets="5")


@pytest.mark.parametrize("option", [["--bootstrap", "3"], ["--infinity"], ["--mifid", "REF"]])
def test_fid_per_class_refuses_what_it_cannot_do_per_class(sets, option):
    option = [str(sets / "ref.h5") if o == "REF" else o for o in option]
    proc = run_cli("fid", sets / "gen.h5", sets / "ref.h5", "--per-class", *option)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and f"{option[0]}" in err and "--per-class" in err, err
    with pytest.raises(UsageError, match="does not combine with per_class=True"):
        gentools.fid(str(sets / "gen.h5"), str(sets / "ref.h5"), per_class=True, infinity=True)


def test_features_attributes_repr_and_stats_from_python(sets):
    with gentools.load(str(sets / "gen.h5")) as gen:
        assert gen.features.shape == (240, 32) and gen.logits.shape == (240, 10)
        assert gen.labels[:4] == ["0", "1", "2", "0"] and gen.ids[0] == "gen0" and gen.n == 240 and gen.dim == 32
        assert repr(gen) == (f"<gentools.Features {sets / 'gen.h5'}: n=240, dim=32, pixels:8; also ids, labels, "
                             f"logits, text_features>")
        mu, sigma = gen.features.astype(np.float64).mean(0), np.cov(gen.features, rowvar=False)
        with gentools.load(str(sets / "ref.h5")) as ref:
            expected = gentools.fid(gen, ref, force=True)["fid"]
            stats = gentools.Stats(mu, sigma, n=240)
            assert repr(stats) == "<gentools.Stats <stats>: n=240, dim=32, unknown backbone>"
            for other in (stats, (mu, sigma), {"mu": mu, "sigma": sigma}):
                assert gentools.fid(other, ref)["fid"] == pytest.approx(expected, rel=1e-9)
    assert gentools.load(np.zeros((3, 4))).logits is None


# --- the Evaluator ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crops(sets):
    """300 photo crops (uint8 NCHW), and ref.h5 / ref_stats.h5 / small.h5 (597 rows) of their pixels:8 features."""
    root = sets
    images = np.stack(photo_crops(300, 32, seed=3))
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    gentools.extract(images[:200], backbone="pixels:8", workers=0, output=str(root / "px_ref.h5"))
    gentools.stats(str(root / "px_ref.h5")).save(str(root / "px_stats.h5"))
    return root, batch[200:]


def _evaluator(root, metrics, **kwargs):
    return gentools.Evaluator(str(root / "px_ref.h5"), metrics=metrics, backbone="pixels:8", device="cpu", **kwargs)


def test_floats_in_0_1_warn_once_and_pixel_range_0_1_gives_the_same_fid(crops):
    root, batch = crops
    signed = (batch.float() - 127.5) / 127.5  # x * 127.5 + 128 = k + 0.5: mid-bin, each quantises back to k
    unit = (signed + 1) / 2
    as_signed = _evaluator(root, ["fid"])
    as_signed.update(signed)
    as_unit = _evaluator(root, ["fid"], pixel_range=(0, 1))
    as_unit.update(unit.numpy())  # numpy as well as torch
    as_uint8 = _evaluator(root, ["fid"])
    as_uint8.update(batch)
    fid = as_uint8.compute()["fid"]
    assert as_signed.compute()["fid"] == pytest.approx(fid, rel=1e-9, abs=0)
    assert as_unit.compute()["fid"] == pytest.approx(fid, rel=1e-9, abs=0)
    wrong = _evaluator(root, ["fid"])
    with pytest.warns(gentools.GentoolsWarning, match=r"looks like \[0, 1\].*pixel_range=\(0, 1\)") as caught:
        wrong.update(unit[:50])
        wrong.update(unit[50:])
    assert len([w for w in caught if "pixel_range" in str(w.message)]) == 1
    assert wrong.compute()["fid"] > 2 * fid  # the silently wrong number the warning is about


@pytest.mark.parametrize("metrics,reference,match", [
    ({"kid": {"subset-size": 50}}, "px_ref.h5", r"unknown option 'subset-size' \(did you mean subset_size\?\)"),
    ({"prdc": {"nearest_k": 3}}, "px_ref.h5", "unknown option 'nearest_k'; expected some of k, preset, chunk_mb"),
    ({"kid": {"subsets": 1.5}}, "px_ref.h5", r"subsets=1.5 is not an integer"),
    (["is"], "px_ref.h5", "is needs 'logits', which the backbone pixels:8 does not produce"),
    (["kid"], "px_stats.h5", "kid needs the reference's per-row features, and .* holds stats"),
    ({"kid": {}}, "px_ref.h5", r"subset_size=1000 is larger than the reference's 200 rows.*use subset_size=200"),
    ({"prdc": {"k": 200}}, "px_ref.h5", r"k=200 needs more than 200 reference rows"),
    (["fid", "fidd"], "px_ref.h5", "unknown metric 'fidd'; expected some of fid, kid"),
    (["kde"], "px_ref.h5", "kde is not computed in training"),
    ({"fid": {"per_class": True}}, "px_ref.h5", "per_class=True needs labels in the reference"),
])
def test_evaluator_refuses_at_construction_in_one_line(crops, metrics, reference, match):
    root, _ = crops
    with pytest.raises(gentools.GentoolsError, match=match) as caught:
        gentools.Evaluator(str(root / reference), metrics=metrics, backbone="pixels:8", device="cpu")
    assert "\n" not in str(caught.value)


def test_a_metric_name_alone_and_a_failing_metric_keeps_the_others(crops, tmp_path):
    root, batch = crops
    assert set(_evaluator(root, "fid").metrics) == {"fid"}  # a string is one metric, not its letters
    ev = _evaluator(root, {"fid": {}, "kid": {"subset_size": 60}, "prdc": {"k": 3}})
    ev.update(batch[:50])  # kid needs 60 generated rows
    with pytest.raises(gentools.GentoolsError, match=r"^kid: subset_size=60 is larger") as caught:
        ev.compute()
    assert set(caught.value.partial) == {"fid", "precision", "recall", "density", "coverage", "f_score"}
    assert caught.value.partial["fid"] == gentools.fid(_rows(ev), str(root / "px_ref.h5"))["fid"]
    with pytest.raises(gentools.GentoolsError):
        ev.log(tmp_path / "run.jsonl", step=3)
    record = json.loads((tmp_path / "run.jsonl").read_text())
    assert record["values"]["fid"] == caught.value.partial["fid"] and "kid" in record["params"]["failed"]


def _rows(ev):
    return np.concatenate(ev._rows["features"])


# --- no side effects on the caller's process -------------------------------------------------------------------

PYPLOT = """
import sys, matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
import gentools
fig = plt.figure()
plt.plot([1, 2], [3, 4])
gentools.log(sys.argv[1] + "/run.jsonl", step=1, loss=0.5)
gentools.log(sys.argv[1] + "/run.jsonl", step=2, loss=0.25)
gentools.report([sys.argv[1] + "/run.jsonl"], output=sys.argv[1] + "/trend.png")
gentools.nn_grid(sys.argv[2], sys.argv[2], output=sys.argv[1] + "/grid.png", queries=2, k=2)
gentools.kde(sys.argv[2], sys.argv[2], sys.argv[2], sigma=[1.0], plot=sys.argv[1] + "/kde.png")
print(matplotlib.get_backend(), plt.fignum_exists(fig.number), len(plt.get_fignums()))
"""


def test_report_nn_grid_and_kde_leave_the_callers_figure_and_backend(tmp_path, image_folder):
    gentools.extract(str(image_folder), backbone="pixels:8", workers=0, thumbnails=8, output=str(tmp_path / "t.h5"))
    (tmp_path / "p.py").write_text(PYPLOT)
    proc = subprocess.run([sys.executable, str(tmp_path / "p.py"), str(tmp_path), str(tmp_path / "t.h5")],
                          capture_output=True, env=cli_env(PYTHONPATH=str(ROOT), MPLBACKEND=""), timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout.decode().split() == ["svg", "True", "1"]
    for name in ("trend.png", "grid.png", "kde.png"):
        with Image.open(tmp_path / name) as png:
            assert png.size[0] > 50


def test_extract_from_a_worker_thread_writes_the_same_file(tmp_path, image_folder):
    gentools.extract(str(image_folder), backbone="pixels:8", output=str(tmp_path / "main.h5"))
    errors = []

    def work():
        try:
            gentools.extract(str(image_folder), backbone="pixels:8", output=str(tmp_path / "thread.h5"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(120)
    assert not errors and not thread.is_alive()
    with gentools.load(str(tmp_path / "main.h5")) as a, gentools.load(str(tmp_path / "thread.h5")) as b:
        np.testing.assert_array_equal(a.features, b.features)
        assert a.ids == b.ids
        assert {k: v for k, v in a.provenance.items() if k != "created"} == \
            {k: v for k, v in b.provenance.items() if k != "created"}  # the same but for the time it was written


CALLER_GROUP = """
import sys, torch, torch.distributed as dist, gentools
dist.init_process_group("gloo")
out = gentools.extract(sys.argv[1], backbone="pixels:8", workers=0, output=sys.argv[2])
assert dist.is_initialized(), "gentools.extract destroyed the caller's process group"
total = torch.tensor([dist.get_rank() + 1.0])
dist.all_reduce(total)  # the group still works
if dist.get_rank() == 0:
    open(sys.argv[3], "w").write(f"{float(total)} {out.n}")
else:
    assert out is None
dist.destroy_process_group()
"""


def test_extract_under_torchrun_leaves_the_callers_gloo_group_initialised(tmp_path, image_folder):
    (tmp_path / "worker.py").write_text(CALLER_GROUP)
    env = cli_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", str(tmp_path / "worker.py"),
                           str(image_folder), str(tmp_path / "two.h5"), str(tmp_path / "out.txt")],
                          env=env, capture_output=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert (tmp_path / "out.txt").read_text() == "3.0 24"
    one = gentools.extract(str(image_folder), backbone="pixels:8", workers=0)
    with gentools.load(str(tmp_path / "two.h5")) as two:
        np.testing.assert_array_equal(two.features, one.features)
        assert two.ids == one.ids


def test_extract_of_a_uint8_array_equals_its_pngs_bit_for_bit(tmp_path, inception_weights):
    images = np.stack(photo_crops(6, (40, 36), seed=9))
    (tmp_path / "png").mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / "png" / f"{i}.png")
    options = dict(weights=str(inception_weights), device="cpu", workers=0, batch_size=4)
    from_png = gentools.extract(str(tmp_path / "png"), **options)
    for given in (images, torch.from_numpy(images).permute(0, 3, 1, 2), [Image.fromarray(i) for i in images]):
        from_memory = gentools.extract(given, **options)
        np.testing.assert_array_equal(from_memory.features, from_png.features)
        np.testing.assert_array_equal(from_memory.logits, from_png.logits)
        assert from_memory.ids == [f"array[{i}]" for i in range(6)]
    with pytest.raises(gentools.GentoolsError, match="images must be uint8, these are float32"):
        gentools.extract(images.astype(np.float32) / 255)


def test_help_of_extract_and_evaluator_documents_every_parameter_and_metric():
    import re

    doc = gentools.extract.__doc__
    missing = [p for p in inspect.signature(gentools.extract).parameters if not re.search(rf"\b{p}\b", doc)]
    assert not missing, missing
    for name, metric in registry.metrics().items():
        if metric.evaluator:
            assert f"``{name}``" in gentools.Evaluator.__doc__
