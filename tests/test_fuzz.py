"""Fuzz every reader: 500 seeded mutations of a valid file each (bit flips, truncation, overwritten and inserted
bytes, declared sizes set to lies, wrong types and shapes). Every run must end with exit 0, or exit 1 and one
`gentools: error:` line that is not the CLI's "unexpected" fallback, within 10 s, and the reader's process must
stay under 1 GB. The mutants are made in code (tests/fuzz_driver.py); a crash of the interpreter fails the test
through the driver's exit code. The readers of issue 33 (.pt2 archives, resume partial files, latents, refs
records, WAV/FLAC, GIF/AVI) are called directly, as their commands call them: each must return, or raise the one
exception its command prints as one line (GentoolsError; ValueError for decoders; CannotResume for a partial)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parent.parent
RUNS = 500


@pytest.mark.parametrize("reader", ["hdf5", "stats", "numpy", "pickle", "labels-tsv", "captions-tsv", "jsonl",
                                    "archive", "png",
                                    # issue 33's readers, called as their commands call them
                                    "pt2", "partial", "latents", "refs-record", "sound", "video"])
def test_every_mutant_ends_in_one_line_or_success(reader, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz_driver", reader, str(RUNS), "18", str(tmp_path)],
                          cwd=ROOT, env=cli_env(GENTOOLS_NO_STDIN="1"), capture_output=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    summary = json.loads(proc.stdout)
    print(json.dumps(summary))  # the counts per reader, for the record (-s)
    assert summary["runs"] == RUNS
    assert summary["broken_count"] == 0, summary["broken"]
    assert set(summary["outcomes"]) <= {"0", "1"}
    assert summary["slowest_s"] < 10 and summary["peak_rss_mb"] < 1024, summary
