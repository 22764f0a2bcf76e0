"""Generate exercises/ (the student stubs) from solutions/ (the master).

nnkit course stubs            # rewrite exercises/ of the course in the current folder
nnkit course stubs --check    # exit 1 if exercises/ is out of date
"""

from grader.authoring.course_root import course_master, course_root
from grader.authoring.regions import strip_solutions


def expected_stubs(master=None):
    """Map each relative path under `master` (default: the course's solutions/) to its stub's text."""
    master = course_master() if master is None else master
    return {
        path.relative_to(master): strip_solutions(path.read_text(), str(path))
        for path in sorted(master.rglob("*.py"))
    }


def stale_files(root=None):
    """Relative paths under the course's exercises/ whose stub is missing, different, or has no master."""
    expected, stubs = expected_stubs(course_master(root)), course_root(root) / "exercises"
    present = {p.relative_to(stubs) for p in stubs.rglob("*.py")}
    stale = [
        rel
        for rel, text in expected.items()
        if not (stubs / rel).is_file() or (stubs / rel).read_text() != text
    ]
    return sorted(stale + list(present - set(expected)))


def write_stubs(root=None):
    """Bring the course's exercises/ up to date with its solutions/; return the relative paths written
    or removed (a file already right is left alone)."""
    expected, stubs = expected_stubs(course_master(root)), course_root(root) / "exercises"
    stale = stale_files(root)
    for rel in stale:
        if rel in expected:
            (stubs / rel).parent.mkdir(parents=True, exist_ok=True)
            (stubs / rel).write_text(expected[rel])
        else:
            (stubs / rel).unlink()
    return stale
