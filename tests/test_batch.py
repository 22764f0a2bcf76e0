"""Batch grading: right totals for a mixed class, resume, atomic gradebook, Dask, safe unpacking."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.classroom import batch
from grader.classroom.submissions import SubmissionError, assemble, discover, prepare, safe_extract
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.target import load_impl

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
TIMEOUT = 5.0  # per import and per check; the looping submission costs about this much
MAX_POINTS = sum(load_rubric()[c.id].points for c in all_checks())


def zip_dir(directory, zip_path, prefix=""):
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(directory.glob("*.py")):
            archive.write(path, prefix + path.name)


def in_process_score(impl):
    """The honest score of a harmless implementation, graded in this process."""
    target, rubric = load_impl(impl), load_rubric()
    return sum(run_check(c, target, rubric[c.id].points).points for c in all_checks())


def make_class(folder):
    """A mixed class: correct dir, correct zip, untouched stubs, a syntax error, a loop, a bad zip."""
    folder.mkdir()
    shutil.copytree(SOLUTIONS, folder / "alice", ignore=shutil.ignore_patterns("__pycache__"))
    zip_dir(SOLUTIONS, folder / "bob.zip", prefix="exercises/")
    shutil.copytree(EXERCISES, folder / "carol", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SOLUTIONS, folder / "dave", ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / "dave" / "layers.py", "a") as f:
        f.write("\ndef broken(:\n")
    shutil.copytree(SOLUTIONS, folder / "eve", ignore=shutil.ignore_patterns("__pycache__"))
    init = folder / "eve" / "__init__.py"
    init.write_text("while True:\n    pass\n" + init.read_text())
    with zipfile.ZipFile(folder / "mallory.zip", "w") as archive:
        archive.writestr("../../escaped.py", "print('out')\n")
    return folder


def read_gradebook(path):
    return {row["student"]: row for row in csv.DictReader(io.StringIO(Path(path).read_text()))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once with --jobs 2: (submissions folder, output folder, summary)."""
    base = tmp_path_factory.mktemp("batch")
    folder = make_class(base / "submissions")
    summary = batch.grade_batch(folder, base / "out", jobs=2, timeout=TIMEOUT)
    return folder, base / "out", summary


def test_mixed_class_gets_the_right_totals(graded):
    folder, out, summary = graded
    assert summary == {"graded": 5, "skipped": 0, "problems": 1, "gone": []}
    book = read_gradebook(out / "gradebook.csv")
    assert sorted(book) == ["alice", "bob", "carol", "dave", "eve", "mallory"]
    totals = {name: float(row["total"]) for name, row in book.items()}
    dave = in_process_score(folder / "dave")
    assert 0 < dave < MAX_POINTS
    assert totals == {
        "alice": MAX_POINTS,
        "bob": MAX_POINTS,
        "carol": 0,
        "dave": dave,
        "eve": 0,
        "mallory": 0,
    }
    assert all(float(row["max"]) == MAX_POINTS for row in book.values())
    assert book["alice"]["percent"] == "100.0" and book["alice"]["status"] == "graded"
    assert "did not finish within" in book["eve"]["notes"]
    assert book["mallory"]["status"] == "invalid submission" and "'..'" in book["mallory"]["notes"]
    assert not (folder.parent / "escaped.py").exists()
    exercise_columns = [
        c for c in book["alice"] if c not in ("student", "total", "max", "percent", "status", "notes")
    ]
    assert sum(float(book["dave"][c]) for c in exercise_columns) == dave


def test_feedback_is_the_local_report_and_gradescope_json(graded):
    _, out, _ = graded
    carol = (out / "feedback" / "carol.txt").read_text()
    assert "not implemented yet" in carol and f"Score: 0 / {MAX_POINTS:g}" in carol
    alice = json.loads((out / "feedback" / "alice.json").read_text())
    assert alice["score"] == MAX_POINTS and len(alice["tests"]) == len(all_checks())
    assert {t["status"] for t in alice["tests"]} == {"passed"}
    mallory = (out / "feedback" / "mallory.txt").read_text()
    assert mallory.startswith("Your submission could not be graded:")


def test_rerun_skips_graded_submissions_and_force_regrades(graded, tmp_path):
    folder, out, _ = graded
    shutil.copytree(out, tmp_path / "out")
    results = tmp_path / "out" / "results"
    before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    summary = batch.grade_batch(folder, tmp_path / "out", timeout=TIMEOUT)
    assert summary == {"graded": 0, "skipped": 6, "problems": 0, "gone": []}
    assert {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")} == before
    assert read_gradebook(tmp_path / "out" / "gradebook.csv") == read_gradebook(out / "gradebook.csv")

    changed = tmp_path / "class"
    shutil.copytree(folder, changed)
    shutil.copy(SOLUTIONS / "perceptron.py", changed / "carol" / "perceptron.py")
    summary = batch.grade_batch(changed, tmp_path / "out", timeout=TIMEOUT)
    assert summary == {"graded": 1, "skipped": 5, "problems": 0, "gone": []}
    assert float(read_gradebook(tmp_path / "out" / "gradebook.csv")["carol"]["total"]) > 0

    summary = batch.grade_batch(changed, tmp_path / "out", force=True, only=["mallory"], timeout=TIMEOUT)
    assert summary["problems"] == 1 and summary["skipped"] == 0
    assert (results / "mallory.json").stat().st_mtime_ns > before["mallory.json"]
    assert (results / "alice.json").stat().st_mtime_ns == before["alice.json"]


def test_a_removed_submission_leaves_the_gradebook_but_keeps_its_results(graded, tmp_path, capsys):
    folder, out, _ = graded
    shutil.copytree(out, tmp_path / "out")
    shutil.copytree(folder, tmp_path / "class")
    shutil.rmtree(tmp_path / "class" / "carol")
    assert cli.main(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "out")]) == 0
    assert "no submission any more: carol" in capsys.readouterr().err
    book = read_gradebook(tmp_path / "out" / "gradebook.csv")
    assert "carol" not in book and set(book) == set(read_gradebook(out / "gradebook.csv")) - {"carol"}
    assert (tmp_path / "out" / "results" / "carol.json").is_file()


def test_failure_while_writing_the_gradebook_keeps_the_old_one(graded, tmp_path, monkeypatch):
    folder, out, _ = graded
    shutil.copytree(out, tmp_path / "out")
    old = (tmp_path / "out" / "gradebook.csv").read_bytes()
    (tmp_path / "out" / "results" / "carol.json").unlink()  # so the run regrades carol and rewrites the book

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(batch.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        batch.grade_batch(folder, tmp_path / "out", only=["carol"], timeout=TIMEOUT)
    assert (tmp_path / "out" / "gradebook.csv").read_bytes() == old
    assert not list((tmp_path / "out").rglob("*.tmp")), "a temporary file was left behind"


def test_killed_run_leaves_no_partial_gradebook_and_resumes(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("s1", "s2", "s3"):
        shutil.copytree(EXERCISES, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "batch", str(folder), "--out", str(out), "--jobs", "1"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list((out / "results").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    graded_before = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert graded_before, "nothing was graded before the kill"
    assert not (out / "gradebook.csv").exists() or len(read_gradebook(out / "gradebook.csv")) == 3
    for path in (out / "results").glob("*.json"):
        json.loads(path.read_text())  # every result on disk is whole

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"already graded {len(graded_before)}" in rerun.stdout
    for name, mtime in graded_before.items():
        assert (out / "results" / name).stat().st_mtime_ns == mtime
    book = read_gradebook(out / "gradebook.csv")
    assert sorted(book) == ["s1", "s2", "s3"] and {row["total"] for row in book.values()} == {"0"}


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_gradebook(graded, tmp_path):
    pytest.importorskip("distributed", reason="the Dask backend needs the 'distributed' package")
    folder, out, _ = graded
    names = ["alice", "carol", "mallory"]
    batch.grade_batch(folder, tmp_path / "out", jobs=2, dask="local", only=names, timeout=TIMEOUT)
    dask_book = read_gradebook(tmp_path / "out" / "gradebook.csv")
    local_book = read_gradebook(out / "gradebook.csv")
    assert sorted(dask_book) == names
    assert dask_book == {name: local_book[name] for name in names}
    engines = {json.loads(p.read_text())["engine"] for p in (tmp_path / "out" / "results").glob("*.json")}
    assert engines <= {batch.engine_name(), "none"}


def test_dask_scheduler_address_grades_on_separately_started_workers(graded, tmp_path):
    """--dask ADDRESS: a scheduler and a worker started by hand (as on a cluster), not a LocalCluster."""
    pytest.importorskip("distributed", reason="the Dask backend needs the 'distributed' package")
    folder, out, _ = graded
    info = tmp_path / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
        + common
        + ["--scheduler-file", str(info)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"] + common,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        names = ["alice", "carol"]
        assert (
            cli.main(
                ["batch", str(folder), "--out", str(tmp_path / "out"), "--dask", address, "--only", *names]
            )
            == 0
        )
        book = read_gradebook(tmp_path / "out" / "gradebook.csv")
        assert book == {name: read_gradebook(out / "gradebook.csv")[name] for name in names}
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_child_process_fallback_grades_and_stops_loops(tmp_path):
    """Without grader.sandbox, each submission is graded by `python -m grader` in a killable child."""
    stubs = batch.grade_in_child(EXERCISES, timeout=60)
    assert len(stubs) == len(all_checks()) and {r.status for r in stubs} == {"not implemented"}
    assert sum(r.max_points for r in stubs) == MAX_POINTS
    looping = tmp_path / "looping"
    shutil.copytree(EXERCISES, looping, ignore=shutil.ignore_patterns("__pycache__"))
    (looping / "__init__.py").write_text("while True:\n    pass\n")
    started = time.monotonic()
    results = batch.grade_in_child(looping, timeout=2)
    assert time.monotonic() - started < 10
    assert {r.status for r in results} == {"timeout"} and sum(r.points for r in results) == 0
    assert "did not finish within 2 s" in results[0].message


def test_unsafe_zips_are_refused(tmp_path):
    def make(name, entries, **info):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for entry, data in entries:
                zinfo = zipfile.ZipInfo(entry)
                if "link" in name:
                    zinfo.external_attr = 0o120777 << 16
                archive.writestr(zinfo, data)
        return path

    cases = {
        make("up.zip", [("ok.py", "x = 1\n"), ("../evil.py", "x\n")]): "'..'",
        make("deep.zip", [("a/../../evil.py", "x\n")]): "'..'",
        make("abs.zip", [("/tmp/evil.py", "x\n")]): "absolute path",
        make("link.zip", [("solutions", "/work/main/solutions")]): "symbolic link",
        make("big.zip", [("big.py", "#" * 5000)]): "when unpacked",
    }
    for path, reason in cases.items():
        dest = tmp_path / f"dest-{path.stem}"
        with pytest.raises(SubmissionError, match=reason):
            safe_extract(path, dest, max_bytes=4000)
        assert not dest.exists(), f"{path.name}: files were written before the zip was refused"
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(SubmissionError, match="not a readable zip"):
        safe_extract(tmp_path / "junk.zip", tmp_path / "junk")


def test_loose_py_files_are_laid_over_the_stubs(tmp_path):
    upload = tmp_path / "upload" / "nested"
    upload.mkdir(parents=True)
    shutil.copy(SOLUTIONS / "perceptron.py", upload / "perceptron.py")
    impl = assemble(tmp_path / "upload", tmp_path / "impl")
    assert sorted(p.name for p in impl.glob("*.py")) == sorted(p.name for p in EXERCISES.glob("*.py"))
    assert (impl / "perceptron.py").read_text() == (SOLUTIONS / "perceptron.py").read_text()
    assert (impl / "layers.py").read_text() == (EXERCISES / "layers.py").read_text()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(SubmissionError, match="no implementation found"):
        assemble(tmp_path / "empty", tmp_path / "impl2")


def test_notebook_submissions_are_extracted_or_reported_unsupported(tmp_path):
    student = tmp_path / "class" / "zoe" / "ps1"
    student.mkdir(parents=True)
    (student / "ps1.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    (submission,) = discover(tmp_path / "class")
    assert (submission.name, submission.kind) == ("zoe", "notebooks")
    try:
        import grader.classroom.notebooks  # noqa: F401
    except ImportError:
        with pytest.raises(SubmissionError, match="not supported"):
            prepare(submission, tmp_path / "impl")
    else:  # no answer cells: the stubs
        impl = prepare(submission, tmp_path / "impl")
        assert (impl / "layers.py").read_text() == (EXERCISES / "layers.py").read_text()
    (student / "ps1.ipynb").write_text("{ not json")
    with pytest.raises(SubmissionError):
        prepare(submission, tmp_path / "impl-broken")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", "batch", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_user_mistakes_get_one_clear_line(tmp_path):
    missing = run_cli(tmp_path / "nope", "--out", tmp_path / "out")
    assert missing.returncode == 2 and "no such directory" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_cli(tmp_path / "empty", "--out", tmp_path / "out")
    assert empty.returncode == 2 and "no submissions" in empty.stderr
    one = run_cli(SOLUTIONS, "--out", tmp_path / "out")
    assert one.returncode == 2 and "one implementation directory" in one.stderr
    (tmp_path / "empty" / "ann.zip").write_bytes(b"x")
    unknown = run_cli(tmp_path / "empty", "--out", tmp_path / "out", "--only", "bob")
    assert unknown.returncode == 2 and "no submission named bob" in unknown.stderr
    shutil.copytree(EXERCISES, tmp_path / "class" / "ann", ignore=shutil.ignore_patterns("__pycache__"))
    scheduler = run_cli(tmp_path / "class", "--out", tmp_path / "out", "--dask", "nonsense://x")
    assert scheduler.returncode == 2 and "cannot reach the Dask scheduler" in scheduler.stderr
    for result in (missing, empty, one, unknown, scheduler):
        assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "out" / "gradebook.csv")


def test_the_mistake_a_hint_names_survives_the_results_json_and_a_forged_one_does_not():
    from grader.classroom.batch import results_from_gradescope
    from grader.registry import CHECKS as REGISTERED
    from grader.report import gradescope_results
    from grader.results import run_check
    from tests.corpus import target_with
    from tests.corpus.layers import AffineTransposedDWAlways

    result = run_check(REGISTERED["Affine.backward_dW"], target_with(Affine=AffineTransposedDWAlways))
    assert result.mistake == "generic.transposed"
    data = gradescope_results([result])
    back = {r.id: r for r in results_from_gradescope(data, "missing")}
    assert back["Affine.backward_dW"].mistake == result.mistake
    data["tests"][0]["extra_data"] = {"mistake": "<script>alert(1)</script>"}
    assert {r.id: r for r in results_from_gradescope(data, "missing")}["Affine.backward_dW"].mistake is None
