"""The reference cache: ``$GENTOOLS_CACHE/refs/NAME/`` holds a pulled or made reference and its record.

Layout::

    refs/refs.lock              the sha256 first seen for each name (trust on first use), JSON
    refs/.locks/NAME.lock       flock(2) of one name, so concurrent pulls end with one good file
    refs/NAME/FILE              the reference itself, under its published file name
    refs/NAME/FILE.partial      an unfinished download (a rerun resumes it with an HTTP Range request)
    refs/NAME/ref.json          the record: file, size, sha256, url, format, preset (written last)

Everything read back from the cache is checked (names, types, sizes): the
cache folder may be shared, and a record is a file like any other.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import re
from pathlib import Path
from typing import Iterator, Optional

from gentools.errors import InputError, UsageError
from gentools.files import cache_root

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99}){0,3}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
SHA256 = re.compile(r"[0-9a-f]{64}")
RECORD, TRUST = "ref.json", "refs.lock"
MAX_RECORD_BYTES = 1 << 20


def check_name(name: str) -> str:
    """A reference name: up to four ``/``-separated parts of letters, digits, ``.``, ``_``, ``-``."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise UsageError(f"reference name {name[:80]!r}: expected letters, digits, '.', '_', '-', and up to three "
                         f"'/' (e.g. adm/imagenet256)")
    return name


def check_file_name(name: str, where: str) -> str:
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name) or name.endswith(".partial"):
        raise InputError(f"names the file {str(name)[:80]!r}, expected a plain file name in its own folder ({where})")
    return name


def check_sha256(value: str, what: str = "--sha256") -> str:
    value = str(value).strip().lower()
    if not SHA256.fullmatch(value):
        raise UsageError(f"{what} {value[:80]!r}: expected 64 hex digits")
    return value


def refs_root() -> Path:
    root = cache_root()
    if root is None:
        raise InputError("the cache is off (GENTOOLS_CACHE=off): set GENTOOLS_CACHE to a folder to pull and use "
                         "reference statistics")
    return root / "refs"


def entry_dir(name: str) -> Path:
    return refs_root() / check_name(name)


def locked(name: str):
    """Hold the lock of ``name`` (a file under ``refs/.locks``, so an entry's folder can go when it is empty)."""
    return _flock(check_name(name).replace("/", "+") + ".lock")


@contextlib.contextmanager
def _flock(file_name: str) -> Iterator[None]:
    folder = refs_root() / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / file_name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path, what: str) -> Optional[dict]:
    """A JSON object from ``path`` (None when absent), bounded in size; anything else is a one-line error."""
    from gentools.files import NotRegular, read_regular

    try:
        value = json.loads(read_regular(path, MAX_RECORD_BYTES, follow=False).decode("utf-8"))
    except FileNotFoundError:
        return None
    except NotRegular as exc:  # a FIFO would block, /dev/zero never end, a link point anywhere
        raise InputError(f"{what}: {str(exc).split(': ', 1)[-1]} ({path})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} is not valid JSON ({exc}) ({path})") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} holds a {type(value).__name__}, expected a JSON object ({path})")
    return value


def write_json(path: Path, value: dict) -> None:
    from gentools.files import atomic_path

    with atomic_path(str(path)) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=1, sort_keys=True)
            handle.write("\n")


def read_record(name: str) -> Optional[dict]:
    """The record of a cached reference, checked field by field; None when ``name`` is not in the cache."""
    path = entry_dir(name) / RECORD
    record = read_json(path, "the reference's record")
    if record is None:
        return None
    for key, kind in (("file", str), ("sha256", str), ("size", int), ("url", str), ("format", str),
                      ("preset", str)):
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            raise InputError(f"the reference's record has no valid '{key}' ({path})")
    check_file_name(record["file"], str(path))
    check_sha256(record["sha256"], f"the record's sha256 ({path})")
    if record.get("rows_file") is not None:
        check_file_name(record["rows_file"], str(path))
    return record


def cached_names() -> list:
    """The names of every reference in the cache (folders up to four deep holding a record), sorted."""
    root = refs_root()
    if not root.is_dir():
        return []
    names = []
    for record in sorted(root.glob("**/" + RECORD)):
        name = record.parent.relative_to(root).as_posix()
        if NAME.fullmatch(name) and not record.parent.is_symlink():
            names.append(name)
    return names


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def trusted(name: str) -> Optional[str]:
    """The sha256 ``refs.lock`` holds for ``name`` (first seen), or None."""
    entry = (read_json(refs_root() / TRUST, TRUST) or {}).get(name)
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise InputError(f"{TRUST} has no valid sha256 for {name} ({refs_root() / TRUST})")
    return check_sha256(entry["sha256"], f"{TRUST}'s sha256 for {name}")


def trust(name: str, sha256: str, url: str, size: int) -> bool:
    """Check ``sha256`` against the one ``refs.lock`` holds for ``name``, refusing a different one; the first
    time, record it. Returns whether it was recorded now."""
    path = refs_root() / TRUST
    with _flock("+trust.lock"):  # no name has a "+"
        table = read_json(path, TRUST) or {}
        known = table.get(name)
        if isinstance(known, dict) and known.get("sha256") not in (None, sha256):
            raise InputError(f"{name}: this file has sha256 {sha256}, but {TRUST} recorded "
                             f"{str(known['sha256'])[:64]} on first use; refused (the published file changed, or "
                             f"this copy is not it)",
                             hint=f"if the publisher replaced the file on purpose, delete its entry in {path}")
        if known is None:
            table[name] = {"sha256": sha256, "url": url, "size": size, "recorded": now()}
            write_json(path, table)
        return known is None
