"""The on-disk formats: gentools features/stats HDF5 files, .npy/.npz arrays, npz stats.

This package is the only h5py user. Schema:

features file  root attrs ``gentools_format="features"``, ``format_version=1``
               and provenance; datasets ``features`` float32 [N, D] (chunked by
               rows), optional ``logits`` [N, C], ``spatial`` [N, S],
               ``ids`` UTF-8 [N], ``thumbnails`` uint8 [N, h, w, 3], ``skipped``.
stats file     ``gentools_format="stats"``: ``mu`` float64 [D], ``sigma``
               float64 [D, D] (ddof=1), attr ``n``, optional ``spatial_mu`` /
               ``spatial_sigma`` (+ ``spatial_n``), provenance of the features.

Every write goes to a temporary file in the destination folder, is flushed and
fsynced, then renamed over the final name, so a reader never sees half a file.

Modules: ``formats`` (names, signatures), ``read`` (:class:`FeatureFile`,
:class:`Stats`, :func:`open_input`), ``write`` (atomic one-shot writers),
``partial`` (the resumable :class:`FeatureWriter`), ``latents``, ``pickles``
(EDM2 statistics through a restricted unpickler), ``torch_cache`` (torch-fidelity's cached ``.pt``).
"""

from gentools.store.formats import (  # noqa: F401 - the store's public names
    CLIP_KEYS, FEATURES, FORMAT_VERSION, GUARDED_KEYS, ROW_DATASETS, STATS, STORED_ROWS, Source, id_runs, many_rows_per_input,
    provenance_differences, sniff, source_label)
from gentools.store.latents import LATENTS, read_latents, write_latents  # noqa: F401
from gentools.store.partial import CannotResume, FeatureWriter, partial_path, rows_done  # noqa: F401
from gentools.store.pickles import StatsSet  # noqa: F401
from gentools.store.model import FeatureFile, Stats  # noqa: F401
from gentools.store.read import open_input  # noqa: F401
from gentools.store.write import (  # noqa: F401
    invocation, set_invocation, write_features, write_stats, write_stats_npz)

__all__ = ["CLIP_KEYS", "FEATURES", "FORMAT_VERSION", "GUARDED_KEYS", "ROW_DATASETS", "STATS", "Source", "sniff", "source_label",
           "STORED_ROWS", "id_runs", "many_rows_per_input", "provenance_differences",
           "LATENTS", "read_latents", "write_latents", "CannotResume", "FeatureWriter", "partial_path", "rows_done", "StatsSet",
           "FeatureFile", "Stats", "open_input", "invocation", "set_invocation", "write_features", "write_stats",
           "write_stats_npz"]
