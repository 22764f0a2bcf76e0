"""`nnkit similarity` flags disguised copies of a whole submission and nothing else.

One class holds every form batch grading accepts: the reference solutions as a folder, a
disguised copy of them as a zip, a second correct implementation written independently
(tests/similarity/independent/) as loose .py files with its own disguised copy, untouched
stubs, a .rar nobody can read, and two nbgrader notebooks: one with code in its answer cells,
one with the same code outside them.
"""

import ast
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import pytest

from grader.classroom import similarity
from grader.registry import all_checks, load_rubric

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
INDEPENDENT = Path(__file__).resolve().parent / "similarity" / "independent"
THRESHOLD = similarity.DEFAULT_THRESHOLD
MARGIN = 0.2
IGNORE = shutil.ignore_patterns("__pycache__")


# -- a disguised copy: renamed variables, reordered definitions, new comments and docstrings ---------
def _line_starts(text):
    starts, total = [0, 0], 0
    for line in text.splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


def _replaced(text, edits):
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def renamed_and_reworded(text):
    """Every function's local variables renamed (not its parameters); new docstrings and comments."""
    tree, starts, edits = ast.parse(text), _line_starts(text), []

    def at(line, col):
        return starts[line] + col

    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef):
            params = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
            names = [n for n in ast.walk(func) if isinstance(n, ast.Name)]
            local = {n.id for n in names if isinstance(n.ctx, ast.Store)} - params
            edits += [
                (at(n.lineno, n.col_offset), at(n.end_lineno, n.end_col_offset), f"my_{n.id}")
                for n in names
                if n.id in local
            ]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node):
            doc = node.body[0].value
            span = at(doc.lineno, doc.col_offset), at(doc.end_lineno, doc.end_col_offset)
            edits.append((*span, '"""Written for the course."""'))
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            edits.append((at(*token.start), at(*token.end), "# see my notes"))
    return _replaced(text, edits)


def _reversed_definitions(text, bodies):
    """`text` with the functions and classes of each body (list of statements) in reverse order."""
    lines = text.splitlines(keepends=True)

    def span(node):
        return min(
            [node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]
        ) - 1, node.end_lineno

    edits = []
    for body in bodies:
        defs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        first, last = (span(defs[0])[0], span(defs[-1])[1]) if defs else (0, 0)
        if len(defs) < 2 or any(first <= span(n)[0] < last for n in body if n not in defs):
            continue
        blocks = ["".join(lines[slice(*span(n))]).rstrip("\n") + "\n" for n in reversed(defs)]
        edits.append((first, last, ("\n\n" if defs[0].col_offset == 0 else "\n").join(blocks)))
    for first, last, new in sorted(edits, reverse=True):
        lines[first:last] = [new]
    return "".join(lines)


def reordered(text):
    """The module's functions and classes, and each class's methods, in reverse order."""
    tree = ast.parse(text)
    text = _reversed_definitions(text, [c.body for c in tree.body if isinstance(c, ast.ClassDef)])
    return _reversed_definitions(text, [ast.parse(text).body])


def disguised_copy(source, dest):
    """A copy of the implementation `source` at `dest` that a student might hand in as their own."""
    dest.mkdir(parents=True)
    for path in sorted(source.glob("*.py")):
        (dest / path.name).write_text(reordered(renamed_and_reworded(path.read_text())))
    return dest


# -- notebooks -------------------------------------------------------------------------------------
def definitions(module):
    """The source of every top-level function and class of `module`, one text."""
    text = module.read_text()
    tree = ast.parse(text)
    return "\n\n\n".join(
        ast.get_source_segment(text, n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    )


def cell(source, grade_id=None):
    nbgrader = {"grade_id": grade_id, "solution": True, "grade": False, "locked": False} if grade_id else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"nbgrader": nbgrader} if nbgrader else {},
        "outputs": [],
        "source": source,
    }


def write_notebook(folder, cells):
    path = folder / "ps1" / "ps1.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


ONE_LINERS = {
    'raise NotImplementedError("relu: keep positive entries, zero the rest")': "return np.maximum(0, x)",
    'raise NotImplementedError("tanh: (e^x - e^-x) / (e^x + e^-x), computed without overflow")': "return np.tanh(x)",
    'raise NotImplementedError("sigmoid: use exp(-x) where x >= 0 and exp(x) / (1 + exp(x)) where x < 0")': (
        "return 1 / (1 + np.exp(-x))"
    ),
    'raise NotImplementedError("softmax: subtract the row max before exponentiating, then normalise each row")': (
        "e = np.exp(x - x.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)"
    ),
}


def make_class(course):
    """An nbgrader course root whose submitted/ folder holds one entry per case."""
    folder = course / "submitted"
    folder.mkdir(parents=True)
    shutil.copytree(SOLUTIONS, folder / "ref", ignore=IGNORE)
    copy = disguised_copy(SOLUTIONS, course / "disguised" / "exercises")
    with zipfile.ZipFile(folder / "ref_copy.zip", "w") as archive:
        for path in sorted(copy.glob("*.py")):
            archive.write(path, f"exercises/{path.name}")
    (folder / "indep").mkdir()
    for path in sorted(INDEPENDENT.glob("*.py")):
        if path.name != "__init__.py":
            shutil.copy(path, folder / "indep" / path.name)
    disguised_copy(INDEPENDENT, folder / "indep_copy")
    shutil.copytree(EXERCISES, folder / "stubs", ignore=IGNORE)
    (folder / "dave.rar").write_bytes(b"Rar!\x1a\x07\x00")
    for student in ("conv_a", "conv_b"):  # the same conv.py, every other module left as the stub
        (folder / student).mkdir()
        shutil.copy(SOLUTIONS / "conv.py", folder / student / "conv.py")
    for student in ("little_a", "little_b"):  # the same four short functions, nothing else
        (folder / student).mkdir()
        text = (EXERCISES / "functions.py").read_text()
        for stub, line in ONE_LINERS.items():
            text = text.replace(stub, line)
        (folder / student / "functions.py").write_text(text)
    code = [definitions(SOLUTIONS / "layers.py"), definitions(SOLUTIONS / "losses.py")]
    write_notebook(
        folder / "nb_answers",
        [cell("import numpy as np"), cell(code[0], "answer_layers"), cell(code[1], "answer_losses")],
    )
    write_notebook(
        folder / "nb_outside",
        [cell(code[0]), cell("# YOUR CODE HERE", "answer_layers"), cell(code[1])],
    )
    return course


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = similarity.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """The class compared once: (exit status, stdout, stderr, the JSON, the HTML page)."""
    work = tmp_path_factory.mktemp("similarity")
    course = make_class(work / "course")
    page, data = work / "out" / "similarity.html", work / "out" / "pairs.json"
    status, out, err = run_main([course, "--out", page, "--json", data, "--quiet"])
    return status, out, err, json.loads(data.read_text()), page.read_text()


def scores(checked, a, b):
    pair = next(p for p in checked[3]["pairs"] if {p["a"], p["b"]} == {a, b})
    return (pair["a_in_b"], pair["b_in_a"]) if pair["a"] == a else (pair["b_in_a"], pair["a_in_b"])


def flagged(checked, a, b):
    pair = next(p for p in checked[3]["pairs"] if {p["a"], p["b"]} == {a, b})
    assert pair["flagged"] == (
        max(scores(checked, a, b)) > THRESHOLD and pair["shared_tokens"] >= similarity.MIN_SHARED_TOKENS
    )
    return pair["flagged"]


# -- the tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("original", ["ref", "indep"])
def test_a_disguised_copy_of_a_whole_submission_is_flagged(checked, original):
    copy = f"{original}_copy"
    assert flagged(checked, original, copy)
    assert scores(checked, original, copy)[0] > THRESHOLD + MARGIN


def test_independent_correct_submissions_are_not_flagged(checked):
    for a in ("ref", "ref_copy"):
        for b in ("indep", "indep_copy"):
            assert not flagged(checked, a, b), (a, b, scores(checked, a, b))
    assert max(scores(checked, "ref", "indep")) < THRESHOLD - MARGIN


def test_a_few_one_liners_written_alike_are_not_flagged(checked):
    """Two students who each wrote only relu, sigmoid, tanh and softmax, the same way, share all of their
    own code, but too little of it to be a copy."""
    pair = next(p for p in checked[3]["pairs"] if {p["a"], p["b"]} == {"little_a", "little_b"})
    assert (
        max(pair["a_in_b"], pair["b_in_a"]) > THRESHOLD
        and pair["shared_tokens"] < similarity.MIN_SHARED_TOKENS
    )
    assert not pair["flagged"] and "little_a" not in checked[1]
    assert "<i>little_a</i>" not in checked[4] and "<i>ref_copy</i>" in checked[4]  # nor in the HTML


def test_one_copied_module_is_flagged(checked):
    assert flagged(checked, "conv_a", "conv_b")


def test_untouched_stubs_are_similar_to_nothing(checked):
    for other in checked[3]["students"]:
        if other != "stubs":
            assert scores(checked, "stubs", other) == (0.0, 0.0), other


def test_an_unreadable_entry_is_reported_with_its_reason(checked):
    status, out, _, data, _ = checked
    assert status == 0
    assert "  dave: a .rar file: hand in a folder or a .zip" in out
    assert data["unreadable"] == [{"student": "dave", "problem": "a .rar file: hand in a folder or a .zip"}]
    assert "dave" not in data["students"]


def test_notebooks_are_read_through_their_answer_cells_only(checked):
    assert scores(checked, "nb_answers", "ref")[0] > THRESHOLD + MARGIN
    for other in checked[3]["students"]:
        if other != "nb_outside":
            assert scores(checked, "nb_outside", other) == (0.0, 0.0), other


def test_the_reports_name_the_students_and_hold_every_pair(checked):
    status, out, err, data, page = checked
    students = [
        "conv_a",
        "conv_b",
        "indep",
        "indep_copy",
        "little_a",
        "little_b",
        "nb_answers",
        "nb_outside",
        "ref",
        "ref_copy",
        "stubs",
    ]
    assert data["students"] == students and data["threshold"] == THRESHOLD
    assert len(data["pairs"]) == len(students) * (len(students) - 1) // 2
    assert {(p["a"], p["b"]) for p in data["pairs"] if p["flagged"]} >= {
        ("ref", "ref_copy"),
        ("indep", "indep_copy"),
    }
    rows = out.splitlines()
    assert rows[0].startswith(
        f"{sum(p['flagged'] for p in data['pairs'])} of {len(data['pairs'])} pairs flagged"
    )
    assert rows[1].split() == [
        "student",
        "A",
        "student",
        "B",
        "A",
        "in",
        "B",
        "B",
        "in",
        "A",
        "tokens",
        "threshold",
    ]
    assert any(row.split()[:2] == ["ref", "ref_copy"] and row.split()[-1] == "60%" for row in rows)
    assert err == ""
    assert "<i>ref_copy</i>" in page and "similarity-" not in page


def test_a_progress_bar_goes_to_stderr_unless_quiet(tmp_path):
    for name in ("ann", "ben"):
        shutil.copytree(EXERCISES, tmp_path / "class" / name, ignore=IGNORE)
    status, out, err = run_main([tmp_path / "class", "--out", tmp_path / "s.html"])
    assert status == 0 and out.startswith("0 of 1 pairs flagged")
    assert "reading: 100%" in err and "ann" not in err


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    status, out, err = run_main([tmp_path / "missing", "--quiet"])
    assert (
        status == 2
        and err.count("\n") == 1
        and err.startswith("nnkit similarity: error: ")
        and "no such directory" in err
    )
    (tmp_path / "class").mkdir()
    shutil.copytree(EXERCISES, tmp_path / "class" / "ann", ignore=IGNORE)
    (tmp_path / "class" / "ben.rar").write_bytes(b"Rar!")
    status, out, err = run_main([tmp_path / "class", "--quiet", "--out", tmp_path / "s.html"])
    assert (
        status == 2
        and err == "nnkit similarity: error: nothing to compare: 1 of 2 submissions could be read\n"
    )
    assert "ben: a .rar file" in out and not (tmp_path / "s.html").exists()
    with pytest.raises(SystemExit) as stopped, contextlib.redirect_stderr(io.StringIO()):
        similarity.main([str(tmp_path / "class"), "--threshold", "1.5"])
    assert stopped.value.code == 2


@pytest.mark.slow
def test_the_independent_implementation_earns_full_marks(tmp_path):
    results = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, "-m", "grader", "--impl", str(INDEPENDENT), "--json", str(results)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    data = json.loads(results.read_text())
    assert data["score"] == sum(load_rubric()[c.id].points for c in all_checks()) == 223
    assert {t["status"] for t in data["tests"]} == {"passed"}
