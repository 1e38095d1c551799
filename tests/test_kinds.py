"""Input kinds: a fourth kind is one module and its registration line. A toy kind (each input a ``.npy`` of
rows ``[k, D]``, one feature row per input) runs through ``extract``, ``fid`` and ``Evaluator.update`` with no
edit to gentools."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import cli_values, run_cli


def _toy_kind():
    import torch

    from gentools.errors import InputError
    from gentools.features.pipeline import Rows
    from gentools.kinds.base import InputKind, Job

    class Rows_(InputKind):
        name = "toy-rows"
        noun = "row files"
        guarded_keys = ("toy_scale",)

        def list(self, request):
            from gentools.features.images import list_inputs

            items, source = list_inputs(request.inputs, accept=lambda name: name.endswith(".npy"), what="row")
            if not items:
                raise InputError(f"{source}: no .npy row files found")
            return items, source

        def job(self, items, chosen, net, request, settings):
            items = [items[i] for i in chosen]

            def make_batches(positions):
                for first in range(0, len(positions), request.batch_size):
                    here = positions[first:first + request.batch_size]
                    rows = [net.run(torch.from_numpy(np.load(items[p].path)))["features"] for p in here]
                    yield Rows([items[p].id for p in here], {"features": np.stack(rows)}, positions=list(here))

            return Job([item.id for item in items], make_batches)

        def provenance(self, request, parity):
            return {"toy_scale": 1}

        def adapter(self, net, parity, pixel_range, frames, subsample):
            class Batches:
                noun = "row sets"

                def rows(self, batch, sample_rate, start):
                    ids = [f"rows:{start + i}" for i in range(len(batch))]
                    features = [net.run(torch.as_tensor(np.asarray(b)))["features"] for b in batch]
                    return Rows(ids, {"features": np.stack(features)} if features else {},
                                positions=list(range(len(batch))), inputs=len(batch))

            return Batches()

    return Rows_()


def _toy_backbone(spec, weights, resize, spatial, device):
    import torch

    from gentools.features.backbones.base import Backbone

    torch.manual_seed(0)
    projection = torch.randn(4, 6, dtype=torch.float64)

    def run(rows):  # [k, 4] -> one feature row [6]: the mean of tanh(rows @ P)
        return {"features": torch.tanh(rows.double() @ projection).mean(0).float().numpy()}

    return Backbone("toyrows", "mean", 0, "none", "none", "toy", run, modality="toy-rows")


@pytest.fixture()
def toy_kind():
    from gentools import kinds
    from gentools.features import backbones

    kinds.register(_toy_kind())
    backbones.register("toyrows", "toyrows (a test's toy kind)", (), _toy_backbone, modality="toy-rows")
    yield
    del kinds.KINDS["toy-rows"], backbones.REGISTRY["toyrows"]


def _row_files(folder, count: int, shift: float, seed: int) -> list:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(shift, 1.0, (rng.integers(2, 6), 4)) for _ in range(count)]
    for i, array in enumerate(arrays):
        np.save(folder / f"{i:03d}.npy", array)
    return arrays


def test_a_toy_kind_runs_extract_fid_and_the_evaluator(tmp_path, toy_kind):
    import gentools
    from gentools.metrics.frechet import frechet_distance

    gen = _row_files(tmp_path / "gen", 40, 0.0, 1)
    ref = _row_files(tmp_path / "ref", 50, 0.5, 2)
    for name in ("gen", "ref"):
        run_cli("extract", tmp_path / name, "-b", "toyrows", "-o", tmp_path / f"{name}.h5", "-q", check=0)
    f = gentools.load(tmp_path / "gen.h5").loaded("gen")
    assert f.n == 40 and list(f.ids[:2]) == ["000.npy", "001.npy"]
    assert f.provenance["modality"] == "toy-rows" and f.provenance["toy_scale"] == 1
    stored = np.asarray(f.features)
    own = np.stack([_toy_backbone("", None, None, False, None).run(
        __import__("torch").from_numpy(a))["features"] for a in gen])
    np.testing.assert_array_equal(stored, own)  # the rows are the toy network's, in input order

    fid = cli_values("fid", tmp_path / "gen.h5", tmp_path / "ref.h5")["fid"]
    ref_rows = np.stack([_toy_backbone("", None, None, False, None).run(
        __import__("torch").from_numpy(a))["features"] for a in ref])
    expected = frechet_distance(*_mean_cov(own), *_mean_cov(ref_rows))
    assert fid == pytest.approx(expected, rel=1e-5) and fid > 0.1

    evaluator = gentools.Evaluator(tmp_path / "ref.h5", metrics=["fid"], backbone="toyrows")
    evaluator.update(gen[:25])
    evaluator.update(gen[25:])
    assert evaluator.n == 40
    assert evaluator.compute()["fid"] == pytest.approx(fid, rel=1e-6)


def test_a_kinds_guarded_key_is_checked_between_files(tmp_path, toy_kind):
    """The toy kind's own provenance key is guarded by the metric commands, with no edit to the guard."""
    from gentools import store

    _row_files(tmp_path / "gen", 12, 0.0, 1)
    run_cli("extract", tmp_path / "gen", "-b", "toyrows", "-o", tmp_path / "gen.h5", "-q", check=0)
    with store.open_input(str(tmp_path / "gen.h5")) as f:
        rows, provenance = np.asarray(f.features), dict(f.provenance)
    store.write_features(str(tmp_path / "other.h5"), {"features": rows}, dict(provenance, toy_scale=2))
    proc = run_cli("kid", tmp_path / "gen.h5", tmp_path / "other.h5", "--subset-size", "5", "-q")
    assert proc.returncode == 1 and b"toy_scale" in proc.stderr, proc.stderr


def test_an_unregistered_modality_is_one_usage_line(toy_kind):
    from gentools import kinds
    from gentools.errors import UsageError

    with pytest.raises(UsageError, match="no input kind takes 'sculpture'"):
        kinds.named("sculpture")


def _mean_cov(rows):
    rows = rows.astype(np.float64)
    return rows.mean(0), np.cov(rows, rowvar=False)
