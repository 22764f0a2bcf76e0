"""Grading a submission in the sandbox: the checks chosen, the data seed, and a CheckResult per check."""

import contextlib
import secrets

from ..expected import oracles_present
from ..progress import progress as show_progress
from ..results import CheckResult, run_check
from .limits import Limits, on_one_cpu
from .target import SandboxTarget


def select_checks(checks=None):
    """Every registered check, or those named by id ("Affine.forward") or exercise ("Affine")."""
    from ..registry import all_checks

    everything = all_checks()
    if checks is None:
        return everything
    chosen = []
    for item in checks:
        if isinstance(item, str):
            matched = [c for c in everything if item in (c.id, c.exercise)]
            if not matched:
                raise ValueError(f"no check or exercise named {item!r}")
            chosen += [c for c in matched if c not in chosen]
        elif item not in chosen:
            chosen.append(item)
    return chosen


@contextlib.contextmanager
def grading_seed(seed):
    """Set the grader's data seed for the block (the per-run secret when batch grading)."""
    from ..checks import common

    previous = common.SEED
    common.SEED = seed
    try:
        yield
    finally:
        common.SEED = previous


def common_seed():
    """The data seed of the public checks (a kit recorded its expectations with it)."""
    from ..checks import common

    return common.SEED


def _failed(check, entry, status, message):
    return CheckResult(
        check.id, check.exercise, status, 0.0, entry.points, message, visibility=entry.visibility
    )


def grade_isolated(
    impl_dir, checks=None, rubric=None, seed=None, limits=None, target_out=None, progress=False
):
    """Grade the submission in `impl_dir` in a sandboxed worker; return a CheckResult per check.

    checks: None for all, or check objects / ids / exercise names. rubric: {id: RubricEntry}
    (default grader/rubric.toml). seed: the data seed (None: a fresh secret one for this run).
    limits: Limits. target_out: a list that receives the SandboxTarget (for timings), if given.
    progress: a bar on stderr, one step per check. Never raises because of what the submission does.
    """
    from ..registry import RubricEntry, load_rubric

    rubric = load_rubric() if rubric is None else rubric
    chosen = select_checks(checks)
    if checks is None:  # a kit's rubric lists only the exercises it hands out
        chosen = [c for c in chosen if c.id in rubric]
    limits = limits or Limits()
    if seed is None:  # a student kit's recorded expectations hold for its public inputs only
        seed = secrets.randbits(32) if oracles_present() else common_seed()
    results = []
    with grading_seed(seed), on_one_cpu():
        try:
            target = SandboxTarget(impl_dir, limits)
        except Exception as error:  # noqa: BLE001 - the sandbox itself could not start
            reason = f"the submission could not be graded: {error}"
            return [_failed(c, rubric.get(c.id, RubricEntry(1.0)), "error", reason) for c in chosen]
        if target_out is not None:
            target_out.append(target)
        try:
            for check in show_progress(chosen, "grading", "check", progress):
                entry = rubric.get(check.id, RubricEntry(1.0))
                seconds = limits.check_seconds or check.timeout
                try:
                    target.begin_check(seconds)
                except Exception:  # noqa: BLE001 - the check then reports the worker's failure
                    pass
                crashes = target.crashes
                result = run_check(check, target, entry.points, entry.visibility, timeout=seconds)
                if target.crashes > crashes and result.status == "failed":
                    result.status = "error"  # the worker ended or broke the protocol: not a wrong answer
                results.append(result)
        finally:
            target.close()
    return results
