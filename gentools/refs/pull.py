"""``gentools ref pull``: a catalogue entry or a URL into the cache, resumed, verified, then named."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from gentools.errors import GentoolsNotice, InputError, UsageError, warn
from gentools.files import digest_of, sha256_of
from gentools.refs import cache, catalogue
from gentools.download import DEADLINE, MAX_SIZE, check_url, download, mirrored

MIRROR_ENV = "GENTOOLS_REF_MIRROR"
GZIP_MAGIC = b"\x1f\x8b"


def pull(spec: str, *, sha256: Optional[str] = None, name: Optional[str] = None, mirror: Optional[str] = None,
         from_file: Optional[str] = None, progress=None, max_size: Optional[int] = None,
         timeout: Optional[float] = None) -> dict:
    """Pull catalogue entry ``spec`` (or the file at URL ``spec``, named ``name`` or its file name without the
    extension) into ``$GENTOOLS_CACHE/refs``; returns its record (``path``, ``sha256``, ``size``, ...).

    The bytes stream into ``FILE.partial`` (a rerun resumes with a Range request), are checked against
    ``sha256`` or the catalogue's hash, or else recorded in ``refs.lock`` on first use and checked against it
    after, and only then take the final name. ``mirror`` (or ``$GENTOOLS_REF_MIRROR``) replaces the URL's
    origin; ``from_file`` imports a copy brought in by hand, verified the same way. A download takes at most
    the catalogue's size (else ``max_size``, default 16 GiB) and ``timeout`` seconds (default 6 hours); the
    record names the URL the bytes finally came from (after redirects).
    """
    entry, name, url = _target(spec, name)
    expected = _expected(entry, sha256)
    source = from_file or mirrored(url, mirror or os.environ.get(MIRROR_ENV) or None)
    folder = cache.entry_dir(name)
    file_name = cache.check_file_name(catalogue.file_name_of(url), url)
    with cache.locked(name):
        present = _present(name, folder, expected, from_file)
        if present is not None:
            return present
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{file_name}.partial"
        if from_file:
            _copy_in(from_file, partial)
        else:
            try:
                limit = entry.size if entry is not None and entry.size else max_size or MAX_SIZE
                source = download(source, partial, progress, timeout or DEADLINE, limit)  # an interruption keeps
                # what came, for the rerun to resume
            except BaseException:
                if partial.exists() and not partial.stat().st_size:
                    partial.unlink()
                    _remove_if_empty(folder)
                raise
        kept = False
        try:
            record = _verified(entry, name, url, source, partial, expected)
            os.replace(partial, folder / file_name)
            record["file"] = file_name
            cache.write_json(folder / cache.RECORD, record)
            kept = True
        finally:
            if not kept:
                partial.unlink(missing_ok=True)
                _remove_if_empty(folder)
    return dict(record, path=str(folder / file_name))


def _target(spec: str, name: Optional[str]):
    if "://" in spec:
        url = check_url(spec)
        name = cache.check_name(name or catalogue.file_name_of(url).split(".", 1)[0])
        entry = catalogue.get(name)
        if entry is not None and entry.url != url:
            raise UsageError(f"{name} is a catalogue entry with another URL ({entry.url}); choose another --name")
        return entry, name, url
    entry = catalogue.get(spec)
    if entry is None:
        raise UsageError(f"{spec[:100]!r} is not in the catalogue (`gentools ref list` shows it); give a URL to pull "
                         f"any other file")
    if name and name != spec:
        raise UsageError("--name names a file pulled by URL; a catalogue entry keeps its name")
    return entry, entry.name, entry.url


def _expected(entry, sha256: Optional[str]) -> Optional[str]:
    wanted = cache.check_sha256(sha256) if sha256 else None
    published = entry.sha256 if entry else None
    if wanted and published and wanted != published:
        raise UsageError(f"--sha256 {wanted} differs from the catalogue's {published} for {entry.name}")
    return wanted or published


def _present(name: str, folder: Path, expected: Optional[str], from_file: Optional[str]) -> Optional[dict]:
    """The record of an entry already pulled whose file still has its hash (and the expected one), else None."""
    record = cache.read_record(name)
    if record is None or from_file:
        return None
    final = folder / record["file"]
    if final.is_file() and sha256_of(final) == record["sha256"] and expected in (None, record["sha256"]):
        return dict(record, path=str(final), already=True)
    return None


def _copy_in(from_file: str, partial: Path) -> None:
    try:
        shutil.copyfile(from_file, partial)
    except FileNotFoundError:
        raise InputError(f"no such file ({from_file})") from None
    except IsADirectoryError:
        raise InputError(f"is a directory, expected the reference file (--from {from_file})") from None


def _verified(entry, name: str, url: str, source: str, partial: Path, expected: Optional[str]) -> dict:
    """The record of ``partial`` once its hash, md5 and format hold; refs.lock records a hash seen first."""
    digest, size = sha256_of(partial), partial.stat().st_size
    if entry is not None and entry.size and size != entry.size:
        raise InputError(f"{name}: {size} bytes, where the catalogue gives {entry.size}; not kept ({source})")
    if expected and digest != expected:
        raise InputError(f"{name}: sha256 {digest} does not match the expected {expected}; not kept ({source})")
    if entry is not None and entry.md5:
        md5 = digest_of(partial, "md5")  # what torchvision publishes
        if md5 != entry.md5:
            raise InputError(f"{name}: md5 {md5} does not match the published {entry.md5}; not kept ({source})")
    fmt = entry.format if entry else "file"
    _check_format(partial, fmt, f"{name} from {source}")
    if cache.trust(name, digest, url, size) and expected is None:
        warn(f"{name}: no published sha256; recorded {digest} in {cache.refs_root() / cache.TRUST} (trust "
             f"on first use: a later pull or file that differs is refused)", GentoolsNotice)
    record = {"name": name, "url": url, "pulled_from": source, "sha256": digest, "size": size, "format": fmt,
              "preset": entry.preset if entry else "", "pulled": cache.now()}
    if entry is not None and entry.format != "dataset-archive":
        record.update(backbone=entry.backbone, resize=entry.resize_mode)
    return record


def _check_format(path: Path, fmt: str, label: str) -> None:
    """The file starts with its format's signature (the readers check the rest on use)."""
    from gentools.store import sniff

    with open(path, "rb") as handle:
        head = handle.read(8)
    wanted = {"adm-npz": "npz", "clean-fid-npz": "npz", "clean-fid-kid-npz": "npz", "edm2-pkl": "pickle"}.get(fmt)
    found = "gzip" if head.startswith(GZIP_MAGIC) else sniff(head)
    if wanted and found != wanted:
        raise InputError(f"is not a {catalogue.FORMATS[fmt].split(':')[0]} file (starts {head[:8]!r}); not kept "
                         f"({label})")
    if fmt == "dataset-archive" and found != "gzip":
        raise InputError(f"is not a gzip archive (starts {head[:8]!r}); not kept ({label})")
    if fmt == "file" and not found:
        raise InputError(f"is not a format gentools reads (HDF5, .npz, .npy, EDM2 .pkl); not kept ({label})")


def _remove_if_empty(folder: Path) -> None:
    root = cache.refs_root()
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
