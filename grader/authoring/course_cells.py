"""Turn a chapter of course/ into an nbgrader source notebook.

Answer cells are cut out of solutions/ (the one master) with `ast`: each named
class or function keeps its `### BEGIN SOLUTION` / `### END SOLUTION` regions, so
nbgrader's ClearSolutions strips them. The pointer after `BEGIN SOLUTION:` moves
to a comment line above the region, so the released stub still says what to do.

Test cells call the grader's own checks through `grade(...)`, defined in each
notebook's setup cell; their points are the rubric's points for the exercise.
"""

import ast
import textwrap

import nbformat

from grader.authoring.chapters import HELPERS, Answer, Carry, Chapter, Demo, Markdown, Tests
from grader.authoring.course_root import course_master
from grader.authoring.regions import BEGIN, find_regions


# ----------------------------------------------------------------------------- cell metadata
def nbgrader_meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def test_grade_id(exercise):
    """The grade_id of the test cell of `exercise` (the trusted regrade maps it back)."""
    return f"test_{exercise}"


def exercise_of_grade_id(grade_id):
    """The exercise a test cell's grade_id names, or None for other cells."""
    return grade_id[len("test_") :] if grade_id.startswith("test_") else None


# ----------------------------------------------------------------------------- code from the master
def master_source(module):
    return (course_master() / f"{module}.py").read_text()


def top_level_definitions(source):
    """{name: (first line, last line)} (1-based, decorators included) of top-level defs and classes."""
    lines = source.splitlines()
    spans = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            last = node.end_lineno
            # indented comments after the last statement (an `### END SOLUTION`) belong to it
            while last < len(lines) and lines[last][:1].isspace() and lines[last].strip().startswith("#"):
                last += 1
            spans[node.name] = (first, last)
    return spans


def module_level_regions(source):
    """The text of every solution region outside any function, markers included."""
    lines = source.splitlines()
    return ["\n".join(lines[r.begin : r.end + 1]) for r in find_regions(source) if not r.owner]


def definition_source(module, name):
    """The source of `name` in solutions/<module>.py (or its module-level regions for HELPERS)."""
    source = master_source(module)
    if name == HELPERS:
        blocks = module_level_regions(source)
        if not blocks:
            raise ValueError(f"solutions/{module}.py has no module-level solution region")
        return "\n\n\n".join(blocks)
    spans = top_level_definitions(source)
    if name not in spans:
        raise ValueError(f"solutions/{module}.py defines no {name}")
    first, last = spans[name]
    return "\n".join(source.splitlines()[first - 1 : last])


def nbgrader_regions(code):
    """Move each `### BEGIN SOLUTION: pointer` pointer to a comment line above the marker."""
    out = []
    for line in code.splitlines():
        if m := BEGIN.match(line):
            if m["pointer"]:
                out.append(f"{m['indent']}# {m['pointer']}")
            out.append(f"{m['indent']}### BEGIN SOLUTION")
        else:
            out.append(line)
    return "\n".join(out)


HELPERS_NOTE = (
    "# Optional. With no helpers, delete the line `raise NotImplementedError()` (Run All stops there)."
)


def answer_code(module, names):
    return nbgrader_regions("\n\n\n".join(definition_source(module, n) for n in names))


# ----------------------------------------------------------------------------- the setup cell
def support_imports(chapter):
    """Import lines the answer cells need: the master modules' own imports, from the kit's exercises/."""
    answered = {(c.module, n) for c in chapter.cells if isinstance(c, (Answer, Carry)) for n in c.names}
    modules = sorted({m for m, _ in answered})
    plain, from_kit = set(), {}
    for module in modules:
        source = master_source(module)
        for node in ast.parse(source).body:
            if isinstance(node, ast.Import):
                plain.update(f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                from_kit.setdefault(node.module, set()).update(a.name for a in node.names)
        # plain helpers of the module (not exercises, no solution inside) come from the kit
        in_region = {i + 1 for r in find_regions(source) for i in range(r.begin, r.end + 1)}
        for name, (first, last) in top_level_definitions(source).items():
            solved = any(line in in_region for line in range(first, last + 1))
            if (module, name) not in answered and not solved and name not in exercise_names():
                from_kit.setdefault(module, set()).add(name)
    out = sorted(plain)
    out += [f"from exercises.{m} import {', '.join(sorted(ns))}" for m, ns in sorted(from_kit.items())]
    return out


def exercise_names():
    """Every name the grader's checks exercise (the student API)."""
    from grader.contract import SIGNATURES

    return set(SIGNATURES)


GRADE_HELPER = """
import secrets

import grader.checks  # noqa: F401  (registers the checks)
from grader import registry
from grader.checks import common as grader_data
from grader.results import run_check
from grader.target import as_target

RUBRIC = registry.load_rubric()
is_hidden = getattr(registry, "is_hidden_check", lambda check: False)


def run_checks(checks, namespace):
    \"\"\"{check id: result} of the checks that failed; after a timeout the rest count as failed.\"\"\"
    target, failed = as_target(namespace), {}
    for i, check in enumerate(checks):
        result = run_check(check, target)
        if not result.passed:
            failed[check.id] = result
        if result.status == "timeout":  # one infinite loop is enough
            failed.update({c.id: result for c in checks[i + 1 :]})
            break
    return failed


def grade(exercise, namespace, hidden=False):
    \"\"\"Run the grader's checks of `exercise` on your code; print what to fix; return the points earned.

    The same checks as `python -m grader`. With `hidden` set (the instructor's hidden
    tests) the hidden checks run too, and the public checks run again on secret data.
    \"\"\"
    checks = [c for c in registry.all_checks() if c.exercise == exercise]
    public = [c for c in checks if not is_hidden(c)]
    if not hidden:
        failed = run_checks(public, namespace)
        for check_id, result in failed.items():
            print(f"[{check_id}] ({RUBRIC[check_id].points:g} pt) {result.text()}")
        return float(sum(RUBRIC[c.id].points for c in public if c.id not in failed))
    failed = run_checks(checks, namespace)
    saved, grader_data.SEED = grader_data.SEED, secrets.randbits(32)
    try:
        again = run_checks([c for c in public if c.id not in failed], namespace)
    finally:
        grader_data.SEED = saved
    for check_id in [c.id for c in checks if c.id in again or (is_hidden(c) and c.id in failed)]:
        print(f"[{check_id}] ({RUBRIC[check_id].points:g} pt) failed a hidden test")
    failed.update(again)
    return float(sum(RUBRIC[c.id].points for c in checks if c.id not in failed))
"""


DEMO_HELPER = """


def not_implemented_yet(what, error):
    \"\"\"The line a demo cell prints when a stub stops it: what to implement, and which stub raised.\"\"\"
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    stub = frame.tb_frame.f_code.co_qualname if frame is not None else "<module>"
    if stub.startswith("<"):  # raised outside any function: name the exception instead
        line = f"implement {what} first ({type(error).__name__})"
    else:
        line = f"implement {what} first: {stub} is not implemented yet"
    return f"{line} ({error})" if str(error) else line
"""


def setup_source(chapter):
    lines = ["# Setup: what your answers and the demos use, and the grader's checks. Run this cell first."]
    lines += support_imports(chapter)
    return "\n".join(lines).rstrip() + "\n" + GRADE_HELPER.rstrip() + DEMO_HELPER.rstrip()


# ----------------------------------------------------------------------------- test cells
def exercise_points(exercise, hidden=True):
    """The rubric's points for `exercise` (its hidden checks included unless hidden=False)."""
    from grader import registry

    is_hidden = getattr(registry, "is_hidden_check", lambda check: False)
    rubric = registry.load_rubric()
    checks = [c for c in registry.all_checks() if c.exercise == exercise and (hidden or not is_hidden(c))]
    if not checks:
        raise ValueError(f"the grader has no checks for {exercise}")
    return sum(rubric[c.id].points for c in checks)


def test_source(exercise):
    public = exercise_points(exercise, hidden=False)
    hidden = exercise_points(exercise) - public
    worth = f"{public:g} points here" + (f", {hidden:g} more in hidden checks" if hidden else "")
    return textwrap.dedent(
        f"""\
        # Autograded: the grader's checks of {exercise} ({worth}). The number shown is the
        # points you earned here. When your work is graded, every check runs again on secret data.
        grade({exercise!r}, globals())
        ### BEGIN HIDDEN TESTS
        grade({exercise!r}, globals(), hidden=True)
        ### END HIDDEN TESTS"""
    )


def points_value(points):
    return int(points) if float(points).is_integer() else float(points)


# ----------------------------------------------------------------------------- the notebook
def build_notebook(chapter: Chapter):
    """The source notebook of `chapter` as an nbformat NotebookNode."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cells = []
    for item in chapter.cells:
        if isinstance(item, Markdown):
            cells.append(nbformat.v4.new_markdown_cell(textwrap.dedent(item.text).strip()))
        elif isinstance(item, Demo):
            cells.append(nbformat.v4.new_code_cell(textwrap.dedent(item.source).strip()))
        elif isinstance(item, (Answer, Carry)):
            prefix = "carry" if isinstance(item, Carry) else "answer"
            grade_id = (
                f"{prefix}_{item.module}_helpers"
                if item.names == (HELPERS,)
                else f"{prefix}_{'_'.join(item.names)}"
            )
            code = answer_code(item.module, item.names)
            if item.names == (HELPERS,):
                code = HELPERS_NOTE + "\n" + code
            cell = nbformat.v4.new_code_cell(code)
            cell.metadata = nbgrader_meta(grade_id, solution=True)
            cells.append(cell)
        elif isinstance(item, Tests):
            cell = nbformat.v4.new_code_cell(test_source(item.exercise))
            cell.metadata = nbgrader_meta(
                test_grade_id(item.exercise),
                grade=True,
                locked=True,
                points=points_value(exercise_points(item.exercise)),
            )
            cells.append(cell)
        else:
            raise TypeError(f"unknown cell {item!r}")
        if len(cells) == 1 and isinstance(item, Markdown):
            setup = nbformat.v4.new_code_cell(setup_source(chapter))
            setup.metadata = nbgrader_meta("setup", locked=True)
            cells.append(setup)
    for i, cell in enumerate(cells):  # stable ids keep the built files identical run after run
        cell["id"] = f"{chapter.name.replace('_', '-')}-{i:02d}"
    nb.cells = cells
    return nb


def notebook_text(chapter):
    """The exact file content of the source notebook of `chapter`."""
    return nbformat.writes(build_notebook(chapter)) + "\n"
