#!/bin/sh
# Regenerates the seed corpus (tests/fuzz/corpus): small model files and a checkpoint written
# by zen (tests/interop/interop_check) and by the Python reference writer, each a few KB.
# usage: tests/fuzz/make_corpus.sh BUILD_DIR   (a build with tests/interop_check)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zen_corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$1/tests/interop_check" save "$tmp"
mkdir -p "$here/corpus"
cp "$tmp/model.zen" "$here/corpus/cnn_bn.zen"
cp "$tmp/ckpt.zen" "$here/corpus/cnn_bn_checkpoint.zen"
/usr/bin/python3 - "$here/corpus" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(sys.argv[1]), "..", "interop"))
import numpy as np
import safetensors_ref as st
spec = {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
    {"class_name": "InputLayer", "name": "input", "config": {"shape": [4]}},
    {"class_name": "Dense", "name": "d", "config": {"units": 3, "activation": "softmax", "name": "d"}}]}}
st.write(os.path.join(sys.argv[1], "tiny_dense.zen"),
         {"d/kernel": np.ones((3, 4), np.float32), "d/bias": np.zeros(3, np.float32)},
         {"format": "zen", "model": json.dumps(spec), "class_names": '["a","b","c"]',
          "compile": '{"loss":"mse","metrics":["mae"],"optimizer":{"class_name":"SGD","config":{"momentum":0.9}}}'})
PY
ls -l "$here/corpus"
