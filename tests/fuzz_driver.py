"""Fuzz one reader: mutate a valid file many times and run a gentools command on each mutant, in this process.

    python -m tests.fuzz_driver READER COUNT SEED WORKDIR

prints one JSON object: runs, outcomes (exit code -> count), the slowest run's seconds, this process's peak RSS
in MB, and the first few runs that broke the rules (an exit code other than 0/1, stderr that is not one
`gentools: error:` line, an "unexpected" error, an exception escaping the CLI's boundary). tests/test_fuzz.py runs
it in a subprocess per reader, so a crash of the interpreter shows as the driver's exit code, not as a lost worker.
Every mutant is made in code from a seeded generator; nothing binary is committed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import resource
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

PROVENANCE = {"backbone": "inception", "layer": "pool3", "weights_sha256": "abc", "resize": "tf"}


def pick(rng, options: list):
    """One of ``options`` as it is (``rng.choice`` would turn a mixed list into numpy strings)."""
    return options[rng.randint(len(options))]


# --- valid seeds ---------------------------------------------------------------------------------------------

def _png(rng, size=8) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.randint(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _features_h5(path: Path, rng, rows=24, dim=6) -> None:
    from gentools import store

    store.write_features(str(path), {"features": rng.randn(rows, dim).astype(np.float32),
                                     "ids": [f"{i}.png" for i in range(rows)],
                                     "labels": [str(i % 3) for i in range(rows)]},
                         dict(PROVENANCE, count=rows, complete=True, source="/data"))


def _stats_h5(path: Path, rng, dim=6) -> None:
    with h5py.File(path, "w") as h5:
        h5.attrs.update(gentools_format="stats", format_version=1, n=50, **PROVENANCE)
        h5["mu"] = rng.randn(dim)
        h5["sigma"] = np.cov(rng.randn(50, dim), rowvar=False)


# --- mutations ---------------------------------------------------------------------------------------------------

def mutate_bytes(data: bytes, rng) -> bytes:
    """Bit flips, truncation, overwritten ranges, inserted bytes, or size fields set to large values."""
    data = bytearray(data)
    kind = rng.randint(6)
    if kind == 0:
        for _ in range(rng.randint(1, 9)):
            pos = rng.randint(len(data))
            data[pos] ^= 1 << rng.randint(8)
    elif kind == 1:
        data = data[:rng.randint(len(data))]
    elif kind == 2:
        pos = rng.randint(len(data))
        span = rng.randint(1, 64)
        data[pos:pos + span] = rng.randint(0, 256, span, dtype=np.uint8).tobytes()
    elif kind == 3:
        pos = rng.randint(len(data))
        data[pos:pos] = rng.randint(0, 256, rng.randint(1, 64), dtype=np.uint8).tobytes()
    elif kind == 4:  # a declared size or offset lies: a 4- or 8-byte field set to something large
        pos = rng.randint(max(1, len(data) - 8))
        width = 4 if rng.rand() < 0.5 else 8
        value = pick(rng, [2 ** 31 - 1, 2 ** 32 - 1, 2 ** 40, 2 ** 63 - 1, int(rng.randint(1, 2 ** 30))])
        data[pos:pos + width] = value.to_bytes(8, "little")[:width]
    else:
        pos = rng.randint(len(data))
        data[pos:pos + rng.randint(1, 256)] = bytes(min(256, len(data) - pos))
    return bytes(data)


def _h5_structural(path: Path, rng) -> None:
    """A valid features or stats file with one part replaced by a wrong type, shape or declaration."""
    _features_h5(path, rng)
    with h5py.File(path, "a") as h5:
        choice = rng.randint(12)
        if choice == 0:
            h5.attrs["complete"] = pick(rng, ["false", "0", "true"])
        elif choice == 1:
            h5.attrs["count"] = pick(rng, [-1, 10 ** 12, 3])
        elif choice == 2:
            h5.attrs["format_version"] = pick(rng, [0, 99, -1])
        elif choice == 3:
            del h5["labels"]
            h5["labels"] = rng.randn(int(rng.randint(0, 40)))
        elif choice == 4:
            del h5["ids"]
            h5["ids"] = rng.randint(0, 9, (24, 2))
        elif choice == 5:
            del h5["features"]
            h5.create_dataset("features", shape=(int(rng.randint(1, 10 ** 9)), 6), dtype="f4", chunks=(64, 6))
        elif choice == 6:
            del h5["features"]
            h5["features"] = np.full((24, 6), pick(rng, [np.nan, np.inf, 3e38]), np.float32)
        elif choice == 7:
            del h5["features"]
            h5["features"] = rng.randint(0, 255, (24,) + tuple(rng.randint(1, 4, rng.randint(0, 4))))
        elif choice == 8:
            del h5["labels"]
            h5["labels"] = [("x" * int(rng.randint(0, 3)) + chr(int(rng.randint(1, 40)))).encode() for _ in range(24)]
        elif choice == 9:
            h5.attrs["backbone"] = np.arange(3)
        elif choice == 10:
            del h5["features"]
            h5["features"] = h5py.SoftLink("/features")
        else:
            del h5["features"]
            h5.create_group("features")


def _pickle_structural(rng) -> bytes:
    values = [rng.randn(6), np.eye(6), rng.randn(6).astype(np.float16), np.arange(6, dtype=">i4"), [1.0] * 6,
              "mu", None, 7, {"a": 1}, np.array(["a", "b"]), np.zeros((2, 3, 4))]
    entry = {k: values[rng.randint(len(values))] for k in ("mu", "sigma") if rng.rand() < 0.9}
    obj = {"num_images": pick(rng, [50, -1, 1, 2.5, "x"]), "fid": entry}
    return pickle.dumps(obj if rng.rand() < 0.9 else [obj], protocol=int(rng.randint(2, 6)))


def _jsonl_seed(rng) -> str:
    lines = [json.dumps({"command": "fid", "values": {"fid": float(rng.rand()), "kid_mean": 1.0},
                         "tags": {"step": s, "run": "a"}}) for s in range(6)]
    return "\n".join(lines) + "\n"


# --- readers: (make a mutant in the work dir, the command that reads it) ----------------------------------------

def reader_hdf5(work: Path, rng, index: int):
    path = work / f"m{index}.h5"
    if rng.rand() < 0.4:
        _h5_structural(path, rng)
    else:
        _features_h5(work / "seed.h5", rng)
        path.write_bytes(mutate_bytes((work / "seed.h5").read_bytes(), rng))
    ref = work / "ref.npy"
    commands = [["info", path], ["fid", path, ref, "--force"], ["diversity", path], ["fid", path, path, "--per-class"],
                ["kid", path, ref, "--subset-size", "10", "--subsets", "3", "--force"], ["merge", path, "-o", work / "o.h5"]]
    return commands[index % len(commands)]


def reader_stats(work: Path, rng, index: int):
    path = work / f"m{index}.h5"
    _stats_h5(work / "seed.h5", rng)
    path.write_bytes(mutate_bytes((work / "seed.h5").read_bytes(), rng))
    return [["info", path], ["fid", work / "ref.npy", path, "--force"]][index % 2]


def reader_numpy(work: Path, rng, index: int):
    suffix = (".npy", ".npz")[index % 2]
    seed = work / f"seed{suffix}"
    if suffix == ".npy":
        np.save(seed, rng.randn(24, 6).astype(np.float32))
    elif rng.rand() < 0.5:
        np.savez(seed, mu=rng.randn(6), sigma=np.eye(6))
    else:
        np.savez_compressed(seed, features=rng.randn(24, 6).astype(np.float32))
    path = work / f"m{index}{suffix}"
    path.write_bytes(mutate_bytes(seed.read_bytes(), rng))
    return [["info", path], ["fid", path, work / "ref.npy"]][(index // 2) % 2]


def reader_pickle(work: Path, rng, index: int):
    path = work / f"m{index}.pkl"
    if rng.rand() < 0.4:
        path.write_bytes(_pickle_structural(rng))
    else:
        good = pickle.dumps({"num_images": 50, "fid": {"mu": rng.randn(6), "sigma": np.eye(6)}},
                            protocol=int(rng.randint(2, 6)))
        path.write_bytes(mutate_bytes(good, rng))
    return [["info", path], ["fid", work / "gen.h5", path]][index % 2]


def reader_tsv(work: Path, rng, index: int):
    path = work / f"m{index}.tsv"
    rows = [f"{i}.png\t{i % 3}" for i in range(4)]
    if rng.rand() < 0.4:  # text-level changes that keep it UTF-8: odd labels, a line lost or doubled, CRLF
        odd = ["", " ", "é", "a\tb", "-5", "²", "🙂", "x" * 300, "3.0"]
        rows = [f"{i}.png\t{pick(rng, odd)}" for i in range(4)]
        choice = rng.randint(4)
        if choice == 0:
            rows.pop(int(rng.randint(4)))
        elif choice == 1:
            rows.append(rows[0])
        elif choice == 2:
            rows.insert(1, "")
        sep = "\r\n" if choice == 3 else "\n"
        path.write_bytes((sep.join(rows) + sep).encode())
    else:
        lines = pick(rng, [b"\xef\xbb\xbf", b"\xff\xfe", b""]) + ("\n".join(rows) + "\n").encode()
        path.write_bytes(mutate_bytes(lines, rng))
    return ["extract", work / "images", "-b", "pixels:4", "--workers", "0", "--labels", path, "-o", work / "o.h5"]


def reader_captions(work: Path, rng, index: int):
    path = work / f"m{index}.tsv"
    lines = "".join(f"{i}.png\ta photo of {i}\n" for i in range(4)).encode()
    path.write_bytes(mutate_bytes(lines, rng))
    return ("captions", path)  # read_tsv as extract --captions reads it (the clip: model is not needed for that)


def reader_jsonl(work: Path, rng, index: int):
    path = work / f"m{index}.jsonl"
    path.write_bytes(mutate_bytes(_jsonl_seed(rng).encode(), rng))
    return ["report", path] + (["-o", work / "trend.png"] if index % 25 == 0 else [])


def reader_archive(work: Path, rng, index: int):
    suffix = (".zip", ".tar")[index % 2]
    seed = work / f"seed{suffix}"
    members = {f"{i}.png": _png(rng) for i in range(3)}
    if suffix == ".zip":
        with zipfile.ZipFile(seed, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(seed, "w") as tf:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    path = work / f"m{index}{suffix}"
    path.write_bytes(mutate_bytes(seed.read_bytes(), rng))
    return ["extract", path, "-b", "pixels:4", "--workers", "0", "-o", work / "o.h5"]


def reader_png(work: Path, rng, index: int):
    folder = work / f"png{index}"
    folder.mkdir()
    (folder / "a.png").write_bytes(mutate_bytes(_png(rng, int(rng.randint(4, 24))), rng))
    return ["extract", folder, "-b", "pixels:4", "--workers", "0", "-o", work / "o.h5"]


# --- the readers of issue 33: called directly, each with the one exception type its callers turn into one line -----

def _pt2_seed(work: Path) -> Path:
    seed = work / "seed.pt2"
    if not seed.exists():
        import torch

        module = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Tanh()).eval()
        batch = torch.export.Dim("batch")
        torch.export.save(torch.export.export(module, (torch.zeros(2, 4),), dynamic_shapes=({0: batch},)), str(seed))
    return seed


def reader_pt2(work: Path, rng, index: int):
    path = work / f"m{index}.pt2"
    data = _pt2_seed(work).read_bytes()
    if rng.rand() < 0.3:  # renamed, doubled or re-cased members: the names torch's case-blind reader looks up
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as out:
            infos = src.infolist()
            victim = pick(rng, [i.filename for i in infos])
            for info in infos:
                name = info.filename
                if name == victim:
                    name = pick(rng, [name.upper(), name.replace("/", "//", 1), name + "/", "./" + name, name])
                out.writestr(name, src.read(info))
                if info.filename == victim and rng.rand() < 0.5:
                    out.writestr(info.filename.swapcase(), mutate_bytes(src.read(info) or b"x", rng))
    else:
        path.write_bytes(mutate_bytes(data, rng))
    return ("pt2", path)


def reader_partial(work: Path, rng, index: int):
    from gentools import store

    dest = work / f"m{index}.h5"
    if not (work / "partial-seed.h5").exists():
        writer = store.FeatureWriter(str(work / "partial-seed-x.h5"), dict(PROVENANCE, source="/data"))
        writer.open()
        writer.append([f"{i}.png" for i in range(6)], {"features": rng.randn(6, 6).astype(np.float32)}, [])
        writer.close()
        os.replace(work / "partial-seed-x.h5.partial", work / "partial-seed.h5")
    Path(f"{dest}.partial").write_bytes(mutate_bytes((work / "partial-seed.h5").read_bytes(), rng))
    return ("partial", dest)


def reader_latents(work: Path, rng, index: int):
    from gentools import store

    suffix = (".npy", ".h5")[index % 2]
    seed = work / f"latents-seed{suffix}"
    if suffix == ".npy":
        np.save(seed, rng.randn(8, 4).astype(np.float32))
    else:
        store.write_latents(str(seed), {"latents": rng.randn(8, 4).astype(np.float32),
                                        "names": [f"z{i}" for i in range(8)]}, {"seed": 1})
    path = work / f"m{index}{suffix}"
    path.write_bytes(mutate_bytes(seed.read_bytes(), rng))
    return ("latents", path)


def reader_refs_record(work: Path, rng, index: int):
    record = {"name": "lab/r", "file": "r.npz", "sha256": "0" * 64, "size": 123, "url": "https://example.org/r.npz",
              "format": "file", "preset": "", "pulled": "2026-01-01"}
    path = work / f"m{index}.json"
    path.write_bytes(mutate_bytes(json.dumps(record).encode(), rng))
    return ("refs-record", path)


def reader_sound(work: Path, rng, index: int):
    import soundfile

    suffix = (".wav", ".flac")[index % 2]
    seed = work / f"sound-seed{suffix}"
    soundfile.write(seed, (rng.randn(int(rng.randint(200, 8000))) * 0.1).astype(np.float32),
                    int(pick(rng, [8000, 16000, 22050, 44100])), format=suffix[1:].upper())
    path = work / f"m{index}{suffix}"
    path.write_bytes(mutate_bytes(seed.read_bytes(), rng))
    return ("sound", path)


def reader_video(work: Path, rng, index: int):
    suffix = (".gif", ".avi")[index % 2]
    seed = work / f"video-seed{suffix}"
    if suffix == ".gif":
        frames = [Image.fromarray(rng.randint(0, 256, (8, 8, 3), dtype=np.uint8)) for _ in range(3)]
        frames[0].save(seed, save_all=True, append_images=frames[1:], duration=40)
    elif not seed.exists():
        import av

        with av.open(str(seed), "w") as container:
            stream = container.add_stream("mjpeg", rate=8)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuvj420p"
            for _ in range(3):
                frame = av.VideoFrame.from_ndarray(rng.randint(0, 256, (16, 16, 3), dtype=np.uint8), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    path = work / f"m{index}{suffix}"
    path.write_bytes(mutate_bytes(seed.read_bytes(), rng))
    return ("video", path)


def _call_reader(kind: str, path: Path) -> None:
    """The reader of ``kind`` on ``path``, as its command calls it."""
    if kind == "captions":
        from gentools.features.annotations import read_tsv

        read_tsv(str(path), "caption")
    elif kind == "pt2":
        import torch

        from gentools.features import model_files

        model_files.load(path, torch.device("cpu"), "generator")
    elif kind == "partial":
        from gentools import store

        store.FeatureWriter.resume_state(str(path), [f"{i}.png" for i in range(6)],
                                         dict(PROVENANCE, source="/data"))
    elif kind == "latents":
        from gentools import store

        store.read_latents(str(path))
    elif kind == "refs-record":
        from gentools.refs import cache

        cache.read_json(path, "the reference's record")
    elif kind == "sound":
        from gentools.features.audio import Loading, decode

        data, rate = decode(str(path))
        Loading(16000).prepare(data, rate)
    else:
        from gentools.features.video import decode_video

        decode_video(str(path))


READERS = {"hdf5": reader_hdf5, "stats": reader_stats, "numpy": reader_numpy, "pickle": reader_pickle,
           "labels-tsv": reader_tsv, "captions-tsv": reader_captions, "jsonl": reader_jsonl,
           "archive": reader_archive, "png": reader_png, "pt2": reader_pt2, "partial": reader_partial,
           "latents": reader_latents, "refs-record": reader_refs_record, "sound": reader_sound, "video": reader_video}


def _setup(work: Path) -> None:
    from gentools import store

    rng = np.random.RandomState(12345)
    np.save(work / "ref.npy", rng.randn(40, 6).astype(np.float32))
    store.write_features(str(work / "gen.h5"), {"features": rng.randn(40, 6).astype(np.float32)},
                         dict(PROVENANCE, count=40, complete=True, source="/g"))
    (work / "images").mkdir()
    for i in range(4):
        (work / "images" / f"{i}.png").write_bytes(_png(rng))


def _run_one(command) -> tuple[int, str]:
    """Exit code and stderr of one CLI run in this process (or of read_tsv for the captions reader)."""
    from gentools.cli import run

    if isinstance(command, tuple):  # a reader called directly: its documented failures are one line
        from gentools.errors import GentoolsError
        from gentools.store import CannotResume

        try:
            _call_reader(*command)
            return 0, ""
        except GentoolsError as exc:
            return exc.exit_code, f"gentools: error: {exc}\n"
        except (CannotResume, ValueError) as exc:  # resume starts again; decoders' reasons become one line
            message = str(exc)
            return 1, f"gentools: error: {message}\n" if message and "\n" not in message else f"bad: {exc!r}\n"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in command] + ["-q"])
    return code, err.getvalue()


def _peak_rss_mb() -> float:
    """This process's own high-water RSS (VmHWM; ru_maxrss would start from the parent's RSS at fork)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(reader: str, count: int, seed: int, work: Path) -> dict:
    _setup(work)
    rng = np.random.RandomState(seed)
    outcomes: dict = {}
    messages: dict = {}
    broken, slowest = [], 0.0
    for index in range(count):
        command = READERS[reader](work, rng, index)
        started = time.perf_counter()
        try:
            code, err = _run_one(command)
        except BaseException as exc:  # noqa: BLE001 - anything escaping the CLI's boundary is a finding
            code, err = -1, f"escaped: {type(exc).__name__}: {exc}\n"
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        outcomes[code] = outcomes.get(code, 0) + 1
        lines = err.splitlines()
        if code == 1 and lines:
            words = " ".join(w for w in lines[0].split()[2:8] if "/" not in w)
            messages[words] = messages.get(words, 0) + 1
        ok = code == 0 and not lines or code == 1 and len(lines) == 1 and lines[0].startswith("gentools: error:") \
            and "run with --debug for the traceback" not in lines[0] and "Traceback" not in err
        if not ok or seconds > 10:
            broken.append({"index": index, "command": [str(c) for c in command], "code": code,
                           "stderr": err[-400:], "seconds": round(seconds, 2)})
        for leftover in work.glob(f"m{index}*"):
            if leftover.is_file():
                leftover.unlink()
    rss = _peak_rss_mb()
    return {"reader": reader, "runs": count, "outcomes": {str(k): v for k, v in sorted(outcomes.items())},
            "slowest_s": round(slowest, 3), "peak_rss_mb": round(rss, 1), "broken": broken[:5],
            "broken_count": len(broken),
            "errors": dict(sorted(messages.items(), key=lambda kv: -kv[1])[:8])}


if __name__ == "__main__":
    os.environ.setdefault("GENTOOLS_NO_STDIN", "1")
    name, runs, seed_value, folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    print(json.dumps(main(name, runs, seed_value, folder)))
