"""The grader's front ends: pytest/CLI, Gradescope JSON, notebook functions, crashes and hangs."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import exercises
import solutions
from grader import checks
from grader.registry import CHECKS, all_checks, load_rubric, rubric_problems
from grader.results import run_check
from grader.target import load_impl

ROOT = Path(__file__).resolve().parent.parent


def grade_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def reference_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("grade") / "results.json"
    run = grade_cli("--impl", "solutions", "--json", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(path.read_text()), run.stdout


def test_rubric_matches_the_checks():
    assert rubric_problems(load_rubric(), all_checks()) == []


def test_reference_scores_full_marks(reference_json):
    data, stdout = reference_json
    rubric = load_rubric()
    assert data["score"] == sum(e.points for e in rubric.values())
    assert len(data["tests"]) == len(all_checks())
    for test in data["tests"]:
        assert test["status"] == "passed" and test["score"] == test["max_score"] > 0, test
        assert test["tags"] == [CHECKS[test["name"]].exercise]
        assert test["visibility"] == rubric[test["name"]].visibility
    assert "Score:" in stdout and "(100.0%)" in stdout


def test_untouched_exercises_score_zero_with_not_implemented_messages(tmp_path):
    path = tmp_path / "results.json"
    run = grade_cli("--json", str(path))
    assert run.returncode == 1, run.stdout + run.stderr  # failures, not an internal error
    data = json.loads(path.read_text())
    assert data["score"] == 0
    for test in data["tests"]:
        assert test["score"] == 0 and "not implemented yet" in test["output"], test
    assert "(0.0%)" in run.stdout


def test_select_one_exercise(tmp_path):
    path = tmp_path / "results.json"
    grade_cli("--impl", "solutions", "-m", "Affine", "--json", str(path))
    names = {t["name"] for t in json.loads(path.read_text())["tests"]}
    assert names == {c.id for c in all_checks() if c.exercise == "Affine"}


def test_notebook_front_end_uses_the_same_checks():
    results = checks.check_affine(solutions.Affine)
    assert [r.id for r in results] == [c.id for c in all_checks() if c.exercise == "Affine"]
    with pytest.raises(AssertionError, match="Affine.forward is not implemented yet"):
        checks.check_affine(exercises.Affine)


def broken_copy(tmp_path, module, old, new):
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions", impl, ignore=shutil.ignore_patterns("__pycache__"))
    path = impl / module
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return impl


def test_crash_shows_the_students_own_frame(tmp_path):
    impl = broken_copy(
        tmp_path, "layers.py", "        self.x_shape = x.shape\n", "        self.x_shape = x.shape[5]\n"
    )
    result = run_check(CHECKS["Affine.forward"], load_impl(impl), 2)
    assert result.status == "error"
    assert "IndexError" in result.message and "layers.py" in result.message
    assert "grader" not in result.message.split("\n", 1)[1]


def test_infinite_loop_costs_only_its_own_check(tmp_path):
    impl = broken_copy(
        tmp_path,
        "layers.py",
        "        self.mask = x > 0\n",
        "        while True:\n            pass\n",
    )
    target = load_impl(impl)
    hung = run_check(CHECKS["Relu.forward"], target, 1, timeout=0.5)
    assert hung.status == "timeout" and "did not finish within 0.5 s" in hung.message
    assert run_check(CHECKS["Affine.forward"], target, 2).passed


def test_syntax_error_in_one_file_leaves_the_rest_gradable(tmp_path):
    impl = broken_copy(tmp_path, "conv.py", "class Conv2d(Layer):", "class Conv2d(Layer)")
    target = load_impl(impl)
    assert "conv.py" in target.import_errors
    assert run_check(CHECKS["Affine.forward"], target, 2).passed
    if any(c.exercise == "Conv2d" for c in all_checks()):
        missing = run_check(next(c for c in all_checks() if c.exercise == "Conv2d"), target, 1)
        assert "Conv2d is missing" in missing.message and "SyntaxError" in missing.message


def test_hidden_visibility_reaches_the_json(tmp_path):
    rubric = tmp_path / "rubric.toml"
    text = (ROOT / "grader" / "rubric.toml").read_text()
    rubric.write_text(
        text.replace("forward = 2\n", 'forward = { points = 2, visibility = "after_published" }\n', 1)
    )
    path = tmp_path / "results.json"
    grade_cli("--impl", "solutions", "-k", "Affine", "--rubric", str(rubric), "--json", str(path))
    tests = {t["name"]: t for t in json.loads(path.read_text())["tests"]}
    assert tests["Affine.forward"]["visibility"] == "after_published"
    assert tests["Affine.backward_dx"]["visibility"] == "visible"


def test_sys_exit_in_student_code_is_a_failed_check(tmp_path):
    impl = broken_copy(tmp_path, "layers.py", "        self.mask = x > 0\n", "        raise SystemExit(0)\n")
    result = run_check(CHECKS["Relu.forward"], load_impl(impl), 1)
    assert result.status == "error" and "SystemExit" in result.message and result.points == 0


def test_crash_hints_only_when_they_fit():
    from grader.hints import crash_hint

    shared = ValueError("operands could not be broadcast together with shapes (3,4) (4,)")
    assert "state per key" in crash_hint("Adam", shared)
    assert crash_hint("Affine", shared) is None  # broadcasting errors elsewhere have many causes
    layer_attr = AttributeError("'Relu' object has no attribute 'mask'")
    assert "never stored" in crash_hint("Relu", layer_attr)
    assert crash_hint("Relu", AttributeError("'numpy.ndarray' object has no attribute 'shap'")) is None
    assert crash_hint("Relu", AttributeError("module 'numpy' has no attribute 'maximun'")) is None
    assert "return statement" in crash_hint("Sequential", TypeError("'NoneType' object is not subscriptable"))
    assert crash_hint("sigmoid", ZeroDivisionError("division by zero")) is None


def test_an_exception_in_the_graders_own_code_is_never_blamed_on_the_student(tmp_path, monkeypatch):
    """An oracle or hint candidate that raises is the grader's failure; a crash in the student's
    code stays the student's, with their own frame."""
    from grader.checks import layers as layer_checks

    monkeypatch.setattr(layer_checks, "expected", divmod)  # the grader's own bug: a TypeError in its frame
    result = run_check(CHECKS["Relu.forward"], load_impl("solutions"))
    assert result.status == "error" and "the grader itself failed" in result.message, result.message
    assert "TypeError" in result.message and "your code raised" not in result.message
    assert result.hint is None
    monkeypatch.undo()

    impl = broken_copy(tmp_path, "layers.py", "        self.mask = x > 0\n", "        max([])\n")
    result = run_check(CHECKS["Relu.forward"], load_impl(impl))
    assert result.status == "error" and "your code raised ValueError" in result.message
    assert "layers.py" in result.message


# ----------------------------------------------------------------------------- python -m grader's own options
def grader_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=cwd or ROOT, capture_output=True, text=True, timeout=300
    )


def test_help_shows_the_graders_options_and_examples_not_pytests():
    done = grader_cli("--help")
    assert done.returncode == 0
    assert "--impl" in done.stdout and "examples:" in done.stdout and "-m relu -m Relu" in done.stdout
    assert len(done.stdout.splitlines()) < 40


@pytest.mark.parametrize(
    "name, message",
    [
        ("affinee", "no such exercise (did you mean Affine?)"),
        ("nothing_like_it", "the exercises are: "),
        ("RELU", "ambiguous, these exercises differ only in case: Relu, relu"),
    ],
)
def test_an_exercise_name_that_does_not_resolve_says_why(name, message):
    done = grader_cli("--impl", "solutions", "-m", name)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_exercise_names_resolve_exactly_then_case_insensitively_and_combine():
    from grader.__main__ import resolve_exercise

    known = __import__("grader.__main__", fromlist=["exercise_names"]).exercise_names()
    assert resolve_exercise("relu", known) == "relu" and resolve_exercise("Relu", known) == "Relu"
    assert resolve_exercise("affine", known) == "Affine"
    done = grader_cli("--impl", "solutions", "-m", "relu,Relu", "-m", "affine")
    assert done.returncode == 0, done.stdout[-2000:]
    rows = [line.split() for line in done.stdout.splitlines() if line.rstrip().endswith(" ok")]
    assert sorted(row[0] for row in rows) == ["Affine", "Relu", "relu"], done.stdout[-2000:]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing", "no such folder"),
        (lambda tmp: (tmp / "file.py").write_text("x") and tmp / "file.py", "a file, not a folder"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "it has no __init__.py"),
    ],
)
def test_impl_errors_say_what_is_wrong(tmp_path, make, message):
    done = grader_cli("--impl", str(make(tmp_path)))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "_pytest" not in done.stderr and "Traceback" not in done.stderr


# ----------------------------------------------------------------------------- the report a student reads
def test_untouched_exercises_get_a_short_start_here():
    done = grader_cli()
    out = done.stdout
    assert "Nothing is implemented yet" in out and "Start here: AND in exercises/perceptron.py" in out
    assert "not implemented yet" not in out.replace("Nothing is implemented yet", "")
    assert len(out.split("= grade =")[-1].splitlines()) < 12


def test_an_import_error_is_reported_once_with_the_checks_it_blocks(tmp_path):
    impl = broken_copy(tmp_path, "layers.py", "class Relu(Layer):", "class Relu(Layer:")
    out = grader_cli("--impl", str(impl)).stdout
    assert out.count("Your code did not import:") == 1 and "layers.py, line" in out
    blocked = next(line for line in out.splitlines() if "could not run:" in line)
    assert "Affine" in blocked and "Relu" in blocked
    assert out.count("SyntaxError") <= 2  # the one import line (it names __init__ and layers.py)


def test_the_same_not_implemented_or_crash_across_an_exercises_checks_shows_once(tmp_path):
    impl = broken_copy(
        tmp_path, "layers.py", "        self.x_shape = x.shape\n", "        self.x_shape = x.shape[5]\n"
    )
    out = grader_cli("--impl", str(impl), "-m", "Affine").stdout
    assert out.count("your code raised IndexError") == 1, out
    assert "more checks of Affine with the same error" in out
    stub = broken_copy(
        tmp_path / "stub",
        "optim.py",
        "            p -= self.lr * (g + self.weight_decay * p)\n",
        "            raise NotImplementedError('SGD.step: subtract lr times the gradient')\n",
    )
    out = grader_cli("--impl", str(stub), "-m", "SGD,relu").stdout
    assert "[SGD] (4 pt, 4 checks) SGD.step is not implemented yet" in out, out
