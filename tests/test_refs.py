"""gentools ref: the catalogue, pulls from a loopback HTTP server (resume, verify, trust on first use, concurrency),
ref:NAME inputs, the formats other tools read, and publishing your own references."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import pickle
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gentools
from tests.conftest import BIN, cli_env, parse_tsv, run_cli

ADM_PATH = "/diffusion/jul-2021/ref_batches/imagenet/256/VIRTUAL_imagenet256_labeled.npz"


class Server:
    """Files served from 127.0.0.1 on a free port, with Range support; ``drop`` cuts a path's next answer at
    half its bytes; every request's path and Range header is recorded."""

    def __init__(self):
        self.files, self.requests, self.drop, self.delay, self.ranges = {}, [], set(), 0.0, True
        # hostile answers, by path: a redirect target, an endless body, a declared length, a trickle, an encoding
        self.redirects, self.endless, self.declared, self.trickle, self.encoded = {}, set(), {}, {}, set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.end_headers()
                    return
                if self.path in server.endless or self.path in server.trickle:
                    self.send_response(200)
                    self.end_headers()
                    started = time.time()
                    with contextlib.suppress(OSError):  # bounded: 256 MB or 20 s, whichever comes first
                        for _ in range(256 if self.path in server.endless else 20):
                            if time.time() - started > 20:
                                break
                            if self.path in server.trickle:
                                self.wfile.write(b"\x93")
                                self.wfile.flush()
                                time.sleep(server.trickle[self.path])
                            else:
                                self.wfile.write(bytes(1 << 20))
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                start = 0
                wanted = self.headers.get("Range", "")
                if self.headers.get("If-Range") not in (None, etag):  # another version: the whole file
                    wanted = ""
                if server.ranges and wanted.startswith("bytes=") and wanted.endswith("-"):
                    start = int(wanted[6:-1])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(server.declared.get(self.path, len(body) - start)))
                self.send_header("ETag", etag)
                if self.path in server.encoded:
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                rest = body[start:]
                if self.path in server.drop:
                    server.drop.discard(self.path)
                    self.wfile.write(rest[:len(body) // 2 - start])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                step = max(1, len(rest) // 8)
                for at in range(0, len(rest), step):
                    self.wfile.write(rest[at:at + step])
                    time.sleep(server.delay)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a client hanging up mid-answer is what these tests do; socketserver would print its traceback to the
        # stderr of the process, which an in-process command's captured stderr is
        self.httpd.handle_error = lambda request, address: None
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GENTOOLS_CACHE", str(folder))
    monkeypatch.setenv("GENTOOLS_RUNTIME", "eager")
    monkeypatch.delenv("GENTOOLS_REF_MIRROR", raising=False)
    return folder


def env_for(cache_folder) -> dict:
    return cli_env(GENTOOLS_CACHE=str(cache_folder), GENTOOLS_RUNTIME="eager")


def adm_batch(dim: int, seed: int = 0) -> bytes:
    """An ADM-style reference batch (mu, sigma, mu_s, sigma_s, arr_0 images) as npz bytes."""
    import io

    rng = np.random.RandomState(seed)
    a = rng.randn(400, dim) @ (np.eye(dim) + 0.1 * rng.randn(dim, dim))
    s = rng.randn(400, 6)
    buf = io.BytesIO()
    np.savez(buf, arr_0=rng.randint(0, 256, (4, 8, 8, 3), dtype=np.uint8), mu=a.mean(0), sigma=np.cov(a, rowvar=False),
             mu_s=s.mean(0), sigma_s=np.cov(s, rowvar=False))
    return buf.getvalue()


def one_error(proc) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("gentools: error:"), (proc.returncode, err)
    return err


def test_pull_catalogue_entry_through_mirror_then_fid_on_ref_equals_the_file(server, cache, feature_files, tmp_path):
    gen, _ = feature_files
    body = adm_batch(32)
    server.files[ADM_PATH] = body
    env = env_for(cache)
    proc = run_cli("ref", "pull", "adm/imagenet256", "--mirror", server.url, "--sha256",
                   hashlib.sha256(body).hexdigest(), env=env, check=0)
    path = Path(proc.stdout.decode().strip())
    assert path == cache / "refs" / "adm" / "imagenet256" / "VIRTUAL_imagenet256_labeled.npz"
    assert path.read_bytes() == body and not list(path.parent.glob("*.partial"))
    assert server.requests == [(ADM_PATH, None)]
    by_ref = run_cli("fid", gen, "ref:adm/imagenet256", env=env, check=0).stdout
    by_file = run_cli("fid", gen, path, env=env, check=0).stdout
    assert by_ref == by_file and float(parse_tsv(by_ref)["fid"]) > 0
    # the provenance records where it came from and which preset made it
    out = json.loads(run_cli("fid", gen, "ref:adm/imagenet256", "--json", env=env, check=0).stdout)
    ref = out["inputs"][1]
    assert ref["path"] == "ref:adm/imagenet256"
    assert ref["provenance"]["ref_url"].endswith(ADM_PATH) and ref["provenance"]["preset"] == "adm"
    assert ref["provenance"]["ref_sha256"] == hashlib.sha256(body).hexdigest()
    assert ref["provenance"]["backbone"] == "inception" and ref["provenance"]["resize"] == "tf"
    # the guard compares it with the other input: features made with another resize are refused
    gentools.load(str(gen)).loaded().save(str(tmp_path / "clean.h5"))
    import h5py

    with h5py.File(tmp_path / "clean.h5", "a") as h5:
        h5.attrs["resize"] = "clean"
    err = run_cli("fid", tmp_path / "clean.h5", "ref:adm/imagenet256", env=env).stderr.decode()
    assert "differ in resize: 'clean'" in err and "'tf' (ref:adm/imagenet256)" in err
    # a second pull finds it there, checked, and downloads nothing
    again = run_cli("ref", "pull", "adm/imagenet256", "--mirror", server.url, env=env, check=0)
    assert Path(again.stdout.decode().strip()) == path and len(server.requests) == 1
    # in the API too
    assert gentools.fid(str(gen), "ref:adm/imagenet256")["fid"] == float(parse_tsv(by_file)["fid"])
    # converted for another tool's user
    run_cli("stats", "ref:adm/imagenet256", "--format", "pytorch-fid", "-o", tmp_path / "p.npz", env=env, check=0)
    with np.load(tmp_path / "p.npz") as got, np.load(path) as published:
        np.testing.assert_array_equal(got["sigma"], published["sigma"])
    # extract reads the batch's arr_0 images through the same name
    run_cli("extract", "ref:adm/imagenet256", "-b", "pixels:8", "--workers", "0", "-o", tmp_path / "imgs.h5", env=env,
            check=0)
    run_cli("extract", path, "-b", "pixels:8", "--workers", "0", "-o", tmp_path / "imgs2.h5", env=env, check=0)
    with gentools.load(str(tmp_path / "imgs.h5")) as a, gentools.load(str(tmp_path / "imgs2.h5")) as b:
        assert a.n == 4 and np.array_equal(a.array(), b.array())
    # GENTOOLS_REF_MIRROR does what --mirror does; with no hash anywhere, the first pull records it
    other = "/diffusion/jul-2021/ref_batches/imagenet/64/VIRTUAL_imagenet64_labeled.npz"
    server.files[other] = adm_batch(32, seed=9)
    proc = run_cli("ref", "pull", "adm/imagenet64", env=dict(env, GENTOOLS_REF_MIRROR=server.url + "/"), check=0)
    assert server.requests[-1] == (other, None) and "trust on first use" in proc.stderr.decode()
    lock = json.loads((cache / "refs" / "refs.lock").read_text())
    assert lock["adm/imagenet64"]["url"] == "https://openaipublic.blob.core.windows.net" + other


def test_wrong_sha256_is_one_line_and_leaves_nothing(server, cache):
    server.files["/stats/ref.npz"] = adm_batch(8)
    proc = run_cli("ref", "pull", f"{server.url}/stats/ref.npz", "--sha256", "0" * 64, env=env_for(cache))
    err = one_error(proc)
    assert "does not match the expected " + "0" * 64 in err and "not kept" in err
    refs = cache / "refs"
    assert not (refs / "ref").exists() and not (refs / "refs.lock").exists()
    assert sorted(p.name for p in refs.iterdir()) == [".locks"]


def test_cut_download_resumes_with_a_range_request(server, cache):
    body = adm_batch(24, seed=3)
    server.files["/r/cut.npz"] = body
    server.drop.add("/r/cut.npz")
    url = f"{server.url}/r/cut.npz"
    env = env_for(cache)
    err = one_error(run_cli("ref", "pull", url, "--sha256", hashlib.sha256(body).hexdigest(), env=env))
    assert "interrupted" in err and "run the same pull again to resume" in err
    partial = cache / "refs" / "cut" / "cut.npz.partial"
    assert partial.stat().st_size == len(body) // 2 and not (cache / "refs" / "cut" / "cut.npz").exists()
    proc = run_cli("ref", "pull", url, "--sha256", hashlib.sha256(body).hexdigest(), env=env, check=0)
    assert server.requests[-1] == ("/r/cut.npz", f"bytes={len(body) // 2}-")
    final = Path(proc.stdout.decode().strip())
    assert hashlib.sha256(final.read_bytes()).hexdigest() == hashlib.sha256(body).hexdigest()
    assert not partial.exists()
    # a server that ignores Range answers 200 with the whole file: the partial file starts again
    server.files["/r/norange.npz"] = body
    server.drop.add("/r/norange.npz")
    server.ranges = False
    url = f"{server.url}/r/norange.npz"
    one_error(run_cli("ref", "pull", url, "--sha256", hashlib.sha256(body).hexdigest(), env=env))
    proc = run_cli("ref", "pull", url, "--sha256", hashlib.sha256(body).hexdigest(), env=env, check=0)
    assert server.requests[-1] == ("/r/norange.npz", f"bytes={len(body) // 2}-")
    assert Path(proc.stdout.decode().strip()).read_bytes() == body


def test_two_concurrent_pulls_end_with_one_verified_file(server, cache):
    body = adm_batch(48, seed=5)
    server.files["/c/both.npz"] = body
    server.delay = 0.05
    command = [str(BIN / "gentools"), "ref", "pull", f"{server.url}/c/both.npz", "--sha256",
               hashlib.sha256(body).hexdigest()]
    procs = [subprocess.Popen(command, env=env_for(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert outs[0][0] == outs[1][0]
    folder = cache / "refs" / "both"
    assert sorted(p.name for p in folder.iterdir()) == ["both.npz", "ref.json"]
    assert (folder / "both.npz").read_bytes() == body
    assert len(server.requests) == 1  # the second waited for the lock and found the file verified
    assert run_cli("ref", "verify", "both", env=env_for(cache), check=0).stdout.decode().count("\tok") == 1


def test_unknown_hash_is_recorded_on_first_use_and_a_changed_file_refused(server, cache, tmp_path):
    first = adm_batch(8, seed=1)
    server.files["/t/tofu.npz"] = first
    url = f"{server.url}/t/tofu.npz"
    env = env_for(cache)
    proc = run_cli("ref", "pull", url, "--name", "lab/tofu", env=env, check=0)
    digest = hashlib.sha256(first).hexdigest()
    assert f"recorded {digest}" in proc.stderr.decode() and "trust on first use" in proc.stderr.decode()
    lock = json.loads((cache / "refs" / "refs.lock").read_text())
    assert lock["lab/tofu"]["sha256"] == digest and lock["lab/tofu"]["url"] == url
    # the publisher's file changes; the cached copy is gone: the second pull is refused, and nothing is kept
    server.files["/t/tofu.npz"] = adm_batch(8, seed=2)
    import shutil

    shutil.rmtree(cache / "refs" / "lab" / "tofu")
    err = one_error(run_cli("ref", "pull", url, "--name", "lab/tofu", env=env))
    assert f"recorded {digest}" in err and "refused" in err
    assert not (cache / "refs" / "lab" / "tofu").exists()
    # a copy brought in by hand is checked the same way
    (tmp_path / "copy.npz").write_bytes(adm_batch(8, seed=2))
    one_error(run_cli("ref", "pull", url, "--name", "lab/tofu", "--from", tmp_path / "copy.npz", env=env))
    (tmp_path / "good.npz").write_bytes(first)
    proc = run_cli("ref", "pull", url, "--name", "lab/tofu", "--from", tmp_path / "good.npz", env=env, check=0)
    assert Path(proc.stdout.decode().strip()).read_bytes() == first
    # a cached file changed in place is caught on use (size) and by verify (hash)
    cached = Path(proc.stdout.decode().strip())
    data = bytearray(cached.read_bytes())
    data[-1] ^= 1
    cached.write_bytes(bytes(data))
    err = one_error(run_cli("ref", "verify", "lab/tofu", env=env))
    assert "differs from the record's" in err


def test_ref_not_pulled_names_the_pull_command(cache, feature_files):
    gen, _ = feature_files
    err = one_error(run_cli("fid", gen, "ref:adm/imagenet64", "-q", env=env_for(cache)))
    assert "ref:adm/imagenet64 is not in the cache" in err and "run `gentools ref pull adm/imagenet64`" in err
    with pytest.raises(gentools.GentoolsError, match="gentools ref pull clean-fid/cifar10-train-32-clean"):
        gentools.load("ref:clean-fid/cifar10-train-32-clean")


def test_catalogue_entries_quote_their_source(cache):
    """Every entry names the file and quotes the line that publishes its URL; the installed peers' lines are in
    their installed source. The READMEs' (guided-diffusion, EDM2, clean-fid) were read with read_file."""
    import importlib.util

    from gentools.refs import catalogue

    proc = run_cli("ref", "list", "--json", env=env_for(cache), check=0)
    entries = json.loads(proc.stdout)["entries"]
    assert len(entries) == len(catalogue.CATALOGUE) >= 70
    packages = {"clean-fid": "cleanfid", "torch-fidelity": "torch_fidelity", "torchvision": "torchvision"}
    for entry in entries:
        assert entry["sources"], entry["name"]
        for source in entry["sources"]:
            assert source["repo"] and source["path"] and source["line"].strip(), entry["name"]
            if source["repo"] in packages:
                root = Path(importlib.util.find_spec(packages[source["repo"]]).origin).parent.parent
                assert source["line"] in (root / source["path"]).read_text(), (entry["name"], source)
        first = entry["sources"][0]["line"]
        assert entry["url"] in first or entry["format"].startswith("clean-fid"), entry["name"]
        assert entry["sha256"] == "unknown"  # no source publishes one; none is invented
    names = {e["name"] for e in entries}
    assert {"adm/imagenet256", "edm2/img512", "clean-fid/cifar10-train-32-legacy_tensorflow",
            "clean-fid/afhq_cat-train-512-clean-kid", "torch-fidelity/cifar10-train"} <= names
    # clean-fid's naming scheme, as get_reference_statistics builds the URL (cleanfid/features.py)
    from cleanfid.features import get_reference_statistics  # noqa: F401 - the function whose scheme this is

    e = catalogue.get("clean-fid/cifar10-train-32-legacy_tensorflow")
    name, mode, split, res = "cifar10", "legacy_tensorflow", "train", 32
    base_url = "https://www.cs.cmu.edu/~clean-fid/stats/"
    rel_path = (f"{name}_{mode}_{split}_{res}.npz").lower()
    assert e.url == f"{base_url}/{rel_path}" and e.n == 50000 and e.preset == "torch-fidelity"
    readme = (Path(__file__).parent.parent / "docs" / "references.md").read_text()
    for entry in entries:  # docs/references.md's catalogue table names every entry (clean-fid's by dataset and split)
        group = entry["name"] if not entry["name"].startswith("clean-fid/") else \
            f"`clean-fid/{entry['dataset']}-{entry['split']}-"
        assert group in readme, entry["name"]
    table = run_cli("ref", "list", env=env_for(cache), check=0).stdout.decode().splitlines()
    assert table[0].split("\t")[:3] == ["name", "dataset", "split"] and len(table) == len(entries) + 1


def _stats_pair(tmp_path, dim=12):
    from gentools import store

    rng = np.random.RandomState(4)
    feats = (rng.randn(300, dim) @ (np.eye(dim) + 0.2 * rng.randn(dim, dim))).astype(np.float32)
    spatial = rng.randn(300, 5).astype(np.float32)
    store.write_features(str(tmp_path / "f.h5"), {"features": feats, "spatial": spatial},
                         {"backbone": "inception", "resize": "tf", "layer": "pool3", "count": 300, "complete": True})
    return tmp_path / "f.h5", feats, spatial


@pytest.mark.parametrize("fmt", ["gentools", "pytorch-fid", "clean-fid", "adm", "edm2"])
def test_every_format_round_trips(tmp_path, fmt):
    path, feats, spatial = _stats_pair(tmp_path)
    out = tmp_path / f"ref.{fmt}"
    run_cli("stats", path, "--format", fmt, "-o", out, check=0)
    back = gentools.load(str(out), allow_sets=True)
    if fmt == "edm2":
        back = back.entries["fid"]
    mu, sigma = feats.astype(np.float64).mean(0), np.cov(feats.astype(np.float64), rowvar=False)
    np.testing.assert_allclose(back.mu, mu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.sigma, sigma, rtol=0, atol=1e-12)
    if fmt in ("gentools", "adm"):
        np.testing.assert_allclose(back.spatial.sigma, np.cov(spatial.astype(np.float64), rowvar=False), atol=1e-12)
    if fmt in ("gentools", "edm2"):
        assert back.n == 300


def test_other_tools_read_what_gentools_writes(tmp_path, monkeypatch):
    path, feats, _ = _stats_pair(tmp_path)
    want = gentools.load(str(path))
    mu, sigma = want.moments()
    # pytorch-fid's own loader
    from pytorch_fid.fid_score import compute_statistics_of_path

    run_cli("stats", path, "--format", "pytorch-fid", "-o", tmp_path / "p.npz", check=0)
    m, s = compute_statistics_of_path(str(tmp_path / "p.npz"), None, 50, 2048, "cpu")
    np.testing.assert_allclose(m, mu, atol=1e-12)
    np.testing.assert_allclose(s, sigma, atol=1e-12)
    # clean-fid's own loader: a custom statistic in its stats folder (pointed at tmp_path, not site-packages)
    import cleanfid
    from cleanfid.features import get_reference_statistics

    fake = tmp_path / "cleanfid"
    (fake / "stats").mkdir(parents=True)
    monkeypatch.setattr(cleanfid, "__file__", str(fake / "__init__.py"))
    run_cli("stats", path, "--format", "clean-fid", "-o", fake / "stats" / "lab_clean_custom_na.npz", check=0)
    m, s = get_reference_statistics("lab", 256, mode="clean", split="custom")
    np.testing.assert_allclose(m, mu, atol=1e-12)
    np.testing.assert_allclose(s, sigma, atol=1e-12)
    # guided-diffusion's Evaluator.read_statistics (evaluations/evaluator.py), transcribed: it needs mu_s/sigma_s
    run_cli("stats", path, "--format", "adm", "-o", tmp_path / "a.npz", check=0)
    obj = np.load(tmp_path / "a.npz")
    assert "mu" in list(obj.keys())
    fid_stats, sfid_stats = (obj["mu"], obj["sigma"]), (obj["mu_s"], obj["sigma_s"])
    np.testing.assert_allclose(fid_stats[1], sigma, atol=1e-12)
    assert sfid_stats[0].shape == (5,)
    # EDM2's calculate_metrics.py: `ref = pickle.load(f)` then ref['fid']['mu'] / ref['fid']['sigma']
    run_cli("stats", path, "--format", "edm2", "-o", tmp_path / "e.pkl", check=0)
    with open(tmp_path / "e.pkl", "rb") as f:
        ref = pickle.load(f)
    np.testing.assert_allclose(ref["fid"]["sigma"], sigma, atol=1e-12)
    assert ref["num_images"] == 300
    # and the ones that cannot be written say why
    store_bare = tmp_path / "bare.h5"
    from gentools import store

    store.write_features(str(store_bare), {"features": feats}, {"backbone": "clip:ViT-B-32", "count": 300,
                                                                "complete": True})
    assert "extract with --spatial" in one_error(run_cli("stats", store_bare, "--format", "adm", "-o",
                                                         tmp_path / "x.npz", "-q"))
    assert "'fd_dinov2'" in one_error(run_cli("stats", store_bare, "--format", "edm2", "-o", tmp_path / "x.pkl",
                                              "-q"))


def test_torch_fidelity_cache_files_are_read_with_weights_only(tmp_path):
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.utils_torch import torch_atomic_save

    rng = np.random.RandomState(0)
    a, b = (torch.from_numpy(rng.randn(200, 10) + shift) for shift in (0.0, 0.3))
    for name, feats in (("a", a), ("b", b)):
        torch_atomic_save(fid_features_to_statistics(feats), str(tmp_path / f"{name}-stat-fid-2048.pt"))
    torch_atomic_save(a.float(), str(tmp_path / "a-features-2048.pt"))
    ours = gentools.fid(str(tmp_path / "a-stat-fid-2048.pt"), str(tmp_path / "b-stat-fid-2048.pt"))["fid"]
    theirs = fid_statistics_to_metric(fid_features_to_statistics(a), fid_features_to_statistics(b), False)
    assert ours == pytest.approx(theirs["frechet_inception_distance"], rel=1e-10)
    assert gentools.load(str(tmp_path / "a-features-2048.pt")).n == 200
    torch.save({"mu": np.zeros(3), "sigma": np.eye(3), "x": np.array([None], dtype=object)}, tmp_path / "bad.pt")
    with pytest.raises(gentools.GentoolsError, match="nothing in it was run"):
        gentools.load(str(tmp_path / "bad.pt"))


def test_make_publishes_stats_rows_and_manifest_and_verify_checks_them(cache, tmp_path, feature_files):
    gen, ref = feature_files
    env = env_for(cache)
    manifest = Path(run_cli("ref", "make", ref, "--name", "lab/gauss", "--rows", "100", "--preset", "torch-fidelity",
                            env=env, check=0).stdout.decode().strip())
    record = json.loads(manifest.read_text())
    assert record["name"] == "lab/gauss" and record["n"] == 500 and record["dim"] == 32
    assert record["provenance"]["backbone"] == "inception" and record["gentools_version"] == gentools.__version__
    assert set(record["files"]) == {"stats.h5", "rows.h5"}
    for file, info in record["files"].items():
        assert hashlib.sha256((manifest.parent / file).read_bytes()).hexdigest() == info["sha256"]
    assert run_cli("ref", "verify", "lab/gauss", env=env, check=0).stdout.decode().count("\tok") == 2
    listed = {e["name"]: e for e in json.loads(run_cli("ref", "list", "--json", env=env, check=0).stdout)["entries"]}
    assert listed["lab/gauss"]["pulled"] and not listed["lab/gauss"]["catalogue"] and listed["lab/gauss"]["n"] == 500
    # ref:NAME is the full statistics, ref:NAME:rows the rows (for kid/prdc)
    by_ref = run_cli("fid", gen, "ref:lab/gauss", env=env, check=0).stdout
    assert by_ref == run_cli("fid", gen, ref, env=env, check=0).stdout
    rows = gentools.load("ref:lab/gauss:rows")
    assert rows.n == 100 and rows.provenance["ref"] == "lab/gauss"
    with gentools.load(str(ref)) as full:
        chosen = np.sort(np.random.RandomState(2020).choice(500, 100, replace=False))  # the default seed
        np.testing.assert_array_equal(rows.array(), full.array()[chosen])
    run_cli("kid", gen, "ref:lab/gauss:rows", "--subset-size", "50", "--subsets", "5", env=env, check=0)
    # published into a folder: verify by its manifest; a changed byte is one line
    out = tmp_path / "pub"
    run_cli("ref", "make", ref, "--name", "lab/pub", "-o", out, env=env, check=0)
    assert run_cli("ref", "verify", out, env=env, check=0).stdout.decode().count("\tok") == 1
    data = bytearray((out / "stats.h5").read_bytes())
    data[-10] ^= 1
    (out / "stats.h5").write_bytes(bytes(data))
    assert "differs from manifest.json's" in one_error(run_cli("ref", "verify", out / "manifest.json", env=env))
    # a manifest naming a file outside its folder is refused
    hostile = json.loads((out / "manifest.json").read_text())
    hostile["files"] = {"../../etc/passwd": {"sha256": "0" * 64, "size": 1, "kind": "stats"}}
    (out / "manifest.json").write_text(json.dumps(hostile))
    assert "expected a plain file name" in one_error(run_cli("ref", "verify", out, env=env))
    # the wrong preset is refused
    assert "--preset clean-fid uses resize 'clean'" in one_error(
        run_cli("ref", "make", ref, "--name", "lab/x", "--preset", "clean-fid", "-q", env=env))


def test_evaluator_takes_a_ref(cache):
    import torch

    from tests.conftest import photo_crops

    crops = np.stack(photo_crops(120, 16, seed=1))
    ref_feats = gentools.extract(np.stack(photo_crops(150, 16, seed=2)), backbone="pixels:4", device="cpu",
                                 workers=0)
    gentools.ref_make([ref_feats], name="lab/pixels")
    ev = gentools.Evaluator(ref="ref:lab/pixels", metrics=["fid"], backbone="pixels:4", device="cpu")
    ev.update(torch.from_numpy(crops).permute(0, 3, 1, 2))
    gen_feats = gentools.extract(crops, backbone="pixels:4", device="cpu", workers=0)
    assert ev.compute()["fid"] == pytest.approx(gentools.fid(gen_feats, ref_feats)["fid"], rel=1e-9)
    assert ev.reference.label == "ref:lab/pixels"


def test_cache_off_and_bad_names_are_one_line(feature_files):
    gen, _ = feature_files
    err = one_error(run_cli("fid", gen, "ref:adm/imagenet256", "-q"))  # the suite runs with GENTOOLS_CACHE=off
    assert "the cache is off" in err
    proc = run_cli("ref", "pull", "../../etc", env=cli_env(GENTOOLS_CACHE="/tmp/never"))
    assert proc.returncode == 2 and "not in the catalogue" in proc.stderr.decode()
    proc = run_cli("ref", "pull", "file:///etc/passwd", "--name", "x", env=cli_env(GENTOOLS_CACHE="/tmp/never"))
    assert proc.returncode == 2 and "expected an http:// or https:// URL" in proc.stderr.decode()
    assert not os.path.exists("/tmp/never")


def test_adm_statistics_are_read_without_their_images(tmp_path, feature_files):
    """fid on an ADM batch reads mu/sigma (and mu_s/sigma_s) only: arr_0 past the memory budget is never read."""
    gen, _ = feature_files
    rng = np.random.RandomState(0)
    a = rng.randn(300, 32)
    np.savez(tmp_path / "adm.npz", arr_0=np.zeros((40, 256, 256, 3), np.uint8), mu=a.mean(0),
             sigma=np.cov(a, rowvar=False))
    small = run_cli("fid", gen, tmp_path / "adm.npz", "--max-memory", "5M", "-q", check=0).stdout
    np.savez(tmp_path / "plain.npz", mu=a.mean(0), sigma=np.cov(a, rowvar=False))
    assert small == run_cli("fid", gen, tmp_path / "plain.npz", "-q", check=0).stdout


def test_hostile_cache_records_are_one_line(cache, feature_files):
    gen, ref = feature_files
    env = env_for(cache)
    run_cli("ref", "make", ref, "--name", "lab/h", env=env, check=0)
    record_path = cache / "refs" / "lab" / "h" / "ref.json"
    record = json.loads(record_path.read_text())
    for bad, message in (({**record, "file": "../../../etc/passwd"}, "expected a plain file name"),
                         ({**record, "size": "big"}, "no valid 'size'"), ("[1, 2]", "expected a JSON object"),
                         ("{not json", "not valid JSON")):
        record_path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
        assert message in one_error(run_cli("fid", gen, "ref:lab/h", "-q", env=env))
    assert "is a catalogue entry" in run_cli("ref", "make", ref, "--name", "adm/imagenet256", env=env).stderr.decode()
    assert "expected ref:NAME or ref:NAME:rows" in one_error(run_cli("fid", gen, "ref:lab/h:x", "-q", env=env))


def test_edm2_reference_picks_its_entry_by_backbone(server, cache, feature_files, tmp_path):
    gen, ref = feature_files
    env = env_for(cache)
    run_cli("stats", ref, "--format", "edm2", "-o", tmp_path / "img512.pkl", check=0)
    server.files["/edm2/dataset-refs/img512.pkl"] = (tmp_path / "img512.pkl").read_bytes()
    path = run_cli("ref", "pull", "edm2/img512", "--mirror", server.url, env=env, check=0).stdout.decode().strip()
    by_ref = run_cli("fid", gen, "ref:edm2/img512", "--json", env=env, check=0).stdout
    out = json.loads(by_ref)
    assert out["values"]["fid"] == float(parse_tsv(run_cli("fid", gen, path, env=env, check=0).stdout)["fid"])
    assert out["values"]["fid"] == float(parse_tsv(run_cli("fid", gen, ref, env=env, check=0).stdout)["fid"])
    assert out["inputs"][1]["path"] == "ref:edm2/img512:fid"
    assert out["inputs"][1]["provenance"]["preset"] == "edm2"


def test_dataset_archive_is_checked_against_torchvisions_md5(server, cache):
    import gzip

    server.files["/~kriz/cifar-10-python.tar.gz"] = gzip.compress(b"not the CIFAR-10 archive")
    err = one_error(run_cli("ref", "pull", "torch-fidelity/cifar10-train", "--mirror", server.url,
                            env=env_for(cache)))
    assert "does not match the published c58f30108f718f92721af3b95e74349a" in err and "not kept" in err
    assert not (cache / "refs" / "torch-fidelity").exists()


# --- hostile servers (issue 33, items 5 and 6) ---------------------------------------------------------------------

def _timed(*args, env):
    started = time.perf_counter()
    proc = run_cli(*args, env=env)
    return proc, time.perf_counter() - started


@pytest.mark.parametrize("answer", ["endless", "declared", "short", "trickle", "encoded", "ftp-redirect"])
def test_hostile_download_answers_are_one_line_quickly_and_keep_nothing(server, cache, answer):
    """An endless body, a Content-Length of 10^15, a Content-Length of half the body (its first half was kept and
    trusted), one byte a second, a gzip-encoded body and a redirect to ftp:// each end in one line within seconds,
    and nothing is kept or recorded."""
    path = f"/r/{answer}.npz"
    server.files[path] = adm_batch(8)
    extra = []
    if answer == "endless":
        server.endless.add(path)
        extra = ["--max-size", "4M"]
    elif answer == "declared":
        server.declared[path] = 10 ** 15
    elif answer == "short":
        server.declared[path] = len(server.files[path]) // 2
    elif answer == "trickle":
        server.trickle[path] = 1.0
        extra = ["--timeout", "3"]
    elif answer == "encoded":
        server.encoded.add(path)
    else:
        server.redirects[path] = "ftp://127.0.0.1/secret.npz"
    proc, seconds = _timed("ref", "pull", f"{server.url}{path}", *extra, env=env_for(cache))
    err = one_error(proc)
    expected = {"endless": "runs past the 4194304 bytes", "declared": "declares 1000000000000000 bytes",
                "short": f"sent more than the {len(server.files[path]) // 2} bytes its Content-Length declares",
                "trickle": "not done within --timeout 3 s", "encoded": "gzip-encoded",
                "ftp-redirect": "not http(s)"}[answer]
    assert expected in err and seconds < 10 + 2 * 3, (err, seconds)
    folder = cache / "refs" / answer
    assert not (folder / f"{answer}.npz").exists() and not (cache / "refs" / "refs.lock").exists()
    if answer in ("endless", "declared", "short"):
        assert not (folder / f"{answer}.npz.partial").exists()


def test_a_changed_file_restarts_the_resume_from_zero(server, cache):
    """The partial was started on version 1; the server now has version 2 (another ETag). If-Range makes it send
    the whole of version 2, never version 1's first half spliced to version 2's second half."""
    first, second = adm_batch(24, seed=1), adm_batch(24, seed=2)
    assert len(first) == len(second) and first != second
    server.files["/r/moved.npz"] = first
    server.drop.add("/r/moved.npz")
    url, env = f"{server.url}/r/moved.npz", env_for(cache)
    one_error(run_cli("ref", "pull", url, env=env))
    partial = cache / "refs" / "moved" / "moved.npz.partial"
    assert partial.stat().st_size == len(first) // 2
    server.files["/r/moved.npz"] = second
    proc = run_cli("ref", "pull", url, env=env, check=0)
    assert server.requests[-1] == ("/r/moved.npz", f"bytes={len(first) // 2}-")  # asked, with If-Range
    kept = Path(proc.stdout.decode().strip())
    assert kept.read_bytes() == second
    lock = json.loads((cache / "refs" / "refs.lock").read_text())
    assert hashlib.sha256(second).hexdigest() in json.dumps(lock)


def test_a_stale_longer_partial_answered_416_starts_again(server, cache):
    body = adm_batch(16, seed=4)
    server.files["/r/stale.npz"] = body
    folder = cache / "refs" / "stale"
    folder.mkdir(parents=True)
    (folder / "stale.npz.partial").write_bytes(body + b"old tail of an older, longer version")
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'  # the server's own: it answers the Range with 416
    (folder / "stale.npz.partial.validator").write_text(json.dumps({"etag": etag, "last_modified": ""}))
    proc = run_cli("ref", "pull", f"{server.url}/r/stale.npz", env=env_for(cache), check=0)
    assert Path(proc.stdout.decode().strip()).read_bytes() == body
    assert server.requests[-2:] == [("/r/stale.npz", f"bytes={len(body) + 36}-"), ("/r/stale.npz", None)]


def test_a_redirect_to_another_host_is_recorded(server, cache):
    body = adm_batch(8, seed=5)
    server.files["/r/real.npz"] = body
    server.redirects["/r/moved.npz"] = f"http://localhost:{server.httpd.server_address[1]}/r/real.npz"
    run_cli("ref", "pull", f"{server.url}/r/moved.npz", "--sha256", hashlib.sha256(body).hexdigest(),
            env=env_for(cache), check=0)
    record = json.loads(next((cache / "refs" / "moved").glob("*.json")).read_text())
    assert record["pulled_from"] == f"http://localhost:{server.httpd.server_address[1]}/r/real.npz", record


@pytest.mark.parametrize("where", ["record-fifo", "lock-fifo", "record-dev-zero", "verify-outside-link"])
def test_cache_files_that_are_not_regular_are_one_line(cache, feature_files, where, tmp_path):
    """Issue 33, item 9 and 10: a FIFO as ref.json or refs.lock hung, ref.json linked to /dev/zero took 7.5 GB, and
    ``ref verify`` printed the sha256 of a linked outside file."""
    env = env_for(cache)
    run_cli("ref", "make", feature_files[1], "--name", "lab/r", env=env, check=0)
    folder = cache / "refs" / "lab" / "r"
    if where == "verify-outside-link":
        secret = tmp_path / "secret.h5"
        secret.write_bytes(b"outside bytes")
        stats = folder / "stats.h5"
        stats.unlink()
        os.symlink(secret, stats)
        started = time.perf_counter()
        err = one_error(run_cli("ref", "verify", "lab/r", env=env))
        assert "a symbolic link" in err and hashlib.sha256(b"outside bytes").hexdigest() not in err
        return
    target = folder / "ref.json" if where.startswith("record") else cache / "refs" / "refs.lock"
    target.unlink(missing_ok=True)
    if where == "record-dev-zero":
        os.symlink("/dev/zero", target)
    else:
        os.mkfifo(target)
    if where == "lock-fifo":  # read by every pull and verify of a pulled file: straight through its reader
        from gentools.errors import InputError
        from gentools.refs import cache as refs_cache

        with pytest.raises(InputError, match="a FIFO, not a regular file"):
            refs_cache.trusted("lab/r")
        return
    started = time.perf_counter()
    err = one_error(run_cli("fid", feature_files[0], "ref:lab/r", env=env))
    assert time.perf_counter() - started < 20
    assert ("a FIFO" if where == "record-fifo" else "a symbolic link") in err and "ref.json" in err, err


def test_a_damaged_cached_reference_says_to_verify_or_pull_again(server, cache, feature_files):
    """A flipped byte in a pulled npz gave "BadZipFile: Bad CRC-32" and nothing to do about it."""
    import zipfile

    body = adm_batch(8, seed=6)
    server.files["/r/flip.npz"] = body
    env = env_for(cache)
    path = Path(run_cli("ref", "pull", f"{server.url}/r/flip.npz", env=env, check=0).stdout.decode().strip())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("mu.npy")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len("mu.npy") + info.file_size - 4] ^= 0x40  # inside mu's last float
    path.write_bytes(bytes(data))
    err = one_error(run_cli("fid", feature_files[0], "ref:flip", "-q", env=env))
    assert "CRC" in err and "gentools ref verify flip" in err and "gentools ref pull flip" in err, err
