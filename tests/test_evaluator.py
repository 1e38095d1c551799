"""gentools.Evaluator and gentools.log: evaluation inside a training loop equals extract + the metric commands."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gentools
from tests.conftest import BIN, cli_env, parse_tsv, photo_crops, run_cli

METRICS = {"fid": {}, "kid": {"subsets": 20, "subset_size": 100}, "prdc": {"k": 3}}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """300 generated-like and 300 reference photo crops (32x32 PNGs), their pixels:8 features files gen.h5 and
    ref.h5, and the crops as uint8 batches."""
    root = tmp_path_factory.mktemp("evaluator")
    batches = {}
    for name, seed in (("gen", 1), ("ref", 2)):
        (root / name).mkdir()
        crops = photo_crops(300, 32, seed=seed)
        for i, crop in enumerate(crops):
            Image.fromarray(crop).save(root / name / f"{i:03d}.png")
        batches[name] = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        run_cli("extract", root / name, "-b", "pixels:8", "--workers", "0", "-o", root / f"{name}.h5", "-q", check=0)
    return root, batches


def _cli_values(root, *flags) -> dict:
    values = {}
    for command, extra in (("fid", []), ("kid", ["--subsets", "20", "--subset-size", "100"]), ("prdc", ["--k", "3"])):
        out = run_cli(command, root / "gen.h5", root / "ref.h5", *extra, *flags, "-q", check=0).stdout
        values.update({k: float(v) for k, v in parse_tsv(out).items()})
    return values


def test_evaluator_in_batches_of_37_equals_extract_and_the_commands(folders):
    root, batches = folders
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics=METRICS, backbone="pixels:8", device="cpu")
    for start in range(0, 300, 37):
        ev.update(batches["gen"][start:start + 37])
    ours, printed = ev.compute(), _cli_values(root)
    assert set(ours) == set(printed)
    for key in printed:
        assert ours[key] == pytest.approx(printed[key], rel=1e-9, abs=1e-12), key
    with gentools.load(str(root / "gen.h5")) as written:  # float input quantised as extract --generator does
        ev2 = gentools.Evaluator(str(root / "ref.h5"), metrics={"prdc": {}}, backbone="pixels:8", device="cpu")
        ev2.update(batches["gen"].float() / 127.5 - 128 / 127.5 + 0.5 / 127.5)
        np.testing.assert_array_equal(np.concatenate(ev2._rows["features"]), written.array())


def test_evaluator_features_equal_extract_inception_bit_for_bit(image_folder, inception_weights, tmp_path):
    out, folder = tmp_path / "f.h5", image_folder / "sub"
    # the batches the Evaluator is given below: one thread's kernels are chosen per batch shape
    run_cli("extract", folder, "--weights", inception_weights, "--workers", "0", "--batch-size", "3", "-o", out,
            "-q", check=0)
    with gentools.load(str(out)) as written:
        ids, features = written.ids, written.array()
        ev = gentools.Evaluator(written, metrics={"kid": {"subset_size": 2}}, weights=str(inception_weights),
                                device="cpu")
    images = np.stack([np.asarray(Image.open(folder / i).convert("RGB")) for i in ids])
    batch = torch.from_numpy(images).permute(0, 3, 1, 2)
    ev.update(batch[:3])
    ev.update(batch[3:])
    np.testing.assert_array_equal(np.concatenate(ev._rows["features"]), features)


def test_fid_only_keeps_streaming_stats_not_rows(folders):
    """FID keeps the rows only while they are fewer than the dimensions (the O(n²d) route), then only stats."""
    root, batches = folders
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics=["fid"], backbone="pixels:8", device="cpu")  # d = 192
    ev.update(batches["gen"][:100])
    assert sum(map(len, ev._rows["features"])) == 100 and ev._stats.n == 100
    few = ev.compute()["fid"]
    with gentools.load(str(root / "ref.h5")) as ref:
        assert few == pytest.approx(gentools.fid(batches_features(ev), ref)["fid"], rel=1e-12)
    ev.update(batches["gen"][100:200])
    assert ev._rows == {} and ev._stats.n == 200 and ev.n == 200
    ev.reset()
    assert ev.n == 0
    with pytest.raises(gentools.GentoolsError, match="no samples"):
        ev.compute()


def batches_features(ev) -> np.ndarray:
    return np.concatenate(ev._rows["features"])


@pytest.mark.parametrize("bad,message", [
    (torch.zeros(4, 32, 32, dtype=torch.uint8), "shape"),
    (torch.zeros(4, 4, 32, 32, dtype=torch.uint8), "shape"),
    (torch.full((4, 3, 32, 32), 1.5), r"\[-1, 1\]"),
    (torch.full((4, 3, 32, 32), float("nan")), "NaN or Inf"),
    (torch.full((4, 3, 32, 32), float("inf")), "NaN or Inf"),
])
def test_bad_update_is_one_line_and_keeps_the_state(folders, bad, message):
    root, batches = folders
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics=["fid", "prdc"], backbone="pixels:8", device="cpu")
    ev.update(batches["gen"][:50])
    before = ev.compute()
    with pytest.raises(gentools.GentoolsError, match=message) as caught:
        ev.update(bad)
    assert "\n" not in str(caught.value)
    assert ev.n == 50 and ev.compute() == before


def test_empty_batch_adds_nothing_and_label_count_must_match(folders):
    """A rank whose share is empty calls update() with [0, 3, H, W]: uint8 or float, it changes nothing."""
    root, batches = folders
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics=["fid", "prdc"], backbone="pixels:8", device="cpu")
    ev.update(batches["gen"][:50])
    before = ev.compute()
    ev.update(batches["gen"][:0])
    ev.update(torch.zeros(0, 3, 32, 32))
    assert ev.n == 50 and ev.compute() == before
    with pytest.raises(gentools.GentoolsError, match="3 labels for 4 images"):
        ev.update(batches["gen"][:4], labels=[0, 1, 2])
    assert ev.n == 50


def test_provenance_guard_between_network_and_reference(folders):
    root, _ = folders
    with pytest.raises(gentools.GentoolsError, match="differ in backbone"):
        gentools.Evaluator(str(root / "ref.h5"), metrics=["fid"], backbone="pixels:4", device="cpu")
    with pytest.warns(gentools.GentoolsWarning, match="differ in backbone"):
        gentools.Evaluator(str(root / "ref.h5"), metrics=["fid"], backbone="pixels:4", device="cpu", force=True)


def test_log_lines_are_drawn_by_report_one_panel_per_value(folders, tmp_path):
    root, batches = folders
    log = tmp_path / "run.jsonl"
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics=["fid"], backbone="pixels:8", device="cpu")
    for step in (100, 200):
        gentools.log(log, step=step - 50, loss=1.0 / step, grad_norm=torch.tensor(3.0 + step))
        ev.reset()
        ev.update(batches["gen"][: step])
        values = ev.log(log, step=step, loss=0.5 / step, grad_norm=2.0)
        assert set(values) == {"fid", "loss", "grad_norm"}
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["tags"]["step"] for r in records] == [50, 100, 150, 200]
    assert records[0]["command"] == "log" and records[0]["values"] == {"loss": 0.01, "grad_norm": 103.0}
    assert records[1]["command"] == "evaluate" and records[1]["inputs"][0]["path"].endswith("ref.h5")
    out = run_cli("report", log, "-o", tmp_path / "trend.png", check=0).stdout.decode().splitlines()
    assert out[0].split("\t") == ["step", "fid", "grad_norm", "loss"]  # one column per scalar, the metric first
    rows = [line.split("\t") for line in out[1:5]]
    assert [r[0] for r in rows] == ["50", "100", "150", "200"]  # steps as logged, not 50.0
    assert [r[3] for r in rows] == [repr(1 / 100), repr(0.5 / 100), repr(1 / 200), repr(0.5 / 200)]  # log + evaluate
    with Image.open(tmp_path / "trend.png") as png:
        assert png.size[0] > png.size[1]  # panels side by side


DISTRIBUTED = """
import json, os, sys, numpy as np, torch, torch.distributed as dist, gentools
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
images = torch.from_numpy(np.load(sys.argv[1]))
ev = gentools.Evaluator(sys.argv[2], metrics={"fid": {}, "prdc": {"k": 3}}, backbone="pixels:8", device="cpu")
share = images[rank::world]  # uneven shares when len % world != 0
for start in range(0, len(share), 37):
    ev.update(share[start:start + 37])
values = ev.compute()
if rank == 0:
    open(sys.argv[3], "w").write(json.dumps(values))
dist.destroy_process_group()
"""


def test_two_gloo_ranks_equal_one_process(folders, tmp_path):
    root, batches = folders
    images = batches["gen"][:299]  # 150 + 149 rows
    np.save(tmp_path / "images.npy", images.numpy())
    (tmp_path / "worker.py").write_text(DISTRIBUTED)
    env = cli_env(PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
    proc = subprocess.run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", str(tmp_path / "worker.py"),
                           str(tmp_path / "images.npy"), str(root / "ref.h5"), str(tmp_path / "out.json")],
                          env=env, capture_output=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    distributed = json.loads((tmp_path / "out.json").read_text())
    ev = gentools.Evaluator(str(root / "ref.h5"), metrics={"fid": {}, "prdc": {"k": 3}}, backbone="pixels:8",
                            device="cpu")
    for start in range(0, len(images), 37):  # one process over all images, in their own order
        ev.update(images[start:start + 37])
    single = ev.compute()
    for key, value in single.items():
        assert distributed[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert os.path.getsize(tmp_path / "out.json") > 0
