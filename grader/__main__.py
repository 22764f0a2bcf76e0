"""python -m grader [--impl DIR] [--json FILE] [-k EXPR] [-m EXERCISE] [other pytest options]

Grades an implementation (default: exercises/) and prints points per exercise
with what to fix. Runs pytest on the grader with quiet output.
"""

import sys
from pathlib import Path

import pytest


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
    here = str(Path(__file__).resolve().parent)
    return pytest.main([here, "-q", "--tb=no", "-rN", "-p", "no:cacheprovider", *argv])


if __name__ == "__main__":
    sys.exit(main())
