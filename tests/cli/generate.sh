#!/usr/bin/env bash
# `zen import-gpt2` and `zen generate` on the tiny GPT-2 fixture: import, generation from the
# zen file and from the checkpoint directly, greedy and seeded sampling reproducible, the
# token count and the context slide, and clear errors for bad input.
set -uo pipefail
zen=$1
ckpt=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() { # expect WORDS -- ARGS...: the command fails and stderr contains WORDS
  local words=$1
  shift 2
  if "$zen" "$@" >"$tmp/out" 2>"$tmp/err"; then
    fail "zen $* succeeded"
  elif ! grep -q -- "$words" "$tmp/err"; then
    fail "zen $*: expected '$words' in: $(cat "$tmp/err")"
  else
    echo "ok: zen $* -> $(head -n1 "$tmp/err")"
  fi
}
"$zen" import-gpt2 "$ckpt" -o "$tmp/m.zen" || fail "import-gpt2"
[[ -s $tmp/m.zen ]] || fail "no model file written"
a=$("$zen" generate "$tmp/m.zen" --prompt-ids 1,2,3 --max-tokens 30 --temperature 0 2>/dev/null)
b=$("$zen" generate "$ckpt" --prompt-ids 1,2,3 --max-tokens 30 --temperature 0 2>/dev/null)
[[ -n $a && $a == "$b" ]] || fail "greedy from the zen file ($a) and from the checkpoint ($b) differ"
[[ $(wc -w <<<"$a") -eq 30 ]] || fail "expected 30 tokens, got: $a"
s1=$("$zen" generate "$tmp/m.zen" --max-tokens 100 --temperature 1.2 --top-k 50 --top-p 0.95 --seed 7 2>"$tmp/err")
s2=$("$zen" generate "$tmp/m.zen" --max-tokens 100 --temperature 1.2 --top-k 50 --top-p 0.95 --seed 7 2>/dev/null)
s3=$("$zen" generate "$tmp/m.zen" --max-tokens 100 --temperature 1.2 --top-k 50 --top-p 0.95 --seed 8 2>/dev/null)
[[ $s1 == "$s2" ]] || fail "the same seed gave different tokens"
[[ $s1 != "$s3" ]] || fail "different seeds gave the same 100 tokens"
[[ $(wc -w <<<"$s1") -eq 100 ]] || fail "expected 100 tokens past the context of 64"
grep -q "tokens/s" "$tmp/err" || fail "no tokens/s report: $(cat "$tmp/err")"
grep -q "context slid" "$tmp/err" || fail "100 tokens in a context of 64 should slide: $(cat "$tmp/err")"
for t in $s1; do ((t >= 0 && t < 256)) || fail "token $t outside the vocabulary"; done
expect "needs a model" -- generate
expect "cannot open" -- generate "$tmp/missing.zen"
expect "--prompt-ids needs token ids" -- generate "$tmp/m.zen" --prompt-ids 1,x
expect "outside the vocabulary" -- generate "$tmp/m.zen" --prompt-ids 999
expect "--top-p needs a number" -- generate "$tmp/m.zen" --top-p 2
expect "--temperature needs a number" -- generate "$tmp/m.zen" --temperature -1
expect "more than the context length" -- generate "$tmp/m.zen" --prompt-ids "$(seq -s, 1 65)"
expect "give --prompt or --prompt-ids, not both" -- generate "$tmp/m.zen" --prompt hi --prompt-ids 1
expect "--prompt-ids is empty" -- generate "$tmp/m.zen" --prompt-ids ""
expect "has no tokenizer to read --prompt with; give --prompt-ids" -- generate "$tmp/m.zen" --prompt hi
expect "--max-tokens needs an integer" -- generate "$tmp/m.zen" --max-tokens many
expect "--top-k needs an integer" -- generate "$tmp/m.zen" --top-k -2
expect "needs a checkpoint and -o" -- import-gpt2 "$ckpt"
expect "cannot open" -- import-gpt2 "$tmp/none" -o "$tmp/x.zen"
[[ -e $tmp/x.zen ]] && fail "a failed import wrote a file"
echo "$fails failure(s)"
exit $((fails > 0))
