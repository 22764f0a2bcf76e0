"""A temporary nbgrader course with the kit's configuration, and what tests and benches do in it:
hand in notebooks, autograde them, read the gradebook."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from grader.classroom.course_config import COURSE_ID, nbgrader_api

ROOT = Path(__file__).resolve().parent.parent


def notebook_path(root, kind, student, chapter):
    if kind == "release":
        return root / "release" / chapter / f"{chapter}.ipynb"
    return root / kind / student / chapter / f"{chapter}.ipynb"


def solution_cells(chapter):
    nb = nbformat.read(str(ROOT / "source" / chapter / f"{chapter}.ipynb"), as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def cell_points(chapter):
    """{grade_id: points} of the chapter's test cells."""
    nb = nbformat.read(str(ROOT / "release" / chapter / f"{chapter}.ipynb"), as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    return {m["grade_id"]: m["points"] for m in meta if m.get("grade") and not m.get("solution")}


def submit(root, student, chapter, replaced):
    """Hand in the release notebook with the answer cells in `replaced` ({grade_id: source})."""
    nb = nbformat.read(str(notebook_path(root, "release", student, chapter)), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in replaced:
            cell.source = replaced[gid]
    dest = notebook_path(root, "submitted", student, chapter)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))
    return dest


def scores(root, chapter, students):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        return {s: gb.find_submission(chapter, s).score for s in students}


def new_course(root, chapters):
    for chapter in chapters:
        shutil.copytree(ROOT / "source" / chapter, root / "source" / chapter)
    (root / "nbgrader_config.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from grader.classroom.course_config import course_config, kernel_path_env\n"
        f"c = get_config()\nc.merge(course_config({str(root)!r}))\nkernel_path_env({str(ROOT)!r})\n"
    )
    api = nbgrader_api(root)
    for chapter in chapters:
        assert api.generate_assignment(chapter, force=True, create=True)["success"]
    return api


def autograde(api, chapter, student):
    result = api.autograde(chapter, student, force=True, create=True)
    assert result["success"], result.get("log")
    return result.get("log", "")


def nbgrader_cli(root, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
