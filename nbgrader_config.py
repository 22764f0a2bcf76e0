"""nbgrader configuration of the course (the settings live in grader/classroom/course_config.py)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from grader.classroom.course_config import course_config, kernel_path_env  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file
c.merge(course_config(HERE))
kernel_path_env(HERE)
