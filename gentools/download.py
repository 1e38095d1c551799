"""Streaming a reference file over HTTP(S) into a ``.partial`` file, resuming it with a Range request.

A server is hostile until its bytes hash right, so a download is bounded and never spliced:

- **size**: at most ``max_size`` bytes (the catalogue's size where it gives one, else ``--max-size``); a
  declared length over it is refused before a byte is written, and a body is cut at it;
- **time**: the whole transfer ends by ``timeout`` seconds (``--timeout``), however slowly bytes trickle;
- **encoding**: ``Accept-Encoding: identity``; a body sent encoded (gzip, ...) is refused, not stored;
- **resume**: only with ``If-Range`` and the ETag (else Last-Modified) recorded when the partial file was
  started (``FILE.partial.validator``); a server whose file changed answers 200 and the file restarts from
  byte 0. A partial with no validator, or one the server answers 416 for, restarts from 0 too;
- **length**: a body shorter than its Content-Length is an interrupted transfer (resumable); a body longer
  than it is refused: http.client would stop at the declared length and keep a prefix of another file;
- **redirects**: only to http(s); the final URL is returned, for the record.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

from gentools.errors import InputError, UsageError

BLOCK = 1 << 20
TIMEOUT = 60.0  # one read may wait this long
DEADLINE = 6 * 3600.0  # the whole transfer (--timeout)
MAX_SIZE = 16 << 30  # a URL's file when the catalogue gives no size (--max-size)
PROBE = 1.0  # after the declared length, how long to wait for a byte the declaration left out


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


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to another http(s) URL (urllib's own would follow ``ftp://`` too)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urllib.parse.urljoin(req.full_url, newurl)
        if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
            raise InputError(f"download failed: redirected to {target[:200]!r}, which is not http(s) "
                             f"({req.full_url})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, partial: Path, progress=None, timeout: float = DEADLINE, max_size: int = MAX_SIZE) -> str:
    """Append the rest of ``url`` to ``partial`` (or start it again; see the module docstring), within
    ``max_size`` bytes and ``timeout`` seconds. Returns the final URL after redirects. An interrupted
    transfer keeps ``partial`` and says how to resume."""
    deadline = time.monotonic() + timeout
    validator_path = Path(f"{partial}.validator")
    for path in (partial, validator_path):  # a FIFO or a link where gentools keeps its own file: not ours
        if path.is_symlink() or (path.exists() and not path.is_file()):
            path.unlink()
    validator = _read_validator(validator_path) if partial.exists() else None
    have = partial.stat().st_size if partial.exists() and validator else 0
    for _ in range(2):  # the second try starts from byte 0, after a 416 for a stale partial file
        response = _open(url, have, validator, deadline)
        if response is not None:
            break
        have, validator = 0, None
    else:
        raise InputError(f"download failed: the server refuses the range of a fresh request ({url})")
    with response:
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise InputError(f"download failed: the server sent the body {encoding}-encoded although asked for "
                             f"identity; not stored ({url})")
        resumed = bool(have) and response.status == 206
        if resumed and _range_start(response) != have:  # a part that is not the rest of ours: start again
            partial.unlink(missing_ok=True)
            validator_path.unlink(missing_ok=True)
            raise InputError(f"download failed: the server sent bytes from {_range_start(response)}, not the "
                             f"{have} asked for; run the pull again to start over ({url})")
        length = response.headers.get("Content-Length")
        total = (int(length) if length and length.isdigit() else 0) + (have if resumed else 0)
        if total > max_size:
            raise InputError(f"download refused: the server declares {total} bytes, over the {max_size} allowed "
                             f"(--max-size) ({url})")
        if not resumed:
            validator_path.write_text(json.dumps(_validator_of(response)))
        declared = response.length  # bytes still to come by Content-Length (None: until the connection ends)
        response.length = None  # counted here instead, so a byte past the declared length is seen, not dropped
        done = have if resumed else 0
        start = done
        with open(partial, "ab" if resumed else "wb") as out, _bar(progress, url, total) as tick:
            if tick and done:
                tick(done)
            while True:
                if time.monotonic() > deadline:
                    raise InputError(f"download stopped: not done within --timeout {timeout:g} s, after "
                                     f"{_size_of(partial, out)} bytes; run the same pull again to resume ({url})")
                want = BLOCK if declared is None else min(BLOCK, declared - (done - start))
                if want == 0:
                    if _sends_more(response):
                        out.close()
                        partial.unlink(missing_ok=True)
                        validator_path.unlink(missing_ok=True)
                        raise InputError(f"download refused: the server sent more than the {declared} bytes its "
                                         f"Content-Length declares; nothing kept ({url})")
                    break
                try:
                    block = response.read1(want)
                except (http.client.HTTPException, OSError, socket.timeout) as exc:
                    raise InputError(f"download interrupted after {_size_of(partial, out)} of "
                                     f"{total or '?'} bytes ({type(exc).__name__}); run the same pull again to "
                                     f"resume ({url})") from None
                if not block:
                    break
                if done + len(block) > max_size:
                    out.close()
                    partial.unlink(missing_ok=True)
                    validator_path.unlink(missing_ok=True)
                    raise InputError(f"download refused: the body runs past the {max_size} bytes allowed "
                                     f"(--max-size); nothing kept ({url})")
                out.write(block)
                done += len(block)
                if tick:
                    tick(len(block))
        final = response.geturl()
    if total and done != total:
        raise InputError(f"download interrupted after {done} of {total} bytes; run the same pull again to resume "
                         f"({url})")
    validator_path.unlink(missing_ok=True)
    return final


def _sends_more(response) -> bool:
    """Whether a byte follows the declared body within ``PROBE`` seconds (the connection's end, or silence, is
    the body ending where it said)."""
    try:
        response.fp.raw._sock.settimeout(PROBE)  # the socket under http.client's buffered reader
    except (AttributeError, OSError):
        return False
    try:
        return bool(response.fp.read1(1))  # a byte already buffered, or the next to arrive
    except (OSError, socket.timeout, ValueError):
        return False


def _open(url: str, have: int, validator: Optional[dict], deadline: float):
    """The response to a GET of ``url`` (from byte ``have``, If-Range ``validator``); ``None`` for a 416."""
    from gentools._version import __version__

    headers = {"User-Agent": f"gentools/{__version__}", "Accept-Encoding": "identity"}
    if have and validator:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = validator.get("etag") or validator["last_modified"]
    request = urllib.request.Request(check_url(url), headers=headers)
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    try:
        return opener.open(request, timeout=max(0.1, min(TIMEOUT, deadline - time.monotonic())))
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # a partial longer than the file (or another file): start again
            return None
        raise InputError(f"download failed: HTTP {exc.code} {exc.reason} ({url})") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"download failed: {reason} ({url})") from None


def _validator_of(response) -> dict:
    """What identifies this version of the file, for If-Range: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag", "").strip()
    return {"etag": etag if etag and not etag.startswith("W/") else "",
            "last_modified": response.headers.get("Last-Modified", "").strip()}


def _read_validator(path: Path) -> Optional[dict]:
    from gentools.files import read_regular

    try:
        value = json.loads(read_regular(path, 4096, follow=False))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k, ""), str) for k in ("etag", "last_modified")):
        return None
    return value if value.get("etag") or value.get("last_modified") else None


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
