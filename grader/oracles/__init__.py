"""The live oracles: every expected value the checks ask for, computed from the definitions.

Instructor zone. This package never goes into a student kit (the kit holds the answers
these functions gave on the public checks' inputs, as data), and never into a sandbox.
Checks reach an oracle only by name, through `grader.expected.expected("conv.forward", ...)`.

Each module registers its functions with `@oracle`, under "<module>.<function>".
"""

import importlib
import pkgutil

ORACLES = {}


def oracle(function):
    """Register `function` under "<module>.<name>" (e.g. "conv.forward")."""
    name = f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"
    if name in ORACLES:
        raise ValueError(f"oracle {name} is registered twice")
    ORACLES[name] = function
    return function


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
