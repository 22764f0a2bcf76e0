"""The wire format of the sandbox, and the worker's side of it: frames, arrays, reply values.

Both ways: a 4-byte big-endian length, a JSON header, then the
raw bytes of the numeric arrays the header describes (never pickle). Values are
JSON with markers: {"$array": i, "dtype": "<f8", "shape": [...]},
{"$tuple": [...]}, {"$dict": [[key, value], ...]}; the
trusted side adds {"$ref": key}, {"$rng": seed}, {"$fn": "module:name"} and
{"$obj": "module:name", "state": ...} for the grader's own callables. A reply
value that is not plain becomes {"$opaque": type name} or {"$badarray": dtype},
so the trusted side can reject it with the same message as in-process grading.

Requests come on a Unix socket, so that they can carry file descriptors: the
inputs of a call are not in the frame but in shared memory the trusted side
keeps ({"$shared": arena, "offset": ..., "dtype": ..., "shape": ...}; a request
lists the new arenas, [id, "ro" or "rw", size], whose descriptors it carries).
"ro" arenas are sealed memfds sent as read-only descriptors, so an input the
contract does not let student code write cannot be written by this process at
all; "rw" ones hold what the contract writes in place, where the trusted side
sees every change itself. {"$array": i, "ro": true} is the fallback without
shared memory: a read-only view of the received bytes.
"""

import importlib
import json
import os
import struct

import numpy as np

HEADER = struct.Struct(">I")
MAX_TEXT = 4000
MAX_DEPTH = 40
CALLABLE_PREFIX = "grader.checks.handed"


def encode_frame(header, blobs=()):
    """One message: length, JSON header (with the blob sizes), blobs."""
    header = dict(header, blobs=[len(b) for b in blobs])
    data = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([HEADER.pack(len(data)), data, *blobs])


def array_to_wire(arr, blobs):
    """A numeric array as a marker plus its raw bytes (C order); other dtypes only by name."""
    if arr.dtype.hasobject or arr.dtype.kind not in "biufc" or arr.dtype.fields is not None:
        return {"$badarray": str(arr.dtype)[:50]}
    blobs.append(np.ascontiguousarray(arr).tobytes())
    return {"$array": len(blobs) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape)}


def array_from_wire(marker, blobs, read_only=False):
    """Inverse of array_to_wire, for requests from the trusted side: a writable copy, or a
    read-only view of the received bytes (its flag cannot be set back: bytes are immutable)."""
    data = blobs[marker["$array"]]
    arr = np.frombuffer(data, dtype=np.dtype(marker["dtype"])).reshape(marker["shape"])
    return arr if read_only else arr.copy()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def to_wire(value, blobs, depth=0):
    """Encode a student value the way grader.target.plain would see it."""
    if depth > MAX_DEPTH:
        return {"$opaque": "deeply nested value"}
    if value is None or isinstance(value, bool | np.bool_):
        return None if value is None else bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return array_to_wire(np.array(value, copy=True, subok=False), blobs)
    if type(value) is list:
        return [to_wire(v, blobs, depth + 1) for v in value]
    if type(value) is tuple:
        return {"$tuple": [to_wire(v, blobs, depth + 1) for v in value]}
    if type(value) is dict:
        return {"$dict": [[str(k), to_wire(v, blobs, depth + 1)] for k, v in value.items()]}
    return {"$opaque": type(value).__name__}


def grader_object(path):
    """The grader's own function or class named "module:qualname" (only from grader.checks.handed)."""
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith(CALLABLE_PREFIX):
        raise ValueError(f"not a grader callable: {path}")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
