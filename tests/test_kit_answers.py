"""A student kit is not an answer key: it grades from recorded data, holds no code that computes an
answer, grades the corpus exactly as the repository does, refuses damaged data, and its Classroom
workflow's verdicts cannot be decided by the code under test.
"""

import ast
import concurrent.futures
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.authoring import export as kit
from grader.authoring.record import public_checks
from grader.authoring.regions import find_regions, solution_lines
from grader.expected import INDEX_FILE, VALUES_FILE
from grader.oracles import ORACLES
from grader.registry import load_rubric
from grader.results import run_check
from tests.corpus import collect, target_with
from tests.test_export import kit_text_lines

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).with_name("kit") / "probe.py"
RUBRIC = load_rubric()
RECORDED_LIMIT = 4_000_000  # bytes: "a few MB at most"


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def run_in(kit_dir, *args, timeout=600):
    """Run python in `kit_dir` as a student would there: the kit's folder first on sys.path, no PYTHONPATH."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=kit_dir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def probe(kit_dir, mode, tmp_path, *extra):
    out = tmp_path / f"{mode}.json"
    done = run_in(kit_dir, str(PROBE), mode, str(kit_dir), str(ROOT), str(out), *extra, timeout=900)
    assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def full_kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "starter-kit"
    kit.export(out, with_notebooks=False)
    return out


@pytest.fixture(scope="module")
def conv_kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "conv"
    kit.export(out, ["Conv2d", "MaxPool2d"], with_notebooks=False)
    return out


PLAIN = re.compile(r"^(return \w+|else:|pass|[)\]}],?)$")


def answer_lines():
    """Solution-body lines (not also outside a region) and oracle-body lines, without plain ones."""
    secret, outside = {}, set()
    for path in (ROOT / "solutions").glob("*.py"):
        source = path.read_text()
        for line in solution_lines(source, str(path)):
            secret[line] = f"solutions/{path.name}"
        inside = {i for r in find_regions(source) for i in range(r.begin, r.end + 1)}
        outside |= {line.strip() for i, line in enumerate(source.splitlines()) if i not in inside}
    for path in (ROOT / "grader" / "oracles").glob("*.py"):  # every oracle and every helper of one
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body
                start = body[0].lineno - 1 if body else node.end_lineno
                for line in lines[start : node.end_lineno]:
                    secret.setdefault(line.strip(), f"oracle {path.stem}.{node.name}")
    return {k: v for k, v in secret.items() if k not in outside and not PLAIN.match(k) and len(k) > 12}


# ----------------------------------------------------------------------------- no answer code
def is_method(function, tree):
    """Whether `function` is defined directly in a class of `tree` (a grader layer's forward, not an oracle)."""
    return any(isinstance(node, ast.ClassDef) and function in node.body for node in ast.walk(tree))


def test_the_kit_holds_no_solution_or_oracle_code(full_kit):
    secret = answer_lines()
    assert sum(v.startswith("oracle") for v in secret.values()) > 100, "too few oracle lines to look for"
    assert sum(v.startswith("solutions") for v in secret.values()) > 100, "too few solution lines to look for"
    found = [
        f"{rel}: {line}  ({secret[line]})"
        for rel, lines in kit_text_lines(full_kit).items()
        for line in lines & secret.keys()
    ]
    assert not found, "answer code in the kit:\n" + "\n".join(sorted(found))
    names = {f.__name__ for f in ORACLES.values()}
    defined = [
        f"{p.relative_to(full_kit)}: def {node.name}"
        for p, tree in ((p, ast.parse(p.read_text())) for p in (full_kit / "grader").rglob("*.py"))
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name in names and not is_method(node, tree)
    ]
    assert not defined, defined
    assert not (full_kit / "grader" / "oracles").exists() and not (full_kit / "grader" / "hidden").exists()


def test_the_leak_guard_refuses_an_oracle_copied_into_a_check_module(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info"))
    checks = course / "grader" / "checks" / "conv.py"
    checks.write_text(
        checks.read_text() + "\n\n" + inspect.getsource(ORACLES["conv.padded_dx"]).replace("@oracle\n", "")
    )
    files = {"grader/checks/conv.py": checks.read_bytes()}
    assert any("padded_dx" in leak for leak in kit.leaks(files, ROOT)), (
        "an oracle's definition went unnoticed"
    )


@pytest.mark.slow
def test_delegating_to_the_kits_grader_functions_gains_nothing(full_kit, tmp_path):
    """Every graded method, made to pass its inputs to each function defined in the kit's grader, in turn,
    scores no more than the same method returning its input unchanged."""
    report = probe(full_kit, "transplant", tmp_path)
    assert report["functions"] > 100, report["functions"]
    assert len(report["methods"]) > 40, sorted(report["methods"])
    gained = {k: v for k, v in report["methods"].items() if v["best"] > v["baseline"]}
    assert not gained, gained


def test_the_delegation_probe_finds_the_oracles_when_a_kit_ships_them(full_kit, tmp_path):
    leaky = tmp_path / "leaky-kit"
    shutil.copytree(full_kit, leaky)
    shutil.copytree(ROOT / "grader" / "oracles", leaky / "grader" / "oracles")
    report = probe(leaky, "transplant", tmp_path, "Affine.forward", "Conv2d.forward", "MaxPool2d.forward")
    assert all(v["best"] > v["baseline"] for v in report["methods"].values()), report


# ----------------------------------------------------------------------------- recorded data
def live_outcomes():
    found = {}
    for entry in collect("BUGS") + collect("ALTERNATIVES"):
        checks = public_checks([entry.exercise])
        target = target_with(**{entry.exercise: entry.replacement})
        found[entry.name] = {
            c.id: [r.status, r.message, r.hint, r.points]
            for c in checks
            for r in [run_check(c, target, RUBRIC[c.id].points)]
        }
    return found


@pytest.mark.slow
def test_the_corpus_grades_alike_inside_the_kit(full_kit, tmp_path):
    """Every known bug loses the same points with the same messages and hints; every correct variant keeps full marks."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the kit's grading runs in a process of its own
        in_kit_future = pool.submit(probe, full_kit, "corpus", tmp_path)
        live = live_outcomes()  # meanwhile, here (check time limits need the main thread)
        in_kit = in_kit_future.result()
    assert set(in_kit) == set(live) and len(live) > 200
    differences = [
        f"{entry}: {check}\n  live: {live[entry][check]}\n  kit:  {in_kit[entry].get(check)}"
        for entry in live
        for check in live[entry]
        if in_kit[entry].get(check) != live[entry][check]
    ]
    assert not differences, "\n".join(differences[:20])
    alternatives = {a.name for a in collect("ALTERNATIVES")}
    for name in alternatives:
        assert all(o[0] == "passed" for o in in_kit[name].values()), (name, in_kit[name])


def test_recorded_data_is_small_deterministic_and_tied_to_its_grader(full_kit, conv_kit, tmp_path):
    folder = full_kit / "grader" / "recorded"
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < RECORDED_LIMIT, f"{size} bytes"
    again = tmp_path / "again"
    kit.export(again, ["Conv2d", "MaxPool2d"], with_notebooks=False)
    for name in (INDEX_FILE, VALUES_FILE):
        assert (again / "grader" / "recorded" / name).read_bytes() == (
            conv_kit / "grader" / "recorded" / name
        ).read_bytes()
    index = json.loads((folder / INDEX_FILE).read_text())
    assert (
        index["fingerprint"]
        != json.loads((conv_kit / "grader" / "recorded" / INDEX_FILE).read_text())["fingerprint"]
    )
    names = {entry[0] for entry in index["entries"].values()}
    assert names <= set(ORACLES) and "conv.forward" in names and "numeric.layer_gradients" in names


def test_recorded_data_holds_no_hidden_check_input(conv_kit, tmp_path):
    """The hidden checks' cases (other shapes) ask questions the recording never answers."""
    index = json.loads((conv_kit / "grader" / "recorded" / INDEX_FILE).read_text())
    from grader.expected import Recorder, using
    from grader.registry import all_checks, is_hidden_check
    from grader.target import load_impl

    hidden = [c for c in all_checks() if is_hidden_check(c) and c.exercise in ("Conv2d", "MaxPool2d")]
    assert hidden
    with using(Recorder()) as recorder:
        for check in hidden:
            run_check(check, load_impl(ROOT / "solutions"))
    assert recorder.answers and not set(recorder.answers) & set(index["entries"])


def damaged_copies(conv_kit, tmp_path, full_kit):
    """(what was done, kit folder, file the message must name) for every kind of damage."""

    def copy(name):
        dest = tmp_path / name
        shutil.copytree(conv_kit, dest)
        return dest, dest / "grader" / "recorded"

    cases = []
    dest, rec = copy("missing")
    (rec / VALUES_FILE).unlink()
    cases.append(("values missing", dest, VALUES_FILE))
    dest, rec = copy("truncated")
    data = (rec / VALUES_FILE).read_bytes()
    (rec / VALUES_FILE).write_bytes(data[: len(data) // 2])
    cases.append(("values truncated", dest, VALUES_FILE))
    dest, rec = copy("edited")
    index = json.loads((rec / INDEX_FILE).read_text())
    key = next(
        k
        for k, v in index["entries"].items()
        if isinstance(v[1], dict) and "$f" in v[1] or "$a" in json.dumps(v[1])
    )
    index["entries"][key][0] = "conv.db"
    (rec / INDEX_FILE).write_text(json.dumps(index))
    cases.append(("index edited", dest, INDEX_FILE))
    dest, rec = copy("other-export")
    for name in (INDEX_FILE, VALUES_FILE):
        shutil.copy(full_kit / "grader" / "recorded" / name, rec / name)
    cases.append(("data from another export", dest, INDEX_FILE))
    dest, rec = copy("stale")
    checks = dest / "grader" / "checks" / "conv.py"
    checks.write_text(
        checks.read_text().replace("CONV_ALL = CONV_BASIC", "CONV_ALL = CONV_PADDED + CONV_BASIC")
    )
    cases.append(("a check module changed", dest, INDEX_FILE))
    return cases


def test_missing_damaged_or_stale_data_stops_the_grader_with_a_message_naming_the_file(
    conv_kit, full_kit, tmp_path
):
    for what, kit_dir, name in damaged_copies(conv_kit, tmp_path, full_kit):
        filled = kit_dir / "exercises"
        for path in (ROOT / "solutions").glob("*.py"):
            shutil.copy(path, filled / path.name)
        for command in (["-m", "grader"], ["-m", "grader.sandbox", "--impl", "exercises", "-m", "Conv2d"]):
            done = run_in(kit_dir, *command)
            output = done.stdout + done.stderr
            assert done.returncode == 4, (what, command, output[-2000:])
            assert name in output and "Score:" not in output and "Traceback" not in output, (
                what,
                command,
                output[-2000:],
            )


# ----------------------------------------------------------------------------- GitHub Classroom
EXITS = {"os._exit": "import os\nos._exit(0)\n", "sys.exit": "import sys\nsys.exit(0)\n"}


def classroom_commands(kit_dir):
    yaml = pytest.importorskip("yaml", reason="PyYAML parses the workflow (installed with jupyter)")
    steps = yaml.safe_load((kit_dir / ".github" / "workflows" / "classroom.yml").read_text())["jobs"][
        "run-autograding-tests"
    ]["steps"]
    return {s["with"]["test-name"]: s["with"]["command"] for s in steps if "command" in s.get("with", {})}


@pytest.mark.parametrize("how", sorted(EXITS))
def test_a_submission_that_exits_at_import_fails_every_classroom_step(conv_kit, tmp_path, how):
    hostile = tmp_path / "hostile"
    shutil.copytree(conv_kit, hostile)
    for path in (ROOT / "solutions").glob("*.py"):
        shutil.copy(path, hostile / "exercises" / path.name)
    init = hostile / "exercises" / "__init__.py"
    init.write_text(EXITS[how] + init.read_text())
    commands = classroom_commands(hostile)
    assert set(commands) == {"Conv2d", "MaxPool2d"}
    env = clean_env() | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name, command in commands.items():
        done = subprocess.run(
            ["bash", "-e", "-c", command], cwd=hostile, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode != 0, (name, done.stdout[-1500:])
    # the same submission without the exit passes: the steps judge the code, not the folder
    init.write_text(init.read_text().replace(EXITS[how], ""))
    for name, command in commands.items():
        done = subprocess.run(
            ["bash", "-e", "-c", command], cwd=hostile, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (name, done.stdout[-1500:])


# ----------------------------------------------------------------------------- release notebooks in the kit
def test_a_release_notebook_grades_from_the_kits_recorded_data(tmp_path):
    """Chapter 1's notebook, answered with the reference and run in the kit, earns every public point."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out = tmp_path / "week1"
    kit.export(out, kit.choose_exercises(chapters="1"))
    (release,) = (out / "notebooks").rglob("*.ipynb")
    answered = nbformat.read(ROOT / "source" / release.parent.name / release.name, as_version=4)
    for cell in answered.cells:  # what nbgrader's release leaves: no hidden tests
        lines, hidden = [], False
        for line in cell.source.splitlines():
            hidden = hidden or "### BEGIN HIDDEN TESTS" in line
            if not hidden:
                lines.append(line)
            hidden = hidden and "### END HIDDEN TESTS" not in line
        cell.source = "\n".join(lines)
    nbclient.NotebookClient(answered, timeout=300, resources={"metadata": {"path": str(out)}}).execute()
    graded = [
        c
        for c in answered.cells
        if c.cell_type == "code" and "grade(" in c.source and "def grade" not in c.source
    ]
    assert graded
    modules = "\n".join(o.get("text", "") for c in answered.cells for o in c.get("outputs", []))
    for cell in graded:
        exercise = cell.source.split("grade(", 1)[1].split(",")[0].strip("'\"")
        shown = [o for o in cell.outputs if o.output_type == "execute_result"]
        public = sum(
            e.points for k, e in RUBRIC.items() if k.split(".")[0] == exercise and e.visibility == "visible"
        )
        assert shown and float(shown[0]["data"]["text/plain"]) == public, (exercise, cell.outputs)
    assert "Traceback" not in modules
