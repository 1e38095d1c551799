#!/usr/bin/env bash
# gentools in shell pipes. Runs on the digits demo's files (make demo first), with the
# demo's classifier as backbone; with real images, drop the -b option (Inception).
#
#   bash examples/pipes.sh [DEMO_OUT]      (default examples/digits/out)
set -euo pipefail
out=${1:-$(dirname "$0")/digits/out}
bb=(-b "pt2:$out/models/classifier.pt2" --workers 0 -q)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Extract and score in one line. The pipe rule makes fid wait for extract to finish,
#    so a stale gen.h5 from an earlier run is never read.
gentools extract "$out/data/valid" "${bb[@]}" -o "$tmp/valid.h5" | gentools fid "$tmp/valid.h5" "$out/feats/test_stats.h5"

# 2. No file at all: features as bytes through stdout/stdin ('-').
gentools extract "$out/data/noise" "${bb[@]}" | gentools fid - "$out/feats/test_stats.h5" -q

# 3. One line per file: `ls | while read` works (commands leave a stdin that holds data alone).
ls "$out"/feats/vae*.h5 | while read -r f; do
  printf '%s\t%s\n' "$(basename "$f")" "$(gentools fid "$f" "$out/feats/test_stats.h5" -q | cut -f2)"
done

# 4. Machine-readable: JSON, or append a JSONL record per run and plot the trend.
gentools kid "$out/feats/vae.h5" "$out/feats/test.h5" --subset-size 200 --json -q \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["values"])'
for s in 20 100 400 1500; do
  gentools fid "$out/feats/vae_step$s.h5" "$out/feats/test_stats.h5" -q --append "$tmp/m.jsonl" --tag step=$s >/dev/null
done
gentools report "$tmp/m.jsonl" -o "$tmp/trend.png"

# 5. Statistics for other tools: pytorch-fid / clean-fid read this npz.
gentools stats "$out/feats/test.h5" --npz -o "$tmp/test_stats.npz"

# 6. Exit codes for scripts: 0 ok, 1 bad data (one line on stderr), 2 usage.
if ! gentools fid "$out/feats/vae.h5" "$out/px/test.h5" -q 2>"$tmp/err"; then
  echo "refused as expected: $(cat "$tmp/err")"
fi
