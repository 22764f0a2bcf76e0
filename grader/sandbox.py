"""Grading untrusted code: the checks run here, the submission runs in a shut-in worker process.

    results = grade_isolated("submissions/alice")          # list[CheckResult]
    python -m grader.sandbox --impl submissions/alice --json results.json

Threat model. A submission is arbitrary Python written by someone who wants a
higher score (or just has a bug that loops, exits or eats memory). It runs in
its own worker process (grader/sandbox_worker.py) that imports it and executes
only the calls a check asks for, on inputs this process chose (from a per-run
secret seed). Workers are forked from a small fork server (grader/spawner.py)
that has imported numpy once, so a worker starts in milliseconds. Replies are length-prefixed JSON plus the raw bytes of numeric
arrays (dtype and shape validated, never pickle), capped in size, and re-made
with grader.target.plain, so a reply is only ever numbers and base-class
numeric arrays. Every comparison,
hint and point is computed here. Therefore:

Protected against
  - wrong scores from tampering: monkeypatching numpy, builtins or the grader's
    modules changes only the worker; lying __eq__/__array__/subclasses do not
    survive the wire; printing a fake report goes to /dev/null, never into the
    protocol (which uses private pipes);
  - crashes and hangs: sys.exit/os._exit/segfaults, infinite loops (at import
    or in a method), memory bombs (RLIMIT_AS, and memory.max of a cgroup per
    worker where the host delegates one), fork bombs and memory held by children
    (pids.max there; elsewhere a seccomp filter refuses child processes), CPU
    burn (RLIMIT_CPU), huge files (RLIMIT_FSIZE), floods of
    output or replies: each becomes a failed check with a reason; the worker is
    killed and restarted for the next check; one submission never raises out
    of grade_isolated;
  - leftover processes: after every call the worker kills everything it
    started (it is pid 1 of its own pid namespace, or a child subreaper);
  - hidden side effects: the arrays a call takes as inputs are in shared memory
    this process keeps (SandboxTarget.input_memory). Those the contract does not
    let student code write (forward/backward inputs, dout, labels, targets, an
    optimizer's grads) are in a memfd sealed with F_SEAL_FUTURE_WRITE, mapped
    from a read-only descriptor: an in-place edit fails in the student's own
    frame (numpy's "assignment destination is read-only", or a segfault for a
    raw write) and reads "modified its input in place", as expect_untouched
    words it. What the contract writes in place (numerical_gradient's x, the
    params of a step, arrays put() on the worker's side) is in shared memory
    both sides write, and this process reads the change itself
    (last_mutations, fetch). The worker reports no side effect; a reply it
    forges or garbles (bad JSON, lengths, dtypes, markers, error reports) ends
    it with a protocol error, never as the student's own exception;
  - with isolation "namespaces" (as root, as on the grading machines and in
    Gradescope's containers; or without root where the kernel lets a user make a
    user namespace, as on most JupyterHubs and laptops): no network (empty network
    namespace); a read-only root built from an
    allow-list (grader/sandbox_worker.py: View): shared libraries, the standard
    library, the allowed packages, the worker's runtime files and the submission
    copy only, so solutions/, grader/hidden, the oracles, other submissions,
    gradebooks and results files do not exist for it, however the kit is
    installed; a private /proc; a small tmpfs as working directory; no_new_privs,
    its own empty session keyring and no keyring, mount, root or namespace calls
    (nothing it leaves reaches the next submission, nothing changes its view); as
    root an unprivileged random uid, without root the grading user's own uid with
    every capability of its user namespace dropped (it can still only write its
    working directory: everything else it sees is mounted read-only).

Not protected
  - with isolation "basic" (no namespaces, e.g. a container that refuses user
    namespaces, or macOS): limits, process cleanup and the trusted verdict
    still hold, but the worker sees the file system and the network as the
    grading user does (as root it still drops to a private uid, unless the
    Python installation is readable only by root, e.g. pyenv under /root);
    grade where solutions/ is absent (the Gradescope bundle ships none).
    `SandboxTarget.isolation` says which mode ran;
  - a submission reading the grader functions it is handed by name
    (grader.checks.handed) or the inputs it is sent;
  - on older kernels, less of the above: below Linux 5.1 (no F_SEAL_FUTURE_WRITE)
    inputs are still mapped read-only from a read-only descriptor and compared
    here after every call ("read-only"); without memfd (before 3.17) they are
    read-only numpy views of the worker's own copy ("copies"): numpy writes
    still fail, but a deliberate raw write (ctypes) edits that copy unseen, and
    what numerical_gradient does to x is not seen. A process can always remap
    its own address space; what it then edits is its own copy, which no
    verdict reads. What a worker says about its own objects (the keys of a
    dict, an attribute) is what it reports;
  - side channels such as timing, and kernel exploits.
"""

import argparse
import array
import atexit
import builtins
import contextlib
import fcntl
import itertools
import json
import math
import mmap
import os
import re
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import types
import warnings
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .expected import RecordedDataError, oracles_present
from .results import CheckResult, CheckTimeout, run_check
from .spawner import SpawnError, spawn_worker, spawner
from .target import (
    EARLIER_INPUT,
    READ_ONLY_ERROR,
    Ref,
    Rng,
    TargetError,
    input_written,
    plain,
    written_in_place,
)

HEADER = struct.Struct(">I")
NUMERIC_DTYPE = re.compile(r"[<>|=]?[biufc][1-9][0-9]?")
PIPE_BYTES = 1 << 20
CALLABLE_MODULES = ("grader.checks.handed",)  # grader callables that may be handed to student code, by name
SIGNAL_REASONS = {
    signal.SIGXCPU: "used up its CPU time limit",
    signal.SIGXFSZ: "wrote a file larger than the limit",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGKILL: "was killed (out of memory?)",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process. Times in seconds, sizes in bytes.

    check_seconds, if set, replaces every check's own time limit (e.g. short limits in tests).
    isolation: None picks the strongest available ("namespaces" or "basic").
    """

    memory_bytes: int = 2 * 1024**3
    cpu_seconds: int = 300
    processes: int = 32
    file_bytes: int = 16 * 1024**2
    open_files: int = 256
    workdir_bytes: int = 64 * 1024**2
    submission_bytes: int = 20 * 1024**2
    reply_bytes: int = 16 * 1024**2
    import_seconds: float = 20.0
    call_seconds: float = 60.0
    check_seconds: float | None = None
    max_restarts: int = 30
    isolation: str | None = None


class WorkerFailure(TargetError):
    """The worker ended, broke the protocol or could not start; the message says why, for the student."""


class _Deadline(Exception):
    """A read or write on the worker's pipes ran out of time."""


def current_cpu():
    """The CPU this process is running on now (Linux), or None."""
    try:
        with open("/proc/self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])  # field 39, "processor"
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def on_one_cpu():
    """Hold this process (and the workers it starts, which take its CPUs) to one CPU while grading.

    A grading process and its worker take turns, so they lose nothing by sharing a CPU, and
    each request then costs half: a reply that wakes a process on another CPU is expensive,
    most of all on virtual machines. A process already held to one CPU (a batch job) keeps it.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):  # not Linux
        yield
        return
    cpu = current_cpu()
    chosen = {cpu if cpu in allowed else min(allowed)}
    if len(allowed) == 1 or not _set_affinity(chosen):
        yield
        return
    try:
        yield
    finally:
        _set_affinity(allowed)


def _set_affinity(cpus):
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return False
    return True


def available_isolation():
    """ "namespaces" if workers may enter Linux namespaces (as root, or in a user namespace), else "basic"."""
    return "namespaces" if spawner().namespaces else "basic"


def describe_exit(returncode):
    """Why a worker ended, in words a student understands."""
    if returncode is None:
        return "stopped answering"
    if returncode >= 0:
        return f"ended the grading process (exit code {returncode})"
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"was killed by signal {-returncode}"
    return SIGNAL_REASONS.get(sig, f"was killed by signal {sig.name}")


# ----------------------------------------------------------------------------- values
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


# ----------------------------------------------------------------------------- shared inputs
F_SEAL_FUTURE_WRITE = 0x0010  # Linux >= 5.1 (not in Python's fcntl module)
ARENA_BYTES = 1 << 20
ALIGN = 64


class _Arena:
    """Shared memory (a memfd) that inputs are placed in, each once: never reused while it lives.

    "ro": sealed with F_SEAL_FUTURE_WRITE, so after this process has written an input through
    its own mapping nobody can write it any more, and the worker gets a read-only descriptor
    (its mapping cannot be made writable). On kernels without that seal the read-only descriptor
    remains, and the inputs are compared after every call. "rw": both sides map it writable and
    this side reads what student code did to it.
    """

    def __init__(self, key, kind, size):
        self.key, self.kind, self.size, self.used = key, kind, size, 0
        fd = os.memfd_create(f"nnkit-{kind}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        self.fd = None  # the worker's descriptor, until it is sent
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
            self.sealed = False
            if kind == "ro":
                try:
                    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals | F_SEAL_FUTURE_WRITE)
                    self.sealed = True
                except OSError:  # Linux < 5.1
                    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
                self.fd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
            else:
                fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
                self.fd, fd = fd, None
        finally:
            if fd is not None:
                os.close(fd)

    def place(self, data):
        """Copy `data` in; its offset, or None when the arena is full."""
        offset = -(-self.used // ALIGN) * ALIGN
        if offset + len(data) > self.size:
            return None
        self.map[offset : offset + len(data)] = data
        self.used = offset + len(data)
        return offset

    def read(self, offset, n):
        return self.map[offset : offset + n]

    def sent(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self.sent()


_SHARED = None


def shared_inputs():
    """How inputs reach a worker here: "sealed" (a sealed memfd, Linux >= 5.1), "read-only" (a
    read-only mapping of a memfd, compared after each call) or "copies" (no memfd: read-only
    numpy views of the worker's own copy)."""
    global _SHARED
    if _SHARED is None:
        try:
            _SHARED = "sealed" if _Arena(-1, "ro", mmap.PAGESIZE).sealed else "read-only"
        except (AttributeError, OSError):
            _SHARED = "copies"
    return _SHARED


def _snapshot(value):
    """`value` with its lists, tuples, dicts and arrays copied (as put() keeps it until it is sent)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def _unique(names):
    return list(dict.fromkeys(names))


_LIVE = weakref.WeakSet()  # targets not yet closed: their workers are killed and directories removed at exit


@atexit.register
def _close_all():
    for target in list(_LIVE):
        with contextlib.suppress(Exception):
            target.close()


class SandboxTarget:
    """The target interface of grader.target.InProcessTarget, answered by a sandboxed worker process.

    Args:
        impl_dir: the submission, a directory laid out like exercises/.
        limits: Limits for the worker.
        label: how reports name it (default: the directory's name).
    """

    def __init__(self, impl_dir, limits=None, label=None):
        self.impl_dir = Path(impl_dir).resolve()
        self.origin = self.impl_dir
        self.label = label or self.impl_dir.name
        self.limits = limits or Limits()
        self.isolation = self.limits.isolation or available_isolation()
        self.last_mutations = []  # array arguments the last call wrote, as this process saw it
        self.input_memory = shared_inputs()
        self.names, self.signatures, self.import_errors = set(), {}, {}
        self.restarts = 0
        self.crashes = 0  # calls during which the worker ended, hung or broke the protocol
        self.timings = {"start": [], "stop": []}
        self._cpu_done, self._cpu_now = 0.0, 0.0  # CPU seconds the worker reported (benchmarks only)
        self._keys = itertools.count()
        self._seq = itertools.count()
        self._proc = self._dir = None
        self._failure = None  # why the current worker cannot answer (it died, hung, ...)
        self._busy = False
        self._deadline = None
        self._reset = False
        self._stores = []  # (key, encoded value, blobs) or (key, container, None) put() and not yet sent
        self._ro_refs = None  # while a call is encoded: {store key: argument name} of its read-only inputs
        self._arena_keys = itertools.count()
        self._reset_arenas()
        self._hello_failed = False
        _LIVE.add(self)
        try:
            self._prepare()
            self.start()
        except BaseException:
            self.close()
            raise

    # -- the worker's life ------------------------------------------------------------
    def _prepare(self):
        """A private directory with the runtime and a copy of the submission."""
        # inside the fork server's directory, which it removes if this process dies uncleanly
        self._dir = Path(tempfile.mkdtemp(prefix="nn-sandbox-", dir=spawner().targets))
        os.chmod(self._dir, 0o711)
        submission = self._dir / "submission"
        if not (self.impl_dir / "__init__.py").is_file():
            submission.mkdir()
            self._hello_failed = True
            self.import_errors = {"__init__": f"{self.impl_dir.name} has no __init__.py"}
        else:
            self._copy_submission(submission)
        (self._dir / "root").mkdir()
        (self._dir / "work").mkdir()
        os.chmod(submission, 0o755)

    def _copy_submission(self, dest):
        total = 0

        def ignore(folder, names):
            nonlocal total
            skipped = {n for n in names if n in ("__pycache__", ".git", ".ipynb_checkpoints")}
            for name in names:
                path = Path(folder, name)
                if name not in skipped and path.is_file() and not path.is_symlink():
                    total += path.stat().st_size
            if total > self.limits.submission_bytes:
                raise OSError(f"the submission is larger than {self.limits.submission_bytes >> 20} MB")
            return skipped

        try:
            shutil.copytree(self.impl_dir, dest, symlinks=True, ignore=ignore)
        except (OSError, shutil.Error) as error:
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            self._hello_failed = True
            self.import_errors = {"__init__": f"could not read the submission: {error}"}
        for path in [dest, *dest.rglob("*")]:
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)

    def start(self):
        """Start a worker, import the submission in it and read what it exports."""
        if self._hello_failed:
            self._failure = "importing your code failed: " + "; ".join(self.import_errors.values())
            return
        started = time.perf_counter()
        req_sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)  # requests carry fds
        req_r = theirs.detach()
        rep_r, rep_w = os.pipe()
        with contextlib.suppress(OSError):  # large arrays in few chunks
            fcntl.fcntl(rep_w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        uid = 200000 + secrets.randbelow(100000) if os.geteuid() == 0 else 0
        config = {"dir": str(self._dir), "mode": self.isolation, "uid": uid, "limits": asdict(self.limits)}
        with contextlib.suppress(AttributeError, OSError):  # the worker runs where this process may
            config["cpus"] = sorted(os.sched_getaffinity(0))
        if uid:
            os.chown(self._dir / "work", uid, uid)
        try:
            self._proc = spawn_worker(config, req_r, rep_w)
        except SpawnError:
            req_sock.close()
            os.close(rep_r)
            raise
        finally:
            os.close(req_r)
            os.close(rep_w)
        self._req_sock, self._req, self._rep = req_sock, req_sock.fileno(), rep_r
        self._buffer = bytearray()
        self._reset_arenas()  # a new worker has none of the last one's shared memory
        os.set_blocking(self._req, False)
        self._failure, self._busy = None, True
        try:
            hello, _ = self._read_reply(time.monotonic() + self.limits.import_seconds)
        except _Deadline:
            self._kill()
            self._import_failed(
                f"importing your code did not finish within {self.limits.import_seconds:g} s "
                "(an infinite loop at import time?)"
            )
            return
        except WorkerFailure as failure:
            self._import_failed(f"{failure} while being imported")
            return
        finally:
            self._busy = False
        if "setup_error" in hello:
            self._kill()
            raise RuntimeError(f"the sandbox could not start:\n{hello['setup_error']}")
        try:
            self._read_hello(hello)
        except WorkerFailure as failure:
            self._kill()
            self._import_failed(str(failure))
            return
        self.timings["start"].append(time.perf_counter() - started)

    def _import_failed(self, reason):
        self._hello_failed = True
        self.names, self.signatures = set(), {}
        self.import_errors = {"__init__": reason}
        self._failure = reason

    def _read_hello(self, hello):
        names = hello.get("names")
        params = hello.get("parameters")
        errors = hello.get("import_errors")
        if not (isinstance(names, list) and isinstance(params, dict) and isinstance(errors, dict)):
            raise WorkerFailure("your code broke the grading protocol while being imported")
        self.names = {str(n) for n in names[:10000]}
        self.signatures = {
            str(k): [str(p) for p in v[:100]] if isinstance(v, list) else None for k, v in params.items()
        }
        self.import_errors = {str(k)[:200]: str(v)[:4000] for k, v in list(errors.items())[:100]}

    @property
    def worker_cpu_seconds(self):
        """CPU time the workers reported using (self-reported: for benchmarks, not for grading)."""
        return self._cpu_done + self._cpu_now

    def _kill(self):
        """Kill the worker's whole process group (and with it its pid namespace)."""
        if self._proc is None:
            return
        self._cpu_done, self._cpu_now = self._cpu_done + self._cpu_now, 0.0
        started = time.perf_counter()
        self._proc.kill()
        self._req_sock.close()
        with contextlib.suppress(OSError):
            os.close(self._rep)
        self._proc = None
        self.timings["stop"].append(time.perf_counter() - started)

    def restart(self):
        """A fresh worker after a crash or timeout (objects of the last check are gone)."""
        self._kill()
        if self._hello_failed:
            return
        self.restarts += 1
        if self.restarts > self.limits.max_restarts:
            self._failure = (
                f"your code ended or hung the grading process more than {self.limits.max_restarts} times"
            )
            return
        self.start()

    @property
    def failure(self):
        """Why the current worker cannot answer, or None."""
        return self._failure

    @property
    def needs_restart(self):
        return (
            self._proc is not None
            and (self._busy or self._failure is not None)
            or (self._proc is None and self._failure is not None and not self._hello_failed)
        )

    def begin_check(self, seconds):
        """Before a check: a working worker with an empty object table; calls end by `seconds` from now."""
        if self.needs_restart:
            self.restart()
        self._deadline = time.monotonic() + seconds + 0.5 if seconds else None
        self._reset = True  # sent with the check's first request: forget the last check's objects
        self._stores = []
        self._stored_shared = {}
        self._ro_sent = False

    def close(self):
        self._kill()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    # -- the wire ---------------------------------------------------------------------------
    def _write(self, data, deadline, fds=()):
        """Send a request; `fds` travel with its first byte."""
        view = memoryview(data)
        while view:
            try:
                if fds:
                    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                    sent, fds = self._req_sock.sendmsg([view], rights, socket.MSG_NOSIGNAL), ()
                else:
                    sent = os.write(self._req, view)
                view = view[sent:]
                continue
            except BlockingIOError:
                pass
            except OSError as error:  # the worker closed its end: it has ended
                raise EOFError from error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline
            select.select([], [self._req], [], remaining)

    def _read_exact(self, n, deadline):
        """n bytes from the worker, reading ahead into a buffer; waits at most until `deadline`."""
        while len(self._buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline
            readable, _, _ = select.select([self._rep], [], [], remaining)
            if readable:
                chunk = os.read(self._rep, max(n - len(self._buffer), 1 << 16))
                if not chunk:
                    raise EOFError
                self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _read_reply(self, deadline):
        """One reply frame, size-checked; a dead worker or garbage raises WorkerFailure."""
        cap = self.limits.reply_bytes
        try:
            (size,) = HEADER.unpack(self._read_exact(HEADER.size, deadline))
            if size > cap:
                raise WorkerFailure(f"your code sent a reply larger than {cap >> 20} MB")
            header = json.loads(self._read_exact(size, deadline))
            sizes = header.get("blobs", []) if isinstance(header, dict) else None
            if not (isinstance(sizes, list) and all(type(n) is int and n >= 0 for n in sizes)):
                raise WorkerFailure("your code broke the grading protocol (a malformed reply)")
            if sum(sizes) + size > cap:
                raise WorkerFailure(f"your code sent a reply larger than {cap >> 20} MB")
            blobs = [self._read_exact(n, deadline) for n in sizes]
        except EOFError:
            self._failure = describe_exit(self._wait_exit())
            self._kill()
            raise WorkerFailure(f"your code {self._failure}") from None
        except (ValueError, RecursionError) as error:
            self._kill()
            raise WorkerFailure(f"your code broke the grading protocol ({type(error).__name__})") from None
        except WorkerFailure:
            self._kill()
            raise
        return header, blobs

    def _wait_exit(self):
        try:
            return self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def _request(self, request, blobs=(), what="a call", call=None):
        """Send one request and return the reply header and blobs; re-raise student exceptions here.

        call: (the callee's name for messages, the inputs placed in shared memory: [(argument
        name, kind, arena, offset, bytes)], {key: argument name} of stored containers it takes as
        read-only inputs); this side then judges what the call did to its inputs.
        """
        if self._failure is not None:
            raise WorkerFailure(f"{self._failure_text()} (earlier in this check)")
        now = time.monotonic()
        deadline = now + self.limits.call_seconds
        check_deadline = self._deadline is not None and self._deadline < deadline
        deadline = min(deadline, self._deadline) if self._deadline is not None else deadline
        seq = next(self._seq)
        if self._reset:
            request, self._reset = dict(request, reset=True), False
        if self._stores:  # values put() since the last request travel with this one
            stored, blobs = [], list(blobs)
            _, inputs, ro_refs = call or (None, None, {})
            for key, wire, store_blobs in self._stores:
                if store_blobs is None:  # a container: read-only if this call takes it as an input
                    name = ro_refs.get(key)
                    wire = self._to_wire(wire, blobs, "ro" if name else None, inputs, name)
                else:
                    wire = _shift_arrays(wire, len(blobs))
                    blobs += store_blobs
                stored.append([key, wire])
            request, self._stores = dict(request, store=stored), []
        arenas, self._new_arenas = self._new_arenas, []
        if arenas:  # shared memory made since the last request: its descriptors travel with this one
            request = dict(request, arenas=[[a.key, a.kind, a.size] for a in arenas])
        if self._retired:
            request, self._retired = dict(request, retire=self._retired), []
        invokes = request.get("op") in ("new", "call", "call_method")
        if invokes:
            self.last_mutations = []
        self._busy = True
        try:
            try:
                self._write(self._frame(dict(request, seq=seq), blobs), deadline, [a.fd for a in arenas])
            finally:
                for arena in arenas:
                    arena.sent()
            header, reply_blobs = self._read_reply(deadline)
        except _Deadline:
            self._failure = "stopped answering"
            self.crashes += 1
            self._kill()
            if check_deadline:
                raise CheckTimeout() from None
            raise WorkerFailure(
                f"your code did not finish {what} within {self.limits.call_seconds:g} s"
            ) from None
        except EOFError:
            self._failure = describe_exit(self._wait_exit())
            self.crashes += 1
            self._kill()
            raise WorkerFailure(f"your code {self._failure} during {what}") from None
        except WorkerFailure as failure:
            self._failure = self._failure or str(failure)
            self.crashes += 1
            raise WorkerFailure(f"{failure} during {what}") from None
        except (
            BaseException
        ):  # CheckTimeout from run_check's alarm, KeyboardInterrupt: the worker is mid-call
            self._failure = "stopped answering"
            self.crashes += 1
            self._kill()
            raise
        self._busy = False
        if header.get("seq") != seq:
            self._broken()
            raise WorkerFailure(f"your code broke the grading protocol during {what}")
        self._emit_warnings(header.get("warnings"))
        if type(header.get("cpu")) is float:
            self._cpu_now = header["cpu"]
        error = None
        if header.get("ok") is not True:
            error = self._decoded(what, remote_exception, header.get("error"), self.origin)
        if call is not None:
            self._judge_inputs(call[0], call[1], error, invokes)
        if error is not None:
            raise error
        return header, reply_blobs

    def _broken(self):
        """The worker broke the protocol: it cannot be trusted with another request."""
        self._failure = "broke the grading protocol"
        self.crashes += 1
        self._kill()

    def _decoded(self, what, decode, *args):
        """decode(*args) of a reply; whatever goes wrong there is the worker breaking the protocol."""
        try:
            return decode(*args)
        except WorkerFailure as failure:
            reason = str(failure)
        except Exception:  # noqa: BLE001 - any value the decoder cannot take
            reason = "your code broke the grading protocol (a malformed reply)"
        self._broken()
        raise WorkerFailure(f"{reason} during {what}")

    def _judge_inputs(self, callee, inputs, error, invoked=True):
        """After a call: what it did to its inputs, as this process sees them in shared memory.

        An input the contract lets it write ("rw") that changed goes into last_mutations; one it
        may not write ("ro") cannot change, and an attempt to write it fails in student code with
        numpy's read-only error: both read as "modified its input in place".
        """
        changed = {kind: [] for kind in ("ro", "rw")}
        for name, kind, arena, offset, data in inputs:
            if arena is not None and arena.read(offset, len(data)) != data:
                changed[kind].append(name)
        if invoked:
            self.last_mutations = _unique(changed["rw"])
        if changed["ro"]:  # only where the kernel has no write seal and something wrote anyway
            raise input_written(callee, _unique(changed["ro"]))
        if isinstance(error, ValueError) and self._ro_sent and READ_ONLY_ERROR.search(str(error)):
            names = _unique(name for name, kind, *_ in inputs if kind == "ro")
            raise input_written(callee, names or [EARLIER_INPUT], error, error.student_frames)

    def _failure_text(self):
        return (
            f"your code {self._failure}"
            if not self._failure.startswith(("your ", "importing"))
            else self._failure
        )

    def _frame(self, header, blobs):
        header = dict(header, blobs=[len(b) for b in blobs])
        data = json.dumps(header, separators=(",", ":")).encode()
        return b"".join([HEADER.pack(len(data)), data, *blobs])

    def _emit_warnings(self, caught):
        if not isinstance(caught, list):
            return
        for item in caught[:20]:
            if isinstance(item, list) and len(item) == 2:
                warnings.warn(str(item[1])[:4000], _warning_class(str(item[0])), stacklevel=4)

    # -- shared memory ----------------------------------------------------------------------
    def _reset_arenas(self):
        """Forget the shared memory of a worker that is gone (its arrays die with it)."""
        self._arenas = {"ro": None, "rw": None}
        self._new_arenas, self._retired = [], []
        self._stored_shared = {}  # put() key -> (arena, offset, bytes, dtype, shape) of a stored array
        self._ro_sent = False

    def _place(self, arr, kind, blobs):
        """Put an input array where the worker can read it; its marker and (arena, offset, bytes).

        kind "ro": the worker gets it read-only; "rw": it may write it and this side sees the change.
        """
        data = np.ascontiguousarray(arr).tobytes()
        if kind == "ro":
            self._ro_sent = True
        if self.input_memory == "copies":  # no memfd: a read-only view of the worker's own copy
            blobs.append(data)
            marker = {"$array": len(blobs) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape)}
            return (dict(marker, ro=True) if kind == "ro" else marker), None
        arena = self._arenas[kind]
        offset = arena.place(data) if arena is not None else None
        if offset is None:  # full: a fresh arena; the worker lets the old one go with its last array
            if arena is not None:
                self._retired.append(arena.key)
            arena = _Arena(next(self._arena_keys), kind, max(ARENA_BYTES, -(-len(data) // 4096) * 4096))
            self._arenas[kind] = arena
            self._new_arenas.append(arena)
            offset = arena.place(data)
        marker = {"$shared": arena.key, "offset": offset, "dtype": arr.dtype.str, "shape": list(arr.shape)}
        return marker, (arena, offset, data)

    def _to_wire(self, value, blobs, kind=None, inputs=None, name=None):
        """Encode a trusted value for the worker (arrays as raw bytes, grader callables by name).

        kind None: arrays travel in the request and the worker keeps its own copy (stored state);
        "ro" / "rw": the arguments of a call, placed in shared memory and listed in `inputs` as
        (name, kind, arena, offset, bytes), arena None without shared memory.
        """
        if isinstance(value, Ref):
            if value.target is not self:
                raise TargetError(f"{value!r} belongs to another target")
            if kind == "ro" and self._ro_refs is not None:
                self._ro_refs.setdefault(value.key, name)
            return {"$ref": value.key}
        if isinstance(value, Rng):
            return {"$rng": self._to_wire(value.seed, blobs)}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufc" or value.dtype.fields is not None:
                raise TypeError(f"cannot send an array of dtype {value.dtype} to the sandbox")
            if kind is None:
                blobs.append(np.ascontiguousarray(value).tobytes())
                return {"$array": len(blobs) - 1, "dtype": value.dtype.str, "shape": list(value.shape)}
            marker, placed = self._place(value, kind, blobs)
            if inputs is not None:
                inputs.append((name, kind, *(placed or (None, None, None))))
            return marker
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, bool | int | float | str):
            return value
        more = {"kind": kind, "inputs": inputs, "name": name}
        if type(value) is list:
            return [self._to_wire(v, blobs, **more) for v in value]
        if type(value) is tuple:
            return {"$tuple": [self._to_wire(v, blobs, **more) for v in value]}
        if type(value) is dict:
            return {
                "$dict": [
                    [self._to_wire(k, blobs), self._to_wire(v, blobs, **more)] for k, v in value.items()
                ]
            }
        module = getattr(value, "__module__", "") or ""
        if isinstance(value, types.FunctionType | type) and module.startswith(CALLABLE_MODULES):
            if "<" in value.__qualname__:
                raise TypeError(f"cannot send {value.__qualname__} to the sandbox: not a module-level name")
            return {"$fn": f"{module}:{value.__qualname__}"}
        cls = type(value)
        if cls.__module__.startswith(CALLABLE_MODULES) and hasattr(value, "__dict__"):
            return {
                "$obj": f"{cls.__module__}:{cls.__qualname__}",
                "state": self._to_wire(vars(value), blobs),
            }
        raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")

    def _from_wire(self, value, blobs, depth=0):
        """Decode a reply value; anything unexpected is a protocol error."""
        if depth > 100:
            raise WorkerFailure("your code sent a value nested too deeply")
        if value is None or type(value) in (bool, int, float):
            return value
        if type(value) is list:
            return [self._from_wire(v, blobs, depth + 1) for v in value]
        if type(value) is dict and "$array" in value:
            return _array_from_wire(value, blobs)
        if type(value) is dict and len(value) == 1:
            ((key, inner),) = value.items()
            if key == "$tuple" and type(inner) is list:
                return tuple(self._from_wire(v, blobs, depth + 1) for v in inner)
            if key == "$dict" and type(inner) is list:
                pairs = {}
                for pair in inner:
                    if not (type(pair) is list and len(pair) == 2 and type(pair[0]) is str):
                        raise WorkerFailure("your code broke the grading protocol (a malformed dict)")
                    pairs[pair[0]] = self._from_wire(pair[1], blobs, depth + 1)
                return pairs
            if key == "$opaque":
                return _opaque(inner)
            if key == "$badarray":
                return _bad_array(inner)
        raise WorkerFailure("your code broke the grading protocol (a malformed value)")

    def _encode(self, request, values, callee=None):
        """The request with `values` ((key, value) pairs) added in wire form, its blobs and, for the
        arguments of a call ("args", "kwargs"), the inputs placed in shared memory.

        An array argument reaches student code read-only unless the contract has `callee`
        write it in place (grader.target.written_in_place).
        """
        blobs, inputs, request = [], [], dict(request)
        self._ro_refs = ro_refs = {}
        for key, value in values:
            if key == "args":
                request[key] = [
                    self._to_wire(v, blobs, self._kind(callee, i), inputs, f"argument {i + 1}")
                    for i, v in enumerate(value)
                ]
            elif key == "kwargs":
                request[key] = {
                    str(k): self._to_wire(v, blobs, self._kind(callee, k), inputs, str(k))
                    for k, v in value.items()
                }
            else:
                request[key] = self._to_wire(value, blobs)
        self._ro_refs = None
        return request, blobs, (inputs, ro_refs)

    @staticmethod
    def _kind(callee, where):
        return "rw" if written_in_place(callee, where) else "ro"

    def _call(self, request, values=(), what="a call", label="value", want="value", callee=None):
        request, blobs, (inputs, ro_refs) = self._encode(request, values, callee)
        keep = None
        if want == "ref":
            keep = next(self._keys)
            request["keep"] = keep
        else:
            request["want"] = want
        header, reply_blobs = self._request(
            request, blobs, what, (label.removesuffix("(...)"), inputs, ro_refs)
        )
        if keep is not None:
            return Ref(self, keep, label)
        if want != "value":
            return None
        return plain(self._decoded(what, self._from_wire, header.get("value"), reply_blobs), label)

    # -- the target interface ---------------------------------------------------------------
    def has(self, name):
        return name in self.names

    def parameters(self, name):
        if name not in self.names:
            raise KeyError(name)
        return self.signatures.get(name)

    def new(self, name, *args, **kwargs):
        if name not in self.names:
            raise KeyError(name)
        values = [("args", list(args)), ("kwargs", kwargs)]
        return self._call({"op": "new", "name": name}, values, f"{name}(...)", name, want="ref", callee=name)

    def new_filled(self, name, args, kwargs, attr, values):
        """new() and fill_arrays(obj.<attr>, values) in one round trip; (Ref, keys, shapes)."""
        if name not in self.names:
            raise KeyError(name)
        request = {"op": "new", "name": name, "keep": next(self._keys)}
        request, blobs, (inputs, ro_refs) = self._encode(
            request, [("args", list(args)), ("kwargs", kwargs)], name
        )
        request["fill"] = {"attr": str(attr), "values": self._to_wire(dict(values), blobs)}
        what = f"{name}(...)"
        header, _ = self._request(request, blobs, what, (name, inputs, ro_refs))
        filled = self._decoded(what, _fill_report, header.get("filled"), values)
        return (Ref(self, request["keep"], name), *filled)

    def call(self, name, *args, **kwargs):
        if name not in self.names:
            raise KeyError(name)
        values = [("args", list(args)), ("kwargs", kwargs)]
        return self._call({"op": "call", "name": name}, values, f"{name}(...)", f"{name}(...)", callee=name)

    def put(self, value, label="value"):
        """Store a value on the worker's side. It only runs the grader's own code there, so it
        waits for the next request instead of taking a round trip of its own.

        An array is stored in shared memory, so fetch() reads it here: what student code did to it
        is seen, not reported. A list, tuple or dict is sent with the next request, its arrays
        read-only if that request is a call that takes it as an input the contract does not let
        it write (the grads of an optimizer's step), else as the worker's own copies."""
        blobs = []
        key = next(self._keys)
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc" and self.input_memory != "copies":
            wire, (arena, offset, data) = self._place(value, "rw", blobs)
            self._stored_shared[key] = (arena, offset, data, value.dtype, value.shape)
        elif type(value) in (list, tuple, dict):
            wire, blobs = _snapshot(value), None
        else:
            wire = self._to_wire(value, blobs)
        self._stores.append((key, wire, blobs))
        return Ref(self, key, label)

    def call_method(self, ref, method, args, kwargs, want):
        label = f"{ref.label}.{method}(...)"
        request = {"op": "call_method", "ref": ref.key, "method": str(method)}
        values = [("args", list(args)), ("kwargs", dict(kwargs))]
        return self._call(request, values, f"{ref.label}.{method}", label, want=want, callee=str(method))

    def get_attr(self, ref, attr, want):
        request = {"op": "get_attr", "ref": ref.key, "attr": str(attr)}
        return self._call(request, (), f"reading {ref.label}.{attr}", f"{ref.label}.{attr}", want=want)

    def set_attr(self, ref, attr, value):
        request = {"op": "set_attr", "ref": ref.key, "attr": str(attr)}
        self._call(request, [("value", value)], f"setting {ref.label}.{attr}", want="none")

    def has_attr(self, ref, attr):
        request = {"op": "has_attr", "ref": ref.key, "attr": str(attr)}
        value = self._call(request, (), f"hasattr({ref.label}, {attr!r})")
        if not isinstance(value, bool):
            self._broken()
            raise WorkerFailure("your code broke the grading protocol (hasattr is not a bool)")
        return value

    def fetch(self, ref):
        stored = self._stored_shared.get(ref.key) if ref.target is self else None
        if stored is not None:  # an array put() in shared memory: read here, not asked for
            if self._failure is not None:
                raise WorkerFailure(f"{self._failure_text()} (earlier in this check)")
            arena, offset, data, dtype, shape = stored
            return plain(np.frombuffer(arena.read(offset, len(data)), dtype).reshape(shape), ref.label)
        return self._call({"op": "fetch", "ref": ref.key}, (), f"reading {ref.label}", ref.label)


# ----------------------------------------------------------------------------- grading
def select_checks(checks=None):
    """Every registered check, or those named by id ("Affine.forward") or exercise ("Affine")."""
    from .registry import all_checks

    everything = all_checks()
    if checks is None:
        return everything
    chosen = []
    for item in checks:
        if isinstance(item, str):
            matched = [c for c in everything if item in (c.id, c.exercise)]
            if not matched:
                raise ValueError(f"no check or exercise named {item!r}")
            chosen += [c for c in matched if c not in chosen]
        elif item not in chosen:
            chosen.append(item)
    return chosen


@contextlib.contextmanager
def grading_seed(seed):
    """Set the grader's data seed for the block (the per-run secret when batch grading)."""
    from .checks import common

    previous = common.SEED
    common.SEED = seed
    try:
        yield
    finally:
        common.SEED = previous


def common_seed():
    """The data seed of the public checks (a kit recorded its expectations with it)."""
    from .checks import common

    return common.SEED


def _failed(check, entry, status, message):
    return CheckResult(
        check.id, check.exercise, status, 0.0, entry.points, message, visibility=entry.visibility
    )


def grade_isolated(impl_dir, checks=None, rubric=None, seed=None, limits=None, target_out=None):
    """Grade the submission in `impl_dir` in a sandboxed worker; return a CheckResult per check.

    checks: None for all, or check objects / ids / exercise names. rubric: {id: RubricEntry}
    (default grader/rubric.toml). seed: the data seed (None: a fresh secret one for this run).
    limits: Limits. target_out: a list that receives the SandboxTarget (for timings), if given.
    Never raises because of what the submission does.
    """
    from .registry import RubricEntry, load_rubric

    rubric = load_rubric() if rubric is None else rubric
    chosen = select_checks(checks)
    if checks is None:  # a kit's rubric lists only the exercises it hands out
        chosen = [c for c in chosen if c.id in rubric]
    limits = limits or Limits()
    if seed is None:  # a student kit's recorded expectations hold for its public inputs only
        seed = secrets.randbits(32) if oracles_present() else common_seed()
    results = []
    with grading_seed(seed), on_one_cpu():
        try:
            target = SandboxTarget(impl_dir, limits)
        except Exception as error:  # noqa: BLE001 - the sandbox itself could not start
            reason = f"the submission could not be graded: {error}"
            return [_failed(c, rubric.get(c.id, RubricEntry(1.0)), "error", reason) for c in chosen]
        if target_out is not None:
            target_out.append(target)
        try:
            for check in chosen:
                entry = rubric.get(check.id, RubricEntry(1.0))
                seconds = limits.check_seconds or check.timeout
                try:
                    target.begin_check(seconds)
                except Exception:  # noqa: BLE001 - the check then reports the worker's failure
                    pass
                crashes = target.crashes
                result = run_check(check, target, entry.points, entry.visibility, timeout=seconds)
                if target.crashes > crashes and result.status == "failed":
                    result.status = "error"  # the worker ended or broke the protocol: not a wrong answer
                results.append(result)
        finally:
            target.close()
    return results


def main(argv=None):
    from .report import gradescope_results, summary_table, write_json_atomic

    parser = argparse.ArgumentParser(
        prog="python -m grader.sandbox",
        description="Grade one implementation directory in a sandboxed worker process and print the score table.",
    )
    parser.add_argument("--impl", required=True, help="implementation directory (laid out like exercises/)")
    parser.add_argument("--json", dest="results_json", help="write Gradescope's results.json here")
    parser.add_argument("--seed", type=int, help="data seed (default: a fresh secret one)")
    parser.add_argument("-m", "--exercise", action="append", help="grade only this exercise or check id")
    args = parser.parse_args(argv)
    impl = Path(args.impl)
    if not (impl / "__init__.py").is_file():
        parser.error(f"--impl {impl}: not an implementation directory (it needs an __init__.py)")
    try:
        checks = select_checks(args.exercise) if args.exercise else None
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    try:
        results = grade_isolated(impl, checks=checks, seed=args.seed)
    except RecordedDataError as error:
        parser.exit(4, f"{parser.prog}: cannot grade: {error}\n")
    print(f"implementation: {impl} (sandboxed)")
    print(summary_table(results))
    if args.results_json:
        write_json_atomic(args.results_json, gradescope_results(results, time.perf_counter() - started))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
