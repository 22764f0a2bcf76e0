"""The text of the nbgrader course: one module per chapter, each a Chapter of cells
(grader/authoring/chapters.py says which kinds). `nnkit course build` reads them from here, with
the answer cells' code from solutions/.
"""

from . import ch1, ch2, ch3, ch4, ch5, ch6, ch7

CHAPTERS = [m.CHAPTER for m in (ch1, ch2, ch3, ch4, ch5, ch6, ch7)]
