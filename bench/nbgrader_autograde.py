"""Seconds per submission of one `nbgrader autograde` run with the course's configuration.

    python bench/nbgrader_autograde.py [--students 30] [--chapters ch5_training ch6_optimization ch7_cnn]

For each chapter: a temporary course (source/ copied from this checkout, release/ made
by generate_assignment), `students` submissions (half of them the master's answers,
half with every other answer cell left blank), then one `nbgrader autograde CHAPTER`
command for the whole class, timed. Prints the wall time of that command divided by
the number of submissions (nbgrader's own start-up included, spread over the class),
and checks that every full submission got the chapter's maximum.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_CHAPTERS = ("ch5_training", "ch6_optimization", "ch7_cnn")


def make_course(root, chapter, students):
    """A course at `root` with `students` submissions of `chapter`; return {student: full?}."""
    from tests.nbgrader_course import new_course, solution_cells, submit

    new_course(root, [chapter])
    solved = solution_cells(chapter)
    half = {gid: code for i, (gid, code) in enumerate(sorted(solved.items())) if i % 2 == 0}
    kinds = {}
    for i in range(students):
        name = f"student{i:03d}"
        kinds[name] = i % 2 == 0
        submit(root, name, chapter, solved if kinds[name] else half)
    return kinds


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=30, help="submissions per chapter (default 30)")
    parser.add_argument("--chapters", nargs="+", default=list(DEFAULT_CHAPTERS), help="chapters to time")
    args = parser.parse_args(argv)
    from tests.nbgrader_course import cell_points, nbgrader_cli, scores

    failed = 0
    for chapter in args.chapters:
        with tempfile.TemporaryDirectory(prefix="nbgrade-bench-") as tmp:
            root = Path(tmp)
            kinds = make_course(root, chapter, args.students)
            started = time.perf_counter()
            done = nbgrader_cli(root, "autograde", chapter, "--force")
            elapsed = time.perf_counter() - started
            full = sum(cell_points(chapter).values())
            got = scores(root, chapter, kinds)
            right = sum(got[s] == full for s, is_full in kinds.items() if is_full)
            wanted = sum(kinds.values())
            print(
                f"{chapter}: {len(kinds)} submissions in {elapsed:.1f} s: {elapsed / len(kinds):.2f} s per submission; "
                f"full marks for {right} of {wanted} full submissions; exit code {done.returncode}"
            )
            if done.returncode != 0 or right != wanted:
                failed += 1
                print(done.stderr[-2000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
