"""Hostile and broken files: nothing in them runs, nothing outside them is read, nothing exhausts the machine.

Each hostile input is made here, in code, as an attacker would make it; each must end in exit 0 or one
`gentools: error:` line with exit 1, quickly and in little memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile

import h5py
import numpy as np
import pytest
from PIL import Image

import gentools
from gentools import store
from tests.conftest import BIN, cli_env, one_line_error, run_cli

PROVENANCE = {"backbone": "pixels:8", "layer": "pixels", "weights_sha256": "", "resize": "none"}


# Runs ARGV and writes its wall time and peak RSS (KB) to the file named first. A child's ru_maxrss starts at its
# parent's RSS when it forks (Linux keeps the high-water mark across exec), so the command is started from this
# small interpreter, not from the test process (which may hold torch: 500 MB).
_MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
try:
    code = subprocess.run(sys.argv[3:], timeout=float(sys.argv[2])).returncode
except subprocess.TimeoutExpired:  # reported as its time (over every bound), not as a missing report
    code = 124
with open(sys.argv[1], "w") as fh:
    fh.write(f"{time.perf_counter() - started} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
sys.exit(code)
"""


def measured(*argv, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float, float]:
    """``gentools ARGV`` as a subprocess: ``(process, seconds, peak RSS in MB)`` of that command alone."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "usage")
        proc = subprocess.run([sys.executable, "-c", _MEASURE, report, str(timeout), str(BIN / "gentools"),
                               *map(str, argv)], env=cli_env(), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout + 30)
        seconds, rss_kb = open(report).read().split()
    return proc, float(seconds), float(rss_kb) / 1024


def _features(path, rows=40, dim=8, seed=0, **datasets):
    rng = np.random.RandomState(seed)
    arrays = {"features": rng.randn(rows, dim).astype(np.float32), **datasets}
    store.write_features(str(path), arrays, dict(PROVENANCE, count=rows, complete=True, source=""))
    return path


# --- pickles -------------------------------------------------------------------------------------------------

def _array_pickle(dtype_code: bytes, flags: int = 0) -> bytes:
    """Protocol 2 pickle of {'fid': {'mu': A, 'sigma': A}} where A is rebuilt with dtype ``dtype_code`` and
    dtype state flags ``flags``: with b'O8' and flags 0 this is numpy's object dtype without its list-pickle
    flag, whose raw bytes numpy would follow as pointers."""
    import pickle

    good = pickle.dumps({"fid": {"mu": np.arange(4.0), "sigma": np.eye(2)}}, protocol=2)
    state = b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00"  # (..., names, fields, elsize, alignment, flags)
    assert good.count(b"X\x02\x00\x00\x00f8") == 1 and good.count(state) == 1
    hostile = good.replace(b"X\x02\x00\x00\x00f8", b"X\x02\x00\x00\x00" + dtype_code)
    return hostile.replace(state, state[:-1] + bytes([flags]))


def test_object_dtype_pickle_is_one_line_not_a_crash(tmp_path, feature_files):
    gen, _ = feature_files
    for name, data in (("obj.pkl", _array_pickle(b"O8")), ("flags.pkl", _array_pickle(b"f8", 0x3F))):
        (tmp_path / name).write_bytes(data)
        for argv in (("fid", gen, tmp_path / name), ("info", tmp_path / name)):
            err = one_line_error(*argv)
            assert "pickle refused" in err and "nothing in it was run" in err, err
        proc = run_cli("fid", gen, "-", stdin_bytes=data)
        assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1, proc.stderr
        with pytest.raises(gentools.GentoolsError, match="pickle refused"):
            gentools.load(str(tmp_path / name), allow_sets=True)


def _memo_bomb(levels: int = 12, width: int = 10) -> bytes:
    """A "billion laughs" pickle: each list holds ``width`` references to the one before (memo GET), so
    ``levels`` lists stand for width**levels elements (10^12) in a few hundred bytes."""
    ops = [b"\x80\x02}q\x00(X\x03\x00\x00\x00fid}q\x01(X\x02\x00\x00\x00mu", b"]q\x020"]
    for level in range(levels):  # MARK, BINGET the previous list width times, LIST, BINPUT, POP
        ops.append(b"(" + (b"h" + bytes([2 + level])) * width + b"lq" + bytes([3 + level]) + b"0")
    last = b"h" + bytes([2 + levels])
    ops.append(last + b"X\x05\x00\x00\x00sigma" + last + b"uu.")
    return b"".join(ops)


def test_memo_bomb_pickle_is_refused_fast_and_small(tmp_path):
    data = _memo_bomb()
    assert len(data) < 400
    (tmp_path / "laughs.pkl").write_bytes(data)
    proc, seconds, rss = measured("info", tmp_path / "laughs.pkl")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and "expected a numpy array" in err, err
    assert seconds < 1.0 + _startup_allowance() and rss < 200, (seconds, rss)


def _startup_allowance() -> float:
    """Twice the start-up of a bare `gentools --version` now: on a 2-core box running the suite in parallel,
    start-up alone can take a second. The bounds stay far below what the refused work would take (minutes)."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "gentools"), "--version"], capture_output=True, check=True)
    return 2 * (time.perf_counter() - started)


# --- HDF5 pointing outside itself --------------------------------------------------------------------------

@pytest.fixture()
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(b"TOPSECRET-" + os.urandom(6).hex().encode() + b"\n" * 6)
    return path


def _external(path, secret, name: str, rows: int = 40) -> None:
    _features(path, rows=rows)
    with h5py.File(path, "a") as h5:
        h5.create_dataset(name, shape=(rows,), dtype="S1", external=[(str(secret), 0, rows)])


@pytest.mark.parametrize("name", ["labels", "ids"])
def test_external_storage_is_refused_and_never_leaks(tmp_path, secret, name):
    bad = tmp_path / "bad.h5"
    _external(bad, secret, name, rows=len(secret.read_bytes()))
    good = _features(tmp_path / "good.h5", rows=len(secret.read_bytes()), seed=1)
    marker = secret.read_bytes()[:16]
    runs = [("info", bad), ("fid", bad, good), ("diversity", bad, "--per-class", "--ref", good),
            ("merge", bad, "-o", tmp_path / "merged.h5"), ("nn-grid", bad, good, "--table", tmp_path / "nn.tsv"),
            ("stats", bad, "-o", tmp_path / "s.h5"), ("kid", bad, good, "--subset-size", "10")]
    for argv in runs:
        proc = run_cli(*argv)
        assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1, (argv, proc.stderr)
        assert "external file" in proc.stderr.decode(), proc.stderr
        assert marker not in proc.stdout + proc.stderr
    for written in tmp_path.iterdir():
        if written != secret:
            assert marker not in written.read_bytes(), written


def test_external_links_virtual_datasets_and_link_loops_are_refused(tmp_path, secret):
    other = _features(tmp_path / "other.h5")
    base = _features(tmp_path / "base.h5")
    cases = {}
    for case in ("link", "virtual", "soft", "group"):
        path = tmp_path / f"{case}.h5"
        _features(path)
        with h5py.File(path, "a") as h5:
            del h5["features"]
            if case == "link":
                h5["features"] = h5py.ExternalLink(str(other), "/features")
            elif case == "virtual":
                layout = h5py.VirtualLayout(shape=(40, 8), dtype="f4")
                layout[:] = h5py.VirtualSource(str(other), "features", shape=(40, 8))
                h5.create_virtual_dataset("features", layout)
            elif case == "soft":
                h5["features"] = h5py.SoftLink("/loop")
                h5["loop"] = h5py.SoftLink("/features")
            else:
                h5.create_group("features")
        cases[case] = path
    for case, path in cases.items():
        err = one_line_error("fid", path, base)
        assert {"link": "external link", "virtual": "virtual dataset", "soft": "soft link",
                "group": "expected a dataset"}[case] in err, err


def test_external_storage_on_dev_zero_does_not_hang(tmp_path):
    path = tmp_path / "zero.h5"
    _features(path)
    with h5py.File(path, "a") as h5:
        del h5["features"]
        h5.create_dataset("features", shape=(10 ** 6, 192), dtype="f4", external=[("/dev/zero", 0, h5py.h5f.UNLIMITED)])
    proc, seconds, _ = measured("fid", path, path, timeout=30)
    assert proc.returncode == 1 and b"external file" in proc.stderr and seconds < 10


def test_plugin_filters_are_refused(tmp_path):
    path = tmp_path / "filter.h5"
    _features(path)
    with h5py.File(path, "a") as h5:
        del h5["features"]
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((40, 8))
        dcpl.set_filter(32004, h5py.h5z.FLAG_OPTIONAL)  # a plugin's id (LZ4): not built in
        space = h5py.h5s.create_simple((40, 8))
        h5py.h5d.create(h5.id, b"features", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
    assert "filter 32004" in one_line_error("info", path)


# --- declared sizes --------------------------------------------------------------------------------------------

def _unallocated(path, rows: int, dim: int) -> None:
    with h5py.File(path, "w") as h5:
        h5.attrs.update(gentools_format="features", format_version=1, complete=True, **PROVENANCE)
        h5.create_dataset("features", shape=(rows, dim), dtype="f4", chunks=(min(rows, 1024), min(dim, 64)))


@pytest.mark.parametrize("rows,dim,size", [(10 ** 9, 192, "768 GB"), (2, 25_000, "200 KB")])
def test_unallocated_declarations_are_refused_in_under_a_second(tmp_path, rows, dim, size):
    path = tmp_path / "huge.h5"
    _unallocated(path, rows, dim)
    assert path.stat().st_size < 10_000
    for command in (("fid", path, path), ("stats", path, "-o", tmp_path / "s.h5"), ("kid", path, path),
                    ("prdc", path, path)):
        proc, seconds, _ = measured(*command, timeout=30)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and err.count("\n") == 1 and "none of it was ever written" in err, err
        assert f"({size})" in err  # what reading it would take
        assert seconds < 1.0 + _startup_allowance(), seconds


def test_a_wide_features_file_is_refused_by_the_memory_budget(tmp_path):
    """Dimension 25,000 in three real rows (300 KB): d x d covariances and square roots need 40 GB (StyleGAN's
    ddof=0 FID) and 15 GB (stats); the default FID goes through the 3 x 3 product of the rows instead."""
    path = _features(tmp_path / "wide.h5", rows=3, dim=25_000)
    proc, _, _ = measured("fid", path, path, "--max-memory", "8G", "-q", timeout=30)
    assert proc.returncode == 0 and abs(float(proc.stdout.split()[1])) < 1e-6, proc.stderr
    for command, need in ((("fid", path, path, "--preset", "stylegan", "--force", "-q"), "needs 40 GB"),
                          (("stats", path, "-o", tmp_path / "s.h5"), "needs 15 GB")):
        proc, seconds, _ = measured(*command, "--max-memory", "8G", timeout=30)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and err.count("\n") == 1 and need in err and "8.59 GB" in err, err
        assert seconds < 1.0 + _startup_allowance(), seconds


def test_compression_bomb_is_refused(tmp_path):
    path = tmp_path / "gzip.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs.update(gentools_format="features", format_version=1, complete=True, **PROVENANCE)
        data = h5.create_dataset("features", shape=(50_000, 128), dtype="f4", chunks=(4096, 128), compression="gzip")
        data[:] = 0.0
    err = one_line_error("prdc", path, path)
    assert "decompression bomb" in err


def test_memory_budget_stops_work_before_it_starts(tmp_path, feature_files):
    gen, ref = feature_files
    err = one_line_error("fid", gen, ref, "--max-memory", "20K")
    assert "over the memory budget of 20.5 KB" in err and "needs" in err
    err = one_line_error("kid", gen, ref, "--subset-size", "400", env=cli_env(GENTOOLS_MAX_MEMORY="1M"))
    assert "KID's kernel matrices (400 x 400) needs 3.84 MB" in err
    assert run_cli("fid", gen, ref, "-q", "--max-memory=1G").returncode == 0
    proc = run_cli("fid", gen, ref, "--max-memory", "lots")
    assert proc.returncode == 2 and b"expected a size" in proc.stderr


# --- archives and images -----------------------------------------------------------------------------------------

def test_a_1gib_zip_member_is_refused_from_its_header(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("a.png", "w", force_zip64=True) as fh:
        for _ in range(64):
            fh.write(bytes(1 << 24))
    assert archive.stat().st_size < 1.2e6
    proc, seconds, rss = measured("extract", archive, "-b", "pixels:8", "--workers", "0", "-o", tmp_path / "x.h5")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and "refused unread" in err, err
    assert seconds < 2.0 + _startup_allowance() and rss < 300, (seconds, rss)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` grey pixels and holds one empty IDAT: what a decompression bomb
    looks like to a reader that checks the header (the 164 KB 13000^2 PNG of the issue takes 5 s to write)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_large_images_are_refused_unless_max_pixels_allows_them(tmp_path):
    (tmp_path / "bomb").mkdir()
    (tmp_path / "bomb" / "huge.png").write_bytes(_png_header_only(13000, 13000))
    with pytest.warns(Image.DecompressionBombWarning):  # PIL itself sees the declared size
        assert Image.open(tmp_path / "bomb" / "huge.png").size == (13000, 13000)
    err = one_line_error("extract", tmp_path / "bomb", "-b", "pixels:8", "--workers", "0", "-o", tmp_path / "x.h5")
    assert "13000x13000 is 169000000 pixels, over the limit of 89478485" in err
    (tmp_path / "small").mkdir()
    Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(tmp_path / "small" / "a.png")
    err = one_line_error("extract", tmp_path / "small", "-b", "pixels:8", "--workers", "0", "--max-pixels", "4000",
                         "-o", tmp_path / "s.h5")
    assert "64x64 is 4096 pixels, over the limit of 4000" in err
    run_cli("extract", tmp_path / "small", "-b", "pixels:8", "--workers", "0", "--max-pixels", "4096", "-q",
            "-o", tmp_path / "s.h5", check=0)
    from PIL import Image as PILImage

    assert PILImage.MAX_IMAGE_PIXELS == 1024 * 1024 * 1024 // 4 // 3  # the library restores PIL's setting


# --- nn-grid re-reading images through ids ---------------------------------------------------------------------

def test_nn_grid_ids_outside_the_root_are_blank_tiles(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    Image.fromarray(np.full((8, 8, 3), (0, 200, 0), np.uint8)).save(root / "inside.png")
    outside = tmp_path / "outside.png"
    Image.fromarray(np.full((8, 8, 3), (255, 0, 255), np.uint8)).save(outside)
    os.mkfifo(root / "fifo.png")
    os.symlink(outside, root / "link.png")
    ids = ["inside.png", "../outside.png", str(outside), "fifo.png", "link.png"]
    rng = np.random.RandomState(0)
    for name in ("gen", "train"):
        store.write_features(str(tmp_path / f"{name}.h5"),
                                      {"features": rng.randn(5, 4).astype(np.float32), "ids": ids},
                                      dict(PROVENANCE, count=5, complete=True, source=str(root)))
    proc = subprocess.run([str(BIN / "gentools"), "nn-grid", tmp_path / "gen.h5", tmp_path / "train.h5", "--queries",
                           "5", "--k", "4", "-o", tmp_path / "grid.png"], env=cli_env(), capture_output=True,
                          timeout=10, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    warnings = [line for line in err.splitlines() if "drawn blank" in line]
    assert len(warnings) == 2 and "4 tile(s)" in warnings[0], err  # gen: 4 of 5 refused; train likewise
    grid = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    assert (grid == (255, 0, 255)).all(axis=2).sum() == 0  # the outside image's magenta is drawn nowhere
    assert (grid == (0, 200, 0)).all(axis=2).sum() > 0  # the inside one's green is


# --- attributes, labels and text -----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [-5, 3.5, 1, 2 ** 62, "12", float("nan")])
def test_stats_sample_count_must_be_a_plausible_integer(tmp_path, feature_files, n):
    gen, _ = feature_files
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs.update(gentools_format="stats", format_version=1, n=n, **PROVENANCE)
        h5["mu"], h5["sigma"] = np.zeros(32), np.eye(32)
    err = one_line_error("fid", gen, path, "--preset", "stylegan", "--force")
    assert "n" in err and "expected" in err and "unexpected" not in err


def test_complete_must_be_a_boolean_and_labels_one_per_row(tmp_path, feature_files):
    gen, _ = feature_files
    path = _features(tmp_path / "c.h5")
    with h5py.File(path, "a") as h5:
        h5.attrs["complete"] = "false"
    assert "attribute 'complete' is 'false', expected a boolean" in one_line_error("fid", path, path)
    short = _features(tmp_path / "short.h5", labels=[str(i % 2) for i in range(20)])
    with h5py.File(short, "a") as h5:  # write_features would refuse to write it: make the lie by hand
        del h5["features"]
        h5["features"] = np.random.RandomState(0).randn(40, 8).astype(np.float32)
        h5.attrs["count"] = 40
    assert "'labels' has 20 rows, 'features' has 40" in one_line_error("fid", short, short, "--per-class")


def test_labels_from_files_are_escaped_on_every_line(tmp_path):
    labels = ["a\tb", "line\nbreak", "\x1b[31mred", "plain"]
    rows = [labels[i % 4] for i in range(80)]
    gen = _features(tmp_path / "gen.h5", rows=80, labels=rows)
    ref = _features(tmp_path / "ref.h5", rows=80, seed=1, labels=rows)
    proc = run_cli("fid", gen, ref, "--per-class", "-q", check=0)
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 6 and all(len(line.split("\t")) == 2 for line in lines), lines
    assert {line.split("\t")[0] for line in lines} == {"fid", "fid.a\\tb", "fid.line\\nbreak", "fid.\\x1b[31mred",
                                                       "fid.plain", "intra_fid"}
    assert b"\x1b" not in proc.stdout + proc.stderr
    info = run_cli("info", gen, check=0).stdout.decode().splitlines()
    assert all(len(line.split("\t")) == 2 for line in info)
    with h5py.File(gen, "a") as h5:  # provenance that forges a result line and colours the terminal
        h5.attrs["source"] = "x\nfid\t0.0"
        h5.attrs["evil\tkey"] = "\x1b[2J"
    proc = run_cli("info", gen, check=0)
    info = proc.stdout.decode().splitlines()
    assert all(len(line.split("\t")) == 2 for line in info) and "fid\t0.0" not in info
    assert "source\tx\\nfid\\t0.0" in info and "evil\\tkey\t\\x1b[2J" in info
    assert b"\x1b" not in proc.stdout


def test_labels_tsv_is_checked_before_extraction(tmp_path, image_folder):
    ids = sorted(p.relative_to(image_folder).as_posix() for p in image_folder.rglob("*.png"))
    cases = {"nul.tsv": ("".join(f"{i}\t0\n" for i in ids[:-1]) + f"{ids[-1]}\t0\x00\n").encode(),
             "utf16.tsv": "".join(f"{i}\t0\n" for i in ids).encode("utf-16"),
             "latin1.tsv": "".join(f"{i}\tcaf\xe9\n" for i in ids).encode("latin-1")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        started = time.perf_counter()
        err = one_line_error("extract", image_folder, "-b", "pixels:4", "--workers", "0", "--labels",
                             tmp_path / name, "-o", tmp_path / "x.h5")
        assert ("control character \\x00" in err or "not UTF-8" in err) and "line " in err, err
        assert not (tmp_path / "x.h5.partial").exists() and time.perf_counter() - started < 30
    (tmp_path / "bom.tsv").write_bytes(b"\xef\xbb\xbf" + "".join(f"{i}\t{n % 3}\n" for n, i in enumerate(ids)).encode())
    run_cli("extract", image_folder, "-b", "pixels:4", "--workers", "0", "--labels", tmp_path / "bom.tsv", "-q",
            "-o", tmp_path / "bom.h5", check=0)
    with gentools.load(str(tmp_path / "bom.h5")) as f:
        assert f.ids[0] == ids[0] and set(f.labels) == {"0", "1", "2"}


def _with_labels(path, labels):
    _features(path)
    with h5py.File(path, "a") as h5:
        h5["labels"] = labels
    return path


def test_numeric_label_datasets_are_canonical(tmp_path):
    floats = _with_labels(tmp_path / "f.h5", np.arange(40, dtype=np.float32) % 2)
    with gentools.load(str(floats)) as f:
        assert f.labels[:3] == ["0", "1", "0"]
    halves = _with_labels(tmp_path / "h.h5", np.arange(40, dtype=np.float32) / 2)
    assert "'labels': label '0.5' is not a class index" in one_line_error("fid", halves, halves, "--per-class")
    odd = _features(tmp_path / "o.h5", labels=[str(i % 2) if i else "--5" for i in range(40)])
    assert "class '--5'" in one_line_error("fid", odd, floats, "--per-class")  # sorted, then compared: no crash


# --- JSON, appends and logs -------------------------------------------------------------------------------------

def test_json_is_strict_and_non_finite_results_are_errors(tmp_path, feature_files):
    gen, ref = feature_files
    proc = run_cli("fid", gen, ref, "--json", "--tag", "lr=NaN", "--append", tmp_path / "m.jsonl", check=0)
    for text in (proc.stdout.decode(), (tmp_path / "m.jsonl").read_text()):
        record = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON token {c}"))
        assert record["tags"]["lr"] is None
    assert proc.stderr.decode().count("tags.lr: not a finite number, written as null") == 2
    huge = _features(tmp_path / "huge.h5", rows=60)
    with h5py.File(huge, "a") as h5:
        h5["features"][...] = 3e38
    err = one_line_error("kid", huge, huge, "--subset-size", "50")
    assert "float32 dot products overflowed" in err and "--exact" in err


def test_a_failed_append_still_prints_the_value(tmp_path, feature_files):
    gen, ref = feature_files
    for log in (tmp_path / "missing" / "m.jsonl", tmp_path):  # no such folder; a folder
        proc = run_cli("fid", gen, ref, "-q", "--append", log)
        assert proc.returncode == 1 and proc.stdout.decode().startswith("fid\t"), proc
        err = proc.stderr.decode()
        assert err.count("\n") == 1 and str(log) in err and "printed but not logged" in err


def test_report_skips_a_corrupt_line_and_scales_with_keys(tmp_path):
    log = tmp_path / "m.jsonl"
    good = [{"command": "fid", "values": {"fid": 10.0 - s}, "tags": {"step": s}} for s in (1, 2, 3)]
    lines = [json.dumps(good[0]), '{"command": "fid", "val', json.dumps(good[1]),
             json.dumps({"command": "x", "values": "a string", "tags": {"step": 9}}), json.dumps(good[2])]
    log.write_text("\n".join(lines) + "\n")
    proc = run_cli("report", log, check=0)
    assert proc.stdout.decode().splitlines() == ["step\tfid.fid", "1\t9.0", "2\t8.0", "3\t7.0"]
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "skipped line 2 (and 1 more)" in err
    wide = tmp_path / "wide.jsonl"
    wide.write_text("".join(json.dumps({"command": "log", "values": {f"k{i}": float(i + s) for i in range(3000)},
                                        "tags": {"step": s}}) + "\n" for s in range(5)))
    proc, seconds, _ = measured("report", wide, "-o", tmp_path / "wide.png", timeout=60)
    assert proc.returncode == 0 and len(proc.stdout.decode().splitlines()[0].split("\t")) == 3001
    assert seconds < 10, seconds


def test_log_refuses_what_is_not_a_number(tmp_path):
    torch = pytest.importorskip("torch")
    for kwargs, message in (({"step": float("nan")}, "step must be a whole number"),
                            ({"step": 10 ** 400}, "step must be a whole number"),
                            ({"step": 1, "loss": torch.ones(3)}, "loss must be one number")):
        with pytest.raises(gentools.GentoolsError, match=message):
            gentools.log(tmp_path / "l.jsonl", **kwargs)
    assert not (tmp_path / "l.jsonl").exists()
    gentools.log(tmp_path / "l.jsonl", step=torch.tensor(7), loss=torch.tensor(0.5))
    record = json.loads((tmp_path / "l.jsonl").read_text())
    assert record["tags"]["step"] == 7 and record["values"]["loss"] == 0.5
