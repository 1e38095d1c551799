"""The layers of STYLE.md hold (import-linter contracts in pyproject.toml), and the check can fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": str(LINT.parent)}, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is in the test extra")
def test_contracts_kept_and_broken_by_a_features_module_importing_the_cli(tmp_path):
    assert _lint(ROOT).returncode == 0
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "gentools", copy / "gentools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    pipeline = copy / "gentools" / "features" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\nfrom gentools.cli import _console  # noqa\n")
    proc = _lint(copy)
    assert proc.returncode == 1, proc.stdout
    assert "The library never imports the CLI BROKEN" in proc.stdout
    assert "gentools.features.pipeline -> gentools.cli" in proc.stdout


def _import_cycles(root: Path) -> list:
    """``[a, b]`` for each import of module b by module a of ``root``'s gentools where b also reaches a: an import
    cycle, lazy imports (inside functions) included. grimp builds the graph import-linter checks."""
    code = ("import grimp, json; g = grimp.build_graph('gentools'); print(json.dumps(sorted([a, b] for a in g.modules "
            "for b in g.find_modules_directly_imported_by(a) if g.find_shortest_chain(b, a))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env={"PYTHONPATH": str(root)}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(not LINT.exists(), reason="grimp comes with import-linter, in the test extra")
def test_no_import_cycle_inside_gentools(tmp_path):
    """Issue 34: the store's circle (read <-> hdf5_input, read <-> torch_cache) hid behind lazy imports and a
    callback; a layers contract cannot see a circle inside one package."""
    assert _import_cycles(ROOT) == []
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "gentools", copy / "gentools", ignore=shutil.ignore_patterns("__pycache__"))
    formats = copy / "gentools" / "store" / "formats.py"
    formats.write_text(formats.read_text() + "\n\ndef _late():\n    from gentools.store import read  # noqa\n")
    assert ["gentools.store.formats", "gentools.store.read"] in _import_cycles(copy)


def test_import_gentools_loads_no_torch_numpy_or_h5py():
    code = "import gentools, sys; print(sorted(m for m in ('torch', 'numpy', 'h5py') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_backbone_registry_lists_every_backbone_and_its_resize_modes():
    from gentools.features import resize
    from gentools.features.backbones import REGISTRY, names_help

    assert REGISTRY["inception"].resizes == tuple(resize.MODES)
    from gentools import kinds

    assert set(REGISTRY) >= {
        "inception", "dinov2", "clip", "nvidia", "tv", "pt2", "ts", "pixels", "vggish", "hf", "encodec", "i3d", "i3d400",
        "videomae", "panns", "clap", "hf-text"
    }
    assert all(name in names_help() for name in REGISTRY)
    assert {entry.modality for entry in REGISTRY.values()} == set(kinds.KINDS)  # every kind has a backbone
