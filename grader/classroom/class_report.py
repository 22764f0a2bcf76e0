"""The class report: what a batch run found across the class, as one HTML page and as JSON.

    nnkit report GRADED_DIR [--out HTML] [--json JSON]

GRADED_DIR is the --out folder of `nnkit batch SUBMISSIONS --out GRADED_DIR`; the report reads
its results/<student>.json. When GRADED_DIR/gradebook.csv exists, only the students it lists
are reported (results of submissions that were removed from the folder stay on disk, out of
the gradebook, and out of the report too). The HTML page (default GRADED_DIR/report.html) is
self-contained: its plots are embedded PNG images, it needs no other file and no JavaScript
(it holds no script at all), and every text that comes from a submission (names, messages,
hints) is escaped. Its only links are each student's name to their feedback/<student>.txt,
relative to the page's folder (none for a feedback file that is missing).
`python -m grader.classroom.class_report` is the same command.

The page reads in the order an instructor acts on: a summary (under a title naming the batch
folder, when it was graded, how many submissions and the grader's version), the named mistakes,
the students lowest score first, the submissions that could not be graded (and those that
implemented nothing), crashes and time-outs, and only then the charts, the per-exercise table
and the checks (worst first; those every student passed as one line, hidden checks marked).

What counts
    Statistics cover the graded submissions (record status "graded") that implemented
    something. A graded submission whose every check is "not implemented" (untouched stubs)
    implemented nothing: it is listed apart and in the students' table, marked, and left out of
    every statistic (mean, median, histogram, exercises, checks). Submissions that could not be
    graded ("invalid submission", "grading error") are listed apart, with the reason, and count
    nowhere else. A check's result is passed, failed, not implemented,
    a crash ("error": the student's code raised) or a time-out ("timeout"); crashes and
    time-outs are counted apart from failures. A named mistake is the `mistake` identifier
    a failing or crashing check's hint carries ("generic.transposed");
    mistakes are grouped by that identifier, never by the hint's text (hints hold numbers
    that differ from student to student). A student counts once per mistake, however many
    checks name it.

The JSON (--json), every rate a fraction in [0, 1] and None when no graded submission has
the thing measured:

    {
      "format": "nnkit-class-report/1",
      "batch": "week3",               # GRADED_DIR's folder name (None when not told)
      "graded_at": "2025-01-01T12:00:00+00:00",   # the latest graded_at of the results, or None
      "grader_version": "0.1.0",      # this grader's version, "unknown" when it cannot be told
      "submissions": 31,              # every result in GRADED_DIR (that the gradebook lists)
      "graded": 30,                   # of which graded
      "scored": 29,                   # of those, implemented something: the statistics below cover these
      "nothing_implemented": ["ian"], # graded, every check "not implemented"
      "max_points": 223.0,            # the most points a submission can get
      "scores": {                     # over the scored submissions
        "mean_percent": 71.3, "median_percent": 74.0, "min_percent": 12.0, "max_percent": 100.0,
        "students": [{"student": "alice", "points": 223.0, "max_points": 223.0, "percent": 100.0,
                      "nothing_implemented": false,
                      "feedback": "feedback/alice.txt"}, ...]   # relative to GRADED_DIR
      },                              # every graded student, sorted by name
      "exercises": [                  # in the order the results list them (the curriculum's)
        {"exercise": "Affine", "checks": 10, "max_points": 15.0,
         "mean_points": 12.1, "mean_percent": 80.7,
         "pass_rate": 0.6,            # share of students with every check of the exercise passed
         "crashed": 1, "timed_out": 0, "not_implemented": 2,   # students with at least one such check
         "mistakes": [                # most students first, then most checks naming it, then identifier
           {"mistake": "generic.transposed",
            "count": 3,               # students who made it
            "students": ["ann", "ben", "cat"],
            "results": 6,             # check results naming it, over those students
            "checks": ["Affine.backward_dW", "Affine.odd_shapes"],
            "hint": "dW looks like the transpose of ..."},   # the hint text most often shown for it
           ...],
         "unnamed": ["dan"]},         # students with a failed check of the exercise that names no mistake
        ...],
      "checks": [                     # worst first: lowest pass rate, then most crashes and time-outs
        {"id": "Affine.backward_dW", "exercise": "Affine", "max_points": 2.0,
         "visibility": "visible",     # the rubric's: "after_published" and the like are hidden checks
         "students": 30,
         "passed": 20, "failed": 8, "not_implemented": 1, "crashed": 1, "timed_out": 0,
         "pass_rate": 0.667}, ...],
      "crashes": {                    # results with status "error"
        "results": 3, "students": ["gus"],
        "checks": [{"id": "Relu.forward", "exercise": "Relu", "students": ["gus"],
                    "example": "Relu.forward: your code raised ..."}, ...]},   # most students first
      "timeouts": {...},              # the same for status "timeout"
      "ungraded": [{"student": "zed", "status": "invalid submission", "problem": "...",
                    "feedback": "feedback/zed.txt"}],
      "left_out": ["old"]             # results in GRADED_DIR/results the gradebook no longer lists
    }

The plots need matplotlib (`pip install 'nnkit[instructor]'`); the JSON alone does not.
"""

import argparse
import base64
import csv
import html
import io
import json
import os
import statistics
import sys
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from grader.classroom.batch import Outputs, csv_cell, write_atomic
from grader.classroom.submissions import file_stem

FORMAT = "nnkit-class-report/1"
BROKEN = {"crashes": "error", "timeouts": "timeout"}  # report key -> check status
STATUS_COUNTS = {  # check status -> the count it adds to in a check's summary
    "passed": "passed",
    "failed": "failed",
    "not implemented": "not_implemented",
    "error": "crashed",
    "timeout": "timed_out",
}


class ReportError(Exception):
    """GRADED_DIR cannot be reported on (missing, not a batch output, no results); one line."""


USER_ERRORS = (ReportError,)  # what nnkit reports as one line, exit status 2


# -- reading a batch result ---------------------------------------------------------------------
def gradebook_students(graded_dir):
    """The student column of GRADED_DIR/gradebook.csv as written (formula-escaped), or None without one."""
    path = Path(graded_dir) / "gradebook.csv"
    try:
        with open(path, encoding="utf-8", errors="backslashreplace", newline="") as f:
            return {row.get("student") for row in csv.DictReader(f)}
    except FileNotFoundError:
        return None


def as_in_gradebook(name):
    """A student's name as gradebook.csv holds it: formula-escaped, a lone surrogate as \\udXXX."""
    return csv_cell(name).encode("utf-8", "backslashreplace").decode("utf-8")


def load_records(graded_dir):
    """(records, left_out): the batch records of `graded_dir` the gradebook lists, and the names it does not."""
    graded_dir = Path(graded_dir)
    outputs = Outputs(graded_dir)
    if not graded_dir.is_dir():
        raise ReportError(f"no folder {graded_dir}: give the --out folder of nnkit batch")
    if not outputs.results.is_dir():
        raise ReportError(
            f"{graded_dir} is not a batch output (it has no results/ folder): "
            "give the folder nnkit batch SUBMISSIONS --out GRADED_DIR wrote"
        )
    records = outputs.records()
    if not records:
        raise ReportError(
            f"{outputs.results} holds no results: run nnkit batch SUBMISSIONS --out {graded_dir} first"
        )
    listed = gradebook_students(graded_dir)
    if listed is None:
        return records, []
    kept = [r for r in records if as_in_gradebook(r["student"]) in listed]
    left_out = sorted(r["student"] for r in records if as_in_gradebook(r["student"]) not in listed)
    return kept, left_out


# -- the numbers ----------------------------------------------------------------------------------
def _rate(part, whole):
    """part / whole rounded, or None when whole is 0."""
    return round(part / whole, 4) if whole else None


def _percent(points, possible):
    """points as a percent of possible (0 when nothing is possible)."""
    return round(100 * points / possible, 2) if possible else 0.0


def _mean(values):
    """The mean of values, or None for none."""
    return round(statistics.fmean(values), 4) if values else None


def _results(record):
    """The check results of a record (dicts), skipping anything that is not one."""
    return [r for r in record.get("results") or [] if isinstance(r, dict) and "id" in r]


def _first_line(text):
    """The first non-empty line of text, or an empty string."""
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def in_order(values):
    """`values` without repeats, in the order they first appear."""
    return list(dict.fromkeys(values))


def score_of(record):
    """{student, points, max_points, percent} of one record."""
    results = _results(record)
    points = sum(float(r.get("points") or 0) for r in results)
    possible = sum(float(r.get("max_points") or 0) for r in results)
    return {
        "student": record["student"],
        "points": points,
        "max_points": possible,
        "percent": _percent(points, possible),
    }


def implemented_nothing(record):
    """Whether every check result of a graded record is "not implemented" (an untouched stub)."""
    results = _results(record)
    return bool(results) and all(r.get("status") == "not implemented" for r in results)


def feedback_file(student):
    """Where grader.classroom.batch writes a student's feedback, relative to GRADED_DIR."""
    return f"feedback/{file_stem(student)}.txt"


def score_summary(graded):
    """Mean, median, lowest and highest percent of the graded records that implemented something,
    and each graded student's score (those that implemented nothing included, and marked)."""
    students = sorted(
        (
            {
                **score_of(r),
                "nothing_implemented": implemented_nothing(r),
                "feedback": feedback_file(r["student"]),
            }
            for r in graded
        ),
        key=lambda s: s["student"],
    )
    percents = [s["percent"] for s in students if not s["nothing_implemented"]]
    summary = {
        "mean_percent": round(statistics.fmean(percents), 2) if percents else None,
        "median_percent": round(statistics.median(percents), 2) if percents else None,
        "min_percent": min(percents, default=None),
        "max_percent": max(percents, default=None),
    }
    return {**summary, "students": students}


def by_exercise(graded):
    """{exercise: [(student, [its results of the exercise])]} over the graded records, in the order
    the results first list the exercises (the curriculum's)."""
    groups = {}
    for record in graded:
        mine = {}
        for r in _results(record):
            mine.setdefault(r.get("exercise"), []).append(r)
        for exercise, results in mine.items():
            groups.setdefault(exercise, []).append((record["student"], results))
    return groups


def named_mistakes(pairs):
    """The mistakes named in one exercise's results, most students first (see the module docstring)."""
    students, results, checks, hints = {}, Counter(), {}, {}
    for student, mine in pairs:
        for r in mine:
            mistake = r.get("mistake")
            if r.get("status") == "passed" or not isinstance(mistake, str) or not mistake:
                continue
            students.setdefault(mistake, set()).add(student)
            results[mistake] += 1
            checks.setdefault(mistake, []).append(r["id"])
            hints.setdefault(mistake, Counter())[r.get("hint") or ""] += 1
    ranked = sorted(students, key=lambda m: (-len(students[m]), -results[m], m))
    return [
        {
            "mistake": m,
            "count": len(students[m]),
            "students": sorted(students[m]),
            "results": results[m],
            "checks": in_order(checks[m]),
            "hint": hints[m].most_common(1)[0][0],
        }
        for m in ranked
    ]


def exercise_summary(exercise, pairs):
    """Mean score, pass rate, students with crashes, time-outs and stubs, and named mistakes of one
    exercise, from its [(student, [results])]."""

    def students_with(status):
        return sum(any(r.get("status") == status for r in mine) for _, mine in pairs)

    points = [sum(float(r.get("points") or 0) for r in mine) for _, mine in pairs]
    possible = max((sum(float(r.get("max_points") or 0) for r in mine) for _, mine in pairs), default=0.0)
    mean_points = _mean(points)
    unnamed = {
        student
        for student, mine in pairs
        for r in mine
        if r.get("status") == "failed" and not r.get("mistake")
    }
    return {
        "exercise": exercise,
        "checks": max((len(mine) for _, mine in pairs), default=0),
        "max_points": possible,
        "mean_points": mean_points,
        "mean_percent": _percent(mean_points, possible) if mean_points is not None else None,
        "pass_rate": _rate(
            sum(all(r.get("status") == "passed" for r in mine) for _, mine in pairs), len(pairs)
        ),
        "crashed": students_with("error"),
        "timed_out": students_with("timeout"),
        "not_implemented": students_with("not implemented"),
        "mistakes": named_mistakes(pairs),
        "unnamed": sorted(unnamed),
    }


def check_summaries(graded):
    """Every check's counts and pass rate, worst first."""
    counts, order = {}, []
    for record in graded:
        for r in _results(record):
            if r["id"] not in counts:
                order.append(r["id"])
                counts[r["id"]] = {
                    "id": r["id"],
                    "exercise": r.get("exercise"),
                    "max_points": float(r.get("max_points") or 0),
                    "visibility": str(r.get("visibility") or "visible"),
                    "students": 0,
                    **dict.fromkeys(STATUS_COUNTS.values(), 0),
                }
            entry = counts[r["id"]]
            entry["students"] += 1
            entry[STATUS_COUNTS.get(r.get("status"), "failed")] += 1  # an unknown status is no pass
    for entry in counts.values():
        entry["pass_rate"] = _rate(entry["passed"], entry["students"])
    position = {check_id: i for i, check_id in enumerate(order)}
    return sorted(
        counts.values(),
        key=lambda e: (
            e["pass_rate"] if e["pass_rate"] is not None else 2.0,
            -(e["crashed"] + e["timed_out"]),
            position[e["id"]],
        ),
    )


def broken_results(graded, status):
    """The results with `status` ("error" or "timeout"): how many, which students, and per check."""
    per_check, total, students = {}, 0, set()
    for record in graded:
        for r in _results(record):
            if r.get("status") != status:
                continue
            total += 1
            students.add(record["student"])
            entry = per_check.setdefault(
                r["id"],
                {
                    "id": r["id"],
                    "exercise": r.get("exercise"),
                    "students": [],
                    "example": _first_line(r.get("message")),
                },
            )
            if record["student"] not in entry["students"]:
                entry["students"].append(record["student"])
    checks = sorted(per_check.values(), key=lambda e: -len(e["students"]))  # stable: curriculum order
    for entry in checks:
        entry["students"].sort()
    return {"results": total, "students": sorted(students), "checks": checks}


def _when(stamp):
    """An ISO time stamp as an aware datetime (a naive one taken as UTC), or None if it is none."""
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def latest_graded_at(records):
    """The latest `graded_at` of the records, as they wrote it, or None when none has one."""
    stamps = [(when, r["graded_at"]) for r in records if (when := _when(r.get("graded_at"))) is not None]
    return max(stamps, key=lambda pair: pair[0])[1] if stamps else None


def grader_version():
    """This grader's version, or "unknown" when it cannot be told (no distribution, no pyproject)."""
    try:
        from grader.installed import version

        return str(version())
    except Exception:  # a missing distribution, an unreadable pyproject.toml: the page still gets written
        return "unknown"


def build_report(records, left_out=(), batch=None):
    """The class report of batch `records` (dicts as in GRADED_DIR/results/*.json) as a JSON-ready
    dict; `batch` names the batch (GRADED_DIR's folder name)."""
    graded = [r for r in records if r.get("status") == "graded"]
    scored = [r for r in graded if not implemented_nothing(r)]  # what the statistics cover
    exercises = by_exercise(scored)
    return {
        "format": FORMAT,
        "batch": batch,
        "graded_at": latest_graded_at(records),
        "grader_version": grader_version(),
        "submissions": len(records),
        "graded": len(graded),
        "scored": len(scored),
        "nothing_implemented": sorted(r["student"] for r in graded if implemented_nothing(r)),
        "max_points": max((score_of(r)["max_points"] for r in graded), default=0.0),
        "scores": score_summary(graded),
        "exercises": [exercise_summary(e, pairs) for e, pairs in exercises.items()],
        "checks": check_summaries(scored),
        **{key: broken_results(scored, status) for key, status in BROKEN.items()},
        "ungraded": sorted(
            (
                {
                    "student": r["student"],
                    "status": str(r.get("status")),
                    "problem": str(r.get("problem") or ""),
                    "feedback": feedback_file(r["student"]),
                }
                for r in records
                if r.get("status") != "graded"
            ),
            key=lambda u: u["student"],
        ),
        "left_out": sorted(left_out),
    }


# -- plots -----------------------------------------------------------------------------------------
PAGE_WIDTH = 9.6  # inches at 100 CSS pixels each: the page's 60rem column
PIXELS_PER_INCH = 100  # CSS pixels
SHARPNESS = 2  # device pixels per CSS pixel in the PNG: sharp on high-density screens too
BLUE, ORANGE, INK = "#4c72b0", "#dd8452", "#222222"


def _figure(width, height):
    """A matplotlib Figure drawn by the Agg canvas (no pyplot, no global state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError("the report's plots need matplotlib: pip install 'nnkit[instructor]'") from None
    figure = Figure(figsize=(width, height), dpi=PIXELS_PER_INCH, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_data_uri(figure):
    """The figure as a data: URI of a PNG image, SHARPNESS device pixels per CSS pixel."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=SHARPNESS * PIXELS_PER_INCH, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot(figure, alt):
    """An <img> of the figure at its size in CSS pixels (the page keeps its place while loading)."""
    width, height = (round(inches * PIXELS_PER_INCH) for inches in figure.get_size_inches())
    return Raw(f'<img src="{esc(png_data_uri(figure))}" width="{width}" height="{height}" alt="{esc(alt)}">')


def _tidy(ax):
    """Light grid behind the bars, no top and right frame."""
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def score_histogram(report, alt="histogram of the graded submissions' scores"):
    """A histogram of the graded submissions' scores (percent of the maximum, ten bins), each bar
    labelled with its count, the median and the mean marked."""
    figure = _figure(PAGE_WIDTH, 3.6)  # first: it says so when matplotlib is missing
    from matplotlib.ticker import MaxNLocator

    ax = figure.subplots()
    percents = [s["percent"] for s in report["scores"]["students"] if not s.get("nothing_implemented")]
    counts, _, bars = ax.hist(percents, bins=[10 * i for i in range(11)], color=BLUE, edgecolor="white")
    ax.bar_label(bars, labels=[f"{c:.0f}" if c else "" for c in counts], padding=2, color=INK)
    scores = report["scores"]
    ax.axvline(
        scores["median_percent"],
        color=INK,
        linestyle="--",
        linewidth=1.2,
        label=f"median {scores['median_percent']:.1f} %",
    )
    ax.axvline(
        scores["mean_percent"],
        color=INK,
        linestyle=":",
        linewidth=1.5,
        label=f"mean {scores['mean_percent']:.1f} %",
    )
    ax.set_title(f"Score distribution ({counted(_scored(report), 'graded submission')})", loc="left")
    ax.set(xlabel="score (% of the maximum)", ylabel="students", xlim=(0, 100), xticks=range(0, 101, 10))
    ax.set_ylim(0, max(counts.max(), 1) * 1.15)  # room for the labels
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    _tidy(ax)
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=2, frameon=False)  # beside the title
    return plot(figure, alt)


def exercise_chart(report, alt="bar chart of each exercise's mean score and pass rate"):
    """Horizontal bars per exercise: mean score and pass rate, both in percent, each labelled."""
    exercises = report["exercises"]
    figure = _figure(PAGE_WIDTH, 1.1 + 0.34 * max(len(exercises), 1))
    ax = figure.subplots()
    rows = list(range(len(exercises)))
    means = [e["mean_percent"] or 0 for e in exercises]
    passes = [100 * (e["pass_rate"] or 0) for e in exercises]
    for offset, values, label, colour in (
        (-0.2, means, "mean score", BLUE),
        (0.2, passes, "pass rate", ORANGE),
    ):
        bars = ax.barh([y + offset for y in rows], values, height=0.4, label=label, color=colour)
        ax.bar_label(bars, labels=[f"{v:.0f} %" for v in values], padding=3, fontsize=8, color=INK)
    ax.set_yticks(rows, [e["exercise"] for e in exercises], parse_math=False)
    ax.set_ylim(len(exercises) - 0.5, -0.5)  # the first exercise on top, no empty rows
    ax.set_xlim(0, 109)  # room for a label past a full bar
    ax.spines["bottom"].set_bounds(0, 100)
    ax.set_xticks(range(0, 101, 20))
    ax.set_title("Per exercise: mean score and pass rate", loc="left")
    ax.set_xlabel("% of graded submissions")
    ax.grid(axis="x", alpha=0.3)
    _tidy(ax)
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=2, frameon=False)  # beside the title
    return plot(figure, alt)


# -- HTML --------------------------------------------------------------------------------------------
class Raw(str):
    """HTML this module wrote itself: placed as it is, never escaped again."""


def esc(value):
    """`value` as HTML text: escaped unless it is Raw."""
    return value if isinstance(value, Raw) else html.escape(str(value), quote=True)


def table(headers, rows, numeric=(), tail=""):
    """An HTML table; cells are escaped unless Raw; columns in `numeric` are right-aligned; `tail`
    (Raw rows) ends the body."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return Raw(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}{esc(tail)}</tbody>\n</table>\n")


def pct(value, digits=0):
    """A rate in [0, 1] as a percent ("67 %"), or a dash for None."""
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def counted(n, noun):
    """`n` and the noun, plural unless n is 1: counted(3, "check") is "3 checks"."""
    return f"{n} {noun}{'s' * (n != 1)}"


def names(students):
    """Student names as one comma-separated line, or a dash for none."""
    return ", ".join(students) if students else "–"


def _scored(report):
    """How many graded submissions the statistics cover (a report of before "scored" counts them all)."""
    return report.get("scored", report["graded"])


def _nothing(report):
    return report.get("nothing_implemented", [])


def student_link(student, links):
    """A student's name, linked to their feedback file when `links` has it."""
    href = (links or {}).get(student)
    return Raw(f'<a href="{esc(href)}">{esc(student)}</a>') if href else esc(student)


def context_line(report):
    """Under the title: how many submissions, when they were graded, by which grader."""
    parts = [counted(report["submissions"], "submission")]
    when = _when(report.get("graded_at")) if report.get("graded_at") else None
    if when is not None:
        zone = " UTC" if when.utcoffset().total_seconds() == 0 else when.strftime(" %z")
        parts.append(f"graded {when:%Y-%m-%d %H:%M}{zone}")
    parts.append(f"nnkit {report.get('grader_version') or 'unknown'}")
    return Raw(f'<p class="context">{esc(" · ".join(parts))}</p>\n')


def summary_section(report):
    """The headline numbers as a list."""
    scores, nothing = report["scores"], _nothing(report)
    items = [
        f"{counted(report['submissions'], 'submission')}, {report['graded']} graded, "
        f"{len(report['ungraded'])} could not be graded"
        + (f", {len(nothing)} implemented nothing" if nothing else ""),
        f"{counted(report['crashes']['results'], 'crashed check')} "
        f"in {counted(len(report['crashes']['students']), 'submission')}, "
        f"{counted(report['timeouts']['results'], 'timed-out check')} "
        f"in {counted(len(report['timeouts']['students']), 'submission')}",
    ]
    if _scored(report):
        items.insert(
            1,
            f"score: mean {scores['mean_percent']:.1f} %, median {scores['median_percent']:.1f} %, "
            f"lowest {scores['min_percent']:.1f} %, highest {scores['max_percent']:.1f} % "
            f"(of {report['max_points']:g} points"
            + (
                f", over the {_scored(report)} graded submissions that implemented something)"
                if nothing
                else ")"
            ),
        )
    if nothing:
        items.append(
            f"implemented nothing (every check \u201cnot implemented\u201d, e.g. untouched stubs): "
            f"{names(nothing)}; left out of the mean, the median and every other statistic below"
        )
    if report["ungraded"]:
        items.append(f"could not be graded: {names([u['student'] for u in report['ungraded']])}")
    if report["left_out"]:
        items.append(f"left out, in results/ but not in the gradebook: {names(report['left_out'])}")
    return Raw("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>\n")


def distribution_section(report):
    """The score histogram."""
    if not _scored(report):
        return Raw("<p>No submission could be graded.</p>\n")
    return score_histogram(report)


def exercise_section(report):
    """The per-exercise bar chart and table."""
    rows = [
        (
            e["exercise"],
            e["checks"],
            f"{e['mean_points']:.2f} / {e['max_points']:g}" if e["mean_points"] is not None else "–",
            "–" if e["mean_percent"] is None else f"{e['mean_percent']:.0f} %",
            pct(e["pass_rate"]),
            e["crashed"],
            e["timed_out"],
            e["not_implemented"],
        )
        for e in report["exercises"]
    ]
    headers = (
        "exercise",
        "checks",
        "mean points",
        "mean",
        "pass rate",
        "crashed",
        "timed out",
        "not implemented",
    )
    if not report["exercises"]:
        return Raw("<p>No submission could be graded.</p>\n")
    return Raw(exercise_chart(report) + table(headers, rows, numeric={1, 2, 3, 4, 5, 6, 7}))


def check_name(check):
    """A check's id, marked when students do not see it before grades are published."""
    visibility = check.get("visibility") or "visible"
    if visibility == "visible":
        return Raw(f"<code>{esc(check['id'])}</code>")
    return Raw(
        f'<code>{esc(check["id"])}</code> <span class="tag" title="rubric visibility '
        f'{esc(visibility)}: students see it once grades are published">hidden</span>'
    )


def check_section(report):
    """The checks someone did not pass, worst first, and one line for those everyone passed."""
    shown = [c for c in report["checks"] if c["pass_rate"] != 1.0]
    everyone = [c for c in report["checks"] if c["pass_rate"] == 1.0]
    if not report["checks"]:
        return Raw("<p>No submission could be graded.</p>\n")
    rows = [
        (
            check_name(c),
            pct(c["pass_rate"]),
            c["passed"],
            c["failed"],
            c["not_implemented"],
            c["crashed"],
            c["timed_out"],
            c["students"],
        )
        for c in shown
    ]
    headers = ("check", "pass rate", "passed", "failed", "not implemented", "crashed", "timed out", "graded")
    tail = ""
    if everyone:
        hidden = sum((c.get("visibility") or "visible") != "visible" for c in everyone)
        tail = Raw(
            f'<tr class="everyone"><td colspan="{len(headers)}">'
            f"<strong>{counted(len(everyone), 'check')} passed by everyone</strong>"
            + (f" ({hidden} of them hidden)" if hidden else "")
            + f'<div class="quiet">{esc(", ".join(c["id"] for c in everyone))}</div></td></tr>\n'
        )
    return table(headers, rows, numeric={1, 2, 3, 4, 5, 6, 7}, tail=tail)


def mistake_item(mistake, graded):
    """One named mistake: identifier, how many students, where, the hint, who."""
    return Raw(
        "<li>"
        f"<code>{esc(mistake['mistake'])}</code>: <strong>{mistake['count']}</strong> of {graded} graded students"
        f' <span class="quiet">({esc(", ".join(mistake["checks"]))})</span>'
        f"<blockquote>{esc(mistake['hint'])}</blockquote>"
        f'<p class="students">who: {esc(names(mistake["students"]))}</p>'
        "</li>\n"
    )


def mistake_section(report):
    """For each exercise, its named mistakes ranked by how many students made them."""
    parts = []
    for e in report["exercises"]:
        if not e["mistakes"] and not e["unnamed"]:
            continue
        parts.append(f"<h3>{esc(e['exercise'])}</h3>\n")
        if e["mistakes"]:
            parts.append(
                "<ol>" + "".join(mistake_item(m, _scored(report)) for m in e["mistakes"]) + "</ol>\n"
            )
        if e["unnamed"]:
            parts.append(
                f"<p>Failed a check that names no mistake: {len(e['unnamed'])} "
                f'(<span class="students">{esc(names(e["unnamed"]))}</span>)</p>\n'
            )
    return Raw("".join(parts) or "<p>No check named a mistake.</p>\n")


def broken_section(report, key, what):
    """The crashes or the time-outs: how many, who, and per check an example."""
    broken = report[key]
    if not broken["checks"]:
        return Raw(f"<p>No check {esc(what)}.</p>\n")
    intro = (
        f"<p>{counted(broken['results'], 'check')} {esc(what)} "
        f"in {counted(len(broken['students']), 'submission')}: "
        f'<span class="students">{esc(names(broken["students"]))}</span></p>\n'
    )
    rows = [
        (Raw(f"<code>{esc(c['id'])}</code>"), len(c["students"]), names(c["students"]), c["example"])
        for c in broken["checks"]
    ]
    return Raw(intro + table(("check", "students", "who", "for example"), rows, numeric={1}))


def ungraded_section(report, links=None):
    """The submissions that could not be graded, with the reason."""
    if not report["ungraded"]:
        return Raw("<p>Every submission was graded.</p>\n")
    rows = [(student_link(u["student"], links), u["status"], u["problem"]) for u in report["ungraded"]]
    return table(("student", "status", "reason"), rows)


def nothing_section(report, links=None):
    """The graded submissions that implemented nothing."""
    nothing = _nothing(report)
    return Raw(
        f"<p>{counted(len(nothing), 'graded submission')} where every check is \u201cnot implemented\u201d "
        "(untouched stubs, or the code handed in somewhere the grader does not look): left out of "
        "the mean, the median and every other statistic, and listed in the students' table, "
        "marked.</p>\n"
        f'<p class="students">{", ".join(student_link(s, links) for s in nothing)}</p>\n'
    )


NOTHING_TAG = Raw('<span class="tag">nothing implemented</span>')


def student_section(report, links=None):
    """Every graded student: score, the mistakes named in their results, checks that crashed or
    timed out; lowest score first (whom to help first), then by name; those that implemented
    nothing last, marked. A name links to the student's feedback when `links` has it."""
    named, broken = {}, {}
    for e in report["exercises"]:
        for m in e["mistakes"]:
            for student in m["students"]:
                named.setdefault(student, []).append(m["mistake"])
    for key, what in (("crashes", "crashed"), ("timeouts", "timed out")):
        for c in report[key]["checks"]:
            for student in c["students"]:
                broken.setdefault(student, Counter())[what] += 1
    students = sorted(
        report["scores"]["students"],
        key=lambda s: (bool(s.get("nothing_implemented")), s["percent"], s["student"]),
    )
    if not students:
        return Raw("<p>No submission could be graded.</p>\n")
    rows = [
        (
            Raw(
                student_link(s["student"], links)
                + (" " + NOTHING_TAG if s.get("nothing_implemented") else "")
            ),
            f"{s['points']:g} / {s['max_points']:g}",
            f"{s['percent']:.1f} %",
            Raw(", ".join(f"<code>{esc(m)}</code>" for m in named.get(s["student"], ())) or "–"),
            ", ".join(f"{n} {what}" for what, n in broken.get(s["student"], Counter()).items()) or "–",
        )
        for s in students
    ]
    note = Raw('<p class="quiet">A name links to the feedback the student got.</p>\n') if links else Raw("")
    return Raw(
        note
        + table(("student", "points", "score", "named mistakes", "checks crashed or timed out"), rows, {1, 2})
    )


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; white-space: nowrap; }
img { max-width: 100%; height: auto; display: block; margin: 0.8rem 0; }
blockquote { margin: 0.3rem 0 0.3rem 1rem; color: #444; font-style: italic; }
.quiet { color: #777; font-size: 0.88rem; } .students { color: #333; font-size: 0.9rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
.context { color: #555; margin-top: 0; }
.tag { display: inline-block; font-size: 0.75rem; padding: 0 0.35rem; border-radius: 0.6rem;
       background: #eee; color: #444; border: 1px solid #ccc; white-space: nowrap; }
tr.everyone td { background: #f6fbf6; }
a { color: #1a5aa8; }
"""


def render_html(report, title=None, links=None):
    """The report as one self-contained HTML page (plots embedded, no scripts, student text escaped).
    `title` defaults to "Class report: <batch>"; `links` maps students to the (relative) address of
    their feedback file, and is left out when the page is not beside the batch output."""
    if title is None:
        title = f"Class report: {report['batch']}" if report.get("batch") else "Class report"
    sections = [
        ("Summary", summary_section(report)),
        ("Named mistakes per exercise, most students first", mistake_section(report)),
        ("Students, lowest score first", student_section(report, links)),
        ("Submissions that could not be graded", ungraded_section(report, links)),
        *(
            [("Submissions that implemented nothing", nothing_section(report, links))]
            if _nothing(report)
            else []
        ),
        ("Crashes", broken_section(report, "crashes", "crashed")),
        ("Time-outs", broken_section(report, "timeouts", "timed out")),
        ("Score distribution", distribution_section(report)),
        ("Exercises: mean score and pass rate", exercise_section(report)),
        ("Checks, worst first", check_section(report)),
    ]
    body = "".join(
        f"<section>\n<h2>{esc(heading)}</h2>\n{content}</section>\n" for heading, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{context_line(report)}{body}</body>\n</html>\n"
    )


# -- command line ------------------------------------------------------------------------------------
EXAMPLES = """\
examples:
  nnkit report graded/                              graded/report.html
  nnkit report graded/ --json graded/report.json    the numbers too, as JSON
  nnkit report graded/ --out week3.html             the page somewhere else
  nnkit report -q graded/                           no line saying what was written

GRADED_DIR is the --out folder of `nnkit batch SUBMISSIONS --out GRADED_DIR`; open the page in
any browser, it needs no other file, no network and no JavaScript.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's arguments, for `nnkit report` and `python -m grader.classroom.class_report`."""
    parser.add_argument(
        "graded_dir", metavar="GRADED_DIR", help="the --out folder of nnkit batch (results/, gradebook.csv)"
    )
    parser.add_argument(
        "--out", metavar="HTML", help="the HTML page to write (default GRADED_DIR/report.html)"
    )
    parser.add_argument("--json", metavar="JSON", help="also write the report's numbers as JSON here")


def feedback_links(report, graded_dir, html_path):
    """{student: address of their feedback file relative to the page's folder}, for the feedback
    files that exist; none when the page and GRADED_DIR share no relative path (another drive)."""
    links, here = {}, Path(html_path).resolve().parent
    people = [*report["scores"]["students"], *report["ungraded"]]
    for person in people:
        target = Path(graded_dir) / person.get("feedback", feedback_file(person["student"]))
        if not target.is_file():
            continue
        try:
            relative = os.path.relpath(target.resolve(), here)
        except ValueError:
            return {}
        links[person["student"]] = urllib.parse.quote(Path(relative).as_posix())
    return links


def run(args) -> int:
    """Write the page (and the JSON); 0, or 2 after one `error: ...` line on stderr for a user error."""
    graded_dir = Path(args.graded_dir)
    html_path = Path(args.out) if args.out else graded_dir / "report.html"
    written = []
    try:
        records, left_out = load_records(graded_dir)
        report = build_report(records, left_out, batch=graded_dir.resolve().name)
        if args.json:  # the numbers need no matplotlib: written even when the page cannot be
            write_atomic(args.json, json.dumps(report, indent=2) + "\n")
            written.append(str(args.json))
        page = render_html(report, links=feedback_links(report, graded_dir, html_path))
        write_atomic(html_path, page)
        written.insert(0, str(html_path))
    except ReportError as error:
        also = f" (only {written[0]} was written)" if written else ""
        print(f"nnkit report: error: {error}{also}", file=sys.stderr)
        return 2
    if not getattr(args, "quiet", False):
        print(
            f"reported {report['submissions']} submissions ({report['graded']} graded): {', '.join(written)}"
        )
    return 0


def main(argv=None):
    """`python -m grader.classroom.class_report`: the same as `nnkit report`."""
    from grader.cli import main as nnkit

    return nnkit(["report", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
