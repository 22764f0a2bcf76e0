"""python -m grader.sandbox --impl DIR: grade one implementation folder in the sandbox.

    python -m grader.sandbox --impl submissions/alice --json results.json
    python -m grader.sandbox --impl exercises -m Affine      # one exercise (or check id)

Prints the score table; the exit status is 0 only when every check passed.
"""

import argparse
import sys
import time
from pathlib import Path

from ..expected import RecordedDataError
from .grading import grade_isolated, select_checks
from .limits import BASIC_WARNING


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m grader.sandbox",
        description="Grade one implementation directory in a sandboxed worker process and print the score table.",
    )
    parser.add_argument("--impl", required=True, help="implementation directory (laid out like exercises/)")
    parser.add_argument("--json", dest="results_json", help="write Gradescope's results.json here")
    parser.add_argument("--seed", type=int, help="data seed (default: a fresh secret one)")
    parser.add_argument("-m", "--exercise", action="append", help="grade only this exercise or check id")
    args = parser.parse_args(argv)
    impl = Path(args.impl)
    if not (impl / "__init__.py").is_file():
        parser.error(f"--impl {impl}: not an implementation directory (it needs an __init__.py)")
    try:
        checks = select_checks(args.exercise) if args.exercise else None
    except ValueError as error:
        parser.error(str(error))
    try:
        return report_isolated(impl, checks, args.seed, args.results_json)
    except RecordedDataError as error:
        parser.exit(4, f"{parser.prog}: cannot grade: {error}\n")


def report_isolated(impl, checks=None, seed=None, results_json=None, progress=False):
    """Grade `impl` in the sandbox, print the score table (and write results.json); the exit status.

    RecordedDataError when a student kit's recorded data cannot be used.
    """
    from ..report import gradescope_results, summary_table, write_json_atomic

    started, targets = time.perf_counter(), []
    results = grade_isolated(impl, checks=checks, seed=seed, progress=progress, target_out=targets)
    isolation = targets[0].isolation if targets else "not started"
    print(f"implementation: {impl} (sandboxed, isolation {isolation})")
    if isolation == "basic":
        print(BASIC_WARNING, file=sys.stderr)
    print(summary_table(results))
    if results_json:
        write_json_atomic(results_json, gradescope_results(results, time.perf_counter() - started))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
