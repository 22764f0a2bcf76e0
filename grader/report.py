"""Formatting CheckResults: the terminal summary and Gradescope's results.json."""

import json

from .files import replaced


def by_exercise(results):
    """{exercise: [results]} keeping the order in which exercises first appear."""
    groups = {}
    for r in results:
        groups.setdefault(r.exercise, []).append(r)
    return groups


def totals(results):
    return sum(r.points for r in results), sum(r.max_points for r in results)


def summary_table(results, show_passed_details=False):
    """A per-exercise table, then every failure with its message, then the total."""
    lines = [f"{'exercise':<22}{'checks':>9}{'points':>14}"]
    for exercise, group in by_exercise(results).items():
        got, possible = totals(group)
        passed = sum(r.passed for r in group)
        mark = "ok" if passed == len(group) else ("--" if passed == 0 else "..")
        lines.append(f"{exercise:<22}{passed:>4}/{len(group):<4}{got:>8g} / {possible:<5g} {mark}")
    failures = [r for r in results if not r.passed]
    if failures:
        lines += ["", "What to fix:"]
        for r in failures:
            text = r.text().replace("\n", "\n    ")
            lines.append(f"  [{r.id}] ({r.max_points:g} pt) {text}")
    notes = [r for r in results if r.passed and r.notes]
    if notes:
        lines += ["", "Passed, with notes:"]
        lines += [f"  [{r.id}] " + "; ".join(r.notes) for r in notes]
    got, possible = totals(results)
    percent = 100 * got / possible if possible else 0.0
    lines += ["", f"Score: {got:g} / {possible:g} ({percent:.1f}%)"]
    return "\n".join(lines)


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
