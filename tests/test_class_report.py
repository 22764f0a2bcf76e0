"""The class report: planted bugs come out as the ranked mistakes, the numbers are right, the page is safe.

A real batch run costs about 5 s per submission (each is graded in the sandbox), so the class
here is graded in this process: each student is the reference implementation with a known
corpus bug (or a crash, or a hang) planted, graded by the registered checks of three exercises,
and written to a batch output folder the way grader.classroom.batch writes its results.
`write_planted_class` is shared with tests/test_class_report_browser.py, which opens the page
in a real browser.
"""

import argparse
import dataclasses
import html
import json
import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from urllib.parse import unquote

import pytest

import solutions as ref
from grader.classroom import batch, class_report
from grader.classroom.class_report import add_arguments, build_report, main, render_html, run
from grader.classroom.submissions import file_stem
from grader.installed import version
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.target import as_target
from tests.corpus import target_with
from tests.corpus.layers import AffineBiasNotSummed, AffineTransposedDWAlways

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ("sigmoid", "Affine", "Relu")
SCRIPT = "<script>alert(1)</script>"
TRANSPOSED = ["ann", "ben", SCRIPT]  # AffineTransposedDWAlways
CRASH_MESSAGE = "<b>boom</b>"


class ReluCrashes(ref.Relu):
    """Raises in forward, with a message that is HTML."""

    def forward(self, x):
        raise RuntimeError(CRASH_MESSAGE)


class ReluHangs(ref.Relu):
    """Never returns from forward."""

    def forward(self, x):
        time.sleep(30)  # the check's time limit stops it


# student -> (replacements, per-check time limit or None)
CLASS = {
    **{name: ({"Affine": AffineTransposedDWAlways}, None) for name in TRANSPOSED},
    "dan": ({"Affine": AffineBiasNotSummed}, None),
    "eve": ({}, None),
    "fay": ({}, None),
    "gus": ({"Relu": ReluCrashes}, None),
    "hal": ({"Relu": ReluHangs}, 0.2),
}
GRADED = len(CLASS)
UNGRADEABLE = ("zed", "invalid submission", "not a zip file: <i>zed.zip</i>")


def grade(replacements, timeout):
    """The results of the chosen exercises for the reference with `replacements`, graded in process."""
    target, rubric = target_with(**replacements), load_rubric()
    return [
        run_check(c, target, rubric[c.id].points, rubric[c.id].visibility, timeout=timeout)
        for c in all_checks()
        if c.exercise in EXERCISES
    ]


def record(student, status, problem, results):
    """A record as grader.classroom.batch stores it in results/<student>.json."""
    return {
        "student": student,
        "submission": f"/submissions/{student}",
        "key": "0" * 64,
        "graded_at": "2025-01-01T00:00:00+00:00",
        "status": status,
        "problem": problem,
        "seconds": 0.1,
        "engine": "sandbox",
        "results": [dataclasses.asdict(r) for r in results],
    }


def write_planted_class(out):
    """Grade CLASS and the ungradeable submission into the batch output folder `out`
    (results/, feedback/ and gradebook.csv as grader.classroom.batch writes them); return `out`."""
    outputs = batch.Outputs(out)
    records = [record(name, "graded", "", grade(*setup)) for name, setup in CLASS.items()]
    name, status, problem = UNGRADEABLE
    records.append(record(name, status, problem, batch.unusable_results(problem)))
    for r in records:
        outputs.save(r)
    outputs.write_gradebook(records)
    return out


def planted_mistake(records, student, check_id):
    """The mistake identifier `student`'s result of `check_id` carries (None when it names none)."""
    return next(
        r["mistake"]
        for rec in records
        if rec["student"] == student
        for r in rec["results"]
        if r["id"] == check_id
    )


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    """The planted class's batch output folder."""
    return write_planted_class(tmp_path_factory.mktemp("class") / "graded")


@pytest.fixture(scope="module")
def records(outdir):
    return batch.Outputs(outdir).records()


@pytest.fixture(scope="module")
def report(records):
    return build_report(records)


def exercise(report, name):
    """The report's summary of one exercise."""
    return next(e for e in report["exercises"] if e["exercise"] == name)


def check(report, check_id):
    """The report's counts for one check."""
    return next(c for c in report["checks"] if c["id"] == check_id)


def test_mistakes_are_ranked_as_planted(report, records):
    mistakes = exercise(report, "Affine")["mistakes"]
    transposed = planted_mistake(records, "ann", "Affine.backward_dW")
    not_summed = planted_mistake(records, "dan", "Affine.backward_db")
    assert None not in (transposed, not_summed) and transposed != not_summed
    # exactly the two planted bugs, the one three students share first
    assert [(m["mistake"], m["students"], m["count"]) for m in mistakes] == [
        (transposed, sorted(TRANSPOSED), 3),
        (not_summed, ["dan"], 1),
    ]
    assert "Affine.backward_dW" in mistakes[0]["checks"] and "x.T @ dout" in mistakes[0]["hint"]
    assert "Affine.backward_db" in mistakes[1]["checks"] and "summed over the batch" in mistakes[1]["hint"]
    assert all(planted_mistake(records, s, "Affine.backward_dW") == transposed for s in TRANSPOSED)
    assert exercise(report, "sigmoid")["mistakes"] == [] and exercise(report, "Relu")["mistakes"] == []
    assert all(e["unnamed"] == [] for e in report["exercises"])


def test_pass_rates_and_means(report, records):
    assert report["submissions"] == GRADED + 1 and report["graded"] == GRADED
    assert check(report, "Affine.backward_dW")["pass_rate"] == round((GRADED - 3) / GRADED, 4)
    assert check(report, "Affine.backward_db")["pass_rate"] == round((GRADED - 1) / GRADED, 4)
    assert check(report, "sigmoid.values")["pass_rate"] == 1.0
    affine = exercise(report, "Affine")
    assert affine["pass_rate"] == round((GRADED - 4) / GRADED, 4)  # the transposed three and dan
    assert exercise(report, "Relu")["pass_rate"] == round((GRADED - 2) / GRADED, 4)  # gus, hal

    graded = [r for r in records if r["status"] == "graded"]
    affine_points = [sum(c["points"] for c in r["results"] if c["exercise"] == "Affine") for r in graded]
    assert affine["mean_points"] == pytest.approx(sum(affine_points) / GRADED, abs=1e-4)
    affine_max = sum(load_rubric()[c.id].points for c in all_checks() if c.exercise == "Affine")
    assert affine["max_points"] == affine_max and max(affine_points) == affine_max
    totals = {r["student"]: sum(c["points"] for c in r["results"]) for r in graded}
    assert report["scores"]["mean_percent"] == pytest.approx(
        100 * sum(totals.values()) / (GRADED * report["max_points"]), abs=0.01
    )
    assert report["scores"]["max_percent"] == 100.0
    rates = [c["pass_rate"] for c in report["checks"]]
    assert rates == sorted(rates)  # worst first


def test_crashes_and_timeouts_are_counted_apart(report):
    relu_checks = [c.id for c in all_checks() if c.exercise == "Relu"]
    assert report["crashes"]["students"] == ["gus"] and report["crashes"]["results"] == len(relu_checks)
    assert report["timeouts"]["students"] == ["hal"] and report["timeouts"]["results"] == len(relu_checks)
    assert CRASH_MESSAGE in report["crashes"]["checks"][0]["example"]
    relu = exercise(report, "Relu")
    assert (relu["crashed"], relu["timed_out"]) == (1, 1)
    for check_id in relu_checks:
        counts = check(report, check_id)
        assert (counts["crashed"], counts["timed_out"], counts["failed"]) == (1, 1, 0)
        assert counts["passed"] == GRADED - 2


def test_an_ungradeable_submission_is_listed_apart(report):
    name, status, problem = UNGRADEABLE
    assert report["ungraded"] == [
        {"student": name, "status": status, "problem": problem, "feedback": f"feedback/{name}.txt"}
    ]
    everyone = {s["student"] for s in report["scores"]["students"]}
    assert name not in everyone and name not in report["crashes"]["students"]
    assert all(c["students"] == GRADED for c in report["checks"])


def test_mistakes_are_grouped_by_identifier_not_by_text():
    def student(name, mistake, hint):
        failed = {
            "id": "Affine.forward",
            "exercise": "Affine",
            "status": "failed",
            "points": 0,
            "max_points": 1,
        }
        return {
            "student": name,
            "status": "graded",
            "results": [{**failed, "mistake": mistake, "hint": hint}],
        }

    records = [
        student("a", "layers.shape", "shape (5, 12) instead of (12, 5)"),
        student("b", "layers.shape", "shape (3, 7) instead of (7, 3)"),
        student("c", "layers.shape", "shape (5, 12) instead of (12, 5)"),
        student("d", "layers.other", "shape (5, 12) instead of (12, 5)"),
    ]
    mistakes = build_report(records)["exercises"][0]["mistakes"]
    assert [(m["mistake"], m["students"]) for m in mistakes] == [
        ("layers.shape", ["a", "b", "c"]),
        ("layers.other", ["d"]),
    ]
    assert mistakes[0]["hint"] == "shape (5, 12) instead of (12, 5)"  # the text shown most often


def test_the_page_escapes_what_students_wrote(report):
    page = render_html(report)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>boom" not in page and "&lt;b&gt;boom&lt;/b&gt;" in page
    assert "<i>zed" not in page and "&lt;i&gt;zed.zip&lt;/i&gt;" in page
    assert page.count('src="data:image/png;base64,') == 2
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    for heading in (
        "Score distribution",
        "Checks, worst first",
        "Crashes",
        "Time-outs",
        "could not be graded",
    ):
        assert heading in page


def test_cli_writes_the_page_and_the_json(outdir, tmp_path, capsys):
    page, numbers = tmp_path / "report.html", tmp_path / "report.json"
    assert main([str(outdir), "--out", str(page), "--json", str(numbers)]) == 0
    assert str(page) in capsys.readouterr().out
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    written = json.loads(numbers.read_text(encoding="utf-8"))
    expected = build_report(batch.Outputs(outdir).records(), batch=outdir.name)
    assert written == json.loads(json.dumps(expected))
    assert written["format"] == "nnkit-class-report/1"


def test_results_left_out_of_the_gradebook_are_left_out_of_the_report(outdir, tmp_path):
    copy = tmp_path / "graded"
    (copy / "results").mkdir(parents=True)
    for path in (outdir / "results").glob("*.json"):
        (copy / "results" / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    gradebook = (outdir / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    (copy / "gradebook.csv").write_text(
        "\n".join(line for line in gradebook if not line.startswith("fay,")) + "\n", encoding="utf-8"
    )
    assert main([str(copy), "--json", str(copy / "r.json")]) == 0
    written = json.loads((copy / "r.json").read_text(encoding="utf-8"))
    assert written["left_out"] == ["fay"] and written["submissions"] == GRADED
    assert (copy / "report.html").is_file()


def test_a_missing_or_empty_outdir_is_one_line_and_nonzero(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "grader.classroom.class_report", str(tmp_path / "nowhere")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and missing.stdout == ""
    assert missing.stderr.startswith("nnkit report: error:") and len(missing.stderr.strip().splitlines()) == 1
    assert "nowhere" in missing.stderr
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2


def test_quiet_prints_nothing_and_still_writes(outdir, tmp_path, capsys):
    page = tmp_path / "quiet.html"
    assert main([str(outdir), "--out", str(page), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_folder_that_is_no_batch_output_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a batch output\n", encoding="utf-8")
    assert main([str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("nnkit report: error: ") and len(err.strip().splitlines()) == 1
    assert "not a batch output" in err and "nnkit batch" in err
    assert not (tmp_path / "report.html").exists()


def test_without_matplotlib_the_error_is_one_line(outdir, tmp_path, capsys, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.ticker", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    page, numbers = tmp_path / "r.html", tmp_path / "r.json"
    assert main([str(outdir), "--out", str(page), "--json", str(numbers)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("nnkit report: error: ") and "matplotlib" in err and str(numbers) in err
    assert (
        not page.exists() and json.loads(numbers.read_text(encoding="utf-8"))["format"] == class_report.FORMAT
    )


def test_mounts_as_a_subcommand(outdir, tmp_path, capsys):
    """The way the nnkit command mounts it: add_arguments on a sub-parser, --quiet from the top."""
    top = argparse.ArgumentParser(prog="nnkit")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true")
    sub = top.add_subparsers(dest="command").add_parser(
        "report", parents=[common], epilog=class_report.EXAMPLES
    )
    add_arguments(sub)
    sub.set_defaults(run=run)
    args = top.parse_args(["report", str(outdir), "--out", str(tmp_path / "r.html")])
    assert args.run(args) == 0
    assert capsys.readouterr().out.strip() == (
        f"reported {GRADED + 1} submissions ({GRADED} graded): {tmp_path / 'r.html'}"
    )
    args = top.parse_args(["report", "-q", str(tmp_path / "nowhere")])
    assert args.run(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("nnkit report: error: no folder") and len(err.splitlines()) == 1
    assert "nnkit report graded/" in class_report.EXAMPLES


# -- what an instructor reads first, the stubs apart, the title, the links --------------------------
STUB = "sam"  # hands in the stubs untouched: every check "not implemented"


@pytest.fixture(scope="module")
def with_stub(outdir, tmp_path_factory):
    """A copy of the planted class's batch output with STUB's untouched stubs graded too."""
    import exercises

    copy = tmp_path_factory.mktemp("stub") / "week3"
    shutil.copytree(outdir, copy)
    target, rubric = as_target(exercises), load_rubric()
    results = [
        run_check(c, target, rubric[c.id].points, rubric[c.id].visibility)
        for c in all_checks()
        if c.exercise in EXERCISES
    ]
    outputs = batch.Outputs(copy)
    outputs.save(record(STUB, "graded", "", results))
    outputs.write_gradebook(outputs.records())
    return copy


def test_sections_come_in_the_order_an_instructor_acts_on(report):
    page = render_html(report)
    headings = [
        "<h2>Summary",
        "<h2>Named mistakes per exercise",
        "<h2>Students, lowest score first",
        "<h2>Submissions that could not be graded",
        "<h2>Score distribution",
        "<h2>Exercises: mean score and pass rate",
        "<h2>Checks, worst first",
    ]
    at = [page.index(h) for h in headings]
    assert at == sorted(at)


def test_checks_everyone_passed_are_one_line_and_hidden_checks_are_marked(report):
    page = render_html(report)
    everyone = [c for c in report["checks"] if c["pass_rate"] == 1.0]
    others = [c for c in report["checks"] if c["pass_rate"] != 1.0]
    assert everyone and others and "sigmoid.values" in {c["id"] for c in everyone}
    checks_at = page.index("<h2>Checks, worst first")
    assert f"{len(everyone)} checks passed by everyone" in page[checks_at:]
    for c in everyone:  # no row of their own
        assert f"<td><code>{c['id']}</code>" not in page[checks_at:]
    rows = [page.index(f"<td><code>{c['id']}</code>", checks_at) for c in others]
    assert rows == sorted(rows)  # worst first, as in the JSON
    assert max(rows) < page.index("checks passed by everyone", checks_at)
    hidden = check(report, "Affine.odd_shapes")
    assert hidden["visibility"] == "after_published" and hidden["pass_rate"] < 1
    assert check(report, "Affine.backward_dW")["visibility"] == "visible"
    assert '<td><code>Affine.odd_shapes</code> <span class="tag"' in page
    row = page[page.index("<td><code>Affine.odd_shapes</code>") :].split("</tr>")[0]
    assert ">hidden</span>" in row
    row = page[page.index("<td><code>Affine.backward_dW</code>") :].split("</tr>")[0]
    assert "hidden" not in row


def test_a_submission_that_implemented_nothing_is_counted_apart(with_stub, report):
    records = batch.Outputs(with_stub).records()
    stub = next(r for r in records if r["student"] == STUB)
    assert stub["results"] and {r["status"] for r in stub["results"]} == {"not implemented"}
    with_it = build_report(records)
    assert with_it["nothing_implemented"] == [STUB]
    assert (with_it["graded"], with_it["scored"]) == (GRADED + 1, GRADED)
    for key in ("mean_percent", "median_percent", "min_percent", "max_percent"):
        assert with_it["scores"][key] == report["scores"][key], key  # as if STUB were not there
    assert with_it["checks"] == report["checks"] and with_it["exercises"] == report["exercises"]
    listed = {s["student"]: s for s in with_it["scores"]["students"]}
    assert listed[STUB]["nothing_implemented"] and listed[STUB]["percent"] == 0
    assert not any(s["nothing_implemented"] for name, s in listed.items() if name != STUB)
    assert report["nothing_implemented"] == [] and report["scored"] == GRADED

    page = render_html(with_it)
    assert f"{GRADED + 1} graded, 1 could not be graded, 1 implemented nothing" in page
    assert "left out of the mean, the median" in page
    assert "<h2>Submissions that implemented nothing" in page
    assert "<h2>Submissions that implemented nothing" not in render_html(report)
    students_at = page.index("<h2>Students, lowest score first")
    table_end = page.index("</table>", students_at)
    row = page.index(f"<td>{STUB} ", students_at)
    assert row < table_end and page[row:].startswith(f'<td>{STUB} <span class="tag">nothing implemented')
    assert all(page.index(f"<td>{s}</td>", students_at) < row for s in ("eve", "fay", "dan"))  # last


def test_the_title_names_the_batch_the_date_the_count_and_the_version(records, monkeypatch):
    latest = "2025-03-04T05:06:07+00:00"
    changed = [{**r, "graded_at": latest} if r["student"] == "dan" else r for r in records]
    changed.append({**changed[0], "student": "naive", "graded_at": "2025-03-01T00:00:00"})
    numbers = build_report(changed, batch="week3")
    assert numbers["batch"] == "week3" and numbers["graded_at"] == latest
    assert numbers["grader_version"] == version()
    page = render_html(numbers)
    assert "<title>Class report: week3</title>" in page and "<h1>Class report: week3</h1>" in page
    context = page[page.index('<p class="context">') :].split("</p>")[0]
    assert f"{GRADED + 2} submissions" in context and "graded 2025-03-04 05:06 UTC" in context
    assert f"nnkit {version()}" in context

    def missing():
        raise PackageNotFoundError("nnkit")

    monkeypatch.setattr("grader.installed.version", missing)
    assert build_report(records)["grader_version"] == "unknown"
    assert "nnkit unknown" in render_html(build_report(records))


def hrefs(page):
    return re.findall(r'href="([^"]*)"', page)


def test_students_link_to_their_feedback(outdir, tmp_path):
    copy = tmp_path / "graded"
    shutil.copytree(outdir, copy)
    assert main([str(copy), "--quiet"]) == 0
    page = (copy / "report.html").read_text(encoding="utf-8")
    links = hrefs(page)
    everyone = [*CLASS, UNGRADEABLE[0]]
    assert len(links) == len(everyone) and '<a href="feedback/ann.txt">ann</a>' in page
    for student in everyone:
        stem = file_stem(student)
        (link,) = [h for h in links if unquote(h) == f"feedback/{stem}.txt"]
        assert (copy / unquote(html.unescape(link))).is_file()
    assert f">{html.escape(SCRIPT)}</a>" in page  # the name stays text inside its link
    assert "A name links to the feedback" in page

    elsewhere = tmp_path / "pages" / "week3" / "report.html"
    assert main([str(copy), "--out", str(elsewhere), "--quiet"]) == 0
    moved = hrefs(elsewhere.read_text(encoding="utf-8"))
    assert len(moved) == len(everyone)
    for link in moved:  # relative to the page's folder, to the same files
        assert link.startswith("../../graded/feedback/")
        assert (elsewhere.parent / unquote(html.unescape(link))).resolve().is_file()

    shutil.rmtree(copy / "feedback")  # no feedback files: no links
    assert main([str(copy), "--quiet"]) == 0
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert hrefs(page) == [] and "A name links to the feedback" not in page
