"""A batch finishes whatever its entries are: every entry gets a row, names stay as written,
the CSV is safe in a spreadsheet, notebooks of the wrong shape are their student's problem,
the size limit is the sandbox's own, and no folder of this machine reaches a student.

One class holds an entry per way of stopping a batch, next to honest submissions that
must keep exactly their scores.
"""

import copy
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader.classroom import batch, notebooks, submissions
from grader.classroom.notebooks import NotebookError, extract_impl, read_cells
from grader.classroom.submissions import discover, file_stem
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.sandbox import Limits
from grader.target import load_impl

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
CHAPTER = "ch2_activations"
RELEASE = ROOT / "release" / CHAPTER / f"{CHAPTER}.ipynb"
SOURCE = ROOT / "source" / CHAPTER / f"{CHAPTER}.ipynb"
TIMEOUT = 5.0
MAX_POINTS = sum(load_rubric()[c.id].points for c in all_checks())
LIMIT = Limits().submission_bytes
FORMULAS = ["=1+2", "+cmd", "-2+3", "@SUM(A1)"]
IGNORE = shutil.ignore_patterns("__pycache__")


def in_process_score(impl):
    target, rubric = load_impl(impl), load_rubric()
    return sum(run_check(c, target, rubric[c.id].points).points for c in all_checks())


def stubs(dest, *solved):
    """exercises/ at `dest`, with the modules `solved` taken from solutions/."""
    shutil.copytree(EXERCISES, dest, ignore=IGNORE)
    for module in solved:
        shutil.copy(SOLUTIONS / module, dest / module)
    return dest


def sized_zip(path, impl, total):
    """A zip of `impl` under exercises/, plus data/blob.bin so the package holds `total` bytes."""
    files = sorted(Path(impl).glob("*.py"))
    blob = total - sum(p.stat().st_size for p in files)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for p in files:
            archive.write(p, f"exercises/{p.name}")
        archive.writestr("exercises/data/blob.bin", os.urandom(blob))


def notebook_json():
    """The released chapter 2 notebook with the master's answer cells."""
    release, source = json.loads(RELEASE.read_text()), json.loads(SOURCE.read_text())
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in source["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    for cell in release["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    return release


def answer_cell(nb, grade_id):
    return next(
        c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


def broken_notebooks():
    """{student: notebook} whose grade_id, nbgrader metadata or source has the wrong JSON type."""
    honest = notebook_json()
    cases = {}
    cases["nb_grade_id"] = copy.deepcopy(honest)
    answer_cell(cases["nb_grade_id"], "answer_relu")["metadata"]["nbgrader"]["grade_id"] = ["answer_relu"]
    cases["nb_metadata"] = copy.deepcopy(honest)
    answer_cell(cases["nb_metadata"], "answer_relu")["metadata"]["nbgrader"] = "solution"
    cases["nb_source"] = copy.deepcopy(honest)
    answer_cell(cases["nb_source"], "answer_relu")["source"] = 42
    return cases


def write_notebook(folder, student, nb):
    path = folder / student / CHAPTER / f"{CHAPTER}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(nb))
    return path


def make_class(folder):
    """{student: expected total} for an entry per way of stopping a batch, and honest submissions."""
    folder.mkdir()
    expected = {}
    shutil.copytree(SOLUTIONS, folder / "alice", ignore=IGNORE)
    expected["alice"] = MAX_POINTS
    perceptron = in_process_score(stubs(folder.parent / "perceptron", "perceptron.py"))
    assert perceptron > 0
    stubs(folder / "José", "perceptron.py")  # José, not Jos
    expected["José"] = perceptron
    stubs(folder / "测试")  # sanitised, nothing was left of this name
    expected["测试"] = 0
    stubs(folder / "müller", "perceptron.py")  # müller and m_ller sanitised alike
    expected["müller"] = perceptron
    stubs(folder / "m_ller")
    expected["m_ller"] = 0
    stubs(folder / "dup")  # dup and dup.zip: one name, two entries
    expected["dup"] = 0
    with zipfile.ZipFile(folder / "dup.zip", "w") as archive:
        for p in sorted((folder.parent / "perceptron").glob("*.py")):
            archive.write(p, p.name)
    expected["dup.zip"] = perceptron
    for name in FORMULAS:
        stubs(folder / name)
        expected[name] = 0
    crashing = stubs(folder / "rt", "layers.py")
    layers = crashing / "layers.py"
    answer = '        return self.x @ self.params["W"] + self.params["b"]\n'
    assert answer in layers.read_text()
    layers.write_text(layers.read_text().replace(answer, '        raise KeyError("oops")\n', 1))
    expected["rt"] = in_process_score(crashing)
    assert expected["rt"] > 0
    surrogate = stubs(folder / "surrogate", "perceptron.py")  # raises with "\ud800" in its message
    module = surrogate / "perceptron.py"
    module.write_text(
        module.read_text(encoding="utf-8").replace(
            "def AND(", "def AND(*args, **kwargs):\n    raise ValueError('\\ud800')\n\n\ndef _AND(", 1
        ),
        encoding="utf-8",
    )
    expected["surrogate"] = in_process_score(surrogate)
    assert 0 < expected["surrogate"] < perceptron
    honest_nb = write_notebook(folder, "nb_honest", notebook_json())
    expected["nb_honest"] = in_process_score(extract_impl([honest_nb], folder.parent / "nb_impl"))
    assert expected["nb_honest"] > 0
    for student, nb in broken_notebooks().items():
        write_notebook(folder, student, nb)
        expected[student] = 0
    sized_zip(folder / "fits.zip", folder.parent / "perceptron", LIMIT)  # the sandbox's limit: graded
    expected["fits"] = perceptron
    sized_zip(folder / "big.zip", folder.parent / "perceptron", LIMIT + 1)  # one byte more: refused
    expected["big"] = 0
    (folder / "nobody").mkdir()  # an empty folder is a row too
    expected["nobody"] = 0
    (folder / "carol.tar.gz").write_bytes(b"\x1f\x8b not a zip")
    expected["carol.tar"] = 0
    return expected


def read_gradebook(path):
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


def by_student(rows):
    """{student as written: row}: the CSV's ' before a formula is taken off again."""
    return {row["student"].removeprefix("'"): row for row in rows}


@pytest.fixture(scope="module")
def fixed_grader():
    """The grader's fingerprint as it is now, for every run of this module (resuming is about names)."""
    fingerprint = batch.grader_fingerprint()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch, "grader_fingerprint", lambda: fingerprint)
        yield


@pytest.fixture(scope="module")
def graded(tmp_path_factory, fixed_grader):
    base = tmp_path_factory.mktemp("entries")
    expected = make_class(base / "class")
    summary = batch.grade_batch(base / "class", base / "out", jobs=2, timeout=TIMEOUT)
    return base / "class", base / "out", expected, summary


def test_every_entry_gets_a_row_and_honest_ones_their_exact_score(graded):
    _, out, expected, summary = graded
    book = by_student(read_gradebook(out / "gradebook.csv"))
    assert sorted(book) == sorted(expected)
    assert {name: float(row["total"]) for name, row in book.items()} == expected
    invalid = {"big", "nobody", "carol.tar", "nb_grade_id", "nb_metadata", "nb_source"}
    assert {n for n, row in book.items() if row["status"] != "graded"} == invalid
    assert summary == {
        "graded": len(expected) - len(invalid),
        "skipped": 0,
        "problems": len(invalid),
        "gone": [],
    }


def test_a_wrongly_typed_notebook_is_its_students_problem(graded):
    _, out, _, _ = graded
    book = by_student(read_gradebook(out / "gradebook.csv"))
    assert "cell 9: its nbgrader grade_id is a list, not a string" in book["nb_grade_id"]["notes"]
    assert "cell 9: its nbgrader metadata is a string, not an object" in book["nb_metadata"]["notes"]
    assert "cell 9: its source is a number, not text" in book["nb_source"]["notes"]
    assert "nothing handed in" in book["nobody"]["notes"]
    assert "hand in a folder or a .zip" in book["carol.tar"]["notes"]


def test_names_are_kept_and_never_share_a_file(graded):
    _, out, expected, _ = graded
    records = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "results").glob("*.json")]
    assert sorted(r["student"] for r in records) == sorted(expected)  # raw names in the JSON
    for record in records:
        stem = file_stem(record["student"])
        assert (out / "results" / f"{stem}.json").is_file()
        assert (out / "feedback" / f"{stem}.txt").is_file()
    assert file_stem("alice") == "alice" and file_stem("José").startswith("José~")
    stems = {file_stem(name) for name in expected} | {
        file_stem(n) for n in ("Alice", "ALICE", "mu\u0308ller")
    }
    assert len(stems) == len(expected) + 3
    assert len({s.casefold() for s in stems}) == len(stems)  # also on a case-insensitive file system


def test_gradebook_cells_never_run_as_formulas(graded):
    _, out, _, _ = graded
    rows = read_gradebook(out / "gradebook.csv")
    for row in rows:
        for value in row.values():
            assert not value.startswith(batch.FORMULA_START), value
    shown = {row["student"] for row in rows}
    assert {"'" + name for name in FORMULAS} <= shown


def test_size_limit_is_the_sandboxs_own(graded):
    _, out, expected, _ = graded
    book = by_student(read_gradebook(out / "gradebook.csv"))
    assert book["fits"]["status"] == "graded" and float(book["fits"]["total"]) == expected["fits"] > 0
    assert book["big"]["status"] == "invalid submission"
    assert f"more than {LIMIT >> 20} MB when unpacked" in book["big"]["notes"]
    assert submissions.MAX_BYTES == notebooks.MAX_BYTES == LIMIT


def test_no_folder_of_this_machine_reaches_a_student(graded):
    folder, out, expected, _ = graded
    host = [str(ROOT), str(folder), str(folder.resolve()), tempfile.gettempdir() + "/", sys.prefix]
    for path in (out / "feedback").iterdir():
        text = path.read_text(encoding="utf-8")
        for prefix in host:
            assert prefix not in text, f"{path.name}: {prefix} in the feedback"
    rt = (out / "feedback" / "rt.txt").read_text()
    assert 'File "layers.py", line' in rt and "KeyError" in rt
    big = (out / "feedback" / "big.txt").read_text()
    assert big.startswith("Your submission could not be graded: big.zip: more than")
    assert big.splitlines()[1:] == ["", f"Score: 0 / {sum(e.points for e in load_rubric().values()):g}"]


def test_resuming_with_new_colliding_names_moves_nobodys_results(graded, tmp_path):
    folder, out, expected, _ = graded
    shutil.copytree(folder, tmp_path / "class")
    shutil.copytree(out, tmp_path / "out")
    results = tmp_path / "out" / "results"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in results.iterdir()}
    old_book = by_student(read_gradebook(out / "gradebook.csv"))
    for name in ("mu\u0308ller", "Müller", "m-ller"):  # müller written decomposed, capitalised, ...
        stubs(tmp_path / "class" / name)
    shutil.copy(folder / "dup.zip", tmp_path / "class" / "alice.zip")  # and a second alice

    summary = batch.grade_batch(tmp_path / "class", tmp_path / "out", timeout=TIMEOUT)
    assert summary == {"graded": 4, "skipped": len(expected), "problems": 0, "gone": []}
    for name, (data, mtime) in before.items():
        assert (results / name).read_bytes() == data and (results / name).stat().st_mtime_ns == mtime
    book = by_student(read_gradebook(tmp_path / "out" / "gradebook.csv"))
    assert set(book) == set(expected) | {"mu\u0308ller", "Müller", "m-ller", "alice.zip"}
    for name, row in old_book.items():
        assert {k: v for k, v in book[name].items() if k != "notes"} == {
            k: v for k, v in row.items() if k != "notes"
        }
    assert float(book["alice.zip"]["total"]) == expected["dup.zip"]
    assert "entries alice, alice.zip have the same name" in book["alice"]["notes"]


def test_discovery_never_raises_for_one_entry(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    stubs(folder / "ok")
    (folder / "link").symlink_to(folder / "ok")
    locked = stubs(folder / "locked")
    (locked / "inner").mkdir()
    (locked / "inner" / "x.py").write_text("")
    os.chmod(locked / "inner", 0)
    try:
        found = {s.name: s for s in discover(folder)}
    finally:
        os.chmod(locked / "inner", 0o755)
    assert found["ok"].kind == "dir"
    assert found["link"].kind == "invalid" and "symbolic link" in found["link"].problem
    if os.geteuid() != 0:  # root reads any folder
        assert found["locked"].kind == "invalid" and "cannot read" in found["locked"].problem


# ----------------------------------------------------------------------------- the notebook reader
def write(tmp_path, nb, name="nb.ipynb"):
    path = tmp_path / name
    path.write_text(json.dumps(nb) if not isinstance(nb, str) else nb)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda nb: answer_cell(nb, "answer_relu")["metadata"]["nbgrader"].update(grade_id=3),
            "grade_id is a number",
        ),
        (
            lambda nb: answer_cell(nb, "answer_relu")["metadata"]["nbgrader"].update(solution="yes"),
            "solution is a string",
        ),
        (
            lambda nb: answer_cell(nb, "answer_relu")["metadata"].update(nbgrader=[1]),
            "nbgrader metadata is a list",
        ),
        (lambda nb: answer_cell(nb, "answer_relu").update(metadata="x"), "its metadata is a string"),
        (lambda nb: answer_cell(nb, "answer_relu").update(source=["a", 1]), "its source is a list, not text"),
        (lambda nb: answer_cell(nb, "answer_relu").update(source={"x": 1}), "its source is an object"),
        (lambda nb: answer_cell(nb, "answer_relu").update(source="\ud800"), "not valid Unicode"),
        (lambda nb: answer_cell(nb, "answer_relu").update(cell_type=None), "cell_type is null"),
        (lambda nb: nb["cells"].__setitem__(0, "cell"), "cell 1 is a string"),
        (lambda nb: nb.update(cells={}), "its cells are an object"),
    ],
)
def test_the_reader_names_the_notebook_and_cell_of_a_wrong_type(tmp_path, change, message):
    nb = notebook_json()
    change(nb)
    path = write(tmp_path, nb)
    with pytest.raises(NotebookError, match=message) as error:
        extract_impl([path], tmp_path / "impl")
    assert str(error.value).startswith("nb.ipynb") and str(tmp_path) not in str(error.value)


def test_the_reader_refuses_what_is_not_a_notebook(tmp_path):
    for text, message in [("{ not json", "not JSON"), ("[1]", "holds a list"), ("x" * 100, "larger than")]:
        with pytest.raises(NotebookError, match=message):
            read_cells(write(tmp_path, text), max_bytes=50)


def test_answer_code_is_taken_whole_whatever_shares_its_lines(tmp_path):
    nb = notebook_json()
    relu = answer_cell(nb, "answer_relu")
    relu["source"] = (
        "LIMIT = 0; _unused = (\n    1)\n"  # a constant whose line holds the start of another statement
        "def relu(x):\n"
        '    label = "a\u2028b"  # a line separator inside a string literal\n'
        "    return np.maximum(np.asarray(x, dtype=float), LIMIT)\n"
    )
    impl = extract_impl([write(tmp_path, nb)], tmp_path / "impl")
    text = (impl / "functions.py").read_text(encoding="utf-8")
    compile(text, "functions.py", "exec")
    assert '"a\u2028b"' in text
    target = load_impl(impl)
    relu_checks = [c for c in all_checks() if c.exercise == "relu"]
    assert all(run_check(c, target).passed for c in relu_checks)


# ----------------------------------------------------------------------------- grader.classroom.regrade
@pytest.mark.slow
def test_regrade_finishes_on_a_bad_notebook_and_reports_every_difference(tmp_path, monkeypatch, capsys):
    """The gradebook gave every student full marks; the wrongly typed notebooks are reported
    with their reason and a trusted 0, the honest one agrees; nothing is written."""
    pytest.importorskip("nbgrader", reason="grader.classroom.regrade needs nbgrader")
    from nbgrader.api import Gradebook

    from grader import cli
    from grader.classroom import regrade
    from grader.classroom.course_config import COURSE_ID

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cases = {"honest": notebook_json(), **broken_notebooks()}
    for student, nb in cases.items():
        write_notebook(tmp_path / "submitted", student, nb)
    tests = {
        c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
        for c in json.loads(RELEASE.read_text())["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade")
    }
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", COURSE_ID) as gb:
        gb.add_assignment(CHAPTER)
        gb.add_notebook(CHAPTER, CHAPTER)
        for gid, points in tests.items():
            gb.add_grade_cell(gid, CHAPTER, CHAPTER, max_score=points, cell_type="code")
        for student in cases:
            gb.add_student(student)
            gb.add_submission(CHAPTER, student)
            for gid, points in tests.items():
                gb.find_grade(gid, CHAPTER, CHAPTER, student).auto_score = points
        gb.db.commit()
    full = sum(tests.values())
    database = (tmp_path / "gradebook.db").read_bytes()

    assert cli.main(["--course", str(tmp_path), "regrade", CHAPTER]) == 1
    out = capsys.readouterr().out
    assert "could not be graded: ch2_activations.ipynb: cell 9: its nbgrader grade_id is a list" in out
    assert out.count("DIFFERS") == 3 and str(tmp_path) not in out
    assert f"nbgrader autograde {CHAPTER} --force" in out
    rows = {r.student: r for r in regrade.regrade(tmp_path, CHAPTER)}
    assert rows["honest"].trusted_total == rows["honest"].nbgrader_total == full
    assert not rows["honest"].problem and not rows["honest"].differing_cells()
    for student in broken_notebooks():
        assert rows[student].problem and rows[student].trusted == dict.fromkeys(tests, 0.0)
        assert rows[student].nbgrader_total == full
    assert (tmp_path / "gradebook.db").read_bytes() == database  # a report: nothing written
    assert cli.main(["--course", str(tmp_path), "regrade", CHAPTER, "--write"]) == 2
    assert "nbgrader autograde" in capsys.readouterr().err


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs"
)
def test_job_processes_are_spread_over_the_cpus():
    """Each job process (and its sandbox workers) gets a CPU of its own, in turn."""
    import multiprocessing

    allowed = os.sched_getaffinity(0)
    counter = multiprocessing.get_context("spawn").Value("i", 0)
    held = []
    try:
        for _ in range(len(allowed) + 1):
            batch.hold_to_cpu(counter)
            held.append(os.sched_getaffinity(0))
            os.sched_setaffinity(0, allowed)
    finally:
        os.sched_setaffinity(0, allowed)
    assert [len(h) for h in held] == [1] * len(held)
    assert set().union(*held[:-1]) == allowed  # one CPU each, then round again
    assert held[-1] == held[0]


def test_results_files_are_replaced_whole_and_readable_by_the_instructors_group(tmp_path):
    """Feedback, gradebooks, notebooks and zips get a plain file's mode (not mkstemp's 0600),
    and a write that fails leaves the old file and no temporary one."""
    from grader.files import replaced

    path = tmp_path / "out" / "gradebook.csv"
    old = os.umask(0o022)
    try:
        with replaced(path) as f:
            f.write("first")
    finally:
        os.umask(old)
    assert path.read_text() == "first" and path.stat().st_mode & 0o777 == 0o644
    with pytest.raises(RuntimeError), replaced(path) as f:
        f.write("half")
        raise RuntimeError("stopped")
    assert path.read_text() == "first" and sorted(p.name for p in path.parent.iterdir()) == ["gradebook.csv"]


@pytest.mark.parametrize("where", [".", "alice", "alice/graded"])
def test_an_out_folder_that_would_hide_or_become_a_submission_is_refused(tmp_path, where):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "layers.py").write_text("x = 1\n")
    (tmp_path / "subs" / "bob").mkdir()
    with pytest.raises(submissions.SubmissionError, match="--out"):
        batch.check_out_folder(tmp_path / "subs", tmp_path / "subs" / where)
    batch.check_out_folder(tmp_path / "subs", tmp_path / "subs" / "graded")  # a new folder: skipped as before
    batch.check_out_folder(tmp_path / "subs", tmp_path / "graded")
