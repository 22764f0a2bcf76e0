"""Running one check and turning whatever happened into a result a student can read."""

import contextlib
import signal
import sysconfig
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .expected import RecordedDataError, UnknownOracle
from .hints import crash_hint, mistake_of
from .target import TargetError


class CheckFailure(AssertionError):
    """A check found a wrong answer. `hint` names the most likely mistake."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message, self.hint = message, hint

    def __str__(self):
        return self.message + (f"\n  likely mistake: {self.hint}" if self.hint else "")


class BlockedByPart(NotImplementedError):
    """A check cannot run yet: it runs another exercise (`part`) whose `missing` method is not implemented."""

    def __init__(self, part, missing):
        super().__init__(f"{part}: {missing}")
        self.part, self.missing = part, missing


class CheckTimeout(BaseException):
    """Raised in the check when its time limit runs out (a BaseException, so `except Exception` cannot swallow it)."""


@dataclass
class CheckResult:
    """What one check found. `status` is "passed", "failed", "not implemented", "error" or "timeout"."""

    id: str
    exercise: str
    status: str
    points: float
    max_points: float
    message: str = ""
    hint: str | None = None
    notes: list = field(default_factory=list)
    visibility: str = "visible"
    mistake: str | None = None  # the stable identifier of the mistake the hint names

    @property
    def passed(self):
        return self.status == "passed"

    def text(self):
        """The feedback shown to a student: message, hint, notes."""
        lines = [self.message] if self.message else []
        if self.hint:
            lines.append(f"  likely mistake: {self.hint}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


@contextlib.contextmanager
def time_limit(seconds):
    """Raise CheckTimeout in the block after `seconds` (main thread on POSIX; otherwise no limit)."""
    usable = (
        seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CheckTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def student_frames(error, origin):
    """The traceback lines of `error` that lie inside the student's directory `origin`."""
    remote = getattr(error, "student_frames", None)
    if isinstance(remote, str):  # raised again from a sandboxed worker, its frames already as text
        return remote
    frames = traceback.extract_tb(error.__traceback__)
    if origin is not None:
        mine = [f for f in frames if Path(f.filename).resolve().is_relative_to(origin)]
        frames = mine or frames[-1:]
    else:
        frames = [f for f in frames if "/grader/" not in f.filename.replace("\\", "/")] or frames[-1:]
    return "".join(traceback.format_list(frames)).rstrip()


GRADER_DIR = Path(__file__).resolve().parent
LIBRARY_DIRS = tuple(
    Path(p).resolve()
    for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def raised_by_the_grader(error, origin=None):
    """Whether `error` came from the grader's own code: no frame of its traceback lies outside the
    grader package and the libraries (grader/target.py, which runs student code, counts as outside).
    Exceptions of a sandboxed worker arrive with the student's own frames and are never the grader's."""
    if getattr(error, "student_frames", None) is not None:
        return False
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    for frame in frames:
        path = Path(frame.filename).resolve()
        if path.name == "target.py" and path.parent == GRADER_DIR:
            return False
        if origin is not None and path.is_relative_to(Path(origin).resolve()):
            return False
        if not (path.is_relative_to(GRADER_DIR) or any(path.is_relative_to(d) for d in LIBRARY_DIRS)):
            return False
    return True


# id(error) -> (error, hint): the likely mistake a check found behind an exception the student's
# code raised, kept by the grader (never read from the exception itself) while that check runs
CRASH_HINTS = {}


def name_crash(error, hint):
    """Record `hint` as the likely mistake behind `error`, raised by student code in the running check."""
    if hint:
        CRASH_HINTS[id(error)] = (error, hint)


def named_crash(error):
    """The hint a check recorded for `error` with name_crash, or None."""
    error_and_hint = CRASH_HINTS.get(id(error))
    return error_and_hint[1] if error_and_hint and error_and_hint[0] is error else None


def not_implemented_name(error):
    """'Affine.forward' from a stub's NotImplementedError, else the innermost function's name."""
    text = str(error)
    if text and ":" in text:
        return text.split(":", 1)[0]
    tb = traceback.extract_tb(error.__traceback__)
    return tb[-1].name if tb else "this exercise"


def run_check(check, target, points=1.0, visibility="visible", timeout=None):
    """Run `check.function(target)` and return a CheckResult; never raises for student errors."""
    timeout = check.timeout if timeout is None else timeout
    result = CheckResult(check.id, check.exercise, "passed", points, points, visibility=visibility)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with time_limit(timeout):
                check.function(target)
        except CheckFailure as failure:
            result.status, result.message, result.hint = "failed", failure.message, failure.hint
        except BlockedByPart as blocked:
            result.status = "not implemented"
            result.message = (
                f"{check.id} cannot be graded yet: it runs your {blocked.part}, "
                f"and {blocked.missing} is not implemented yet"
            )
            result.hint = f"implement {blocked.part} first; then {check.exercise} is graded"
        except NotImplementedError as error:
            result.status = "not implemented"
            result.message = f"{not_implemented_name(error)} is not implemented yet"
        except CheckTimeout:
            result.status = "timeout"
            result.message = (
                f"{check.id} did not finish within {timeout:g} s: "
                "an infinite loop, or a very slow implementation?"
            )
        except TargetError as error:
            result.status, result.message = "failed", f"{check.id}: {error}"
        except (RecordedDataError, UnknownOracle):
            raise  # the grader cannot judge this check: no score at all beats a wrong one
        except (Exception, SystemExit) as error:  # noqa: BLE001 - a crash in student code is reported, not raised
            result.status = "error"
            if raised_by_the_grader(error, getattr(target, "origin", None)):
                where = traceback.extract_tb(error.__traceback__)[-1]
                result.message = (
                    f"{check.id}: the grader itself failed while judging your answer "
                    f"({type(error).__name__}: {error}, at {Path(where.filename).name}:{where.lineno}). "
                    "This is not a mistake in your code: tell your instructor."
                )
            else:
                result.message = (
                    f"{check.id}: your code raised {type(error).__name__}: {error}\n"
                    f"{student_frames(error, getattr(target, 'origin', None))}"
                )
                result.hint = named_crash(error) or crash_hint(check.exercise, error)
        finally:
            CRASH_HINTS.clear()
    result.mistake = mistake_of(result.hint)
    result.hint = None if result.hint is None else str(result.hint)
    seen = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.append(text)
    result.notes += [f"your code warned {text}" for text in seen[:3]]
    if not result.passed:
        result.points = 0.0
    return result
