#!/usr/bin/env bash
# zen predict / eval / summary reject bad input with a message naming the problem: exit
# status 2 for usage (unknown flags, bad values, missing arguments), 1 for files that cannot
# be used (missing, damaged or non-model files, cut or corrupt images, data that does not
# fit the model). Run under ASan too: no crash, no leak on any of these paths.
# usage: model_errors_test.sh ZEN BARS_SPEC IMAGE_FIXTURES_DIR
source "$(dirname "$0")/lib_model.sh"
train_bars
m=$tmp/bars.zen
x=$bars/test_x.npy

# usage errors (2)
expect 2 "needs a model file and at least one input" -- predict
expect 2 "needs a model file and at least one input" -- predict "$m"
expect 2 "unknown or incomplete option '--frobnicate'" -- predict "$m" "$x" --frobnicate
expect 2 "--top needs an integer from 1 to 1000, got '0'" -- predict "$m" "$x" --top 0
expect 2 "--batch-size needs an integer" -- predict "$m" "$x" --batch-size many
expect 2 "--format needs text, json or csv, got 'xml'" -- predict "$m" "$x" --format xml
expect 2 "--filter needs auto, bilinear or area, got 'cubic'" -- predict "$m" "$bars/horizontal.png" --filter cubic
expect 2 "--image-size needs WIDTHxHEIGHT" -- predict "$m" "$bars/horizontal.png" --image-size 28
expect 2 "--delimiter needs one character" -- predict "$m" "$bars/test.csv" --delimiter ";;"
expect 2 "--output needs a file name" -- predict "$m" "$x" --output
expect 2 "several inputs must all be images" -- predict "$m" "$bars/horizontal.png" "$x"
expect 2 "is a directory" -- predict "$m" "$bars"
expect 2 "needs a model file and DATA" -- eval "$m"
expect 2 "unknown or incomplete option '--labelz'" -- eval "$m" "$x" --labelz "$bars/test_y.npy"
expect 2 "holds samples only; give their classes with --labels FILE" -- eval "$m" "$x"
expect 2 "--labels goes with an IDX or NPY sample file" -- eval "$m" "$bars/test.csv" --labels "$bars/test_y.npy"
expect 2 "is an image" -- eval "$m" "$bars/horizontal.png"
expect 2 "unexpected argument" -- eval "$m" "$x" "$bars/test_y.npy"
expect 2 "needs a model file" -- summary
expect 2 "one model file at a time" -- summary "$m" "$m"
expect 2 "--batch-size needs an integer from 1" -- summary "$m" --batch-size -3
expect 2 "unknown or incomplete option '--verbose'" -- summary "$m" --verbose

# model files that cannot be used (1)
for cmd in "predict MODEL $x" "eval MODEL $x --labels $bars/test_y.npy" "summary MODEL"; do
    # shellcheck disable=SC2086
    expect 1 "cannot open $tmp/missing.zen" -- ${cmd/MODEL/$tmp/missing.zen}
done
head -c 200 "$m" >"$tmp/cut.zen"
expect 1 "cannot load the model: $tmp/cut.zen: header length" -- predict "$tmp/cut.zen" "$x"
expect 1 "not a zen model file" -- summary "$tmp/cut.zen"
head -c $(($(stat -c %s "$m") - 100)) "$m" >"$tmp/short.zen"
expect 1 "(truncated?)" -- predict "$tmp/short.zen" "$x"
expect 1 "(truncated?)" -- summary "$tmp/short.zen"
expect 1 "(truncated?)" -- eval "$tmp/short.zen" "$bars"
expect 1 "not a zen model file" -- summary "$bars/horizontal.png"
expect 1 "cannot load the model" -- predict "$bars/horizontal.png" "$x"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a": 1}        ' >"$tmp/nospec.zen"
expect 1 "cannot load the model: $tmp/nospec.zen: " -- predict "$tmp/nospec.zen" "$x"

# data that does not fit the model (1)
expect 1 "has shape (7, 9, 2), but the model takes inputs of shape (N, 8, 8, 1)" -- predict "$m" "$fix/resize_in.npy"
expect 1 "has shape (60, 65), but the model takes inputs of shape (N, 8, 8, 1) (64 values a sample, not 65)" -- predict "$m" "$bars/test.csv" --header
check "... with a hint about the label column" grep -qF -- "--label-col" "$tmp/err"
expect 1 "60 samples but labels of shape (240,)" -- eval "$m" "$x" --labels "$bars/train-labels-idx1-ubyte.gz"
awk -F, 'NR == 3 { $1 = 7 } { print }' OFS=, "$bars/test.csv" >"$tmp/label7.csv"
expect 1 "the label of sample 1 is 7, but the model has 3 classes (0 to 2)" -- eval "$m" "$tmp/label7.csv" --header
expect 1 "line 2, column 6: label '0.0901961' is not an integer" -- eval "$m" "$fix/bars/test.csv" --header --label-col 5
expect 2 "must be an IDX or NPY file, not image" -- eval "$m" "$x" --labels "$bars/horizontal.png"
expect 1 "cannot open" -- eval "$m" "$x" --labels "$tmp/nolabels.npy"
ZEN_DATA_DIR=$tmp/nowhere expect 1 "data set 'mnist' is not in $tmp/nowhere/mnist" -- eval "$m" mnist
expect 1 "has neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz" -- eval "$m" "$tmp"
expect 1 "cannot create" -- eval "$m" "$bars" --confusion-csv "$tmp/no/dir/c.csv"
expect 1 "cannot create" -- predict "$m" "$x" -o "$tmp/no/dir/o.npy"
check "no output file left behind" [ ! -e "$tmp/no" ]

# images that cannot be used (1): cut, corrupt, not images, a picture the input cannot take
head -c 150 "$bars/horizontal.png" >"$tmp/cut.png"
expect 1 "$tmp/cut.png: damaged PNG" -- predict "$m" "$bars/horizontal.png" "$tmp/cut.png"
head -c 300 "$bars/vertical.jpg" >"$tmp/cut.jpg"
expect 1 "$tmp/cut.jpg: damaged JPEG: Premature end of JPEG file" -- predict "$m" "$tmp/cut.jpg"
cp "$bars/horizontal.png" "$tmp/flipped.png"
printf '\xff\xff\xff' | dd of="$tmp/flipped.png" bs=1 seek=60 conv=notrunc 2>/dev/null
expect 1 "$tmp/flipped.png: damaged PNG" -- predict "$m" "$tmp/flipped.png"
echo "hello" >"$tmp/text.png"
expect 1 "$tmp/text.png is not a PNG or JPEG image" -- predict "$m" "$tmp/text.png"
expect 1 "cannot open $tmp/none.png" -- predict "$m" "$tmp/none.png"
finish
