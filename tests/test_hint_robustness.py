"""The checks, their hint candidates and their messages survive wrong answers of every form.

Each exercise of the reference is replaced by a version whose results (and, for layers,
gradients) come back in a wrong form: None, empty, NaN, an extra axis, too few values,
integers, text. Every check must then fail or pass on its own terms: no check may end
with the grader failing itself, whatever a hint candidate or message helper receives.
"""

import inspect

import numpy as np
import pytest

import solutions
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from tests.corpus import target_with

CHECKS = all_checks()
RUBRIC = load_rubric()
EXERCISES = sorted({c.exercise for c in CHECKS})
METHODS = ("forward", "backward", "step", "predict", "fit")

WRONG_FORMS = {
    "None": lambda value: None,
    "empty": lambda value: np.empty((0,)),
    "nan": lambda value: np.full(np.shape(value), np.nan),
    "extra axis": lambda value: np.zeros((*np.shape(value), 2)),
    "too few values": lambda value: np.ravel(np.asarray(value, dtype=float))[:-1],
    "integers": lambda value: np.zeros(np.shape(value), dtype=np.int64),
    "text": lambda value: "wrong",
    "scalar": lambda value: np.float64(0.5),
    "list": lambda value: np.asarray(value, dtype=object).tolist(),
}


def returning(function, wrong_form):
    """`function` whose result comes back in `wrong_form` (for a layer, its gradients too)."""

    def wrong(*args, **kwargs):
        result = function(*args, **kwargs)
        owner = args[0] if args else None
        grads = getattr(owner, "grads", None) if function.__name__ == "backward" else None
        if isinstance(grads, dict):
            for key in list(grads):
                grads[key] = wrong_form(grads[key])
        return wrong_form(result)

    return wrong


def wrong_version(name, wrong_form):
    original = getattr(solutions, name)
    if inspect.isclass(original):
        methods = {m: returning(getattr(original, m), wrong_form) for m in METHODS if hasattr(original, m)}
        return type(f"Wrong{name}", (original,), methods)
    return returning(original, wrong_form)


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_no_check_fails_itself_on_wrong_answers(exercise):
    checks = [c for c in CHECKS if c.exercise == exercise]
    for form_name, wrong_form in WRONG_FORMS.items():
        target = target_with(**{exercise: wrong_version(exercise, wrong_form)})
        for check in checks:
            result = run_check(check, target, RUBRIC[check.id].points)
            assert "the grader itself failed" not in result.message, f"{form_name}: {result.message}"
            assert result.passed or result.message, f"{form_name}: {check.id} failed without a message"
            assert result.hint is None or isinstance(result.hint, str)
