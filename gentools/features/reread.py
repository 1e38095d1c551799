"""Re-reading the image a features row came from (for nn-grid), by its id: only files inside the input root.

An id is text from a file someone else made. Joined to the root it could name
``../../etc/...``, an absolute path, a symlink out, a FIFO (which would block
the reader) or a device; :func:`image_for_id` opens only regular files under
the root and raises :class:`OutsideRoot` for anything else.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from gentools.features.images import (ARRAY_SUFFIXES, TAR_SUFFIXES, Item, Reader, array_row_to_rgb, decode,
                                      open_image_array)


class OutsideRoot(ValueError):
    """An id that names something other than a regular file under the input root: never opened."""


def regular_file_under(root: str, relative: str) -> str:
    """``root/relative`` resolved, once it is checked to be a regular file inside ``root`` (no ``..``, absolute
    path or symlink leads out; a FIFO or a device is never opened); raises :class:`OutsideRoot`."""
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, relative))
    if os.path.isabs(relative) or os.path.commonpath([base, target]) != base:
        raise OutsideRoot(f"'{relative}' lies outside the input root {root}")
    return regular_file(target)


def regular_file(path: str) -> str:
    """``path`` if it is a regular file (stat, not open: a FIFO would block); raises :class:`OutsideRoot`."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ValueError(exc.strerror or "cannot read") from None
    if not stat.S_ISREG(mode):
        raise OutsideRoot(f"'{path}' is not a regular file")
    return path


def image_for_id(row_id: str, source: str, root: Optional[str] = None) -> np.ndarray:
    """Re-read the image a features row came from, by its id and the file's ``source`` attribute.

    Works for folders, single files, zip/tar archives and npy/npz arrays. Only
    regular files under ``root`` (default: the recorded ``source``) are opened:
    an id leading elsewhere raises :class:`OutsideRoot`; ``ValueError`` when the
    input is gone or the row was generated.
    """
    if row_id.startswith("generator:"):
        raise ValueError("generated rows have no image to re-read (extract with --thumbnails)")
    root = root or source
    if os.path.isdir(root):
        return decode(regular_file_under(root, row_id))
    lower = root.lower()
    name, sep, member = row_id.partition(":")
    if lower.endswith(ARRAY_SUFFIXES) and row_id.endswith("]"):
        index = row_id[row_id.rindex("[") + 1:-1]
        if not index.isdigit():
            raise ValueError(f"'{row_id}' does not name an array row")
        return array_row_to_rgb(np.asarray(open_image_array(regular_file(root))[int(index)]))
    if sep and lower.endswith(".zip"):
        return Reader().read(Item(row_id, "zip", regular_file(root), member))
    if sep and lower.endswith(TAR_SUFFIXES):
        return Reader().read(Item(row_id, "tar", regular_file(root), member))
    if os.path.isfile(root):  # a single image was the whole input
        return decode(regular_file(root))
    raise OutsideRoot(f"'{row_id}': no folder holding the images is recorded (source {root!r})")
