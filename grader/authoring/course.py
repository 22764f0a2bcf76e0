"""Build and check the nbgrader course: source/ from the master, release/ from source/.

    nnkit course build    # exercises/ from solutions/, source/<chapter>/<chapter>.ipynb, then release/
    nnkit course check    # exit 1 if exercises/, source/ or release/ is not what build would write
    nnkit course stubs    # exercises/ only (no nbgrader needed); --check to compare

All in the course folder (the current folder, or `nnkit --course DIR`). The source notebooks
are assembled from solutions/ (grader/authoring/course_cells.py) and the chapters of
course/; release/ is exactly what nbgrader's generate_assignment makes of them (run through
its Python API, with a throwaway gradebook).
"""

import filecmp
import tempfile
from pathlib import Path

from grader.authoring import stubs
from grader.authoring.chapters import chapters
from grader.authoring.course_root import CourseError, course_master, course_root
from grader.classroom.course_config import nbgrader_api
from grader.files import replaced
from grader.progress import progress as show_progress

EXAMPLES = """\
examples:
  nnkit course build                    after editing solutions/, course/ or the rubric
  nnkit course check                    exit 1 if exercises/, source/ or release/ is stale (CI)
  nnkit course stubs --check            only exercises/ against solutions/ (no nbgrader needed)
  nnkit --course ~/nn-course course build
"""


def chapter_names():
    return [c.name for c in chapters()]


def write_sources(course_root, names=None, progress=False):
    """Write source/<chapter>/<chapter>.ipynb under `course_root`; return the paths."""
    from grader.authoring.course_cells import notebook_text

    paths = []
    for chapter in show_progress(chapters(), "source", "chapter", progress):
        if names and chapter.name not in names:
            continue
        path = Path(course_root) / "source" / chapter.name / f"{chapter.name}.ipynb"
        with replaced(path) as f:
            f.write(notebook_text(chapter))
        paths.append(path)
    return paths


def generate_release(course_root, names, progress=False):
    """Run generate_assignment for every name into `course_root`/release, with a throwaway gradebook."""
    with tempfile.TemporaryDirectory() as tmp:
        api = nbgrader_api(course_root, db_url=f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        for name in show_progress(names, "release", "chapter", progress):
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(
                    f"generate_assignment {name} failed:\n{result.get('log', '')}{result.get('error', '')}"
                )


def build(out_root=None, progress=False):
    """Write source/ and release/ under `out_root` (default: the course itself) from the course's master."""
    out_root = course_root(out_root)
    names = chapter_names()
    written = write_sources(out_root, progress=progress)
    for stale in sorted((out_root / "source").glob("*")):
        if stale.is_dir() and stale.name not in names:
            print(f"note: source/{stale.name} is not a chapter of the course (left alone)")
    generate_release(out_root, names, progress)
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


def check(root=None, progress=False):
    """Build into a temporary directory and list how the course differs from it (stubs included)."""
    problems = [f"out of date: exercises/{rel}" for rel in stubs.stale_files(root)]
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp, progress)
        return problems + differences(tmp, course_root(root))


def add_arguments(parser):
    parser.add_argument(
        "action",
        choices=["build", "check", "stubs"],
        help="build: rewrite exercises/, source/ and release/; check: compare them; stubs: exercises/ only",
    )
    parser.add_argument("--check", action="store_true", help="with stubs: only list stale files")


def needs_nbgrader():
    """CourseError unless nbgrader can be imported."""
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        raise CourseError("nbgrader is not installed: pip install 'nnkit[instructor]'") from None


def run_stubs(check_only, quiet):
    if check_only:
        stale = stubs.stale_files()
        for rel in stale:
            print(f"out of date: exercises/{rel}")
        if stale:
            print("run: nnkit course stubs")
        elif not quiet:
            print("exercises/ is up to date")
        return 1 if stale else 0
    written = stubs.write_stubs()
    if not quiet:
        changed = ", ".join(f"exercises/{rel}" for rel in written) or "nothing: exercises/ is up to date"
        print(f"stubs from solutions/: {changed}")
    return 0


def run(args):
    root = course_root()
    course_master()
    if args.action == "stubs":
        return run_stubs(args.check, args.quiet)
    needs_nbgrader()
    if args.action == "build":
        run_stubs(False, args.quiet)
        paths = build(progress=not args.quiet)
        if not args.quiet:
            for path in paths:
                print(f"wrote {path.relative_to(root)}")
            print("wrote release/ with nbgrader generate_assignment")
        return 0
    problems = check(progress=not args.quiet)
    for line in problems:
        print(line)
    if problems:
        print("run: nnkit course build")
        return 1
    if not args.quiet:
        print("exercises/, source/ and release/ are up to date")
    return 0
