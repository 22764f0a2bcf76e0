"""A worker's life and the pipes to it: starting, reading, killing and restarting the worker.

WorkerChannel is the half of SandboxTarget that deals with the process: its directory, its
start through the fork server (spawn.py), its hello, framed requests and replies with
deadlines, and what to tell the student when it ends, hangs or breaks the protocol. Every
target still open is closed at exit.
"""

import array
import atexit
import contextlib
import fcntl
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
import weakref
from dataclasses import asdict
from pathlib import Path

from .spawn import SpawnError, spawn_worker, spawner
from .wire import HEADER, WorkerFailure, _warning_class

PIPE_BYTES = 1 << 20
SIGNAL_REASONS = {
    signal.SIGXCPU: "used up its CPU time limit",
    signal.SIGXFSZ: "wrote a file larger than the limit",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGKILL: "was killed (out of memory?)",
}


class _Deadline(Exception):
    """A read or write on the worker's pipes ran out of time."""


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


_LIVE = weakref.WeakSet()  # targets not yet closed: their workers are killed and directories removed at exit


@atexit.register
def _close_all():
    for target in list(_LIVE):
        with contextlib.suppress(Exception):
            target.close()


class WorkerChannel:
    """The worker process of a SandboxTarget and the pipes to it (SandboxTarget's base class).

    It prepares the sandbox's directory (a copy of the submission), starts a worker through the
    fork server, reads its hello (the submission's names, signatures and import errors), writes
    requests and reads size-checked replies under a deadline, and kills or restarts the worker
    that ended, hung or broke the protocol. SandboxTarget.__init__ sets up the state it uses.
    """

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

    # -- the pipes --------------------------------------------------------------------------
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
