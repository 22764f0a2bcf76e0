"""Run inside an exported kit (its grader first on sys.path): grade with the kit's own recorded data.

python probe.py corpus KIT REPO OUT.json       every corpus entry's public checks -> outcomes
python probe.py transplant KIT REPO OUT.json [METHOD ...]
                                               methods delegating to the kit's grader functions -> points

The repository comes last on sys.path, for the reference (`solutions`) and the corpus only;
`grader` is the kit's. Nothing here is shipped to students.
"""

import ast
import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path

mode, kit, repo, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
only = set(sys.argv[5:])
sys.path[:0] = [str(kit)]
sys.path.append(str(repo))

import numpy as np  # noqa: E402

import grader  # noqa: E402
import solutions  # noqa: E402
from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.results import run_check  # noqa: E402
from grader.target import as_target  # noqa: E402

assert Path(grader.__file__).resolve().is_relative_to(kit.resolve()), grader.__file__
RUBRIC = load_rubric()
CHECKS = [c for c in all_checks() if c.id in RUBRIC]


def outcomes(exercise, target):
    return {c.id: [r.status, r.message, r.hint, r.points] for c in CHECKS if c.exercise == exercise
            for r in [run_check(c, target, RUBRIC[c.id].points)]}  # fmt: skip


def corpus():
    from tests.corpus import collect

    found = {}
    for entry in collect("BUGS") + collect("ALTERNATIVES"):
        if any(c.exercise == entry.exercise for c in CHECKS):
            found[entry.name] = outcomes(
                entry.exercise, as_target(solutions, **{entry.exercise: entry.replacement})
            )
    return found


# ----------------------------------------------------------------------------- transplant
def kit_functions():
    """Every function defined in the kit's grader package (module level and in classes)."""
    found = []
    for info in pkgutil.walk_packages(grader.__path__, "grader."):
        if info.name.split(".")[-1] in ("__main__", "conftest", "test_exercises"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            members = [value] + (list(vars(value).values()) if inspect.isclass(value) else [])
            for member in members:
                member = getattr(member, "__func__", member)
                if (
                    inspect.isfunction(member)
                    and member.__module__ == module.__name__
                    and member not in found
                ):
                    found.append(member)
    return found


def solution_methods():
    """{exercise: [method names]} whose bodies hold a solution region (the graded code); '' for a function."""
    found = {}
    for path in sorted((repo / "solutions").glob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        for node in tree.body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                continue
            nodes = [(node.name, ""), *[(node.name, m.name) for m in getattr(node, "body", [])
                                         if isinstance(m, ast.FunctionDef)]]  # fmt: skip
            for owner, method in nodes:
                fn = node if not method else next(m for m in node.body if getattr(m, "name", None) == method)
                if not isinstance(fn, ast.FunctionDef):
                    continue
                if any("### BEGIN SOLUTION" in ln for ln in lines[fn.lineno - 1 : fn.end_lineno]):
                    found.setdefault(owner, []).append(method)
    return found


def bind(fn, pool, own):
    """fn's arguments from `pool` by name, or None if a required one is missing or none is the method's own."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    args = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
            continue
        if p.name in pool:
            args[p.name] = pool[p.name]
        elif p.default is p.empty:
            return None
    return args if set(args) & own else None


def delegate(fn, signature_of):
    """A method (or function) that passes its own inputs, and its object's attributes, to `fn`."""
    names = [p.name for p in signature_of.parameters.values()]

    def method(*args, **kwargs):
        pool = dict(zip(names, args, strict=False)) | kwargs
        owner = pool.get("self")
        if owner is not None:
            pool |= {k: v for k, v in vars(owner).items()}
            pool |= dict(getattr(owner, "params", {}) or {})
        own = {k for k in pool if k != "self" and k in names}
        if own:
            pool.setdefault("x", pool[next(k for k in names if k in own)])
            own.add("x")
        bound = bind(fn, pool, own)
        if bound is None:
            raise TypeError("cannot call it")
        return fn(**bound)

    return method


def baseline(signature_of):
    """A method that returns its first argument unchanged: what delegating must not beat."""
    names = [p.name for p in signature_of.parameters.values() if p.name != "self"]

    def method(*args, **kwargs):
        values = list(args[1:] if signature_of.parameters.get("self") else args) + list(kwargs.values())
        return values[0] if values and names else None

    return method


def patched(exercise, method, make):
    original = getattr(solutions, exercise)
    if not method:
        return make(inspect.signature(original))
    return type(exercise, (original,), {method: make(inspect.signature(getattr(original, method)))})


def parameter_names(fn):
    try:
        return {p.name for p in inspect.signature(fn).parameters.values()}
    except (TypeError, ValueError):
        return set()


def transplant():
    functions = [(fn, parameter_names(fn)) for fn in kit_functions()]
    report = {"functions": len(functions), "methods": {}}
    for exercise, methods in solution_methods().items():
        if not any(c.exercise == exercise for c in CHECKS):
            continue
        for method in methods:
            key = f"{exercise}.{method}" if method else exercise
            if only and key not in only:
                continue
            original = getattr(solutions, exercise)
            own = {p for p in inspect.signature(getattr(original, method) if method else original).parameters}
            own = (own - {"self"}) | {"x"}
            floor = sum(
                o[3]
                for o in outcomes(
                    exercise, as_target(solutions, **{exercise: patched(exercise, method, baseline)})
                ).values()
            )
            best, via = floor, None
            print(key, file=sys.stderr, flush=True)
            for fn, names in functions:
                if not names & own:  # it could not be handed any of the method's inputs
                    continue
                replacement = patched(exercise, method, lambda sig, fn=fn: delegate(fn, sig))
                with np.errstate(all="ignore"):
                    got = sum(
                        o[3]
                        for o in outcomes(exercise, as_target(solutions, **{exercise: replacement})).values()
                    )
                if got > best:
                    best, via = got, f"{fn.__module__}.{fn.__qualname__}"
            report["methods"][key] = {"baseline": floor, "best": best, "via": via}
    return report


out.write_text(json.dumps(corpus() if mode == "corpus" else transplant()))
