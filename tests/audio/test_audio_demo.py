"""The offline audio demo (examples/audio): FAD, KAD and per-file FAD rank the generators as built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


AUDIO = Path(__file__).resolve().parents[2] / "examples" / "audio"


@pytest.mark.slow  # the whole example from scratch: `make test-all` and CI
def test_audio_demo_ranks_close_before_noisy(tmp_path, forkserver):
    out = tmp_path / "out"
    proc = subprocess.run(["make", "-C", str(AUDIO), f"OUT={out}", f"GENTOOLS={forkserver['gentools']}",
                           f"PYTHON={sys.executable}", "N=24"], env=forkserver["env"], capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    scores = {n: json.loads((out / "results" / f"{n}.json").read_text()) for n in ("close", "noisy")}
    fad = {n: s["fid"]["values"]["fid"] for n, s in scores.items()}
    kad = {n: s["kad"]["values"]["kad"] for n, s in scores.items()}
    assert 0 < fad["close"] < fad["noisy"] and kad["close"] < kad["noisy"]
    per_file = {n: [v for k, v in s["fid"]["values"].items() if k.startswith("fid.")] for n, s in scores.items()}
    assert len(per_file["close"]) == len(per_file["noisy"]) == 24  # one per generated file (2 s: 2 frames each)
    assert sorted(per_file["close"])[12] < sorted(per_file["noisy"])[12]  # medians
    assert scores["close"]["fid"]["params"]["preset"] == "fadtk"
    assert (out / "results" / "audio.png").stat().st_size > 10_000
    summary = (out / "results" / "summary.txt").read_text()
    assert "close fad" in summary
    # the degraded copies, 30 dB down to 0 dB SNR, against their clean clips; 011 is cut short
    assert "failed pair 011\tlengths differ: 24000 generated against 32000 reference samples" in summary
    for metric in ("pesq", "stoi"):
        rows = [line.split("\t") for line in (out / "results" / f"{metric}.tsv").read_text().splitlines()[1:]]
        assert [row[0] for row in rows] == [f"{i:03d}" for i in range(12)]
        values = [float(row[2]) for row in rows]
        assert values[0] > values[5] > values[10] and rows[11][2] == "nan" and rows[11][3].startswith("lengths")
        assert f"{metric}\t" in summary and "unmatched_ref\t28" in summary
