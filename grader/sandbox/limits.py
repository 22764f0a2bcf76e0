"""Limits of a worker process; grading held to one CPU; which isolation works here."""

import contextlib
import os
from dataclasses import dataclass

from .spawn import spawner


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


BASIC_WARNING = (
    "warning: isolation basic (no user namespaces here): the code graded could read every file you can, "
    "solutions/ and the hidden checks included; grade where they are absent, or on Linux"
)


def available_isolation():
    """ "namespaces" if workers may enter Linux namespaces (as root, or in a user namespace), else "basic"."""
    return "namespaces" if spawner().namespaces else "basic"
