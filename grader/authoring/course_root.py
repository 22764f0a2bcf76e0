"""The course folder the authoring commands read and write: solutions/ (the master), course/ (the
chapters' text), exercises/, source/ and release/. It is the folder given (`nnkit --course DIR`),
else the current folder; never the installed package.
"""

import contextlib
from pathlib import Path

_current = None  # the course a command works on, set by `working_on`


class CourseError(Exception):
    """The folder is not a course, or lacks what a command needs; the message says which."""


def course_root(path=None):
    """The course folder: `path`, else the one a command is `working_on`, else the current folder."""
    if path is None:
        path = _current if _current is not None else Path.cwd()
    return Path(path).resolve()


@contextlib.contextmanager
def working_on(path):
    """Make `path` (None: the current folder) the course that commands read by default."""
    global _current
    before, _current = _current, None if path is None else Path(path).resolve()
    try:
        yield course_root()
    finally:
        _current = before


def course_master(root=None):
    """`root`/solutions, the master every stub and notebook is made from; CourseError if absent."""
    master = course_root(root) / "solutions"
    if not (master / "__init__.py").is_file():
        raise CourseError(
            f"{course_root(root)} is not a course folder (it has no solutions/__init__.py): "
            "run the command in the course folder or pass --course DIR"
        )
    return master
