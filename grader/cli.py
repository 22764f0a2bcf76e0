"""nnkit: the instructor's command. One sub-command per job, each with examples in its --help.

Students grade their own work with `python -m grader` (or `pytest`) in their kit; `nnkit` is for
the course folder and the class: it grades in the sandbox, builds and exports the course, grades a
class in batch and reports on it.
"""

import argparse
import importlib
import sys
from pathlib import Path

from grader.installed import version

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
QUIET = "no progress bars or summary lines: only results, warnings and errors"
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


def chosen_command(argv):
    """The sub-command `argv` names (the first word that is one, after --course DIR), or None."""
    names = {name for name, _, _ in COMMANDS}
    words = iter(argv)
    for word in words:
        if word == "--course":
            next(words, None)
        elif word in names:
            return word
        elif not word.startswith("-"):
            return None
    return None


def parser(argv=()):
    """nnkit's parser. Only the chosen command's module is imported (for its arguments): the others
    may need what this installation lacks (nbgrader for the course, copydetect for similarity)."""
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
    top.add_argument("--version", action="version", version=f"nnkit {version()}")
    top.add_argument("-q", "--quiet", action="store_true", help=QUIET)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET)
    wanted = chosen_command(argv)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, module_name, summary in COMMANDS:
        if name != wanted:
            commands.add_parser(name, help=summary, parents=[common])
            continue
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

    argv = sys.argv[1:] if argv is None else list(argv)
    top = parser(argv)
    args = top.parse_args(argv)
    if args.command is None:
        top.print_help()
        return 2
    if args.course is not None and not args.course.is_dir():
        top.error(f"--course {args.course}: not a folder")
    try:
        with working_on(args.course):
            return args.run(args)
    except (CourseError, *args.user_errors) as error:
        print(f"nnkit {args.command}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except OSError as error:  # an output folder that is a file, a full disk, no permission
        where = f"{error.filename}: " if error.filename else ""
        print(f"nnkit {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nnkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
