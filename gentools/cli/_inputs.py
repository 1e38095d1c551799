"""Opening the inputs of a command: ``-`` as stdin, the pipe rule, the provenance guard."""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import Sequence

from gentools.errors import InputError, UsageError


def wait_for_upstream(args: Sequence[str], no_stdin: bool) -> None:
    """The pipe rule (docs/conventions.md): wait for a still-running upstream before opening inputs.

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


def sources(args: Sequence[str], no_stdin: bool, command: str = "", count: int = 0) -> list:
    """The pipe rule, then each argument as a path or (for ``-``) the bytes or path read from stdin.

    With ``count``, exactly that many arguments are required (a usage error names ``command``)."""
    if count and len(args) != count:
        what = {1: "one input", 2: "two inputs (GEN REF)"}.get(count, f"{count} inputs")
        raise UsageError(f"{command} takes {what}, got {len(args)}")
    wait_for_upstream(args, no_stdin)
    stdin = StdinSource()
    return [stdin.resolve(arg) for arg in args]
