"""The nbgrader course: source notebooks from the master, release/ from nbgrader, no leaks, one grading logic."""

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="the course needs nbgrader/jupyter: pip install -e '.[instructor]'"
)
pytest.importorskip("nbgrader", reason="the course needs nbgrader: pip install -e '.[instructor]'")

from grader.authoring import course, course_cells  # noqa: E402
from grader.authoring.chapters import Answer, Carry, chapters  # noqa: E402
from grader.authoring.chapters import Tests as TestCell  # noqa: E402
from grader.authoring.regions import find_regions, solution_lines  # noqa: E402
from grader.classroom.course_config import CELL_TIMEOUT  # noqa: E402
from grader.classroom.notebooks import extract_impl  # noqa: E402
from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.results import run_check  # noqa: E402
from grader.target import as_target, load_impl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = chapters()


def cells_of(path):
    return nbformat.read(str(path), as_version=4).cells


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


# ----------------------------------------------------------------------------- source/ and the master
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_source_notebook_is_built_from_the_master(chapter):
    path = ROOT / "source" / chapter.name / f"{chapter.name}.ipynb"
    assert path.is_file(), "run: nnkit course build"
    assert path.read_text() == course_cells.notebook_text(chapter), (
        f"{path.relative_to(ROOT)} differs from solutions/ + course/: nnkit course build"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.name)
def test_answer_cells_hold_the_master_solution_regions(chapter):
    """Each answer cell's solution bodies are exactly the master's (only the pointer moved to a comment)."""
    path = ROOT / "source" / chapter.name / f"{chapter.name}.ipynb"
    answers = [c for c in cells_of(path) if nbgrader_meta(c).get("solution")]
    items = [c for c in chapter.cells if isinstance(c, (Answer, Carry))]
    assert len(answers) == len(items)
    for cell, item in zip(answers, items, strict=True):
        master = "\n\n\n".join(course_cells.definition_source(item.module, n) for n in item.names)
        expected = [r.body for r in find_regions(master)]
        assert [r.body for r in find_regions(cell.source)] == expected, nbgrader_meta(cell)["grade_id"]
        for region in find_regions(master):
            if region.pointer:
                assert f"# {region.pointer}" in cell.source, "the pointer must reach the released stub"


def test_every_public_exercise_has_a_test_cell_with_the_rubric_points():
    rubric = load_rubric()
    tested = {}
    for chapter in CHAPTERS:
        path = ROOT / "source" / chapter.name / f"{chapter.name}.ipynb"
        for cell in cells_of(path):
            meta = nbgrader_meta(cell)
            if meta.get("grade"):
                exercise = course_cells.exercise_of_grade_id(meta["grade_id"])
                points = sum(rubric[c.id].points for c in all_checks() if c.exercise == exercise)
                assert meta["points"] == points, f"{meta['grade_id']}: points differ from grader/rubric.toml"
                tested[exercise] = chapter.name
    assert {c.exercise for c in all_checks()} == set(tested)
    assert [t.exercise for ch in CHAPTERS for t in ch.cells if isinstance(t, TestCell)] == list(tested)


# ----------------------------------------------------------------------------- release/
@pytest.mark.slow
def test_release_is_exactly_what_nbgrader_generates():
    problems = course.check()
    assert problems == [], "\n".join(problems) + "\nrun: nnkit course build"


def release_code_lines():
    lines = set()
    for path in sorted((ROOT / "release").rglob("*.ipynb")):
        for cell in cells_of(path):
            lines.update(line.strip() for line in cell.source.splitlines() if line.strip())
    return lines


def test_release_has_every_chapter_and_nothing_else():
    released = {p.relative_to(ROOT / "release") for p in (ROOT / "release").rglob("*") if p.is_file()}
    assert released == {Path(c.name) / f"{c.name}.ipynb" for c in CHAPTERS}


BARE_KEYWORDS = ("else:", "try:", "finally:")  # a line that is only a keyword gives nothing away


def test_no_solution_or_hidden_test_line_reaches_release():
    released = release_code_lines()
    assert released, "release/ is empty: nnkit course build"
    leaked = set()
    for path in sorted((ROOT / "solutions").glob("*.py")):
        leaked |= solution_lines(path.read_text(), str(path)) & released
    leaked = {line for line in leaked if any(ch.isalnum() for ch in line) and line not in BARE_KEYWORDS}
    assert not leaked, f"solution lines in release/: {sorted(leaked)[:5]}"
    hidden = {
        line.strip()
        for ex in {t.exercise for ch in CHAPTERS for t in ch.cells if isinstance(t, TestCell)}
        for line in course_cells.test_source(ex).split("### BEGIN HIDDEN TESTS")[1].splitlines()
        if line.strip()
    }
    assert not (hidden & released), f"hidden test lines in release/: {sorted(hidden & released)[:5]}"
    text = "\n".join(p.read_text() for p in (ROOT / "release").rglob("*.ipynb"))
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "globals(), hidden=True"):
        assert marker not in text


def test_released_stubs_keep_the_pointer():
    cells = cells_of(ROOT / "release" / "ch4_backprop" / "ch4_backprop.ipynb")
    affine = next(c for c in cells if nbgrader_meta(c).get("grade_id") == "answer_Affine")
    assert (
        "# dx = dout @ W^T (reshaped back), dW = x^T @ dout, db = dout summed over the batch" in affine.source
    )
    assert "raise NotImplementedError()" in affine.source


# ----------------------------------------------------------------------------- one grading logic, no stderr
def naive_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def test_check_functions_turn_numpy_warnings_into_notes(capfd):
    """nbgrader zeroes a cell that writes to stderr: a warning from a correct answer must not."""
    checks = {c.id: c for c in all_checks()}
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        values = run_check(checks["sigmoid.values"], as_target(sigmoid=naive_sigmoid))
        stable = run_check(checks["sigmoid.stable"], as_target(sigmoid=naive_sigmoid))
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    assert values.passed, values.text()
    assert not stable.passed and "overflow" in stable.text()


# ----------------------------------------------------------------------------- extract_impl
def test_extract_impl_grades_like_the_master(tmp_path):
    notebooks = sorted((ROOT / "source").rglob("*.ipynb"))
    impl = extract_impl(notebooks, tmp_path / "impl")
    target = load_impl(impl)
    failed = [r.id for r in (run_check(c, target) for c in all_checks()) if not r.passed]
    assert failed == []


def test_extract_impl_keeps_definitions_only(tmp_path):
    release = ROOT / "release" / "ch2_activations" / "ch2_activations.ipynb"
    nb = nbformat.read(str(release), as_version=4)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "answer_relu")
    cell.source = (
        "import math\nfrom grader import registry\nEPS = 1e-12\n"
        "registry.CHECKS.clear()\n"
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
        "def relu(x):\n    return np.maximum(np.asarray(x, dtype=float), 0) + EPS * 0 + math.sqrt(0)\n"
    )
    path = tmp_path / "ch2.ipynb"
    nbformat.write(nb, str(path))
    impl = extract_impl([path], tmp_path / "impl")
    text = (impl / "functions.py").read_text()
    assert "import math" in text and "EPS = 1e-12" in text and "math.sqrt(0)" in text
    assert "registry" not in text and "input_transformers" not in text
    target = load_impl(impl)
    assert all(run_check(c, target).passed for c in all_checks() if c.exercise == "relu")
    assert not run_check(next(c for c in all_checks() if c.exercise == "sigmoid"), target).passed


def test_extract_impl_refuses_a_non_empty_destination(tmp_path):
    (tmp_path / "impl").mkdir()
    (tmp_path / "impl" / "x.py").write_text("")
    with pytest.raises(FileExistsError):
        extract_impl([], tmp_path / "impl")


# ----------------------------------------------------------------------------- timeouts
class NaiveConv2d:
    """A correct Conv2d written with plain loops: it must finish well within a cell's timeout."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        self.stride, self.padding, self.k = stride, padding, kernel_size
        self.params = {
            "W": rng.standard_normal((out_channels, in_channels, kernel_size, kernel_size)),
            "b": np.zeros(out_channels),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.training = True

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        p, s, k = self.padding, self.stride, self.k
        self.x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, _, h, w = self.x.shape
        f = self.params["W"].shape[0]
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        out = np.zeros((n, f, oh, ow))
        for i in range(n):
            for j in range(f):
                for a in range(oh):
                    for b in range(ow):
                        window = self.x[i, :, a * s : a * s + k, b * s : b * s + k]
                        out[i, j, a, b] = np.sum(window * self.params["W"][j]) + self.params["b"][j]
        self.x_shape = x.shape
        return out

    def backward(self, dout):
        p, s, k = self.padding, self.stride, self.k
        dx = np.zeros_like(self.x)
        dW = np.zeros_like(self.params["W"])
        n, f, oh, ow = dout.shape
        for i in range(n):
            for j in range(f):
                for a in range(oh):
                    for b in range(ow):
                        window = self.x[i, :, a * s : a * s + k, b * s : b * s + k]
                        dW[j] += dout[i, j, a, b] * window
                        dx[i, :, a * s : a * s + k, b * s : b * s + k] += (
                            dout[i, j, a, b] * self.params["W"][j]
                        )
        self.grads = {"W": dW, "b": dout.sum(axis=(0, 2, 3))}
        h, w = self.x_shape[2:]
        return dx[:, :, p : p + h, p : p + w]


@pytest.mark.slow
def test_a_naive_loop_conv2d_finishes_well_within_the_cell_timeout():
    started = time.perf_counter()
    checks = [c for c in all_checks() if c.exercise == "Conv2d"]
    results = [run_check(c, as_target(Conv2d=NaiveConv2d)) for c in checks]
    elapsed = time.perf_counter() - started
    assert all(r.status != "timeout" for r in results), [r.text() for r in results if r.status == "timeout"]
    assert sum(r.passed for r in results) >= len(results) - 2, [r.text() for r in results if not r.passed]
    assert 2 * elapsed < CELL_TIMEOUT / 2, f"{elapsed:.1f} s for the visible and hidden runs"


# ----------------------------------------------------------------------------- every notebook runs
def execute(path, timeout=CELL_TIMEOUT):
    from nbclient import NotebookClient

    from grader.classroom.course_config import kernel_path_env

    kernel_path_env(ROOT)
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return nb


def grade_cell_results(nb):
    """{grade_id: (points shown, stderr text, error name)} of the test cells of an executed notebook."""
    out = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        shown = [o for o in cell.outputs if o.output_type == "execute_result"]
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
        points = float(shown[0].data["text/plain"]) if shown else None
        out[meta["grade_id"]] = (points, stderr, errors, meta["points"])
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "chapter", [c for c in CHAPTERS if c.name != "ch2_activations"], ids=lambda c: c.name
)
def test_source_and_release_notebooks_run(chapter):
    """The source scores full points in every test cell; the untouched release scores 0 without crashing.

    (Chapter 2 goes through the full nbgrader round trip in test_course_roundtrip.py.)
    """
    source = execute(ROOT / "source" / chapter.name / f"{chapter.name}.ipynb")
    for gid, (points, stderr, errors, possible) in grade_cell_results(source).items():
        assert (points, stderr, errors) == (possible, "", []), gid
    release = execute(ROOT / "release" / chapter.name / f"{chapter.name}.ipynb")
    results = grade_cell_results(release)
    assert results
    for gid, (points, stderr, errors, _) in results.items():
        assert (points, stderr, errors) == (0.0, "", []), gid
    for cell in release.cells:  # every cell ran: no kernel death
        if cell.cell_type == "code" and cell.source.strip():
            assert cell.get("execution_count"), json.dumps(cell.source[:80])
