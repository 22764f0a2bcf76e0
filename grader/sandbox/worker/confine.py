"""Shutting a worker in: new namespaces (in a user namespace of its own without root), no
capability left, an empty session keyring of its own, resource limits and an unprivileged uid.
"""

import ctypes
import errno
import os
import resource
import sys

from .root import bind
from .seccomp import SYSCALLS
from .syscalls import (
    LIBC,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    mount,
    prctl,
    unshare,
    wait_status,
    write_text,
)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER = 0x20000000, 0x40000000, 0x10000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
CAPABILITY_VERSION_3 = 0x20080522
KEYCTL_JOIN_SESSION_KEYRING = 1


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
