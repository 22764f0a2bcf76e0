"""The Gradescope autograder zip: no solutions inside, and run_autograder works on its own files."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.authoring.regions import solution_lines
from grader.classroom.gradescope import build_bundle, bundle_files
from grader.registry import all_checks, load_rubric

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"


def rubric_with_hidden(path, hidden_id):
    """A copy of the rubric in which `hidden_id` is shown only after grades are published."""
    tables = {}
    for check_id, entry in load_rubric().items():
        exercise, name = check_id.split(".", 1)
        visibility = "after_published" if check_id == hidden_id else entry.visibility
        tables.setdefault(exercise, []).append(
            f'{name} = {{ points = {entry.points!r}, visibility = "{visibility}" }}'
        )
    path.write_text(
        "".join(f"[{exercise}]\n" + "\n".join(lines) + "\n\n" for exercise, lines in tables.items())
    )
    return path


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The bundle built with one extra hidden check and unpacked like Gradescope does: (root, hidden id)."""
    base = tmp_path_factory.mktemp("gradescope")
    hidden = next(c.id for c in all_checks() if load_rubric()[c.id].visibility == "visible")
    rubric = rubric_with_hidden(base / "rubric.toml", hidden)
    build_bundle(base / "autograder.zip", rubric=rubric)
    root = base / "autograder"
    with zipfile.ZipFile(base / "autograder.zip") as archive:
        archive.extractall(root / "source")
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    return root, hidden


def run_autograder(root, submission_files):
    """Run the bundle's run_autograder against `root` (a simulated /autograder); return results.json."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, data in submission_files.items():
        (root / "submission" / name).write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_reference_scores_full_marks_with_hidden_visibility(autograder, tmp_path):
    root, hidden = autograder
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(SOLUTIONS.glob("*.py")):
            z.write(path, f"my_work/exercises/{path.name}")
    results = run_autograder(root, {"submission.zip": archive.read_bytes()})
    rubric = load_rubric()
    assert results["score"] == sum(rubric[c.id].points for c in all_checks())
    tests = {t["name"]: t for t in results["tests"]}
    assert set(tests) == {c.id for c in all_checks()}
    assert all(t["status"] == "passed" for t in tests.values())
    assert tests[hidden]["visibility"] == "after_published"
    others = {
        t["visibility"]
        for name, t in tests.items()
        if name != hidden and rubric[name].visibility == "visible"
    }
    assert others == {"visible"}


def test_untouched_exercises_as_loose_files_score_zero(autograder):
    root, _ = autograder
    files = {
        path.name: path.read_bytes() for path in sorted(EXERCISES.glob("*.py")) if path.name != "__init__.py"
    }
    results = run_autograder(root, files)
    assert results["score"] == 0
    assert len(results["tests"]) == len(all_checks())
    assert all("not implemented yet" in t["output"] for t in results["tests"])


def test_unusable_upload_still_writes_results(autograder):
    root, _ = autograder
    results = run_autograder(root, {"notes.txt": b"I did not finish"})
    assert results["score"] == 0 and "no implementation found" in results["output"]


def test_bundle_grades_with_its_own_files_only(autograder):
    root, _ = autograder
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    probe = "import grader, grader.classroom.batch; print(grader.__file__); print(grader.classroom.batch.__file__)"
    engine = "import grader.classroom.batch; print(grader.classroom.batch.engine_name())"
    done = subprocess.run(
        [sys.executable, "-E", "-s", "-c", probe],
        cwd=root / "source",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for line in done.stdout.split():
        assert Path(line).resolve().is_relative_to((root / "source").resolve()), line
    if (ROOT / "grader" / "sandbox" / "__init__.py").is_file():
        used = subprocess.run(
            [sys.executable, "-E", "-s", "-c", engine],
            cwd=root / "source",
            env=env,
            capture_output=True,
            text=True,
        )
        assert used.stdout.strip() == "sandbox", used.stderr
    assert not (root / "source" / "solutions").exists()
    assert "numpy" in (root / "source" / "requirements.txt").read_text()
    for script in ("setup.sh", "run_autograder"):
        syntax = subprocess.run(["bash", "-n", str(root / "source" / script)], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr


def public_lines():
    """Lines students may see anyway: the grader's own sources and the stubs."""
    lines = set()
    for path in [*(ROOT / "grader").rglob("*.py"), *EXERCISES.glob("*.py")]:
        lines |= {line.strip() for line in path.read_text().splitlines()}
    return lines


def leaked_solution_lines(files):
    """Solution-body lines (from solutions/) found in bundle files, beyond lines the grader itself has."""
    secret = set()
    for path in SOLUTIONS.glob("*.py"):
        secret |= solution_lines(path.read_text(), str(path))
    secret -= public_lines()
    leaks = []
    for name, data in files.items():
        text = {line.strip() for line in data.decode(errors="replace").splitlines()}
        leaks += [f"{name}: {line}" for line in sorted(secret & text)]
    return leaks


def test_no_solution_line_in_the_bundle(autograder):
    root, _ = autograder
    files = {
        path.relative_to(root / "source").as_posix(): path.read_bytes()
        for path in (root / "source").rglob("*")
        if path.is_file()
    }
    assert not any(name.startswith("solutions/") for name in files)
    assert leaked_solution_lines(files) == []
    planted = dict(bundle_files(), **{"grader/extra.py": (SOLUTIONS / "layers.py").read_bytes()})
    assert leaked_solution_lines(planted), "the leak scan does not notice a copied solution"
