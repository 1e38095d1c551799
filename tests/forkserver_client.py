#!/usr/bin/env python3
"""``gentools`` as the example recipes call it in the tests: the command runs in a process forked by
tests/forkserver.py (``$GENTOOLS_FORKSERVER``), with this process's stdin, stdout, stderr, folder and
environment; exits with its code."""

import array
import json
import os
import socket
import struct
import sys

conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(os.environ["GENTOOLS_FORKSERVER"])
message = json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
conn.sendall(struct.pack("!I", len(message)))
conn.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
answer = conn.recv(4, socket.MSG_WAITALL)
sys.exit(struct.unpack("!i", answer)[0] if len(answer) == 4 else 1)
