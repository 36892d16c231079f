#!/usr/bin/env python3
"""Interoperability of .zen files with an independent implementation of safetensors
(safetensors_ref.py: standard library + numpy), both ways:

  (a) Python writes model files (weights it chose, tensors in its own order) and zen loads
      them: zen's predictions equal a numpy forward pass, the class names come back.
  (b) zen writes a model file and a checkpoint; the Python reader checks the header (8-byte
      aligned data, aligned tensors), the metadata (format, version, spec, compile, class
      names, optimizer and training state) and every tensor's bytes against what zen had in
      memory; a Python rewrite of zen's file (tensors reordered) predicts bit for bit the same.

usage: interop_test.py INTEROP_CHECK_BINARY   (exit 77 when numpy is missing)
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_ref as st  # noqa: E402

tool = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def run(*args):
    p = subprocess.run([tool] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL interop_check %s: %s" % (" ".join(args), p.stderr.strip()))
        sys.exit(1)
    return p.stdout


def write_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def mlp_spec():
    layer = lambda cls, name, cfg: {"class_name": cls, "name": name, "config": dict(cfg, name=name)}
    return json.dumps({"class_name": "Sequential", "config": {"name": "from_python", "layers": [
        layer("InputLayer", "input", {"shape": [4]}),
        layer("Dense", "hidden", {"units": 5, "activation": "relu"}),
        layer("Dense", "out", {"units": 3, "activation": "softmax"})]}})


def part_a(tmp):
    rng = np.random.default_rng(3)
    w1 = (np.arange(20, dtype=np.float32).reshape(5, 4) - 9.5) / 10  # [units, in]: zen's layout
    b1 = np.array([0.1, -0.2, 0.3, 0.0, 0.05], dtype=np.float32)
    w2 = rng.standard_normal((3, 5)).astype(np.float32)
    b2 = np.array([0.5, -0.5, 0.25], dtype=np.float32)
    x = rng.standard_normal((7, 4)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ w1.T + b1, 0)
    z = h @ w2.T + b2
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    write_npy(os.path.join(tmp, "xa.npy"), x)
    meta = {"format": "zen", "model": mlp_spec(), "class_names": json.dumps(["cat", "dog", "bird"])}
    # tensors in an order zen never writes: biases first, the last layer before the first
    st.write(os.path.join(tmp, "py.zen"), {"out/bias": b2, "hidden/bias": b1, "out/kernel": w2, "hidden/kernel": w1}, meta)
    out = run("predict", os.path.join(tmp, "py.zen"), os.path.join(tmp, "xa.npy"), os.path.join(tmp, "pa.npy"))
    got = np.load(os.path.join(tmp, "pa.npy"))
    check(got.shape == (7, 3) and np.allclose(got, want, rtol=1e-5, atol=1e-6),
          "(a) zen loads a Python-written model: predictions match numpy (max diff %.2g)" % abs(got - want).max())
    check(out.split("\n")[:3] == ["class 0: cat", "class 1: dog", "class 2: bird"], "(a) class names come back")
    # without metadata beyond the spec, and with weights zen must reject
    st.write(os.path.join(tmp, "bad.zen"), {"hidden/kernel": w1.T.copy(), "hidden/bias": b1, "out/kernel": w2,
                                            "out/bias": b2}, {"model": mlp_spec()})
    p = subprocess.run([tool, "predict", os.path.join(tmp, "bad.zen"), os.path.join(tmp, "xa.npy"),
                        os.path.join(tmp, "pb.npy")], capture_output=True, text=True)
    check(p.returncode != 0 and "tensor hidden/kernel must be F32 of shape [5, 4], the file has F32 of shape [4, 5]"
          in p.stderr, "(a) a Python file with a transposed kernel is refused: " + p.stderr.strip()[-90:])


def check_layout(path, what):
    header, data_start = st.read_header(path)
    ok = data_start % 8 == 0
    for name, e in header.items():
        if name != "__metadata__":
            size = 2 if e["dtype"] == "BF16" else st.DTYPES[e["dtype"]].itemsize
            ok = ok and (data_start + e["data_offsets"][0]) % size == 0
    check(ok, "(b) %s: the data starts 8-byte aligned and every tensor on its element size" % what)
    return header


def part_b(tmp):
    run("save", tmp)
    expect = json.load(open(os.path.join(tmp, "expect.json")))
    raw = open(os.path.join(tmp, "expect.bin"), "rb").read()

    def same_bytes(tensors, entries):
        for e in entries:
            t = tensors.get(e["name"])
            if t is None or str(t.dtype) != "float32" or list(t.shape) != e["shape"]:
                return "%s: missing or wrong dtype/shape" % e["name"]
            if t.tobytes() != raw[e["offset"]:e["offset"] + e["bytes"]]:
                return "%s: bytes differ" % e["name"]
        return None

    for fname, ckpt in (("model.zen", False), ("ckpt.zen", True)):
        path = os.path.join(tmp, fname)
        header = check_layout(path, fname)
        meta, tensors = st.read(path)
        spec = json.loads(meta["model"])
        comp = json.loads(meta["compile"])
        check(meta["format"] == "zen" and meta["zen_version"].count(".") == 2 and spec["class_name"] == "Sequential"
              and [l["class_name"] for l in spec["config"]["layers"]][1:] ==
              ["Conv2D", "BatchNormalization", "Activation", "Flatten", "Dense"]
              and comp["loss"] == "sparse_categorical_crossentropy" and comp["optimizer"]["class_name"] == "Adam"
              and json.loads(meta["class_names"]) == ["circle", "square", "triangle"] and meta["seed"] == "3",
              "(b) %s: metadata format, zen_version, model spec, compile, class_names, seed" % fname)
        problem = same_bytes(tensors, expect["weights"])
        check(problem is None, "(b) %s: all %d weights hold zen's bytes%s" % (fname, len(expect["weights"]),
                                                                            "" if problem is None else ": " + problem))
        names = set(tensors)
        want = {e["name"] for e in expect["weights"]}
        if not ckpt:
            check(names == want, "(b) model.zen holds exactly the weights")
            continue
        problem = same_bytes(tensors, expect["optimizer"])
        check(problem is None, "(b) ckpt.zen: all %d optimizer arrays (Adam m, v) hold zen's bytes%s" %
              (len(expect["optimizer"]), "" if problem is None else ": " + problem))
        opt = json.loads(meta["optimizer_state"])
        tr = json.loads(meta["training_state"])
        order = tensors["training/order"]
        hist = tensors["training/history"]
        check(opt["class_name"] == "Adam" and int(opt["iterations"]) == expect["iterations"] and
              opt["slots"] == ["m", "v"] and float(opt["lr_scale"]) == 1.0,
              "(b) ckpt.zen: optimizer_state (class, iterations %s, slots)" % opt["iterations"])
        check(tr["epoch"] == 2 and tr["first_epoch"] == 0 and int(tr["samples"]) == expect["samples"] and
              len(tr["rng"]) == 4 and order.dtype == np.int64 and sorted(order.tolist()) == list(range(24)) and
              hist.dtype == np.float64 and hist.shape == (2, len(tr["history"])) and tr["history"][0] == "loss"
              and np.all(np.isfinite(hist)),
              "(b) ckpt.zen: training_state, training/order (a permutation), training/history %s" % (hist.shape,))
        check(names == want | {e["name"] for e in expect["optimizer"]} | {"training/order", "training/history"},
              "(b) ckpt.zen holds exactly weights, optimizer arrays and training tensors")

    # a Python rewrite of zen's model file (tensors reversed) predicts the same, bit for bit
    meta, tensors = st.read(os.path.join(tmp, "model.zen"))
    st.write(os.path.join(tmp, "rewritten.zen"), dict(reversed(list(tensors.items()))), meta)
    run("predict", os.path.join(tmp, "model.zen"), os.path.join(tmp, "x.npy"), os.path.join(tmp, "p1.npy"))
    run("predict", os.path.join(tmp, "rewritten.zen"), os.path.join(tmp, "x.npy"), os.path.join(tmp, "p2.npy"))
    p1, p2 = np.load(os.path.join(tmp, "p1.npy")), np.load(os.path.join(tmp, "p2.npy"))
    check(p1.shape == (24, 3) and p1.tobytes() == p2.tobytes(),
          "(b) zen's file rewritten by Python predicts bit for bit the same")


with tempfile.TemporaryDirectory(prefix="zen_interop_") as tmp:
    part_a(tmp)
    part_b(tmp)
print("%d failures" % failures)
sys.exit(1 if failures else 0)
