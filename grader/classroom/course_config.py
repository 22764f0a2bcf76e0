"""The nbgrader configuration of the course, shared by nbgrader_config.py and grader/authoring/course.py."""

import functools
import os
import sys
from pathlib import Path

COURSE_ID = "nnkit"
CELL_TIMEOUT = 120  # seconds per cell: a naive-loop Conv2d passes, an infinite loop costs only its cell


def course_config(root, db_url=None, cell_timeout=CELL_TIMEOUT):
    """nbgrader Config for the course rooted at `root` (gradebook.db there unless `db_url`)."""
    from traitlets.config import Config

    from grader.classroom.trusted_autograde import before_each_submission

    root = Path(root).resolve()
    c = Config()
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    c.Execute.timeout = cell_timeout
    c.Execute.interrupt_on_timeout = True
    # Autograde: no kernel runs student code; the sandbox grades it (grader/classroom/trusted_autograde.py).
    c.Autograde.sanitize_preprocessors = [
        "nbgrader.preprocessors.ClearOutput",
        "nbgrader.preprocessors.DeduplicateIds",
        "nbgrader.preprocessors.OverwriteKernelspec",
        "nbgrader.preprocessors.OverwriteCells",
        "grader.classroom.trusted_autograde.CheckCellMetadata",
    ]
    c.Autograde.autograde_preprocessors = [
        "grader.classroom.trusted_autograde.GradeInSandbox",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "grader.classroom.trusted_autograde.KeepManualScores",
        "nbgrader.preprocessors.AssignLatePenalties",
        "grader.classroom.trusted_autograde.CheckCellMetadata",
    ]
    c.Autograde.pre_convert_hook = functools.partial(before_each_submission, c.CourseDirectory.db_url)
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    # Feedback: hidden tests' source and their error output never reach students.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        "grader.classroom.feedback.WithholdHiddenTests",
    ]
    return c


def kernel_path_env(kit_root):
    """Let nbgrader find its tools, and its kernels import `grader` and `exercises` from `kit_root`."""
    kit_root = str(Path(kit_root).resolve())
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if kit_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([kit_root, *paths])
    # nbgrader runs `alembic` and kernels by name: use this environment's scripts
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])


def nbgrader_api(folder, db_url=None, cell_timeout=None):
    """An NbGraderAPI for the nbgrader course at `folder`, configured as above whatever the folder's own
    nbgrader_config.py says (no per-command start-up cost)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    kwargs = {} if cell_timeout is None else {"cell_timeout": cell_timeout}
    config = course_config(folder, db_url=db_url, **kwargs)
    kernel_path_env(folder)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def submitted_students(root, assignment):
    """The students with a submitted/<student>/`assignment`/ folder in the course at `root`, sorted;
    FileNotFoundError when the course has no submitted/ yet."""
    submitted = Path(root) / "submitted"
    if not submitted.is_dir():
        raise FileNotFoundError(f"{submitted} does not exist: collect the submissions first")
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())
