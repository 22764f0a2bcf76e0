"""python -m grader: grade an implementation and print points per exercise with what to fix.

Runs the grader's pytest checks with quiet output; `pytest` in the kit's folder does the same.
"""

import argparse
import difflib
import sys
from pathlib import Path

import pytest

from .installed import default_impl

DEFAULT_IMPL = default_impl()
EXAMPLES = """\
examples:
  python -m grader                      grade exercises/
  python -m grader -m Affine            only the checks of Affine (exact name; `affine` works when unique)
  python -m grader -m relu -m Relu      two exercises (or -m relu,Relu)
  python -m grader -k backward          only the checks whose name contains "backward"
  python -m grader --impl my_copy       grade another folder laid out like exercises/
  python -m grader --json results.json  also write Gradescope's results.json

Other options are passed to pytest (e.g. -x to stop at the first failed check).
"""


def exercise_names():
    from .registry import all_checks

    return sorted({c.exercise for c in all_checks()}, key=lambda name: (name.lower(), name))


def resolve_exercise(name, known):
    """The exercise `name` means: an exact match, else the one case-insensitive match; ValueError otherwise."""
    if name in known:
        return name
    folded = [k for k in known if k.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    if folded:
        raise ValueError(f"-m {name}: ambiguous, these exercises differ only in case: {', '.join(folded)}")
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"-m {name}: no such exercise{hint}; the exercises are: {', '.join(known)}")


def resolve_exercises(values, known):
    """The exercises -m values name (repeated or comma-separated), each once, in order; ValueError
    naming the first that is no exercise."""
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    return list(dict.fromkeys(resolve_exercise(n, known) for n in names))


def impl_problem(impl):
    """Why `impl` cannot be graded, or None."""
    if not impl.exists():
        return f"--impl {impl}: no such folder"
    if not impl.is_dir():
        return f"--impl {impl}: a file, not a folder laid out like exercises/"
    if not (impl / "__init__.py").is_file():
        return f"--impl {impl}: not an implementation folder (it has no __init__.py)"
    return None


def parser():
    p = argparse.ArgumentParser(
        prog="python -m grader",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--impl", type=Path, default=DEFAULT_IMPL, help="folder to grade (default: exercises/)")
    p.add_argument("--json", dest="results_json", metavar="FILE", help="write Gradescope's results.json here")
    p.add_argument(
        "-m",
        "--exercise",
        action="append",
        default=[],
        metavar="NAME",
        help="grade only this exercise; repeat it or separate names by commas for several",
    )
    p.add_argument(
        "-k", dest="keyword", metavar="EXPR", help="only the checks whose name matches (pytest's -k)"
    )
    p.add_argument("--rubric", metavar="FILE", help="rubric file (default: grader/rubric.toml)")
    return p


def pytest_args(args, rest):
    here = str(Path(__file__).resolve().parent)
    out = [here, "-q", "--tb=no", "-rN", "-p", "no:cacheprovider", "--impl", str(args.impl)]
    if args.exercise:
        out += ["-m", " or ".join(args.exercise)]
    if args.keyword:
        out += ["-k", args.keyword]
    if args.results_json:
        out += ["--json", args.results_json]
    if args.rubric:
        out += ["--rubric", args.rubric]
    return out + rest


def main(argv=None):
    p = parser()
    args, rest = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    problem = impl_problem(args.impl)
    if problem:
        p.error(problem)
    try:
        args.exercise = resolve_exercises(args.exercise, exercise_names())
    except ValueError as error:
        p.error(str(error))
    return pytest.main(pytest_args(args, rest))


if __name__ == "__main__":
    sys.exit(main())
