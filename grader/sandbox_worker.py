"""The untrusted side of the sandbox: imports one submission and runs only the calls it is sent.

Started by grader.sandbox (never by hand). A fork server,

    python -I -c "<bootstrap>" <runtime directory> <socket fd>

imports numpy and this module once, then forks one worker per request (much
faster than starting Python for every submission). Each fork becomes a session
leader, enters new namespaces if asked, and runs the worker in its own child,
whose exit status it reports on a pipe.

The worker first shuts itself in (while still running only this file's code):
with Linux namespaces it builds a new root from an allow-list (View: shared
libraries, the standard library, the allowed packages, the runtime, the
submission), a small tmpfs working directory and a private /proc, chroots into
it and drops to an unprivileged uid. Everywhere it joins an empty session
keyring of its own, installs a seccomp filter (no keyring calls; no child
processes unless a cgroup of its own sums their memory), sets resource limits
and imports only from the allow-list. Only then does it import the submission
and answer requests.

Wire format, both ways: a 4-byte big-endian length, a JSON header, then the
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
shared memory: a read-only view of the received bytes. This side reports no
side effects: the trusted side observes them.
"""

import array
import contextlib
import ctypes
import errno
import gc
import importlib
import importlib.machinery
import inspect
import itertools
import json
import math
import mmap
import os
import re
import resource
import shutil
import signal
import socket
import struct
import sys
import time
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
MAX_FDS_SPACE = socket.CMSG_SPACE(16 * array.array("i").itemsize)  # file descriptors per message

PRELOAD = ("numpy.random", "grader.target", "grader.checks.handed")  # imported once, in the fork server
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER = 0x20000000, 0x40000000, 0x10000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# A bind mount in a user namespace keeps the flags its source has (the kernel locks them):
# a read-only remount must repeat them. statvfs flag -> mount flag.
KEPT_FLAGS = {
    getattr(os, "ST_NOEXEC", 8): MS_NOEXEC,
    getattr(os, "ST_NOATIME", 1024): MS_NOATIME,
    getattr(os, "ST_NODIRATIME", 2048): MS_NODIRATIME,
    getattr(os, "ST_RELATIME", 4096): MS_RELATIME,
}
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
CAPABILITY_VERSION_3 = 0x20080522
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
WALL = 0x40000000  # __WALL: also children made by clone() with another exit signal
DEVICES = ("null", "zero", "full", "random", "urandom")
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
CLONE_THREAD, KEYCTL_JOIN_SESSION_KEYRING = 0x00010000, 1
NEW_MOUNT_API = {
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}
X86_64 = {
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "pivot_root": 155,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "setns": 308,
    "clone3": 435,
    **NEW_MOUNT_API,
}
AARCH64 = {
    "umount2": 39,
    "mount": 40,
    "pivot_root": 41,
    "chroot": 51,
    "unshare": 97,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "clone": 220,
    "setns": 268,
    "clone3": 435,
    **NEW_MOUNT_API,
}
# Refused to student code in every mode: keyrings (a channel between submissions) and
# whatever could change the worker's view once it is built (mounts, namespaces, roots).
REFUSED = (
    "add_key",
    "request_key",
    "keyctl",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    *NEW_MOUNT_API,
)
SYSCALLS = {
    "x86_64": (0xC000003E, X86_64),
    "aarch64": (0xC00000B7, AARCH64),
}  # machine: (audit arch, numbers)
# The file-system view of a worker (namespaces mode): these system directories (for the shared
# libraries; their Python directories hidden), the standard library, and only these packages
# and what they require, if installed. The kit's own packages are never on it.
LIB_DIRS = ("lib", "lib32", "lib64", "libx32")
SYSTEM_DIRS = (
    "/bin",
    "/usr/bin",
    *(f"/{d}" for d in LIB_DIRS),
    *(f"/usr/{d}" for d in LIB_DIRS),
    "/usr/local/lib",
)
PACKAGES = ("numpy", "scipy", "tqdm", "matplotlib")
PACKAGE_DIRS = ("site-packages", "dist-packages")
NEVER = ("grader", "solutions", "exercises")  # top-level names no allowed distribution may bring in
VIEW = None  # the View, made once by the fork server


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


def array_from_wire(marker, blobs, read_only=False):
    """Inverse of array_to_wire, for requests from the trusted side: a writable copy, or a
    read-only view of the received bytes (its flag cannot be set back: bytes are immutable)."""
    data = blobs[marker["$array"]]
    arr = np.frombuffer(data, dtype=np.dtype(marker["dtype"])).reshape(marker["shape"])
    return arr if read_only else arr.copy()


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


def in_root(root, path):
    """Where `path` (as the worker will name it) is under `root`, following the symlinks already made
    there the way the chrooted worker will; missing directories on the way are made (mode 755)."""
    parts, done, hops = [p for p in path.split("/") if p not in ("", ".")], "", 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        here = root + done + "/" + part
        if os.path.islink(here):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, f"too many symbolic links in {path}")
            link = os.readlink(here)
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            done = "" if link.startswith("/") else done
            continue
        if parts and not os.path.exists(here):
            os.mkdir(here, 0o755)
        done += "/" + part
    return root + done


def bind(source, root, read_only=True):
    """Bind `source` (a host path) at the same path under `root`."""
    target = in_root(root, source)
    if os.path.isdir(source):
        if not os.path.isdir(target):
            os.mkdir(target, 0o755)
    elif not os.path.exists(target):
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        kept = os.statvfs(source).f_flag
        flags = sum(mount_flag for flag, mount_flag in KEPT_FLAGS.items() if kept & flag)
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | flags)
    return target


def mask(path, root):
    """Hide the directory `path` under `root` behind an empty tmpfs (read-only once the root is built)."""
    target = in_root(root, path)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    return target


# ----------------------------------------------------------------------------- what a worker may see
def within(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def normalized(name):
    """A distribution's name as its metadata's file names and requirements compare (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_text(meta, name):
    path = meta if os.path.isfile(meta) else os.path.join(meta, name)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def requirements(meta):
    """The names of the distributions that the one described by `meta` needs (no extras)."""
    if meta.endswith(".dist-info"):
        header = metadata_text(meta, "METADATA").split("\n\n", 1)[0]
        lines = [line.partition(":")[2] for line in header.splitlines() if line.startswith("Requires-Dist:")]
    else:  # an .egg-info: requires.txt, unconditional part first
        lines = metadata_text(meta, "requires.txt").split("\n[", 1)[0].splitlines()
    names = []
    for line in lines:
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if found and "extra" not in line.partition(";")[2]:
            names.append(normalized(found.group(1)))
    return names


def installed_entries(site, meta):
    """The names in `site` a distribution installed: packages, modules, vendored libraries, metadata."""
    if meta.endswith(".dist-info"):
        record = metadata_text(meta, "RECORD").splitlines()
        names = {line.split(",", 1)[0].split("/", 1)[0] for line in record}
    else:
        names = {os.path.basename(meta)}
        for top in metadata_text(meta, "top_level.txt").split():
            names.add(top)
            names.update(e for e in os.listdir(site) if e.startswith(top + ".") and not e.endswith("-info"))
    names -= {"", ".", "..", "__pycache__"}
    return sorted(n for n in names if os.path.lexists(os.path.join(site, n)))


def module_name(site, entry):
    """The top-level module an installed entry provides, or None (metadata, vendored libraries)."""
    if os.path.isdir(os.path.join(site, entry)):
        return None if "." in entry else entry
    for suffix in importlib.machinery.all_suffixes():
        if entry.endswith(suffix):
            return entry[: -len(suffix)]
    return None


class View:
    """What of this Python installation a worker may see and import: an allow-list.

    The standard library; the packages in PACKAGES and the distributions they require (as
    their metadata says), each entry they installed and nothing else of their site
    directory; the interpreter and the shared libraries of the system and of Python's
    prefixes, with every Python directory in those hidden (other Pythons, site-packages).
    Never the kit itself, however it is installed: it is not on the list.
    """

    def __init__(self, home, packages=PACKAGES):
        stdlib_home = os.path.dirname(os.__file__)
        entries = [p for p in dict.fromkeys(sys.path) if p and os.path.isdir(p) and not within(p, home)]
        self.stdlib = [
            p
            for p in entries
            if not set(p.split("/")) & set(PACKAGE_DIRS)
            and (within(p, stdlib_home) or os.path.basename(p) == "lib-dynload")
        ]
        self.sites = [p for p in entries if p not in self.stdlib]
        installed = {}
        for site in self.sites:
            for entry in sorted(os.listdir(site)):
                if entry.endswith((".dist-info", ".egg-info")):
                    name = normalized(entry.rsplit(".", 1)[0].split("-")[0])
                    installed.setdefault(name, (site, os.path.join(site, entry)))
        self.packages, self.modules = [], {}  # paths to bind; {top-level module: its site directory}
        todo, seen = [normalized(p) for p in packages], set()
        while todo:
            name = todo.pop(0)
            if name in seen or name not in installed:
                continue
            seen.add(name)
            site, meta = installed[name]
            for entry in installed_entries(site, meta):
                module = module_name(site, entry)
                if module in NEVER:
                    continue
                self.packages.append(os.path.join(site, entry))
                if module:
                    self.modules.setdefault(module, site)
            todo += requirements(meta)
        prefixes = dict.fromkeys([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix])
        self.libraries = [*SYSTEM_DIRS, *(f"{p}/{lib}" for p in prefixes for lib in ("lib", "lib64"))]
        self.libraries = [p for p in dict.fromkeys(self.libraries) if os.path.lexists(p)]
        self.interpreter = [p for p in {os.path.realpath(sys.executable)} if os.path.isfile(p)]

    def hidden(self):
        """Directories inside the bound ones that the worker must not see: other Pythons and
        site directories (the allowed packages are bound back into them)."""
        bound = [p for p in [*self.libraries, *self.stdlib] if os.path.isdir(p) and not os.path.islink(p)]
        candidates = [s for s in self.sites if any(within(s, d) for d in bound)]
        for folder in self.libraries:
            if folder in bound:
                candidates += [f"{folder}/{e}" for e in sorted(os.listdir(folder)) if e.startswith("python")]
        candidates += self.stdlib
        found = []
        for path in candidates:
            if os.path.islink(path) or not os.path.isdir(path):
                continue
            if any(within(s, path) for s in self.stdlib):  # the standard library's: only its site dirs
                found += [f"{path}/{d}" for d in PACKAGE_DIRS if os.path.isdir(f"{path}/{d}")]
            else:
                found.append(path)
        found = [p for p in dict.fromkeys(found) if not any(within(s, p) for s in self.stdlib)]
        return [p for p in found if not any(q != p and within(p, q) for q in found)]

    def readable(self):
        return [*self.stdlib, *(os.path.dirname(p) for p in self.packages)]


class AllowedModules:
    """A meta path finder for the allowed packages: each top-level name in its own site directory only."""

    def __init__(self, modules):
        self.modules = modules

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in self.modules:
            return importlib.machinery.PathFinder.find_spec(fullname, [self.modules[fullname]])
        return None

    def invalidate_caches(self):
        pass


def restrict_imports(runtime, view):
    """Imports find the runtime, the standard library and the allowed packages, nothing else.

    In basic mode this is no security boundary (the files can still be read by path), but it
    keeps an installed kit (editable or not) from being imported by name.
    """
    machinery = importlib.machinery
    standard = (machinery.BuiltinImporter, machinery.FrozenImporter, machinery.PathFinder)
    sys.path[:] = [runtime, *view.stdlib]
    sys.meta_path[:] = [f for f in sys.meta_path if f in standard] + [AllowedModules(view.modules)]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def build_root(config, view):
    """A new root from an allow-list: read-only library directories (their Python directories
    hidden), the standard library, the allowed packages, the runtime and the submission, a
    small tmpfs as working directory, a private /proc and a few devices.

    Paths inside it are the host's paths, so the submission and the runtime keep their names.
    """
    base, uid, limits = config["dir"], config["uid"], config["limits"]
    root = base + "/root"
    os.umask(0o022)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for path in view.libraries:
        if os.path.islink(path):
            link = in_root(root, os.path.dirname(path)) + "/" + os.path.basename(path)
            if not os.path.lexists(link):
                os.symlink(os.readlink(path), link)
        elif os.path.isdir(path):
            bind(path, root)
    masks = [mask(path, root) for path in view.hidden() if not any(within(path, s) for s in view.stdlib)]
    for path in view.stdlib:
        bind(path, root)
    masks += [mask(path, root) for path in view.hidden() if any(within(path, s) for s in view.stdlib)]
    for path in [*view.packages, *view.interpreter]:
        bind(path, root)
    os.makedirs(root + "/dev", mode=0o755, exist_ok=True)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, root, read_only=False)
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(in_root(root, "/tmp"), mode=0o755, exist_ok=True)
    bind(config["runtime"], root)
    bind(f"{base}/submission", root)
    work = in_root(root, base + "/work")
    os.makedirs(work, mode=0o700, exist_ok=True)
    size = max(1, limits["workdir_bytes"] // 1024)
    options = f"size={size}k,mode=700" + (f",uid={uid},gid={uid}" if uid else "")
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for target in [*masks, root]:
        mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
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


# ----------------------------------------------------------------------------- limits
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
    """Become `uid` (no groups, no way back); cap the processes and threads that uid may run."""
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def enter_user_namespace():
    """Without root: a new user namespace in which this process is root, mapped to its own uid
    and gid only, so that it may build a root of its own (the kernel then locks every mount
    it brings from outside, and the host sees this process as the user it was)."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | NAMESPACES)
    write_text("/proc/self/setgroups", "deny")
    write_text("/proc/self/uid_map", f"0 {uid} 1")
    write_text("/proc/self/gid_map", f"0 {gid} 1")


def drop_capabilities():
    """Give up every capability for good (as root of a user namespace: mount, chroot, ...)."""
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(64):
        if LIBC.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (two words each): none
    if LIBC.capset(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def join_new_session_keyring():
    """Leave the grading process's session keyring for a new, empty one of this worker's own.

    False where the kernel has no keyrings or a container's own filter refuses keyctl.
    """
    number = SYSCALLS.get(os.uname().machine, (0, {}))[1].get("keyctl")
    if number is None:
        return False
    join = ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING)
    if LIBC.syscall(ctypes.c_long(number), join, ctypes.c_void_p(None)) < 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM, errno.EACCES):
            return False
        raise OSError(err, f"keyctl: {os.strerror(err)}")
    return True


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def filter_program(machine, no_children):
    """A seccomp program: keyrings and changes of mounts and namespaces refused (EPERM,
    REFUSED); with no_children, so are new processes
    (fork, vfork, clone without CLONE_THREAD; clone3 answers ENOSYS so that the C library
    falls back to clone, whose flags a filter can read). Threads stay allowed."""
    arch, numbers = SYSCALLS[machine]
    deny, nosys, allow = SECCOMP_RET_ERRNO | errno.EPERM, SECCOMP_RET_ERRNO | errno.ENOSYS, SECCOMP_RET_ALLOW
    code = [("ld", 4), ("jne", arch, "deny"), ("ld", 0)]
    if machine == "x86_64":
        code.append(("jge", 0x40000000, "deny"))  # the x32 ABI's numbers
    refused = [*REFUSED, *(["fork", "vfork"] if no_children else [])]
    code += [("jeq", numbers[name], "deny") for name in refused if name in numbers]
    if no_children:
        code += [("jeq", numbers["clone3"], "nosys"), ("jeq", numbers["clone"], "clone")]
    code.append(("ret", allow))
    labels = {"clone": len(code)}
    code += [("ld", 16), ("jset", CLONE_THREAD, "allow"), ("ret", deny)]  # 16: the low half of clone's flags
    for name, value in (("deny", deny), ("nosys", nosys), ("allow", allow)):
        labels[name] = len(code)
        code.append(("ret", value))
    program = []
    for i, (op, *args) in enumerate(code):
        if op == "ld":
            program.append((0x20, 0, 0, args[0]))  # BPF_LD | BPF_W | BPF_ABS
        elif op == "ret":
            program.append((0x06, 0, 0, args[0]))  # BPF_RET | BPF_K
        else:
            jump = labels[args[1]] - i - 1
            kind = {"jeq": 0x15, "jne": 0x15, "jge": 0x35, "jset": 0x45}[op]
            program.append((kind, 0, jump, args[0]) if op == "jne" else (kind, jump, 0, args[0]))
    return program


def install_filter(no_children):
    """Install the seccomp filter of filter_program (needs no_new_privs); False where unsupported."""
    machine = os.uname().machine
    if machine not in SYSCALLS:
        return False
    program = filter_program(machine, no_children)
    instructions = (SockFilter * len(program))(*(SockFilter(*i) for i in program))
    fprog = SockFprog(len(program), instructions)
    return LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def can_filter():
    """Whether a worker can install its seccomp filter (tried in a throwaway child)."""
    pid = os.fork()
    if pid == 0:
        try:
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            os._exit(0 if install_filter(no_children=True) else 1)
        except BaseException:  # noqa: BLE001 - any failure means: no filter here
            os._exit(1)
    return wait_status(pid) == 0


# ----------------------------------------------------------------------------- cgroups (v2)
def cgroup_parent():
    """A cgroup v2 directory whose children get memory and pids limits and that we may write, or None:
    NNKIT_CGROUP if the host delegated one there, else our own cgroup if it already enables both."""
    candidates = [os.environ.get("NNKIT_CGROUP", "")]
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
        top = next(m[4] for m in mounts if "-" in m and m[m.index("-") + 1] == "cgroup2")
        with open("/proc/self/cgroup") as f:
            own = next(line.strip()[3:] for line in f if line.startswith("0::"))
        candidates.append(top + own.rstrip("/"))
    except (OSError, StopIteration, IndexError):
        pass
    for path in filter(None, candidates):
        try:
            with open(path + "/cgroup.subtree_control") as f:
                enabled = set(f.read().split())
        except OSError:
            continue
        if {"memory", "pids"} <= enabled and os.access(path + "/cgroup.procs", os.W_OK):
            return path
    return None


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def make_cgroup(parent, limits, name):
    """A new cgroup under `parent` holding one worker: memory (no swap) and processes capped, killed whole on OOM."""
    path = f"{parent}/{name}"
    os.mkdir(path)
    try:
        write_text(f"{path}/memory.max", str(limits["memory_bytes"]))
        write_text(f"{path}/pids.max", str(limits["processes"]))
        for control, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            if os.path.exists(f"{path}/{control}"):
                write_text(f"{path}/{control}", value)
    except OSError:
        os.rmdir(path)
        raise
    return path


def remove_cgroups(paths):
    """Remove the cgroups of workers that ended (a cgroup with a process left is kept for later)."""
    for path in list(paths):
        try:
            os.rmdir(path)
            paths.remove(path)
        except FileNotFoundError:
            paths.remove(path)
        except OSError:
            continue


def remove_stale_cgroups(parent):
    """Remove the empty cgroups that fork servers killed before they could clean up left behind."""
    for entry in os.listdir(parent):
        found = re.fullmatch(r"nnkit-(\d+)-\d+", entry)
        if found and not os.path.exists(f"/proc/{found.group(1)}"):
            with contextlib.suppress(OSError):
                os.rmdir(f"{parent}/{entry}")


def can_limit(parent, limits):
    """Whether a child of this process can enter a limited cgroup under `parent` (tried, then removed)."""
    try:
        path = make_cgroup(parent, limits, f"nnkit-{os.getpid()}-probe")
    except OSError:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            write_text(f"{path}/cgroup.procs", "0")
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    entered = wait_status(pid) == 0
    for _ in range(100):  # the child is reaped; its cgroup empties a moment later
        with contextlib.suppress(OSError):
            os.rmdir(path)
            break
        time.sleep(0.01)
    return entered


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
    in_cgroup = bool(config.get("cgroup"))
    kill = kill_descendants
    if mode == "namespaces":
        build_root(config, VIEW)
        if os.getpid() == 1:
            kill = kill_namespace
    os.chdir(config["dir"] + "/work")
    if config.get("cpus"):  # the grading process's CPUs: it and this worker take turns
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, config["cpus"])
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    join_new_session_keyring()  # while still root: nothing of the grading process's keyring stays ours
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # Without a cgroup nothing adds up the memory of several processes: then no children
    # (threads share the one address space RLIMIT_AS limits). Keyrings are refused in any case.
    filtered = install_filter(no_children=not in_cgroup)
    set_limits(limits)
    if os.geteuid() == 0 and uid and (mode == "namespaces" or readable_by_anyone(VIEW.readable())):
        # no filter and no cgroup: RLIMIT_NPROC 1 keeps children out (and threads: it counts them)
        drop_privileges(uid, limits["processes"] if filtered or in_cgroup else 1)
    if config.get("user_namespace"):  # root of its own user namespace: no capability may stay
        drop_capabilities()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    threads = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}  # BLAS: one thread
    os.environ.clear()
    os.environ.update(
        {"HOME": os.getcwd(), "TMPDIR": os.getcwd(), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **threads}
    )
    restrict_imports(config["runtime"], VIEW)
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


def can_unshare(home=None):
    """Whether a child of this process may enter new namespaces and build a root in them: as
    root, or without root in a user namespace of its own (tried in a throwaway child, which
    mounts a tmpfs over `home` and a /proc in it there)."""
    if not sys.platform.startswith("linux"):
        return False
    pid = os.fork()
    if pid == 0:
        try:
            if os.geteuid() == 0:
                unshare(NAMESPACES)
            else:
                enter_user_namespace()
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            inner = os.fork()
            if inner == 0:
                try:
                    if home:
                        mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
                        os.mkdir(home + "/proc")
                        mount("proc", home + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                        bind("/usr", home)
                    os._exit(0)
                except BaseException:  # noqa: BLE001 - any failure means: no namespaces here
                    os._exit(1)
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


def start_worker(config, req_fd, rep_fd, status_fd, cgroup=None):
    """In a fresh fork of the fork server: its cgroup if it has one, a session of its own, new
    namespaces if asked, the worker in a child (pid 1 of the new pid namespace); then wait
    and report its exit code."""
    try:
        if cgroup:
            write_text(cgroup + "/cgroup.procs", "0")  # this process, and so every one it starts
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        if config["mode"] == "namespaces" and os.geteuid() != 0:
            enter_user_namespace()
            config["user_namespace"] = True
        elif config["mode"] == "namespaces":
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
    """The fork server: preload, report what isolation works here, then fork a worker per request.

    The hello says whether workers can enter namespaces, whether each gets a cgroup
    (memory and processes of the whole submission limited) and whether the seccomp
    filter installs. A request is one message: the worker's JSON config with three file
    descriptors (requests, replies, exit status). The answer is {"pid": ...} or {"error": ...}.
    When the grading process is gone (the socket reads end of file) or on SIGTERM, the
    server removes `home`, its directory, and ends. (Not a parent-death signal: that
    follows the thread that started the server, not the grading process.)
    """
    global VIEW
    cgroups = []  # the workers' cgroups not removed yet

    def leave(signum=None, frame=None):
        remove_cgroups(cgroups)
        shutil.rmtree(home, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, leave)
    sock = socket.socket(fileno=sock_fd)
    for name in PRELOAD:
        importlib.import_module(name)
    VIEW = View(home)
    parent = cgroup_parent()
    if parent and not can_limit(parent, {"memory_bytes": 1 << 30, "processes": 64}):
        parent = None
    if parent:
        remove_stale_cgroups(parent)
    gc.freeze()  # what the forks inherit stays out of their garbage collections: no copy-on-write storms
    hello = {"namespaces": can_unshare(home), "cgroup": parent is not None, "filter": can_filter()}
    sock.sendall(json.dumps(hello).encode())
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
    for serial in itertools.count():
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        except OSError:
            leave()
        if not data:
            leave()
        remove_cgroups(cgroups)
        try:
            config, group = json.loads(data), None
            if parent:
                group = make_cgroup(parent, config["limits"], f"nnkit-{os.getpid()}-{serial}")
                cgroups.append(group)
                config["cgroup"] = True
            pid = os.fork()
        except (OSError, ValueError, KeyError, TypeError) as error:
            answer = {"error": str(error)}
        else:
            if pid == 0:
                try:
                    start_worker(config, *fds, cgroup=group)
                finally:
                    os._exit(4)  # never back into this loop
            answer = {"pid": pid}
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps(answer).encode())
