"""The request loop: Worker imports the submission, then answers each request with one reply.

Requests come on a Unix socket (FrameReader), so that they can carry file descriptors: the
shared memory a call's inputs are in. A request names a callable of the submission, a method
or attribute of an object kept from an earlier one, or a value to fetch; the reply is its value
(wire.py) or the report of the exception it raised. This side reports no side effects: the
trusted side observes them.
"""

import array
import inspect
import json
import math
import mmap
import os
import socket
import traceback
import warnings

import numpy as np

from ...target import fill_arrays
from .wire import HEADER, MAX_TEXT, array_from_wire, encode_frame, grader_object, to_wire, write_all

MAX_FRAMES = 40
MAX_WARNINGS = 20
MAX_FDS_SPACE = socket.CMSG_SPACE(16 * array.array("i").itemsize)  # file descriptors per message


class FrameReader:
    """Reads frames from the request socket with few system calls, keeping the file
    descriptors (shared memory) that travel with them."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.buffer = bytearray()
        self.fds = []

    def read_exact(self, n):
        while len(self.buffer) < n:
            data, ancillary, flags, _ = self.sock.recvmsg(max(n - len(self.buffer), 1 << 16), MAX_FDS_SPACE)
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self.fds += fds
            if flags & socket.MSG_CTRUNC:
                raise ValueError("too many file descriptors with one request")
            if not data:
                raise EOFError
            self.buffer += data
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def read_frame(self):
        (size,) = HEADER.unpack(self.read_exact(HEADER.size))
        header = json.loads(self.read_exact(size))
        return header, [self.read_exact(n) for n in header.get("blobs", [])]

    def take_fds(self, n):
        """The next n file descriptors received."""
        if len(self.fds) < n:
            raise ValueError(f"expected {n} file descriptors, received {len(self.fds)}")
        taken, self.fds = self.fds[:n], self.fds[n:]
        return taken


class Worker:
    """Holds the submission's namespace and the objects the trusted side refers to by key."""

    def __init__(self, req_fd, rep_fd, submission, kill_children):
        self.reader, self.rep_fd = FrameReader(req_fd), rep_fd
        self.submission = submission
        self.kill_children = kill_children
        self.namespace, self.import_errors = {}, {}
        self.objects = {}
        self.arenas = {}  # id -> mmap of shared memory the trusted side placed inputs in

    # -- values from the trusted side ---------------------------------------------
    def map_arenas(self, arenas):
        """Map the shared memory sent with a request: "ro" read-only (from a read-only file
        descriptor, so the pages cannot be made writable), "rw" shared with the trusted side."""
        fds = self.reader.take_fds(len(arenas))
        try:
            for (key, kind, size), fd in zip(arenas, fds, strict=True):
                prot = mmap.PROT_READ if kind == "ro" else mmap.PROT_READ | mmap.PROT_WRITE
                self.arenas[key] = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=prot)
        finally:
            for fd in fds:
                os.close(fd)

    def from_wire(self, value, blobs):
        if isinstance(value, list):
            return [self.from_wire(v, blobs) for v in value]
        if not isinstance(value, dict):
            return value
        if "$shared" in value:  # an input in shared memory: read-only, or written in place by contract
            dtype = np.dtype(value["dtype"])
            count = math.prod(value["shape"])
            arena = self.arenas[value["$shared"]]
            return np.frombuffer(arena, dtype, count, value["offset"]).reshape(value["shape"])
        if "$array" in value:
            return array_from_wire(value, blobs, read_only=value.get("ro", False))
        if "$tuple" in value:
            return tuple(self.from_wire(v, blobs) for v in value["$tuple"])
        if "$dict" in value:
            return {self.from_wire(k, blobs): self.from_wire(v, blobs) for k, v in value["$dict"]}
        if "$ref" in value:
            return self.objects[value["$ref"]]
        if "$rng" in value:
            return np.random.default_rng(self.from_wire(value["$rng"], blobs))
        if "$fn" in value:
            return grader_object(value["$fn"])
        if "$obj" in value:
            cls = grader_object(value["$obj"])
            obj = cls.__new__(cls)
            obj.__dict__.update(self.from_wire(value["state"], blobs))
            return obj
        raise ValueError(f"unknown marker in {sorted(value)}")

    # -- the requests ---------------------------------------------------------------
    def invoke(self, fn, request, blobs):
        """Call fn on the request's arguments. Whether it changed them is for the trusted side
        to see (in the shared memory it keeps), not for this process to say."""
        args = [self.from_wire(a, blobs) for a in request.get("args", [])]
        kwargs = {k: self.from_wire(v, blobs) for k, v in request.get("kwargs", {}).items()}
        return fn(*args, **kwargs)

    def handle(self, request, blobs):
        """Run one request; return (reply header fields, blobs).

        Arenas the request retires are let go after it ran: its own inputs may still lie in them."""
        try:
            return self.run_request(request, blobs)
        finally:
            for key in request.get("retire", []):  # arrays still using it keep it mapped
                self.arenas.pop(key, None)

    def run_request(self, request, blobs):
        op = request["op"]
        out_blobs, reply = [], {}
        if request.get("reset"):
            self.objects.clear()
        if request.get("arenas"):
            self.map_arenas(request["arenas"])
        for key, value in request.get("store", []):  # the trusted side's put()s
            self.objects[key] = self.from_wire(value, blobs)
        if op in ("new", "call"):
            value = self.invoke(self.namespace[request["name"]], request, blobs)
        elif op == "call_method":
            value = self.invoke(getattr(self.objects[request["ref"]], request["method"]), request, blobs)
        elif op == "get_attr":
            value = getattr(self.objects[request["ref"]], request["attr"])
        elif op == "set_attr":
            setattr(self.objects[request["ref"]], request["attr"], self.from_wire(request["value"], blobs))
            value = None
        elif op == "has_attr":
            value = hasattr(self.objects[request["ref"]], request["attr"])
        elif op == "fetch":
            value = self.objects[request["ref"]]
        else:
            raise ValueError(f"unknown request {op!r}")
        if "keep" in request:
            self.objects[request["keep"]] = value
            if "fill" in request:  # new_filled: fill the new object's arrays, report what was found
                values = self.from_wire(request["fill"]["values"], blobs)
                keys, shapes = fill_arrays(getattr(value, request["fill"]["attr"]), values)
                reply["filled"] = {"keys": keys[:1000], "shapes": shapes}
        elif request.get("want", "value") == "value":
            reply["value"] = to_wire(value, out_blobs)
        return reply, out_blobs

    def error_reply(self, error):
        """Type, base classes, message and the submission's frames of an exception."""
        try:
            message = str(error)
        except BaseException:  # noqa: BLE001 - a __str__ that raises still gives a report
            message = "<unprintable>"
        frames = traceback.extract_tb(error.__traceback__)
        mine = [f for f in frames if f.filename.startswith(self.submission + "/")]
        shown = (mine or frames[-1:])[-MAX_FRAMES:]
        return {
            "type": type(error).__name__,
            "bases": [c.__name__ for c in type(error).__mro__],
            "message": message[:MAX_TEXT],
            "frames": [
                [
                    os.path.relpath(f.filename, self.submission) if f in mine else f.filename,
                    f in mine,
                    f.lineno,
                    f.name,
                    (f.line or "")[:MAX_TEXT],
                ]
                for f in shown
            ],
        }

    def serve(self):
        while True:
            try:
                request, blobs = self.reader.read_frame()
            except EOFError:
                return
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    reply, out_blobs = self.handle(request, blobs)
                    reply["ok"] = True
                except BaseException as error:  # noqa: BLE001 - everything the student raises goes back
                    reply, out_blobs = {"ok": False, "error": self.error_reply(error)}, []
            self.kill_children()
            reply["seq"] = request.get("seq")
            reply["cpu"] = sum(os.times()[:2])  # this worker's CPU seconds so far, for benchmarks
            reply["warnings"] = [
                [w.category.__name__, str(w.message)[:MAX_TEXT]] for w in caught[:MAX_WARNINGS]
            ]
            write_all(self.rep_fd, encode_frame(reply, out_blobs))

    def load(self, path):
        """Import the submission as grader.target.load_impl does; describe its API for the trusted side."""
        try:
            from ...target import load_impl

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                target = load_impl(path)
            self.namespace, self.import_errors = target.namespace, target.import_errors
        except BaseException as error:  # noqa: BLE001 - SystemExit or anything else at import time
            self.import_errors = {"__init__": f"{type(error).__name__}: {error}"[:MAX_TEXT]}
        self.kill_children()
        parameters = {}
        for name, obj in self.namespace.items():
            try:
                sig = inspect.signature(obj)
                parameters[name] = [
                    p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                ]
            except BaseException:  # noqa: BLE001 - no signature: the checks skip the comparison
                parameters[name] = None
        hello = {"ok": True, "hello": True, "names": sorted(self.namespace), "parameters": parameters}
        hello["import_errors"] = {str(k): str(v)[:MAX_TEXT] for k, v in self.import_errors.items()}
        write_all(self.rep_fd, encode_frame(hello))
