"""The steps the course puts in nbgrader's autograde, one at a time, without nbgrader's pipeline
around them: the sandbox's grade as test-cell outputs, the refusal to grade unisolated, and
the manual-score record (the whole pipeline runs in tests/test_course_roundtrip.py)."""

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the course needs nbgrader: pip install -e '.[instructor]'")
pytest.importorskip("nbgrader", reason="the course needs nbgrader: pip install -e '.[instructor]'")

from nbgrader.utils import determine_grade  # noqa: E402

from grader import sandbox  # noqa: E402
from grader.authoring.course_cells import exercise_of_grade_id  # noqa: E402
from grader.classroom import trusted_autograde  # noqa: E402
from grader.classroom.trusted_autograde import GradeInSandbox, IsolationUnavailable, answers_digest  # noqa: E402
from grader.registry import all_checks, load_rubric  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "ch2_activations"
RUBRIC = load_rubric()


def release(chapter=CHAPTER):
    return nbformat.read(str(ROOT / "release" / chapter / f"{chapter}.ipynb"), as_version=4)


def solved(chapter=CHAPTER):
    """The release notebook with the master's answers in its answer cells."""
    source = nbformat.read(str(ROOT / "source" / chapter / f"{chapter}.ipynb"), as_version=4)
    answers = {
        c.metadata.nbgrader.grade_id: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = release(chapter)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def resources(student="alice"):
    return {
        "nbgrader": {"student": student, "notebook": CHAPTER, "assignment": CHAPTER, "db_url": "sqlite://"}
    }


def exercise_points(exercise):
    return sum(RUBRIC[c.id].points for c in all_checks() if c.exercise == exercise)


def test_test_cells_get_the_sandbox_points_as_nbgrader_reads_them():
    nb = solved()
    cell(nb, "answer_relu").source = "def relu(x):\n    return x\n"  # wrong: relu loses its points
    nb, _ = GradeInSandbox().preprocess(nb, resources())
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        meta = c.metadata.get("nbgrader", {})
        if not (meta.get("grade") and not meta.get("solution")):
            assert c.outputs == []  # nothing ran: no demo, no answer cell
            continue
        exercise = exercise_of_grade_id(meta["grade_id"])
        score, max_score = determine_grade(c)
        assert max_score == meta["points"] == exercise_points(exercise)
        if exercise == "relu":
            assert score < max_score
            text = "".join(o.get("text", "") for o in c.outputs)
            assert "[relu.values] (1 pt) relu(x) is wrong" in text  # the message a student sees locally
        else:
            assert score == max_score, exercise
        assert not [o for o in c.outputs if o.output_type == "error" or o.get("name") == "stderr"]
        assert "BEGIN HIDDEN TESTS" not in c.source and "globals(), hidden=True" not in c.source


def test_a_notebook_that_cannot_be_read_costs_its_test_cells_with_the_reason():
    nb = solved()
    cell(nb, "answer_relu").metadata.nbgrader.grade_id = ["answer_relu"]
    nb, _ = GradeInSandbox().preprocess(nb, resources())
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") is True]
    assert tests
    for c in tests:
        assert determine_grade(c)[0] == 0
        assert "could not be graded" in "".join(o.get("text", "") for o in c.outputs)


def test_without_isolation_it_refuses_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "available_isolation", lambda: "basic")
    with pytest.raises(IsolationUnavailable, match="allow_unisolated"):
        GradeInSandbox().preprocess(solved(), resources())
    nb, _ = GradeInSandbox(allow_unisolated=True).preprocess(release(), resources())
    assert all(
        determine_grade(c)[0] == 0 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") is True
    )


def test_the_answers_digest_follows_the_answers_only():
    nb = solved()
    digest = answers_digest(nb)
    cell(nb, "test_relu").outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    nb.cells[0].source += "\nmore text"
    assert answers_digest(nb) == digest
    cell(nb, "answer_relu").source += "\n# changed"
    assert answers_digest(nb) != digest


def test_an_unreadable_record_stops_with_its_path(tmp_path):
    path = tmp_path / "gradebook.manual-scores.json"
    path.write_text("{not json")
    with pytest.raises(RuntimeError, match="manual-scores.json"):
        trusted_autograde.read_record(path)
    trusted_autograde.write_record(path, {"a/b/c": "0" * 64})
    assert json.loads(path.read_text()) == {"a/b/c": "0" * 64}
    assert trusted_autograde.manual_record_path(f"sqlite:///{tmp_path}/gradebook.db") == path
    assert trusted_autograde.manual_record_path("postgresql://host/db") is None


def test_points_above_the_cells_own_are_capped_with_a_warning(caplog):
    """A release made before a rubric change: the cell's points are what nbgrader can store."""
    nb = solved()
    cell(nb, "test_relu").metadata.nbgrader.points = 1
    with caplog.at_level("WARNING"):
        nb, _ = GradeInSandbox().preprocess(nb, resources())
    assert determine_grade(cell(nb, "test_relu")) == (1.0, 1.0)
    assert "capped" in caplog.text
