"""Publishing a reference (``gentools ref make``): its files and a manifest, and checking them (``ref verify``).

``manifest.json``: ``name``, ``n``, ``dim``, ``preset``, ``provenance`` (the
features'), ``gentools_version``, ``created``, and ``files``: for each file
beside it, its ``sha256``, ``size`` and ``kind`` (``stats`` or ``rows``).
"""

from __future__ import annotations

from pathlib import Path

from gentools.errors import InputError
from gentools.files import sha256_of
from gentools.refs import cache

MANIFEST = "manifest.json"


def write_manifest(folder: Path, name: str, files: dict, stats, preset: str) -> dict:
    """``manifest.json`` in ``folder`` for ``files`` (file name -> kind), hashed as they are now; returns it."""
    from gentools._version import __version__

    manifest = {"name": name, "n": stats.n, "dim": stats.dim, "preset": preset,
                "provenance": {k: v for k, v in stats.provenance.items() if _plain(v)},
                "gentools_version": __version__, "created": cache.now(),
                "files": {file: {"kind": kind, "sha256": sha256_of(folder / file), "size": (folder / file).stat().st_size}
                          for file, kind in files.items()}}
    cache.write_json(folder / MANIFEST, manifest)
    return manifest


def _plain(value) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def verify(target: str) -> list:
    """Re-hash the files of a reference: a manifest (file or its folder), or ``NAME`` in the cache (its manifest,
    or the pulled file against its record and ``refs.lock``). One row per file; a mismatch is an InputError."""
    path = Path(target)
    if path.is_dir() or (path.is_file() and path.name.endswith(".json")):
        return _verify_manifest(path / MANIFEST if path.is_dir() else path)
    if path.exists():
        raise InputError(f"expected a reference name, a {MANIFEST} or its folder ({target})")
    name = target[4:] if target.startswith("ref:") else target
    record = cache.read_record(cache.check_name(name))
    if record is None:
        raise InputError(f"{name} is not in the cache ({cache.entry_dir(name)}) and is no file here; run "
                         f"`gentools ref pull {name}`")
    folder = cache.entry_dir(name)
    if (folder / MANIFEST).is_file():
        return _verify_manifest(folder / MANIFEST)
    expected = [("the record", record["sha256"])]
    trusted = cache.trusted(name)
    if trusted:
        expected.append((cache.TRUST, trusted))
    return [_check(folder / record["file"], expected, record["size"])]


def _verify_manifest(path: Path) -> list:
    manifest = cache.read_json(path, MANIFEST)
    if manifest is None:
        raise InputError(f"no such file ({path})")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError(f"the manifest lists no files ({path})")
    rows = []
    for file, info in files.items():
        cache.check_file_name(file, str(path))  # never a path outside the manifest's folder
        if not isinstance(info, dict) or not isinstance(info.get("sha256"), str) or \
                not isinstance(info.get("size"), int):
            raise InputError(f"the manifest's entry for {file[:80]} has no sha256 and size ({path})")
        rows.append(_check(path.parent / file, [(MANIFEST, cache.check_sha256(info["sha256"], "its sha256"))],
                           info["size"]))
    return rows


def _check(file: Path, expected: list, size: int) -> dict:
    if file.is_symlink():  # a reference's files are its own: a link could show the hash of any file elsewhere
        raise InputError(f"a symbolic link, not a file of the reference; not hashed ({file})")
    if not file.is_file():
        raise InputError(f"missing: listed but not there ({file})")
    actual_size = file.stat().st_size
    if actual_size != size:
        raise InputError(f"has {actual_size} bytes, {expected[0][0]} says {size}: changed or cut ({file})")
    digest = sha256_of(file)
    for where, sha in expected:
        if digest != sha:
            raise InputError(f"sha256 {digest} differs from {where}'s {sha}: changed or corrupt ({file})")
    return {"file": str(file), "sha256": digest, "size": size, "status": "ok"}
