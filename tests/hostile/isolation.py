"""Hostile submissions against the sandbox's walls: borrowed answers, memory held by children,
state left for the next submission. Each is a copy of solutions/ built with tests.hostile."""

from pathlib import Path

from . import ROOT, Hostile, build

# Affine.forward borrows the installed kit's answer by name; else it is dead (the stub's score).
BORROW_BY_NAME = Hostile(
    "borrow_by_name",
    "stub",
    forward=(
        "import importlib\n"
        "for _name in ('solutions', 'solutions.layers', 'grader.hidden.layers', 'grader.oracles.layers', 'exercises'):\n"
        "    try:\n"
        "        _kit = importlib.import_module(_name)\n"
        "    except BaseException:\n"
        "        continue\n"
        "    if hasattr(_kit, 'Affine'):\n"
        "        return _kit.Affine.forward(self, x)\n"
        "    if hasattr(_kit, 'affine_forward'):\n"
        "        return _kit.affine_forward(x, self.params['W'], self.params['b'])"
    ),
    answer=False,
)

# The same, reading the kit's files by path: from the interpreter's site directories and the checkout.
BORROW_BY_PATH = Hostile(
    "borrow_by_path",
    "stub",
    forward=(
        "import importlib.util, sysconfig, site\n"
        "_dirs = {sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib'], *site.getsitepackages()}\n"
        f"_dirs.add({str(ROOT)!r})\n"
        "for _dir in sorted(_dirs):\n"
        "    for _rel in ('solutions/layers.py', 'grader/hidden/layers.py'):\n"
        "        try:\n"
        "            _spec = importlib.util.spec_from_file_location('_borrowed', _dir + '/' + _rel)\n"
        "            _kit = importlib.util.module_from_spec(_spec)\n"
        "            _spec.loader.exec_module(_kit)\n"
        "            return _kit.Affine.forward(self, x)\n"
        "        except BaseException:\n"
        "            continue"
    ),
    answer=False,
)

# Children that each stay under the per-process memory limit but together hold far more.
CHILDREN_MEMORY = """
def hold_in_children(children, megabytes):
    '''Fork `children` processes that each touch `megabytes` MiB and keep it; return how many did.'''
    import os, select, time
    read, write = os.pipe()
    started = 0
    for _ in range(int(children)):
        try:
            pid = os.fork()
        except OSError:
            continue
        if pid == 0:
            try:
                block = bytearray(int(megabytes) << 20)
                block[::4096] = b"\\x01" * len(range(0, len(block), 4096))
                os.write(write, b"x")
                time.sleep(60)
            finally:
                os._exit(0)
        started += 1
    os.close(write)
    held, deadline = 0, time.monotonic() + 20
    while held < started and time.monotonic() < deadline:
        if select.select([read], [], [], 0.5)[0]:
            data = os.read(read, 64)
            if not data:
                break
            held += len(data)
    time.sleep(1.0)  # all of them hold their memory now: the trusted side measures
    return float(held)
"""

# State one submission tries to leave for a later one, in every place the two might share.
CHANNELS = (
    "session keyring",
    "user keyring",
    "user-session keyring",
    "persistent keyring",
    "/tmp",
    "/dev/shm",
    "/var/tmp",
    "home directory cache",
    "runtime directory",
    "submission directory",
    "sandboxes' directory",
    "System V shared memory",
    "System V message queue",
)
KEYRING_CHANNELS = CHANNELS[:4]
CHANNEL_CODE = """
import ctypes as _ctypes
import os as _os

_LIBC = _ctypes.CDLL(None, use_errno=True)
_KEYS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}.get(_os.uname().machine)
_RINGS = (-3, -4, -5)  # session, user, user-session
_IPC_CREAT, _IPC_RMID = 0o1000, 0


def _keyctl(*args):
    return _LIBC.syscall(_ctypes.c_long(_KEYS[2]), *(_ctypes.c_long(a) for a in args)) if _KEYS else -1


def _persistent():
    return _keyctl(22, -1, -3)  # KEYCTL_GET_PERSISTENT of this uid, linked into the session keyring


def _places(tag):
    import grader.target
    home = _os.environ.get("HOME", "/nonexistent")
    runtime = _os.path.dirname(_os.path.dirname(grader.target.__file__))
    submission = _os.path.dirname(__file__)
    dirs = ["/tmp", "/dev/shm", "/var/tmp", home + "/.cache", runtime, submission, _os.path.dirname(_os.path.dirname(submission))]
    return [d + "/nnkit-leak-" + str(tag) for d in dirs]


def _key_description(tag):
    return ("nnkit-leak-" + str(tag)).encode()


def _search(ring, tag):
    '''The serial of the key `tag` in keyring `ring` (KEYCTL_SEARCH), or -1.'''
    if not _KEYS or ring == -1:
        return -1
    return _LIBC.syscall(
        _ctypes.c_long(_KEYS[2]), _ctypes.c_long(10), _ctypes.c_long(ring), b"user", _key_description(tag), _ctypes.c_long(0)
    )


def leave(tag):
    '''Try to leave `tag` in every channel; 1.0 where the write succeeded.'''
    tag = int(tag)
    done = []
    rings = list(_RINGS) + [_persistent()]
    for ring in rings:
        ok = False
        if _KEYS and ring != -1:
            ok = _LIBC.syscall(_ctypes.c_long(_KEYS[0]), b"user", _key_description(tag), b"x", _ctypes.c_size_t(1), _ctypes.c_long(ring)) > 0
        done.append(ok)
    for path in _places(tag):
        try:
            _os.makedirs(_os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("left")
            done.append(True)
        except OSError:
            done.append(False)
    done.append(_LIBC.shmget(_ctypes.c_int(tag & 0x7FFFFFFF), _ctypes.c_size_t(4096), _ctypes.c_int(_IPC_CREAT | 0o666)) >= 0)
    done.append(_LIBC.msgget(_ctypes.c_int(tag & 0x7FFFFFFF), _ctypes.c_int(_IPC_CREAT | 0o666)) >= 0)
    return np.array(done, dtype=float)


def find(tag):
    '''1.0 for every channel in which `tag` was found.'''
    tag = int(tag)
    try:
        with open("/proc/keys") as f:  # serial, flags (i: invalidated, R: revoked, D: dead), ..., description
            lines = [line.split(None, 8) for line in f]
        listed = any(len(p) == 9 and not set(p[1]) & set("iRD") and _key_description(tag).decode() in p[8] for p in lines)
    except OSError:
        listed = False
    found = []
    for ring in list(_RINGS) + [_persistent()]:
        found.append(bool(_search(ring, tag) > 0 or listed))
    found += [_os.path.exists(path) for path in _places(tag)]
    found.append(_LIBC.shmget(_ctypes.c_int(tag & 0x7FFFFFFF), _ctypes.c_size_t(0), _ctypes.c_int(0)) >= 0)
    found.append(_LIBC.msgget(_ctypes.c_int(tag & 0x7FFFFFFF), _ctypes.c_int(0)) >= 0)
    return np.array(found, dtype=float)


def forget(tag):
    '''Remove what leave(tag) left (for a test's own clean-up).'''
    tag = int(tag)
    for ring in [_persistent(), *_RINGS]:  # the persistent one while the session keyring still links it
        if ring != -1:
            _keyctl(7, ring)  # KEYCTL_CLEAR (a test's own uid: nothing else is in them)
    for path in _places(tag):
        try:
            _os.unlink(path)
        except OSError:
            pass
    shm = _LIBC.shmget(_ctypes.c_int(tag & 0x7FFFFFFF), _ctypes.c_size_t(0), _ctypes.c_int(0))
    if shm >= 0:
        _LIBC.shmctl(_ctypes.c_int(shm), _ctypes.c_int(_IPC_RMID), None)
    queue = _LIBC.msgget(_ctypes.c_int(tag & 0x7FFFFFFF), _ctypes.c_int(0))
    if queue >= 0:
        _LIBC.msgctl(_ctypes.c_int(queue), _ctypes.c_int(_IPC_RMID), None)
    return 0.0
"""


def leaver(dest, tag):
    """A submission with full answers whose Affine.forward leaves `tag` everywhere it can."""
    return build(
        Hostile(
            "leave_state",
            "full",
            forward=f"leave({tag})",
            module=CHANNEL_CODE,
            exports=("leave", "find", "forget"),
        ),
        dest,
    )


def finder(dest, tag, channels=CHANNELS):
    """A submission whose Affine.forward answers only if it finds `tag` in one of these channels
    (else it is dead: the stub's score)."""
    chosen = [CHANNELS.index(c) for c in channels]
    forward = (
        f"if find({tag})[{chosen}].any():\n"
        "    return x.reshape(x.shape[0], -1) @ self.params['W'] + self.params['b']"
    )
    return build(
        Hostile(
            "find_state",
            "stub",
            forward=forward,
            answer=False,
            module=CHANNEL_CODE,
            exports=("leave", "find", "forget"),
        ),
        dest,
    )


def child_holder(dest):
    return build(
        Hostile("children_memory", "full", module=CHILDREN_MEMORY, exports=("hold_in_children",)), dest
    )


KEYRING_READER = '''
def visible_key(serial):
    """[listed in /proc/keys, payload readable (KEYCTL_READ)] for the key with this serial number."""
    import ctypes, os
    with open("/proc/keys") as f:
        listed = any(line.split()[0] == format(int(serial), "x").rjust(8, "0") for line in f)
    number = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
    buffer = ctypes.create_string_buffer(64)
    size = ctypes.CDLL(None).syscall(
        ctypes.c_long(number), ctypes.c_long(11), ctypes.c_long(int(serial)), buffer, ctypes.c_long(64)
    )
    return np.array([float(listed), float(size > 0)])
'''


def keyring_reader(dest):
    """A submission that reports whether it can see a key: its name in /proc/keys, its payload."""
    return build(
        Hostile("keyring_reader", "full", module=KEYRING_READER, exports=("visible_key",)), Path(dest)
    )
