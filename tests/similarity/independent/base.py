"""The tiny `Layer` base class and the input checks every layer shares.

Nothing here is an exercise: the checks give a clear error on bad input
before any of your code runs.
"""

import numpy as np


class Layer:
    """Base of every layer.

    Attributes:
        params: dict of parameter arrays (empty for layers without parameters).
        grads: dict with the same keys and shapes as `params`, filled by `backward`.
        training: True in training mode, False in evaluation mode.
    """

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        """Switch to training mode."""
        self.training = True
        return self

    def eval(self):
        """Switch to evaluation mode."""
        self.training = False
        return self


def as_float_array(x, name="x"):
    """Return `x` as an ndarray of a floating dtype (ints become float64).

    Raises TypeError for anything that is not numeric.
    """
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def expect_ndim(x, ndim, owner, layout):
    """Raise ValueError unless `x.ndim == ndim`; `layout` names the axes, e.g. "(N, C, H, W)"."""
    if x.ndim != ndim:
        raise ValueError(
            f"{owner} expects an input of shape {layout} ({ndim}-D), got shape {x.shape} ({x.ndim}-D)"
        )


def expect_same_shape(a, b, owner, names=("input", "dout")):
    """Raise ValueError unless `a` and `b` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{owner}: {names[1]} must have the shape of {names[0]} {np.shape(a)}, got {np.shape(b)}"
        )


def check_labels(labels, num_classes, owner):
    """Raise unless `labels` are integers in [0, num_classes)."""
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise TypeError(f"{owner}: integer class labels expected, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{owner}: labels must lie in [0, {num_classes}), got values from {labels.min()} to {labels.max()}"
        )


def int_at_least(value, minimum, name, owner):
    """Return `value` as an int, raising TypeError/ValueError unless it is an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def param_pairs(params, grads, owner):
    """Yield `(key, param, grad)` for every key, after checking the two dicts match.

    Parameters must be float ndarrays, since optimizers update them in place.
    """
    if set(params) != set(grads):
        raise KeyError(
            f"{owner}.step: params and grads must have the same keys, "
            f"got {sorted(params)} and {sorted(grads)}"
        )
    for key in params:
        p, g = params[key], grads[key]
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise TypeError(f"{owner}.step: params[{key!r}] must be a float ndarray (updated in place)")
        if np.shape(g) != p.shape:
            raise ValueError(
                f"{owner}.step: grads[{key!r}] has shape {np.shape(g)}, params[{key!r}] has shape {p.shape}"
            )
        yield key, p, np.asarray(g)
