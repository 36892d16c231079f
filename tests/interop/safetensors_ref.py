#!/usr/bin/env python3
"""An independent reader and writer of safetensors files (and so of zen's .zen model files
and checkpoints), written from the public description of the format, with the standard
library and numpy only: no torch, no safetensors package.

The format (https://github.com/huggingface/safetensors, "Format"):
  8 bytes   N, an unsigned little-endian 64-bit integer: the size of the header
  N bytes   a UTF-8 JSON object; each key is a tensor name mapped to
            {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, except the
            optional "__metadata__", a map of strings to strings. It may be padded at the
            end with spaces (0x20).
  the rest  the byte buffer: offsets are relative to its start, tensors are little-endian
            and row-major, and together they cover the buffer exactly (no gaps, no overlap).

Usage as a library:
    meta, tensors = read("model.zen")          # dict of str, dict of numpy arrays
    write("model.zen", {"dense/kernel": w}, {"format": "zen", "model": spec_json})
From the shell:
    python3 safetensors_ref.py dump FILE       # metadata and a line per tensor
"""
import json
import struct
import sys

import numpy as np

# safetensors dtype names and their little-endian numpy types
DTYPES = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"), "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"), "F16": np.dtype("<f2"), "I32": np.dtype("<i4"), "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"), "I64": np.dtype("<i8"), "U64": np.dtype("<u8"), "F64": np.dtype("<f8"),
}
BF16 = "BF16"  # no numpy type: read as raw uint16 words
MAX_HEADER = 100_000_000


class FormatError(ValueError):
    pass


def parse(buf):
    """Checks buf (bytes) against the format; returns (header dict, data memoryview)."""
    if len(buf) < 8:
        raise FormatError("file of %d bytes has no header length" % len(buf))
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER:
        raise FormatError("header length %d is over the limit" % n)
    if 8 + n > len(buf):
        raise FormatError("header length %d runs past the end of the file" % n)
    text = bytes(buf[8:8 + n]).decode("utf-8")
    if not text.startswith("{"):
        raise FormatError("header does not start with '{'")
    stripped = text.rstrip(" ")
    try:
        header = json.loads(stripped, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise FormatError("header is not JSON: %s" % e)
    if not isinstance(header, dict):
        raise FormatError("header is not an object")
    data = memoryview(buf)[8 + n:]
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise FormatError("__metadata__ must map strings to strings")
    spans = []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if set(e) != {"dtype", "shape", "data_offsets"}:
            raise FormatError("%s: entry keys are %s" % (name, sorted(e)))
        dt, shape, (b, end) = e["dtype"], e["shape"], e["data_offsets"]
        if dt not in DTYPES and dt != BF16:
            raise FormatError("%s: unknown dtype %s" % (name, dt))
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise FormatError("%s: bad shape %s" % (name, shape))
        size = 2 if dt == BF16 else DTYPES[dt].itemsize
        for d in shape:
            size *= d
        if not (isinstance(b, int) and isinstance(end, int) and 0 <= b <= end <= len(data)):
            raise FormatError("%s: data_offsets %s outside the %d data bytes" % (name, [b, end], len(data)))
        if end - b != size:
            raise FormatError("%s: data_offsets hold %d bytes, %s %s needs %d" % (name, end - b, dt, shape, size))
        spans.append((b, end, name))
    at = 0
    for b, end, name in sorted(spans):
        if b == end:
            continue
        if b != at:
            raise FormatError("%s starts at %d, expected %d (gap or overlap)" % (name, b, at))
        at = end
    if at != len(data):
        raise FormatError("data bytes [%d, %d) belong to no tensor" % (at, len(data)))
    return header, data


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise FormatError("duplicate keys in the header")
    return dict(pairs)


def read(path):
    """(metadata dict, {name: numpy array}); BF16 tensors come back as uint16 words."""
    with open(path, "rb") as f:
        buf = f.read()
    header, data = parse(buf)
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dt = np.dtype("<u2") if e["dtype"] == BF16 else DTYPES[e["dtype"]]
        tensors[name] = np.frombuffer(bytes(data[b:end]), dtype=dt).reshape(e["shape"])
    return header.get("__metadata__", {}), tensors


def read_header(path):
    """The header as written (dict) and where the data starts in the file."""
    with open(path, "rb") as f:
        buf = f.read()
    header, _ = parse(buf)
    (n,) = struct.unpack("<Q", buf[:8])
    return header, 8 + n


def write(path, tensors, metadata=None):
    """Writes {name: numpy array} (dtypes from DTYPES) and a string metadata map. The header
    is padded with spaces so the data starts on an 8-byte boundary; tensors are laid out in
    the order given."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    names = {v: k for k, v in DTYPES.items()}
    blobs, at = [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in names:
            raise FormatError("%s: dtype %s has no safetensors name" % (name, a.dtype))
        raw = a.astype(dt.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[dt], "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def main(argv):
    if len(argv) != 3 or argv[1] != "dump":
        print(__doc__)
        return 2
    meta, tensors = read(argv[2])
    for k, v in meta.items():
        print("%s: %s" % (k, v if len(v) < 200 else v[:200] + "..."))
    for name, a in tensors.items():
        print("%-40s %-5s %s" % (name, a.dtype, list(a.shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
