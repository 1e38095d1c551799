"""What every backbone declares and does: provenance plus ``uint8 batch -> named feature rows``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np
import torch


@dataclass
class Backbone:
    """A feature network with the provenance recorded in every features file.

    ``run`` maps a uint8 NCHW batch on ``device`` (or, for per-image worker
    resizing, float 0..255) to ``{"features": [B, D], "logits": ..., ...}``.
    ``worker_transform`` runs on each decoded ``(H, W, 3)`` uint8 image in the
    decoding workers (`clean` resize); ``None`` when everything is batched.
    """

    name: str
    layer: str
    input_size: int  # 0: images go in at their own size
    normalisation: str
    resize: str
    weights_sha256: str
    run: Callable[[torch.Tensor], dict]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    worker_transform: Optional[Callable[[np.ndarray], np.ndarray]] = None
    runtime: str = ""  # how the network runs: "aoti", "eager", "pt2" or "torchscript" (see backbones.compiled)
    encode_text: Optional[Callable] = None  # captions -> float32 [N, E] (clip:), with .truncated(captions)
    modality: str = "image"  # "audio": run maps one float64 mono waveform at loading.rate to {"features": [F, D]};
    # "video": run maps uint8 clips [B, T, H, W, 3] to {"features": [B, D]}
    loading: Optional[object] = None  # audio: gentools.features.audio.Loading (rate, 16-bit round trip, min length)

    def provenance(self) -> dict:
        record = {"backbone": self.name, "layer": self.layer, "input_size": self.input_size,
                  "normalisation": self.normalisation, "resize": self.resize, "weights_sha256": self.weights_sha256}
        if self.runtime:
            record["runtime"] = self.runtime
        if self.modality != "image":  # absent means image, as in every file written before audio
            record["modality"] = self.modality
        if self.loading is not None:
            record.update(self.loading.provenance())
        return record


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU."""
    from gentools.errors import UsageError

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"--device {device}: expected auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available")
    return resolved


@contextlib.contextmanager
def full_float32(device: torch.device) -> Iterator[None]:
    """On CUDA, TF32 off (features must match the float32 references: TF32 convolutions differ in the third
    digit) and cuDNN autotuning on, for the block only: the caller's settings are restored after."""
    if device.type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, benchmark=True, deterministic=False, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


def tensor_outputs(out, names=("features", "logits")) -> dict:
    """Normalise a network's output (tensor, tuple, or dict) to named float32 ``[B, D]`` tensors."""
    if isinstance(out, dict):
        pairs = out.items()
    elif isinstance(out, (tuple, list)):
        pairs = zip(names, out)
    else:
        pairs = [("features", out)]
    return {name: value.flatten(1).float() for name, value in pairs}


def load_state_file(model: torch.nn.Module, path, what: str, select: Optional[Callable] = None) -> str:
    """Load a state dict file (optionally under a ``state_dict``, ``model`` or ``module`` key, as training
    checkpoints keep it; ``select`` maps the loaded object to the state dict instead) into ``model``; returns its
    sha256. Read with ``weights_only=True`` (tensors, plain values and numpy values only). A missing file or a
    mismatching layout is a one-line input error."""
    from pathlib import Path

    from gentools.errors import InputError
    from gentools.features.weights import sha256_of
    from gentools.store.torch_cache import numpy_globals

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found (--weights for {what})")
    try:
        with torch.serialization.safe_globals(numpy_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
        if select is not None:
            state = select(state)
        else:
            for key in ("state_dict", "model", "module"):
                if isinstance(state, dict) and isinstance(state.get(key), dict):
                    state = state[key]
                    break
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - unpickling and layout errors come in many kinds
        message = str(exc).split("WeightsUnpickler error:")[-1].strip()  # torch's reason, not its advice
        raise InputError(f"{path}: not a {what} state dict ({message.splitlines()[0][:160]})") from None
    return sha256_of(path)


def require_package(module: str, extra: str):
    """``import module``, or a usage error naming the extra that installs it."""
    from gentools.errors import UsageError

    try:
        return __import__(module)
    except ImportError:
        raise UsageError(f"this backbone needs the '{module}' package: pip install 'gentools[{extra}]'") from None
