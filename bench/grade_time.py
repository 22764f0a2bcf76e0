"""Seconds per exercise for grading an implementation (default: the reference).

    python bench/grade_time.py [--impl solutions] [--repeat 3]

Prints the best of `repeat` runs of every check, summed per exercise, and the total.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.report import by_exercise  # noqa: E402
from grader.results import run_check  # noqa: E402
from grader.target import load_impl  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--impl", default="solutions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    target, rubric = load_impl(args.impl), load_rubric()
    results, seconds = [], {}
    for check in all_checks():
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = run_check(check, target, rubric[check.id].points)
            best = min(best, time.perf_counter() - start)
        results.append(result)
        seconds[check.id] = best
    print(f"{'exercise':<22}{'checks':>7}{'seconds':>10}   slowest check")
    for exercise, group in by_exercise(results).items():
        slowest = max(group, key=lambda r: seconds[r.id])
        total = sum(seconds[r.id] for r in group)
        print(f"{exercise:<22}{len(group):>7}{total:>10.3f}   {slowest.id} ({seconds[slowest.id]:.3f} s)")
    failed = [r.id for r in results if not r.passed]
    print(f"\ntotal: {sum(seconds.values()):.2f} s for {len(results)} checks (best of {args.repeat})")
    if failed:
        print(f"not passing on {args.impl}: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
