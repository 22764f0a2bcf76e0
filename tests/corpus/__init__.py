"""A corpus of wrong and of different-but-correct implementations, each a small override of the reference.

Every module here defines `BUGS` (each must be caught by a check of `exercise`,
with the expected hint where one is given) and `ALTERNATIVES` (each must pass
every check).
"""

import importlib
import pkgutil
from dataclasses import dataclass

import solutions
from grader.target import as_target


@dataclass(frozen=True)
class Bug:
    name: str
    exercise: str  # the class or function that holds the bug; a check tagged with it must fail
    replacement: object  # replaces solutions.<exercise>
    hint: str | None = None  # text the hint of a failing check must contain


@dataclass(frozen=True)
class Alternative:
    name: str
    exercise: str
    replacement: object


def target_with(**overrides):
    """The reference implementation with some names replaced."""
    return as_target(solutions, **overrides)


def collect(kind):
    items = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        items += getattr(module, kind, [])
    return items
