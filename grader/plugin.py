"""The pytest front end: options, one test per check, the score table and results.json.

Loaded by grader/conftest.py, so `pytest grader` and `python -m grader` behave alike.
"""

import time
from pathlib import Path

import pytest

from .registry import all_checks, load_rubric, rubric_problems
from .report import gradescope_results, summary_table, write_json_atomic
from .results import run_check
from .target import load_impl

DEFAULT_IMPL = Path(__file__).resolve().parent.parent / "exercises"
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


@pytest.fixture(scope="session")
def rubric(pytestconfig):
    path = pytestconfig.getoption("rubric")
    table = load_rubric(path) if path else load_rubric()
    problems = rubric_problems(table, all_checks())
    if problems:
        pytest.exit("rubric does not match the checks:\n" + "\n".join(problems), returncode=4)
    return table


@pytest.fixture(scope="session")
def target(pytestconfig):
    impl = Path(pytestconfig.getoption("impl"))
    if not (impl / "__init__.py").is_file():
        pytest.exit(f"--impl {impl}: not an implementation directory (it needs an __init__.py)", returncode=4)
    return load_impl(impl)


@pytest.fixture
def grade(request, target, rubric):
    """Run one check; record its result; fail the test with the check's message only."""

    def run(check):
        entry = rubric[check.id]
        result = run_check(check, target, entry.points, entry.visibility)
        request.config.stash[RESULTS].append(result)
        if not result.passed:
            pytest.fail(result.text(), pytrace=False)
        return result

    return run


def check_params():
    """pytest parameters for every check, each marked with its exercise."""
    return [pytest.param(c, id=c.id, marks=getattr(pytest.mark, c.exercise)) for c in all_checks()]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(RESULTS, [])
    if not results:
        return
    terminalreporter.section("grade")
    terminalreporter.write_line(f"implementation: {config.getoption('impl')}")
    terminalreporter.write_line(summary_table(results))
    path = config.getoption("results_json")
    if path:
        elapsed = time.perf_counter() - config.stash[STARTED]
        write_json_atomic(path, gradescope_results(results, elapsed))
        terminalreporter.write_line(f"results written to {path}")
