"""The fork server and a worker's start.

Started by grader.sandbox (spawn.py), never by hand. The fork server,

    python -I -c "<bootstrap>" <runtime directory> <socket fd>

imports numpy and the worker once, then forks one worker per request (much
faster than starting Python for every submission). Each fork becomes a session
leader, enters new namespaces if asked, and runs the worker in its own child,
whose exit status it reports on a pipe.

The worker shuts itself in (shut_in), imports the submission and answers requests (loop.py).
"""

import contextlib
import gc
import importlib
import itertools
import json
import os
import shutil
import signal
import socket
import struct
import sys
import traceback

from .confine import (
    NAMESPACES,
    can_unshare,
    drop_capabilities,
    drop_privileges,
    enter_user_namespace,
    join_new_session_keyring,
    set_limits,
)
from .loop import Worker
from .processes import (
    can_limit,
    cgroup_parent,
    kill_descendants,
    kill_namespace,
    make_cgroup,
    remove_cgroups,
    remove_stale_cgroups,
)
from .root import build_root
from .seccomp import can_filter, install_filter
from .syscalls import (
    PR_SET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    prctl,
    unshare,
    wait_status,
    write_text,
)
from .view import View, readable_by_anyone, restrict_imports
from .wire import MAX_TEXT, encode_frame, write_all

PRELOAD = ("numpy.random", "grader.target", "grader.checks.handed")  # imported once, in the fork server
VIEW = None  # the View, made once by the fork server


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
