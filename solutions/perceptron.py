"""Chapter 1: logic gates built from perceptrons, and the perceptron learning rule."""

import numpy as np

from .base import as_float_array


def AND(x1, x2):
    """Return 1 if both inputs are 1, else 0, using a weighted sum and a threshold."""
    ### BEGIN SOLUTION: choose weights w and bias b so that w . (x1, x2) + b > 0 only for (1, 1)
    w, b = np.array([0.5, 0.5]), -0.7
    return int(np.dot(w, [x1, x2]) + b > 0)
    ### END SOLUTION


def NAND(x1, x2):
    """Return 0 if both inputs are 1, else 1 (the negation of AND) with one perceptron."""
    ### BEGIN SOLUTION: same perceptron as AND with the signs of the weights and bias flipped
    w, b = np.array([-0.5, -0.5]), 0.7
    return int(np.dot(w, [x1, x2]) + b > 0)
    ### END SOLUTION


def OR(x1, x2):
    """Return 1 if at least one input is 1, else 0, with one perceptron."""
    ### BEGIN SOLUTION: like AND with a bias that lets a single 1 cross the threshold
    w, b = np.array([0.5, 0.5]), -0.2
    return int(np.dot(w, [x1, x2]) + b > 0)
    ### END SOLUTION


def XOR(x1, x2):
    """Return 1 if exactly one input is 1. Build it from NAND, OR and AND (two layers)."""
    ### BEGIN SOLUTION: combine the outputs of NAND and OR with AND
    return AND(NAND(x1, x2), OR(x1, x2))
    ### END SOLUTION


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
        ### BEGIN SOLUTION: threshold the weighted sum x . w + b at zero
        return (X @ self.w + self.b > 0).astype(np.int64)
        ### END SOLUTION

    def fit(self, X, y, epochs=10):
        """Visit the samples in order, `epochs` times, applying the perceptron rule.

        X: (N, D), y: (N,) of 0/1. Returns the number of misclassified
        samples in each epoch (a list of length `epochs`).
        """
        X = as_float_array(X, "X")
        y = np.asarray(y)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"Perceptron.fit expects X (N, D) and y (N,), got {X.shape} and {y.shape}")
        ### BEGIN SOLUTION: for each sample move w and b by lr * (target - prediction) * input
        errors = []
        for _ in range(epochs):
            wrong = 0
            for xi, target in zip(X, y, strict=True):
                delta = target - self.predict(xi)
                self.w += self.lr * delta * xi
                self.b += self.lr * delta
                wrong += int(delta != 0)
            errors.append(wrong)
        return errors
        ### END SOLUTION
