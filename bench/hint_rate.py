"""How often a caught mistake gets a hint that names it, on the held-out corpus (tests/holdout/).

    python bench/hint_rate.py [--verbose]

For every held-out mistake: grade its exercise with the mistake in place (in this
process, the reference elsewhere), count it caught when a check fails, and named when
the hint of a failing check contains one of the words the entry lists for that mistake.
Prints one line per entry (with --verbose, the hints it got) and the rates.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.results import run_check  # noqa: E402
from tests.corpus import target_with  # noqa: E402
from tests.holdout import holdout  # noqa: E402


def graded(entry, checks, rubric):
    target = target_with(**{entry.exercise: entry.replacement})
    return [run_check(c, target, rubric[c.id].points) for c in checks if c.exercise == entry.exercise]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--verbose", action="store_true", help="print the hints every entry got")
    args = parser.parse_args(argv)
    checks, rubric = all_checks(), load_rubric()
    entries = holdout()
    caught = named = 0
    for entry in entries:
        failed = [r for r in graded(entry, checks, rubric) if not r.passed]
        hints = [r.hint for r in failed if r.hint]
        hit = any(word.lower() in hint.lower() for hint in hints for word in entry.names)
        caught += bool(failed)
        named += bool(failed) and hit
        verdict = "named" if failed and hit else ("caught, not named" if failed else "MISSED")
        print(f"{verdict:<18} {entry.exercise:<20} {entry.name}")
        if args.verbose:
            for hint in dict.fromkeys(hints):
                print(f"{'':<20} hint: {hint}")
    print(
        f"held-out mistakes: {len(entries)}; caught {caught} ({caught / len(entries):.0%}); "
        f"a hint naming the mistake for {named} of the {caught} caught ({named / max(caught, 1):.0%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
