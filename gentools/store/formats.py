"""Names and signatures of the on-disk formats, shared by the store's readers and writers."""

from __future__ import annotations

from typing import Union

import numpy as np

from gentools.errors import InputError
from gentools.store.pickles import is_pickle

FORMAT_VERSION = 1
FEATURES, STATS = "features", "stats"
ROW_DATASETS = ("features", "logits", "spatial", "text_features", "ids", "labels", "thumbnails", "clip_start")
STORED_ROWS = ("ids", "labels", "thumbnails", "clip_start")  # read as stored (raw), not as checked floats
MANY_ROWS_PER_INPUT = ("audio", "video")  # modalities where one input gives a run of rows with its id


def row_dtype(name: str):
    """The stored dtype of row dataset ``name``: uint8 thumbnails, int64 clip start frames, else float32."""
    return {"thumbnails": np.uint8, "clip_start": np.int64}.get(name, np.float32)


def many_rows_per_input(provenance: dict) -> bool:
    """Whether an input (a sound file, a video) gives a run of rows carrying its id, rather than one row."""
    return provenance.get("modality") in MANY_ROWS_PER_INPUT
TEXT_ROWS = ("ids", "labels")  # UTF-8 string row datasets
# Provenance attributes that must agree between two inputs of one metric.
# Clips of 16 and of 128 frames are different features: frames and subsample are guarded too (absent on images
# and sound). Where a clip starts is not: StyleGAN-V compares random-start real clips with first-frame fakes.
GUARDED_KEYS = ("backbone", "weights_sha256", "resize", "layer", "frames", "subsample")
CLIP_KEYS = ("clip_start", "clips_per_video", "clip_seed")  # one extraction job's clips: resume and merge check them

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"

# An input is a path, or the bytes of a file read from stdin.
Source = Union[str, bytes]


def sniff(data: bytes) -> str:
    """Name the binary format whose signature starts ``data``, or ``""``."""
    if data.startswith(HDF5_MAGIC):
        return "hdf5"
    if data.startswith(NPY_MAGIC):
        return "npy"
    if data.startswith(ZIP_MAGIC):
        return "npz"
    if is_pickle(data):
        return "pickle"
    return ""

def source_label(source: Source) -> str:
    return "<stdin>" if isinstance(source, bytes) else str(source)

def _attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value

def _read_head(path: str) -> bytes:
    """The first 8 bytes of a regular file (a FIFO or a device is refused: it would block, or never end)."""
    from gentools.files import NotRegular, open_regular

    try:
        with open_regular(path) as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise InputError(f"no such file ({path})") from None
    except IsADirectoryError:
        raise InputError(f"is a directory, expected a file ({path})") from None
    except NotRegular as exc:
        raise InputError(f"{str(exc).rsplit(': ', 1)[-1]} ({path})") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror} ({path})") from None
    if not head:
        raise InputError(f"file is empty ({path})")
    return head


def id_runs(ids) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of equal consecutive ids: in an audio features file, one sound file's
    frames (its rows are contiguous and all carry its id)."""
    bounds = [k for k in range(1, len(ids)) if ids[k] != ids[k - 1]]
    return list(zip([0] + bounds, bounds + [len(ids)])) if len(ids) else []


def provenance_differences(a: dict, b: dict, keys, ignore_missing: bool = False) -> list:
    """``[(key, a[key], b[key])]`` for the ``keys`` whose values differ (compared as text, absent = "");
    with ``ignore_missing``, a key absent on either side is not a difference. The one provenance comparison:
    the metric guard, shard merges, resume and "already finished" all use it."""
    out = []
    for key in keys:
        va, vb = a.get(key), b.get(key)
        if ignore_missing and (va in (None, "") or vb in (None, "")):
            continue
        if str("" if va is None else va) != str("" if vb is None else vb):
            out.append((key, va, vb))
    return out
