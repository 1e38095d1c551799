"""Model files: .pt2 exported programs for generators and backbones, legacy TorchScript, hostile archives."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import numpy as np
import pytest
import torch

import gentools
from tests.conftest import cli_env, export_module, parse_tsv, run_cli, script_module, tiny_generator

SAMPLES = ("--num-samples", "12", "--seed", "5", "--batch-size", "5")


def _features(path):
    with gentools.load(str(path)) as f:
        return f.array(), dict(f.provenance)


def _module_run(*args, env=None, check=0):
    """``python -W error::FutureWarning -m gentools ARGS``: any torch deprecation warning fails the run."""
    import subprocess

    proc = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-m", "gentools", *map(str, args)],
                          env=env or cli_env(), capture_output=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == check, proc.stderr.decode()
    return proc


def test_pt2_generator_equals_the_same_module_scripted(tmp_path):
    tiny_generator(tmp_path / "g.pt2", latent_dim=5, size=8, seed=3)
    tiny_generator(tmp_path / "g.pt", latent_dim=5, size=8, seed=3, scripted=True)
    exported = _module_run("extract", "--generator", tmp_path / "g.pt2", *SAMPLES, "-b", "pixels",
                           "-o", tmp_path / "e.h5")  # latent_dim from the exported input shape [B, 5]
    assert exported.stderr == b""
    scripted = run_cli("extract", "--generator", tmp_path / "g.pt", *SAMPLES, "-b", "pixels", "-o", tmp_path / "s.h5",
                       check=0)
    err = scripted.stderr.decode()
    assert err.count("\n") == 1 and "TorchScript is deprecated" in err and ".pt2" in err  # one notice
    assert "FutureWarning" not in err
    ours, provenance = _features(tmp_path / "e.h5")
    theirs, _ = _features(tmp_path / "s.h5")
    assert ours.shape == (12, 8 * 8 * 3) and ours.std() > 0.05
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert provenance["latent_dim"] == 5


class _Net(torch.nn.Module):
    """A small feature network with logits, at a fixed 16x16 input."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 4)
        self.input_size = 16

    def forward(self, x):
        pooled = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return pooled, self.fc(pooled)


def test_pt2_backbone_equals_the_same_module_scripted(tmp_path, image_folder):
    net = _Net().eval()
    export_module(net, torch.zeros(2, 3, 16, 16), tmp_path / "net.pt2")  # static 16x16: gentools resizes to it
    script_module(net, tmp_path / "net.pt")
    _module_run("extract", image_folder, "-b", f"pt2:{tmp_path / 'net.pt2'}", "--workers", "0", "-q",
                "-o", tmp_path / "e.h5")
    run_cli("extract", image_folder, "-b", f"ts:{tmp_path / 'net.pt'}", "--workers", "0", "-q",
            "-o", tmp_path / "s.h5", check=0)
    ours, provenance = _features(tmp_path / "e.h5")
    theirs, _ = _features(tmp_path / "s.h5")
    assert ours.shape == (len(list(image_folder.rglob("*.png"))), 8) and ours.std() > 1e-3
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert provenance["backbone"] == "pt2:net.pt2" and provenance["input_size"] == 16
    assert provenance["runtime"] == "pt2"
    # ts: takes a .pt2 too (told apart by content), and the logits feed `is`
    run_cli("extract", image_folder, "-b", f"ts:{tmp_path / 'net.pt2'}", "--workers", "0", "-q",
            "-o", tmp_path / "t.h5", check=0)
    np.testing.assert_array_equal(_features(tmp_path / "t.h5")[0], ours)
    assert float(parse_tsv(run_cli("is", tmp_path / "e.h5", check=0).stdout)["is_mean"]) >= 1.0


def test_exported_with_a_fixed_batch_is_refused(tmp_path):
    gen = tiny_generator(tmp_path / "ok.pt2")
    torch.export.save(torch.export.export(gen, (torch.zeros(2, 6),)), str(tmp_path / "fixed.pt2"))
    err = run_cli("extract", "--generator", tmp_path / "fixed.pt2", "--num-samples", "4", "-b", "pixels",
                  "-o", tmp_path / "x.h5", check=1).stderr.decode()
    assert err.count("\n") == 1 and "fixed batch size (2)" in err and "Dim('batch')" in err
    assert not (tmp_path / "x.h5").exists()


class _Marker:
    """A pickle that would create a file when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _rewrite(source, target, change):
    """Copy the zip ``source`` to ``target``, passing each (name, bytes) through ``change`` (None drops it)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for name in src.namelist():
            data = change(name, src.read(name))
            if data is not None:
                out.writestr(name, data)


@pytest.mark.parametrize("attack", ["pickled-weight", "sample-inputs", "aoti", "escape"])
def test_hostile_pt2_is_refused_before_torch_reads_it(tmp_path, attack):
    tiny_generator(tmp_path / "g.pt2")
    marker = tmp_path / "unpickled"
    evil = tmp_path / "evil.pt2"

    def change(name, data):
        if attack == "pickled-weight" and name.endswith("model_weights_config.json"):
            config = json.loads(data)
            for entry in config["config"].values():
                entry["use_pickle"] = True
            return json.dumps(config).encode()
        if attack == "sample-inputs" and "/data/sample_inputs/" in name:
            buffer = io.BytesIO()
            torch.save(_Marker(str(marker)), buffer)
            return buffer.getvalue()
        return data

    _rewrite(tmp_path / "g.pt2", evil, change)
    if attack == "aoti":
        with zipfile.ZipFile(evil, "a") as archive:
            archive.writestr("g/data/aotinductor/model/model.so", b"\x7fELF")
    if attack == "escape":
        with zipfile.ZipFile(evil, "a") as archive:
            archive.writestr("g/../../outside.json", b"{}")
    env = cli_env(PYTHONPATH=str(tmp_path.parent))
    err = run_cli("extract", "--generator", evil, "--num-samples", "4", "-b", "pixels", "-o", tmp_path / "x.h5",
                  env=env, check=1).stderr.decode()
    assert err.count("\n") == 1 and str(evil) in err and "plain tensors only" in err, err
    assert not marker.exists() and not (tmp_path / "x.h5").exists()


def _opaque_constant(marker):
    """The payload of issue 33: a constant whose config names ``opaque_obj_0`` (torch ``pickle.loads`` it) and
    whose member is stored as ``OPAQUE_OBJ_0``, which torch's case-blind reader finds all the same."""
    import pickle

    def change(name, data):
        if name.endswith("model_constants_config.json"):
            meta = {"dtype": 1, "sizes": [], "requires_grad": False, "device": {"type": "cpu", "index": None},
                    "strides": [], "storage_offset": {"as_int": 0}, "layout": 7}  # uint8: any length passes
            return json.dumps({"config": {"evil": {"path_name": "opaque_obj_0", "is_param": False,
                                                   "use_pickle": False, "tensor_meta": meta}}}).encode()
        return data
    return change, ("g/data/constants/OPAQUE_OBJ_0", pickle.dumps(_Marker(str(marker))))


@pytest.mark.parametrize("attack", ["opaque-constant", "sample-inputs-upper-case"])
def test_case_blind_pt2_payloads_do_not_run(tmp_path, attack):
    """torch's zip reader looks names up ignoring case (miniz); what it unpickles is decided by the configs."""
    tiny_generator(tmp_path / "g.pt2")
    marker, evil = tmp_path / "unpickled", tmp_path / "evil.pt2"
    if attack == "opaque-constant":
        change, extra = _opaque_constant(marker)
    else:
        buffer = io.BytesIO()
        torch.save(_Marker(str(marker)), buffer)
        change, extra = (lambda name, data: None if name.endswith("/data/sample_inputs/model.pt") else data), \
            ("g/data/sample_inputs/MODEL.PT", buffer.getvalue())
    _rewrite(tmp_path / "g.pt2", evil, change)
    with zipfile.ZipFile(evil, "a") as archive:
        archive.writestr(*extra)
    for args in (["extract", "--generator", evil, "--num-samples", "4", "-b", "pixels", "-o", tmp_path / "x.h5"],
                 ["interp", evil, "--steps", "3", "-o", tmp_path / "i.png"]):
        proc = run_cli(*args, env=cli_env(PYTHONPATH=str(tmp_path.parent)), check=1)
        err = proc.stderr.decode()
        assert err.count("\n") == 1 and str(evil) in err and "plain tensors only" in err, err
        assert not marker.exists()
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "i.png").exists()


def _pt2_variant(tmp_path, attack):
    """A copy of a valid .pt2 changed as ``attack`` says."""
    source, evil = tmp_path / "g.pt2", tmp_path / f"{attack}.pt2"
    tiny_generator(source)
    renames = {"duplicate-by-case": None, "backslash": "g\\data\\weights\\weight_0",
               "dot-slash": "g/./data/weights/weight_0", "double-slash": "g/data//weights/weight_0",
               "unexpected-member": "g/data/weights/notes.txt"}

    def change(name, data):
        if attack == "custom-object" and name.endswith("model_constants_config.json"):
            return json.dumps({"config": {"c": {"path_name": "custom_obj_0", "is_param": False,
                                                "use_pickle": False, "tensor_meta": None}}}).encode()
        if attack == "declared-zeros" and name.endswith("model_weights_config.json"):
            config = json.loads(data)
            entry = next(iter(config["config"].values()))
            entry["tensor_meta"]["sizes"] = [{"as_int": 1 << 20}, {"as_int": 1 << 20}]  # 4 TB of torch.zeros
            return json.dumps(config).encode()
        if attack == "declared-zeros" and name.endswith("/weight_0"):
            return b""
        return data

    _rewrite(source, evil, change)
    with zipfile.ZipFile(evil, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        if attack in renames:
            archive.writestr(renames[attack] or "g/DATA/weights/WEIGHT_0", b"\0" * 48)
        if attack == "weight-bomb":  # 64 MB of zeros in 64 KB: the 3 GB member of the issue, smaller
            archive.writestr("g/data/weights/weight_9", bytes(64 << 20))
    return evil


@pytest.mark.parametrize("attack", ["duplicate-by-case", "backslash", "dot-slash", "double-slash",
                                    "unexpected-member", "custom-object", "declared-zeros", "weight-bomb"])
def test_pt2_names_and_sizes_are_checked_as_torch_reads_them(tmp_path, attack):
    from gentools.errors import GentoolsError
    from gentools.features import model_files

    evil = _pt2_variant(tmp_path, attack)
    with pytest.raises(GentoolsError) as caught:
        model_files.load(evil, torch.device("cpu"), "generator")
    message = str(caught.value)
    assert "\n" not in message and str(evil) in message, message
    expected = {"duplicate-by-case": "ignoring case", "backslash": "not a plain relative name",
                "dot-slash": "not a plain relative name", "double-slash": "not a plain relative name",
                "unexpected-member": "unexpected archive entry", "custom-object": "not as a plain tensor",
                "declared-zeros": "over the memory budget", "weight-bomb": "decompression bomb"}[attack]
    assert expected in message, message


def test_a_valid_pt2_passes_the_check_and_a_budget_below_it_refuses(tmp_path):
    from gentools import memory
    from gentools.features import model_files, pt2_archive

    tiny_generator(tmp_path / "g.pt2")
    pt2_archive.check(tmp_path / "g.pt2")
    assert model_files.load(tmp_path / "g.pt2", torch.device("cpu"), "generator").kind == "pt2"
    memory.set_budget(100)
    try:
        with pytest.raises(memory.OverBudget, match="the .pt2's members needs"):
            pt2_archive.check(tmp_path / "g.pt2")
    finally:
        memory.set_budget(None)


def test_not_a_model_file_is_one_line(tmp_path):
    (tmp_path / "g.pt2").write_bytes(b"not a zip at all")
    err = run_cli("extract", "--generator", tmp_path / "g.pt2", "--num-samples", "4", "-b", "pixels",
                  "-o", tmp_path / "x.h5", check=1).stderr.decode()
    assert err.count("\n") == 1 and "not a .pt2 exported program or TorchScript file" in err


def test_default_backbone_runs_with_future_warnings_as_errors(tmp_path, image_folder, inception_weights):
    _module_run("extract", image_folder, "--weights", inception_weights, "--workers", "0", "-q", "-o", tmp_path / "a.h5")
    assert _features(tmp_path / "a.h5")[1]["runtime"] == "eager"  # the suite runs with GENTOOLS_CACHE=off


def test_readme_export_recipe_gives_files_gentools_takes(tmp_path, image_folder, monkeypatch):
    """docs/extract.md's three lines ("Exported models"), run as written, on a generator of 512-d latents and a
    feature network at 224x224."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "extract.md").read_text()
    block = re.search(r"## Exported models.*?```python\n(.*?)```", readme, re.S).group(1)
    generator = torch.nn.Sequential(torch.nn.Linear(512, 3 * 4 * 4), torch.nn.Tanh(), torch.nn.Unflatten(1, (3, 4, 4)))
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/extract.md", "exec"), {"torch": torch, "G": generator, "net": net})  # noqa: S102
    run_cli("extract", "--generator", tmp_path / "G.pt2", "--num-samples", "3", "-b", "pixels", "-q",
            "-o", tmp_path / "g.h5", check=0)
    assert _features(tmp_path / "g.h5")[1]["latent_dim"] == 512
    run_cli("extract", image_folder, "-b", f"pt2:{tmp_path / 'net.pt2'}", "--workers", "0", "-q",
            "-o", tmp_path / "n.h5", check=0)
    features, provenance = _features(tmp_path / "n.h5")
    assert features.shape[1] == 4 and provenance["input_size"] == 224
