"""Export the student starter kit: no solutions, no hidden checks, ready for a zip or GitHub Classroom.

    nnkit export OUTDIR                      # every chapter
    nnkit export OUTDIR --zip                # also OUTDIR.zip
    nnkit export OUTDIR --chapters 1-4       # this week's chapters only
    nnkit export OUTDIR --exercises Affine,Relu
    nnkit export --list                      # the chapters and their exercises

It reads the course folder (the current folder, or `nnkit --course DIR`): solutions/ for the
stubs and the recording, release/ for the notebooks; the grader's files come from the
installed grader package.

The kit holds exercises/ (every stub, so imports never dangle), the public part
of grader/ (the front ends and the check modules of the chosen exercises; never
grader/hidden/ or grader/oracles/), the expected values of the chosen exercises'
public checks, recorded by running the live oracles on the reference
(grader/recorded/), a rubric with those checks, a manifest naming the hidden
checks and their points, the release/ notebooks of the chapters whose
exercises are all chosen (as notebooks/), a README, pyproject.toml,
requirements.txt and .github/workflows/classroom.yml (one autograding step per
exercise, worth its public points).
"""

import ast
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader import installed
from grader.authoring.course_root import course_master, course_root
from grader.authoring.record import RecordingError, public_checks, record
from grader.authoring.regions import find_regions, solution_lines
from grader.authoring.stubs import expected_stubs
from grader.expected import kit_fingerprint_of
from grader.files import replaced
from grader.oracles import ORACLES
from grader.registry import all_checks, is_hidden_check, load_rubric
from grader.sandbox.spawn import RUNTIME_FILES

GRADER_DIR = Path(__file__).resolve().parent.parent  # the installed grader package: its files go into the kit
KIT_TEMPLATES = Path(__file__).resolve().parent / "student_kit"

# The curriculum's chapters (the nbgrader assignments) and the exercises each hands out.
CHAPTERS = {
    1: ("AND", "NAND", "OR", "XOR", "Perceptron"),
    2: ("step", "sigmoid", "relu", "tanh", "softmax"),
    3: ("mse", "cross_entropy", "numerical_gradient", "gradient_descent"),
    4: ("MulLayer", "AddLayer", "Relu", "Sigmoid", "Tanh", "Affine", "SoftmaxCrossEntropy", "MSELoss"),
    5: ("Sequential", "SGD"),
    6: ("Momentum", "AdaGrad", "RMSProp", "Adam", "xavier_init", "he_init", "Dropout", "BatchNorm1d"),
    7: ("Conv2d", "MaxPool2d", "AvgPool2d", "Flatten"),
}
# Exercises whose checks run the student's own code of other exercises.
NEEDS = {
    "XOR": ("AND", "NAND", "OR"),
    "Sequential": ("Affine", "Tanh", "Relu", "SoftmaxCrossEntropy", "SGD"),
}
# What a student installs: the kit's own dependencies, by project name.
STUDENT_PACKAGES = ("numpy", "scipy", "pytest", "scikit-learn", "tqdm")
# The modules of grader/ that students run; everything they import from grader/ comes along
# (the sandbox runs the Classroom workflow's steps, so a submission cannot decide their exit status).
GRADER_ROOTS = ("__init__", "__main__", "conftest", "test_exercises", "plugin", "checks.__init__", "sandbox")
# Instructor-only packages of grader/: never in a kit, never imported by what is.
INSTRUCTOR_PACKAGES = ("hidden", "oracles", "classroom", "authoring")
RUBRIC_HEADER = """\
# Points for the checks in this kit, one table per exercise. Exercises without a
# table are not graded here (they belong to other assignments).
"""
MANIFEST_HEADER = """\
# Hidden checks: graded after the deadline. Their code and inputs are not in this kit;
# the grader lists their names and points so you know what else counts.
"""
# A Classroom step's verdict: the exercise's public checks, with the student's code in a sandboxed
# child process and the exit status decided by the grading process (code in exercises/ cannot set it).
CLASSROOM_COMMAND = "python -m grader.sandbox --impl exercises -m {exercise}"
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ExportError(Exception):
    """A problem the instructor can fix (bad selection, inconsistent rubric, unusable OUTDIR)."""


USER_ERRORS = (ExportError,)  # what nnkit reports as one line, exit status 2


# ----------------------------------------------------------------------------- choosing exercises
def parse_chapters(text):
    """'1-4,7' -> [1, 2, 3, 4, 7]."""
    chosen = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise ExportError(f"--chapters {text!r}: use numbers and ranges such as 1-4,7")
        first, last = int(match[1]), int(match[2] or match[1])
        if first > last or first not in CHAPTERS or last not in CHAPTERS:
            raise ExportError(f"--chapters {text!r}: chapters are {min(CHAPTERS)}-{max(CHAPTERS)}")
        chosen.update(range(first, last + 1))
    if not chosen:
        raise ExportError("--chapters: name at least one chapter")
    return sorted(chosen)


def chapter_of(exercise):
    return next(number for number, names in CHAPTERS.items() if exercise in names)


def curriculum():
    """Every exercise with checks, in the order reports list them."""
    order = []
    for c in all_checks():
        if c.exercise not in order:
            order.append(c.exercise)
    return order


def choose_exercises(chapters=None, exercises=None):
    """The chosen exercises in curriculum order; all of them when nothing is chosen."""
    known = curriculum()
    if exercises:
        names = [n.strip() for n in exercises.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ExportError(
                f"--exercises: unknown {', '.join(unknown) or 'list'}; choose from {', '.join(known)}"
            )
        return [n for n in known if n in names]
    if chapters:
        wanted = {n for number in parse_chapters(chapters) for n in CHAPTERS[number]}
        return [n for n in known if n in wanted]
    return known


def missing_needs(chosen):
    """{exercise: exercises its checks also run} for needs left out of `chosen`."""
    return {
        name: [n for n in NEEDS[name] if n not in chosen]
        for name in chosen
        if name in NEEDS and any(n not in chosen for n in NEEDS[name])
    }


# ----------------------------------------------------------------------------- the grader's public part
def split_rubric(rubric, checks):
    """(public, hidden) rubric entries; raises ExportError where visibility and code location disagree."""
    by_id = {c.id: c for c in checks}
    problems = []
    for check_id, entry in rubric.items():
        check = by_id.get(check_id)
        if check is None:
            continue
        hidden_code = is_hidden_check(check)
        if entry.visibility == "visible" and hidden_code:
            problems.append(f"{check_id} is in grader/hidden/ but visible in the rubric")
        if entry.visibility != "visible" and not hidden_code:
            problems.append(
                f"{check_id} is {entry.visibility} in the rubric but its code is public (move it to grader/hidden/)"
            )
    if problems:
        raise ExportError("rubric.toml and grader/hidden/ disagree:\n  " + "\n  ".join(problems))
    public = {k: v for k, v in rubric.items() if v.visibility == "visible"}
    hidden = {k: v for k, v in rubric.items() if v.visibility != "visible"}
    return public, hidden


def imported_modules(path, module):
    """Dotted names of grader modules that `path` (the module `module`) imports."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "grader"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.split(".")[0] == "grader":
                base = node.module
            else:
                continue
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def module_file(grader_dir, name):
    """The file of the dotted grader module `name`, or None if it is not a module of grader_dir."""
    parts = name.split(".")[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    base = grader_dir.joinpath(*parts)
    for candidate in (
        base / "__init__.py",
        base.with_suffix(".py") if parts else None,
    ):  # as Python finds them
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def check_modules(exercises):
    """The modules of grader/checks/ that register public checks of `exercises`."""
    return sorted({c.chapter for c in public_checks(exercises)})


def public_grader_files(grader_dir, exercises, extra_modules=()):
    """Every .py file students need: the front ends, the chosen exercises' check modules, and what they import.

    Never grader/hidden/ or grader/oracles/: a public module that imports them is an ExportError.
    """
    instructor = [grader_dir / name for name in INSTRUCTOR_PACKAGES]
    todo = [f"grader.{name}" for name in GRADER_ROOTS] + list(extra_modules)
    todo += [f"grader.checks.{name}" for name in check_modules(exercises)]
    todo += [
        "grader." + rel.removesuffix(".py").replace("/", ".") for rel in RUNTIME_FILES
    ]  # the sandbox copies them
    files = set()
    while todo:
        path = module_file(grader_dir, todo.pop())
        if path is None or path in files:
            continue
        if any(path.is_relative_to(folder) for folder in instructor):
            raise ExportError(f"a public grader module imports instructor code ({path})")
        files.add(path)
        module = "grader." + ".".join(path.relative_to(grader_dir).with_suffix("").parts)
        todo += imported_modules(path, module.removesuffix(".__init__"))
        if path.name != "__init__.py":
            todo.append(module.rsplit(".", 1)[0] + ".__init__")
    return sorted(files)


def toml_key(name):
    return name if BARE_KEY.match(name) else json.dumps(name)


def points_text(points):
    return str(int(points)) if float(points).is_integer() else repr(float(points))


def rubric_text(header, entries, exercises, inline_visibility):
    """A rubric-format TOML file of `entries` for `exercises`, in that order."""
    lines = [header.rstrip("\n")]
    for exercise in exercises:
        rows = [(k.split(".", 1)[1], e) for k, e in entries.items() if k.split(".", 1)[0] == exercise]
        if not rows:
            continue
        lines += ["", f"[{toml_key(exercise)}]"]
        for name, entry in rows:
            value = points_text(entry.points)
            if inline_visibility:
                value = f'{{ points = {value}, visibility = "{entry.visibility}" }}'
            lines.append(f"{toml_key(name)} = {value}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- notebooks
@dataclass
class Notebook:
    assignment: str
    chapter: int


def release_assignments(release_dir, chapters):
    """The assignments of release/ whose name starts with (or contains) a chosen chapter's number."""
    if not release_dir.is_dir():
        return []
    found = []
    for folder in sorted(p for p in release_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        match = re.search(r"\d+", folder.name)
        if match and int(match[0]) in chapters:
            found.append(Notebook(folder.name, int(match[0])))
    return found


def notebook_grader_modules(folder):
    """grader modules the notebooks of `folder` import (so the kit ships them)."""
    pattern = re.compile(r"(?:from|import)\s+(grader(?:\.\w+)*)(?:\s+import\s+([\w, ]+))?")
    names = []
    for path in folder.rglob("*.ipynb"):
        try:
            cells = json.loads(path.read_text()).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            source = cell.get("source", "")
            for match in pattern.finditer("".join(source) if isinstance(source, list) else source):
                names.append(match[1])
                names += [f"{match[1]}.{n.strip()}" for n in (match[2] or "").split(",") if n.strip()]
    return names


# ----------------------------------------------------------------------------- the kit's own files
def student_dependencies():
    """The kit's dependencies that students need, as the installed grader declares them, and its version."""
    wanted = []
    for requirement in installed.dependencies():
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()
        if name in STUDENT_PACKAGES:
            wanted.append(requirement)
    return wanted, installed.version()


def step_ids(exercises):
    """A workflow step id per exercise, unique even after upper-casing (relu vs Relu)."""
    lower = [n.lower() for n in curriculum()]
    ids = {}
    for name in exercises:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        if name[:1].islower() and lower.count(name.lower()) > 1:
            slug += "-fn"
        ids[name] = slug
    return ids


def classroom_workflow(public, exercises):
    """.github/workflows/classroom.yml: one command-grader step per exercise with public points."""
    ids = step_ids(exercises)
    steps, env, runners = [], [], []
    for name in exercises:
        points = sum(e.points for k, e in public.items() if k.split(".", 1)[0] == name)
        if not points:
            continue
        if not float(points).is_integer():
            raise ExportError(f"{name} is worth {points:g} points: GitHub Classroom scores are whole numbers")
        steps += [
            f"      - name: {name}",
            f"        id: {ids[name]}",
            "        uses: classroom-resources/autograding-command-grader@v1",
            "        with:",
            f"          test-name: {name}",
            "          setup-command: ''",
            f"          command: {CLASSROOM_COMMAND.format(exercise=name)}",
            "          timeout: 5",
            f"          max-score: {int(points)}",
        ]
        env.append(f'          {ids[name].upper()}_RESULTS: "${{{{steps.{ids[name]}.outputs.result}}}}"')
        runners.append(ids[name])
    template = (KIT_TEMPLATES / "classroom.yml.in").read_text()
    return (
        template.replace("@@GRADER_STEPS@@", "\n".join(steps))
        .replace("@@REPORTER_ENV@@", "\n".join(env))
        .replace("@@RUNNERS@@", ",".join(runners))
    )


def exercise_files(stubs):
    """{exercise name: exercises/<file>} from the top-level classes and functions of the stubs."""
    where = {}
    for rel, text in stubs.items():
        for node in ast.parse(text).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                where.setdefault(node.name, f"exercises/{rel.as_posix()}")
    return where


HIDDEN_PARAGRAPH = """
Some checks are hidden: they test the same properties on other inputs and run
only after the deadline. The grader lists their names and points (never their
inputs) under "Hidden checks"; passing every public check is the best way to
pass them too. In this kit: {count} hidden checks worth {points:g} points.
"""


def exercise_table(exercises, public, hidden, stubs):
    """The README's table: chapter, exercise, file, points (and hidden points when there are any)."""
    where = exercise_files(stubs)
    header = "| chapter | exercise | file | points |" + (" hidden points |" if hidden else "")
    rows = [header, "|---" * (header.count("|") - 1) + "|"]
    for name in exercises:
        row = f"| {chapter_of(name)} | `{name}` | `{where.get(name, 'exercises/')}` | {points_of(public, name):g} |"
        rows.append(row + (f" {points_of(hidden, name):g} |" if hidden else ""))
    return "\n".join(rows)


def points_of(entries, exercise):
    return sum(e.points for k, e in entries.items() if k.split(".", 1)[0] == exercise)


def readme_text(exercises, public, hidden, stubs, notebooks):
    notebooks_text = (
        "\nThe notebooks teach each chapter and grade your answers with the same checks:\n\n"
        + "".join(f"- chapter {nb.chapter}: `notebooks/{nb.assignment}/`\n" for nb in notebooks)
        if notebooks
        else ""
    )
    notebook_setup = (
        "\nFor the notebooks, also run `pip install -e . jupyter matplotlib` in this folder (the notebooks\n"
        "import this kit's `exercises` and `grader`; install this kit, never the course's own repository)\n"
        "and start `jupyter lab` here.\n"
        if notebooks
        else ""
    )
    hidden_text = (
        HIDDEN_PARAGRAPH.format(count=len(hidden), points=sum(e.points for e in hidden.values()))
        if hidden
        else ""
    )
    example = exercises[0]
    template = (KIT_TEMPLATES / "README.md.in").read_text()
    return (
        template.replace("@@EXERCISES@@", exercise_table(exercises, public, hidden, stubs))
        .replace("@@NOTEBOOK_SETUP@@", notebook_setup)
        .replace("@@NOTEBOOKS@@", notebooks_text)
        .replace("@@HIDDEN@@", hidden_text)
        .replace("@@EXAMPLE@@@@PAD@@", example.ljust(12))
    )


# ----------------------------------------------------------------------------- leak guard
# Lines too plain to give anything away, whatever file they come from.
PLAIN_LINE = re.compile(r"^(return( \w+| None)?|else:|pass|\)|\]|\}|\),?|\],?|.{0,12})$")


def oracle_lines(oracles_dir):
    """{line: where} of every function body in grader/oracles/ (registered oracles and their helpers),
    after signatures and docstrings."""
    found = {}
    for path in sorted(oracles_dir.glob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source, str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            for line in lines[body[0].lineno - 1 : node.end_lineno] if body else []:
                found.setdefault(line.strip(), f"grader/oracles/{path.name}: {node.name}")
    return found


def secret_lines(root=None):
    """{line: where it comes from} of every line that computes an answer: solution bodies and live oracles.

    Lines that also appear outside the solution regions (the stubs' own code) and plain lines
    (`return out`, brackets, very short lines) are left out; nothing else is exempt.
    """
    secret, public = {}, set()
    for path in sorted(course_master(root).glob("*.py")):
        source = path.read_text()
        for line in solution_lines(source, str(path)):
            secret.setdefault(line, f"solutions/{path.name}")
        inside = {i for r in find_regions(source, str(path)) for i in range(r.begin, r.end + 1)}
        public |= {line.strip() for i, line in enumerate(source.splitlines()) if i not in inside}
    for line, where in oracle_lines(GRADER_DIR / "oracles").items():
        secret.setdefault(line, where)
    return {
        line: where for line, where in secret.items() if line not in public and not PLAIN_LINE.match(line)
    }


def functions_outside_classes(tree):
    """The functions of a module's syntax tree, except the methods of its classes: a layer of the
    grader's handed to student code (its forward, its backward) is no oracle, whatever its names."""
    methods = {id(item) for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for item in node.body}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(node) not in methods
    ]


def oracle_definitions(files):
    """'file: def name' for every kit file that defines a function named like a live oracle (a method of
    a class excepted: the lines of every function body are checked by secret_lines all the same)."""
    names = {function.__name__ for function in ORACLES.values()}
    found = []
    for rel, data in sorted(files.items()):
        if rel.endswith(".py"):
            for node in functions_outside_classes(ast.parse(data.decode(), rel)):
                if node.name in names:
                    found.append(f"{rel}: def {node.name}  (a live oracle's name)")
    return found


def text_lines(rel, data):
    """The stripped lines of a kit file; a notebook's are those of its cells."""
    try:
        text = data.decode()
        if rel.endswith(".ipynb"):
            text = "\n".join("".join(c.get("source", "")) for c in json.loads(text).get("cells", []))
    except (UnicodeDecodeError, ValueError):
        return set()
    return {line.strip() for line in text.splitlines()}


def leaks(files, root=None):
    """'file: line (from ...)' for every answer line in the kit's files, and every oracle definition."""
    secret = secret_lines(root)
    found = [
        f"{rel}: {line}  ({secret[line]})"
        for rel, data in sorted(files.items())
        for line in sorted(text_lines(rel, data) & secret.keys())
    ]
    return found + oracle_definitions({k: v for k, v in files.items() if k.startswith("grader/")})


# ----------------------------------------------------------------------------- building the kit
def registered_exercise(node):
    """The exercise of a top-level `@check("Exercise", ...)` function, else None."""
    for decorator in getattr(node, "decorator_list", []):
        if (
            isinstance(decorator, ast.Call)
            and getattr(decorator.func, "id", None) == "check"
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
        ):
            return decorator.args[0].value
    return None


def without_other_checks(source, exercises):
    """A check module's source without the checks of exercises not in `exercises` (their helpers stay)."""
    chosen = set(exercises)
    lines = source.splitlines(keepends=True)
    drop = set()
    for node in ast.parse(source).body:
        exercise = registered_exercise(node)
        if exercise is not None and exercise not in chosen:
            first = min(d.lineno for d in node.decorator_list)
            drop.update(range(first - 1, node.end_lineno))
    kept = "".join(line for i, line in enumerate(lines) if i not in drop)
    return re.sub(r"\n{4,}", "\n\n\n", kept)


def grader_files(grader_dir, public, hidden, exercises, extra_modules=()):
    """The public grader's modules (check modules with the chosen exercises' checks only), the kit's rubric
    and the hidden checks' manifest."""
    files = {}
    for path in public_grader_files(grader_dir, exercises, extra_modules):
        rel = path.relative_to(grader_dir)
        data = path.read_bytes()
        if rel.parts[0] == "checks" and rel.name != "__init__.py":
            data = without_other_checks(data.decode(), exercises).encode()
        files[f"grader/{rel.as_posix()}"] = data
    files["grader/rubric.toml"] = rubric_text(RUBRIC_HEADER, public, exercises, False).encode()
    if hidden:
        files["grader/hidden_checks.toml"] = rubric_text(MANIFEST_HEADER, hidden, exercises, True).encode()
    return files


def recorded_files(exercises, files, root=None, progress=False):
    """grader/recorded/: the answers of the chosen exercises' public checks, for the kit's grader `files`."""
    try:
        recorder = record(exercises, course_master(root), progress)
    except RecordingError as error:
        raise ExportError(str(error)) from None
    return {
        f"grader/recorded/{name}": data for name, data in recorder.files(kit_fingerprint_of(files)).items()
    }


def notebook_files(release_dir, notebooks):
    """The files of the chosen release/ assignments, under notebooks/."""
    files = {}
    for nb in notebooks:
        source = release_dir / nb.assignment
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = path.relative_to(source)
            if not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                files[f"notebooks/{nb.assignment}/{rel.as_posix()}"] = path.read_bytes()
    return files


def project_files(root, public, hidden, exercises, stubs, notebooks):
    """README, pyproject.toml, requirements.txt, .gitignore and the GitHub Classroom workflow."""
    dependencies, version = student_dependencies()
    quoted = "\n".join(f"    {json.dumps(d)}," for d in dependencies)
    pyproject = (KIT_TEMPLATES / "pyproject.toml.in").read_text()
    requirements = (KIT_TEMPLATES / "requirements.txt.in").read_text()
    return {
        "README.md": readme_text(exercises, public, hidden, stubs, notebooks).encode(),
        "pyproject.toml": pyproject.replace("@@DEPENDENCIES@@", quoted)
        .replace("@@VERSION@@", version)
        .encode(),
        "requirements.txt": requirements.replace("@@DEPENDENCIES@@", "\n".join(dependencies)).encode(),
        ".gitignore": (KIT_TEMPLATES / "gitignore.in").read_bytes(),
        ".github/workflows/classroom.yml": classroom_workflow(public, exercises).encode(),
    }


def kit_files(exercises, root=None, with_notebooks=True, progress=False):
    """{relative path: bytes} of the whole kit for the chosen exercises; ExportError if solution code would leak."""
    root = course_root(root)
    public, hidden = split_rubric(load_rubric(GRADER_DIR / "rubric.toml"), all_checks())
    chosen = set(exercises)
    public = {k: v for k, v in public.items() if k.split(".", 1)[0] in chosen}
    hidden = {k: v for k, v in hidden.items() if k.split(".", 1)[0] in chosen}
    whole_chapters = [number for number, names in CHAPTERS.items() if set(names) <= chosen]
    notebooks = release_assignments(root / "release", whole_chapters) if with_notebooks else []
    notebook_modules = [
        m for nb in notebooks for m in notebook_grader_modules(root / "release" / nb.assignment)
    ]

    stubs = expected_stubs(course_master(root))
    files = {f"exercises/{rel.as_posix()}": text.encode() for rel, text in stubs.items()}
    files |= grader_files(GRADER_DIR, public, hidden, exercises, notebook_modules)
    files |= recorded_files(exercises, files, root, progress)
    files |= notebook_files(root / "release", notebooks)
    files |= project_files(root, public, hidden, exercises, stubs, notebooks)
    found = leaks(files, root)
    if found:
        raise ExportError(
            "solution code would reach students; remove it from these files:\n  " + "\n  ".join(found)
        )
    return files


def check_outdir(outdir, force, root=None):
    outdir, root = outdir.resolve(), course_root(root)
    if outdir == root or root.is_relative_to(outdir):
        raise ExportError(f"{outdir}: refusing to export over the course itself")
    if outdir.exists() and not outdir.is_dir():
        raise ExportError(f"{outdir} exists and is not a directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not force:
        raise ExportError(f"{outdir} exists and is not empty: choose another directory or pass --force")
    return outdir


def write_tree(outdir, files, force=False):
    """Write `files` into a fresh sibling directory, then move it into place (never half a kit)."""
    outdir.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=outdir.parent, prefix=f".{outdir.name}."))
    try:
        for rel, data in files.items():
            path = fresh / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        old = None
        if outdir.exists():
            old = outdir.with_name(f".{outdir.name}.old-{os.getpid()}")
            os.replace(outdir, old)
        os.replace(fresh, outdir)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_zip(zip_path, folder_name, files):
    """A zip of the kit with every path under `folder_name/`, fixed timestamps, written atomically."""
    with replaced(zip_path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in sorted(files):
            info = zipfile.ZipInfo(f"{folder_name}/{rel}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[rel])


def export(
    outdir, exercises=None, make_zip=False, force=False, with_notebooks=True, root=None, progress=False
):
    """Write the kit for `exercises` (default: all) to `outdir`; return the files written (relative paths)."""
    exercises = exercises or curriculum()
    outdir = check_outdir(Path(outdir), force, root)
    files = kit_files(exercises, root, with_notebooks, progress)
    write_tree(outdir, files, force)
    if make_zip:
        write_zip(outdir.with_name(outdir.name + ".zip"), outdir.name, files)
    return sorted(files)


def list_chapters():
    lines = []
    for number, names in CHAPTERS.items():
        lines.append(f"{number}: {', '.join(names)}")
    return "\n".join(lines)


EXAMPLES = """\
examples:
  nnkit export starter-kit --zip        starter-kit/ and starter-kit.zip: every chapter
  nnkit export week1 --chapters 1-3     chapters 1 to 3: their exercises, rubric and notebooks
  nnkit export affine --exercises Affine,Relu
  nnkit export --list                   the chapters and their exercises
"""


def add_arguments(parser):
    parser.add_argument("outdir", nargs="?", type=Path, metavar="OUTDIR", help="folder to write the kit into")
    parser.add_argument("--zip", action="store_true", help="also write OUTDIR.zip")
    parser.add_argument("--force", action="store_true", help="replace OUTDIR if it exists and is not empty")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--chapters", help="chapters to hand out, e.g. 1-4 or 1,2,5 (default: all)")
    selection.add_argument("--exercises", help="exercises to hand out, e.g. Affine,Relu (default: all)")
    parser.add_argument("--no-notebooks", action="store_true", help="leave the release/ notebooks out")
    parser.add_argument(
        "--list", action="store_true", help="list the chapters and their exercises, then exit"
    )


def run(args):
    if args.list:
        print(list_chapters())
        return 0
    if args.outdir is None:
        raise ExportError("OUTDIR is required (or --list)")
    course_master()
    exercises = choose_exercises(args.chapters, args.exercises)
    for name, missing in missing_needs(exercises).items():
        print(
            f"warning: the checks of {name} also run the student's {', '.join(missing)}, not handed out in this kit",
            file=sys.stderr,
        )
    written = export(
        args.outdir, exercises, args.zip, args.force, not args.no_notebooks, progress=not args.quiet
    )
    if not args.quiet:
        count = f"{len(exercises)} exercise{'s' * (len(exercises) != 1)}"
        print(f"wrote {len(written)} files to {args.outdir} ({count}: {', '.join(exercises)})")
        if args.zip:
            print(f"wrote {args.outdir.with_name(args.outdir.name + '.zip')}")
    return 0
