"""torch-fidelity's cache files (``torch.save`` zips of statistics or feature tensors), read without running them."""

from __future__ import annotations

import io

import numpy as np

from gentools.errors import FormatError
from gentools.store.formats import Source
from gentools.store.model import FeatureFile, Stats, make_stats


def is_torch_archive(archive) -> bool:
    """torch.save's zip: one top folder holding ``data.pkl`` (an npz holds ``.npy`` members only)."""
    names = archive.namelist()
    return any(n.endswith("/data.pkl") and n.count("/") == 1 for n in names) and not any(n.endswith(".npy")
                                                                                       for n in names)


def numpy_globals() -> list:
    """What numpy values in a ``torch.save`` file unpickle through, for ``torch.load(weights_only=True)``: arrays
    (``_reconstruct``), scalars such as a checkpoint's epoch (``scalar(dtype, bytes)``), dtypes; each under the
    name numpy 1.x writes (``numpy.core``) and 2.x writes (``numpy._core``). They rebuild values from bytes and
    run nothing else."""
    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    pairs = [(getattr(core, name), f"numpy.{folder}.multiarray.{name}") for name in ("_reconstruct", "scalar")
             for folder in ("core", "_core")]
    return [*pairs, np.ndarray, np.dtype, *{type(np.dtype(c)) for c in "fdgihlqbBHILQ?e"}]


def open_torch(source: Source, label: str) -> FeatureFile | Stats:
    """torch-fidelity's cache: ``{"mu", "sigma"}`` numpy arrays (``-stat-fid-`` files) or a 2-D feature tensor
    (``-features-`` files), read with ``torch.load(weights_only=True)`` and numpy's value rebuilders
    (:func:`numpy_globals`) as the only globals allowed, so nothing in the file runs."""
    import torch


    try:
        with torch.serialization.safe_globals(numpy_globals()):
            obj = torch.load(io.BytesIO(source) if isinstance(source, bytes) else source, map_location="cpu",
                             weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds on refused or corrupt files
        text = str(exc)
        reason = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0] if \
            "WeightsUnpickler error:" in text else (text.strip().splitlines() or [type(exc).__name__])[0]
        raise FormatError(f"torch file refused or corrupt ({reason[:200]}); nothing in it was run ({label})") from None
    if isinstance(obj, torch.Tensor):
        return FeatureFile(label, {"features": obj.numpy()}, {})
    if isinstance(obj, dict) and {"mu", "sigma"} <= set(obj):
        mu, sigma = (v.numpy() if isinstance(v, torch.Tensor) else v for v in (obj["mu"], obj["sigma"]))
        return make_stats(mu, sigma, None, label)
    raise FormatError(f"torch file holds a {type(obj).__name__}; expected torch-fidelity's {{'mu', 'sigma'}} "
                      f"statistics or a feature tensor ({label})")
