"""The grader's own float64 numerics: central-difference gradients and relative errors."""

import numpy as np


def numeric_gradient(f, x, h=1e-6):
    """Gradient of the scalar f at x (any shape) by central differences, in float64.

    f receives a perturbed copy of x; x itself is never modified.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        plus = f(x.copy())
        x[idx] = original - h
        minus = f(x.copy())
        x[idx] = original
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def rel_error(got, expected):
    """max |got - expected| / max(max |expected|, max |got|, 1e-12); 0 means equal."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    scale = max(np.max(np.abs(expected), initial=0.0), np.max(np.abs(got), initial=0.0), 1e-12)
    return float(np.max(np.abs(got - expected), initial=0.0) / scale)


def describe(arr):
    """Short description of an input for messages, e.g. 'shape (4, 5)'."""
    arr = np.asarray(arr)
    return f"shape {arr.shape}" if arr.ndim else f"value {arr.item():g}"
