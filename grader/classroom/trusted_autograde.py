"""`nbgrader autograde`, graded where student code cannot reach.

nbgrader's own autograde runs every answer cell in a kernel with the instructor's
rights, in the course folder, sharing that kernel with the test cells. The course's
configuration (grader/classroom/course_config.py) swaps three steps of its pipeline:

- `GradeInSandbox` replaces `Execute`. It reads the notebook as data, takes the answer
  cells by grade_id (grader.classroom.notebooks.extract_impl), grades them in the sandbox with the
  live checks and a fresh secret seed (grader.sandbox.grade_isolated), and writes each
  test cell's output: the points as the cell's result (nbgrader's partial credit), the
  failure messages and hints of the public checks, and only the name, points and
  pass/fail of the hidden ones. No cell runs; demo cells and plots cost nothing.
- `KeepManualScores` follows `SaveAutoGrades`: a manual score on a test cell counts for
  the submission it was given on (see its docstring).
- `CheckCellMetadata` replaces nbgrader's: a notebook whose metadata claims another
  schema version fails alone instead of stopping the run.
- `before_each_submission`, the pre-convert hook: says which submission of how many
  is next, and gives a submitted notebook that cannot be graded 0 in every cell, with
  the reason in the log (nbgrader then fails on it alone), instead of keeping the
  score of an earlier submission.

nbgrader's `SaveAutoGrades`, late penalties, timestamps, `autograded/` notebooks,
feedback and exports work as usual on what these steps leave.
"""

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Bool

from grader.authoring.course_cells import exercise_of_grade_id
from grader.classroom.notebooks import NotebookError, extract_impl, read_cells
from grader.files import replaced

SCHEMA_VERSION = 3  # nbgrader's cell metadata format
UNISOLATED = (
    "this machine cannot isolate student code (no Linux namespaces for this user): "
    "graded here, a submission would run as you, with your files and the gradebook. "
    "Grade on a machine with user namespaces (or as root), or set "
    "c.GradeInSandbox.allow_unisolated = True in nbgrader_config.py to accept that risk."
)


class IsolationUnavailable(RuntimeError):
    """Student code could be graded here only without the sandbox's walls, and nobody allowed that."""


@dataclass
class CellGrade:
    """The trusted grade of one test cell."""

    points: float
    lines: list = field(default_factory=list)  # what the student reads under the cell


def submitter(path):
    """(student, assignment) of a notebook at submitted/<student>/<assignment>/<notebook>.ipynb."""
    folder = Path(path).parent
    return folder.parent.name, folder.name


def test_cells(path):
    """{grade_id: exercise} of the autograded test cells of the notebook at `path` (NotebookError)."""
    return {c.grade_id: exercise_of_grade_id(c.grade_id) for c in read_cells(path) if c.is_test}


def cell_grades(path, seed=None, limits=None):
    """{grade_id: CellGrade} for the test cells of the notebook at `path`, graded in the sandbox.

    Only definitions of answer cells are graded (extract_impl); a test cell's points are the
    rubric's points of its exercise's checks that passed. seed None: a fresh secret one.
    Raises NotebookError if the notebook cannot be read as a submission.
    """
    from grader.registry import all_checks, load_rubric
    from grader.sandbox import grade_isolated

    cells = test_cells(path)
    rubric, known = load_rubric(), {c.exercise for c in all_checks()}
    exercises = sorted({ex for ex in cells.values() if ex in known})
    results = []
    if exercises:
        with tempfile.TemporaryDirectory(prefix="nbgrade-") as tmp:
            impl = extract_impl([path], Path(tmp) / "impl")
            results = grade_isolated(impl, checks=exercises, rubric=rubric, seed=seed, limits=limits)
    grades = {}
    for grade_id, exercise in cells.items():
        if exercise not in known:
            grades[grade_id] = CellGrade(0.0, [f"the grader has no checks for {exercise!r}"])
            continue
        mine = [r for r in results if r.exercise == exercise]
        lines = []
        for r in mine:
            if r.passed:
                continue
            if r.visibility != "visible":  # a hidden check (the rubric and grader/hidden/ agree)
                lines.append(f"[{r.id}] ({r.max_points:g} pt) failed a hidden test")
            else:
                lines.append(f"[{r.id}] ({r.max_points:g} pt) {r.text()}")
        grades[grade_id] = CellGrade(float(sum(r.points for r in mine if r.passed)), lines)
    return grades


def is_test_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(meta, dict) and meta.get("grade") is True and meta.get("solution") is not True


def answers_digest(nb):
    """sha256 of the answer cells of a notebook: what "the same submission" means for a manual score."""
    answers = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("solution") is True:
            answers.append([str(meta.get("grade_id")), str(cell.get("source", ""))])
    return hashlib.sha256(json.dumps(answers).encode("utf-8", "surrogatepass")).hexdigest()


class GradeInSandbox(NbGraderPreprocessor):
    """Grade the answer cells in the sandbox and write every test cell's output (replaces Execute)."""

    allow_unisolated = Bool(
        False,
        help="Grade even where student code cannot be isolated (it then runs as the instructor).",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        from grader.sandbox import available_isolation

        if available_isolation() == "basic" and not self.allow_unisolated:
            raise IsolationUnavailable(UNISOLATED)
        info = resources.get("nbgrader", {})
        where = f"{info.get('student', '?')}/{info.get('notebook', '?')}"
        with tempfile.TemporaryDirectory(prefix="nbgrade-") as tmp:
            path = Path(tmp) / f"{info.get('notebook', 'notebook')}.ipynb"
            nbformat.write(nb, str(path))
            try:
                grades = cell_grades(path)
                problem = None
            except NotebookError as error:
                grades, problem = {}, f"this notebook could not be graded: {error}"
                self.log.warning("%s: %s", where, problem)
        hidden_tests = ClearHiddenTests(parent=self)
        count = 0
        for cell in nb.cells:
            if cell.get("cell_type") != "code":
                continue
            cell.outputs, cell.execution_count = [], None
            if not is_test_cell(cell):
                continue
            count += 1
            grade = grades.get(cell.metadata.nbgrader.get("grade_id"))
            if grade is None:
                grade = CellGrade(0.0, [problem or "this test cell is not one of the course's"])
            most = cell.metadata.nbgrader.get("points")
            if isinstance(most, (int, float)) and grade.points > most:  # the rubric changed since the release
                self.log.warning(
                    "%s: %s: %g points by the rubric, the cell holds %g: capped (rebuild the course?)",
                    where,
                    cell.metadata.nbgrader.get("grade_id"),
                    grade.points,
                    most,
                )
                grade.points = float(most)
            try:
                hidden_tests._remove_hidden_test_region(cell)  # its code never reaches feedback
            except RuntimeError:
                cell.source = ""
            cell.outputs = cell_outputs(grade, count)
            cell.execution_count = count
        total = sum(g.points for g in grades.values())
        self.log.info("%s graded in the sandbox: %g points", where, total)
        return nb, resources


def cell_outputs(grade, count):
    """stdout with what to fix (never stderr, which nbgrader scores 0), then the points as the result."""
    outputs = []
    if grade.lines:
        text = "\n".join(grade.lines) + "\n"
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    result = {"text/plain": repr(float(grade.points))}
    outputs.append(nbformat.v4.new_output("execute_result", data=result, execution_count=count))
    return outputs


def manual_record_path(db_url):
    """Where the record of graded submissions lives: beside an sqlite gradebook."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return None
    return Path(db_url[len(prefix) :]).with_suffix(".manual-scores.json")


def read_record(path):
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise RuntimeError(f"{path}: cannot be read ({error}); move it away to start a new record") from None
    return record if isinstance(record, dict) else {}


def write_record(path, record):
    with replaced(path) as f:
        json.dump(record, f, indent=1, sort_keys=True)


class KeepManualScores(NbGraderPreprocessor):
    """After SaveAutoGrades: a manual score on a test cell counts for the submission it was given on.

    nbgrader stores no time or digest with a manual score, and the gradebook shows a
    manual score instead of the autograder's. So this step keeps, beside the gradebook,
    the digest of the answer cells it last graded per notebook. A manual score on a test
    cell is kept while that digest is unchanged; after a resubmission with other
    answers it is removed (the trusted autograde score counts, and the log says which
    score went). The first trusted autograde of a notebook has no record: manual scores
    found on its test cells then (such as those `regrade --write` of earlier versions wrote,
    or a score written by a student's cell when autograde still ran cells) are removed
    and logged, so that the gradebook starts equal to the trusted grader.
    """

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        path = manual_record_path(info["db_url"])
        if path is None:
            self.log.warning(
                "gradebook is not an sqlite file: manual scores on test cells are kept as they are"
            )
            return nb, resources
        record = read_record(path)
        key = f"{info['assignment']}/{info['student']}/{info['notebook']}"
        digest, previous = answers_digest(nb), record.get(key)
        if previous == digest:  # the answers manual scores were given on: they all stay
            return nb, resources
        tests = {str(c.metadata.nbgrader.get("grade_id")) for c in nb.cells if is_test_cell(c)}
        with Gradebook(info["db_url"]) as gradebook:
            try:
                notebook = gradebook.find_submission_notebook(
                    info["notebook"], info["assignment"], info["student"]
                )
            except MissingEntry:
                return nb, resources
            for grade in notebook.grades:
                if grade.name not in tests or grade.manual_score is None:
                    continue
                why = "an earlier submission" if previous else "a submission before trusted grading"
                self.log.warning(
                    "%s: %s: manual score %g removed (given on %s); the trusted score %s counts",
                    key,
                    grade.name,
                    grade.manual_score,
                    why,
                    f"{grade.auto_score:g}" if grade.auto_score is not None else "(none)",
                )
                grade.manual_score = None
                grade.needs_manual_grade = grade.auto_score is None
            gradebook.db.commit()
        record[key] = digest
        write_record(path, record)
        return nb, resources


def broken_reason(path):
    """Why the submitted notebook at `path` cannot be graded, or None."""
    try:
        cells = read_cells(path)
    except NotebookError as error:
        return str(error)
    for cell in cells:
        version = cell.nbgrader.get("schema_version", SCHEMA_VERSION)
        if cell.nbgrader and version != SCHEMA_VERSION:
            return f"{Path(path).name}: cell {cell.index}: nbgrader schema version {version!r}, not {SCHEMA_VERSION}"
    return None


def before_each_submission(db_url, notebooks, **_):
    """Autograde.pre_convert_hook, bound to the gradebook's URL (grader/classroom/course_config.py)."""
    report_progress(notebooks)
    zero_broken_notebooks(db_url, notebooks)


def report_progress(notebooks):
    """Log "submission k of n" (nbgrader grades the submissions of an assignment in name order)."""
    from traitlets.log import get_logger

    if not notebooks:
        return
    student, assignment = submitter(notebooks[0])
    submitted = Path(notebooks[0]).parent.parent.parent
    students = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    if student in students:
        where = f"{students.index(student) + 1} of {len(students)}"
        get_logger().info("%s: submission %s of %s", student, where, assignment)


def zero_broken_notebooks(db_url, notebooks):
    """Every cell of a submitted notebook that cannot be graded scores 0, manual scores
    included, and the log says why."""
    from nbgrader.api import Gradebook, MissingEntry
    from traitlets.log import get_logger

    for name in notebooks:
        path = Path(name)
        reason = broken_reason(path)
        if reason is None:
            continue
        student, assignment = submitter(path)
        get_logger().warning("%s: %s: scores 0 (this notebook cannot be graded)", student, reason)
        with Gradebook(db_url) as gradebook:
            gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(assignment, student)
            try:
                notebook = gradebook.find_submission_notebook(path.stem, assignment, student)
            except MissingEntry:
                continue
            for grade in notebook.grades:
                grade.auto_score, grade.manual_score, grade.needs_manual_grade = 0.0, None, False
            gradebook.db.commit()


class CheckCellMetadata(NbgraderCheckCellMetadata):
    """nbgrader's metadata check, but a notebook claiming another schema version fails alone
    (nbgrader stops the whole run for it)."""

    def preprocess(self, nb, resources):
        try:
            return super().preprocess(nb, resources)
        except (SchemaTooOldError, SchemaTooNewError) as error:
            raise ValidationError(
                f"the notebook's nbgrader metadata has another schema version: {error}"
            ) from None
