"""What a row carries beside its features: class ``labels`` and caption embeddings (``text_features``).

- ``--labels folder``: the first folder under the input root, as torchvision's ``ImageFolder``;
- ``--labels FILE.tsv`` / ``--captions FILE.tsv``: ``id<TAB>value`` lines (an id given twice, or an input
  with no line, is an error naming it);
- ``--classes N`` (generators): sample ``i`` gets class ``i % N``.

:func:`annotated` wraps a job's ``make_batches`` so that every batch of rows
gets its labels and caption embeddings, looked up by the rows' ids.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Optional

import numpy as np

from gentools.errors import InputError
from gentools.text import escape


def read_tsv(path: str, what: str) -> dict:
    """``{id: value}`` from ``id<TAB>value`` lines (blank lines skipped), checked whole before any extraction:
    UTF-8 (a leading BOM is dropped), no NUL or other control character but the tab (HDF5 strings cannot hold
    NUL), each error naming its line."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read {what} file: {exc.strerror} ({path})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out: dict = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise InputError(f"line {number} is not UTF-8 text (byte {exc.start + 1}: {exc.reason}) ({path})",
                             hint="save the file as UTF-8" if b"\0" in raw else "") from None
        bad = next((ch for ch in line if ch != "\t" and (ord(ch) < 32 or ord(ch) == 127)), None)
        if bad is not None:
            raise InputError(f"line {number} holds a control character {escape(bad)} ({path})",
                             hint="save the file as UTF-8" if bad == "\0" else "")
        if not line.strip():
            continue
        key, sep, value = line.partition("\t")
        if not sep:
            raise InputError(f"line {number} is not 'id<TAB>{what}' ({path})")
        if key in out:
            raise InputError(f"id '{escape(key)}' has two {what}s (lines of {path})")
        out[key] = value
    return out


def folder_labels(ids: list) -> dict:
    """``{id: first folder of the id}``: the class of ImageFolder layouts (``root/CLASS/.../image``)."""
    out = {}
    for item_id in ids:
        parts = item_id.replace(os.sep, "/").split("/")
        if len(parts) < 2:
            raise InputError(f"{item_id} is not inside a class folder (--labels folder takes the first folder "
                             f"under the input root, as torchvision's ImageFolder)")
        out[item_id] = parts[0]
    return out


def require_all(ids: list, mapping: dict, what: str, source: str) -> dict:
    """``mapping`` restricted to ``ids``; the first id without an entry is a one-line error."""
    missing = [i for i in ids if i not in mapping]
    if missing:
        raise InputError(f"no {what} for '{missing[0]}' ({source}; {len(missing)} of {len(ids)} inputs lack one)")
    return {i: mapping[i] for i in ids}


def labels_for(spec: Optional[str], ids: list, generated_classes: Optional[dict] = None) -> Optional[dict]:
    """The labels of the job's inputs: ``spec`` is ``folder`` or a TSV path; generators pass their classes."""
    if generated_classes is not None:
        return generated_classes
    if not spec:
        return None
    mapping = folder_labels(ids) if spec == "folder" else read_tsv(spec, "label")
    return require_all(ids, mapping, "label", spec)


def annotated(make_batches: Callable, labels: Optional[dict], captions: Optional[dict],
              encode_text: Optional[Callable]) -> Callable:
    """``make_batches`` whose rows also carry ``labels`` (strings) and ``text_features`` (caption embeddings)."""
    if labels is None and captions is None:
        return make_batches

    def batches(positions) -> Iterator:
        for rows in make_batches(positions):
            if labels is not None:
                rows.arrays["labels"] = np.array([labels[i] for i in rows.ids], dtype=object)
            if captions is not None and rows.ids:
                rows.arrays["text_features"] = encode_text([captions[i] for i in rows.ids])
            yield rows

    return batches
