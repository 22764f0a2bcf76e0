"""The text of the nbgrader course: one module per chapter, each a list of cells.

A chapter is an ordered list of:

    Markdown(text)                 prose and math (LaTeX between $...$)
    Answer(module, names)          an answer cell: the classes/functions `names` of
                                   solutions/<module>.py, solution regions included
    Carry(module, names)           an answer cell for code written in an earlier chapter
                                   (no points of its own; later checks use it)
    Tests(exercise)                an autograded test cell running the grader's checks of
                                   `exercise`, with hidden tests
    Demo(source)                   a plain code cell: a plot or an experiment

The builder (tools/course_cells.py) turns these into notebook cells; the code of
answer cells always comes from solutions/, never from here.
"""

from dataclasses import dataclass

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


def chapters():
    """Every chapter of the course, in curriculum order."""
    from . import ch1, ch2, ch3, ch4, ch5, ch6, ch7

    return [m.CHAPTER for m in (ch1, ch2, ch3, ch4, ch5, ch6, ch7) if hasattr(m, "CHAPTER")]
