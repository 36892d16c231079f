#!/usr/bin/env bash
# `zen train` rejects bad input with a message naming the problem and a non-zero exit.
set -uo pipefail
zen=$1
spec=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() { # expect WORDS -- ARGS...: the command fails and stderr contains WORDS
  local words=$1
  shift 2
  if "$zen" "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: zen $* succeeded"; fails=$((fails + 1))
  elif ! grep -q -- "$words" "$tmp/err"; then
    echo "FAIL: zen $*: expected '$words' in: $(cat "$tmp/err")"; fails=$((fails + 1))
  else
    echo "ok: zen $* -> $(head -n1 "$tmp/err")"
  fi
}
echo '{"class_name": "Sequential", "config": {"layers": [' > "$tmp/bad.json"
echo '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Input", "config": {"shape": [28, 28, 1]}}, {"class_name": "Conv2D", "config": {"filters": 8, "kernel_size": 0}}]}, "compile": {"loss": "mse"}}' > "$tmp/badk.json"
echo '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Input", "config": {"shape": [4]}}, {"class_name": "Dense", "config": {"units": 2}}]}, "compile": {"loss": "nope"}}' > "$tmp/badloss.json"
expect "needs a spec" -- train
expect "unknown or incomplete option" -- train "$spec" --data mnist --frobnicate
expect "--epochs needs an integer" -- train "$spec" --data mnist --epochs many
expect "--validation-split needs a number" -- train "$spec" --data mnist --validation-split 1.5
expect "--eval-every needs an integer" -- train "$spec" --data mnist --eval-every -1
expect "cannot open" -- train "$tmp/missing.json" --data "$tmp"
expect "not valid JSON" -- train "$tmp/bad.json" --data "$tmp"
expect "kernel_size must be positive" -- train "$tmp/badk.json" --data "$tmp"
expect "unknown loss 'nope'" -- train "$tmp/badloss.json" --data "$tmp"
expect "train-images-idx3-ubyte" -- train "$spec" --data "$tmp"
# a named data set that was not fetched: where it was looked for, and how to fetch it
ZEN_DATA_DIR=$tmp/nowhere expect "data set 'mnist' is not in $tmp/nowhere/mnist; run scripts/fetch_data.sh mnist" -- train "$spec" --data mnist
ZEN_DATA_DIR=$tmp/nowhere expect "data set 'spam-assassin' is not in $tmp/nowhere/spam-assassin" -- train "$spec" --data spam-assassin
expect "unknown command" -- frobnicate
echo "$((13 - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
