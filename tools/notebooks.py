"""Turn submitted nbgrader notebooks into an implementation directory laid out like exercises/.

    impl = extract_impl(["submitted/alice/ch4_backprop/ch4_backprop.ipynb"], "work/alice")

exercises/ is copied, then every class or function defined in an answer cell
(a cell with nbgrader `solution: true`, found by its grade_id) replaces the
definition of the same name in the module that holds it. Definitions the kit
does not know (a student's own helpers) go to the module of the cell's other
definitions, or, for a helpers cell such as `answer_conv_helpers`, to that module.
The cells' imports come along; every other top-level statement of an answer cell
(calls, loops, monkeypatching, IPython hooks) is left out: only definitions are graded.

Cells carried over from an earlier chapter (`carry_*`) are applied first, so the
chapter's own answer cells win; among notebooks, later ones win.
"""

import ast
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "exercises"
KEPT = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
IMPORTS = (ast.Import, ast.ImportFrom)
KIT_PACKAGES = {"exercises", "solutions", "grader", "tools"}


class NotebookError(ValueError):
    """A notebook that cannot be read as a submission."""


def answer_cells(notebook_path):
    """[(grade_id, source)] of the answer cells of a notebook, in order."""
    try:
        nb = nbformat.read(str(notebook_path), as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported the same way
        raise NotebookError(f"{notebook_path}: not a readable notebook ({error})") from error
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id"):
            cells.append((meta["grade_id"], cell.source))
    return cells


def definition_spans(source):
    """{name: (first line, last line)} (1-based) of top-level definitions, trailing indented comments included."""
    lines = source.splitlines()
    spans = {}
    for node in ast.parse(source).body:
        if isinstance(node, KEPT):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            last = node.end_lineno
            while last < len(lines) and lines[last][:1].isspace() and lines[last].strip().startswith("#"):
                last += 1
            spans[node.name] = (first, last)
        elif assigned_name(node):
            spans[assigned_name(node)] = (node.lineno, node.end_lineno)
    return spans


def imports_kit(node):
    """Whether an import statement reaches into the kit itself (left out: the graded code stands alone)."""
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or (node.module or "").split(".")[0] in KIT_PACKAGES
    return any(a.name.split(".")[0] in KIT_PACKAGES for a in node.names)


def assigned_name(node):
    """The name a top-level constant assignment (`EPS = 1e-8`) binds, else None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id
    return None


def cell_parts(source):
    """(definitions and constants {name: code}, imports [code]) of an answer cell; ([], []) if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}, []
    lines = source.splitlines()
    definitions, imports = {}, []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        code = "\n".join(lines[first - 1 : node.end_lineno])
        if isinstance(node, KEPT):
            definitions[node.name] = code
        elif assigned_name(node):
            definitions[assigned_name(node)] = code
        elif isinstance(node, IMPORTS) and not imports_kit(node):
            imports.append(code)
    return definitions, imports


class Modules:
    """The module texts of an implementation directory, edited definition by definition."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.texts = {p.stem: p.read_text() for p in sorted(self.directory.glob("*.py"))}

    def home_of(self, name):
        """The module defining `name` at top level (not __init__), or None."""
        for module, text in self.texts.items():
            if module != "__init__" and name in definition_spans(text):
                return module
        return None

    def put(self, module, name, code):
        """Replace the definition `name` of `module` by `code`, or append it."""
        text = self.texts[module]
        spans = definition_spans(text)
        if name in spans:
            first, last = spans[name]
            lines = text.splitlines()
            text = "\n".join(lines[: first - 1] + code.splitlines() + lines[last:]) + "\n"
        else:
            text = text.rstrip("\n") + "\n\n\n" + code + "\n"
        self.texts[module] = text

    def add_imports(self, module, imports):
        """Insert import lines after the module's docstring (once each)."""
        text = self.texts[module]
        new = [line for line in imports if line not in text.splitlines()]
        if not new:
            return
        tree = ast.parse(text)
        has_doc = (
            tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant)
        )
        at = tree.body[0].end_lineno if has_doc else 0
        lines = text.splitlines()
        self.texts[module] = "\n".join(lines[:at] + [""] + new + lines[at:]) + "\n"

    def write(self):
        for module, text in self.texts.items():
            (self.directory / f"{module}.py").write_text(text)


def helpers_module(grade_id, modules):
    """`answer_conv_helpers` -> "conv" when such a module exists."""
    parts = grade_id.split("_")
    if len(parts) >= 3 and parts[-1] == "helpers" and "_".join(parts[1:-1]) in modules.texts:
        return "_".join(parts[1:-1])
    return None


def extract_impl(notebook_paths, dest_dir):
    """Build an implementation directory at `dest_dir` (created; must not exist) from answer cells; return it."""
    dest = Path(dest_dir)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} already exists and is not empty")
    cells = [cell for path in notebook_paths for cell in answer_cells(path)]
    cells.sort(key=lambda cell: not cell[0].startswith("carry_"))  # stable: carried cells first
    shutil.copytree(STUBS, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    modules = Modules(dest)
    for grade_id, source in cells:
        definitions, imports = cell_parts(source)
        homes = {name: modules.home_of(name) for name in definitions}
        known = [m for m in homes.values() if m]
        default = helpers_module(grade_id, modules) or (known[0] if known else None)
        targets = set(known) | ({default} if default else set())
        if not targets:  # only helpers of unknown purpose: every module may use them
            targets = {m for m in modules.texts if m != "__init__"}
        for module in sorted(targets):
            modules.add_imports(module, imports)
        for name, code in definitions.items():
            for module in [homes[name]] if homes[name] else sorted(targets):
                modules.put(module, name, code)
    modules.write()
    return dest
