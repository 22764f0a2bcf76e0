"""Loads the grader's pytest front end when pytest runs on this directory."""

from grader.plugin import grade, pytest_addoption, pytest_configure, pytest_terminal_summary, rubric, target  # noqa: F401
