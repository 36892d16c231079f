#!/usr/bin/env bash
# zen summary: a model file's facts (format, writer, compile settings, class names,
# parameters, size, training state) and the layer table.
# usage: summary_test.sh ZEN BARS_SPEC IMAGE_FIXTURES_DIR
source "$(dirname "$0")/lib_model.sh"
train_bars
m=$tmp/bars.zen
size=$(stat -c %s "$m")

expect 0 "Model file: $m ($(awk -v b="$size" 'BEGIN { printf "%.1f KiB", b / 1024 }'))" -- summary "$m"
for line in "format:         zen (safetensors" "written by:     zen " \
            "compile:        loss sparse_categorical_crossentropy, optimizer Adam {\"learning_rate\":0.01}, metrics [accuracy]" \
            "class names:    3: horizontal, vertical, diagonal" "parameters:     1,091 (1,091 trainable)" \
            "input:          (8, 8, 1), output (3,)" "tensors:        4 (4 model weights)" "build seed:     1" "training state: none" \
            'Model: "bars"' "dense_1 (Dense)" "Total params: 1,091" "Training memory at batch 32"; do
    check "summary shows: $line" grep -qF -- "$line" "$tmp/out"
done
expect 0 "Training memory at batch 500" -- summary "$m" --batch-size 500
if edit_model strip-compile; then
    expect 0 "compile:        none" -- summary "$tmp/strip-compile.zen"
fi
# a checkpoint carries the optimizer's and fit's state
"$zen" train "$spec" --data "$bars" --verbose 0 --epochs 2 --checkpoint "$tmp/ck.zen" --output "$tmp/final.zen" >/dev/null 2>&1
expect 0 "training state: yes, a checkpoint (zen train --resume continues it)" -- summary "$tmp/ck.zen"
for line in "after epoch 2, batch size 16, 240 samples, shuffled" "optimizer Adam at iteration 30" \
            "tensors:        14 (4 model weights, the rest training state)" "build seed:     1"; do
    check "checkpoint summary shows: $line" grep -qF -- "$line" "$tmp/out"
done
finish
