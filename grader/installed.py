"""Where the installed kit is, and what it depends on: from pyproject.toml in a checkout, else the
installed distribution's metadata (a wheel has no pyproject.toml)."""

import tomllib
from importlib import metadata
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent  # the folder holding the grader and exercises packages
STUBS = KIT_ROOT / "exercises"  # the stubs installed with this grader: what a module nobody handed in is
DISTRIBUTION = "nnkit"


def default_impl():
    """What `python -m grader` and `pytest` grade without --impl: ./exercises where the current folder
    has one, else the exercises/ beside this grader (a kit's own, or the installed stubs)."""
    here = Path("exercises")
    return here.resolve() if (here / "__init__.py").is_file() else STUBS


def _project():
    pyproject = KIT_ROOT / "pyproject.toml"
    if pyproject.is_file():
        with open(pyproject, "rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == DISTRIBUTION:
            return project
    return None


def dependencies():
    """The kit's run-time requirements (no extras), e.g. ['numpy>=1.24', ...]."""
    project = _project()
    if project is not None:
        return list(project.get("dependencies", []))
    return [r for r in metadata.requires(DISTRIBUTION) or [] if "extra ==" not in r]


def version():
    project = _project()
    return project["version"] if project is not None else metadata.version(DISTRIBUTION)
