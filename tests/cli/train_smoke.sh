#!/usr/bin/env bash
# `zen train` on the reference spec for one epoch of real MNIST: the model learns (test
# accuracy >= 97%), and the model file, the history CSV and the SVG curves are written.
# Skipped (exit 77) when MNIST has not been fetched (scripts/fetch_data.sh mnist).
set -euo pipefail
zen=$1
spec=$2
cache=${ZEN_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zen/datasets}
[[ -f $cache/mnist/train-images-idx3-ubyte ]] || { echo "MNIST not fetched: skipped"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$zen" train "$spec" --data mnist --epochs 1 --verbose 2 --output "$out/m.zen" --history "$out/h.csv" \
  --plot "$out/c.svg" | tee "$out/log"
acc=$(sed -n 's/.*test accuracy: \([0-9.]*\).*/\1/p' "$out/log")
echo "test accuracy after one epoch: $acc"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }'
[[ -s $out/m.zen && -s $out/c.svg ]]
[[ $(wc -l < "$out/h.csv") -eq 2 ]]
grep -q "val_loss" "$out/c.svg"
