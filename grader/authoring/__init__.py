"""Building the course from its master, in a course folder (never from the installed package).

course_root.py   which folder is the course (nnkit --course DIR, else the current folder)
regions.py       the ### BEGIN SOLUTION / ### END SOLUTION regions of solutions/
stubs.py         exercises/ generated from solutions/
chapters.py      the kinds of cell a chapter is made of; the chapters of course/
course_cells.py  a chapter -> an nbgrader source notebook
course.py        nnkit course build|check|stubs: exercises/, source/ and release/
record.py        the live oracles' answers on the public checks' inputs, for a student kit
export.py        nnkit export: the student kit, with a leak check
student_kit/     the kit's README, pyproject, requirements and Classroom workflow templates
"""
