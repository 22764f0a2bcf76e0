"""Grade one implementation folder with every check, the hidden ones included.

    nnkit grade                        ./exercises (or the --course folder's), in the sandbox
    nnkit grade --impl DIR             any folder laid out like exercises/
    nnkit grade --in-process           in this process, with pytest (real tracebacks; your own code only)

By default the code runs in the sandbox's worker (grader/sandbox/), as in batch grading, and a
fresh secret seed draws the inputs. In `namespaces` isolation (Linux) it cannot reach the grader,
the hidden checks or the oracles; in `basic` isolation (macOS) it could read them by path, and the
command says so.
`--in-process` runs the pytest front end instead (`python -m grader`), where the code graded
shares the grader's process: use it only for code you trust.
"""

import argparse
from pathlib import Path

EXAMPLES = """\
examples:
  nnkit grade                                  ./exercises, isolated
  nnkit grade --impl solutions                 the reference (full marks)
  nnkit grade --impl submissions/alice -m Conv2d -m MaxPool2d
  nnkit grade --json results.json              also Gradescope's results.json
  nnkit grade --in-process -k backward -x      pytest's options after --in-process
"""


DEFAULT_IMPL = Path("exercises")


class GradeError(Exception):
    """The folder cannot be graded; the message says why."""


USER_ERRORS = (GradeError,)  # what nnkit reports as one line, exit status 2


def add_arguments(parser):
    parser.add_argument(
        "--impl", type=Path, default=DEFAULT_IMPL, help="folder to grade (default: the course's exercises/)"
    )
    parser.add_argument(
        "-m", "--exercise", action="append", default=[], metavar="NAME", help="only this exercise"
    )
    parser.add_argument(
        "--json", dest="results_json", metavar="FILE", help="write Gradescope's results.json here"
    )
    parser.add_argument("--seed", type=int, help="data seed (default: a fresh secret one; sandbox only)")
    parser.add_argument(
        "--in-process",
        nargs=argparse.REMAINDER,
        metavar="PYTEST_OPTION",
        help="grade in this process with pytest; options after it go to pytest (-k, -x, ...)",
    )


def run(args):
    from grader.__main__ import exercise_names, impl_problem, resolve_exercises
    from grader.authoring.course_root import course_root

    if args.impl == DEFAULT_IMPL:
        args.impl = course_root() / DEFAULT_IMPL  # the course's (nnkit --course DIR), else ./exercises
    problem = impl_problem(args.impl)
    if problem:
        raise GradeError(problem)
    try:
        names = resolve_exercises(args.exercise, exercise_names())
    except ValueError as error:
        raise GradeError(str(error)) from None
    if args.in_process is not None:
        from grader.__main__ import main as in_process

        argv = ["--impl", str(args.impl), *(a for n in names for a in ("-m", n))]
        argv += ["--json", args.results_json] if args.results_json else []
        return in_process(argv + args.in_process)
    from grader.expected import RecordedDataError
    from grader.sandbox.__main__ import report_isolated
    from grader.sandbox.grading import select_checks

    try:
        return report_isolated(
            args.impl, select_checks(names) if names else None, args.seed, args.results_json, not args.quiet
        )
    except RecordedDataError as error:
        raise GradeError(f"cannot grade: {error}") from None
