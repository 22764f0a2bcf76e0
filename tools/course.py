"""Build and check the nbgrader course: source/ from the master, release/ from source/.

    python -m tools.course build    # write source/<chapter>/<chapter>.ipynb, then release/ via nbgrader
    python -m tools.course check    # exit 1 if source/ or release/ is not what build would write

The source notebooks are assembled from solutions/ (tools/course_cells.py) and
tools/course_content/; release/ is exactly what nbgrader's generate_assignment
makes of them (run through its Python API, with a throwaway gradebook).
"""

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.files import replaced
from tools.course_config import course_config, kernel_path_env

ROOT = Path(__file__).resolve().parent.parent


def chapter_names():
    from tools.course_content import chapters

    return [c.name for c in chapters()]


def write_sources(course_root, names=None):
    """Write source/<chapter>/<chapter>.ipynb under `course_root`; return the paths."""
    from tools.course_cells import notebook_text
    from tools.course_content import chapters

    paths = []
    for chapter in chapters():
        if names and chapter.name not in names:
            continue
        path = Path(course_root) / "source" / chapter.name / f"{chapter.name}.ipynb"
        with replaced(path) as f:
            f.write(notebook_text(chapter))
        paths.append(path)
    return paths


def nbgrader_api(course_root, db_url=None, cell_timeout=None):
    """An NbGraderAPI for the course at `course_root` (no per-command start-up cost)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    kwargs = {} if cell_timeout is None else {"cell_timeout": cell_timeout}
    config = course_config(course_root, db_url=db_url, **kwargs)
    kernel_path_env(ROOT)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def generate_release(course_root, names):
    """Run generate_assignment for every name into `course_root`/release, with a throwaway gradebook."""
    with tempfile.TemporaryDirectory() as tmp:
        api = nbgrader_api(course_root, db_url=f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(
                    f"generate_assignment {name} failed:\n{result.get('log', '')}{result.get('error', '')}"
                )


def build(course_root=ROOT):
    """Write source/ and release/ under `course_root` from the master."""
    names = chapter_names()
    written = write_sources(course_root)
    for stale in sorted((Path(course_root) / "source").glob("*")):
        if stale.is_dir() and stale.name not in names:
            print(f"note: source/{stale.name} is not a chapter of the course (left alone)")
    generate_release(course_root, names)
    return written


def tree_files(root):
    root = Path(root)
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()


def differences(expected_root, actual_root, subdirs=("source", "release")):
    """Relative paths that differ between two course trees (missing, extra or changed)."""
    problems = []
    for sub in subdirs:
        expected, actual = tree_files(Path(expected_root) / sub), tree_files(Path(actual_root) / sub)
        problems += [f"missing: {sub}/{p}" for p in sorted(expected - actual)]
        problems += [f"not built by the course: {sub}/{p}" for p in sorted(actual - expected)]
        problems += [
            f"out of date: {sub}/{p}"
            for p in sorted(expected & actual)
            if not filecmp.cmp(Path(expected_root) / sub / p, Path(actual_root) / sub / p, shallow=False)
        ]
    return problems


def check(course_root=ROOT):
    """Build into a temporary directory and list how `course_root` differs from it."""
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        return differences(tmp, course_root)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tools.course",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=["build", "check"], help="build: rewrite source/ and release/; check: compare"
    )
    args = parser.parse_args(argv)
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        parser.exit(2, "nbgrader is not installed: pip install -e '.[instructor]'\n")
    if args.command == "build":
        for path in build():
            print(f"wrote {path.relative_to(ROOT)}")
        print("wrote release/ with nbgrader generate_assignment")
        return 0
    problems = check()
    for line in problems:
        print(line)
    if problems:
        print("run: python -m tools.course build")
        return 1
    print("source/ and release/ are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
