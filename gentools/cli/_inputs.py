"""Opening the inputs of a command: ``-`` as stdin, the pipe rule, the provenance guard."""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import Sequence

from gentools.cli import _console
from gentools.errors import InputError, ProvenanceError, UsageError


def wait_for_upstream(args: Sequence[str], no_stdin: bool) -> None:
    """The pipe rule (SPEC §2): wait for a still-running upstream before opening inputs.

    If stdin is a pipe that holds no data yet and whose writer is still open,
    read it to the end, so ``gentools extract ... -o f.h5 | gentools fid f.h5 r.h5``
    opens ``f.h5`` only after the writer has renamed it into place. A pipe that
    already holds data (``ls *.h5 | while read f; ...``) or is closed is left alone.
    """
    if no_stdin or os.environ.get("GENTOOLS_NO_STDIN", "") not in ("", "0") or "-" in args:
        return
    try:
        if not stat.S_ISFIFO(os.fstat(0).st_mode):
            return
    except OSError:
        return
    poller = select.poll()
    poller.register(0, select.POLLIN | select.POLLHUP)
    if poller.poll(0):
        return
    while os.read(0, 1 << 16):
        pass


class StdinSource:
    """Reads stdin once for the (single) ``-`` argument."""

    def __init__(self):
        self.used = False

    def resolve(self, arg: str):
        """``-`` -> the bytes of an HDF5/NPZ/NPY file, or the path on stdin's first line."""
        from gentools.store import sniff

        if arg != "-":
            return arg
        if self.used:
            raise UsageError("'-' (stdin) can be given only once")
        self.used = True
        data = sys.stdin.buffer.read()
        if sniff(data[:8]):
            return data
        lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        if not lines:
            raise InputError("stdin is empty; expected a file's bytes or a line naming a path (-)")
        return lines[0]


def open_inputs(args: Sequence[str], no_stdin: bool, allow_sets: bool = False):
    """Open each argument as a features file or stats (``gentools.store.open_input``)."""
    from gentools.store import open_input

    wait_for_upstream(args, no_stdin)
    stdin = StdinSource()
    return [open_input(stdin.resolve(arg), allow_sets=allow_sets) for arg in args]


def dim_of(item) -> int:
    return item.dim if hasattr(item, "dim") else len(item.mu)


def check_compatible(items: Sequence, force: bool) -> None:
    """Same feature dimension, and the provenance guard (SPEC §3) over guarded keys."""
    from gentools.store import GUARDED_KEYS

    first = items[0]
    for other in items[1:]:
        if dim_of(first) != dim_of(other):
            raise InputError(f"feature dimensions differ: {dim_of(first)} ({first.label}) "
                             f"vs {dim_of(other)} ({other.label})")
    bare = [item.label for item in items if not item.provenance.get("backbone")]
    if bare and len(items) > 1:
        _console.warn(f"no provenance in {', '.join(bare)} (plain arrays or foreign stats): cannot check "
                      "that the inputs come from the same network and preprocessing")
    for other in items[1:]:
        for key in GUARDED_KEYS:
            a, b = first.provenance.get(key), other.provenance.get(key)
            if a and b and a != b:
                message = f"inputs differ in {key}: '{a}' ({first.label}) vs '{b}' ({other.label})"
                if not force:
                    raise ProvenanceError(message, hint="numbers from mixed inputs are not comparable; "
                                                        "--force to compute anyway")
                _console.warn(message + " (--force)")


def describe(item) -> dict:
    """The ``inputs`` entry of the JSON envelope."""
    n = item.n if hasattr(item, "dim") else item.n
    return {"path": item.label, "kind": "features" if hasattr(item, "dim") else "stats",
            "n": n, "dim": dim_of(item), "provenance": item.provenance}


def require_features(items: Sequence, command: str) -> list:
    """Stats files cannot serve where per-row features are needed."""
    for item in items:
        if not hasattr(item, "dim"):
            raise InputError(f"is a stats file, but {command} needs per-row features ({item.label})")
    return list(items)
