"""Chapters 2 and 3: activation functions, losses, numerical gradients, gradient descent."""

import numpy as np

from .base import as_float_array, check_labels


def step(x):
    """Step function: 1 where x > 0, else 0. x: any shape -> int array of the same shape."""
    x = as_float_array(x)
    result = np.zeros(x.shape, dtype=int)
    result[x > 0] = 1
    return result


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow warnings.

    x: any shape -> same shape.
    """
    x = as_float_array(x)
    negative_part = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, negative_part) / (1.0 + negative_part)


def relu(x):
    """Rectified linear unit max(0, x), elementwise. x: any shape -> same shape."""
    x = as_float_array(x)
    clipped = x.copy()
    clipped[clipped < 0] = 0
    return clipped


def tanh(x):
    """Hyperbolic tangent, elementwise. x: any shape -> same shape."""
    x = as_float_array(x)
    shrink = np.expm1(-2.0 * np.abs(x))
    return np.sign(x) * -shrink / (2.0 + shrink)


def softmax(x):
    """Softmax along the last axis, stable for large inputs.

    x: (C,) or (N, C) -> same shape, each row positive and summing to 1.
    """
    x = as_float_array(x)
    peak = np.max(x, axis=-1, keepdims=True)
    weights = np.exp(x - peak)
    totals = np.sum(weights, axis=-1, keepdims=True)
    return weights / totals


def mse(y, t):
    """Mean squared error: the mean over all elements of (y - t)^2. Returns a float."""
    y, t = as_float_array(y, "y"), as_float_array(t, "t")
    if y.shape != t.shape:
        raise ValueError(f"mse: y and t must have the same shape, got {y.shape} and {t.shape}")
    residual = (y - t).ravel()
    return float(residual @ residual) / residual.size


def cross_entropy(y, t):
    """Cross-entropy of predicted probabilities `y` against targets `t`, averaged over the batch.

    y: (N, C) or (C,) probabilities; t: int labels (N,) (or a scalar label for a
    single sample) or one-hot (same shape as y). Returns a float; never log(0).
    """
    y = as_float_array(y, "y")
    t = np.asarray(t)
    if y.ndim == 1:
        y, t = y[None, :], t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    if y.ndim != 2:
        raise ValueError(f"cross_entropy expects y of shape (N, C) or (C,), got {y.shape}")
    if t.shape not in (y.shape, y.shape[:1]):
        raise ValueError(f"cross_entropy: t must be labels {y.shape[:1]} or one-hot {y.shape}, got {t.shape}")
    if t.shape == y.shape[:1]:
        check_labels(t, y.shape[1], "cross_entropy")
    labels = np.argmax(t, axis=1) if t.ndim == 2 else t.astype(int)
    picked = np.take_along_axis(y, labels.reshape(-1, 1), axis=1)
    return float(-np.log(np.clip(picked, 1e-12, None)).sum() / len(picked))


def numerical_gradient(f, x, h=1e-4):
    """Gradient of the scalar function `f` at `x` by central differences.

    f: callable taking x (any shape) and returning a number.
    x: float array of any shape; each entry is nudged in place by +h and -h,
       then restored, so x is unchanged afterwards (this lets `f` ignore its
       argument and read x through a closure, as a network's loss does).
    Returns an array of the shape of x.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numerical_gradient needs x as a float ndarray (it is nudged in place)")
    slopes = np.zeros(x.shape)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        where = it.multi_index
        saved = float(x[where])
        try:
            x[where] = saved + h
            above = f(x)
            x[where] = saved - h
            below = f(x)
        finally:
            x[where] = saved
        slopes[where] = (above - below) / (2.0 * h)
        it.iternext()
    return slopes


def gradient_descent(f, x0, lr=0.01, steps=100):
    """Minimise `f` from `x0` with `steps` plain gradient steps using `numerical_gradient`.

    x0 is not modified. Returns the final point, an array of the shape of x0.
    """
    x = as_float_array(x0, "x0").astype(np.float64, copy=True)
    remaining = steps
    while remaining > 0:
        direction = numerical_gradient(f, x)
        x -= direction * lr
        remaining -= 1
    return x
