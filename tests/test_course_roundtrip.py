"""The instructor's round trip with real nbgrader and the course's configuration, in a temporary course.

generate_assignment -> submissions -> nbgrader autograde (graded in the sandbox, no kernel)
-> generate_feedback -> export. Every chapter: full, blank and half-done submissions.
Chapter 2: submissions that tamper, resubmissions and manual scores, and a class with
broken notebooks graded by the `nbgrader autograde` command itself.
"""

import csv
import hashlib
import html
import json
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="the course needs nbgrader/jupyter: pip install -e '.[instructor]'"
)
pytest.importorskip("nbgrader", reason="the course needs nbgrader: pip install -e '.[instructor]'")

from grader import cli  # noqa: E402
from grader.authoring.course import chapter_names  # noqa: E402
from grader.authoring.course_cells import exercise_of_grade_id  # noqa: E402
from grader.authoring.regions import solution_lines  # noqa: E402
from grader.classroom.course_config import COURSE_ID  # noqa: E402
from grader.classroom.notebooks import extract_impl  # noqa: E402
from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.results import run_check  # noqa: E402
from grader.sandbox import available_isolation  # noqa: E402
from grader.target import load_impl  # noqa: E402
from tests.nbgrader_course import (  # noqa: E402
    autograde,
    cell_points,
    nbgrader_cli,
    new_course,
    notebook_path,
    scores,
    solution_cells,
    submit,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        available_isolation() != "namespaces", reason="trusted autograde needs namespaces here"
    ),
]

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = chapter_names()
ASSIGNMENT = "ch2_activations"
RUBRIC = load_rubric()
KIT_DIRS = ("grader", "solutions", "exercises", "course")


def in_process_total(path):
    """What the grader gives the answer cells' definitions in this process (honest code only)."""
    tests = {exercise_of_grade_id(g) for g in cell_points(path.parent.name)}
    with tempfile.TemporaryDirectory() as tmp:
        target = load_impl(extract_impl([path], Path(tmp) / "impl"))
        return sum(
            RUBRIC[c.id].points for c in all_checks() if c.exercise in tests and run_check(c, target).passed
        )


def grade_rows(root, students):
    """(student, assignment, grade_id, auto_score, manual_score) rows of `students`, straight from sqlite."""
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute(
            "SELECT student.id, assignment.name, base_cell.name, grade.auto_score, grade.manual_score "
            "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id "
            "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
            "JOIN base_cell ON grade.cell_id = base_cell.id ORDER BY 1, 2, 3"
        ).fetchall()
    return [r for r in rows if r[0] in students]


def kit_digest():
    digest = hashlib.sha256()
    for folder in KIT_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- every chapter
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Every chapter: a full, a blank and a half-done submission, autograded."""
    root = tmp_path_factory.mktemp("course")
    api = new_course(root, CHAPTERS)
    expected = {}
    for chapter in CHAPTERS:
        solved, full = solution_cells(chapter), sum(cell_points(chapter).values())
        for parity in (0, 1):  # every other answer cell, whichever half earns some points
            half = {gid: code for i, (gid, code) in enumerate(sorted(solved.items())) if i % 2 == parity}
            expected[chapter, "half"] = in_process_total(submit(root, "half", chapter, half))
            if 0 < expected[chapter, "half"] < full:
                break
        submit(root, "full", chapter, solved)
        submit(root, "blank", chapter, {})
        expected[chapter, "full"], expected[chapter, "blank"] = full, 0
        for student in ("full", "blank", "half"):
            autograde(api, chapter, student)
    return root, api, expected


def test_every_chapter_scores_full_blank_and_half_done_exactly(course):
    root, _, expected = course
    for chapter in CHAPTERS:
        got = scores(root, chapter, ["full", "blank", "half"])
        assert got["blank"] == 0, chapter
        assert got["full"] == expected[chapter, "full"], chapter
        assert 0 < got["half"] < got["full"], chapter
        assert got["half"] == expected[chapter, "half"], chapter


def test_autograded_notebooks_hold_results_not_runs(course):
    root, _, _ = course
    for chapter in CHAPTERS:
        nb = nbformat.read(str(notebook_path(root, "autograded", "blank", chapter)), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code":
                continue
            assert "BEGIN HIDDEN TESTS" not in cell.source and "globals(), hidden=True" not in cell.source
            if meta.get("grade") and not meta.get("solution"):
                assert [o.output_type for o in cell.outputs][-1] == "execute_result"
                assert not [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"]
            else:
                assert cell.outputs == [], "a demo or answer cell ran"


def test_feedback_shows_messages_and_withholds_hidden_tests(course):
    root, api, _ = course
    layers = ROOT / "solutions" / "layers.py"
    secrets = [line for line in solution_lines(layers.read_text(), str(layers)) if len(line) > 25]
    assert secrets
    for chapter in ("ch4_backprop", "ch7_cnn"):
        assert api.generate_feedback(chapter, "blank")["success"]
        page = (root / "feedback" / "blank" / chapter / f"{chapter}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        assert re.search(r"grade\('\w+', globals\(\)\)", text)  # the visible test lines
        assert "not implemented" in text.lower() or "notimplementederror" in text.lower()
        for secret in ("BEGIN HIDDEN TESTS", "globals(), hidden=True", "grader.hidden", *secrets):
            assert secret not in text, f"{chapter}: {secret!r} in the feedback"
    page = (root / "feedback" / "blank" / "ch7_cnn" / "ch7_cnn.html").read_text()
    assert "failed a hidden test" in html.unescape(page)  # hidden checks: name, points, pass/fail


def test_export_holds_the_gradebook_scores(course):
    root, _, expected = course
    done = nbgrader_cli(root, "export")
    assert done.returncode == 0, done.stderr[-2000:]
    with open(root / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        key = (row["assignment"], row["student_id"])
        if key in expected:
            assert float(row["raw_score"]) == expected[key], key


# ----------------------------------------------------------------------------- tampering
NAIVE_EXIT = "import os\nos._exit(0)\n"
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
TRANSFORMER = 'get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])\n'
SHADOWED = "isinstance = lambda *args: True\nlen = lambda x: 0\n"


def relu_doing(body):
    """An answer_relu cell whose relu does `body` first, then answers right."""
    return f"def relu(x):\n{body}\n    return np.maximum(as_float_array(x), 0.0)\n"


SECRET_FILES = [ROOT / "solutions" / "layers.py", ROOT / "grader" / "hidden" / "losses.py"]


def tampering_students(db_path):
    solved = solution_cells(ASSIGNMENT)
    reads = "; ".join(f"print(open({str(p)!r}).read())" for p in SECRET_FILES)
    return {  # student -> answer cells handed in
        "honest": solved,
        "patch_checks": {"answer_relu": PATCH_CHECKS},
        "patch_numpy": {"answer_step": PATCH_NUMPY},
        "transformer": {"answer_step": TRANSFORMER},
        "exit_at_top": {**solved, "answer_relu": NAIVE_EXIT + solved["answer_relu"]},
        "exit_in_relu": {**solved, "answer_relu": relu_doing("    raise SystemExit(0)")},
        "fake_assert": {**solved, "answer_relu": relu_doing("    raise AssertionError('passed')")},
        "shadowed": {**solved, "answer_relu": SHADOWED + solved["answer_relu"]},
        "own_grades": {
            **solved,
            "answer_relu": relu_doing(
                f"    import sqlite3\n    sqlite3.connect({str(db_path)!r}).execute("
                "'UPDATE grade SET manual_score = 99').connection.commit()"
            ),
        },
        "kit_file": {
            **solved,
            "answer_relu": relu_doing(
                f"    open({str(ROOT / 'grader' / 'results.py')!r}, 'a').write('# full marks')"
            ),
        },
        "print_secrets": {**solved, "answer_relu": relu_doing(f"    {reads}")},
    }


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    root = tmp_path_factory.mktemp("tampered")
    api = new_course(root, [ASSIGNMENT])
    submit(root, "bystander", ASSIGNMENT, solution_cells(ASSIGNMENT))
    autograde(api, ASSIGNMENT, "bystander")
    before = grade_rows(root, {"bystander"}), kit_digest()
    students = tampering_students(root / "gradebook.db")
    for student, cells in students.items():
        submit(root, student, ASSIGNMENT, cells)
        autograde(api, ASSIGNMENT, student)
    return root, api, students, before


def test_tampering_earns_only_the_honest_score(tampered):
    root, _, students, _ = tampered
    full = sum(cell_points(ASSIGNMENT).values())
    relu = cell_points(ASSIGNMENT)["test_relu"]
    expected = {
        "honest": full,
        "patch_checks": 0,
        "transformer": 0,
        "patch_numpy": in_process_total(notebook_path(root, "submitted", "patch_numpy", ASSIGNMENT)),
        "exit_at_top": full,  # top-level statements are not graded
        "exit_in_relu": full - relu,
        "fake_assert": full - relu,
        "shadowed": in_process_total(notebook_path(root, "submitted", "shadowed", ASSIGNMENT)),
        "own_grades": full - relu,  # the gradebook is not there to write
        "kit_file": full - relu,  # nor is the kit
        "print_secrets": full - relu,  # nor are the solutions and hidden checks
    }
    assert scores(root, ASSIGNMENT, students) == expected


def test_tampering_leaves_the_kit_and_other_grades_as_they_were(tampered):
    root, _, _, (rows, digest) = tampered
    assert grade_rows(root, {"bystander"}) == rows
    assert kit_digest() == digest
    assert not [r for r in grade_rows(root, {"own_grades"}) if r[4] is not None]  # no manual score appeared


def test_printed_secrets_reach_no_feedback(tampered):
    root, api, _, _ = tampered
    assert api.generate_feedback(ASSIGNMENT, "print_secrets")["success"]
    page = (root / "feedback" / "print_secrets" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "[relu." in text  # relu crashed: it could not open the files
    for path in SECRET_FILES:
        lines = [line.strip() for line in path.read_text().splitlines() if len(line.strip()) > 30]
        assert lines and not [line for line in lines if line in text], path


def test_regrade_reports_agreement_after_trusted_autograde(tampered, capsys):
    root, _, students, _ = tampered
    assert cli.main(["--course", str(root), "regrade", ASSIGNMENT]) == 0, capsys.readouterr().out
    assert "0 where the gradebook differs" in capsys.readouterr().out


# ----------------------------------------------------------------------------- resubmissions
def set_manual(root, student, grade_id, score):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, student).manual_score = score
        gb.db.commit()


def test_resubmissions_move_scores_both_ways_and_manual_scores_follow_their_submission(tmp_path):
    api = new_course(tmp_path, [ASSIGNMENT])
    solved, full = solution_cells(ASSIGNMENT), sum(cell_points(ASSIGNMENT).values())
    relu = cell_points(ASSIGNMENT)["test_relu"]

    def resubmit(cells):
        submit(tmp_path, "resub", ASSIGNMENT, cells)
        return autograde(api, ASSIGNMENT, "resub")

    resubmit({})
    assert scores(tmp_path, ASSIGNMENT, ["resub"])["resub"] == 0
    resubmit(solved)
    assert scores(tmp_path, ASSIGNMENT, ["resub"])["resub"] == full  # up
    set_manual(tmp_path, "resub", "test_relu", 0.5)  # the instructor's own call on this submission
    resubmit(solved)  # the same answers again: the manual score stays
    assert scores(tmp_path, ASSIGNMENT, ["resub"])["resub"] == full - relu + 0.5
    log = resubmit({**solved, "answer_relu": solved["answer_relu"] + "\n# second try"})
    assert scores(tmp_path, ASSIGNMENT, ["resub"])["resub"] == full  # given on an earlier submission: gone
    assert "manual score 0.5 removed" in log
    resubmit({})
    assert scores(tmp_path, ASSIGNMENT, ["resub"])["resub"] == 0  # down


def test_a_sabotaged_gradebook_is_repaired(tmp_path):
    """Scores written into the gradebook when autograde still ran cells (or by the old regrade --write)."""
    api = new_course(tmp_path, [ASSIGNMENT])
    solved, points = solution_cells(ASSIGNMENT), cell_points(ASSIGNMENT)
    submit(tmp_path, "victim", ASSIGNMENT, solved)
    submit(tmp_path, "cheat", ASSIGNMENT, {})
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", COURSE_ID) as gb:
        for student, score in (("victim", 0.0), ("cheat", None)):
            gb.update_or_create_student(student)
            gb.update_or_create_submission(ASSIGNMENT, student)
            for gid, most in points.items():
                grade = gb.find_grade(gid, ASSIGNMENT, ASSIGNMENT, student)
                grade.manual_score, grade.auto_score = (score if score is not None else most), most
        gb.db.commit()
    for student in ("victim", "cheat"):
        autograde(api, ASSIGNMENT, student)
    assert scores(tmp_path, ASSIGNMENT, ["victim", "cheat"]) == {"victim": sum(points.values()), "cheat": 0}


# ----------------------------------------------------------------------------- a class with broken notebooks
def broken_class():
    """{student: notebook JSON text} for notebooks that cannot be graded, and one honest one."""
    release = json.loads((ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    solved = solution_cells(ASSIGNMENT)

    def variant(change):
        nb = json.loads(json.dumps(release))
        for cell in nb["cells"]:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in solved:
                cell["source"] = solved[gid]
        change(nb)
        return json.dumps(nb)

    def answer(nb, gid="answer_relu"):
        return next(
            c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid
        )

    def put(cell, key, value):
        cell["metadata"]["nbgrader"][key] = value

    return {
        "z_honest": variant(lambda nb: None),  # graded after every broken one
        "not_json": "{ this is not a notebook",
        "list_grade_id": variant(lambda nb: put(answer(nb), "grade_id", ["answer_relu"])),
        "int_grade_id": variant(lambda nb: put(answer(nb, "test_relu"), "grade_id", 7)),
        "source_number": variant(lambda nb: answer(nb).__setitem__("source", 42)),
        "old_schema": variant(lambda nb: put(answer(nb), "schema_version", 1)),
        "no_cells": json.dumps({**release, "cells": []}),
    }


def test_the_autograde_command_grades_a_class_with_broken_notebooks(tmp_path):
    """Every broken notebook scores 0 with its reason named, even one that replaces an honest
    submission graded before (int_grade_id), and the honest student graded last gets full marks."""
    api = new_course(tmp_path, [ASSIGNMENT])
    submit(tmp_path, "int_grade_id", ASSIGNMENT, solution_cells(ASSIGNMENT))
    autograde(api, ASSIGNMENT, "int_grade_id")
    assert scores(tmp_path, ASSIGNMENT, ["int_grade_id"])["int_grade_id"] > 0
    students = broken_class()
    for student, text in students.items():
        path = notebook_path(tmp_path, "submitted", student, ASSIGNMENT)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    done = nbgrader_cli(tmp_path, "autograde", ASSIGNMENT, "--force")
    log = done.stdout + done.stderr
    assert f"z_honest: submission {len(students)} of {len(students)} of {ASSIGNMENT}" in log  # progress
    got = scores(tmp_path, ASSIGNMENT, ["z_honest"])
    assert got["z_honest"] == sum(cell_points(ASSIGNMENT).values()), log[-3000:]
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", COURSE_ID) as gb:
        for student in set(students) - {"z_honest"}:
            try:
                score = gb.find_submission(ASSIGNMENT, student).score
            except MissingEntry:
                score = 0.0
            assert score == 0, (student, log[-3000:])
            assert student in log, f"{student} is not named in the log"
    assert "int_grade_id: ch2_activations.ipynb: cell" in log  # the earlier score did not stay


def test_nnkit_autograde_grades_every_submission_in_the_sandbox(tmp_path, capsys):
    """`nnkit autograde` runs nbgrader's autograde with the trusted pipeline even where the course's
    own nbgrader_config.py is plain nbgrader: no cell runs, a broken notebook is named and scores 0,
    the rest go on."""
    new_course(tmp_path, [ASSIGNMENT])
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")  # nothing of the kit's
    submit(tmp_path, "honest", ASSIGNMENT, solution_cells(ASSIGNMENT))
    path = notebook_path(tmp_path, "submitted", "broken", ASSIGNMENT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not a notebook")
    assert cli.main(["--course", str(tmp_path), "autograde", ASSIGNMENT, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"autograded 1 of 2 submissions of {ASSIGNMENT}; failed: broken\n"
    assert "broken: not graded" in captured.err and "not appear to be JSON" in captured.err
    got = scores(tmp_path, ASSIGNMENT, ["honest", "broken"])
    assert got == {"honest": sum(cell_points(ASSIGNMENT).values()), "broken": 0}
    assert cli.main(["--course", str(tmp_path), "autograde", ASSIGNMENT, "--student", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_regrade_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert cli.main(["--course", str(tmp_path), "regrade", ASSIGNMENT]) == 2
    err = capsys.readouterr().err
    assert "gradebook.db" in err and len(err.strip().splitlines()) == 1
