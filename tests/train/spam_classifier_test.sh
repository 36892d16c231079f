#!/usr/bin/env bash
# examples/spam_classifier, the program itself.
#   spam_classifier_test.sh BINARY errors   bad options and a missing corpus give clear errors
#   spam_classifier_test.sh BINARY full     ZEN_FULL_TESTS=1: the whole SpamAssassin run with
#       its defaults reaches >= 97% test accuracy and writes its model and vocabulary; skipped
#       (77) without ZEN_FULL_TESTS or without the corpus (scripts/fetch_data.sh spam-assassin).
set -uo pipefail
bin=$1
mode=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect_error MESSAGE ARGS...: exits non-zero with MESSAGE on stderr
expect_error() {
  local want=$1
  shift
  "$bin" "$@" >"$out/stdout" 2>"$out/stderr" && fail "'$*' succeeded"
  grep -q "Sanitizer" "$out/stderr" && fail "sanitizer report: $(cat "$out/stderr")"
  grep -qF -- "$want" "$out/stderr" || fail "'$*': wanted '$want', got: $(cat "$out/stderr")"
  echo "ok: $* -> $want"
}

if [[ $mode == errors ]]; then
  "$bin" --help | grep -q -- "--seq-len" || fail "--help"
  expect_error "unknown option '--bogus'" --bogus
  expect_error "--seq-len needs a value" --seq-len
  expect_error "--seq-len: '0' is not a valid count" --seq-len 0
  expect_error "--epochs: '3x' is not a valid count" --epochs 3x
  expect_error "--learning-rate: '-1' is not a positive number" --learning-rate -1
  expect_error "--max-tokens must be at least 3" --max-tokens 2
  expect_error "--text must be subject+body, body or all" --text headers
  expect_error "$out/none/easy-ham-1: cannot open the folder" --data "$out/none"
  exit 0
fi

[[ ${ZEN_FULL_TESTS:-0} == 1 ]] || { echo "skipped: set ZEN_FULL_TESTS=1"; exit 77; }
data=${ZEN_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zen/datasets}
[[ -d $data/spam-assassin/spam-2 ]] || { echo "skipped: no $data/spam-assassin (scripts/fetch_data.sh spam-assassin)"; exit 77; }
"$bin" --verbose 2 --output "$out/spam.zen" 2>&1 | tee "$out/log" || fail "spam_classifier failed"
acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' "$out/log")
[[ -n $acc ]] || fail "no test accuracy in the output"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' || fail "test accuracy $acc < 0.97"
[[ -s $out/spam.zen ]] || fail "model not written"
python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; spec=json.loads(json.loads(f.read(n))["__metadata__"]["model"]); sys.exit(0 if spec.get("tokenizer",{}).get("type")=="word" else 1)' "$out/spam.zen" || fail "no word vocabulary in the model file"
echo "test accuracy $acc >= 0.97"
