"""The chapter 2-3 functions from their definitions, the classic wrong versions the hints name,
and the gradients of the scalar functions the checks hand to numerical_gradient and gradient_descent.

Handed functions (grader/checks/handed.py) are referred to by their name ("bowl", "wavy", ...).
"""

import numpy as np

from ..checks import handed
from . import oracle


# ----------------------------------------------------------------------------- step, sigmoid, relu, tanh
@oracle
def step(x):
    """1 where x > 0, 0 elsewhere (int64)."""
    return (x > 0).astype(np.int64)


@oracle
def sigmoid(x):
    """1 / (1 + exp(-x)), written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@oracle
def relu(x):
    return np.maximum(x, 0.0)


@oracle
def tanh(x):
    return np.tanh(x)


@oracle
def wrong_relus(x):
    """{mistake: value}: the maximum over axis 0, the 0/1 mask, the negative part."""
    return {"max_axis0": np.max(x, axis=0), "mask": x > 0, "minimum": np.minimum(x, 0)}


# ----------------------------------------------------------------------------- softmax
@oracle
def softmax(x):
    """Softmax along the last axis, through the log-sum-exp."""
    m = x.max(axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    return np.exp(x - lse)


@oracle
def wrong_softmaxes(x):
    """{mistake: value} for the classic wrong softmaxes of x (nan where they overflow)."""
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        e = np.exp(x - x.max())
        return {
            "whole_sum_no_max": np.exp(x) / np.exp(x).sum(),
            "global_max": e / e.sum(axis=-1, keepdims=True),
            "whole_sum": e / e.sum(),
        }


# ----------------------------------------------------------------------------- mse
@oracle
def mse(y, t):
    return float(((y - t) ** 2).mean())


@oracle
def wrong_mses(y, t):
    """{mistake: value}: summed, half the sum, the root, the mean absolute error, averaged over the batch only."""
    sq = (y - t) ** 2
    wrong = {
        "sum": sq.sum(),
        "half_sum": 0.5 * sq.sum(),
        "root": np.sqrt(sq.mean()),
        "absolute": np.abs(y - t).mean(),
    }
    if y.ndim == 2:
        wrong["batch_only"] = sq.sum() / y.shape[0]
    return {key: float(value) for key, value in wrong.items()}


# ----------------------------------------------------------------------------- cross_entropy
@oracle
def cross_entropy(y, labels):
    """-mean(log y[n, labels[n]]) for (N, C) probabilities, or -log y[label] for one row and an int label."""
    if np.ndim(y) == 1:
        return float(-np.log(y[labels]))
    return float(-np.mean(np.log(y[np.arange(len(labels)), labels])))


@oracle
def wrong_cross_entropies(y, labels):
    """{mistake: value}: summed, divided by N * C, the sign flipped; for square y, int labels used as one-hot."""
    n, c = y.shape  # len(labels) == n
    picked = -np.log(y[np.arange(n), labels])
    wrong = {"sum": picked.sum(), "over_nc": picked.mean() / c, "negated": -picked.mean()}
    if n == c:
        wrong["labels_as_one_hot"] = -np.sum(labels * np.log(y)) / n
    return {key: float(value) for key, value in wrong.items()}


# ----------------------------------------------------------------------------- numerical_gradient
_GRADIENTS = {
    "bowl": lambda x: 2 * x,
    "wavy": lambda x: np.cos(x) + np.sum(x) / 2,
    "cubic": lambda x: x**2 + 1,
}


@oracle
def gradient(name, x):
    """The analytic gradient of the handed function `name` ("bowl", "wavy" or "cubic") at x."""
    return _GRADIENTS[name](x)


@oracle
def forward_differences(name, x, h):
    """One-sided differences (f(x + h e_i) - f(x)) / h of the handed function `name`."""
    f = getattr(handed, name)
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        bumped = x.copy()
        bumped[idx] += h
        grad[idx] = (f(bumped) - f(x)) / h
    return grad


@oracle
def steep_differences(x, h):
    """Differences of steep = sum(exp(x)) with step h, in closed form.

    "central" is exp(x) sinh(h) / h, exactly what central differences give; also "forward",
    "backward" and "exact" (exp(x), the limit h -> 0).
    """
    e = np.exp(x)
    return {
        "central": e * np.sinh(h) / h,
        "forward": e * (np.exp(h) - 1) / h,
        "backward": e * (1 - np.exp(-h)) / h,
        "exact": e,
    }


# ----------------------------------------------------------------------------- gradient_descent
@oracle
def valley_minimum(shape):
    """The minimum C of the handed `valley` for an x of `shape`."""
    return np.array(handed.valley_constants(tuple(shape))[1])


@oracle
def descent(x0, lr, steps):
    """Where `steps` exact gradient steps of size lr on `valley` lead from x0."""
    a, c = handed.valley_constants(x0.shape)
    return c + (1 - 2 * lr * a) ** steps * (x0 - c)


@oracle
def wrong_descents(x0, lr, steps):
    """{mistake: value}: one step too many, one too few, steps uphill, the learning rate ignored (lr = 1)."""
    a, c = handed.valley_constants(x0.shape)
    return {
        "one_more": descent(x0, lr, steps + 1),
        "one_fewer": descent(x0, lr, steps - 1),
        "uphill": c + (1 + 2 * lr * a) ** steps * (x0 - c),
        "no_lr": descent(x0, 1.0, steps),
    }
