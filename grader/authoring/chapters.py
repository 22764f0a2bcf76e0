"""The kinds of cell a chapter of the course is made of, and the chapters of a course folder.

A chapter (course/chN.py in the course folder) is an ordered list of:

    Markdown(text)                 prose and math (LaTeX between $...$)
    Answer(module, names)          an answer cell: the classes/functions `names` of
                                   solutions/<module>.py, solution regions included
    Carry(module, names)           an answer cell for code written in an earlier chapter
                                   (no points of its own; later checks use it)
    Tests(exercise)                an autograded test cell running the grader's checks of
                                   `exercise`, with hidden tests
    Demo(source)                   a plain code cell: a plot or an experiment

The builder (grader/authoring/course_cells.py) turns these into notebook cells; the code of
answer cells always comes from solutions/, never from the chapter.
"""

import importlib.util
import sys
from dataclasses import dataclass

from grader.authoring.course_root import CourseError, course_root

HELPERS = "<module-level helpers>"  # Answer(module, (HELPERS,)): the module-level solution region


@dataclass(frozen=True)
class Markdown:
    text: str


@dataclass(frozen=True)
class Answer:
    module: str
    names: tuple


@dataclass(frozen=True)
class Carry:
    module: str
    names: tuple


@dataclass(frozen=True)
class Tests:
    __test__ = False  # not a pytest test class
    exercise: str


@dataclass(frozen=True)
class Demo:
    source: str


@dataclass(frozen=True)
class Chapter:
    name: str  # the nbgrader assignment name, e.g. "ch1_perceptron"
    cells: tuple


def chapters(root=None):
    """Every chapter of the course at `root` (default: the current folder), in curriculum order:
    the CHAPTERS of its course/ package, loaded from that folder."""
    folder = course_root(root) / "course"
    if not (folder / "__init__.py").is_file():
        raise CourseError(f"{folder}: no course content here (course/__init__.py)")
    name = f"nnkit_course_{abs(hash(str(folder))):x}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return list(sys.modules[name].CHAPTERS)
