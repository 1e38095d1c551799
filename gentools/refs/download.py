"""Streaming a reference file over HTTP(S) into a ``.partial`` file, resuming it with a Range request."""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

from gentools.errors import InputError, UsageError

BLOCK = 1 << 20
TIMEOUT = 60.0


def check_url(url: str) -> str:
    """Only ``http://`` and ``https://`` (a local copy comes in with ``--from FILE``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{url[:200]}: expected an http:// or https:// URL (a local copy: --from FILE)")
    return url


def mirrored(url: str, mirror: Optional[str]) -> str:
    """``url`` with its origin (scheme and host) replaced by ``mirror``: the mirror keeps the published paths
    under its own prefix (``--mirror http://mirror/refs`` + ``/diffusion/...npz``)."""
    if not mirror:
        return url
    check_url(mirror)
    parts = urllib.parse.urlsplit(url)
    return mirror.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def download(url: str, partial: Path, progress=None, timeout: float = TIMEOUT) -> bool:
    """Append the rest of ``url`` to ``partial`` (Range from its size; a server that ignores Range restarts it).
    Returns whether it resumed. An interrupted transfer keeps ``partial`` and says how to resume."""
    from gentools import __version__

    have = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": f"gentools/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(check_url(url), headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the partial file already holds every byte: the hash decides
            return True
        raise InputError(f"download failed: HTTP {exc.code} {exc.reason} ({url})") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"download failed: {reason} ({url})") from None
    with response:
        resumed = bool(have) and response.status == 206 and _range_start(response) == have
        if response.status == 206 and not resumed:  # a part that is not the rest of ours: start again next time
            partial.unlink(missing_ok=True)
            raise InputError(f"download failed: the server sent bytes from {_range_start(response)}, not the "
                             f"{have} asked for; run the pull again to start over ({url})")
        length = response.headers.get("Content-Length")
        total = (int(length) if length and length.isdigit() else 0) + (have if resumed else 0)
        done = have if resumed else 0
        with open(partial, "ab" if resumed else "wb") as out, _bar(progress, url, total) as tick:
            if tick and done:
                tick(done)
            while True:
                try:
                    block = response.read(BLOCK)
                except (http.client.HTTPException, OSError, socket.timeout) as exc:
                    raise InputError(f"download interrupted after {_size_of(partial, out)} of "
                                     f"{total or '?'} bytes ({type(exc).__name__}); run the same pull again to "
                                     f"resume ({url})") from None
                if not block:
                    break
                out.write(block)
                done += len(block)
                if tick:
                    tick(len(block))
    if total and done != total:
        raise InputError(f"download interrupted after {done} of {total} bytes; run the same pull again to resume "
                         f"({url})")
    return resumed


def _size_of(partial: Path, out) -> int:
    out.flush()
    return partial.stat().st_size


def _range_start(response) -> int:
    """The first byte of a 206 answer's ``Content-Range: bytes START-END/TOTAL``, or -1."""
    value = response.headers.get("Content-Range", "")
    unit, _, rest = value.partition(" ")
    start = rest.split("-", 1)[0]
    return int(start) if unit == "bytes" and start.isdigit() else -1


def _bar(progress, url: str, total: int):
    import contextlib

    if progress is None or not total:
        return contextlib.nullcontext(None)
    return progress(f"pulling {url.rsplit('/', 1)[-1]}", total)
