"""The trusted regrade of an nbgrader assignment: grade the submitted files, not the kernel's verdict.

    python -m tools.regrade COURSE_ROOT ASSIGNMENT            # report inflated nbgrader scores
    python -m tools.regrade COURSE_ROOT ASSIGNMENT --write    # and write the trusted scores

In nbgrader the answer cells share a kernel with the test cells, so an answer
cell can patch a check, numpy or IPython itself and pass every test. This
command takes each notebook under COURSE_ROOT/submitted/<student>/ASSIGNMENT/,
keeps only the definitions of its answer cells (tools.notebooks.extract_impl),
grades them outside any notebook kernel with the same checks (in the sandbox of
grader/sandbox.py when present, else in a fresh `python -m grader` process),
and turns the results into points per test cell (`test_<exercise>`, the
rubric's points of the checks that passed). A submission whose nbgrader score is
higher than its trusted score is reported; --write stores the trusted score of
each such test cell in the gradebook as a manual score, which nbgrader's
exports then use. A notebook that cannot be read (not JSON, or a cell whose
metadata or source has the wrong type) is reported and the others are regraded;
its trusted score is 0 in every test cell the gradebook holds for it.
Exit status: 0 when no score is inflated, 1 when one is or a notebook could not
be read, 2 on bad input.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.course_cells import exercise_of_grade_id
from tools.course_config import COURSE_ID
from tools.notebooks import NotebookError, extract_impl, read_cells

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class NotebookRegrade:
    student: str
    notebook: str  # the notebook's name without .ipynb
    nbgrader: dict = field(default_factory=dict)  # grade_id -> nbgrader's score (None: not graded)
    trusted: dict = field(default_factory=dict)  # grade_id -> trusted score
    problem: str = ""  # why the notebook could not be regraded (its trusted scores are then 0)

    def inflated_cells(self):
        return [
            gid
            for gid, trusted in self.trusted.items()
            if self.nbgrader.get(gid) is not None and self.nbgrader[gid] > trusted + 1e-9
        ]

    @property
    def nbgrader_total(self):
        return sum(v or 0.0 for v in self.nbgrader.values())

    @property
    def trusted_total(self):
        return sum(self.trusted.values())


def check_results(impl_dir, exercises):
    """{check id: passed} for the checks of `exercises` on `impl_dir`, graded outside this process's reach."""
    try:
        from grader.sandbox import grade_isolated
    except ImportError:
        grade_isolated = None
    if grade_isolated is not None:
        return {r.id: r.passed for r in grade_isolated(impl_dir, checks=sorted(exercises))}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        subprocess.run(
            [sys.executable, "-m", "grader", "--impl", str(impl_dir), "--json", str(out)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if not out.is_file():
            return {}
        return {t["name"]: t["status"] == "passed" for t in json.loads(out.read_text())["tests"]}


def trusted_points(passed, exercise, rubric, checks):
    """The rubric's points of the checks of `exercise` that passed."""
    return sum(rubric[c.id].points for c in checks if c.exercise == exercise and passed.get(c.id, False))


def test_cells(notebook_path):
    """{grade_id: exercise} of the notebook's autograded test cells (NotebookError if unreadable)."""
    cells = {}
    for cell in read_cells(notebook_path):
        exercise = exercise_of_grade_id(cell.grade_id)
        if cell.is_test and exercise:
            cells[cell.grade_id] = exercise
    return cells


def recorded_test_cells(gradebook, assignment, notebook, student):
    """The grade_ids of the test cells nbgrader holds for a submitted notebook."""
    from nbgrader.api import MissingEntry

    try:
        submitted = gradebook.find_submission_notebook(notebook, assignment, student)
    except MissingEntry:
        return []
    return [g.name for g in submitted.grades if exercise_of_grade_id(g.name)]


def regrade_notebook(path, rubric, checks):
    """{grade_id: trusted points} of one submitted notebook; NotebookError if it cannot be read."""
    cells = test_cells(path)
    known = {c.exercise for c in checks}
    with tempfile.TemporaryDirectory() as tmp:
        impl = extract_impl([path], Path(tmp) / "impl")
        passed = check_results(impl, {ex for ex in cells.values() if ex in known})
    return {gid: trusted_points(passed, ex, rubric, checks) for gid, ex in cells.items()}


def nbgrader_scores(gradebook, assignment, notebook, student, grade_ids):
    """{grade_id: score} as nbgrader recorded it (None when it has no grade)."""
    from nbgrader.api import MissingEntry

    scores = {}
    for gid in grade_ids:
        try:
            scores[gid] = gradebook.find_grade(gid, notebook, assignment, student).score
        except MissingEntry:
            scores[gid] = None
    return scores


def regrade(course_root, assignment, write=False, db_url=None):
    """Regrade every submitted notebook of `assignment`; return a NotebookRegrade per notebook."""
    from nbgrader.api import Gradebook

    from grader.registry import all_checks, load_rubric

    course_root = Path(course_root)
    submitted = course_root / "submitted"
    if not submitted.is_dir():
        raise FileNotFoundError(f"{submitted} does not exist: collect the submissions first")
    rubric, checks = load_rubric(), all_checks()
    db_url = db_url or f"sqlite:///{course_root.resolve() / 'gradebook.db'}"
    found = []
    with Gradebook(db_url, COURSE_ID) as gradebook:
        for student_dir in sorted(p for p in submitted.iterdir() if (p / assignment).is_dir()):
            for path in sorted((student_dir / assignment).glob("*.ipynb")):
                row = NotebookRegrade(student_dir.name, path.stem)
                try:
                    row.trusted = regrade_notebook(path, rubric, checks)
                except NotebookError as error:  # this notebook alone: the others are still regraded
                    row.problem = str(error)
                    cells = recorded_test_cells(gradebook, assignment, path.stem, student_dir.name)
                    row.trusted = dict.fromkeys(cells, 0.0)
                except Exception as error:  # noqa: BLE001 - the regrade's own failure: reported, nothing written
                    row.problem = f"the regrade failed: {type(error).__name__}: {error}"
                row.nbgrader = nbgrader_scores(
                    gradebook, assignment, path.stem, student_dir.name, row.trusted
                )
                if write:
                    for gid in row.inflated_cells():
                        grade = gradebook.find_grade(gid, path.stem, assignment, student_dir.name)
                        grade.manual_score = row.trusted[gid]
                    gradebook.db.commit()
                found.append(row)
    return found


def report(rows, wrote):
    lines = []
    for row in rows:
        inflated = row.inflated_cells()
        mark = "INFLATED" if inflated else ("UNREADABLE" if row.problem else "ok")
        lines.append(
            f"{row.student:<16} {row.notebook:<24} nbgrader {row.nbgrader_total:6g}  trusted {row.trusted_total:6g}  {mark}"
        )
        if row.problem:
            lines.append(f"    could not be regraded: {row.problem}")
        for gid in inflated:
            lines.append(f"    {gid}: nbgrader {row.nbgrader[gid]:g} > trusted {row.trusted[gid]:g}")
    flagged = sum(bool(r.inflated_cells()) for r in rows)
    lines.append(f"{len(rows)} notebook(s) regraded, {flagged} with an nbgrader score above the trusted one")
    unreadable = sum(bool(r.problem) for r in rows)
    if unreadable:
        lines.append(f"{unreadable} notebook(s) could not be read: trusted score 0")
    if flagged:
        lines.append("trusted scores written to the gradebook" if wrote else "rerun with --write to apply")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tools.regrade",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "course_root", help="the nbgrader course directory (with submitted/ and gradebook.db)"
    )
    parser.add_argument("assignment", help="assignment name, e.g. ch4_backprop")
    parser.add_argument(
        "--write", action="store_true", help="write trusted scores of inflated cells to the gradebook"
    )
    args = parser.parse_args(argv)
    root = Path(args.course_root)
    if not (root / "gradebook.db").is_file():
        parser.exit(2, f"error: {root / 'gradebook.db'} not found: autograde the assignment first\n")
    try:
        rows = regrade(root, args.assignment, write=args.write)
    except FileNotFoundError as error:
        parser.exit(2, f"error: {error}\n")
    if not rows:
        parser.exit(2, f"error: no submitted notebooks of {args.assignment} under {root / 'submitted'}\n")
    print(report(rows, args.write))
    return 1 if any(r.inflated_cells() or r.problem for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
