"""Chapter 1: logic gates built from perceptrons, and the perceptron learning rule."""

import numpy as np

from .base import as_float_array


def _fires(weights, bias, inputs):
    """1 when the weighted sum of `inputs` plus `bias` is positive, else 0."""
    total = bias + sum(wi * xi for wi, xi in zip(weights, inputs, strict=True))
    return 1 if total > 0 else 0


def AND(x1, x2):
    """Return 1 if both inputs are 1, else 0, using a weighted sum and a threshold."""
    return _fires((1.0, 1.0), -1.5, (x1, x2))


def NAND(x1, x2):
    """Return 0 if both inputs are 1, else 1 (the negation of AND) with one perceptron."""
    return _fires((-1.0, -1.0), 1.5, (x1, x2))


def OR(x1, x2):
    """Return 1 if at least one input is 1, else 0, with one perceptron."""
    return _fires((1.0, 1.0), -0.5, (x1, x2))


def XOR(x1, x2):
    """Return 1 if exactly one input is 1. Build it from NAND, OR and AND (two layers)."""
    hidden_nand = NAND(x1, x2)
    hidden_or = OR(x1, x2)
    return AND(hidden_nand, hidden_or)


class Perceptron:
    """A single perceptron `y = step(x . w + b)` trained with the perceptron rule.

    Args:
        n_inputs: number of inputs D.
        lr: learning rate of the update rule.

    Attributes:
        w: weights, shape (D,), start at zero.
        b: bias, a float, starts at zero.
    """

    def __init__(self, n_inputs, lr=0.1):
        self.n_inputs = n_inputs
        self.lr = lr
        self.w = np.zeros(n_inputs)
        self.b = 0.0

    def predict(self, X):
        """X: (N, D) or (D,) -> (N,) or scalar array of 0/1 ints."""
        X = as_float_array(X, "X")
        if X.shape[-1] != self.n_inputs:
            raise ValueError(f"Perceptron expects inputs of shape (N, {self.n_inputs}), got {X.shape}")
        activation = np.dot(X, self.w) + self.b
        return np.where(activation > 0, 1, 0).astype(int)

    def fit(self, X, y, epochs=10):
        """Visit the samples in order, `epochs` times, applying the perceptron rule.

        X: (N, D), y: (N,) of 0/1. Returns the number of misclassified
        samples in each epoch (a list of length `epochs`).
        """
        X = as_float_array(X, "X")
        y = np.asarray(y)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"Perceptron.fit expects X (N, D) and y (N,), got {X.shape} and {y.shape}")
        mistakes_per_epoch = []
        n_samples = X.shape[0]
        for epoch in range(epochs):
            mistakes = 0
            for i in range(n_samples):
                error = float(y[i]) - float(self.predict(X[i]))
                if error != 0:
                    mistakes += 1
                    self.w = self.w + self.lr * error * X[i]
                    self.b = self.b + self.lr * error
            mistakes_per_epoch.append(mistakes)
        return mistakes_per_epoch
