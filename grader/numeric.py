"""Comparing numbers: relative errors, and short descriptions of inputs for messages.

The central differences that give expected gradients are an oracle (grader/oracles/numeric.py).
"""

import numpy as np

SCALE_FLOOR = 1e-8  # below this, values count as zero: round-off of a 0 (a loss of -1.9e-17) is no error


def rel_error(got, expected):
    """max |got - expected| / max(max |expected|, max |got|, SCALE_FLOOR); 0 means equal.

    Relative to the larger of the two arrays, so it needs no tolerance per magnitude; the
    floor keeps it sound near zero, where any relative error of round-off is huge.
    """
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    scale = max(np.max(np.abs(expected), initial=0.0), np.max(np.abs(got), initial=0.0), SCALE_FLOOR)
    return float(np.max(np.abs(got - expected), initial=0.0) / scale)


def describe(arr):
    """Short description of an input for messages, e.g. 'shape (4, 5)'."""
    arr = np.asarray(arr)
    return f"shape {arr.shape}" if arr.ndim else f"value {arr.item():g}"
