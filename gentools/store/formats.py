"""Names and signatures of the on-disk formats, shared by the store's readers and writers."""

from __future__ import annotations

import re
from typing import Union

import numpy as np

from gentools.errors import InputError

FORMAT_VERSION = 1
PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")  # protocols 2-5
FEATURES, STATS = "features", "stats"
ROW_DATASETS = ("features", "logits", "spatial", "text_features", "ids", "labels", "thumbnails", "clip_start")
STORED_ROWS = ("ids", "labels", "thumbnails", "clip_start")  # read as stored (raw), not as checked floats
MANY_ROWS_PER_INPUT = ("audio", "video")  # modalities where one input gives a run of rows with its id


def is_pickle(head: bytes) -> bool:
    return head[:2] in PICKLE_MAGIC


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


# Which entry serves which backbone (EDM2's metric_specs: 'fid' = Inception, 'fd_dinov2' = dinov2_vitl14).
ENTRY_OF_BACKBONE = (("inception", "fid"), ("nvidia:inception", "fid"), ("dinov2:vitl14", "fd_dinov2"))


# fadtk's stats files (``fadtk/stats/*.npz``, read by ``FrechetAudioDistance.load_stats``) key each model's
# statistics by its ModelLoader name: ``data[f'{self.ml.name}.mu']``, ``data[f'{self.ml.name}.cov']``.
# The names, from fadtk 1.1.0's model_loader.py: ``super().__init__("vggish", 128, 16000, min_len=1)``,
# ``'encodec-emb' if variant == '24k'``, ``super().__init__(f"clap-laion-{type}", 512, 48000)``, and for
# W2V2Model / HuBERTModel / WavLMModel
# ``f"w2v2-{size}" + ("" if (layer == 12 and size == 'base') or (layer == 24 and size == 'large') else f"-{layer}")``
# with ``huggingface_id = f"facebook/wav2vec2-{size}-960h"`` (``hubert-``: ``facebook/hubert-{size}-ls960``;
# ``wavlm-``: ``patrickvonplaten/wavlm-libri-clean-100h-{size}``, base-plus' last layer 12). Whisper has none:
# fadtk keeps decoder positions, ``hf:`` the encoder's hidden states.
FADTK_MODEL_OF_BACKBONE = (("vggish", "vggish"), ("encodec:24k", "encodec-emb"),
                           ("clap:laion-audio", "clap-laion-audio"), ("clap:laion-music", "clap-laion-music"))
FADTK_HF_MODELS = (("facebook/wav2vec2-{size}-960h", "w2v2-{size}", ("base", "large")),
                   ("facebook/hubert-{size}-ls960", "hubert-{size}", ("base", "large")),
                   ("patrickvonplaten/wavlm-libri-clean-100h-{size}", "wavlm-{size}", ("base", "base-plus", "large")))


def fadtk_model_of(backbone: str, layer: str = "") -> str | None:
    """fadtk's model name for a gentools audio backbone and its ``layer`` provenance (``hidden_states[L]`` for
    ``hf:``): the key prefix in fadtk's stats files; None where fadtk has no such model."""
    if backbone in dict(FADTK_MODEL_OF_BACKBONE):
        return dict(FADTK_MODEL_OF_BACKBONE)[backbone]
    match = re.fullmatch(r"hidden_states\[(\d+)\]", layer)
    for hub_id, name, sizes in FADTK_HF_MODELS:
        for size in sizes:
            if match and backbone == "hf:" + hub_id.format(size=size):
                last = 24 if size == "large" else 12
                number = int(match[1])
                return name.format(size=size) + ("" if number == last else f"-{number}")
    return None


def entry_of(backbone: str) -> str | None:
    """The EDM2 key of a backbone's statistics (``nvidia:inception...`` is NVIDIA's Inception detector file)."""
    for prefix, entry in ENTRY_OF_BACKBONE:
        if backbone == prefix or (prefix.startswith("nvidia:") and backbone.startswith(prefix)):
            return entry
    return None
