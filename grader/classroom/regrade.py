"""Where an nbgrader gradebook differs from the trusted grader.

    nnkit regrade ASSIGNMENT          (in the course folder, or nnkit --course COURSE_ROOT regrade ...)

`nbgrader autograde` with the course's configuration grades in the sandbox
(grader/classroom/trusted_autograde.py), so its scores are the trusted ones. This command
grades every notebook under COURSE_ROOT/submitted/<student>/ASSIGNMENT/ the same
way (same function, a fresh secret seed) and lists each test cell whose score in the
gradebook differs, up or down: scores from a run without the course's configuration,
from an older kit, manual scores, or a notebook autograde has not seen. It writes
nothing: `nbgrader autograde ASSIGNMENT --force` writes the trusted scores.
A notebook that cannot be read is reported (its trusted score is 0) and the others
are graded. Exit status: 0 when the gradebook agrees, 1 when a score differs or a
notebook could not be read, 2 on bad input.
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from grader.classroom.course_config import COURSE_ID, submitted_students
from grader.classroom.notebooks import NotebookError
from grader.progress import progress as show_progress

WRITE_IS_GONE = (
    "--write is gone: nbgrader autograde now writes the trusted scores itself "
    "(grader/classroom/trusted_autograde.py); run: nbgrader autograde {assignment} --force"
)


@dataclass
class NotebookRegrade:
    student: str
    notebook: str  # the notebook's name without .ipynb
    nbgrader: dict = field(default_factory=dict)  # grade_id -> the gradebook's score (None: not graded)
    trusted: dict = field(default_factory=dict)  # grade_id -> trusted score
    problem: str = ""  # why the notebook could not be graded (its trusted scores are then 0)

    def differing_cells(self):
        return [gid for gid, trusted in self.trusted.items() if self.nbgrader.get(gid) != trusted]

    @property
    def nbgrader_total(self):
        return sum(v or 0.0 for v in self.nbgrader.values())

    @property
    def trusted_total(self):
        return sum(self.trusted.values())


def recorded_test_cells(gradebook, assignment, notebook, student):
    """The grade_ids of the test cells the gradebook holds for a submitted notebook."""
    from nbgrader.api import MissingEntry

    from grader.authoring.course_cells import exercise_of_grade_id

    try:
        submitted = gradebook.find_submission_notebook(notebook, assignment, student)
    except MissingEntry:
        return []
    return [g.name for g in submitted.grades if exercise_of_grade_id(g.name)]


def gradebook_scores(gradebook, assignment, notebook, student, grade_ids):
    """{grade_id: score} as the gradebook holds it (manual score if any; None when not graded)."""
    from nbgrader.api import MissingEntry

    scores = {}
    for gid in grade_ids:
        try:
            scores[gid] = gradebook.find_grade(gid, notebook, assignment, student).score
        except MissingEntry:
            scores[gid] = None
    return scores


def regrade(course_root, assignment, db_url=None, progress=False):
    """Grade every submitted notebook of `assignment`; return a NotebookRegrade per notebook."""
    from nbgrader.api import Gradebook

    from grader.classroom.trusted_autograde import cell_grades

    course_root = Path(course_root)
    submitted = course_root / "submitted"
    students = submitted_students(course_root, assignment)
    db_url = db_url or f"sqlite:///{course_root.resolve() / 'gradebook.db'}"
    found = []
    notebooks = [
        (student_dir, path)
        for student_dir in (submitted / name for name in students)
        for path in sorted((student_dir / assignment).glob("*.ipynb"))
    ]
    with Gradebook(db_url, COURSE_ID) as gradebook:
        for student_dir, path in show_progress(notebooks, "regrading", "notebook", progress):
            row = NotebookRegrade(student_dir.name, path.stem)
            try:
                row.trusted = {gid: g.points for gid, g in cell_grades(path).items()}
            except NotebookError as error:  # this notebook alone: the others are still graded
                row.problem = str(error)
                cells = recorded_test_cells(gradebook, assignment, path.stem, student_dir.name)
                row.trusted = dict.fromkeys(cells, 0.0)
            except Exception as error:  # noqa: BLE001 - the grader's own failure: reported
                row.problem = f"the regrade failed: {type(error).__name__}: {error}"
            row.nbgrader = gradebook_scores(gradebook, assignment, path.stem, student_dir.name, row.trusted)
            found.append(row)
    return found


def report(rows, assignment):
    lines = []
    for row in rows:
        differing = row.differing_cells()
        mark = "DIFFERS" if differing else ("UNREADABLE" if row.problem else "ok")
        lines.append(
            f"{row.student:<16} {row.notebook:<24} gradebook {row.nbgrader_total:6g}  "
            f"trusted {row.trusted_total:6g}  {mark}"
        )
        if row.problem:
            lines.append(f"    could not be graded: {row.problem}")
        for gid in differing:
            held = "not graded" if row.nbgrader[gid] is None else f"{row.nbgrader[gid]:g}"
            lines.append(f"    {gid}: gradebook {held}, trusted {row.trusted[gid]:g}")
    flagged = sum(bool(r.differing_cells()) for r in rows)
    lines.append(
        f"{len(rows)} notebook(s) graded, {flagged} where the gradebook differs from the trusted grader"
    )
    unreadable = sum(bool(r.problem) for r in rows)
    if unreadable:
        lines.append(f"{unreadable} notebook(s) could not be read: trusted score 0")
    if flagged:
        lines.append(f"to store the trusted scores: nbgrader autograde {assignment} --force")
    return "\n".join(lines)


EXAMPLES = """\
examples:
  nnkit regrade ch4_backprop                 the course in the current folder
  nnkit --course ~/course regrade ch1_perceptron
"""


def add_arguments(parser):
    parser.add_argument("assignment", help="assignment name, e.g. ch4_backprop")
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)


class RegradeError(Exception):
    """The course cannot be regraded; the message says why."""


USER_ERRORS = (RegradeError,)  # what nnkit reports as one line, exit status 2


def run(args):
    from grader.authoring.course import needs_nbgrader
    from grader.authoring.course_root import course_root

    if args.write:
        raise RegradeError(WRITE_IS_GONE.format(assignment=args.assignment))
    needs_nbgrader()
    root = course_root()
    if not (root / "gradebook.db").is_file():
        raise RegradeError(f"{root / 'gradebook.db'} not found: autograde the assignment first")
    try:
        rows = regrade(root, args.assignment, progress=not args.quiet)
    except FileNotFoundError as error:
        raise RegradeError(str(error)) from None
    if not rows:
        raise RegradeError(f"no submitted notebooks of {args.assignment} under {root / 'submitted'}")
    print(report(rows, args.assignment))
    return 1 if any(r.differing_cells() or r.problem for r in rows) else 0
