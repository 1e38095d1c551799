"""Strings that came from files, made safe to print: control characters shown as escapes.

A label, an id or a provenance value can hold a tab, a newline or a terminal
escape sequence. Printed raw, a tab adds a field to a ``name<TAB>value`` line,
a newline forges a line (``fid<TAB>0.0``), and ``\\x1b[...`` drives the
terminal. :func:`escape` shows every such character as ``\\t``, ``\\n``,
``\\r`` or ``\\xNN`` / ``\\uNNNN``; printable text, non-ASCII letters
included, is unchanged.
"""

from __future__ import annotations

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape(text: str) -> str:
    """``text`` with every non-printable character (Unicode categories C* and Z* but the space) escaped."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _NAMED.get(ch) or _code(ch) for ch in text)


def _code(ch: str) -> str:
    point = ord(ch)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def label_text(value) -> str:
    """One class label as stored and printed: text as it is; ints, whole floats, numpy and torch scalars as
    the integer's digits (``tensor(3)``, ``np.int64(3)``, ``3.0`` -> ``"3"``); ``ValueError`` for anything else
    (a float that is not a whole number, a vector, None)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy and torch scalars, 0-d arrays and tensors
    if isinstance(value, bool):
        raise ValueError(f"label {value!r} is a boolean; give class indices or names")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise ValueError(f"label {str(value)[:40]!r} is not a class index (a whole number) or a name")


def label_texts(labels) -> list:
    """A batch of labels (a list, a 1-D numpy array or torch tensor) as :func:`label_text` strings."""
    if isinstance(labels, (str, bytes)):
        raise ValueError("labels must hold one label per image, not one string")
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu()
    if getattr(labels, "ndim", 1) != 1:
        raise ValueError(f"labels must be one-dimensional, one per image, not of shape {list(labels.shape)}")
    if hasattr(labels, "tolist"):
        labels = labels.tolist()
    return [label_text(label) for label in labels]
