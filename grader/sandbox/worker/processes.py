"""A worker's processes: a cgroup v2 per worker where the host delegates one (memory and process
count summed, killed whole on OOM), and killing every process a call left behind.
"""

import contextlib
import os
import re
import signal
import time

from .syscalls import wait_status, write_text

WALL = 0x40000000  # __WALL: also children made by clone() with another exit signal


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
