"""The student starter kit: no solution, no hidden check, self-contained, and graded like the repo.

Kits are exported into temporary directories; the grader runs in them in a
subprocess started with `python -I` (no PYTHONPATH, no user site, no current
directory on sys.path), so nothing from the repository can leak in.
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.authoring import export as kit
from grader.authoring.regions import find_regions, solution_lines
from grader.registry import all_checks, is_hidden_check, load_rubric
from grader.results import run_check
from grader.target import load_impl

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()
CHECKS = all_checks()
HIDDEN = [c for c in CHECKS if is_hidden_check(c)]
FIRST_CHAPTERS = "1-4"
STUDENT_IMPORTS = {"numpy", "scipy", "pytest", "sklearn", "tqdm", "grader", "exercises"}
KIT_TOP_LEVEL = {
    ".github",
    ".gitignore",
    "README.md",
    "exercises",
    "grader",
    "notebooks",
    "pyproject.toml",
    "requirements.txt",
}
INSTRUCTOR_ONLY = re.compile(
    r"^(solutions|tests|source|release|bench|course|\.ci|grader/(hidden|oracles|classroom|authoring))(/|$)"
    r"|^grader/cli\.py$|nbgrader_config\.py$|gradebook"
)
PROBE = """\
import json, sys
sys.path.insert(0, sys.argv[1])
from grader.__main__ import main
code = main(sys.argv[3:])
modules = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
json.dump({"code": int(code), "modules": modules}, open(sys.argv[2], "w"))
"""


def public_points(exercises):
    return sum(
        e.points for k, e in RUBRIC.items() if e.visibility == "visible" and k.split(".")[0] in exercises
    )


def kit_text_lines(kit_dir):
    """{relative path: set of stripped lines} of every text file; notebooks by their cells' source."""
    found = {}
    for path in sorted(p for p in kit_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(kit_dir).as_posix()
        if "__pycache__" in rel or rel.startswith(".pytest_cache") or path.suffix == ".npz":
            continue
        text = path.read_text()
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c.get("source", "")) for c in json.loads(text).get("cells", []))
        found[rel] = {line.strip() for line in text.splitlines()}
    return found


def repo_public_lines():
    """Lines the public grader holds (hidden checks that share them reveal nothing new)."""
    lines = set()
    for path in (ROOT / "grader").rglob("*.py"):
        if "hidden" not in path.relative_to(ROOT / "grader").parts:
            lines |= {line.strip() for line in path.read_text().splitlines()}
    return lines


def secret_solution_lines():
    """Lines found only inside solution regions of solutions/*.py (not outside any region); no other exemption."""
    secret, outside = set(), set()
    for path in (ROOT / "solutions").glob("*.py"):
        source = path.read_text()
        secret |= solution_lines(source, str(path))
        inside = {i for r in find_regions(source) for i in range(r.begin, r.end + 1)}
        outside |= {line.strip() for i, line in enumerate(source.splitlines()) if i not in inside}
    return {line for line in secret - outside if len(line) > 12}


def hidden_code_lines():
    """Lines of grader/hidden/*.py that no public grader file has."""
    lines = set()
    for path in (ROOT / "grader" / "hidden").glob("*.py"):
        lines |= {line.strip() for line in path.read_text().splitlines()}
    return {line for line in lines - repo_public_lines() if len(line) > 3 and not line.startswith("#")}


def grade_in(kit_dir, tmp_path, *args):
    """Run `python -m grader` inside `kit_dir` in isolation; return (exit code, stdout, results, modules)."""
    probe, out, results = tmp_path / "probe.py", tmp_path / "probe.json", tmp_path / "results.json"
    probe.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run(
        [sys.executable, "-I", str(probe), str(kit_dir), str(out), "--json", str(results), *args],
        cwd=kit_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.is_file(), run.stdout + run.stderr
    probe_data = json.loads(out.read_text())
    data = json.loads(results.read_text()) if results.is_file() else None
    return probe_data["code"], run.stdout + run.stderr, data, probe_data["modules"]


def filled_copy(kit_dir, tmp_path):
    """A copy of the kit with the solutions' bodies in exercises/ (never shipped)."""
    filled = tmp_path / "filled"
    shutil.copytree(kit_dir, filled)
    for path in (ROOT / "solutions").glob("*.py"):
        shutil.copy(path, filled / "exercises" / path.name)
    return filled


@pytest.fixture(scope="module")
def full_kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "starter-kit"
    kit.export(out, make_zip=True, with_notebooks=False)
    return out


@pytest.fixture(scope="module")
def first_chapters_kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "week1"
    kit.export(out, kit.choose_exercises(chapters=FIRST_CHAPTERS), with_notebooks=False)
    return out


# ----------------------------------------------------------------------------- hidden checks
def test_hidden_checks_are_exactly_the_non_visible_rubric_entries():
    assert HIDDEN, "grader/hidden/ registers no check"
    for c in CHECKS:
        assert is_hidden_check(c) == (RUBRIC[c.id].visibility != "visible"), c.id
    hidden_ids = {c.id for c in HIDDEN}
    assert {k for k, e in RUBRIC.items() if e.visibility != "visible"} == hidden_ids


def test_hidden_checks_pass_on_the_reference_and_fail_on_the_stubs():
    reference, stubs = load_impl(ROOT / "solutions"), load_impl(ROOT / "exercises")
    for c in HIDDEN:
        assert run_check(c, reference).passed, c.id
        result = run_check(c, stubs)
        assert result.status == "not implemented", (c.id, result.message)


def test_hidden_checks_cover_the_exercises_the_issue_names():
    covered = {c.exercise for c in HIDDEN}
    assert {"Affine", "Conv2d", "MaxPool2d", "SoftmaxCrossEntropy", "Dropout", "Adam"} <= covered


# ----------------------------------------------------------------------------- what the kit holds
def test_kit_holds_only_student_files(full_kit):
    files = [p.relative_to(full_kit).as_posix() for p in full_kit.rglob("*") if p.is_file()]
    assert {f.split("/")[0] for f in files} <= KIT_TOP_LEVEL
    assert not [f for f in files if INSTRUCTOR_ONLY.search(f)]
    assert "grader/rubric.toml" in files and ".github/workflows/classroom.yml" in files
    assert {f"exercises/{p.name}" for p in (ROOT / "solutions").glob("*.py")} <= set(files)


def test_no_solution_line_reaches_the_kit(full_kit):
    secret = secret_solution_lines()
    assert len(secret) > 50, "the scan would find nothing: too few solution lines"
    leaks = [
        f"{rel}: {line}" for rel, lines in kit_text_lines(full_kit).items() for line in sorted(lines & secret)
    ]
    assert not leaks, "solution lines in the kit:\n" + "\n".join(leaks)


def test_no_hidden_check_reaches_the_kit(full_kit):
    hidden_files = {p.name for p in (ROOT / "grader" / "hidden").glob("*.py")} - {"__init__.py"}
    kit_grader = {p.relative_to(full_kit / "grader").as_posix() for p in (full_kit / "grader").rglob("*")}
    assert not any(name.startswith("hidden/") for name in kit_grader)
    hidden_code = hidden_code_lines()
    assert len(hidden_code) > 20
    leaks = [
        f"{rel}: {line}"
        for rel, lines in kit_text_lines(full_kit).items()
        for line in sorted(lines & hidden_code)
    ]
    assert not leaks, "hidden check code in the kit:\n" + "\n".join(leaks)
    assert hidden_files, "no hidden check module to look for"


def test_hidden_checks_appear_only_as_names_and_points(full_kit):
    manifest = load_rubric(full_kit / "grader" / "hidden_checks.toml")
    assert set(manifest) == {c.id for c in HIDDEN}
    assert all(manifest[k].points == RUBRIC[k].points for k in manifest)
    kit_rubric = load_rubric(full_kit / "grader" / "rubric.toml")
    assert set(kit_rubric) == {k for k, e in RUBRIC.items() if e.visibility == "visible"}


def test_kit_grader_files_are_the_repos_and_import_only_what_students_install(full_kit):
    for path in (full_kit / "grader").rglob("*.py"):
        rel = path.relative_to(full_kit)
        assert path.read_bytes() == (ROOT / rel).read_bytes(), rel  # every chapter: nothing left out
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in STUDENT_IMPORTS, f"{rel} imports {name}"


def test_the_kit_installs_whole_without_editable_mode(full_kit, tmp_path):
    """`pip install .` of the kit (not -e) carries the recorded answers and the sandbox along."""
    source = shutil.copytree(full_kit, tmp_path / "kit")  # the build leaves build/ behind
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("nnkit_student-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    kit_files = {p.relative_to(full_kit).as_posix() for p in full_kit.rglob("*") if p.is_file()}
    shipped = {f for f in kit_files if f.startswith(("grader/", "exercises/")) and "__pycache__" not in f}
    assert shipped <= names, sorted(shipped - names)
    assert {
        "grader/recorded/index.json",
        "grader/sandbox/__init__.py",
        "grader/sandbox/worker/loop.py",
    } <= names


def test_zip_holds_the_same_files(full_kit):
    archive = full_kit.with_name(full_kit.name + ".zip")
    with zipfile.ZipFile(archive) as z:
        names = {n.removeprefix(f"{full_kit.name}/") for n in z.namelist()}
        assert all(n.startswith(f"{full_kit.name}/") for n in z.namelist())
        on_disk = {p.relative_to(full_kit).as_posix() for p in full_kit.rglob("*") if p.is_file()}
        assert names == on_disk
        assert (
            z.read(f"{full_kit.name}/grader/rubric.toml")
            == (full_kit / "grader" / "rubric.toml").read_bytes()
        )


def test_student_requirements(full_kit):
    wanted = {"numpy", "scipy", "pytest", "scikit-learn", "tqdm"}
    lines = [ln for ln in (full_kit / "requirements.txt").read_text().splitlines() if ln and ln[0] != "#"]
    assert {re.split(r"[<>=!~ ]", ln)[0].lower() for ln in lines} == wanted
    pyproject = tomllib.loads((full_kit / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == lines
    assert pyproject["tool"]["pytest"]["ini_options"]["testpaths"] == ["grader"]


def test_readme_tells_how_to_set_up_run_read_and_submit(full_kit):
    readme = (full_kit / "README.md").read_text()
    for text in ("pip install -r requirements.txt", "pytest", "python -m grader", "likely mistake", "Submit"):
        assert text in readme, text
    assert "@@" not in readme
    hidden_total = sum(RUBRIC[c.id].points for c in HIDDEN)
    assert f"{len(HIDDEN)} hidden checks worth {hidden_total:g} points" in readme
    assert "| hidden points |" in readme


# ----------------------------------------------------------------------------- running the kit
def test_stubs_score_zero_with_a_clean_report_and_nothing_from_outside(full_kit, tmp_path):
    code, output, data, modules = grade_in(full_kit, tmp_path)
    assert code == 1, output  # checks failed; not an internal error (exit 3/4)
    assert data["score"] == 0 and len(data["tests"]) == len(RUBRIC) - len(HIDDEN)
    for test in data["tests"]:
        assert "not implemented yet" in test["output"], test
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert "Score: 0 / " in output
    hidden_points = sum(RUBRIC[c.id].points for c in HIDDEN)
    assert (
        f"In total: {len(HIDDEN)} hidden checks, {hidden_points:g} points, run after the deadline" in output
    )
    for c in HIDDEN:  # names and points, never inputs
        assert f"{c.id.split('.', 1)[1]} ({RUBRIC[c.id].points:g} pt)" in output
    loaded = {name: file for name, file in modules.items() if file}
    assert not [n for n in modules if n.split(".")[0] in ("solutions", "course", "tests")]
    installed = Path(sys.prefix).resolve()  # the environment may live inside the repository (.venv)
    assert not [
        f
        for f in loaded.values()
        if Path(f).resolve().is_relative_to(ROOT) and not Path(f).resolve().is_relative_to(installed)
    ]
    ours = [
        f for n, f in loaded.items() if n.split(".")[0] in ("grader", "exercises") or n.startswith("_graded_")
    ]
    assert ours and all(Path(f).resolve().is_relative_to(full_kit.resolve()) for f in ours)
    assert "grader.hidden" not in modules


def test_solutions_copied_in_score_full_public_marks(full_kit, tmp_path):
    filled = filled_copy(full_kit, tmp_path)
    code, output, data, modules = grade_in(filled, tmp_path)
    assert code == 0, output
    assert data["score"] == public_points(kit.curriculum()) > 0
    assert "(100.0%)" in output
    graded = [f for n, f in modules.items() if n.startswith("_graded_") and f]
    assert graded and all(Path(f).resolve().is_relative_to(filled.resolve()) for f in graded)


def test_pytest_at_the_kit_root_grades_exercises(full_kit):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run(
        [sys.executable, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "Affine"],
        cwd=full_kit,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"implementation: {full_kit / 'exercises'}" in run.stdout
    assert "Affine.forward is not implemented yet" in run.stdout


# ----------------------------------------------------------------------------- choosing chapters
def test_first_chapters_kit_is_consistent(first_chapters_kit, tmp_path):
    chosen = kit.choose_exercises(chapters=FIRST_CHAPTERS)
    assert set(chosen) == {n for number in (1, 2, 3, 4) for n in kit.CHAPTERS[number]}
    kit_rubric = load_rubric(first_chapters_kit / "grader" / "rubric.toml")
    assert {k.split(".")[0] for k in kit_rubric} == set(chosen)
    code, output, data, _ = grade_in(first_chapters_kit, tmp_path)
    assert code == 1 and data["score"] == 0, output
    assert {t["tags"][0] for t in data["tests"]} == set(chosen)
    assert "Conv2d" not in output and "Sequential" not in output
    filled = filled_copy(first_chapters_kit, tmp_path)
    code, output, data, _ = grade_in(filled, tmp_path / "filled")
    assert code == 0 and data["score"] == public_points(chosen), output
    workflow = (first_chapters_kit / ".github" / "workflows" / "classroom.yml").read_text()
    assert "-m Conv2d" not in workflow and "-m Affine" in workflow


def test_a_kit_holds_only_the_checks_of_the_exercises_it_hands_out(first_chapters_kit):
    chosen = set(kit.choose_exercises(chapters=FIRST_CHAPTERS))
    registered, modules = set(), set()
    for path in (first_chapters_kit / "grader" / "checks").glob("*.py"):
        modules.add(path.stem)
        for node in ast.parse(path.read_text()).body:
            exercise = kit.registered_exercise(node)
            if exercise is not None:
                registered.add(exercise)
    assert registered <= chosen and len(registered) > 10  # checks registered in loops are not decorated
    assert "Flatten" not in registered and "Flatten" in {c.exercise for c in CHECKS}
    assert not modules & {"conv", "optim", "regularization", "network", "init"}, modules
    for path in (first_chapters_kit / "grader" / "checks").glob("*.py"):  # the rest is the repository's code
        source = (ROOT / "grader" / "checks" / path.name).read_text()
        assert path.read_text() == kit.without_other_checks(source, chosen)


def test_notebooks_of_whole_chapters_ship_with_the_grader_modules_they_import(tmp_path):
    chosen = kit.choose_exercises(chapters="1-3") + ["Affine"]  # chapter 4 only in part: no notebook
    expected = {nb.assignment for nb in kit.release_assignments(ROOT / "release", [1, 2, 3])}
    if not expected:
        pytest.skip("release/ has no notebook of chapters 1-3 yet")
    kit.export(tmp_path / "kit", chosen)
    assert {p.name for p in (tmp_path / "kit" / "notebooks").iterdir()} == expected
    for assignment in expected:
        for module in kit.notebook_grader_modules(ROOT / "release" / assignment):
            path = kit.module_file(ROOT / "grader", module)
            if path is not None:
                assert (tmp_path / "kit" / path.relative_to(ROOT)).is_file(), module
    readme = (tmp_path / "kit" / "README.md").read_text()
    assert all(f"notebooks/{a}/" in readme for a in expected)


def test_release_notebooks_hold_no_solution_code():
    files = {
        p.relative_to(ROOT).as_posix(): p.read_bytes()
        for nb in kit.release_assignments(ROOT / "release", list(kit.CHAPTERS))
        for p in (ROOT / "release" / nb.assignment).rglob("*.ipynb")
    }
    assert not kit.leaks(files), "\n".join(kit.leaks(files))


def test_export_refuses_a_notebook_that_holds_solution_code(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    for name in ("grader", "solutions", "pyproject.toml"):
        (root / name).symlink_to(ROOT / name)
    secret = "for layer in reversed(self.layers):"
    assert secret in kit.secret_lines(ROOT)
    notebook = {"cells": [{"cell_type": "code", "source": [secret + "\n", "    pass\n"]}]}
    (root / "release" / "ch1_gates").mkdir(parents=True)
    (root / "release" / "ch1_gates" / "ch1_gates.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(
        kit.ExportError, match=r"ch1_gates\.ipynb: for layer in reversed.*solutions/network\.py"
    ):
        kit.export(tmp_path / "kit", list(kit.CHAPTERS[1]), root=root)
    assert not (tmp_path / "kit").exists()
    kit.export(tmp_path / "kit", list(kit.CHAPTERS[1]), with_notebooks=False, root=root)
    assert (tmp_path / "kit" / "exercises" / "perceptron.py").is_file()


def test_release_assignments_are_chosen_by_chapter_number(tmp_path):
    for name in ("ch1_perceptron", "ch4_backprop", "ch7_conv", "notes"):
        (tmp_path / name).mkdir()
    assert [nb.assignment for nb in kit.release_assignments(tmp_path, [1, 2, 3, 4])] == [
        "ch1_perceptron",
        "ch4_backprop",
    ]
    assert kit.release_assignments(tmp_path / "missing", [1]) == []


def test_release_notebooks_grade_the_exercises_of_their_chapter():
    for nb in kit.release_assignments(ROOT / "release", list(kit.CHAPTERS)):
        text = "".join(p.read_text() for p in (ROOT / "release" / nb.assignment).rglob("*.ipynb"))
        graded = set(re.findall(r"grade\(\\?['\"](\w+)", text))
        assert graded <= set(kit.CHAPTERS[nb.chapter]), (nb.assignment, graded)


def test_every_exercise_belongs_to_one_chapter():
    placed = [n for names in kit.CHAPTERS.values() for n in names]
    assert sorted(placed) == sorted(kit.curriculum())


def test_chapter_and_exercise_choices():
    assert kit.parse_chapters("1-3,6") == [1, 2, 3, 6]
    assert kit.choose_exercises(exercises="Relu,Affine") == ["Affine", "Relu"]
    for bad in ("0-2", "3-1", "x", "9"):
        with pytest.raises(kit.ExportError, match="chapters"):
            kit.parse_chapters(bad)
    with pytest.raises(kit.ExportError, match="unknown Affyne"):
        kit.choose_exercises(exercises="Affyne")
    assert kit.missing_needs(["Sequential", "Affine"]) == {
        "Sequential": ["Tanh", "Relu", "SoftmaxCrossEntropy", "SGD"]
    }


def test_cli_reports_mistakes_without_a_traceback(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "grader.cli", "export", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    bad = cli(str(tmp_path / "a"), "--chapters", "2-9")
    assert bad.returncode == 2 and "chapters are 1-7" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    taken = cli(str(tmp_path / "full"), "--exercises", "Affine")
    assert taken.returncode == 2 and "not empty" in taken.stderr
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"
    over_repo = cli(str(ROOT), "--force")
    assert over_repo.returncode == 2 and "course itself" in over_repo.stderr
    ok = cli(str(tmp_path / "one"), "--exercises", "Affine", "--zip")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "one.zip").is_file()
    assert set(load_rubric(tmp_path / "one" / "grader" / "rubric.toml")) == {
        k for k, e in RUBRIC.items() if k.startswith("Affine.") and e.visibility == "visible"
    }
    assert cli("--help").returncode == 0


# ----------------------------------------------------------------------------- GitHub Classroom
def workflow_of(kit_dir):
    yaml = pytest.importorskip("yaml", reason="PyYAML parses the workflow (installed with jupyter)")
    return yaml.safe_load((kit_dir / ".github" / "workflows" / "classroom.yml").read_text())


def grader_steps(workflow):
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    return [
        s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader@")
    ]


def test_workflow_is_what_github_classroom_reads(full_kit):
    workflow = workflow_of(full_kit)
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    graders = grader_steps(workflow)
    assert [s["with"]["test-name"] for s in graders] == kit.curriculum()
    for step in graders:
        assert set(step["with"]) == {"test-name", "setup-command", "command", "timeout", "max-score"}
        name = step["with"]["test-name"]
        assert step["with"]["command"] == f"python -m grader.sandbox --impl exercises -m {name}"
        assert step["with"]["max-score"] == public_points([name])
    assert sum(s["with"]["max-score"] for s in graders) == public_points(kit.curriculum())
    ids = [s["id"] for s in graders]
    assert len({i.upper() for i in ids}) == len(ids)  # the reporter upper-cases them
    reporter = steps[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    assert reporter["with"]["runners"].split(",") == ids
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids}


def workflow_commands(kit_dir):
    """(name, shell command) of every step that runs something, in order."""
    commands = []
    for step in workflow_of(kit_dir)["jobs"]["run-autograding-tests"]["steps"]:
        if "run" in step:
            commands.append((step["name"], step["run"]))
        elif "command" in step.get("with", {}):
            commands.append((step["name"], step["with"]["command"]))
    return commands


def run_commands(kit_dir, commands, tmp_path):
    """{name: (exit code, output)} of each command run with bash -e in the kit, as on a runner."""
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GITHUB_STEP_SUMMARY"] = str(summary)

    def run(item):
        name, command = item
        if "pip install" in command:  # offline: resolve the requirements against this environment
            command = command.replace("pip install", "pip install --dry-run --no-index", 1)
        done = subprocess.run(
            ["bash", "-e", "-c", command], cwd=kit_dir, env=env, capture_output=True, text=True, timeout=600
        )
        return name, (done.returncode, done.stdout + done.stderr)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, commands)), summary


def check_workflow_commands(kit_dir, exercises, tmp_path):
    commands = workflow_commands(kit_dir)
    assert {n for n, _ in commands} >= set(exercises) | {"Install the requirements", "Score summary"}
    filled = filled_copy(kit_dir, tmp_path)
    results, summary = run_commands(filled, commands, tmp_path)
    failed = {n: out[-2000:] for n, (code, out) in results.items() if code != 0}
    assert not failed, failed
    assert (
        f"Score: {public_points(exercises):g} / {public_points(exercises):g} (100.0%)" in summary.read_text()
    )
    stub_results, _ = run_commands(
        kit_dir, [(n, c) for n, c in commands if n in exercises], tmp_path / "stubs"
    )
    passed = [n for n, (code, _) in stub_results.items() if code == 0]
    assert not passed, f"these steps pass on the untouched stubs: {passed}"


def test_workflow_commands_pass_with_solutions_and_fail_on_stubs_first_chapters(first_chapters_kit, tmp_path):
    (tmp_path / "stubs").mkdir()
    check_workflow_commands(first_chapters_kit, kit.choose_exercises(chapters=FIRST_CHAPTERS), tmp_path)


@pytest.mark.slow
def test_workflow_commands_pass_with_solutions_and_fail_on_stubs_every_chapter(full_kit, tmp_path):
    (tmp_path / "stubs").mkdir()
    check_workflow_commands(full_kit, kit.curriculum(), tmp_path)


# ----------------------------------------------------------------------------- the grader's assignment selection
def test_a_rubric_without_an_exercise_leaves_it_ungraded(tmp_path):
    def grade(rubric_text):
        rubric, results = tmp_path / "rubric.toml", tmp_path / "results.json"
        rubric.write_text(rubric_text)
        results.unlink(missing_ok=True)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "--impl",
                "solutions",
                "--rubric",
                str(rubric),
                "--json",
                str(results),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return run, json.loads(results.read_text()) if results.is_file() else None

    run, data = grade("[Relu]\nforward = 1\nbackward = 2\nno_mutation = 1\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert {t["name"] for t in data["tests"]} == {"Relu.forward", "Relu.backward", "Relu.no_mutation"}
    run, data = grade("[Relu]\nforward = 1\n")  # a listed exercise must still have every check
    assert run.returncode == 4 and "no points in the rubric for Relu.backward" in run.stdout + run.stderr


def test_no_template_placeholder_is_left(full_kit, first_chapters_kit):
    for kit_dir in (full_kit, first_chapters_kit):
        for rel, lines in kit_text_lines(kit_dir).items():
            assert not [line for line in lines if "@@" in line], rel


# ----------------------------------------------------------------------------- the kit's notebooks
PIP_NAMES = {"sklearn": "scikit-learn"}  # import name -> the name pip installs


def notebook_imports(path):
    """Top-level modules the code cells of a notebook import."""
    found = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


@pytest.fixture(scope="module")
def notebook_kit(tmp_path_factory):
    """The whole kit with its notebooks (release/ of every chapter)."""
    out = tmp_path_factory.mktemp("export") / "with-notebooks"
    kit.export(out)
    return out


def test_the_kits_install_covers_every_import_of_its_notebooks(notebook_kit):
    """What the README has students install (requirements.txt, then the notebooks' line) is
    everything the notebooks import beyond the standard library and the kit itself."""
    readme = (notebook_kit / "README.md").read_text()
    notebook_line = re.search(r"pip install -e \. ([^`]+)`", readme)
    assert notebook_line, "the README names no install for the notebooks"
    lines = [ln for ln in (notebook_kit / "requirements.txt").read_text().splitlines() if ln and ln[0] != "#"]
    installed = {re.split(r"[<>=!~ ]", ln)[0].lower() for ln in lines} | set(notebook_line[1].split())
    notebooks = sorted((notebook_kit / "notebooks").rglob("*.ipynb"))
    assert len(notebooks) == 7
    for path in notebooks:
        for module in notebook_imports(path) - set(sys.stdlib_module_names) - {"grader", "exercises"}:
            assert PIP_NAMES.get(module, module) in installed, f"{path.name} imports {module}"


@pytest.mark.slow
def test_the_kits_notebooks_run_top_to_bottom(notebook_kit, monkeypatch):
    """Untouched (every exercise a stub), each notebook runs every cell without an error outside
    the answer cells (an empty helpers cell raises nbgrader's NotImplementedError stub): the demo
    cells say what to implement first, the test cells grade 0 from the recorded data."""
    nbformat = pytest.importorskip("nbformat", reason="running notebooks needs jupyter")
    from nbclient import NotebookClient

    monkeypatch.setenv(
        "PYTHONPATH", str(notebook_kit)
    )  # the kit's grader and exercises, not this repository's
    monkeypatch.setenv("MPLBACKEND", "agg")
    for path in sorted((notebook_kit / "notebooks").rglob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        NotebookClient(
            nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
        ).execute()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
            if cell.metadata.get("nbgrader", {}).get("solution"):
                errors = [e for e in errors if e != "NotImplementedError: "]
            stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
            assert not errors and not stderr, f"{path.name}: {cell.source[:80]!r}: {errors or stderr[-500:]}"
            if cell.metadata.get("nbgrader", {}).get("grade"):
                shown = [o for o in cell.outputs if o.output_type == "execute_result"]
                assert shown and float(shown[0].data["text/plain"]) == 0.0, path.name
