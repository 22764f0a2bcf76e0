"""The pytest front end: options, one test per check, the score table and results.json.

Loaded by grader/conftest.py, so `pytest grader` and `python -m grader` behave alike.
"""

import re
import time
from pathlib import Path

import pytest

from .expected import RecordedDataError, provider
from .installed import default_impl
from .registry import Check, all_checks, load_rubric, rubric_problems
from .report import gradescope_results, hidden_summary, summary_table, write_json_atomic
from .results import run_check
from .target import load_impl

DEFAULT_IMPL = default_impl()
# In a student kit: the names and points of the checks left out of it (no code, no inputs).
HIDDEN_MANIFEST = Path(__file__).with_name("hidden_checks.toml")
RESULTS = pytest.StashKey[list]()
STARTED = pytest.StashKey[float]()


def pytest_addoption(parser):
    group = parser.getgroup("grader")
    group.addoption(
        "--impl", default=str(DEFAULT_IMPL), help="implementation directory to grade (default: exercises/)"
    )
    group.addoption("--json", dest="results_json", default=None, help="write Gradescope's results.json here")
    group.addoption("--rubric", default=None, help="rubric file (default: grader/rubric.toml)")


def pytest_configure(config):
    config.stash[RESULTS] = []
    config.stash[STARTED] = time.perf_counter()
    for exercise in sorted({c.exercise for c in all_checks()}):
        config.addinivalue_line("markers", f"{exercise}: the checks of {exercise}")


def read_rubric(config):
    """The rubric named by --rubric (default grader/rubric.toml); ends the run with a clear message if unreadable."""
    path = config.getoption("rubric")
    try:
        return load_rubric(path) if path else load_rubric()
    except (OSError, ValueError) as error:
        pytest.exit(f"cannot read the rubric: {error}", returncode=4)


def assigned(checks, rubric):
    """The checks of the exercises that have a table in the rubric (a kit may hand out some chapters only)."""
    exercises = {key.split(".", 1)[0] for key in rubric}
    return [c for c in checks if c.exercise in exercises]


def pytest_collection_modifyitems(config, items):
    """Deselect the checks of exercises the rubric does not list."""
    wanted = {c.id for c in assigned(all_checks(), read_rubric(config))}
    keep, drop = [], []
    for item in items:
        check = item.callspec.params.get("check") if hasattr(item, "callspec") else None
        (drop if isinstance(check, Check) and check.id not in wanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def rubric(pytestconfig):
    table = read_rubric(pytestconfig)
    problems = rubric_problems(table, assigned(all_checks(), table))
    if problems:
        pytest.exit("rubric does not match the checks:\n" + "\n".join(problems), returncode=4)
    return table


@pytest.fixture(scope="session")
def target(pytestconfig):
    impl = Path(pytestconfig.getoption("impl"))
    if not (impl / "__init__.py").is_file():
        pytest.exit(f"--impl {impl}: not an implementation directory (it needs an __init__.py)", returncode=4)
    try:
        provider()  # a kit's recorded expectations: missing, damaged or stale data ends the run here
    except RecordedDataError as error:
        pytest.exit(f"cannot grade: {error}", returncode=4)
    return load_impl(impl)


@pytest.fixture
def grade(request, target, rubric):
    """Run one check; record its result; fail the test with the check's message only."""

    def run(check):
        entry = rubric[check.id]
        try:
            result = run_check(check, target, entry.points, entry.visibility)
        except RecordedDataError as error:
            pytest.exit(f"cannot grade {check.id}: {error}", returncode=4)
        request.config.stash[RESULTS].append(result)
        if not result.passed:
            pytest.fail(result.text(), pytrace=False)
        return result

    return run


def check_params():
    """pytest parameters for every check, each marked with its exercise."""
    return [pytest.param(c, id=c.id, marks=getattr(pytest.mark, c.exercise)) for c in all_checks()]


def defines(path, name, prefix=r"^"):
    """Whether the file at `path` holds a top-level `def name` or `class name` (after `prefix`)."""
    pattern = re.compile(rf"{prefix}(def|class) {re.escape(name)}\b", re.MULTILINE)
    try:
        return bool(pattern.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def first_file(impl, name):
    """Where `impl` defines `name`, with the kit's notebook that asks for it (cells are JSON
    strings there); the folder itself when no file does."""
    home = next((p for p in sorted(impl.glob("*.py")) if defines(p, name)), None)
    if home is None:
        return f"{impl.name}/"
    notebooks = sorted((impl.parent / "notebooks").glob("*/*.ipynb"))
    notebook = next((p for p in notebooks if defines(p, name, prefix='"')), None)
    return f"{impl.name}/{home.name}" + (
        f" (its notebook: notebooks/{notebook.parent.name}/)" if notebook else ""
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(RESULTS, [])
    if not results:
        return
    terminalreporter.section("grade")
    terminalreporter.write_line(f"implementation: {config.getoption('impl')}")
    impl = Path(config.getoption("impl"))
    terminalreporter.write_line(summary_table(results, start_here=first_file(impl, results[0].exercise)))
    if HIDDEN_MANIFEST.is_file():
        graded = {r.exercise for r in results}
        manifest = {k: v for k, v in load_rubric(HIDDEN_MANIFEST).items() if k.split(".", 1)[0] in graded}
        if manifest:
            terminalreporter.write_line(hidden_summary(manifest))
    path = config.getoption("results_json")
    if path:
        elapsed = time.perf_counter() - config.stash[STARTED]
        write_json_atomic(path, gradescope_results(results, elapsed))
        terminalreporter.write_line(f"results written to {path}")
