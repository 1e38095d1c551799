"""Print the digits demo's results: one row per model, and where the pictures are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [("fid", "fid"), ("kid", "kid_mean"), ("is", "is_mean"), ("prdc", "precision"), ("prdc", "recall"),
           ("twosample", "mmd_p_value"), ("twosample", "c2st_statistic"), ("kde", "log_likelihood_mean"),
           ("diversity", "modes"), ("diversity", "class_entropy")]


def main(out: Path) -> None:
    rows: dict = {}
    extra = []
    for line in (out / "results" / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        model = record["tags"].get("model", "?")
        per_class = record["command"] == "fid" and "intra_fid" in record["values"]
        for name, value in record["values"].items():
            if not per_class:  # its fid (all rows, against the labelled test set) is a line below, not the table's
                rows.setdefault(model, {})[(record["command"], name)] = value
        if record["command"] in ("nn-grid", "interp"):
            extra += [f"{record['command']}.{k}\t{v}" for k, v in record["values"].items()
                      if not isinstance(v, str)]
        if per_class:  # vae vs test, per classifier class
            extra += [f"vae.per_class.{k}\t{v:.4g}" for k, v in record["values"].items()]
    header = ["model"] + [f"{c}.{n}" if c not in ("fid", "kid", "is") else n for c, n in COLUMNS]
    print("\t".join(header))
    for model in ("train", "valid", "vae", "vae2", "noise"):
        if model in rows:
            cells = [rows[model].get(key) for key in COLUMNS]
            print("\t".join([model] + ["-" if v is None else f"{v:.4g}" for v in cells]))
    print("\n" + "\n".join(extra))
    recon: dict = {}
    for line in (out / "results" / "recon.jsonl").read_text().splitlines():
        record = json.loads(line)
        recon.setdefault(record["tags"]["model"], {}).update(record["values"])
    print("\nreconstruction of 200 test digits (paired by id; lpips with random trunk and lin weights)")
    print("model\tssim\tpsnr\tlpips_random\tpairs")
    for model, values in recon.items():
        print(f"{model}\t{values['ssim']:.4f}\t{values['psnr']:.2f}\t{values['lpips']:.4g}\t{values['pairs_scored']}")
    print("\npictures:")
    for name in ("nn_grid.png", "interp.png", "interp_encoded.png", "kde_sigma.png", "trend.png"):
        print(f"  {(out / 'results' / name).resolve()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
