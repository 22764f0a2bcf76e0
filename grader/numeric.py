"""Comparing numbers: relative errors, and short descriptions of inputs for messages.

The central differences that give expected gradients are an oracle (grader/oracles/numeric.py).
"""

import numpy as np


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
