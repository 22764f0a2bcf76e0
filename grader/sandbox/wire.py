"""Replies from the worker, decoded and checked (the wire format: worker/wire.py).

A reply value is only ever numbers and base-class numeric arrays (dtype and shape validated,
never pickle), in lists, tuples and dicts; a value that was not plain arrives as a stand-in
that plain() rejects with the in-process message. A student exception or warning is re-made from its report. Anything
else the worker sends is WorkerFailure: a protocol failure, never the student's own exception.
"""

import builtins
import math
import re
import struct
import traceback

import numpy as np

from ..target import TargetError

HEADER = struct.Struct(">I")
NUMERIC_DTYPE = re.compile(r"[<>|=]?[biufc][1-9][0-9]?")
CALLABLE_MODULES = ("grader.checks.handed",)  # grader callables that may be handed to student code, by name


class WorkerFailure(TargetError):
    """The worker ended, broke the protocol or could not start; the message says why, for the student."""


def _exception_class(name, bases):
    """The class to re-raise a student exception as: its name, on the nearest builtin base."""
    for base_name in bases:
        base = getattr(builtins, base_name, None)
        if isinstance(base, type) and issubclass(base, Exception | SystemExit):
            return base
    return Exception


def remote_exception(info, origin):
    """An exception like the one the student's code raised, with its frames as text.

    A report that is not what the worker sends is a protocol failure, not the student's exception.
    """
    name, bases, text, frames = (
        info.get(key) if type(info) is dict else None for key in ("type", "bases", "message", "frames")
    )
    if not (
        type(name) is str
        and type(bases) is list
        and all(type(b) is str for b in bases)
        and type(text) is str
        and type(frames) is list
    ):
        raise WorkerFailure("your code broke the grading protocol (a malformed error report)")
    if not name.isidentifier() or len(name) > 100:
        name = "Exception"
    bases, text = [b[:100] for b in bases[:50]], text[:4000]
    base = _exception_class(name, bases)
    cls = type(name, (base,), {"__str__": lambda self: text, "__module__": "submission"})
    try:
        error = cls(text)
    except Exception:  # noqa: BLE001 - builtins with other constructors (UnicodeError...)
        cls = type(name, (Exception,), {"__str__": lambda self: text, "__module__": "submission"})
        error = cls(text)
    shown = []
    for frame in frames[:40]:
        try:
            filename, mine, lineno, func, line = frame
            path = str(origin / str(filename)) if mine and origin else str(filename)
            shown.append(traceback.FrameSummary(path, int(lineno or 0), str(func), line=str(line)))
        except (TypeError, ValueError, OverflowError):
            continue
    error.student_frames = "".join(traceback.format_list(shown)).rstrip()
    return error


def _warning_class(name):
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Warning):
        return found
    if not (isinstance(name, str) and name.isidentifier() and len(name) <= 100):
        name = "UserWarning"
    return type(name, (UserWarning,), {"__module__": "submission"})


class _Opaque:
    """Stands for a reply value that was not plain; plain() rejects it by its type name."""


def _opaque(type_name):
    name = str(type_name)[:100]
    if not name.isprintable() or not name:  # type() refuses some names (a NUL character)
        name = "object"
    return type(name, (_Opaque,), {})()


def _array_from_wire(marker, blobs):
    """A numeric array from its marker {"$array": i, "dtype": "<f8", "shape": [...]} and raw bytes."""
    index, dtype, shape = marker.get("$array"), marker.get("dtype"), marker.get("shape")
    if not (
        len(marker) == 3
        and type(index) is int
        and 0 <= index < len(blobs)
        and type(dtype) is str
        and NUMERIC_DTYPE.fullmatch(dtype)
        and type(shape) is list
        and len(shape) <= 32
        and all(type(n) is int and n >= 0 for n in shape)
    ):
        raise WorkerFailure("your code broke the grading protocol (a malformed array)")
    try:
        dtype = np.dtype(dtype)  # "<f3" matches the pattern but is no dtype
    except TypeError:
        raise WorkerFailure("your code broke the grading protocol (a malformed array)") from None
    if math.prod(shape) * dtype.itemsize != len(blobs[index]) or any(n >= 1 << 40 for n in shape):
        raise WorkerFailure("your code broke the grading protocol (an array of the wrong size)")
    return np.frombuffer(blobs[index], dtype=dtype).reshape(shape)  # read-only; plain() copies it


def _bad_array(dtype_name):
    """An empty array of the non-numeric dtype a reply named, so plain() rejects it by that dtype."""
    try:
        dtype = np.dtype(str(dtype_name)[:50])
    except Exception:  # noqa: BLE001 - any name numpy cannot parse
        dtype = np.dtype(object)
    if dtype.kind in "biufc" or dtype.subdtype is not None or dtype.itemsize > 1 << 20:
        dtype = np.dtype(object)  # a numeric dtype is no "bad array": never let it pass as numbers
    return np.empty(0, dtype=dtype)


def _shift_arrays(wire, offset):
    """An encoded value whose array markers point `offset` blobs further on."""
    if type(wire) is list:
        return [_shift_arrays(v, offset) for v in wire]
    if type(wire) is dict:
        if "$array" in wire:
            return dict(wire, **{"$array": wire["$array"] + offset})
        return {k: _shift_arrays(v, offset) for k, v in wire.items()}
    return wire


def _fill_report(filled, values):
    """The worker's answer to new_filled, validated: (keys, {key: shape tuple or None})."""
    try:
        keys = [str(k) for k in filled["keys"][:1000]]
        shapes = {key: filled["shapes"][key] for key in values}
        if not all(s is None or type(s) is list and all(type(n) is int for n in s) for s in shapes.values()):
            raise TypeError
    except (TypeError, KeyError):
        raise WorkerFailure("your code broke the grading protocol (a malformed reply)") from None
    return keys, {key: None if s is None else tuple(s) for key, s in shapes.items()}
