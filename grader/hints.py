"""Recognise common mistakes from a wrong answer and the expected one.

Each function returns a one-line hint or None. `diagnose` tries the generic
ones in order; checks pass their own, more specific, hints first.
"""

import re

import numpy as np

MISTAKE_ID = re.compile(r"[a-z0-9]+(?:[._][a-z0-9]+)*")


class Hint(str):
    """A hint's text that knows `mistake`, the stable identifier of the mistake it names.

    The identifier ("conv.kernel_flipped") holds no numbers or shapes, so results can be
    counted per mistake across a class; the text may hold both."""

    def __new__(cls, mistake, text):
        if not MISTAKE_ID.fullmatch(mistake):
            raise ValueError(f"not a mistake identifier: {mistake!r}")
        hint = super().__new__(cls, text)
        hint.mistake = mistake
        return hint


def named(mistake, text):
    """`text` as a Hint naming `mistake`; None (no hint) stays None."""
    return None if text is None else Hint(mistake, text)


def mistake_of(hint):
    """The identifier of the mistake `hint` names, or None."""
    return getattr(hint, "mistake", None) if isinstance(hint, Hint) else None


def _close(a, b, tol=1e-5):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    scale = max(np.max(np.abs(b), initial=0.0), 1e-12)
    return bool(np.max(np.abs(a - b), initial=0.0) <= tol * scale)


def not_finite(got, expected):
    if not np.all(np.isfinite(np.asarray(got, dtype=float))):
        return named(
            "generic.not_finite", "the result contains inf or nan: an overflow in exp, or a log of 0?"
        )
    return None


def transposed(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    if got.ndim == 2 and got.shape == expected.T.shape and _close(got, expected.T):
        if got.shape != expected.shape:
            return named(
                "generic.transposed",
                f"the result looks like the transpose of the expected one (shape {got.shape} instead of {expected.shape})",
            )
        return named("generic.transposed", "the result looks like the transpose of the expected one")
    return None


def all_zero(got, expected):
    got = np.asarray(got, dtype=float)
    if got.size and not np.any(got) and np.any(np.asarray(expected, dtype=float)):
        return named(
            "generic.all_zero", "the result is all zeros: was it computed and returned (or stored in grads)?"
        )
    return None


UNNAMED_FACTOR = "off by a constant factor of"
UNNAMED = ("factor.unnamed",)  # identifiers of hints that name no mistake


def scale_factor(got, expected, batch_size=None):
    """got == c * expected for one constant c: name c (batch size, sign, 2, ...)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape or not np.any(expected):
        return None
    c = float(np.vdot(got, expected) / np.vdot(expected, expected))
    if abs(c) < 1e-12 or not _close(got, c * expected, 1e-4) or abs(c - 1) < 1e-3:
        return None
    if batch_size and batch_size > 1:
        if abs(c - batch_size) < 1e-3 * batch_size:
            return named(
                "factor.batch_size",
                f"off by a factor of N = {batch_size} (the batch size): a missing division by N, or sum vs mean?",
            )
        if abs(c * batch_size - 1) < 1e-3:
            return named(
                "factor.one_over_batch_size",
                f"off by a factor of 1/N = 1/{batch_size}: divided by the batch size twice, or mean where a sum is needed?",
            )
    if abs(c + 1) < 1e-6:
        return named("factor.sign", "the sign is flipped")
    if abs(c - 2) < 1e-6 or abs(c - 0.5) < 1e-6:
        return named("factor.two", f"off by a factor of {c:g}: a missing or extra factor 2?")
    if c > 0 and (k := round(1 / c)) >= 3 and abs(c * k - 1) < 1e-6:
        return named(
            "factor.mean_for_sum",
            f"off by a factor of 1/{k}: a mean over {k} values where their sum is needed?",
        )
    if c > 0 and (k := round(c)) >= 3 and abs(c / k - 1) < 1e-6:
        return named(
            "factor.sum_for_mean",
            f"off by a factor of {k}: a sum over {k} values where their mean is needed?",
        )
    return named("factor.unnamed", f"{UNNAMED_FACTOR} {c:.4g}")


def kept_dims(got, expected):
    """The right values with an extra axis of length 1: keepdims=True on a sum or mean."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.ndim == expected.ndim + 1 and 1 in got.shape and got.size == expected.size:
        if got.shape != expected.shape and _close(got.reshape(expected.shape), expected):
            return named(
                "generic.kept_dims",
                f"the values are right but the shape is {got.shape} instead of {expected.shape}: "
                "the sum keeps its axis (keepdims=True); drop keepdims",
            )
    return None


def not_summed(got, expected):
    """A bias gradient with an extra batch axis, or summed over the wrong axis."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.ndim == expected.ndim + 1 and got.shape[1:] == expected.shape:
        return named(
            "generic.not_summed_over_batch",
            "not summed over the batch: sum over axis 0 to get one value per output",
        )
    if got.ndim == expected.ndim and got.shape != expected.shape and expected.ndim == 1:
        return named(
            "generic.summed_over_wrong_axis",
            f"shape {got.shape} instead of {expected.shape}: summed over the wrong axis?",
        )
    return None


GENERIC = (not_finite, transposed, kept_dims, not_summed, all_zero)


def diagnose(got, expected, batch_size=None, extra=(), last=()):
    """First hint that applies: the check's own hints (callables of (got, expected)), the generic ones,
    a named scale factor, then the check's `last` hints (e.g. probes of simpler inputs), then any factor."""
    for hint in list(extra) + list(GENERIC):
        text = hint(got, expected)
        if text:
            return text
    factor = scale_factor(got, expected, batch_size)
    if factor and not factor.startswith(UNNAMED_FACTOR):
        return factor
    for hint in last:
        text = hint(got, expected)
        if text:
            return text
    return factor


# ----------------------------------------------------------------------------- crashes
OPTIMIZERS = ("SGD", "Momentum", "AdaGrad", "RMSProp", "Adam")
POOLS = ("MaxPool2d", "AvgPool2d")
WINDOWED = ("Conv2d", *POOLS)
REMOVED_KEYWORDS = ("newshape", "dims")  # np.reshape(newshape=), np.unravel_index(dims=): gone in NumPy 2
FLOAT_AS_INT = ("'float' object", "slice indices must be integers", "only integers, slices")
BUILTIN_OWNERS = ("'numpy.", "'list'", "'dict'", "'tuple'", "'float'", "'int'", "'str'", "'NoneType'")
CRASHES = (
    # (exception type name, text in its message or a test of it, exercises or None for any, hint)
    (
        "ValueError",
        "broadcast",
        OPTIMIZERS,
        named(
            "optim.state_shared_across_keys",
            "one state array shared by parameters of different shapes? keep a state per key, "
            "e.g. self.v[key] = np.zeros_like(params[key])",
        ),
    ),
    (
        "KeyError",
        "",
        OPTIMIZERS,
        named(
            "optim.keys_mismatched",
            "params and grads share their keys: loop over params (for key in params) and read grads[key]",
        ),
    ),
    (
        "ValueError",
        lambda text: "matmul" in text or "not aligned" in text,  # the @ and np.dot messages
        ("Affine", "Sequential"),
        named(
            "crash.matmul_shapes",
            "the shapes of a matrix product do not fit: with x (N, D) and W (D, M), "
            "out = x @ W, dW = x.T @ dout, dx = dout @ W.T",
        ),
    ),
    (
        "TypeError",
        lambda text: any(fragment in text for fragment in FLOAT_AS_INT),
        ("Conv2d",),
        named(
            "conv.size_float_division",
            "a float where an int is needed: compute the output size with floor division //, "
            "H' = (H + 2P - K) // S + 1",
        ),
    ),
    (
        "TypeError",
        lambda text: any(fragment in text for fragment in FLOAT_AS_INT),
        POOLS,
        named(
            "pool.size_float_division",
            "a float where an int is needed: compute the output size with floor division //, H' = (H - K) // S + 1",
        ),
    ),
    (
        "AssertionError",
        "",
        ("Conv2d",),
        named(
            "conv.asserts_stride_divides",
            "an assert in your code failed for these settings: if it asserts that the stride divides H + 2P - K, "
            "drop it: the contract takes the floor, H' = (H + 2P - K) // S + 1",
        ),
    ),
    (
        "AssertionError",
        "",
        POOLS,
        named(
            "pool.asserts_stride_divides",
            "an assert in your code failed for these settings: if it asserts that the stride divides H - K, "
            "drop it: the contract takes the floor, H' = (H - K) // S + 1",
        ),
    ),
    (
        "TypeError",
        lambda text: (
            "unexpected keyword argument" in text and any(f"'{k}'" in text for k in REMOVED_KEYWORDS)
        ),
        None,
        named(
            "crash.numpy_keyword_removed",
            "a NumPy keyword that NumPy 2 removed (np.reshape's newshape=, np.unravel_index's dims=): "
            "pass the shape positionally, np.reshape(a, shape) or np.unravel_index(i, shape)",
        ),
    ),
    (
        "TypeError",
        lambda text: "only 0-dimensional arrays can be converted" in text or "only length-1 arrays" in text,
        None,
        named(
            "crash.array_to_scalar",
            "int() or float() of an array with several values (did np.where find more than one position?): "
            "take one index, e.g. np.argmax, then np.unravel_index",
        ),
    ),
    (
        "TypeError",
        "NoneType",
        None,
        named(
            "crash.missing_return",
            "a value is None: does every forward/backward end with a return statement?",
        ),
    ),
    (
        "AttributeError",
        lambda text: "object has no attribute" in text and not text.startswith(BUILTIN_OWNERS),
        None,
        named(
            "crash.not_stored_in_forward",
            "backward reads something forward never stored: keep what backward needs on self in forward "
            "(e.g. self.x = x), under the same name",
        ),
    ),
    (
        "RecursionError",
        "",
        None,
        named(
            "crash.endless_recursion",
            "a method calls itself without end: call the parent's method with super() or compute the value directly",
        ),
    ),
)


def crash_hint(exercise, error):
    """A likely mistake behind an exception the student's code raised, or None."""
    names = {cls.__name__ for cls in type(error).__mro__}
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a message that cannot be shown gives no hint
        return None
    for name, fragment, exercises, hint in CRASHES:
        found = fragment(text) if callable(fragment) else fragment in text
        if name in names and found and (exercises is None or exercise in exercises):
            return hint
    return None
