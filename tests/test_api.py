"""The public Python API: each function gives exactly the values its command prints, from paths and arrays."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import gentools
from tests.conftest import parse_tsv, run_cli, tiny_generator

PYTHON_API = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def _printed(*argv) -> dict:
    values = {}
    for key, text in parse_tsv(run_cli(*argv, "-q", check=0).stdout).items():
        values[key] = {"true": True, "false": False}.get(text, None)
        if values[key] is None:
            values[key] = float(text)
    return values


@pytest.fixture()
def sets(tmp_path, gaussian_pair):
    gen, ref = gaussian_pair
    test = np.random.RandomState(3).randn(200, gen.shape[1]).astype(np.float32)
    for name, value in (("gen", gen), ("ref", ref), ("test", test), ("logits", gen[:, :10] * 3)):
        np.save(tmp_path / f"{name}.npy", value)
    return tmp_path, gen, ref, test


CASES = [
    ("fid", ("gen", "ref"), {}, []),
    ("fid", ("gen", "ref"), {"preset": "stylegan"}, ["--preset", "stylegan"]),
    ("kid", ("gen", "ref"), {"subsets": 20, "subset_size": 100}, ["--subsets", "20", "--subset-size", "100"]),
    ("prdc", ("gen", "ref"), {"k": 3}, ["--k", "3"]),
    ("is", ("logits",), {"splits": 4}, ["--splits", "4"]),
    ("twosample", ("gen", "ref"), {"permutations": 50, "max_samples": 150},
     ["--permutations", "50", "--max-samples", "150"]),
    ("kde", ("gen", "ref", "test"), {"sigmas": [0.5, 1.0, 2.0]}, ["--sigma", "0.5", "--sigma", "1", "--sigma", "2"]),
    ("cmmd", ("gen", "ref"), {}, []),
]


@pytest.mark.parametrize("command,names,kwargs,flags", CASES, ids=[f"{c[0]}{'-' + c[3][1] if c[3] else ''}"
                                                                      for c in CASES])
def test_api_equals_the_printed_values(sets, command, names, kwargs, flags):
    root, *_ = sets
    paths = [root / f"{n}.npy" for n in names]
    if command == "kde":
        printed = _printed("kde", paths[0], "--valid", paths[1], "--test", paths[2], *flags)
    else:
        printed = _printed(command, *paths, *flags)
    function = gentools.inception_score if command == "is" else getattr(gentools, command)
    from_paths = function(*map(str, paths), **kwargs)
    from_arrays = function(*[np.load(p) for p in paths], **kwargs)
    assert dict(from_paths) == printed
    assert dict(from_arrays) == printed
    assert isinstance(from_paths, dict) and from_paths.inputs and "path" in from_paths.inputs[0]


def test_api_takes_torch_tensors_and_loaded_objects(sets):
    import torch

    root, gen, ref, _ = sets
    loaded = gentools.load(str(root / "ref.npy"))
    assert isinstance(loaded, gentools.Features) and loaded.kind == "features" and loaded.n == len(ref)
    assert gentools.fid(torch.from_numpy(gen), loaded) == _printed("fid", root / "gen.npy", root / "ref.npy")
    stats = gentools.stats(loaded)
    assert isinstance(stats, gentools.Stats) and stats.kind == "stats" and stats.n == len(ref)
    saved = stats.save(str(root / "ref_stats.h5"))
    assert gentools.fid(gen, saved)["fid"] == pytest.approx(gentools.fid(gen, ref)["fid"], rel=1e-12)


def test_api_errors_are_gentools_errors_and_warnings_go_through_warnings(sets):
    root, gen, _, _ = sets
    with pytest.raises(gentools.GentoolsError, match="feature dimensions differ"):
        gentools.fid(gen, gen[:, :5])
    with pytest.warns(gentools.GentoolsWarning, match="no provenance"):
        gentools.kid(gen, gen, subsets=2, subset_size=50)


def test_extract_api_equals_the_command_bit_for_bit(tmp_path, image_folder, inception_weights):
    out = tmp_path / "cli.h5"
    run_cli("extract", image_folder / "sub", "--weights", inception_weights, "--workers", "0", "-o", out, "-q",
            check=0)
    features = gentools.extract(str(image_folder / "sub"), weights=str(inception_weights), workers=0)
    with gentools.load(str(out)) as written:
        for name in ("features", "logits"):
            np.testing.assert_array_equal(features.array(name), written.array(name))
        assert features.ids == written.ids
        assert {k: v for k, v in features.provenance.items() if k not in ("created", "argv")} == \
               {k: v for k, v in written.provenance.items() if k not in ("created", "argv")}


def test_readme_python_api_example_runs(tmp_path, image_folder, inception_weights, monkeypatch):
    """docs/python-api.md's first block, run as written in a folder holding samples/, ref.h5 and the weights."""
    import shutil

    block = re.search(r"# Python API.*?```python\n(.*?)```", PYTHON_API.read_text(), re.S).group(1)
    shutil.copytree(image_folder, tmp_path / "samples")
    shutil.copy(inception_weights, tmp_path / "inception.pth")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENTOOLS_WEIGHTS", str(inception_weights))
    run_cli("extract", tmp_path / "samples", "-o", tmp_path / "ref.h5", "--workers", "0", "-q", check=0)
    namespace: dict = {}
    exec(compile(block, "docs/python-api.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["result"]["fid"] == pytest.approx(0.0, abs=1e-3)


def test_interp_latents_are_extract_generator_latents(tmp_path):
    """One latent scheme: interp's seeded pair i is sample i of `extract --generator` with the same --seed."""
    from gentools import store
    from gentools.features import generators

    tiny_generator(tmp_path / "g.pt", latent_dim=5, size=4)
    result = gentools.interp(str(tmp_path / "g.pt"), save_latents=str(tmp_path / "z.h5"), pairs=3, steps=2, seed=11,
                             device="cpu")
    z, names = store.read_latents(result["latents"])
    np.testing.assert_array_equal(z, generators.latents(11, range(6), 5))
    assert names == [str(i) for i in range(6)]
