"""nbgrader autograde with the trusted pipeline, one student at a time, with progress.

    nnkit autograde ASSIGNMENT [--student NAME ...] [--force]

The same as `nbgrader autograde ASSIGNMENT` in a course whose nbgrader_config.py is the kit's,
but independent of that file: nbgrader runs with the course configuration of
grader/classroom/course_config.py, so no student cell runs and the answer cells are graded in the
sandbox (grader/classroom/trusted_autograde.py). Every submitted/<student>/ASSIGNMENT/ is graded;
a notebook that cannot be graded scores 0 with its reason in the log, and the others go on.
"""

import sys

from grader.progress import progress

EXAMPLES = """\
examples:
  nnkit autograde ch4_backprop                   every submitted/<student>/ch4_backprop/
  nnkit autograde ch4_backprop --student alice   one student (repeat --student for more)
  nnkit autograde ch4_backprop --force           regrade what nbgrader already graded
  nnkit --course ~/course autograde ch1_perceptron
"""


class AutogradeError(Exception):
    """Nothing can be autograded; the message says why."""


USER_ERRORS = (AutogradeError,)  # what nnkit reports as one line, exit status 2


def add_arguments(parser):
    parser.add_argument("assignment", help="assignment name, e.g. ch4_backprop")
    parser.add_argument("--student", action="append", metavar="NAME", help="only this student (repeatable)")
    parser.add_argument("--force", action="store_true", help="autograde submissions nbgrader already graded")


def run(args):
    from grader.authoring.course import needs_nbgrader
    from grader.authoring.course_root import course_root
    from grader.classroom.course_config import nbgrader_api, submitted_students

    needs_nbgrader()
    root = course_root()
    if not (root / "source" / args.assignment).is_dir() and not (root / "release" / args.assignment).is_dir():
        raise AutogradeError(f"{args.assignment}: no such assignment in {root / 'source'}")
    students = submitted_students(root, args.assignment)
    if args.student:
        missing = sorted(set(args.student) - set(students))
        if missing:
            raise AutogradeError(f"no submission of {args.assignment} from {', '.join(missing)}")
        students = [s for s in students if s in args.student]
    if not students:
        raise AutogradeError(f"no submitted notebooks of {args.assignment} under {root / 'submitted'}")
    api = nbgrader_api(root)
    failed = []
    for student in progress(students, "autograding", "student", not args.quiet):
        result = api.autograde(args.assignment, student, force=args.force, create=True)
        if not result["success"]:
            failed.append(student)
            log = (result.get("log") or "") + (result.get("error") or "")
            print(f"{student}: not graded:\n{log.strip()}", file=sys.stderr)
    if not args.quiet or failed:
        print(
            f"autograded {len(students) - len(failed)} of {len(students)} submissions of {args.assignment}"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
    return 1 if failed else 0
