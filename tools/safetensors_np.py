"""The safetensors format read and written with numpy alone (no safetensors package here): a u64 little-endian header
length, the JSON header (padded with spaces to a multiple of 8), then raw little-endian data. Shared by the scripts in
tools/ that copy reference numbers into src/test/resources. BF16 is kept as its raw u16 bits.
"""
import json
import os
import struct

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "U8": "u1"}


def read(path):
    """{name: (dtype, array)} and the __metadata__ dict of a file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        tensors[name] = (e["dtype"], np.frombuffer(data[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"]))
    return tensors, meta


def write(path, tensors, meta):
    """Writes {name: (dtype, array)} in insertion order, with __metadata__ first when meta is not empty; atomically."""
    header, offset, blobs = ({"__metadata__": meta} if meta else {}), 0, []
    for name, (dtype, arr) in tensors.items():
        blob = np.ascontiguousarray(arr, dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)
