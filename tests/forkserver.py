"""A fork server for the example Makefiles the tests run (the digits, audio and video demos, Makefile.eval, the
cluster recipe): each ``gentools`` command those recipes start is a real process with the caller's stdin,
stdout, stderr, working folder and environment, and exits with the command's code, but is forked from a server
that has already imported torch and gentools, instead of paying 3-7 s of imports per command.

``python -m tests.forkserver SOCKET`` serves; ``tests/forkserver_client.py`` (the ``gentools`` the recipes
call, through ``GENTOOLS=`` or ``PATH``) hands over its argv, folder, environment and its three file
descriptors (SCM_RIGHTS), and exits with the code the forked command sends back. The server forks before any
torch operation has started a thread, and each command runs once in its own child. What only a fresh
interpreter shows (its imports, signals, memory) is tested with real subprocesses elsewhere.
"""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import struct
import sys


def _preload() -> None:
    import torch  # noqa: F401
    import torch._export.serde.serialize  # noqa: F401 - what loading a .pt2 imports (3.5 s)

    import gentools.api.evaluator  # noqa: F401
    import gentools.api.extract  # noqa: F401
    import gentools.cli  # noqa: F401
    import gentools.features.job  # noqa: F401
    import gentools.features.pipeline  # noqa: F401
    import gentools.render  # noqa: F401


def _receive(conn: socket.socket) -> tuple[dict, list]:
    size = struct.unpack("!I", conn.recv(4, socket.MSG_WAITALL))[0]
    fds = array.array("i")
    message, ancillary, _, _ = conn.recvmsg(size, socket.CMSG_LEN(3 * fds.itemsize))
    while len(message) < size:
        message += conn.recv(size - len(message), socket.MSG_WAITALL)
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return json.loads(message), list(fds)


def _child(conn: socket.socket) -> None:
    request, fds = _receive(conn)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # what a fresh interpreter takes from the environment at start: PYTHONPATH before the installed packages
    sys.path[1:1] = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 1
    try:
        from gentools.cli import run

        code = run(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        conn.sendall(struct.pack("!i", code))
        os._exit(code)


def serve(path: str) -> None:
    _preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            _child(conn)
        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
