"""The offline video demo (examples/video): FVD ranks the faithful generator before the jittery and the frozen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


VIDEO = Path(__file__).resolve().parents[2] / "examples" / "video"


@pytest.mark.slow  # the whole example from scratch: `make test-all` and CI
def test_video_demo_ranks_smooth_before_jittery_and_frozen(tmp_path, forkserver):
    out = tmp_path / "out"
    proc = subprocess.run(["make", "-C", str(VIDEO), f"OUT={out}", f"GENTOOLS={forkserver['gentools']}",
                           f"PYTHON={sys.executable}", "N=8", "REAL=8"], env=forkserver["env"], capture_output=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    scores = {n: json.loads((out / "results" / f"{n}.json").read_text()) for n in ("smooth", "jittery", "frozen")}
    fvd = {n: s["values"]["fid"] for n, s in scores.items()}
    assert 0 < fvd["smooth"] < fvd["frozen"] < fvd["jittery"], fvd
    assert scores["smooth"]["params"]["preset"] == "tats"
    assert (out / "results" / "video.png").stat().st_size > 10_000
    assert "smooth fvd" in (out / "results" / "summary.txt").read_text()
