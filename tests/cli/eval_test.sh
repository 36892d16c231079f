#!/usr/bin/env bash
# zen eval: the loss and compiled metrics, accuracy, confusion matrix and per-class report
# of a model on an MNIST-style directory, IDX + labels, NPY + labels and CSV; the confusion
# matrix against one counted here from zen predict's classes and changed labels; the CSV
# file; an uncompiled model (accuracy from predictions only).
# usage: eval_test.sh ZEN BARS_SPEC IMAGE_FIXTURES_DIR
source "$(dirname "$0")/lib_model.sh"
train_bars
m=$tmp/bars.zen

expect 0 "(the test split)" -- eval "$m" "$bars" --confusion-csv "$tmp/c.csv"
cp "$tmp/out" "$tmp/dir.txt"
check "loss and compiled metric" grep -qE "^sparse_categorical_crossentropy: [0-9.]+ - accuracy: (0\.9[5-9]|1\.0)" "$tmp/dir.txt"
acc=$(sed -n 's/^accuracy: \([0-9.]*\) (\([0-9]*\) of 60 right)$/\1 \2/p' "$tmp/dir.txt")
check "accuracy line: '$acc' (>= 57 of 60)" [ -n "$acc" ] && [ "${acc#* }" -ge 57 ]
check "matrix header with class names" grep -qE "^ +horizontal +vertical +diagonal$" "$tmp/dir.txt"
check "per-class report" grep -qE "^ +vertical +[01]\.[0-9]{4} +[01]\.[0-9]{4} +[01]\.[0-9]{4} +20$" "$tmp/dir.txt"
check "averages" grep -qE "^ +weighted avg .* 60$" "$tmp/dir.txt"
check "CSV header" [ "$(head -n 1 "$tmp/c.csv")" = 'true\predicted,horizontal,vertical,diagonal' ]
check "CSV counts add up to 60" [ "$(tail -n +2 "$tmp/c.csv" | cut -d, -f2- | tr , '\n' | awk '{ s += $1 } END { print s }')" = 60 ]
diag=$(awk -F, 'NR > 1 { s += $(NR) } END { print s }' "$tmp/c.csv")
check "CSV diagonal ($diag) = the right ones (${acc#* })" [ "$diag" = "${acc#* }" ]

# the same numbers from the other data forms
for args in "$bars/test_x.npy --labels $bars/test_y.npy" \
            "$bars/t10k-images-idx3-ubyte.gz --labels $bars/t10k-labels-idx1-ubyte.gz" \
            "$bars/test.csv --header" "$bars/test.csv --label-name label --batch-size 7"; do
    # shellcheck disable=SC2086
    expect 0 "accuracy: " -- eval "$m" $args
    check "same report as the directory" cmp -s <(tail -n +2 "$tmp/out") <(tail -n +2 "$tmp/dir.txt" | head -n -2)
done

# changed labels: eval's matrix must be the one counted from predict's classes
"$zen" predict "$m" "$bars/test_x.npy" --format csv --top 1 | tail -n +2 | cut -d, -f2 >"$tmp/pred"
awk -F, 'NR == 1 { print; next } { $1 = (NR % 4 == 0) ? ($1 + 1) % 3 : $1; print }' OFS=, "$bars/test.csv" >"$tmp/changed.csv"
expect 0 "accuracy: " -- eval "$m" "$tmp/changed.csv" --header --confusion-csv "$tmp/changed_c.csv"
tail -n +2 "$tmp/changed.csv" | cut -d, -f1 | paste -d, - "$tmp/pred" |
    awk -F, '{ n[$1, $2]++ } END { print "true\\predicted,horizontal,vertical,diagonal";
        split("horizontal vertical diagonal", name, " ");
        for (t = 0; t < 3; t++) { printf "%s", name[t + 1]; for (p = 0; p < 3; p++) printf ",%d", n[t, p]; print "" } }' >"$tmp/want.csv"
check "confusion matrix = counted from predictions and labels" cmp -s "$tmp/changed_c.csv" "$tmp/want.csv"
right=$(awk -F, 'NR > 1 { s += $(NR) } END { print s }' "$tmp/want.csv")
check "accuracy $right/60 printed" grep -q "($right of 60 right)" "$tmp/out"
check "off-diagonal counts appear in the table" [ "$right" -lt 57 ]

# an uncompiled model: no loss, accuracy from the predictions
if edit_model strip-compile; then
    expect 0 "no compile settings" -- eval "$tmp/strip-compile.zen" "$bars/test_x.npy" --labels "$bars/test_y.npy"
    check "same accuracy" grep -qF "$(grep '^accuracy: ' "$tmp/dir.txt")" "$tmp/out"
fi
# compiled with categorical_crossentropy: the labels go in one-hot, the loss is the same
if edit_model categorical; then
    expect 0 "categorical_crossentropy: " -- eval "$tmp/categorical.zen" "$bars"
    check "same loss and accuracy as sparse" cmp -s <(sed -n 2p "$tmp/out" | sed 's/^categorical_crossentropy/sparse_categorical_crossentropy/') \
        <(sed -n 2p "$tmp/dir.txt")
fi
finish
