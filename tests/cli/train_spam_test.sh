#!/usr/bin/env bash
# `zen train SPEC --data spam-assassin`: e-mails as token ids for an Embedding model. On a
# synthetic corpus of 500 e-mails in the SpamAssassin layout (written here with python3; words
# that lean to one class among shared ones) a small LSTM learns (test accuracy >= 85%) and
# the model is saved with its vocabulary; models that do not fit text data are refused with
# a message. With ZEN_FULL_TESTS=1 and the real corpus, examples/spam_classifier.json reaches
# >= 97% test accuracy.
set -uo pipefail
zen=$1
spec_full=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$out/data/spam-assassin"
python3 - "$out/data/spam-assassin" <<'PY' || fail "python3 could not write the corpus"
import os, random, sys
root = sys.argv[1]
r = random.Random(7)
common = ("the a to of and in is for on that with this you it we be at have from or will can your are all one "
          "about more time new just get here list mail week people some would like also make good only out up").split()
ham = "patch kernel build thanks meeting review debian config bug release wrote package mailing commit server script".split()
spam = "free money offer click winner cash viagra guaranteed unsubscribe credit cheap income prize limited order risk".split()
for group, n, is_spam in (("easy-ham-1", 150, 0), ("easy-ham-2", 100, 0), ("hard-ham-1", 50, 0),
                          ("spam-1", 80, 1), ("spam-2", 120, 1)):
    os.makedirs(f"{root}/{group}")
    own, other = (spam, ham) if is_spam else (ham, spam)
    for i in range(n):
        def words(k):
            out = []
            for _ in range(k):
                u = r.random()
                out.append(r.choice(own) if u < 0.2 else r.choice(other) if u < 0.24 else r.choice(common))
            return " ".join(out)
        with open(f"{root}/{group}/{i:05d}.txt", "w") as f:
            f.write(f"From x@example.org\nSubject: {words(4)}\nTo: y@example.org\n\n{words(r.randint(20, 60))}\n")
PY

cat > "$out/small.json" <<'JSON'
{"class_name": "Sequential", "config": {"name": "small", "layers": [
  {"class_name": "InputLayer", "config": {"shape": [40], "dtype": "int32"}},
  {"class_name": "Embedding", "config": {"input_dim": 200, "output_dim": 16, "mask_zero": true}},
  {"class_name": "LSTM", "config": {"units": 12}},
  {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]},
 "compile": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}},
             "loss": "binary_crossentropy", "metrics": ["accuracy"]},
 "fit": {"epochs": 6, "batch_size": 16, "seed": 1}}
JSON
ZEN_DATA_DIR=$out/data "$zen" train "$out/small.json" --data spam-assassin --verbose 2 --output "$out/small.zen" \
  >"$out/log" 2>&1 || { cat "$out/log"; fail "zen train on the synthetic corpus"; }
cat "$out/log"
! grep -q "Sanitizer" "$out/log" || fail "sanitizer report"
grep -q "spam-assassin: 400 e-mails for training, 100 for the test" "$out/log" || fail "split sizes"
acc=$(sed -n 's/.*test accuracy: \([0-9.]*\).*/\1/p' "$out/log")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.85) }' || fail "test accuracy '$acc' < 0.85"
[[ -s $out/small.zen ]] || fail "no model file"
python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; spec=json.loads(json.loads(f.read(n))["__metadata__"]["model"]); sys.exit(0 if spec.get("tokenizer",{}).get("type")=="word" else 1)' "$out/small.zen" || fail "no word vocabulary in the model file"

# expect_error SPEC_JSON MESSAGE
expect_error() {
  echo "$1" >"$out/bad.json"
  ZEN_DATA_DIR=$out/data "$zen" train "$out/bad.json" --data spam-assassin >"$out/log" 2>&1 && fail "accepted $1"
  grep -q "Sanitizer" "$out/log" && fail "sanitizer report: $(cat "$out/log")"
  grep -qF -- "$2" "$out/log" || fail "wanted '$2', got: $(cat "$out/log")"
  echo "ok: $2"
}
compile='"compile": {"optimizer": "adam", "loss": "binary_crossentropy"}'
expect_error "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Input\", \"config\": {\"shape\": [8]}},
  {\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"activation\": \"sigmoid\"}}]}, $compile}" \
  "needs a model whose input is token ids"
expect_error "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": {\"shape\": [8], \"dtype\": \"int32\"}},
  {\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 50, \"output_dim\": 4}}, {\"class_name\": \"LSTM\", \"config\": {\"units\": 3}},
  {\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"softmax\"}}]}, $compile}" \
  "has two classes (ham 0, spam 1)"
ZEN_DATA_DIR=$out/nowhere "$zen" train "$out/small.json" --data spam-assassin >"$out/log" 2>&1 && fail "no corpus accepted"
grep -q "run scripts/fetch_data.sh spam-assassin" "$out/log" || fail "missing corpus: $(cat "$out/log")"
echo "ok: missing corpus"

[[ ${ZEN_FULL_TESTS:-0} == 1 ]] || exit 0
data=${ZEN_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zen/datasets}
[[ -d $data/spam-assassin/spam-2 ]] || { echo "no $data/spam-assassin: the full run is skipped"; exit 0; }
"$zen" train "$spec_full" --data spam-assassin --verbose 2 --output "$out/full.zen" | tee "$out/log" || fail "full run"
acc=$(sed -n 's/.*test accuracy: \([0-9.]*\).*/\1/p' "$out/log")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' || fail "full run: test accuracy '$acc' < 0.97"
echo "full run: test accuracy $acc >= 0.97"
