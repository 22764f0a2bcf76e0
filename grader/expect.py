"""Assertions that fail with a message a student can act on."""

import numpy as np

from .expected import UnknownOracle, recording
from .hints import diagnose, named
from .numeric import describe, rel_error
from .results import CheckFailure

GRAD_TOL = 1e-5  # analytic vs the grader's float64 central differences
VALUE_TOL = 1e-6


def record_hints(hints, expected):
    """While a kit is being recorded, run every hint once, so the answers its candidates ask for are recorded.

    (Hints otherwise run only on a wrong answer, which the reference never gives.)
    """
    if not recording():
        return
    probe = np.asarray(expected, dtype=np.float64) + 1.0
    for hint in hints:
        try:
            hint(probe, expected)
        except UnknownOracle:
            raise
        except Exception:  # noqa: BLE001, S110 - a hint that cannot judge the probe has still asked its questions
            pass


def expect_array(got, expected, what, given="", tol=VALUE_TOL, batch_size=None, hints=(), probes=()):
    """Fail unless `got` is a float array of `expected`'s shape within relative error `tol`.

    On a wrong answer the hint is the first of `hints` that applies, a generic one, or the first
    of `probes` (hints of last resort, e.g. which simpler input the code gets right)."""
    record_hints([*hints, *probes], expected)
    given = f" for {given}" if given else ""
    if got is None:
        raise CheckFailure(
            f"{what} is None{given}",
            hint=named("generic.missing_return", "a missing return statement?"),
        )
    if not isinstance(got, np.ndarray) or got.ndim == 0 and np.ndim(expected) > 0:
        raise CheckFailure(f"{what} should be an array of shape {np.shape(expected)}{given}, got {got!r}")
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise CheckFailure(
            f"{what} has shape {got.shape}, expected {expected.shape}{given}",
            hint=diagnose(got, expected, batch_size, hints, probes),
        )
    if not (np.issubdtype(got.dtype, np.floating)):
        raise CheckFailure(f"{what} has dtype {got.dtype}, expected a float dtype{given}")
    err = rel_error(got, expected)
    if err > tol:
        raise CheckFailure(
            f"{what} is wrong{given}: relative error {err:.2e} (tolerance {tol:.0e})",
            hint=diagnose(got, expected, batch_size, hints, probes),
        )


def expect_number(got, expected, what, given="", tol=VALUE_TOL, hints=()):
    """Fail unless `got` is a single number within relative error `tol` of `expected`."""
    record_hints(hints, np.array([expected]))
    given_text = f" for {given}" if given else ""
    arr = np.asarray(got) if got is not None else None
    if arr is None or arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise CheckFailure(f"{what} should be a single number{given_text}, got {got!r}")
    value = float(arr.reshape(()))
    err = rel_error(value, expected)
    if err > tol:
        hint = diagnose(np.array([value]), np.array([expected]), None, hints)
        raise CheckFailure(f"{what} is {value:.6g}, expected {expected:.6g}{given_text}", hint=hint)
    return value


def expect_untouched(t, what):
    """Fail if the last call modified any of its array arguments in place."""
    if t.last_mutations:
        raise CheckFailure(
            f"{what} modified its input in place ({', '.join(t.last_mutations)})",
            hint=named(
                "generic.input_modified_in_place",
                "work on a copy (e.g. x.copy(), or out = np.where(...)) instead of writing into the input",
            ),
        )


def given_shapes(**arrays):
    """'x of shape (4, 5), dout of shape (4, 3)' for messages."""
    return ", ".join(f"{name} of {describe(a)}" for name, a in arrays.items())
