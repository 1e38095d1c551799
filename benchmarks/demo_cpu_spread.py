"""How far the digits demo's numbers move with the CPU's kernels.

The demo trains a classifier and two VAEs in float32; the trained weights, and so every number in its summary,
depend on which vectorised kernels torch and oneDNN pick. This script runs the demo once per kernel setting
(``ATEN_CPU_CAPABILITY`` = default / avx2 / avx512, ``ONEDNN_MAX_CPU_ISA``) and prints, for each summary field,
the values and the relative spread (max - min) / max |value|. tests/test_demo.py compares docs/demo.md's block
with a run within the spread recorded in docs/demo.md.

    python benchmarks/demo_cpu_spread.py [--out bench-out/spread] [--setting NAME=ENV ...]

A capability the CPU lacks is not emulated: on an AVX2-only machine ``ATEN_CPU_CAPABILITY=avx512`` dies with
SIGILL (exit 132, seen here), so the script skips settings whose CPU flag /proc/cpuinfo lacks and says so.
It prints what torch reports as the capability of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
}
NEEDS_FLAG = {"avx2": "avx2", "avx512": "avx512f"}


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as fh:
            return {flag for line in fh if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    except OSError:
        return set()


def run_demo(out: Path, env_extra: dict) -> dict:
    """``{model: {command.key: value}}`` of one demo run (its metrics.jsonl)."""
    env = dict(os.environ, **env_extra)
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples" / "digits"), "clean", f"OUT={out}"], check=True, env=env)
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples" / "digits"), f"OUT={out}", f"PYTHON={sys.executable}",
                    f"GENTOOLS={Path(sys.executable).parent / 'gentools'}"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    values: dict = {}
    for line in (out / "results" / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key, value in record["values"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(record["tags"].get("model", "?"), {})[f"{record['command']}.{key}"] = value
    capability = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                                env=env, capture_output=True, text=True).stdout.strip()
    return {"capability": capability, "values": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench-out" / "spread"))
    parser.add_argument("--only", nargs="*", default=list(SETTINGS), help="settings to run")
    args = parser.parse_args()
    runs = {}
    flags = cpu_flags()
    for name in args.only:
        if NEEDS_FLAG.get(name, "") and NEEDS_FLAG[name] not in flags:
            print(f"skipping {name}: this CPU lacks {NEEDS_FLAG[name]}", file=sys.stderr, flush=True)
            continue
        print(f"running the demo with {SETTINGS[name]} ...", file=sys.stderr, flush=True)
        runs[name] = run_demo(Path(args.out) / name, SETTINGS[name])
        print(f"  torch capability: {runs[name]['capability']}", file=sys.stderr, flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "spread.json").write_text(json.dumps(runs, indent=1))
    first = next(iter(runs.values()))["values"]
    print("model\tfield\t" + "\t".join(runs) + "\trel_spread")
    worst = 0.0
    for model, fields in first.items():
        for field in fields:
            seen = [runs[r]["values"].get(model, {}).get(field) for r in runs]
            numbers = [v for v in seen if v is not None]
            top = max(abs(v) for v in numbers) or 1.0
            spread = (max(numbers) - min(numbers)) / top
            worst = max(worst, spread)
            print(f"{model}\t{field}\t" + "\t".join(f"{v:.6g}" for v in numbers) + f"\t{spread:.3g}")
    print(f"worst relative spread: {worst:.3g}")


if __name__ == "__main__":
    main()
