"""exercises/ is generated from solutions/: it must be up to date and hold no solution line."""

import importlib
from pathlib import Path

import pytest

import solutions
from grader.authoring.regions import find_regions, solution_lines, strip_solutions
from grader.authoring.stubs import expected_stubs, stale_files

ROOT = Path(__file__).resolve().parent.parent
MASTER, STUBS = ROOT / "solutions", ROOT / "exercises"


def test_exercises_are_up_to_date():
    stale = stale_files(ROOT)
    assert not stale, f"run `nnkit course stubs`; out of date: {stale}"


def test_no_solution_line_reaches_the_stubs():
    leaks = []
    for path in MASTER.rglob("*.py"):
        secret = solution_lines(path.read_text(), str(path))
        stub = {line.strip() for line in (STUBS / path.relative_to(MASTER)).read_text().splitlines()}
        leaks += [f"{path.name}: {line}" for line in sorted(secret & stub)]
    assert not leaks, "solution lines found in exercises/:\n" + "\n".join(leaks)


def test_every_student_name_is_a_stub():
    """Each exported exercise raises NotImplementedError somewhere in the stubs."""
    stub_text = "\n".join(text for text in expected_stubs(MASTER).values())
    for name in solutions.__all__:
        if name == "Layer":
            continue
        assert f'NotImplementedError("{name}' in stub_text, f"{name} has no stub"


def test_exercises_export_the_same_api():
    exercises = importlib.import_module("exercises")
    assert exercises.__all__ == solutions.__all__
    for name in solutions.__all__:
        assert hasattr(exercises, name), name


def test_stub_messages_name_the_method():
    source = (
        "def f(x):\n    y = x\n    ### BEGIN SOLUTION: double it\n    return 2 * y\n    ### END SOLUTION\n"
    )
    assert strip_solutions(source) == 'def f(x):\n    y = x\n    raise NotImplementedError("f: double it")\n'


def test_module_level_region_becomes_a_comment():
    source = "### BEGIN SOLUTION: helpers go here\ndef helper():\n    return 1\n### END SOLUTION\n"
    assert strip_solutions(source) == "# helpers go here\n"


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1\n",
        "x = 1\n### END SOLUTION\n",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n",
    ],
)
def test_unbalanced_markers_are_rejected(source):
    with pytest.raises(ValueError, match="SOLUTION"):
        find_regions(source)
