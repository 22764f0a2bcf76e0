"""Serving a class: everything between a folder of submissions and the platforms an instructor uses.

grade.py             nnkit grade: one folder, in the sandbox
submissions.py       what a student handed in (folder, zip, loose files, notebooks) -> an implementation folder
notebooks.py         the answer cells of submitted nbgrader notebooks, read as data
batch.py             nnkit batch: a class, one sandboxed worker per submission -> gradebook.csv, feedback
class_report.py      nnkit report: what the class got wrong, as one HTML page and JSON
canvas.py            nnkit canvas: the gradebook in the CSV layout Canvas imports
similarity.py        nnkit similarity: suspiciously alike submissions (copydetect)
gradescope.py        nnkit gradescope: the autograder zip, and grading inside Gradescope
trusted_autograde.py nbgrader autograde without running a cell: answer cells graded in the sandbox
autograde.py         nnkit autograde: that pipeline for every submission, with progress
course_config.py     the course's nbgrader configuration (read by nbgrader_config.py)
feedback.py          nbgrader feedback without hidden tests
regrade.py           nnkit regrade: where the gradebook differs from the trusted grader
"""
