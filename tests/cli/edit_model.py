#!/usr/bin/python3
"""Rewrites a zen model file (safetensors: u64 header length, JSON header, tensor bytes)
for the CLI tests:  edit_model.py IN OUT MODE
  strip-compile  drop the compile settings (an uncompiled model)
  logits         make the last layer's activation linear (the model outputs logits)
  categorical    compile with categorical_crossentropy (one-hot targets) instead
  tokens         ignore IN; write a model of int32 token inputs (4 ids < 5): Embedding ->
                 Flatten -> Dense(2, softmax), class 1 when the ids add up to more than 4"""
import json
import struct
import sys

src, dst, mode = sys.argv[1:4]


def write(header, data):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(text)) + text + data)


if mode == "tokens":
    spec = {"class_name": "Sequential", "config": {"name": "tokens", "layers": [
        {"class_name": "Input", "config": {"shape": [4], "dtype": "int32"}},
        {"class_name": "Embedding", "config": {"input_dim": 5, "output_dim": 2}},
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}}
    emb = [float(t) for t in range(5) for _ in (0, 1)]  # id t -> [t, t]
    kernel = [-2.0, 0.0] * 4 + [2.0, 0.0] * 4          # [2, 8]: logits -2 sum + 8, 2 sum - 8
    bias = [8.0, -8.0]                                  # class 1 <=> 4 sum - 16 > 0 <=> sum > 4
    blobs = [("embedding/embeddings", [5, 2], emb), ("dense/kernel", [2, 8], kernel), ("dense/bias", [2], bias)]
    header, data = {"__metadata__": {"format": "zen", "zen_version": "0.1.0", "model": json.dumps(spec)}}, b""
    for name, shape, vals in blobs:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + 4 * len(vals)]}
        data += struct.pack("<%df" % len(vals), *vals)
    write(header, data)
    sys.exit(0)

raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
meta = header["__metadata__"]
if mode == "strip-compile":
    meta.pop("compile", None)
elif mode == "logits":
    spec = json.loads(meta["model"])
    spec["config"]["layers"][-1]["config"]["activation"] = "linear"
    meta["model"] = json.dumps(spec)
elif mode == "categorical":
    comp = json.loads(meta["compile"])
    comp["loss"] = "categorical_crossentropy"
    meta["compile"] = json.dumps(comp)
else:
    sys.exit("unknown mode " + mode)
write(header, data)
