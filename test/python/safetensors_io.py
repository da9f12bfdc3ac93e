"""A minimal safetensors reader/writer with json/struct/numpy only (no safetensors package),
so the parity test checks tapegrad's files against an independent implementation of the format."""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "BOOL": np.bool_}
_TAGS = {np.dtype(v): k for k, v in _DTYPES.items()}


def read(path):
    """Returns ({name: numpy array}, metadata dict), checking that the tensors tile the data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), f"{path}: header size {n} beyond the file"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        assert end - begin == count * dtype.itemsize, f"{path}: {name}: size mismatch"
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for begin, end in spans:
        assert begin == pos, f"{path}: the tensors do not tile the data"
        pos = end
    assert pos == len(data), f"{path}: trailing bytes"
    return tensors, metadata


def write(path, tensors, metadata=None):
    """Writes {name: numpy array} (F32/F64/I64/BOOL) in the given order."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, array in tensors.items():
        array = np.array(array, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        tag = _TAGS[array.dtype.newbyteorder("=")]
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": tag, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
