#!/bin/sh
# `zen train --checkpoint / --resume`: 2 epochs, then a resumed run to 4, write the same
# model file BYTE FOR BYTE as 4 straight epochs, and the same history rows; the class
# labels ("0".."9" for digit labels) are in the file; bad --resume files are clear errors.
# Data: a small synthetic MNIST-style IDX directory (600 training, 100 test images).
# usage: cli_resume_test.sh ZEN_BINARY
zen=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zen_cli_resume.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0

python3 - "$tmp/data" <<'PY' || exit 2
import os, random, struct, sys
d = sys.argv[1]
os.makedirs(d)
rng = random.Random(7)
def write(prefix, n):
    labels = [i % 10 for i in range(n)]
    with open(os.path.join(d, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        for y in labels:
            img = bytearray(rng.randrange(0, 60) for _ in range(784))
            for r in range(2 * y, 2 * y + 4):  # a bright band whose row says the class
                for c in range(4, 24):
                    img[r * 28 + c] = 255
            f.write(bytes(img))
    with open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(labels))
write("train", 600)
write("t10k", 100)
PY
cat > "$tmp/mlp.json" <<'JSON'
{"class_name": "Sequential", "config": {"name": "mlp", "layers": [
  {"class_name": "Input", "config": {"shape": [28, 28, 1]}},
  {"class_name": "Flatten", "config": {}},
  {"class_name": "Dense", "config": {"units": 32, "activation": "relu"}},
  {"class_name": "Dropout", "config": {"rate": 0.2}},
  {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]},
 "compile": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.003}},
             "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
 "fit": {"batch_size": 32, "validation_split": 0.1, "seed": 5}}
JSON
run() { # run NAME ARGS...: zen train, output in $tmp/NAME.log
    name=$1
    shift
    if ! "$zen" train "$tmp/mlp.json" --data "$tmp/data" --verbose 0 --threads 2 "$@" >"$tmp/$name.log" 2>&1; then
        echo "FAIL: zen train $* failed:"
        sed 's/^/    /' "$tmp/$name.log"
        fail=1
    fi
}
run straight --epochs 4 --output "$tmp/straight.zen" --history "$tmp/straight.csv"
run first --epochs 2 --checkpoint "$tmp/ckpt.zen" --output "$tmp/first.zen"
run resumed --epochs 4 --resume "$tmp/ckpt.zen" --checkpoint "$tmp/ckpt.zen" --output "$tmp/resumed.zen" \
    --history "$tmp/resumed.csv"
if cmp -s "$tmp/straight.zen" "$tmp/resumed.zen"; then
    echo "ok   2 epochs + resume to 4 wrote the same model file as 4 straight epochs"
else
    echo "FAIL: the resumed model file differs from the straight one"
    fail=1
fi
# the CSV of the resumed run has epochs 2 and 3: the same rows as the straight run's
if [ "$(tail -n 2 "$tmp/straight.csv")" = "$(tail -n +2 "$tmp/resumed.csv")" ] && [ "$(wc -l <"$tmp/resumed.csv")" -eq 3 ]; then
    echo "ok   the resumed epochs log the same values"
else
    echo "FAIL: history rows differ:"; cat "$tmp/straight.csv" "$tmp/resumed.csv"; fail=1
fi
grep -q 'Test loss' "$tmp/resumed.log" || { echo "FAIL: no test evaluation after resuming"; fail=1; }
grep -aq '"class_names":"\[\\"0\\",\\"1\\",\\"2\\",\\"3\\",\\"4\\",\\"5\\",\\"6\\",\\"7\\",\\"8\\",\\"9\\"\]"' "$tmp/straight.zen" \
    && echo "ok   class_names 0..9 are in the file" || { echo "FAIL: class_names missing from the model file"; fail=1; }
ls -a "$tmp" | grep -q '\.tmp$' && { echo "FAIL: a temporary file was left behind"; ls -a "$tmp"; fail=1; }

# bad --resume files
expect() { # expect PATTERN ARGS...: zen train fails with PATTERN in its output
    pattern=$1
    shift
    "$zen" train "$tmp/mlp.json" --data "$tmp/data" --verbose 0 "$@" >"$tmp/out" 2>&1
    st=$?
    if [ "$st" = 0 ] || ! grep -qF -- "$pattern" "$tmp/out"; then
        echo "FAIL: zen train $* -> $st, expected '$pattern' in:"; sed 's/^/    /' "$tmp/out"; fail=1
    else
        echo "ok   zen train ... $* -> $(grep -F -- "$pattern" "$tmp/out" | head -n 1)"
    fi
}
expect "not a checkpoint" --epochs 3 --resume "$tmp/straight.zen"
expect "cannot open" --epochs 3 --resume "$tmp/none.zen"
head -c 1000 "$tmp/ckpt.zen" >"$tmp/cut.zen"
expect "past the end of the file" --epochs 3 --resume "$tmp/cut.zen"
expect "--resume" --epochs 3 --resume
# a checkpoint that cannot be written: the path named, no file left behind
expect "checkpoint: cannot write $tmp/no/dir/ck.zen" --epochs 1 --checkpoint "$tmp/no/dir/ck.zen" --output "$tmp/nock.zen"
[ ! -e "$tmp/no" ] || { echo "FAIL: $tmp/no was created"; fail=1; }
expect "--checkpoint" --epochs 1 --checkpoint
exit $fail
