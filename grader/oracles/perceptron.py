"""The logic gates' truth tables, the perceptron's prediction and its learning rule."""

import numpy as np

from . import oracle


@oracle
def truth_tables():
    """{name: outputs for the inputs (0, 0), (0, 1), (1, 0), (1, 1), in order}: the gates and their usual confusions."""
    return {
        "AND": (0, 0, 0, 1),
        "NAND": (1, 1, 1, 0),
        "OR": (0, 1, 1, 1),
        "NOR": (1, 0, 0, 0),
        "XOR": (0, 1, 1, 0),
        "XNOR": (1, 0, 0, 1),
        "a constant 0": (0, 0, 0, 0),
        "a constant 1": (1, 1, 1, 1),
        "x1 alone": (0, 0, 1, 1),
        "x2 alone": (0, 1, 0, 1),
    }


@oracle
def predict(X, w, b):
    """1 where x . w + b > 0, else 0, for every row x of X (int64)."""
    return (X @ w + b > 0).astype(np.int64)


@oracle
def rule(X, y, lr, epochs, fire_at_zero=False, sign=1, bias=True):
    """The perceptron rule from zero weights, visiting the samples in order.

    fire_at_zero: predict 1 when x . w + b == 0 (some books threshold with >= 0).
    sign and bias describe wrong variants (sign -1: update with prediction - target; bias False: b frozen).
    Returns (w, b, mistakes counted during each epoch, mistakes of the weights at the end of each epoch).
    """
    w, b = np.zeros(X.shape[1]), 0.0
    during, after = [], []

    def predict_(x):
        z = x @ w + b
        return ((z >= 0) if fire_at_zero else (z > 0)).astype(np.int64)

    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y, strict=True):
            delta = sign * (target - int(predict_(xi)))
            w = w + lr * delta * xi
            b = b + lr * delta if bias else b
            wrong += int(delta != 0)
        during.append(wrong)
        after.append(int(np.sum(predict_(X) != y)))
    return w, b, during, after
