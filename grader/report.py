"""Formatting CheckResults: the terminal summary and Gradescope's results.json."""

import json
import re

from .files import replaced

IMPORT_FAILED = re.compile(r"\(import failed: (?P<why>[^()]*(?:\([^()]*\)[^()]*)*)\)")


def by_exercise(results):
    """{exercise: [results]} keeping the order in which exercises first appear."""
    groups = {}
    for r in results:
        groups.setdefault(r.exercise, []).append(r)
    return groups


def totals(results):
    return sum(r.points for r in results), sum(r.max_points for r in results)


def summary_table(results, show_passed_details=False, start_here=None):
    """A per-exercise table, then every failure with its message, then the total.

    start_here: for a student's own run, where the first exercise lives (e.g.
    "exercises/perceptron.py", or just the folder); when nothing is implemented yet, a few lines on where to
    begin replace the table.
    """
    if start_here and results and all(r.status == "not implemented" for r in results):
        return fresh_start(results, start_here)
    lines = [f"{'exercise':<22}{'checks':>9}{'points':>14}"]
    for exercise, group in by_exercise(results).items():
        got, possible = totals(group)
        passed = sum(r.passed for r in group)
        mark = "ok" if passed == len(group) else ("--" if passed == 0 else "..")
        lines.append(f"{exercise:<22}{passed:>4}/{len(group):<4}{got:>8g} / {possible:<5g} {mark}")
    failures = [r for r in results if not r.passed]
    if failures:
        lines += ["", "What to fix:", *failure_lines(failures)]
    notes = [r for r in results if r.passed and r.notes]
    if notes:
        lines += ["", "Passed, with notes:"]
        lines += [f"  [{r.id}] " + "; ".join(r.notes) for r in notes]
    got, possible = totals(results)
    percent = 100 * got / possible if possible else 0.0
    lines += ["", f"Score: {got:g} / {possible:g} ({percent:.1f}%)"]
    return "\n".join(lines)


def fresh_start(results, start_here):
    """What an untouched set of exercises gets instead of a page of "not implemented yet"."""
    exercises = list(by_exercise(results))
    _, possible = totals(results)
    return "\n".join(
        [
            f"Nothing is implemented yet: {plural(len(exercises), 'exercise')}, {possible:g} points to earn.",
            f"Start here: {exercises[0]} in {start_here}. Each method you write is graded the next time you run this;",
            "the exercises in order: " + ", ".join(exercises),
            "",
            f"Score: 0 / {possible:g} (0.0%)",
        ]
    )


def without_id(text, check_id):
    return text[len(check_id) + 2 :] if text.startswith(f"{check_id}: ") else text


def failure_lines(failures):
    """One line per failed check, except: an import failure once, with the checks it blocked; the
    same "not implemented" or the same crash across checks of one exercise once, with their count."""
    lines, blocked, rest = [], {}, []
    for r in failures:
        found = IMPORT_FAILED.search(r.message) if r.status == "failed" else None
        (blocked.setdefault(found["why"], []) if found else rest).append(r)
    for why, group in blocked.items():
        exercises = ", ".join(dict.fromkeys(r.exercise for r in group))
        points = sum(r.max_points for r in group)
        lines.append(f"  Your code did not import: {why}")
        lines.append(f"    so {plural(len(group), 'check')} ({points:g} pt) could not run: {exercises}")
    for exercise, group in by_exercise(rest).items():
        same = {}
        for r in group:
            key = (r.status, without_id(r.text(), r.id)) if r.status in ("not implemented", "error") else r.id
            same.setdefault(key, []).append(r)
        for repeats in same.values():
            first = repeats[0]
            text = without_id(first.text(), first.id).replace("\n", "\n    ")
            if len(repeats) == 1:
                lines.append(f"  [{first.id}] ({first.max_points:g} pt) {text}")
            elif first.status == "not implemented":
                points = sum(r.max_points for r in repeats)
                lines.append(f"  [{exercise}] ({points:g} pt, {plural(len(repeats), 'check')}) {text}")
            else:
                others = ", ".join(r.id.split(".", 1)[1] for r in repeats[1:])
                lines.append(f"  [{first.id}] ({first.max_points:g} pt) {text}")
                lines.append(
                    f"    and {plural(len(repeats) - 1, 'more check')} of {exercise} with the same error: {others}"
                )
    return lines


def hidden_summary(manifest):
    """What runs after the deadline, from {check id: RubricEntry}: names and points per exercise, never inputs."""
    groups = {}
    for check_id, entry in manifest.items():
        exercise, name = check_id.split(".", 1)
        groups.setdefault(exercise, []).append((name, entry.points))
    lines = ["", "Hidden checks (run after the deadline; not in the score above):"]
    for exercise, checks in groups.items():
        points = sum(p for _, p in checks)
        names = ", ".join(f"{name} ({p:g} pt)" for name, p in checks)
        lines.append(f"  {exercise:<22}{plural(len(checks), 'hidden check')}, {points:g} points: {names}")
    total = sum(e.points for e in manifest.values())
    lines.append(
        f"  In total: {plural(len(manifest), 'hidden check')}, {total:g} points, run after the deadline"
    )
    return "\n".join(lines)


def plural(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def gradescope_results(results, execution_time=None):
    """Gradescope's results.json content; each test tagged with its exercise name."""
    got, _ = totals(results)
    data = {
        "score": got,
        "tests": [
            {
                "name": r.id,
                "score": r.points,
                "max_score": r.max_points,
                "status": "passed" if r.passed else "failed",
                "output": r.text() or "passed",
                "visibility": r.visibility,
                "tags": [r.exercise],
                **({"extra_data": {"mistake": r.mistake}} if r.mistake else {}),
            }
            for r in results
        ],
    }
    if execution_time is not None:
        data["execution_time"] = round(execution_time, 3)
    return data


def write_json_atomic(path, data):
    """Write JSON next to `path` and rename it into place, so a reader never sees half a file."""
    with replaced(path) as f:
        json.dump(data, f, indent=2)
