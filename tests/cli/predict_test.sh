#!/usr/bin/env bash
# zen predict: the classes of image files (PNG, JPEG, resized, channels converted, --invert)
# and of IDX, NPY and CSV data files are the ones the model learned; the text, CSV and JSON
# forms agree; --output writes the raw outputs as NPY; logits are shown through a softmax.
# usage: predict_test.sh ZEN BARS_SPEC IMAGE_FIXTURES_DIR
source "$(dirname "$0")/lib_model.sh"
train_bars
m=$tmp/bars.zen

# pictures as a user has them: 16x16 RGB PNG (area-shrunk, RGB -> gray), 24x24 gray JPEG
expect 0 "horizontal.png  horizontal" -- predict "$m" "$bars/horizontal.png" "$bars/vertical.jpg"
grep -qE "vertical.jpg +vertical +0\.9" "$tmp/out" && ok "vertical.jpg is vertical" || bad "vertical.jpg: $(cat "$tmp/out")"
head -n 1 "$tmp/out" | grep -qE "^sample +prediction +probability +top 3$" && ok "text header" || bad "header: $(head -n 1 "$tmp/out")"
# a dark line on a transparent canvas: composited over white, so it needs --invert
expect 0 "diagonal_paper.png  diagonal" -- predict "$m" "$bars/diagonal_paper.png" --invert --top 1
check "--top 1 prints no top column" [ "$(head -n 1 "$tmp/out" | grep -c top)" = 0 ]
expect 0 "probability" -- predict "$m" "$bars/diagonal_paper.png"
check "without --invert the paper drawing is not a diagonal" [ "$(awk 'NR == 2 { print $2 }' "$tmp/out")" != diagonal ]

# data files: the test split as NPY, gzip IDX and CSV give the same classes, which are right
expect 0 "sample,class,label,probability" -- predict "$m" "$bars/test_x.npy" --format csv --top 3
cp "$tmp/out" "$tmp/npy.csv"
check "60 rows" [ "$(($(wc -l <"$tmp/npy.csv") - 1))" = 60 ]
right=$(paste -d, <(tail -n +2 "$tmp/npy.csv" | cut -d, -f2) <(tail -n +2 "$bars/test.csv" | cut -d, -f1) | awk -F, '$1 == $2' | wc -l)
check "the model learned: $right of 60 test samples right (>= 57)" [ "$right" -ge 57 ]
expect 0 "sample,class" -- predict "$m" "$bars/t10k-images-idx3-ubyte.gz" --format csv --top 3
check "IDX (gzip, u8 scaled) = NPY predictions" cmp -s "$tmp/out" "$tmp/npy.csv"
expect 0 "sample,class" -- predict "$m" "$bars/test.csv" --header --label-col 0 --format csv --top 3
check "CSV (label column dropped) = NPY classes" cmp -s <(cut -d, -f2 "$tmp/out") <(cut -d, -f2 "$tmp/npy.csv")
expect 0 "sample,class" -- predict "$m" "$bars/test.csv" --label-name label --format csv --top 3
check "--label-name = --label-col" cmp -s <(cut -d, -f2 "$tmp/out") <(cut -d, -f2 "$tmp/npy.csv")
check "top-3 probabilities are decreasing" awk -F, 'NR > 1 && !($7 >= $10 && $10 >= $13) { exit 1 }' "$tmp/npy.csv"
expect 0 "0 " -- predict "$m" "$bars/test_x.npy" --top 2 --batch-size 7
check "text form: same classes as CSV (batch size 7)" cmp -s <(tail -n +2 "$tmp/out" | awk '{print $2}') <(tail -n +2 "$tmp/npy.csv" | cut -d, -f3)

# JSON: one object per sample with the label, probability and top-k list
expect 0 '"label":"' -- predict "$m" "$bars/test_x.npy" --format json --top 2
if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
csv = [l.split(",") for l in open(sys.argv[2]).read().split("\n")[1:] if l]
assert len(rows) == 60 and all(len(r["top"]) == 2 for r in rows)
assert [r["class"] for r in rows] == [int(c[1]) for c in csv]
assert all(abs(r["probability"] - float(c[3])) < 1e-5 and r["label"] == c[2] for r, c in zip(rows, csv))
' "$tmp/out" "$tmp/npy.csv" && ok "JSON parses and matches the CSV form" || bad "JSON form: $(head -c 300 "$tmp/out")"
fi

# raw outputs as NPY: nothing printed but the file; with --format, both
expect 0 "wrote the outputs of 60 samples, shape (60, 3), to $tmp/o.npy" -- predict "$m" "$bars/test_x.npy" -o "$tmp/o.npy"
check "one line on stdout" [ "$(wc -l <"$tmp/out")" = 1 ]
check "NPY magic" [ "$(head -c 6 "$tmp/o.npy" | tail -c 5)" = "NUMPY" ]
if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c '
import numpy as np, sys
o = np.load(sys.argv[1]); csv = [l.split(",") for l in open(sys.argv[2]).read().split("\n")[1:] if l]
assert o.shape == (60, 3) and o.dtype == np.float32 and np.allclose(o.sum(1), 1, atol=1e-5)
assert list(o.argmax(1)) == [int(c[1]) for c in csv]
' "$tmp/o.npy" "$tmp/npy.csv" && ok "NPY outputs: softmax rows whose argmax are the classes" || bad "NPY outputs"
fi
expect 0 "sample" -- predict "$m" "$bars/horizontal.png" -o "$tmp/p.npy" --format text
check "--output with --format prints the table too" grep -q "horizontal.png  horizontal" "$tmp/out"
check "the image output file" [ -s "$tmp/p.npy" ]

# a model with a linear last layer outputs logits: shown through a softmax, same classes
if edit_model logits; then
    expect 0 "not probabilities" -- predict "$tmp/logits.zen" "$bars/test_x.npy" --format csv --top 3
    # the same classes and labels, probabilities equal to rounding
    check "softmax(logits) = the softmax model's probabilities" awk -F, 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; next }
        { for (i = 1; i <= NF; i++) if ($i != a[FNR, i] && (FNR == 1 || (i - 1) % 3 != 0 || ($i - a[FNR, i]) ^ 2 > 1e-10)) exit 1 }' \
        "$tmp/npy.csv" "$tmp/out"
fi
# a model of int32 token ids (Embedding): NPY/CSV ids load as i32, unscaled
if edit_model tokens; then
    printf '0,0,0,0\n4,4,4,4\n1,1,1,1\n2,1,1,1\n' >"$tmp/ids.csv"
    expect 0 "3,1,1,0.982014" -- predict "$tmp/tokens.zen" "$tmp/ids.csv" --format csv --top 1
    check "classes of the token sums 0, 16, 4, 5" [ "$(tail -n +2 "$tmp/out" | cut -d, -f2 | tr -d '\n')" = 0101 ]
    /usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([[0, 0, 0, 0], [4, 4, 4, 4], [1, 1, 1, 1], [2, 1, 1, 1]], np.int32))' "$tmp/ids.npy"
    expect 0 "3,1,1,0.982014" -- predict "$tmp/tokens.zen" "$tmp/ids.npy" --format csv --top 1
    printf '0,0,0,0.5\n' >"$tmp/half.csv"
    expect 1 "value 0.5 (number 3) is not an integer; the model takes i32 inputs" -- predict "$tmp/tokens.zen" "$tmp/half.csv"
    expect 1 "the model takes integer inputs (token ids), not images" -- predict "$tmp/tokens.zen" "$bars/horizontal.png"
    printf '0,0,0,0,0\n1,4,4,4,4\n0,1,1,1,1\n1,2,1,1,1\n' >"$tmp/ids_labelled.csv"
    expect 0 "accuracy: 1.0000 (4 of 4 right)" -- eval "$tmp/tokens.zen" "$tmp/ids_labelled.csv"
fi
finish
