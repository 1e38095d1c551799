"""The offline text demo (examples/text): two generators ranked by MAUVE, FBD, BLEU, ROUGE and METEOR."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TEXT = Path(__file__).resolve().parents[2] / "examples" / "text"


@pytest.mark.slow  # the whole example from scratch: `make test-all` and CI
def test_text_demo_ranks_close_before_noisy_on_every_metric(tmp_path, forkserver):
    out = tmp_path / "out"
    proc = subprocess.run(["make", "-C", str(TEXT), f"OUT={out}", f"GENTOOLS={forkserver['gentools']}",
                           f"PYTHON={sys.executable}"], env=forkserver["env"], capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    scores = {n: json.loads((out / "results" / f"{n}.json").read_text()) for n in ("close", "noisy")}
    value = {n: {c: s[c]["values"] for c in s} for n, s in scores.items()}
    assert value["close"]["mauve"]["mauve"] > value["noisy"]["mauve"]["mauve"]
    assert value["close"]["mauve"]["mauve_std"] > 0  # --seeds 5
    assert value["close"]["fbd"]["fid"] < value["noisy"]["fbd"]["fid"]
    for command, name in (("bleu", "bleu"), ("rouge", "rougeL"), ("meteor", "meteor")):
        assert value["close"][command][name] > value["noisy"][command][name], command
    assert value["close"]["bleu"]["pairs_scored"] == 240
    assert scores["close"]["meteor"]["params"]["wordnet"].endswith("wordnet")
    assert (out / "results" / "text.png").stat().st_size > 10_000
    assert "bleu signature\tnrefs:1|" in (out / "results" / "summary.txt").read_text()
