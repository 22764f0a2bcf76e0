"""Find and strip the solution regions of a master source file.

A region is delimited as in nbgrader:

    ### BEGIN SOLUTION: <one-line pointer to what to implement>
    ...
    ### END SOLUTION

Inside a function the region becomes `raise NotImplementedError("<Qual.name>: <pointer>")`;
at module level it becomes the pointer as a comment.
"""

import ast
import json
import re
from dataclasses import dataclass

BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION(?::\s*(?P<pointer>.*?))?\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")


@dataclass
class Region:
    begin: int  # 0-based line index of the BEGIN marker
    end: int  # 0-based line index of the END marker
    indent: str
    pointer: str
    owner: str  # qualified name of the enclosing function, "" at module level
    body: list  # the lines strictly between the markers


def _owners(source):
    """Map each 1-based line number to the qualified name of its innermost function."""
    owner_of = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    for line in range(child.lineno, child.end_lineno + 1):
                        owner_of[line] = name
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return owner_of


def find_regions(source, filename="<source>"):
    """Return the solution regions of `source`, raising ValueError on unbalanced markers."""
    lines = source.splitlines()
    owner_of = _owners(source)
    regions, open_at = [], None
    for i, line in enumerate(lines):
        if m := BEGIN.match(line):
            if open_at is not None:
                raise ValueError(f"{filename}:{i + 1}: BEGIN SOLUTION inside another region")
            open_at, match = i, m
        elif END.match(line):
            if open_at is None:
                raise ValueError(f"{filename}:{i + 1}: END SOLUTION without BEGIN")
            regions.append(
                Region(
                    begin=open_at,
                    end=i,
                    indent=match["indent"],
                    pointer=match["pointer"] or "",
                    owner=owner_of.get(open_at + 1, ""),
                    body=lines[open_at + 1 : i],
                )
            )
            open_at = None
    if open_at is not None:
        raise ValueError(f"{filename}:{open_at + 1}: BEGIN SOLUTION is never closed")
    return regions


def stub_lines(region):
    """The lines that replace `region` in the student's copy."""
    if region.owner:
        pointer = f": {region.pointer}" if region.pointer else ""
        message = f"{region.owner}{pointer}"
        return [f"{region.indent}raise NotImplementedError({json.dumps(message)})"]
    return [f"{region.indent}# {region.pointer}"] if region.pointer else []


def strip_solutions(source, filename="<source>"):
    """Return `source` with every solution region replaced by its stub."""
    lines = source.splitlines()
    out, cursor = [], 0
    for region in find_regions(source, filename):
        out.extend(lines[cursor : region.begin])
        out.extend(stub_lines(region))
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out) + "\n"


def solution_lines(source, filename="<source>"):
    """Set of stripped lines that appear only inside solution regions (candidates for leaks)."""
    regions = find_regions(source, filename)
    inside = {i for r in regions for i in range(r.begin, r.end + 1)}
    lines = source.splitlines()
    outside = {line.strip() for i, line in enumerate(lines) if i not in inside}
    return {
        line.strip()
        for r in regions
        for line in r.body
        if line.strip() and not line.strip().startswith("#") and line.strip() not in outside
    }
