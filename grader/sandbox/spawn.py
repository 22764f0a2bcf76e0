"""Starting sandbox workers fast: a fork server that has imported numpy and the worker once.

    process = spawner().spawn(config, req_fd, rep_fd)   # a WorkerProcess
    process.kill()

Starting Python and importing numpy takes a few tenths of a second; forking a process
that already did takes a few milliseconds. The fork server is started by this process
(one per grading process, re-made after a fork), holds no secret (it only ever sees the
runtime files and worker configs) and dies with this process. It says what isolation
works here: `namespaces`, `cgroup` (a cgroup v2 per worker, under NNKIT_CGROUP or a
cgroup of ours that delegates memory and pids) and `filter` (the seccomp filter).
"""

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parent.parent
# The grader files the worker needs (relative to grader/): the worker (sandbox/worker/), load_impl,
# and the module that defines the callables checks hand to student code (it imports only
# numpy). No check is copied, and nothing of the sandbox's trusted side: grader.checks and
# grader.sandbox get an __init__.py of their own (_copy_runtime).
RUNTIME_FILES = (
    "__init__.py",
    "sandbox/worker/__init__.py",
    "sandbox/worker/confine.py",
    "sandbox/worker/loop.py",
    "sandbox/worker/processes.py",
    "sandbox/worker/root.py",
    "sandbox/worker/seccomp.py",
    "sandbox/worker/server.py",
    "sandbox/worker/syscalls.py",
    "sandbox/worker/view.py",
    "sandbox/worker/wire.py",
    "target.py",
    "checks/handed.py",
)
BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from grader.sandbox.worker.server import serve_forks; serve_forks(int(sys.argv[2]), sys.argv[3])"
)
STATUS = struct.Struct(">i")
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class SpawnError(RuntimeError):
    """The fork server could not start or could not start a worker."""


class WorkerProcess:
    """A worker started by the fork server: its pid (also its process group) and exit code.

    Mirrors the part of subprocess.Popen the sandbox uses: pid, wait(timeout), returncode.
    """

    def __init__(self, pid, status_fd):
        self.pid, self._status_fd, self.returncode = pid, status_fd, None

    def wait(self, timeout=None):
        """The worker's exit code (negative: killed by that signal); TimeoutExpired if still running."""
        if self._status_fd is None:
            return self.returncode
        readable, _, _ = select.select([self._status_fd], [], [], timeout)
        if not readable:
            raise subprocess.TimeoutExpired("sandbox worker", timeout)
        data = os.read(self._status_fd, STATUS.size)
        # no status at all: the reporting process itself was killed, which only a kill does
        self.returncode = STATUS.unpack(data)[0] if len(data) == STATUS.size else -signal.SIGKILL
        os.close(self._status_fd)
        self._status_fd = None
        return self.returncode

    def kill(self, timeout=5):
        """Kill the worker's whole process group (and with it its pid namespace), then reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout)
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None


class Spawner:
    """The fork server process and the socket to it."""

    def __init__(self, start_seconds=60):
        self.owner = os.getpid()
        self.dir = Path(tempfile.mkdtemp(prefix="nn-forkserver-"))
        self.runtime = self.dir / "runtime"
        self.targets = self.dir / "targets"  # the sandboxes' own directories (see SandboxTarget)
        self._lock = threading.Lock()
        self.proc = None
        try:
            self._copy_runtime()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with theirs:
                env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **dict.fromkeys(THREAD_VARIABLES, "1")}
                if os.environ.get("NNKIT_CGROUP"):  # a cgroup v2 directory the host delegated to the grader
                    env["NNKIT_CGROUP"] = os.environ["NNKIT_CGROUP"]
                command = [
                    sys.executable,
                    "-I",
                    "-c",
                    BOOTSTRAP,
                    str(self.runtime),
                    str(theirs.fileno()),
                    str(self.dir),
                ]
                self.proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),),
                    env=env,
                    cwd=self.dir,
                    start_new_session=True,
                )
            self.sock = ours
            self.sock.settimeout(start_seconds)
            try:
                hello = json.loads(self.sock.recv(4096) or b"null")
            except (OSError, ValueError) as error:
                raise SpawnError(f"the sandbox fork server did not start: {error}") from None
            if not isinstance(hello, dict):
                raise SpawnError("the sandbox fork server did not start (no hello)")
            self.namespaces = bool(hello.get("namespaces"))
            self.cgroup = bool(hello.get("cgroup"))  # each worker in a cgroup: memory and processes summed
            self.filter = bool(
                hello.get("filter")
            )  # the seccomp filter: no keyrings; no children without a cgroup
        except BaseException:
            self.close()
            raise

    def _copy_runtime(self):
        package = self.runtime / "grader"
        for rel in RUNTIME_FILES:
            (package / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(GRADER_DIR / rel, package / rel)
        (self.runtime / "grader" / "checks" / "__init__.py").write_text(
            '"""The grader callables a submission may be handed."""\n'
        )
        (self.runtime / "grader" / "sandbox" / "__init__.py").write_text(
            '"""The sandbox\'s worker (worker/); its trusted side is not in the worker\'s view."""\n'
        )
        for path in [self.dir, *self.dir.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        self.targets.mkdir(mode=0o711)

    @property
    def alive(self):
        return self.owner == os.getpid() and self.proc is not None and self.proc.poll() is None

    def spawn(self, config, req_fd, rep_fd, timeout=30):
        """Start a worker with this config, talking on req_fd/rep_fd (the worker's ends)."""
        status_r, status_w = os.pipe()
        config = dict(config, runtime=str(self.runtime))
        try:
            with self._lock:
                self.sock.settimeout(timeout)
                socket.send_fds(self.sock, [json.dumps(config).encode()], [req_fd, rep_fd, status_w])
                answer = json.loads(self.sock.recv(4096) or b"null")
        except (OSError, ValueError) as error:
            os.close(status_r)
            self.close()  # a late answer would be read as the next one's: never use it again
            raise SpawnError(f"the sandbox fork server failed: {error}") from None
        finally:
            os.close(status_w)
        if not (isinstance(answer, dict) and type(answer.get("pid")) is int):
            os.close(status_r)
            reason = answer.get("error") if isinstance(answer, dict) else "no answer"
            raise SpawnError(f"the sandbox fork server could not start a worker: {reason}")
        return WorkerProcess(answer["pid"], status_r)

    def close(self):
        """Stop the fork server (only from the process that started it) and remove its files."""
        if self.owner != os.getpid():
            return
        with contextlib.suppress(AttributeError, OSError):
            self.sock.close()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        shutil.rmtree(self.runtime, ignore_errors=True)
        with contextlib.suppress(OSError):  # sandboxes still open remove their own directories
            self.targets.rmdir()
            self.dir.rmdir()


_SPAWNER = None
_SPAWNER_LOCK = threading.Lock()


def spawner():
    """This process's fork server, started on first use (and again if it died or we forked)."""
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None or not _SPAWNER.alive:
            if _SPAWNER is not None:
                _SPAWNER.close()
            _SPAWNER = Spawner()
        return _SPAWNER


def spawn_worker(config, req_fd, rep_fd):
    """Start a worker with this process's fork server (a new server if the last one died)."""
    try:
        return spawner().spawn(config, req_fd, rep_fd)
    except SpawnError:
        return spawner().spawn(config, req_fd, rep_fd)  # spawner() replaces a server that died


@atexit.register
def _close_spawner():
    if _SPAWNER is not None:
        _SPAWNER.close()
