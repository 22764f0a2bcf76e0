"""Hidden checks: graded after the deadline, never handed to students.

They run wherever the full grader runs (`python -m grader`, batch grading, the
Gradescope bundle, nbgrader autograde) and are left out of the student kit
(`nnkit export`), which lists only their names and points. Each has
a non-"visible" visibility in rubric.toml (Gradescope's `after_published`);
a test of the kit keeps the two in step.

They test the same properties as the public checks on other inputs (larger,
smaller or odder shapes, other strides and rates, more steps), reusing the
public checks' oracles and helpers, so a student cannot pass by fitting the
public inputs. Modules are named after the public chapters they extend.
"""

from . import conv, layers, losses, optim, regularization  # noqa: F401  (importing registers the checks)
