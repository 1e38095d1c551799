"""Text inputs: documents and lines read from files, each with its id, checked as labels files are.

- a folder, glob or archive of ``.txt`` files (or one ``.txt`` file): one document per file, its id the path
  below the folder without the extension;
- ``.jsonl``: one record per line, the text in ``text_field`` (default ``text``; a list of strings is several
  texts with one id: several references), the id in ``id_field`` (default ``id``, else the line number);
- ``.tsv`` / ``.csv`` with a header row: the ``text_field`` column, the id in the ``id_field`` column (else the
  row number, 1 for the first row under the header);
- ``lines=True``: each line of a ``.txt`` file, or of stdin (``-``), is one text, its id the line number (1 for
  the first): sacrebleu's one-segment-per-line files.

Everything is UTF-8 (a leading BOM dropped); a bad byte, a NUL or another control character but the tab and
the line breaks is a one-line error naming the file and the line. An empty text is kept, and counted in a
warning.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Optional

from gentools.errors import InputError, warn
from gentools.text import escape

TEXT_SUFFIXES = (".txt",)
TABLE_SUFFIXES = {".tsv": "\t", ".csv": ","}
MAX_TEXT_BYTES = 1 << 30  # one file of texts; texts are held in memory
_ALLOWED = {"\t", "\n", "\r"}


def is_text_name(name: str) -> bool:
    return name.lower().endswith(TEXT_SUFFIXES)


def read_texts(value, text_field: str = "text", id_field: str = "id", lines: bool = False,
               stdin=None) -> tuple[list, str]:
    """``([(id, text)], source)`` of ``value`` (a path, ``-`` for stdin with ``lines``), in the file's order;
    an id may repeat (several texts with one id) where the format allows it."""
    path = os.fspath(value)
    if path == "-":
        if not lines:
            raise InputError("-: stdin holds texts one per line: pass --lines")
        data = (stdin if stdin is not None else sys.stdin.buffer).read(MAX_TEXT_BYTES + 1)
        if len(data) > MAX_TEXT_BYTES:
            raise InputError(f"-: stdin holds over {MAX_TEXT_BYTES} bytes of text")
        return _counted(_lines(_decoded(data, "-"), "-"), "-"), "stdin"
    lower = path.lower()
    if lines and not os.path.isfile(path):
        raise InputError(f"{escape(path)}: --lines takes a file of lines (or -), not a folder or pattern")
    if os.path.isfile(path) and (lines or lower.endswith((".jsonl", *TABLE_SUFFIXES))):
        text = _decoded(_read(path), path)
        if lines:
            found = _lines(text, path)
        elif lower.endswith(".jsonl"):
            found = _jsonl(text, path, text_field, id_field)
        else:
            found = _table(text, path, TABLE_SUFFIXES[os.path.splitext(lower)[1]], text_field, id_field)
        return _counted(found, path), os.path.abspath(path)
    return _documents(path)


def _read(path: str) -> bytes:
    from gentools.files import read_regular

    try:
        return read_regular(path, MAX_TEXT_BYTES)
    except OSError as exc:
        raise InputError(f"{escape(path)}: cannot read ({escape(str(exc.strerror or exc))})") from None


def _decoded(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text, checked: a bad byte or a control character is an error naming its line."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{escape(where)}:{line}: not UTF-8 text (byte {exc.start + 1}: {exc.reason})",
                         hint="save the file as UTF-8") from None
    checked(text, where)
    return text


def checked(text: str, where: str, first_line: int = 1) -> str:
    """``text``, or an error naming ``where`` and the line of its first control character (NUL included)."""
    for position, ch in enumerate(text):
        if (ord(ch) < 32 or 127 <= ord(ch) < 160) and ch not in _ALLOWED:
            line = first_line + text.count("\n", 0, position)
            raise InputError(f"{escape(where)}:{line}: a control character {escape(ch)}",
                             hint="save the file as UTF-8" if ch == "\0" else "")
    return text


def checked_list(texts, what: str) -> list:
    """A batch of texts given in Python (``update(texts)``): a list or tuple of strings, each checked as a file's
    text is; one-line errors naming ``what`` and the position."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise InputError(f"{what} takes a list of texts, got {escape(type(texts).__name__)}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"{what}[{i}]: not a text ({escape(type(text).__name__)})")
        checked(text, f"{what}[{i}]")
    return list(texts)


def checked_references(entry, where: str) -> list:
    """One item's references given in Python: a text, or a non-empty list of texts, each checked."""
    entry = [entry] if isinstance(entry, str) else entry
    if not isinstance(entry, (list, tuple)) or not entry:
        raise InputError(f"{where}: expected a text or a non-empty list of texts")
    return checked_list(entry, where)


def _lines(text: str, where: str) -> list:
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()  # the final newline ends the last line; it starts none
    return [(str(number), line.rstrip("\r")) for number, line in enumerate(rows, 1)]


def _jsonl(text: str, where: str, text_field: str, id_field: str) -> list:
    found = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{escape(where)}:{number}: not a JSON object ({escape(str(exc)[:80])})") from None
        if not isinstance(record, dict):
            raise InputError(f"{escape(where)}:{number}: not a JSON object")
        if text_field not in record:
            raise InputError(f"{escape(where)}:{number}: no field {escape(text_field)!r} (--text-field)",
                             hint=f"its fields: {escape(', '.join(list(record)[:8]))}")
        key = _id_of(record.get(id_field, number), where, number)
        value = record[text_field]
        texts = value if isinstance(value, list) else [value]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise InputError(f"{escape(where)}:{number}: field {escape(text_field)!r} is not a string or a list of "
                             f"strings")
        found += [(key, checked(t, where, number)) for t in texts]
    return found


def _id_of(value, where: str, number: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{escape(where)}:{number}: the id is not a string or an integer")
    return str(value)


def _table(text: str, where: str, delimiter: str, text_field: str, id_field: str) -> list:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{escape(where)}: empty (a header row naming the columns is needed)") from None
    except csv.Error as exc:
        raise InputError(f"{escape(where)}:1: {escape(str(exc))}") from None
    if text_field not in header:
        raise InputError(f"{escape(where)}:1: no column {escape(text_field)!r} (--text-field); its columns: "
                         f"{escape(', '.join(header[:8]))}")
    text_at = header.index(text_field)
    id_at = header.index(id_field) if id_field in header else None
    found = []
    try:
        for row in reader:
            if not any(row):
                continue
            number = reader.line_num
            if len(row) != len(header):
                raise InputError(f"{escape(where)}:{number}: {len(row)} fields under a header of {len(header)}")
            found.append((row[id_at] if id_at is not None else str(len(found) + 1), row[text_at]))
    except csv.Error as exc:
        raise InputError(f"{escape(where)}:{reader.line_num}: {escape(str(exc))}") from None
    return found


def _documents(path: str) -> tuple[list, str]:
    """One document per ``.txt`` file of a folder, glob or archive (or the file itself)."""
    from gentools.features.images import list_inputs
    from gentools.features.items import MemberReader, pair_id

    if os.path.isfile(path) and not is_text_name(path) and not path.lower().endswith((".zip", ".tar", ".tgz",
                                                                                         ".gz")):
        raise InputError(f"{escape(path)}: not a text file (.txt, .jsonl, .tsv, .csv), nor a folder or archive of "
                         f".txt files")
    items, source = list_inputs([path], accept=is_text_name, what="text")
    if not items:
        raise InputError(f"{escape(path)}: no .txt files found")
    members = MemberReader(MAX_TEXT_BYTES)
    found = []
    for item in items:
        where = item.path if item.kind == "file" else f"{item.path}:{item.member}"
        data = _read(item.path) if item.kind == "file" else members.member(item)
        found.append((pair_id(item, path), _decoded(data, where)))
    return _counted(found, path), source


def _counted(found: list, where: str) -> list:
    empty = sum(1 for _, text in found if not text.strip())
    if empty:
        warn(f"{escape(where)}: {empty} of {len(found)} texts are empty (kept)")
    return found


def grouped(found: list) -> tuple[list, dict]:
    """``(ids in first-seen order, {id: [texts]})``: the texts of each id, several where an id repeats."""
    texts: dict = {}
    for key, text in found:
        texts.setdefault(key, []).append(text)
    return list(texts), texts


__all__ = ["checked", "checked_list", "checked_references", "grouped", "is_text_name", "read_texts"]
