"""The instructor's round trip with real nbgrader and real kernels, in a temporary copy of the course.

generate_assignment -> submissions -> autograde -> generate_feedback -> trusted regrade,
on chapter 2 (the other chapters' notebooks are executed once in tests/test_course.py).
"""

import html
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="the course needs nbgrader/jupyter: pip install -e '.[instructor]'"
)
pytest.importorskip("nbgrader", reason="the course needs nbgrader: pip install -e '.[instructor]'")

from tools import regrade  # noqa: E402
from tools.course import nbgrader_api  # noqa: E402
from tools.course_cells import HIDDEN_SEED  # noqa: E402
from tools.course_config import COURSE_ID  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ch2_activations"
FULL = 14.0  # step 2 + sigmoid 3 + relu 2 + tanh 2 + softmax 5
CELL_TIMEOUT = 8  # short, so the infinite loop below costs little test time

NAIVE_SIGMOID = """
def sigmoid(x):
    x = as_float_array(x)
    return 1.0 / (1.0 + np.exp(-x))
"""
PATCH_CHECKS = """
from grader import registry
for _check in list(registry.CHECKS.values()):
    object.__setattr__(_check, "function", lambda target: None)
"""
PATCH_NUMPY = """
import numpy
numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
def step(x):
    return np.zeros(np.shape(x), dtype=np.int64)
"""
TRANSFORMER = """
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
"""
LOOP = """
while True:
    pass
"""


def answers(path):
    nb = nbformat.read(str(path), as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


SOLVED = answers(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
STUDENTS = {  # student -> (answer cells replaced, nbgrader score expected)
    "correct": (SOLVED, FULL),
    "untouched": ({}, 0.0),
    "half": ({k: SOLVED[k] for k in ("answer_step", "answer_relu")}, 4.0),
    "naive": ({**SOLVED, "answer_sigmoid": NAIVE_SIGMOID}, FULL - 1),  # sigmoid.stable is lost, values kept
    "looping": ({**SOLVED, "answer_relu": LOOP}, FULL - 2),  # the loop costs only relu's cell
    "patch_checks": ({"answer_relu": PATCH_CHECKS}, None),
    "patch_numpy": ({"answer_step": PATCH_NUMPY}, None),
    "transformer": ({"answer_step": TRANSFORMER}, None),
}
TAMPERED = {"patch_checks", "patch_numpy", "transformer"}
TRUSTED = {"patch_checks": 0.0, "patch_numpy": 1.0, "transformer": 0.0}  # patch_numpy: step.dtype holds


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A graded course: {student: nbgrader score}, plus its root and API."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT)
    api = nbgrader_api(root, cell_timeout=CELL_TIMEOUT)
    assert api.generate_assignment(ASSIGNMENT, force=True, create=True)["success"]
    release = root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert release.read_text() == (ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    for student, (replaced, _) in STUDENTS.items():
        nb = nbformat.read(str(release), as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in replaced:
                cell.source = replaced[gid]
        dest = root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        dest.parent.mkdir(parents=True)
        nbformat.write(nb, str(dest))
        result = api.autograde(ASSIGNMENT, student, force=True, create=True)
        assert result["success"], result.get("log")
    return root, api


def scores(root):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        return {
            s: (gb.find_submission(ASSIGNMENT, s).score, gb.find_submission(ASSIGNMENT, s).needs_manual_grade)
            for s in STUDENTS
        }


def test_autograde_scores_exactly_the_points_of_the_done_parts(course):
    root, _ = course
    got = scores(root)
    for student, (_, expected) in STUDENTS.items():
        score, manual = got[student]
        assert not manual, f"{student}: needs manual grading"
        if expected is not None:
            assert score == expected, student


def test_untouched_release_executes_every_cell(course):
    root, _ = course
    nb = nbformat.read(str(root / "autograded" / "untouched" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), 4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.get("execution_count") for c in code)


def test_a_numpy_warning_reaches_no_stderr_and_becomes_a_note(course):
    root, _ = course
    nb = nbformat.read(str(root / "autograded" / "naive" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), 4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_sigmoid")
    assert not [o for o in cell.outputs if o.get("name") == "stderr" or o.output_type == "error"]
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert "[sigmoid.stable]" in text and "overflow" in text
    result = next(o for o in cell.outputs if o.output_type == "execute_result")
    assert float(result.data["text/plain"]) == 2.0


def test_the_tampers_inflate_nbgrader_scores(course):
    """The reason for the trusted regrade: nbgrader believes the kernel."""
    root, _ = course
    got = scores(root)
    for student in TAMPERED:
        assert got[student][0] > TRUSTED[student], student


def test_feedback_never_shows_hidden_tests(course):
    root, api = course
    graded = root / "autograded" / "correct" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert f"hidden_seed={HIDDEN_SEED}" in graded.read_text()  # autograde ran the hidden tests
    for student in ("correct", "untouched", "half"):
        assert api.generate_feedback(ASSIGNMENT, student)["success"]
        page = (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        assert "grade('sigmoid', globals())" in text  # the visible test lines are there
        for secret in (str(HIDDEN_SEED), "HIDDEN TESTS"):
            assert secret not in text, f"{student}: {secret!r} in the feedback"


def test_regrade_catches_every_tamper_and_writes_the_trusted_score(course, capsys):
    root, _ = course
    rows = {r.student: r for r in regrade.regrade(root, ASSIGNMENT)}
    assert {s for s, r in rows.items() if r.inflated_cells()} == TAMPERED
    for student, trusted in TRUSTED.items():
        assert rows[student].trusted_total == trusted
    for student in ("correct", "half", "naive", "untouched"):
        assert rows[student].trusted_total == rows[student].nbgrader_total == STUDENTS[student][1]

    assert regrade.main([str(root), ASSIGNMENT, "--write"]) == 1
    assert "INFLATED" in capsys.readouterr().out
    got = scores(root)
    for student, trusted in TRUSTED.items():
        assert got[student][0] == trusted
    assert got["correct"][0] == FULL
    assert regrade.main([str(root), ASSIGNMENT]) == 0


def test_regrade_reports_bad_input_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        regrade.main([str(tmp_path), ASSIGNMENT])
    assert exit_info.value.code == 2
    assert "gradebook.db" in capsys.readouterr().err
