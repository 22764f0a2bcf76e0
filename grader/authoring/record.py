"""Record a student kit's expectations: the live oracles' answers on the public checks' inputs.

The export runs every public check of the exercises it hands out against the reference
solution with a `Recorder` in place of the live provider. Every expected value those checks
ask for, hint candidates included, is kept; `Recorder.files()` turns them into the kit's
`grader/recorded/` data. Hidden checks never run here, so none of their inputs is recorded.
"""

from grader.authoring.course_root import course_master
from grader.expected import Recorder, using
from grader.progress import progress as show_progress
from grader.registry import all_checks, is_hidden_check
from grader.results import run_check
from grader.target import load_impl


class RecordingError(Exception):
    """The reference failed a public check while recording: its expectations would be wrong."""


def public_checks(exercises):
    """The public (non-hidden) checks of `exercises`, in curriculum order."""
    chosen = set(exercises)
    return [c for c in all_checks() if c.exercise in chosen and not is_hidden_check(c)]


def record(exercises, reference=None, progress=False):
    """A Recorder holding every expected value the public checks of `exercises` ask for, on `reference`
    (default: the course's solutions/); `progress` shows a bar on stderr."""
    target = load_impl(course_master() if reference is None else reference)
    checks = show_progress(public_checks(exercises), "recording", "check", progress)
    with using(Recorder()) as recorder:
        failed = [r for r in (run_check(c, target) for c in checks) if not r.passed]
    if failed:
        raise RecordingError(
            "the reference fails public checks, so nothing was recorded:\n  "
            + "\n  ".join(f"[{r.id}] {r.text()}" for r in failed)
        )
    return recorder
