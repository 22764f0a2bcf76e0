"""Loads the grader's pytest front end when pytest runs on this directory."""

from grader.plugin import (  # noqa: F401
    grade,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_terminal_summary,
    rubric,
    target,
)
