"""nnkit: the instructor's command. One sub-command per job, each with examples in its --help.

Students grade their own work with `python -m grader` (or `pytest`) in their kit; `nnkit` is for
the course folder and the class: it grades in the sandbox, builds and exports the course, grades a
class in batch and reports on it.
"""

import argparse
import importlib
import sys
from pathlib import Path

# name, module, one line of help; every module has add_arguments(parser), run(args) and EXAMPLES, and
# USER_ERRORS: the exceptions that mean an impossible request (one line on stderr, exit status 2)
COMMANDS = (
    (
        "grade",
        "grader.classroom.grade",
        "grade one implementation folder (default ./exercises), in the sandbox",
    ),
    ("course", "grader.authoring.course", "build or check the course: exercises/, source/, release/"),
    ("export", "grader.authoring.export", "write the student kit: stubs, public checks, recorded answers"),
    ("batch", "grader.classroom.batch", "grade a folder of submissions: gradebook.csv and feedback"),
    ("report", "grader.classroom.class_report", "what the class got wrong: an HTML page from a batch result"),
    ("canvas", "grader.classroom.canvas", "a batch gradebook as the CSV Canvas imports"),
    ("similarity", "grader.classroom.similarity", "pairs of submissions whose code is suspiciously alike"),
    ("autograde", "grader.classroom.autograde", "nbgrader autograde in the sandbox, with progress"),
    ("regrade", "grader.classroom.regrade", "where the nbgrader gradebook differs from the trusted grader"),
    ("gradescope", "grader.classroom.gradescope", "build the Gradescope autograder zip"),
)
EXAMPLES = """\
examples:
  nnkit grade                                  grade ./exercises in the sandbox
  nnkit grade --impl solutions -m Conv2d       one exercise of another folder
  nnkit course build                           after editing solutions/, course/ or the rubric
  nnkit export starter-kit --zip               the kit students get
  nnkit batch submissions/ --out graded/ --jobs 2
  nnkit report graded/                         graded/report.html
  nnkit canvas graded/ --roster roster.csv --assignment "Homework 4 (12345)"
  nnkit similarity submissions/                similar pairs, similarity.html
  nnkit autograde ch4_backprop                 nbgrader's autograde, graded in the sandbox
  nnkit gradescope --out autograder.zip
  nnkit --course ~/nn-course course check      any command on a course elsewhere

Run `nnkit COMMAND --help` for a command's options and examples.
"""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: what is wrong and where to read more."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser():
    top = Parser(
        prog="nnkit",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument(
        "--course",
        metavar="DIR",
        type=Path,
        help="the course folder (solutions/, course/, source/, release/, gradebook.db); default: the current folder",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars, only results and errors"
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, module_name, summary in COMMANDS:
        module = importlib.import_module(module_name)
        sub = commands.add_parser(
            name,
            help=summary,
            description=module.__doc__,
            epilog=module.EXAMPLES,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run, user_errors=getattr(module, "USER_ERRORS", ()))
    return top


def main(argv=None):
    from grader.authoring.course_root import CourseError, working_on

    top = parser()
    args = top.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        top.print_help()
        return 2
    if args.course is not None and not args.course.is_dir():
        top.error(f"--course {args.course}: no such folder")
    try:
        with working_on(args.course):
            return args.run(args)
    except (CourseError, *args.user_errors) as error:
        print(f"nnkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nnkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
