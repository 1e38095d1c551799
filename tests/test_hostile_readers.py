"""Hostile files, second pass (issue 33): the readers the first pass did not reach.

Each reproduction is made here as the attacker made it, and each run must end in exit 0 with the right
result, or exit 1 with one line; no marker written, no outside byte copied, no victim changed, no hang
(10 s), and little memory (``measured`` reports each run's own peak RSS).
"""

from __future__ import annotations

import hashlib
import os
import shutil

import h5py
import numpy as np
import pytest
from PIL import Image

import gentools
from gentools import store
from tests.conftest import photo_crops, run_cli
from tests.test_hostile import _features, measured

FAST = 10  # seconds: no run here may take longer
SMALL = 1024  # MB: the most any run here may use (the command's own baseline is ~400 MB with torch)


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _images(root, count=6):
    folder = root / "images"
    folder.mkdir(exist_ok=True)
    for k, crop in enumerate(photo_crops(count, 16)):
        Image.fromarray(crop).save(folder / f"{k:02d}.png")
    return folder


def _ok(proc, seconds, rss):
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode() and seconds < FAST and rss < SMALL, (seconds, rss)


def _one_line(proc, seconds, rss, *words):
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("gentools: error:"), err
    assert all(w in err for w in words), err
    assert seconds < FAST and rss < SMALL, (seconds, rss)
    return err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A small image folder and its finished extraction (-b pixels:8): the partial files below are made from it."""
    root = tmp_path_factory.mktemp("partial")
    images = _images(root)
    run_cli("extract", images, "-b", "pixels:8", "--workers", "0", "-o", root / "whole.h5", check=0)
    with gentools.load(str(root / "whole.h5")) as f:
        return images, root / "whole.h5", f.array()


def _partial_from(finished, dest, rows=3):
    """``dest.partial`` as an interrupted run of the same job leaves it: ``rows`` rows done, complete=false."""
    partial = f"{dest}.partial"
    shutil.copy(finished[1], partial)
    with h5py.File(partial, "r+") as h5:
        for key in ("count",):
            del h5.attrs[key]
        h5.attrs["complete"], h5.attrs["rows_done"], h5.attrs["items_done"] = False, rows, rows
    return partial


@pytest.mark.parametrize("attack", ["external-link", "symlink", "fifo"])
def test_a_crafted_partial_never_writes_outside_itself(tmp_path, finished, attack):
    """Issue 33, item 3: ``features`` as an ExternalLink to another features file turned that 3,000-row file into
    60 unreadable rows; a symlinked partial is the same attack; a FIFO hung. Now the partial is refused, the run
    starts again (one warning) and the victim is unchanged."""
    images, _, whole = finished
    victim = _features(tmp_path / "victim.h5", rows=3000)
    before = _sha256(victim)
    dest = tmp_path / "out.h5"
    partial = _partial_from(finished, dest)
    if attack == "external-link":
        with h5py.File(partial, "r+") as h5:
            del h5["features"]
            h5["features"] = h5py.ExternalLink(str(victim), "features")
    elif attack == "symlink":
        os.unlink(partial)
        os.symlink(victim, partial)
    else:
        os.unlink(partial)
        os.mkfifo(partial)
    proc, seconds, rss = measured("extract", images, "-b", "pixels:8", "--workers", "0", "-o", dest, "--resume")
    _ok(proc, seconds, rss)
    assert "cannot be continued" in proc.stderr.decode() and "starting again" in proc.stderr.decode()
    assert _sha256(victim) == before
    with gentools.load(str(dest)) as f:
        np.testing.assert_array_equal(f.array(), whole)


@pytest.mark.parametrize("change", ["contiguous", "int8", "array-rows-done", "huge-ids", "soft-link",
                                    "virtual"])
def test_a_partial_gentools_did_not_write_cannot_be_resumed(tmp_path, finished, change):
    """Each was "unexpected TypeError", a silent resume, or 1.27 GB of ids; now :class:`CannotResume`, one line."""
    images, whole_path, _ = finished
    dest = tmp_path / "out.h5"
    partial = _partial_from(finished, dest)
    with h5py.File(partial, "r+") as h5:
        features = h5["features"][()]
        provenance = {k: v for k, v in h5.attrs.items()}
        if change in ("contiguous", "wide", "int8"):
            del h5["features"]
            data = {"contiguous": features, "int8": features.astype(np.int8)}[change]
            h5.create_dataset("features", data=data, **({} if change == "contiguous" else
                                                        {"maxshape": (None, data.shape[1]), "chunks": True}))
        elif change == "array-rows-done":
            h5.attrs["rows_done"] = np.array([3, 3])
        elif change == "huge-ids":
            h5.attrs["rows_done"], h5.attrs["items_done"] = 30_000_000, 30_000_000
        elif change == "soft-link":
            h5["elsewhere"] = features
            del h5["features"]
            h5["features"] = h5py.SoftLink("/elsewhere")
        else:
            layout = h5py.VirtualLayout(shape=features.shape, dtype=np.float32)
            layout[:] = h5py.VirtualSource(str(whole_path), "features", shape=features.shape)
            del h5["features"]
            h5.create_virtual_dataset("features", layout)
    with gentools.load(str(whole_path)) as f:
        ids = f.ids
    expected = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in provenance.items()}
    intact = _partial_from(finished, tmp_path / "intact.h5")  # the control: the same job's partial resumes
    assert store.FeatureWriter.resume_state(intact[: -len(".partial")], ids, expected) == (3, 3, [])
    with pytest.raises(store.CannotResume) as caught:
        store.FeatureWriter.resume_state(str(dest), ids, expected)
    assert "\n" not in str(caught.value) and str(caught.value)


def test_a_partial_of_this_job_still_resumes(tmp_path, finished):
    images, _, whole = finished
    dest = tmp_path / "out.h5"
    _partial_from(finished, dest)
    proc, seconds, rss = measured("extract", images, "-b", "pixels:8", "--workers", "0", "-o", dest, "--resume")
    _ok(proc, seconds, rss)
    assert "resuming" in proc.stderr.decode() and "3 rows done" in proc.stderr.decode()
    with gentools.load(str(dest)) as f:
        np.testing.assert_array_equal(f.array(), whole)


def test_a_partial_of_another_width_is_one_line(tmp_path, finished):
    """A partial of the right provenance whose rows are 3 wide (the job gives 192): was "unexpected TypeError"."""
    images, _, _ = finished
    dest = tmp_path / "out.h5"
    partial = _partial_from(finished, dest)
    with h5py.File(partial, "r+") as h5:
        del h5["features"]
        h5.create_dataset("features", data=np.zeros((6, 3), np.float32), maxshape=(None, 3), chunks=True)
    proc, seconds, rss = measured("extract", images, "-b", "pixels:8", "--workers", "0", "-o", dest, "--resume")
    err = proc.stderr.decode().splitlines()
    assert proc.returncode == 1 and len(err) == 2 and err[0].startswith("gentools: resuming"), err
    assert err[1].startswith("gentools: error:") and "rows of shape (3,)" in err[1] and "(192,)" in err[1], err
    assert seconds < FAST and rss < SMALL and not dest.exists()
