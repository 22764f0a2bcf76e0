"""The untrusted side of the sandbox: imports one submission and runs only the calls it is sent.

Started by grader.sandbox (never by hand). A fork server,

    python -I -c "<bootstrap>" <runtime directory> <socket fd>

imports numpy and this module once, then forks one worker per request (much
faster than starting Python for every submission). Each fork becomes a session
leader, enters new namespaces if asked, and runs the worker in its own child,
whose exit status it reports on a pipe.

The worker first shuts itself in (while still running only this file's code):
with Linux namespaces it builds a new root from read-only bind mounts of the
Python installation plus the submission, a small tmpfs working directory and a
private /proc, chroots into it and drops to an unprivileged uid; everywhere it
sets resource limits. Only then does it import the submission and answer requests.

Wire format, both ways: a 4-byte big-endian length, a JSON header, then the
raw bytes of the numeric arrays the header describes (never pickle). Values are
JSON with markers: {"$array": i, "dtype": "<f8", "shape": [...]},
{"$tuple": [...]}, {"$dict": [[key, value], ...]}; the
trusted side adds {"$ref": key}, {"$rng": seed}, {"$fn": "module:name"} and
{"$obj": "module:name", "state": ...} for the grader's own callables. A reply
value that is not plain becomes {"$opaque": type name} or {"$badarray": dtype},
so the trusted side can reject it with the same message as in-process grading.
"""

import ctypes
import gc
import importlib
import inspect
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import struct
import sys
import traceback
import warnings

import numpy as np

from .target import fill_arrays

HEADER = struct.Struct(">I")
MAX_TEXT = 4000
MAX_FRAMES = 40
MAX_WARNINGS = 20
MAX_DEPTH = 40
CALLABLE_PREFIX = "grader.checks.handed"

PRELOAD = ("numpy.random", "grader.target", "grader.checks.handed")  # imported once, in the fork server
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
WALL = 0x40000000  # __WALL: also children made by clone() with another exit signal
DEVICES = ("null", "zero", "full", "random", "urandom")
TOP_LEVEL = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


# ----------------------------------------------------------------------------- framing
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


def array_from_wire(marker, blobs):
    """Inverse of array_to_wire, for requests from the trusted side."""
    data = blobs[marker["$array"]]
    return np.frombuffer(data, dtype=np.dtype(marker["dtype"])).reshape(marker["shape"]).copy()


class FrameReader:
    """Reads frames from a pipe with few system calls."""

    def __init__(self, fd):
        self.file = os.fdopen(fd, "rb", buffering=1 << 16)

    def read_exact(self, n):
        data = self.file.read(n)
        if len(data) < n:
            raise EOFError
        return data

    def read_frame(self):
        (size,) = HEADER.unpack(self.read_exact(HEADER.size))
        header = json.loads(self.read_exact(size))
        return header, [self.read_exact(n) for n in header.get("blobs", [])]


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ----------------------------------------------------------------------------- values
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


class Worker:
    """Holds the submission's namespace and the objects the trusted side refers to by key."""

    def __init__(self, req_fd, rep_fd, submission, kill_children):
        self.reader, self.rep_fd = FrameReader(req_fd), rep_fd
        self.submission = submission
        self.kill_children = kill_children
        self.namespace, self.import_errors = {}, {}
        self.objects = {}

    # -- values from the trusted side ---------------------------------------------
    def from_wire(self, value, blobs):
        if isinstance(value, list):
            return [self.from_wire(v, blobs) for v in value]
        if not isinstance(value, dict):
            return value
        if "$array" in value:
            return array_from_wire(value, blobs)
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
        args = [self.from_wire(a, blobs) for a in request.get("args", [])]
        kwargs = {k: self.from_wire(v, blobs) for k, v in request.get("kwargs", {}).items()}
        originals = {
            name: value.copy()
            for name, value in itertools.chain(
                ((f"argument {i + 1}", a) for i, a in enumerate(args)), kwargs.items()
            )
            if isinstance(value, np.ndarray)
        }
        result = fn(*args, **kwargs)
        sent = dict(((f"argument {i + 1}", a) for i, a in enumerate(args)), **kwargs)
        mutations = [
            name
            for name, original in originals.items()
            if not (
                isinstance(sent[name], np.ndarray)
                and sent[name].shape == original.shape
                and np.array_equal(sent[name], original, equal_nan=True)
            )
        ]
        return result, mutations

    def handle(self, request, blobs):
        """Run one request; return (reply header fields, blobs)."""
        op = request["op"]
        out_blobs, reply, mutations = [], {}, []
        if request.get("reset"):
            self.objects.clear()
        for key, value in request.get("store", []):  # the trusted side's put()s
            self.objects[key] = self.from_wire(value, blobs)
        if op in ("new", "call"):
            value, mutations = self.invoke(self.namespace[request["name"]], request, blobs)
        elif op == "call_method":
            fn = getattr(self.objects[request["ref"]], request["method"])
            value, mutations = self.invoke(fn, request, blobs)
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
        reply["mutations"] = mutations
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
            from .target import load_impl

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


# ----------------------------------------------------------------------------- shutting in
LIBC = ctypes.CDLL(None, use_errno=True)


def mount(source, target, fstype, flags, data=None):
    args = [None if a is None else str(a).encode() for a in (source, target, fstype)]
    if LIBC.mount(args[0], args[1], args[2], ctypes.c_ulong(flags), data and data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def prctl(option, value):
    LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


def bind(source, root, read_only=True):
    """Bind `source` (a host path) at the same path under `root`."""
    target = root + source
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def python_paths():
    """The host directories the interpreter and its packages live in (never the grader's repository)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = {os.path.realpath(p) for p in paths} | paths
    keep = []
    for p in sorted(paths, key=len):
        if os.path.isdir(p) and not any(p == k or p.startswith(k + "/") for k in keep):
            keep.append(p)
    return keep


def build_root(config):
    """A new root: read-only system and Python directories, the sandbox directory, a private /proc.

    Paths inside it are the host's paths, so the submission and the runtime keep their names.
    """
    base, uid, limits = config["dir"], config["uid"], config["limits"]
    root = base + "/root"
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for name in TOP_LEVEL:
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            bind(host, root)
    for path in python_paths():
        if not (path == "/usr" or path.startswith("/usr/")):
            bind(path, root)
    os.makedirs(root + "/dev", mode=0o755, exist_ok=True)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, root, read_only=False)
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/tmp", mode=0o755, exist_ok=True)  # may exist: a venv under /tmp is bound above
    bind(config["runtime"], root)
    bind(f"{base}/submission", root)
    os.makedirs(root + base + "/work", mode=0o700)
    size = max(1, limits["workdir_bytes"] // 1024)
    options = f"size={size}k,mode=700" + (f",uid={uid},gid={uid}" if uid else "")
    mount("tmpfs", root + base + "/work", "tmpfs", MS_NOSUID | MS_NODEV, options)
    os.chroot(root)


def readable_by_anyone(paths):
    """Whether another uid could use these directories (every ancestor searchable, each readable)."""
    for path in paths:
        if not os.stat(path).st_mode & 0o004:
            return False
        while path != "/":
            if not os.stat(path).st_mode & 0o001:
                return False
            path = os.path.dirname(path)
    return True


def set_limits(limits):
    for name, value in (
        ("RLIMIT_AS", limits["memory_bytes"]),
        ("RLIMIT_CPU", limits["cpu_seconds"]),
        ("RLIMIT_FSIZE", limits["file_bytes"]),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))


def drop_privileges(uid, processes):
    """Become `uid` (no groups, no way back); cap the processes that uid may run."""
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def has_children():
    """Whether this process has any child (running, stopped or a zombie); one system call.

    As pid 1 of its namespace, or as a child subreaper, every descendant that outlives its
    parent becomes our child, so no child means no descendant at all.
    """
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT | WALL)
    except ChildProcessError:
        return False
    return True


def kill_namespace():
    """As pid 1 of a private pid namespace: kill every other process in it and reap them."""
    if not has_children():
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(10000):
        try:
            if os.waitpid(-1, WALL)[0] == 0:
                return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def kill_descendants():
    """As a child subreaper: kill every process descended from this one (orphans come back to us)."""
    if not has_children():
        return
    for _ in range(50):
        pids = set()
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/children") as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                continue
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, WALL)
            except ChildProcessError:
                pass


def shut_in(config):
    """Apply the isolation the trusted side chose; return how to kill leftover processes."""
    mode, uid, limits = config["mode"], config["uid"], config["limits"]
    kill = kill_descendants
    if mode == "namespaces":
        build_root(config)
        if os.getpid() == 1:
            kill = kill_namespace
    os.chdir(config["dir"] + "/work")
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    set_limits(limits)
    if os.geteuid() == 0 and uid and (mode == "namespaces" or readable_by_anyone(python_paths())):
        drop_privileges(uid, limits["processes"])
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.environ.clear()
    os.environ.update(
        {"HOME": os.getcwd(), "TMPDIR": os.getcwd(), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    )
    return kill


def unshare(flags):
    if LIBC.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def wait_status(pid):
    """The exit code of child `pid` as subprocess reports it (negative: killed by that signal)."""
    while True:
        try:
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except InterruptedError:
            continue


def can_unshare():
    """Whether a child of this process may enter new namespaces and mount in them (tried in a throwaway child)."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    pid = os.fork()
    if pid == 0:
        try:
            unshare(NAMESPACES)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            inner = os.fork()
            if inner == 0:
                os._exit(0)
            os._exit(0 if wait_status(inner) == 0 else 1)
        except BaseException:  # noqa: BLE001 - any failure means: no namespaces here
            os._exit(1)
    return wait_status(pid) == 0


def run_worker(config, req_fd, rep_fd):
    """Shut in, import the submission and answer requests until the trusted side hangs up."""
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        low, high = sorted((req_fd, rep_fd))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, 1 << 20)
        kill = shut_in(config)
    except BaseException:  # noqa: BLE001 - tell the trusted side why the sandbox could not start
        write_all(rep_fd, encode_frame({"ok": False, "setup_error": traceback.format_exc()[-MAX_TEXT:]}))
        os._exit(3)
    submission = os.path.realpath(config["dir"] + "/submission")
    worker = Worker(req_fd, rep_fd, submission, kill)
    worker.load(submission)
    worker.serve()
    os._exit(0)


def start_worker(config, req_fd, rep_fd, status_fd):
    """In a fresh fork of the fork server: a session of its own, new namespaces if asked, the
    worker in a child (pid 1 of the new pid namespace); then wait and report its exit code."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        if config["mode"] == "namespaces":
            unshare(NAMESPACES)
        pid = os.fork()
    except BaseException:  # noqa: BLE001 - tell the trusted side why the sandbox could not start
        write_all(rep_fd, encode_frame({"ok": False, "setup_error": traceback.format_exc()[-MAX_TEXT:]}))
        os._exit(3)
    if pid == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the worker dies with this process
        run_worker(config, req_fd, rep_fd)
    os.closerange(3, status_fd)
    os.closerange(status_fd + 1, 1 << 20)
    write_all(status_fd, struct.pack(">i", wait_status(pid)))
    os._exit(0)


def serve_forks(sock_fd, home):
    """The fork server: preload, report whether namespaces work, then fork a worker per request.

    A request is one message: the worker's JSON config with three file descriptors
    (requests, replies, exit status). The answer is {"pid": ...} or {"error": ...}.
    When the grading process is gone (the socket reads end of file) or on SIGTERM, the
    server removes `home`, its directory, and ends. (Not a parent-death signal: that
    follows the thread that started the server, not the grading process.)
    """

    def leave(signum=None, frame=None):
        shutil.rmtree(home, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, leave)
    sock = socket.socket(fileno=sock_fd)
    for name in PRELOAD:
        importlib.import_module(name)
    gc.freeze()  # what the forks inherit stays out of their garbage collections: no copy-on-write storms
    sock.sendall(json.dumps({"namespaces": can_unshare()}).encode())
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        except OSError:
            leave()
        if not data:
            leave()
        try:
            pid = os.fork()
        except OSError as error:
            answer = {"error": str(error)}
        else:
            if pid == 0:
                try:
                    start_worker(json.loads(data), *fds)
                finally:
                    os._exit(4)  # never back into this loop
            answer = {"pid": pid}
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps(answer).encode())
