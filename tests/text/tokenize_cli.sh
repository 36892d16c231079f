#!/bin/sh
# zen tokenize: GPT-2 ids of a file, the text back from them (a byte-exact round trip of the
# committed UTF-8 fixture and of invalid UTF-8), and clear errors with exit status 1 or 2.
# Skipped (77) without GPT-2's files in the data directory (scripts/fetch_data.sh gpt2-bpe).
# usage: tokenize_cli.sh ZEN_BINARY FIXTURE_DIR
zen=$1
fixtures=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf 'Hello world' >"$tmp/hw.txt"
if ! "$zen" tokenize "$tmp/hw.txt" >"$tmp/hw.ids" 2>"$tmp/err"; then
  if grep -q "encoder.json: cannot open" "$tmp/err"; then echo "skipped: $(cat "$tmp/err")"; exit 77; fi
  fail "zen tokenize: $(cat "$tmp/err")"
fi
[ "$(tr '\n' ' ' <"$tmp/hw.ids")" = "15496 995 " ] || fail "ids of 'Hello world': $(cat "$tmp/hw.ids")"

for f in "$fixtures/text/tiny.txt" "$tmp/bytes.bin"; do
  [ "$f" = "$tmp/bytes.bin" ] && printf 'caf\351 \377\376 ok\n' >"$f" # Latin-1 and stray bytes
  "$zen" tokenize "$f" >"$tmp/ids" || fail "tokenize $f"
  "$zen" tokenize --decode "$tmp/ids" >"$tmp/back" || fail "decode $f"
  cmp -s "$f" "$tmp/back" || fail "round trip of $f"
done
out=$("$zen" tokenize --count "$tmp/hw.txt") || fail "--count"
[ "$out" = "$tmp/hw.txt: 11 bytes, 2 tokens" ] || fail "--count said '$out'"

# errors: (status, words of the message)
expect() {
  want=$1 words=$2
  shift 2
  "$zen" tokenize "$@" >/dev/null 2>"$tmp/err"
  got=$?
  [ $got -eq "$want" ] || fail "zen tokenize $*: status $got, expected $want"
  grep -q -- "$words" "$tmp/err" || fail "zen tokenize $*: '$(cat "$tmp/err")' lacks '$words'"
}
expect 2 "no file given"
expect 2 "unknown option '--bogus'" --bogus "$tmp/hw.txt"
expect 2 "--dir needs a directory" "$tmp/hw.txt" --dir
expect 2 "one file of ids" --decode "$tmp/hw.ids" "$tmp/hw.ids"
expect 1 "missing.txt: cannot open" "$tmp/missing.txt"
expect 1 "$tmp/encoder.json: cannot open" --dir "$tmp" "$tmp/hw.txt"
expect 1 "token 0 is not a non-negative integer" --decode "$tmp/hw.txt"
printf '15496 50257\n' >"$tmp/bad.ids"
expect 1 "id 50257 at position 1" --decode "$tmp/bad.ids"
echo "tokenize_cli: all passed"
