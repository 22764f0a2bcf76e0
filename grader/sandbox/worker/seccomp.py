"""The seccomp filter a worker installs: keyrings and changes of mounts, roots and namespaces
refused in every mode; with no_children, new processes too (threads stay allowed).
"""

import ctypes
import errno
import os

from .syscalls import LIBC, PR_SET_NO_NEW_PRIVS, prctl, wait_status

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
CLONE_THREAD = 0x00010000
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
