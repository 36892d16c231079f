#!/usr/bin/env bash
# `zen train` on text and `zen generate --prompt`: a tiny character GPT trained on a generated
# text file (sentences of a small grammar) with the CLI learns (the validation loss falls
# below half of ln(vocab)), keeps its tokenizer in the model file, and generates text from a
# text prompt; bad text setups fail with clear messages.
set -uo pipefail
zen=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
words=("the cat sat on the mat." "a dog ran to the park." "the dog saw a cat." "a cat ran to the mat.")
RANDOM=7
for i in $(seq 1500); do printf '%s ' "${words[RANDOM % 4]}"; done >"$tmp/small.txt"
spec() { # spec VOCAB STEPS
  cat <<JSON
{"class_name": "Sequential", "config": {"name": "tiny_gpt", "layers": [
  {"class_name": "Input", "config": {"shape": [$2], "dtype": "int32"}},
  {"class_name": "TokenAndPositionEmbedding", "config": {"name": "embed", "vocabulary_size": $1,
   "sequence_length": 32, "embedding_dim": 32}},
  {"class_name": "GPT2Block", "config": {"num_heads": 2}},
  {"class_name": "LayerNormalization", "config": {"epsilon": 1e-5}},
  {"class_name": "LMHead", "config": {"embedding": "embed"}},
  {"class_name": "Activation", "config": {"activation": "softmax"}}]},
 "tokenizer": {"type": "char"},
 "compile": {"optimizer": {"class_name": "AdamW", "config": {"learning_rate": 0.01, "clipnorm": 1.0}},
             "loss": "sparse_categorical_crossentropy", "metrics": ["perplexity"]},
 "fit": {"epochs": 3, "batch_size": 16, "validation_split": 0.1, "seed": 1, "eval_every": 25}}
JSON
}
spec 20 32 >"$tmp/tiny.json"
"$zen" train "$tmp/tiny.json" --data "$tmp/small.txt" --verbose 2 --output "$tmp/tiny.zen" >"$tmp/out" 2>"$tmp/err" \
  || fail "zen train on text: $(cat "$tmp/err")"
grep -q "validation windows of 32" "$tmp/out" || fail "no data summary: $(head -c 400 "$tmp/out")"
grep -q "^step 25 (epoch 1): val_loss" "$tmp/out" || fail "no --eval-every report"
val=$(sed -n 's/^Validation loss: \([0-9.]*\) - validation perplexity: \([0-9.]*\)$/\1/p' "$tmp/out")
[[ -n $val ]] || fail "no validation loss line: $(tail -n 3 "$tmp/out")"
chars=$(tr -d '\n' <"$tmp/small.txt" | fold -w1 | sort -u | wc -l)
awk -v v="$val" -v n="$chars" 'BEGIN { exit !(v < 0.5 * log(n)) }' || fail "validation loss $val is not below half of ln($chars)"
echo "ok: validation loss $val (ln($chars) = $(awk -v n="$chars" 'BEGIN { printf "%.3f", log(n) }'))"
text=$("$zen" generate "$tmp/tiny.zen" --prompt "the cat sat on th" --max-tokens 40 --temperature 0 2>"$tmp/err") \
  || fail "zen generate --prompt: $(cat "$tmp/err")"
echo "ok: generated: $text"
[[ $text == "the cat sat on the "* ]] || fail "greedy text does not continue the prompt with 'e ': '$text'"
# errors
"$zen" generate "$tmp/tiny.zen" --prompt "XYZ" >/dev/null 2>"$tmp/err" && fail "a prompt outside the vocabulary worked"
grep -q "XYZ\|not in the vocabulary\|outside" "$tmp/err" || fail "unclear error for an unknown character: $(cat "$tmp/err")"
spec 5 32 >"$tmp/small_vocab.json"
"$zen" train "$tmp/small_vocab.json" --data "$tmp/small.txt" >/dev/null 2>"$tmp/err" && fail "a too small vocabulary trained"
grep -q "set its vocabulary_size to at least" "$tmp/err" || fail "unclear vocabulary error: $(cat "$tmp/err")"
"$zen" train "$tmp/tiny.json" --data "$tmp/missing.txt" >/dev/null 2>"$tmp/err" && fail "a missing text trained"
grep -q "missing.txt" "$tmp/err" || fail "the error does not name the file: $(cat "$tmp/err")"
echo "$fails failure(s)"
exit $((fails > 0))
