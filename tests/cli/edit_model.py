#!/usr/bin/python3
"""Rewrites a zen model file (safetensors: u64 header length, JSON header, tensor bytes)
for the CLI tests:  edit_model.py IN OUT MODE
  strip-compile  drop the compile settings (an uncompiled model)
  logits         make the last layer's activation linear (the model outputs logits)
  categorical    compile with categorical_crossentropy (one-hot targets) instead
  add-tensor     add an 'optimizer/iterations' tensor beside the weights (training state)"""
import json
import struct
import sys

src, dst, mode = sys.argv[1:4]
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
elif mode == "add-tensor":
    header["optimizer/iterations"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    data += struct.pack("<f", 15.0)
else:
    sys.exit("unknown mode " + mode)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + data)
