"""The list of checks and the rubric that gives them points.

A check is a plain function of a target, registered with `@check`:

    @check("Affine", "forward")
    def affine_forward(t): ...

Its id is "<exercise>.<name>" ("Affine.forward"). Points and visibility come
from rubric.toml, the one file an instructor edits.
"""

import importlib
import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")
DEFAULT_TIMEOUT = 10.0
VISIBILITIES = ("visible", "after_published", "hidden", "after_due_date")

CHECKS = {}


@dataclass(frozen=True)
class Check:
    exercise: str
    name: str
    function: object
    timeout: float
    chapter: str

    @property
    def id(self):
        return f"{self.exercise}.{self.name}"


def check(exercise, name, timeout=DEFAULT_TIMEOUT):
    """Register `function(target)` as the check `<exercise>.<name>`."""

    def register(function):
        chapter = function.__module__.rsplit(".", 1)[-1]
        entry = Check(exercise, name, function, timeout, chapter)
        if entry.id in CHECKS:
            raise ValueError(f"check {entry.id} is registered twice")
        CHECKS[entry.id] = entry
        return function

    return register


@dataclass(frozen=True)
class RubricEntry:
    points: float
    visibility: str = "visible"


def load_rubric(path=RUBRIC_PATH):
    """Read rubric.toml into {check id: RubricEntry}.

    Each table is an exercise; each key a check with either a number of points
    or an inline table `{ points = 2, visibility = "after_published" }`.
    """
    with open(path, "rb") as f:
        data = tomllib.load(f)
    rubric = {}
    for exercise, checks in data.items():
        for name, value in checks.items():
            entry = RubricEntry(**value) if isinstance(value, dict) else RubricEntry(float(value))
            if entry.visibility not in VISIBILITIES:
                raise ValueError(f"{path}: {exercise}.{name}: unknown visibility {entry.visibility!r}")
            rubric[f"{exercise}.{name}"] = entry
    return rubric


HIDDEN_PACKAGE = f"{__package__}.hidden"


def load_hidden_checks():
    """Register the hidden checks of grader/hidden/ if that package is present (a student kit has none)."""
    # Look beside this file, not on the import path: an editable install of the course repository
    # must not lend its hidden checks to a student kit run in the same environment.
    if (Path(__file__).parent / "hidden" / "__init__.py").is_file():
        importlib.import_module(HIDDEN_PACKAGE)


def is_hidden_check(check):
    """Whether `check` was registered from grader/hidden/."""
    module = check.function.__module__
    return module == HIDDEN_PACKAGE or module.startswith(HIDDEN_PACKAGE + ".")


def all_checks():
    """Every registered check, in registration order (chapter by chapter), hidden checks included when present."""
    from .checks import CHAPTERS  # importing registers the checks

    load_hidden_checks()
    order = {chapter: i for i, chapter in enumerate(CHAPTERS)}
    return sorted(CHECKS.values(), key=lambda c: order.get(c.chapter, len(order)))


def rubric_problems(rubric, checks):
    """Differences between the rubric and the registered checks (empty when they agree)."""
    ids = {c.id for c in checks}
    missing = sorted(ids - set(rubric))
    unknown = sorted(set(rubric) - ids)
    return [f"no points in the rubric for {i}" for i in missing] + [
        f"rubric names no check {i}" for i in unknown
    ]
