"""Files gentools keeps: the cache folder ``$GENTOOLS_CACHE`` (compiled networks, reference statistics), and
the sha256 that names and checks them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional


def cache_root() -> Optional[Path]:
    """``$GENTOOLS_CACHE`` (default ``~/.cache/gentools``); ``None`` when it is ``off``."""
    value = os.environ.get("GENTOOLS_CACHE", "")
    if value.strip().lower() == "off":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "gentools"


def sha256_of(path: os.PathLike) -> str:
    """The file's sha256, hex."""
    return digest_of(path, "sha256")


def digest_of(path: os.PathLike, algorithm: str) -> str:
    """The file's ``hashlib`` digest (hex), read in 1 MiB blocks."""
    digest = hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
