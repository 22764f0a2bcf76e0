"""Chapters 2 and 3: activation functions, losses, numerical gradients, gradient descent."""

import numpy as np

from .base import as_float_array, check_labels


def step(x):
    """Step function: 1 where x > 0, else 0. x: any shape -> int array of the same shape."""
    x = as_float_array(x)
    raise NotImplementedError("step: compare with zero and convert the booleans to ints")


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow warnings.

    x: any shape -> same shape.
    """
    x = as_float_array(x)
    raise NotImplementedError("sigmoid: use exp(-x) where x >= 0 and exp(x) / (1 + exp(x)) where x < 0")


def relu(x):
    """Rectified linear unit max(0, x), elementwise. x: any shape -> same shape."""
    x = as_float_array(x)
    raise NotImplementedError("relu: keep positive entries, zero the rest")


def tanh(x):
    """Hyperbolic tangent, elementwise. x: any shape -> same shape."""
    x = as_float_array(x)
    raise NotImplementedError("tanh: (e^x - e^-x) / (e^x + e^-x), computed without overflow")


def softmax(x):
    """Softmax along the last axis, stable for large inputs.

    x: (C,) or (N, C) -> same shape, each row positive and summing to 1.
    """
    x = as_float_array(x)
    raise NotImplementedError("softmax: subtract the row max before exponentiating, then normalise each row")


def mse(y, t):
    """Mean squared error: the mean over all elements of (y - t)^2. Returns a float."""
    y, t = as_float_array(y, "y"), as_float_array(t, "t")
    if y.shape != t.shape:
        raise ValueError(f"mse: y and t must have the same shape, got {y.shape} and {t.shape}")
    raise NotImplementedError("mse: square the differences and average over every element")


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
    raise NotImplementedError("cross_entropy: pick the probability of the true class per row, average -log of it")


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
    raise NotImplementedError("numerical_gradient: for every index, (f(x + h e_i) - f(x - h e_i)) / 2h, restoring x[i] after")


def gradient_descent(f, x0, lr=0.01, steps=100):
    """Minimise `f` from `x0` with `steps` plain gradient steps using `numerical_gradient`.

    x0 is not modified. Returns the final point, an array of the shape of x0.
    """
    x = as_float_array(x0, "x0").astype(np.float64, copy=True)
    raise NotImplementedError("gradient_descent: repeat x <- x - lr * gradient of f at x")
