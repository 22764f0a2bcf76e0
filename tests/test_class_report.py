"""The class report: planted bugs come out as the ranked mistakes, the numbers are right, the page is safe.

A real batch run costs about 5 s per submission (each is graded in the sandbox), so the class
here is graded in this process: each student is the reference implementation with a known
corpus bug (or a crash, or a hang) planted, graded by the registered checks of three exercises,
and written to OUTDIR the way tools.batch writes its results.
"""

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import solutions as ref
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from tests.corpus import target_with
from tests.corpus.layers import AffineBiasNotSummed, AffineTransposedDWAlways
from tools import batch
from tools.class_report import build_report, main, render_html

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
    """A record as tools.batch stores it in results/<student>.json."""
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


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    """A batch output folder: results/, feedback/ and gradebook.csv as tools.batch writes them."""
    out = tmp_path_factory.mktemp("class") / "graded"
    outputs = batch.Outputs(out)
    records = [record(name, "graded", "", grade(*setup)) for name, setup in CLASS.items()]
    name, status, problem = UNGRADEABLE
    records.append(record(name, status, problem, batch.unusable_results(problem)))
    for r in records:
        outputs.save(r)
    outputs.write_gradebook(records)
    return out


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
    assert mistakes[0]["students"] == sorted(TRANSPOSED) and mistakes[0]["count"] == 3
    dw = next(
        r
        for rec in records
        if rec["student"] == "ann"
        for r in rec["results"]
        if r["id"] == "Affine.backward_dW"
    )
    assert mistakes[0]["mistake"] == dw["mistake"] is not None
    assert "Affine.backward_dW" in mistakes[0]["checks"] and "x.T @ dout" in mistakes[0]["hint"]
    assert [m["count"] for m in mistakes] == sorted((m["count"] for m in mistakes), reverse=True)
    assert mistakes[-1]["students"] == ["dan"] and "summed over the batch" in mistakes[-1]["hint"]
    assert all(set(m["students"]) <= {*TRANSPOSED, "dan"} for m in mistakes)
    assert exercise(report, "sigmoid")["mistakes"] == []


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
    assert report["ungraded"] == [{"student": name, "status": status, "problem": problem}]
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
    assert written == json.loads(json.dumps(build_report(batch.Outputs(outdir).records())))
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
        [sys.executable, "-m", "tools.class_report", str(tmp_path / "nowhere")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and missing.stdout == ""
    assert missing.stderr.startswith("error:") and len(missing.stderr.strip().splitlines()) == 1
    assert "nowhere" in missing.stderr
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
