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
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader.installed import STUBS  # modules no answer cell defines grade as not implemented
from grader.sandbox import Limits

KEPT = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
IMPORTS = (ast.Import, ast.ImportFrom)
KIT_PACKAGES = {"exercises", "solutions", "grader"}
MAX_BYTES = Limits().submission_bytes  # the sandbox's limit for a submission's files


class NotebookError(ValueError):
    """A notebook that cannot be read as a submission; the message names the notebook, not its folder."""


@dataclass(frozen=True)
class Cell:
    """What the grader reads of a notebook cell: its type, nbgrader metadata and source."""

    index: int  # 1-based, as a student counts cells
    cell_type: str
    nbgrader: dict
    source: str

    @property
    def grade_id(self):
        return self.nbgrader.get("grade_id", "")

    @property
    def is_answer(self):
        return self.cell_type == "code" and self.nbgrader.get("solution", False) and self.grade_id != ""

    @property
    def is_test(self):
        return (
            self.nbgrader.get("grade", False)
            and not self.nbgrader.get("solution", False)
            and self.grade_id != ""
        )


def _kind(value):
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _load(path, max_bytes):
    name = Path(path).name
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as error:
        raise NotebookError(f"{name}: cannot be read ({error.strerror or type(error).__name__})") from None
    if len(data) > max_bytes:
        limit = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        raise NotebookError(f"{name}: larger than {limit}")
    try:
        nb = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise NotebookError(f"{name}: not a readable notebook (not JSON: {str(error)[:200]})") from None
    if not isinstance(nb, dict):
        raise NotebookError(f"{name}: not a notebook (the file holds {_kind(nb)}, not an object)")
    if nb.get("nbformat") != 4:
        nb = _upgraded(nb, data, name)
    return nb


def _upgraded(nb, data, name):
    """A notebook of another nbformat version, converted to version 4 by nbformat."""
    version = nb.get("nbformat")
    try:
        import nbformat

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = nbformat.reads(data.decode("utf-8"), as_version=4, capture_validation_error={})
            return json.loads(nbformat.writes(converted, version=4))
    except Exception:  # noqa: BLE001 - whatever nbformat fails with, the notebook is the problem
        raise NotebookError(f"{name}: not a readable notebook (nbformat version {version!r})") from None


def _encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800" in the JSON)
        return False
    return True


def _text(value, where):
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        value = "".join(value)
    if not isinstance(value, str):
        raise NotebookError(f"{where}: its source is {_kind(value)}, not text")
    if not _encodable(value):
        raise NotebookError(f"{where}: its source is not valid Unicode text")
    return value


NBGRADER_TYPES = {"grade_id": str, "solution": bool, "grade": bool}


def read_cells(path, max_bytes=MAX_BYTES):
    """The cells of the notebook at `path`, each checked for the JSON types the grader relies on.

    Raises NotebookError, naming the notebook and the cell, for anything that is not a
    notebook or a cell whose metadata, nbgrader metadata (grade_id, solution, grade) or
    source has the wrong JSON type.
    """
    name = Path(path).name
    nb = _load(path, max_bytes)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{name}: not a notebook (its cells are {_kind(cells)}, not a list)")
    found = []
    for index, cell in enumerate(cells, 1):
        where = f"{name}: cell {index}"
        if not isinstance(cell, dict):
            raise NotebookError(f"{where} is {_kind(cell)}, not an object")
        cell_type = cell.get("cell_type")
        if not isinstance(cell_type, str):
            raise NotebookError(f"{where}: its cell_type is {_kind(cell_type)}, not a string")
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise NotebookError(f"{where}: its metadata is {_kind(metadata)}, not an object")
        meta = metadata.get("nbgrader", {})
        if not isinstance(meta, dict):
            raise NotebookError(f"{where}: its nbgrader metadata is {_kind(meta)}, not an object")
        for key, kind in NBGRADER_TYPES.items():
            if key in meta and not isinstance(meta[key], kind):
                raise NotebookError(f"{where}: its nbgrader {key} is {_kind(meta[key])}, not {_kind(kind())}")
        if not _encodable(meta.get("grade_id", "")):
            raise NotebookError(f"{where}: its nbgrader grade_id is not valid Unicode text")
        found.append(Cell(index, cell_type, meta, _text(cell.get("source", ""), where)))
    return found


def answer_cells(notebook_path):
    """[(grade_id, source)] of the answer cells of a notebook, in order (NotebookError if unreadable)."""
    return [(cell.grade_id, cell.source) for cell in read_cells(notebook_path) if cell.is_answer]


def definition_spans(source):
    """{name: (first line, last line)} (1-based) of top-level definitions, trailing indented comments included."""
    lines = lines_of(source)
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


def lines_of(source):
    """The lines of `source` as the parser numbers them (unlike str.splitlines, which also splits at
    characters such as U+2028 that may sit inside a string literal)."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if len(lines) > 1 and lines[-1] == "" else lines


def statement_code(node, lines):
    """The text of one top-level statement: its own lines when they hold only it, else ast.unparse."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    code = "\n".join(lines[first - 1 : node.end_lineno])
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError):
        body = []
    if len(body) == 1 and type(body[0]) is type(node):
        return code
    return ast.unparse(node)  # the lines hold part of another statement (`x = 1; y = (`)


def cell_parts(source):
    """(definitions and constants {name: code}, imports [code]) of an answer cell; ({}, []) if it does not parse."""
    lines = lines_of(source)
    try:
        tree = ast.parse("\n".join(lines))
        definitions, imports = {}, []
        for node in tree.body:
            if isinstance(node, KEPT):
                definitions[node.name] = statement_code(node, lines)
            elif assigned_name(node):
                definitions[assigned_name(node)] = statement_code(node, lines)
            elif isinstance(node, IMPORTS) and not imports_kit(node):
                imports.append(statement_code(node, lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # graded as not handed in
        return {}, []
    return definitions, imports


class Modules:
    """The module texts of an implementation directory, edited definition by definition."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(self.directory.glob("*.py"))}

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
            lines = lines_of(text)
            text = "\n".join(lines[: first - 1] + code.split("\n") + lines[last:]) + "\n"
        else:
            text = text.rstrip("\n") + "\n\n\n" + code + "\n"
        self.texts[module] = text

    def add_imports(self, module, imports):
        """Insert import lines after the module's docstring (once each)."""
        text = self.texts[module]
        new = [line for line in imports if line not in lines_of(text)]
        if not new:
            return
        tree = ast.parse(text)
        has_doc = (
            tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant)
        )
        at = tree.body[0].end_lineno if has_doc else 0
        lines = lines_of(text)
        self.texts[module] = "\n".join(lines[:at] + [""] + new + lines[at:]) + "\n"

    def write(self):
        for module, text in self.texts.items():
            (self.directory / f"{module}.py").write_text(text, encoding="utf-8")


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
