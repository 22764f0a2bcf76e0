"""The sandbox's walls: what a worker can import and read, the memory its children hold, and
what one submission can leave for the next. Each hostile case scores at or below its honest twin."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.sandbox import Limits, SandboxTarget, available_isolation, grade_isolated, grading_seed
from grader.sandbox import grading as sandbox
from grader.sandbox.worker.view import View
from grader.target import TargetError, load_impl
from tests.hostile import ROOT, Hostile, build, build_stub
from tests.hostile.isolation import (
    BORROW_BY_NAME,
    BORROW_BY_PATH,
    CHANNELS,
    KEYRING_CHANNELS,
    child_holder,
    finder,
    keyring_reader,
    leaver,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

SEED = 20261123
RUBRIC = load_rubric()
NAMESPACES = available_isolation() == "namespaces"
MODES = ["namespaces", "basic"] if NAMESPACES else ["basic"]
needs_namespaces = pytest.mark.skipif(
    not NAMESPACES, reason="file-system isolation needs root and namespaces"
)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a private uid for the worker needs root")
KIT = [
    "solutions",
    "solutions.layers",
    "grader.hidden",
    "grader.oracles",
    "grader.checks.layers",
    "exercises",
    "grader.classroom",
    "grader.authoring",
    "course",
]
PROBE = '''
def importable(names):
    """1.0 for each module name that imports here."""
    import importlib
    found = []
    for name in names:
        try:
            importlib.import_module(name)
            found.append(1.0)
        except BaseException:
            found.append(0.0)
    return np.array(found)


def readable(paths):
    """1.0 for each path that can be read here (a file that opens, a directory that lists something)."""
    import os
    found = []
    for path in paths:
        try:
            if os.path.isdir(path):
                found.append(float(len(os.listdir(path)) > 0))
            else:
                open(path, "rb").close()
                found.append(1.0)
        except OSError:
            found.append(0.0)
    return np.array(found)


def view_changes():
    """1.0 for each way of changing this process's view that worked: writing an installed
    package, remounting its root or a package read-write, unmounting a mask, a new root, and
    the same from a user namespace of its own."""
    import ctypes
    import os
    libc = ctypes.CDLL(None, use_errno=True)
    package = os.path.dirname(np.__file__)

    def tried(fn):
        try:
            return float(fn() is not False)
        except BaseException:
            return 0.0

    def write():  # asked, not done: basic mode as root could
        return os.access(os.path.join(package, "__init__.py"), os.W_OK)

    def remount(path):
        return lambda: libc.mount(None, path.encode(), None, ctypes.c_ulong(32 | 4096), None) == 0

    def umount(path):
        return lambda: libc.umount2(path.encode(), 2) == 0

    def own_namespace():
        if libc.unshare(0x10000000 | 0x00020000) != 0:
            return False
        return libc.mount(None, package.encode(), None, ctypes.c_ulong(32 | 4096), None) == 0 and write()

    return np.array([
        tried(write),
        tried(remount("/")),
        tried(remount(package)),
        tried(umount(package)),
        tried(lambda: libc.chroot(b"/tmp") == 0),
        tried(own_namespace),
    ])


def cpus():
    """The CPUs this process may run on."""
    import os
    return np.array(sorted(os.sched_getaffinity(0)), dtype=float)
'''


def score(impl, checks, isolated, limits=None):
    """Points of `checks` for `impl`, in the sandbox or in this process (same data seed)."""
    if isolated:
        results = grade_isolated(impl, checks=checks, seed=SEED, limits=limits)
    else:
        target = load_impl(impl)
        with grading_seed(SEED):
            results = [
                run_check(c, target, RUBRIC[c.id].points, RUBRIC[c.id].visibility)
                for c in all_checks()
                if c.exercise in checks
            ]
    return sum(r.points for r in results)


@pytest.fixture(scope="module")
def stub_score(tmp_path_factory):
    """The honest score of the reference with Affine.forward not implemented."""
    return score(build_stub(tmp_path_factory.mktemp("stub") / "impl"), ["Affine"], isolated=False)


def probe(dest):
    return build(
        Hostile("probe", "full", module=PROBE, exports=("importable", "readable", "cpus", "view_changes")),
        dest,
    )


# ----------------------------------------------------------------------------- borrowed answers
@pytest.mark.parametrize("mode", MODES)
def test_the_kit_cannot_be_imported_by_name(mode, tmp_path):
    """However the kit is installed (here: editable), a worker imports only the allow-list."""
    with SandboxTarget(probe(tmp_path / "probe"), Limits(isolation=mode)) as target:
        assert target.isolation == mode
        refused = KIT + ["sklearn", "pytest"]
        assert list(target.call("importable", refused)) == [0.0] * len(refused)
        allowed = ["numpy.linalg", "scipy.special", "scipy.signal", "tqdm"]
        assert list(target.call("importable", allowed)) == [1.0] * len(allowed)


@pytest.mark.parametrize("mode", MODES)
def test_the_worker_cannot_change_its_view(mode, tmp_path):
    """Mounts, roots and namespaces are refused in every mode; with namespaces the installed
    packages are not writable either (as root of a user namespace, without root, as much as
    under a private uid; basic mode is no file-system boundary)."""
    with SandboxTarget(probe(tmp_path / "probe"), Limits(isolation=mode)) as target:
        changed = list(target.call("view_changes"))
    assert changed[1:] == [0.0] * 5
    if mode == "namespaces":
        assert changed[0] == 0.0


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_grading_holds_the_process_and_its_worker_to_one_cpu(tmp_path):
    """They take turns, so sharing a CPU costs nothing and saves a cross-CPU wake-up per request."""
    allowed = os.sched_getaffinity(0)
    with sandbox.on_one_cpu():
        held = os.sched_getaffinity(0)
        with SandboxTarget(probe(tmp_path / "probe")) as target:
            worker = set(target.call("cpus").astype(int))
    assert len(held) == 1 and held <= allowed
    assert worker == held
    assert os.sched_getaffinity(0) == allowed  # given back afterwards
    with SandboxTarget(probe(tmp_path / "probe2")) as target:  # not held: the worker may use them all
        assert set(target.call("cpus").astype(int)) == allowed


@needs_namespaces
def test_the_worker_sees_only_the_allow_list(tmp_path):
    """Of site-packages only the allowed packages' own entries; nothing of the checkout or the base Python."""
    site = sysconfig.get_paths()["purelib"]
    allowed = {os.path.basename(p) for p in View("/nonexistent").packages if os.path.dirname(p) == site}
    present = sorted(os.listdir(site))
    secret = [
        ROOT / "solutions" / "layers.py",
        ROOT / "grader" / "oracles" / "layers.py",
        ROOT / "grader" / "hidden" / "layers.py",
        next((ROOT / "source").rglob("*.ipynb")),
        Path(sysconfig.get_paths()["stdlib"]) / "site-packages",  # the base interpreter's own packages
    ]
    with SandboxTarget(probe(tmp_path / "probe")) as target:
        readable = target.call("readable", [f"{site}/{name}" for name in present])
        assert {name for name, found in zip(present, readable, strict=True) if found} == allowed
        assert {"numpy", "scipy"} <= allowed
        assert list(target.call("readable", [str(p) for p in secret])) == [0.0] * len(secret)


def wheel_venv(tmp_path):
    """A virtual environment holding the kit as a wheel (pip install ., not editable) with numpy and
    scipy in the same site-packages, as on a grading machine or a Dask worker. The wheel has no
    solutions/; it is put into site-packages beside the grader anyway, as a careless install
    could, so the sandbox's walls are tested where the answers are importable."""
    import numpy
    import scipy

    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("grader", "solutions", "exercises"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", source], check=True
    )
    venv = tmp_path / "venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv], check=True
    )
    python = venv / "bin" / "python"
    where = [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    site = Path(subprocess.run(where, check=True, capture_output=True, text=True).stdout.strip())
    (wheel,) = (tmp_path / "dist").glob("nnkit-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", site, wheel], check=True)
    for package in (numpy, scipy):  # hard links where the file system allows, else copies
        for entry in Path(package.__file__).parents[1].iterdir():
            if entry.name.split("-")[0].split(".")[0] != package.__name__:
                continue
            try:
                if entry.is_dir():
                    shutil.copytree(entry, site / entry.name, copy_function=os.link)
                else:
                    os.link(entry, site / entry.name)
            except OSError:
                shutil.rmtree(site / entry.name, ignore_errors=True)
                (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, site / entry.name)
    shutil.copytree(ROOT / "solutions", site / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    assert (site / "solutions" / "layers.py").is_file() and (site / "grader" / "hidden").is_dir()
    return python, site


GRADE_IN_VENV = """
import json, sys
sys.path.insert(0, sys.argv[1])  # the grader of the checkout; the installed kit stays in site-packages
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.sandbox import Limits, available_isolation, grade_isolated, grading_seed
from grader.target import load_impl
# The fork server runs this interpreter isolated (-I): its sys.path is the venv's, whose
# site-packages holds the wheel's solutions/ and grader/hidden/.
seed, rubric = int(sys.argv[5]), load_rubric()
with grading_seed(seed):
    target = load_impl(sys.argv[3])
    checks = [c for c in all_checks() if c.exercise == "Affine"]
    out = {"in_process": sum(run_check(c, target, rubric[c.id].points, rubric[c.id].visibility).points for c in checks)}
for mode in ["namespaces", "basic"] if available_isolation() == "namespaces" else ["basic"]:
    for name, impl in (("by_name", sys.argv[3]), ("by_path", sys.argv[4])):
        results = grade_isolated(impl, checks=["Affine"], seed=seed, limits=Limits(isolation=mode))
        out[mode + " " + name] = sum(r.points for r in results)
print(json.dumps(out))
"""


@pytest.mark.slow
def test_an_installed_kit_lends_no_answers(tmp_path, stub_score):
    """A dead Affine that delegates to the installed kit's (a wheel in site-packages) scores the stub's
    points in the sandbox; the same code in the grader's own process does borrow (the control)."""
    python, site = wheel_venv(tmp_path)
    by_name, by_path = (
        build(BORROW_BY_NAME, tmp_path / "by_name"),
        build(BORROW_BY_PATH, tmp_path / "by_path"),
    )
    command = [python, "-c", GRADE_IN_VENV, str(ROOT), str(site), str(by_name), str(by_path), str(SEED)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert scores.pop("in_process") > stub_score  # the attack works where the kit can be imported
    scores.pop("basic by_path")  # basic mode: files can be read by path (README: not a boundary)
    assert all(points <= stub_score for points in scores.values()), scores


# ----------------------------------------------------------------------------- memory through children
def session_memory(session):
    """Private memory (bytes) of every process in this session: a worker and all it started."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rpartition(")")[2].split()[3]) != session:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


@pytest.mark.parametrize("mode", MODES)
def test_children_together_stay_within_the_memory_limit(mode, tmp_path):
    """Four children that each stay under the per-process limit hold no more than the limit together."""
    limit, each = 512 << 20, 300
    limits = Limits(isolation=mode, memory_bytes=limit, call_seconds=40)
    with SandboxTarget(child_holder(tmp_path / "children"), limits) as target:
        peak, stop, session = [0], threading.Event(), target._proc.pid

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], session_memory(session))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            held = target.call("hold_in_children", 4, each)
        except TargetError:  # a cgroup's OOM killer ended the worker: nothing held
            held = 0
        finally:
            stop.set()
            sampler.join()
    assert int(held) * each << 20 <= limit
    assert peak[0] <= limit + (64 << 20), f"the submission held {peak[0] >> 20} MiB"


# ----------------------------------------------------------------------------- state between submissions
KEYRING_SCRIPT = """
import ctypes, json, os, sys
sys.path.insert(0, sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
keyctl, add_key = {"x86_64": (250, 248), "aarch64": (219, 217)}[os.uname().machine]
ring = libc.syscall(ctypes.c_long(keyctl), ctypes.c_long(1), b"nnkit-grader-session")  # join a named one
key = libc.syscall(ctypes.c_long(add_key), b"user", b"nnkit-grader-secret", b"x", ctypes.c_size_t(1), ctypes.c_long(-3))
if ring <= 0 or key <= 0:
    print(json.dumps(None))
    sys.exit(0)
from grader.sandbox import Limits, SandboxTarget, available_isolation
seen = {"grader": float(any(line.split()[0] == format(key, "x").rjust(8, "0") for line in open("/proc/keys")))}
for mode in ["namespaces", "basic"] if available_isolation() == "namespaces" else ["basic"]:
    with SandboxTarget(sys.argv[2], Limits(isolation=mode)) as target:
        seen[mode] = target.call("visible_key", key).tolist()
print(json.dumps(seen))
"""


def test_a_worker_leaves_the_grading_process_session_keyring(tmp_path):
    """A grading process with a session keyring (as in a container): its keys are not the worker's."""
    command = [sys.executable, "-c", KEYRING_SCRIPT, str(ROOT), str(keyring_reader(tmp_path / "keys"))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if seen is None:
        pytest.skip("no keyrings here (no kernel support, or a container's filter refuses them)")
    assert seen.pop("grader") == 1.0  # the control: its owner lists it
    assert all(payload == 0.0 for _, payload in seen.values()), seen  # its contents: never
    if NAMESPACES and os.geteuid() == 0:  # its name neither, under the worker's own uid (basic mode
        assert seen["namespaces"][0] == 0.0, seen  # may keep root's; without root the uid is the same)


def as_uid(uid, fn):
    """fn() in a forked child running as `uid`; its JSON result."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.write(write, json.dumps(fn()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data or "null")


@needs_root
@pytest.mark.parametrize("mode", MODES)
def test_nothing_passes_from_one_submission_to_the_next(mode, tmp_path, monkeypatch, stub_score):
    """Two submissions graded in sequence under the same uid (the worst case of a random one): the
    first leaves a tag wherever it can, the second answers only if it finds it, and finds nothing."""
    tag, offset = secrets.randbelow(1 << 30), secrets.randbelow(100000)
    uid = 200000 + offset
    monkeypatch.setattr(sandbox.secrets, "randbelow", lambda n: offset)
    # basic mode shares the file system and System V IPC with the host (README: not a boundary)
    closed = CHANNELS if mode == "namespaces" else (*KEYRING_CHANNELS, "home directory cache")
    leaving, finding = leaver(tmp_path / "leaver", tag), finder(tmp_path / "finder", tag, closed)
    control = load_impl(leaving)  # imported here, run as the workers' uid: the probe itself works
    left, found = as_uid(
        uid, lambda: [control.call("leave", tag).tolist(), control.call("find", tag).tolist()]
    )
    as_uid(uid, lambda: control.call("forget", tag))
    assert all(f for f, was_left in zip(found, left, strict=True) if was_left), dict(
        zip(CHANNELS, found, strict=True)
    )
    try:
        assert score(leaving, ["Affine"], isolated=True, limits=Limits(isolation=mode)) > stub_score
        assert score(finding, ["Affine"], isolated=True, limits=Limits(isolation=mode)) <= stub_score
        with SandboxTarget(leaving, Limits(isolation=mode)) as first:
            first.call("leave", tag)
        with SandboxTarget(finding, Limits(isolation=mode)) as second:
            found = dict(zip(CHANNELS, second.call("find", tag), strict=True))
    finally:
        as_uid(uid, lambda: control.call("forget", tag))
        control.call("forget", tag)  # what a worker running as root (basic mode) may have left
    assert {name for name in closed if found[name]} == set()


# ----------------------------------------------------------------------------- without root
NOBODY = 65534


def reachable_for_others(paths):
    """Shell lines (run as root in a private mount namespace) that let any user reach `paths`:
    each ancestor others cannot enter is covered by an open tmpfs with the way back bound in."""
    lines, covered = [], set()
    for path in paths:
        parts = Path(path).parts
        for depth in range(1, len(parts)):
            ancestor = Path(*parts[:depth])
            if ancestor in covered or os.stat(ancestor).st_mode & 0o001:
                continue
            child = Path(*parts[: depth + 1])
            aside = f"/tmp/nnkit-aside-{len(covered)}"
            lines += [
                f"mkdir -p {aside}",
                f"mount --bind {child} {aside}",
                f"mount -t tmpfs -o mode=755 tmpfs {ancestor}",
                f"mkdir -p {child}",
                f"mount --bind {aside} {child}",
            ]
            covered.add(ancestor)
    return lines


@pytest.mark.slow
@needs_root
@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("unshare", "setpriv", "mount")), reason="needs util-linux"
)
def test_without_root_a_user_namespace_gives_the_same_walls():
    """An instructor who is not root (a JupyterHub user) still grades with namespaces: the
    worker builds its root in a user namespace of its own. This module's tests and the
    input tests, and nbgrader's trusted autograde steps, run as an unprivileged user, pass
    (those that need root skip)."""
    paths = [os.path.realpath(sys.executable), sys.prefix, str(ROOT)]
    home = Path(tempfile.mkdtemp(prefix="nnkit-nobody-"))  # where that user may write
    os.chmod(home, 0o777)
    env = f"HOME={home} PATH=/usr/bin:/bin LANG=C.UTF-8"
    as_nobody = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups env -i {env}"
    check = (
        f"cd {ROOT} && {as_nobody} {sys.executable} -c "
        "'from grader.sandbox import available_isolation; print(\"isolation\", available_isolation())'"
    )
    tests = (
        f"cd {ROOT} && {as_nobody} {sys.executable} -m pytest -q -p no:cacheprovider "
        f"--basetemp={home}/tmp tests/test_sandbox_isolation.py tests/test_sandbox_inputs.py "
        "tests/test_trusted_autograde.py "
        "-k 'not without_root'"
    )
    script = "\n".join(["set -e", *reachable_for_others(paths), check, tests])
    try:
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = done.stdout + done.stderr
    if "isolation basic" in out:
        pytest.skip("no unprivileged user namespaces on this host")
    assert "isolation namespaces" in out, out[-3000:]
    assert done.returncode == 0, out[-3000:]
    assert " passed" in out and "failed" not in out, out[-3000:]
