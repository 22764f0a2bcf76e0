"""Generate exercises/ (the student stubs) from solutions/ (the master).

python tools/make_exercises.py           # rewrite exercises/
python tools/make_exercises.py --check   # exit 1 if exercises/ is out of date
"""

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.regions import strip_solutions

ROOT = Path(__file__).resolve().parent.parent
MASTER, STUBS = ROOT / "solutions", ROOT / "exercises"


def expected_stubs(master=MASTER):
    """Map each relative path under `master` to the text its stub file must have."""
    return {
        path.relative_to(master): strip_solutions(path.read_text(), str(path))
        for path in sorted(master.rglob("*.py"))
    }


def stale_files(master=MASTER, stubs=STUBS):
    """Relative paths whose stub is missing, different, or has no master."""
    expected = expected_stubs(master)
    present = {p.relative_to(stubs) for p in stubs.rglob("*.py")}
    stale = [
        rel
        for rel, text in expected.items()
        if not (stubs / rel).is_file() or (stubs / rel).read_text() != text
    ]
    return sorted(stale + list(present - set(expected)))


def write_stubs(master=MASTER, stubs=STUBS):
    expected = expected_stubs(master)
    for rel in {p.relative_to(stubs) for p in stubs.rglob("*.py")} - set(expected):
        (stubs / rel).unlink()
    for rel, text in expected.items():
        (stubs / rel).parent.mkdir(parents=True, exist_ok=True)
        (stubs / rel).write_text(text)
    return sorted(expected)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for rel in stale:
            print(f"out of date: exercises/{rel}")
        return 1 if stale else 0
    for rel in write_stubs():
        print(f"wrote exercises/{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
