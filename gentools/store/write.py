"""Writing gentools files atomically: a temporary file in the destination folder, flushed, fsynced, renamed."""

from __future__ import annotations

import h5py
import numpy as np

from gentools.errors import InputError
from gentools.files import atomic_path
from gentools.store.formats import (FADTK_MODEL_OF_BACKBONE, FEATURES, FORMAT_VERSION, STATS, entry_of,
                                    fadtk_model_of, row_dtype)

# Recorded as each file's ``argv`` attribute; the command line sets it (the library never reads sys.argv).
_INVOCATION = {"argv": "gentools (Python API)"}


def set_invocation(argv: str) -> None:
    """The command line that the files written from now on record as ``argv``."""
    _INVOCATION["argv"] = argv


def invocation() -> str:
    """The command line that files written now record as ``argv``."""
    return _INVOCATION["argv"]


def chunk_rows(row_bytes: int, cap: int) -> int:
    """HDF5 chunk length of a row dataset: about 1 MiB per chunk, at most ``cap`` rows."""
    return max(1, min(cap, (1 << 20) // max(1, row_bytes)))


def _write_attrs(h5, fmt: str, provenance: dict) -> None:
    """Format marker, provenance, and the write's own record (time, version, command line)."""
    import datetime

    from gentools._version import __version__

    h5.attrs["gentools_format"] = fmt
    h5.attrs["format_version"] = FORMAT_VERSION
    h5.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    h5.attrs["gentools_version"] = __version__
    h5.attrs["argv"] = _INVOCATION["argv"]
    provenance = {k: v for k, v in provenance.items() if k not in ("created", "gentools_version", "argv")}
    for key, value in provenance.items():
        if value is not None:
            h5.attrs[key] = value

def write_features(dest: str, arrays: dict, provenance: dict) -> None:
    """Write a features file atomically. ``arrays`` maps dataset name to array/list."""
    with atomic_path(dest) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, FEATURES, provenance)
        for name, data in arrays.items():
            if data is None:
                continue
            if name in ("ids", "labels", "skipped"):
                h5.create_dataset(name, data=list(data), dtype=h5py.string_dtype("utf-8"))
                continue
            data = np.asarray(data, dtype=np.int64 if name == "skipped_at" else row_dtype(name))
            rows = chunk_rows(data[0].nbytes, len(data)) if len(data) else 0
            h5.create_dataset(name, data=data, chunks=(rows, *data.shape[1:]) if len(data) else None)

def write_stats(dest: str, stats) -> None:
    """Write a stats file atomically (float64 ``mu``, ``sigma``, attr ``n``)."""
    with atomic_path(dest) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, STATS, stats.provenance)
        if stats.n is not None:
            h5.attrs["n"] = int(stats.n)
        h5.create_dataset("mu", data=np.asarray(stats.mu, dtype=np.float64))
        h5.create_dataset("sigma", data=np.asarray(stats.sigma, dtype=np.float64))
        if stats.spatial is not None:
            h5.create_dataset("spatial_mu", data=stats.spatial.mu)
            h5.create_dataset("spatial_sigma", data=stats.spatial.sigma)
            if stats.spatial.n is not None:
                h5.attrs["spatial_n"] = int(stats.spatial.n)

def write_stats_npz(dest: str, stats, compressed: bool = False) -> None:
    """Write ``mu``/``sigma`` (and ``mu_s``/``sigma_s``) as the npz pytorch-fid and clean-fid read."""
    arrays = {"mu": stats.mu, "sigma": stats.sigma}
    if stats.spatial is not None:
        arrays.update(mu_s=stats.spatial.mu, sigma_s=stats.spatial.sigma)
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)


# --format of `gentools stats`: each tool's own statistics file.
STATS_FORMATS = ("gentools", "pytorch-fid", "clean-fid", "adm", "edm2", "fadtk")


def write_stats_as(dest: str, stats, fmt: str) -> None:
    """``stats`` in format ``fmt`` (:data:`STATS_FORMATS`), as that tool writes it:

    - ``pytorch-fid``: ``np.savez(mu, sigma)`` (read by ``compute_statistics_of_path``);
    - ``clean-fid``: ``np.savez_compressed(mu, sigma)``, as ``make_custom_stats`` saves a custom statistic;
    - ``adm``: ``mu``, ``sigma``, ``mu_s``, ``sigma_s`` (guided-diffusion's ``read_statistics`` needs all four,
      so the stats must have spatial ones: ``extract --spatial``);
    - ``edm2``: the pickle ``{"<key>": {"mu", "sigma"}, "num_images": n}``, key ``fid`` (Inception) or
      ``fd_dinov2`` (dinov2:vitl14), as ``calculate_metrics.py ref`` dumps it;
    - ``fadtk``: ``np.savez`` of ``MODEL.mu`` and ``MODEL.cov`` (MODEL: fadtk's name of the audio backbone,
      e.g. ``vggish``), what ``FrechetAudioDistance.load_stats`` reads from a stats file.
    """
    from gentools.errors import UsageError

    label = getattr(stats, "label", "") or "<stats>"
    if fmt == "gentools":
        return write_stats(dest, stats)
    if fmt in ("pytorch-fid", "clean-fid"):
        return write_stats_npz(dest, stats, compressed=fmt == "clean-fid")
    if fmt == "adm":
        if stats.spatial is None:
            raise InputError(f"--format adm needs spatial (sFID) statistics beside mu/sigma, and these have none: "
                             f"extract with --spatial ({label})")
        return write_stats_npz(dest, stats)
    if fmt == "edm2":
        return _write_edm2(dest, stats, label)
    if fmt == "fadtk":
        return _write_fadtk(dest, stats, label)
    raise UsageError(f"--format {fmt}: expected one of {', '.join(STATS_FORMATS)}")


def _write_edm2(dest: str, stats, label: str) -> None:
    import pickle

    backbone = str(stats.provenance.get("backbone", ""))
    key = entry_of(backbone)
    if key is None:
        raise InputError(f"--format edm2 holds Inception ('fid') or dinov2:vitl14 ('fd_dinov2') statistics; these "
                         f"come from '{backbone or 'an unknown backbone'}' ({label})")
    if stats.n is None:
        raise InputError(f"--format edm2 records num_images, and these statistics carry no n ({label})")
    record = {key: {"mu": np.asarray(stats.mu, np.float64), "sigma": np.asarray(stats.sigma, np.float64)},
              "num_images": int(stats.n)}
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(record, fh)


def _write_fadtk(dest: str, stats, label: str) -> None:
    backbone = str(stats.provenance.get("backbone", ""))
    model = fadtk_model_of(backbone, str(stats.provenance.get("layer", "")))
    if model is None:
        known = ", ".join(b for b, _ in FADTK_MODEL_OF_BACKBONE) + ", hf:facebook/wav2vec2-*-960h, ..."
        raise InputError(f"--format fadtk keys statistics by fadtk's model name, and "
                         f"'{backbone or 'an unknown backbone'}' has none (audio backbones: {known}) ({label})")
    arrays = {f"{model}.mu": np.asarray(stats.mu, np.float64), f"{model}.cov": np.asarray(stats.sigma, np.float64)}
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
