"""Chapter 6's overfitting section, run in a Jupyter kernel with the reference solutions.

Only what the section needs runs: the setup cell, the answer cells (definitions, among them the
carried layers and Sequential.predict) and the section's demo cells. The accuracies the demos
leave in the kernel must show what the text says: a network that overfits, a smaller gap with
weight decay and with dropout, and a weight decay chosen on the validation set.

The kernel's BLAS runs on one thread: each demo must stay within its budget (meant for a laptop
with 2 cores) on one of them, and a busy machine cannot slow multi-threaded small matrix products
down by an order of magnitude.
"""

import json
from datetime import datetime
from pathlib import Path

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="running notebooks needs jupyter: pip install -e '.[instructor]'"
)
pytest.importorskip("nbclient", reason="running notebooks needs jupyter: pip install -e '.[instructor]'")

from grader.classroom.course_config import CELL_TIMEOUT, kernel_path_env  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "source" / "ch6_optimization" / "ch6_optimization.ipynb"
BUDGET = 10.0  # seconds per demo cell (a laptop with 2 cores)
FIRST, AFTER = "## Overfitting", "## What you built"
REPORT = """
import json
print(json.dumps({
    "final_accuracy": final_accuracy,
    "validation_accuracy": {repr(k): v for k, v in validation_accuracy.items()},
    "chosen_weight_decay": chosen_weight_decay,
    "chosen_test_accuracy": chosen_test_accuracy,
}))
"""


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def section_demos(cells):
    """The plain code cells from the section's first heading up to the chapter's summary."""
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(FIRST)]
    ends = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(AFTER)]
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0], "the section's headings moved"
    return [
        c
        for c in cells[starts[0] : ends[0]]
        if c.cell_type == "code" and not nbgrader_meta(c).get("grade_id")
    ]


def seconds(cell):
    timing = cell.metadata["execution"]
    started, ended = (
        datetime.fromisoformat(timing[k]) for k in ("iopub.execute_input", "shell.execute_reply")
    )
    return (ended - started).total_seconds()


def stream(cell, name):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


@pytest.fixture(scope="module")
def run():
    """The executed cells: (demo cells, {name: value} the demos left in the kernel)."""
    from nbclient import NotebookClient

    source = nbformat.read(str(NOTEBOOK), as_version=4)
    setup = [c for c in source.cells if nbgrader_meta(c).get("grade_id") == "setup"]
    answers = [c for c in source.cells if nbgrader_meta(c).get("solution")]
    demos = section_demos(source.cells)
    assert len(setup) == 1 and answers and len(demos) == 2
    nb = nbformat.v4.new_notebook(metadata=source.metadata)
    nb.cells = [*setup, *answers, *demos, nbformat.v4.new_code_cell(REPORT)]
    with pytest.MonkeyPatch.context() as patch:
        kernel_path_env(ROOT)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            patch.setenv(name, "1")
        client = NotebookClient(
            nb, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()
    return nb.cells[-3:-1], json.loads(stream(nb.cells[-1], "stdout"))


def test_the_demos_run_within_their_budget_and_plot(run):
    demos, _ = run
    for cell in demos:
        first_line = cell.source.splitlines()[0]
        assert stream(cell, "stderr") == "", first_line
        assert "implement" not in stream(cell, "stdout"), f"{first_line}: {stream(cell, 'stdout')}"
        assert seconds(cell) < BUDGET, f"{first_line}: {seconds(cell):.1f} s"
    assert any("image/png" in o.get("data", {}) for o in demos[0].outputs), (
        "the learning curves are not drawn"
    )


def test_without_regularisation_the_network_overfits_and_each_remedy_narrows_the_gap(run):
    _, values = run
    accuracy = values["final_accuracy"]
    assert list(accuracy) == ["no regularisation", "weight decay 0.03", "dropout 0.2"]
    gap = {name: a["train"] - a["test"] for name, a in accuracy.items()}
    plain = accuracy["no regularisation"]
    assert plain["train"] >= 0.99, accuracy
    assert gap["no regularisation"] >= 0.10, accuracy
    for remedy in ("weight decay 0.03", "dropout 0.2"):
        assert gap[remedy] < gap["no regularisation"], (remedy, accuracy)
        assert accuracy[remedy]["test"] > plain["test"], (remedy, accuracy)  # the text says so


def test_the_validation_search_chooses_a_weight_decay_and_reports_its_test_accuracy(run):
    _, values = run
    validation = values["validation_accuracy"]
    assert list(validation) == ["0.0", "0.003", "0.01", "0.03", "0.1"]
    assert all(0 <= v <= 1 for v in validation.values())
    best = [wd for wd, accuracy in validation.items() if accuracy == max(validation.values())]
    assert repr(values["chosen_weight_decay"]) == max(best, key=float), "the largest of the best values"
    assert validation["0.1"] < validation["0.0"], "too much weight decay underfits"
    assert 0.8 <= values["chosen_test_accuracy"] <= 1.0, values
