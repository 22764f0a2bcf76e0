"""The C library calls the os module lacks (mount, prctl, unshare), their flags, and two small helpers."""

import ctypes
import os

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
LIBC = ctypes.CDLL(None, use_errno=True)


def mount(source, target, fstype, flags, data=None):
    args = [None if a is None else str(a).encode() for a in (source, target, fstype)]
    if LIBC.mount(args[0], args[1], args[2], ctypes.c_ulong(flags), data and data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def prctl(option, value):
    LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


def unshare(flags):
    if LIBC.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def wait_status(pid):
    """The exit code of child `pid` as subprocess reports it (negative: killed by that signal)."""
    while True:
        try:
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except InterruptedError:
            continue
