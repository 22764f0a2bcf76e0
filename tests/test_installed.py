"""The kit as an instructor installs it: a wheel in a fresh virtual environment, every nnkit command
run from an empty folder on a course copied out of this repository and a handful of submissions.

The fresh environment installs the wheel with pip (no editable install, no access to this checkout)
and borrows the test environment's third-party packages through a .pth line, so no download is
needed; the .pth files of the borrowed folder (this checkout's editable install) are not read. The
borrowed environment's scripts (nbgrader's alembic) come after the fresh environment's on PATH.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COURSE_PARTS = ("solutions", "exercises", "course", "source", "release", "nbgrader_config.py")
COMMANDS = (
    "grade",
    "course",
    "export",
    "batch",
    "report",
    "canvas",
    "similarity",
    "autograde",
    "regrade",
    "gradescope",
)

pytestmark = pytest.mark.slow


def repository_files():
    """The files a clone of this repository has (tracked, or new and not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def clean_env():
    """This environment without PYTHONPATH and the like: the nbgrader course builder puts this checkout
    on PYTHONPATH for its kernels, and pip would then take this checkout for nnkit installed."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}


class Installed:
    """A fresh virtual environment with the kit's wheel installed, and an empty folder to work in."""

    def __init__(self, base):
        source = base / "source"
        for name in repository_files():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
        dist = base / "dist"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                str(source),
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                dist,
            ],
            check=True,
            capture_output=True,
            env=clean_env(),
        )
        (self.wheel,) = dist.glob("nnkit-*.whl")
        env_dir = base / "venv"
        venv.create(env_dir, with_pip=False)
        self.python = env_dir / "bin" / "python"
        subprocess.run(  # before the borrowed packages are visible: pip must not find this checkout's install
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                self.python,
                "install",
                "--no-deps",
                "--no-index",
                "-q",
                self.wheel,
            ],
            check=True,
            capture_output=True,
            env=clean_env(),
        )
        assert (env_dir / "bin" / "nnkit").is_file()
        purelib = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(purelib, "borrowed_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        self.bin = env_dir / "bin"
        self.work = base / "work"
        self.work.mkdir()
        shutil.rmtree(source)

    def run(self, *args, cwd=None, check=True):
        env = clean_env()
        env["PATH"] = os.pathsep.join([str(self.bin), sysconfig.get_paths()["scripts"], env.get("PATH", "")])
        done = subprocess.run(
            [str(a) for a in args], cwd=cwd or self.work, env=env, capture_output=True, text=True, timeout=600
        )
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def nnkit(self, *args, **kwargs):
        return self.run(self.bin / "nnkit", *args, **kwargs)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return Installed(tmp_path_factory.mktemp("installed"))


@pytest.fixture(scope="module")
def course(kit):
    """A course folder copied out of the repository (no grader/, no tests)."""
    folder = kit.work / "course"
    for part in COURSE_PARTS:
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / part, folder / part)
    return folder


@pytest.fixture(scope="module")
def submissions(kit, course):
    """alice: the reference; bob: alice's code with Relu.backward passing dout through everywhere;
    carol: a .rar nobody can grade."""
    folder = kit.work / "submissions"
    shutil.copytree(course / "solutions", folder / "alice", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(folder / "alice", folder / "bob")
    layers = folder / "bob" / "layers.py"
    right = "return np.where(self.mask, dout, 0.0).astype(dout.dtype)"
    assert right in layers.read_text()
    layers.write_text(layers.read_text().replace(right, "return dout.copy()"))
    (folder / "carol.rar").write_bytes(b"Rar!\x1a\x07\x00")
    return folder


@pytest.fixture(scope="module")
def graded(kit, submissions):
    out = kit.work / "graded"
    kit.nnkit("batch", submissions, "--out", out, "--jobs", "2", "--quiet")
    return out


def test_the_wheel_holds_the_grader_and_the_stubs_but_no_solutions(kit):
    names = zipfile.ZipFile(kit.wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"grader", "exercises"} <= tops
    assert "solutions" not in tops and not any("solutions/" in name for name in names)
    for folder in (
        "grader/hidden/",
        "grader/oracles/",
        "grader/sandbox/",
        "grader/classroom/",
        "grader/authoring/",
    ):
        assert any(name.startswith(folder) for name in names), folder
    assert "grader/authoring/student_kit/pyproject.toml.in" in names
    done = kit.run(kit.python, "-c", "import solutions", check=False)
    assert done.returncode != 0 and "No module named 'solutions'" in done.stderr


def test_every_command_has_help_with_examples(kit):
    top = kit.nnkit("--help").stdout
    assert "examples:" in top
    for command in COMMANDS:
        assert command in top
        text = kit.nnkit(command, "--help").stdout
        assert "examples:" in text and f"nnkit {command}" in text, command


@pytest.mark.parametrize(
    "args, words",
    [
        (("batch",), "required"),
        (("frob",), "invalid choice"),
        (("grade",), "exercises"),  # an empty folder has no ./exercises to grade
        (("course", "stubs"), "not a course folder"),
        (("export", "kit"), "not a course folder"),
        (("regrade", "ch1_perceptron"), "gradebook.db"),
        (("report", "nowhere"), "nowhere"),
        (("--course", "nowhere", "course", "check"), "nowhere"),
    ],
)
def test_wrong_arguments_give_one_line(kit, args, words):
    done = kit.nnkit(*args, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr


# nnkit with none of the extras: their imports fail, as where only `pip install nnkit` ran
CORE_ONLY = (
    "import sys; sys.modules.update(dict.fromkeys(('traitlets', 'nbgrader', 'nbformat', 'matplotlib',"
    " 'copydetect', 'distributed', 'torch'))); from grader.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_the_core_commands_need_no_extra(kit, course):
    assert "examples:" in kit.run(kit.python, "-c", CORE_ONLY, "--help").stdout
    assert "examples:" in kit.run(kit.python, "-c", CORE_ONLY, "grade", "--help").stdout
    graded = kit.run(kit.python, "-c", CORE_ONLY, "grade", "--impl", course / "solutions", "-m", "Relu", "-q")
    assert "4 / 4" in graded.stdout and graded.stderr == ""
    kit.run(kit.python, "-c", CORE_ONLY, "gradescope", "--out", "core.zip", "-q")
    course_check = kit.run(kit.python, "-c", CORE_ONLY, "--course", course, "course", "check", check=False)
    assert course_check.returncode == 2 and "nbgrader is not installed" in course_check.stderr
    assert len(course_check.stderr.strip().splitlines()) == 1


def test_grade_runs_the_sandbox_on_any_folder(kit, course):
    done = kit.nnkit("grade", "--impl", course / "solutions", "-m", "affine", "--json", "affine.json")
    assert "(sandboxed, isolation namespaces)" in done.stdout
    results = json.loads((kit.work / "affine.json").read_text())
    assert results["tests"] and results["score"] == sum(t["max_score"] for t in results["tests"])
    assert {t["name"].split(".")[0] for t in results["tests"]} == {"Affine"}
    stubs = kit.nnkit("grade", cwd=course, check=False)
    assert stubs.returncode == 1 and "not implemented" in stubs.stdout.lower()


def test_course_commands_work_on_a_course_elsewhere(kit, course):
    assert "out of date" not in kit.nnkit("--course", course, "course", "stubs", "--check").stdout
    before = {
        p: p.read_bytes() for part in ("source", "release", "exercises") for p in (course / part).rglob("*.*")
    }
    built = kit.nnkit("--course", course, "course", "build", "-q")
    assert built.stderr == ""
    after = {
        p: p.read_bytes() for part in ("source", "release", "exercises") for p in (course / part).rglob("*.*")
    }
    assert after == before  # the copied course was built already: building it again changes nothing
    done = kit.nnkit("course", "check", cwd=course)
    assert "up to date" in done.stdout


def test_grade_in_process_runs_pytest_on_your_own_code(kit, course):
    done = kit.nnkit("grade", "--impl", course / "solutions", "-m", "Relu", "--in-process", "-q")
    assert "Score: 4 / 4" in done.stdout


def test_export_writes_a_kit_without_answers(kit, course):
    kit.nnkit("--course", course, "export", "kit", "--exercises", "Relu,Affine", "--quiet")
    files = {p.relative_to(kit.work / "kit").as_posix() for p in (kit.work / "kit").rglob("*") if p.is_file()}
    assert "exercises/layers.py" in files and "grader/recorded/index.json" in files
    assert not [f for f in files if f.startswith(("solutions/", "grader/hidden/", "grader/oracles/"))]
    assert not [f for f in files if f.startswith(("grader/classroom/", "grader/authoring/"))]


def test_batch_report_canvas_and_similarity_on_a_small_class(kit, submissions, graded):
    with open(graded / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"alice", "bob", "carol"}
    assert rows["alice"]["percent"] == "100.0"
    assert float(rows["bob"]["total"]) < float(rows["alice"]["total"])
    assert rows["carol"]["status"] == "invalid submission"
    alice = json.loads((graded / "results" / "alice.json").read_text())
    assert (alice["engine"], alice["isolation"]) == ("sandbox", "namespaces")

    kit.nnkit("report", graded, "--json", "report.json", "--quiet")
    report = json.loads((kit.work / "report.json").read_text())
    assert (graded / "report.html").is_file()
    (relu,) = [e for e in report["exercises"] if e["exercise"] == "Relu"]
    assert [(m["mistake"], m["students"]) for m in relu["mistakes"]] == [
        ("layers.dout_passed_through_unchanged", ["bob"])
    ]

    (kit.work / "roster.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        "Alice A,1,S1,alice,A\nBob B,2,S2,bob,A\nDana D,3,S3,dana,B\n"
    )
    kit.nnkit("canvas", graded, "--roster", "roster.csv", "--assignment", "Homework 1 (101)", "--quiet")
    with open(graded / "canvas.csv", newline="", encoding="utf-8-sig") as f:
        canvas = {row["SIS Login ID"]: row["Homework 1 (101)"] for row in csv.DictReader(f)}
    assert canvas["alice"] == rows["alice"]["total"] and canvas["bob"] == rows["bob"]["total"]
    assert "dana" not in canvas  # no submission: left out, so Canvas keeps what it has

    done = kit.nnkit("similarity", submissions, "--json", "similar.json", "--quiet")
    pairs = json.loads((kit.work / "similar.json").read_text())
    flagged = [p for p in pairs["pairs"] if p["flagged"]]
    assert [sorted((p["a"], p["b"])) for p in flagged] == [["alice", "bob"]], done.stdout
    assert "carol" in done.stdout and (kit.work / "similarity.html").is_file()


def test_gradescope_bundle_from_the_installed_kit(kit):
    kit.nnkit("gradescope", "--out", "autograder.zip", "--quiet")
    names = zipfile.ZipFile(kit.work / "autograder.zip").namelist()
    assert (
        "run_autograder" in names and "exercises/layers.py" in names and "grader/hidden/__init__.py" in names
    )
    assert not [n for n in names if n.startswith("solutions/")]
