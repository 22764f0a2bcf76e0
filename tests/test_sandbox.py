"""Grading in a sandboxed worker: same verdicts as in-process, and hostile submissions cannot gain."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.checks import common
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.sandbox import Limits, SandboxTarget, available_isolation, grade_isolated, grading_seed
from grader.sandbox.spawn import spawner
from grader.target import load_impl
from tests.hostile import CASES, GRADEBOOK, MARKER, ROOT, build, build_stub

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

RUBRIC = load_rubric()
SEED = 20261123
SHORT = Limits(check_seconds=0.5, import_seconds=2.0)  # for the cases that hang
GRADED = ["Affine", "sigmoid"]  # the tampered exercise, and one in another file that must grade normally
NAMESPACES = available_isolation() == "namespaces"
needs_namespaces = pytest.mark.skipif(
    not NAMESPACES, reason="file system and network isolation need root and Linux namespaces"
)


def in_process(impl, checks=None):
    """Grade in this process with the data seed the sandboxed runs here use."""
    target = load_impl(impl)
    chosen = [c for c in all_checks() if checks is None or c.exercise in checks]
    with grading_seed(SEED):
        return [run_check(c, target, RUBRIC[c.id].points, RUBRIC[c.id].visibility) for c in chosen]


def summary(results):
    return [(r.id, r.status, r.points, r.max_points, r.message, r.hint, r.notes) for r in results]


def score(results, exercise):
    chosen = [r for r in results if r.exercise == exercise]
    return sum(r.points for r in chosen), sum(r.max_points for r in chosen)


def processes_with(marker):
    """pids of processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_reference_scores_full_marks_and_matches_in_process():
    sandboxed = grade_isolated(ROOT / "solutions", seed=SEED)
    got, possible = sum(r.points for r in sandboxed), sum(r.max_points for r in sandboxed)
    assert got == possible > 0, [r.text() for r in sandboxed if not r.passed]
    expected = in_process(ROOT / "solutions")
    assert summary(sandboxed) == summary(expected)


def test_untouched_exercises_score_zero_like_in_process():
    sandboxed = grade_isolated(ROOT / "exercises", seed=SEED)
    assert sum(r.points for r in sandboxed) == 0
    not_implemented = [r for r in sandboxed if r.status == "not implemented"]
    assert len(not_implemented) > len(sandboxed) // 2
    assert all(r.message.endswith("is not implemented yet") for r in not_implemented)
    assert summary(sandboxed) == summary(in_process(ROOT / "exercises"))


def test_student_errors_read_as_in_process(tmp_path):
    """Exception type, message and the student's frames (with the real file path) survive the sandbox."""
    case = next(c for c in CASES if c.name == "raises")
    impl = build(case, tmp_path / "raises")
    sandboxed = grade_isolated(impl, checks=["Affine"], seed=SEED)
    expected = in_process(impl, ["Affine"])
    assert summary(sandboxed) == summary(expected)
    assert f'File "{impl.resolve() / "layers.py"}"' in sandboxed[0].message


@pytest.fixture(scope="module")
def stub_score(tmp_path_factory):
    """The honest score of the reference with Affine.forward not implemented."""
    results = in_process(build_stub(tmp_path_factory.mktemp("stub") / "impl"), ["Affine"])
    return score(results, "Affine")[0]


@pytest.fixture
def gradebook():
    """A file standing for the gradebook: hostile code must not change it."""
    GRADEBOOK.write_text("original\n")
    os.chmod(GRADEBOOK, 0o644)
    yield GRADEBOOK
    for path in (GRADEBOOK, Path(str(GRADEBOOK) + ".new")):
        path.unlink(missing_ok=True)


HANGS = {"loop_at_import", "loop_in_forward"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_submission_never_gains(case, tmp_path, stub_score, gradebook):
    impl = build(case, tmp_path / case.name)
    limits = SHORT if case.name in HANGS else Limits()
    results = grade_isolated(impl, checks=GRADED, seed=SEED, limits=limits)

    got, possible = score(results, "Affine")
    honest = possible if case.honest == "full" else stub_score
    assert got <= honest, f"{case.name} scored {got} > honest {honest}"
    if case.honest == "full":
        assert got == possible, [r.text() for r in results if not r.passed]
    if case.name != "loop_at_import":  # the rest of the submission grades normally
        assert score(results, "sigmoid")[0] == score(results, "sigmoid")[1]
    if case.reason:
        failed = [r for r in results if r.exercise == "Affine" and not r.passed]
        assert failed and any(case.reason in r.message for r in failed), [r.message for r in failed]
    assert gradebook.read_text() == "original\n"
    if NAMESPACES:
        assert not Path(str(gradebook) + ".new").exists()
    assert not processes_with(MARKER), "a child of the submission outlived its grading"
    assert (impl / "layers.py").is_file() and (impl / "__init__.py").is_file()


@needs_namespaces
def test_worker_cannot_read_solutions_hidden_checks_or_the_network(tmp_path):
    case = next(c for c in CASES if c.name == "read_solutions")
    impl = build(case, tmp_path / "reader")
    secrets_ = [
        ROOT / "solutions" / "layers.py",
        ROOT / "grader" / "checks" / "layers.py",
        ROOT / "grader" / "rubric.toml",
    ]
    with SandboxTarget(impl) as target:
        assert target.isolation == "namespaces"
        readable = target.call("probe", [str(p) for p in secrets_] + ["SELF"])
        assert list(readable) == [0.0, 0.0, 0.0, 1.0]  # its own copy only
        assert target.call("network") == 0.0
    assert all(p.is_file() for p in secrets_)  # they exist; the worker just cannot see them


def test_children_are_gone_right_after_the_call(tmp_path):
    case = next(c for c in CASES if c.name == "fork_children")
    with SandboxTarget(build(case, tmp_path / "forker")) as target:
        from grader.target import Rng

        layer = target.new("Affine", 3, 2, rng=Rng(0))
        out = layer.call("forward", __import__("numpy").ones((2, 3)))
        assert out.shape == (2, 2)
        assert not processes_with(MARKER)


def test_hung_worker_times_out_outside_the_main_thread(tmp_path):
    """No SIGALRM in a thread: the target's own deadline still ends the check."""
    case = next(c for c in CASES if c.name == "loop_in_forward")
    impl = build(case, tmp_path / "hang")
    box = []
    worker = threading.Thread(
        target=lambda: box.append(grade_isolated(impl, ["Affine.forward"], limits=SHORT))
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive() and box
    (result,) = box[0]
    assert result.status == "timeout" and result.points == 0


def test_secret_seed_is_used_and_restored():
    before = common.SEED
    results = grade_isolated(ROOT / "solutions", checks=["Affine", "softmax"])
    assert common.SEED == before
    assert all(r.passed for r in results)


def test_basic_isolation_still_limits_and_recovers(tmp_path):
    """Where namespaces are unavailable the worker still runs apart, with limits, and crashes are contained."""
    case = next(c for c in CASES if c.name == "os_exit")
    limits = Limits(isolation="basic")
    reference = grade_isolated(ROOT / "solutions", checks=["Affine"], seed=SEED, limits=limits)
    assert all(r.passed for r in reference)
    hostile = grade_isolated(build(case, tmp_path / "exit"), checks=GRADED, seed=SEED, limits=limits)
    assert score(hostile, "Affine")[0] == 0 and score(hostile, "sigmoid")[0] == score(hostile, "sigmoid")[1]
    assert not processes_with(MARKER)


def test_missing_directory_is_a_failed_result_not_a_crash(tmp_path):
    results = grade_isolated(tmp_path / "nowhere", checks=["Affine.forward"])
    assert results[0].points == 0 and "no __init__.py" in results[0].message


def test_cli_prints_the_table_and_writes_results_json(tmp_path):
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "grader.sandbox", "--impl", "solutions", "-m", "Affine", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    points = sum(RUBRIC[c.id].points for c in all_checks() if c.exercise == "Affine")
    assert f"Score: {points:g} / {points:g} (100.0%)" in done.stdout
    data = json.loads(out.read_text())
    assert data["score"] == points and all(t["status"] == "passed" for t in data["tests"])


def test_cli_rejects_a_bad_directory_without_a_traceback(tmp_path):
    cmd = [sys.executable, "-m", "grader.sandbox", "--impl", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "not an implementation directory" in done.stderr and "Traceback" not in done.stderr


def test_params_of_the_wrong_shape_read_as_in_process(tmp_path):
    """Layers are built and filled with the grader's values in one round trip; a wrong shape is named."""
    impl = tmp_path / "row_bias"
    shutil.copytree(ROOT / "solutions", impl, ignore=shutil.ignore_patterns("__pycache__"))
    layers = impl / "layers.py"
    text = layers.read_text()
    assert text.count('self.params["b"] = np.zeros(out_features)') == 1
    layers.write_text(text.replace("np.zeros(out_features)", "np.zeros((1, out_features))"))
    sandboxed = grade_isolated(impl, checks=["Affine"], seed=SEED)
    expected = in_process(impl, ["Affine"])
    assert summary(sandboxed) == summary(expected)
    assert any("Affine.params['b'] has shape (1, 3), expected (3,)" in r.message for r in sandboxed)


def test_a_dead_fork_server_is_replaced():
    before = spawner()
    os.killpg(before.proc.pid, signal.SIGKILL)
    before.proc.wait(timeout=10)
    results = grade_isolated(ROOT / "solutions", checks=["sigmoid"], seed=SEED)
    assert all(r.passed for r in results)
    assert spawner() is not before and spawner().alive


def test_a_forked_grading_process_starts_its_own_fork_server():
    """After os.fork (multiprocessing's fork context) the child must not share the parent's server."""
    parent_server = spawner()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: grade, report, never return into pytest
        try:
            results = grade_isolated(ROOT / "solutions", checks=["sigmoid"], seed=SEED)
            mine = spawner()
            report = {"passed": all(r.passed for r in results), "own": mine.owner == os.getpid()}
            mine.close()
            os.write(write, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = json.loads(pipe.read() or "{}")
    os.waitpid(pid, 0)
    assert report == {"passed": True, "own": True}
    assert spawner() is parent_server and parent_server.alive


def test_fork_server_outlives_the_thread_that_started_it():
    """A Dask worker grades in threads: the server must live as long as the process, not the thread."""
    spawner().close()  # the next grading starts a new server, from the thread below
    box = []
    thread = threading.Thread(
        target=lambda: box.append(grade_isolated(ROOT / "solutions", checks=["sigmoid"], seed=SEED))
    )
    thread.start()
    thread.join(timeout=60)
    assert box and all(r.passed for r in box[0])
    server = spawner()
    time.sleep(0.5)
    assert server.alive and spawner() is server


def test_a_killed_grading_process_leaves_no_files(tmp_path):
    """Even after SIGKILL, the fork server removes its directory and every sandbox's copy of a submission."""
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[1])\n"
        "from grader.sandbox import SandboxTarget\n"
        "target = SandboxTarget(sys.argv[1] + '/solutions')\n"
        "print(target._dir, flush=True)\n"
        "time.sleep(60)\n"
    )
    grading = subprocess.Popen(
        [sys.executable, "-c", script, str(ROOT)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    sandbox_dir = Path(grading.stdout.readline().strip())
    assert (sandbox_dir / "submission" / "layers.py").is_file()
    grading.kill()
    grading.wait(timeout=10)
    grading.stdout.close()
    deadline = time.monotonic() + 10
    while sandbox_dir.parent.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sandbox_dir.exists() and not sandbox_dir.parent.parent.exists()


def test_an_arena_retired_by_a_request_still_serves_that_requests_inputs(monkeypatch):
    """Small arenas fill within one request (several stored arrays): the arena it retires must
    still hold the inputs placed in it earlier in that same request."""
    import grader.sandbox.target as sandbox

    monkeypatch.setattr(sandbox, "ARENA_BYTES", 4096)
    results = grade_isolated(ROOT / "solutions", checks=["Adam", "Sequential"], seed=SEED)
    failed = [r.text() for r in results if not r.passed]
    assert results and not failed, failed
