"""Chapter 4: loss layers. `forward` returns a float; `backward(dout=1.0)` returns the
gradient with respect to the first input."""

import numpy as np

from .base import as_float_array, check_labels, expect_ndim


class SoftmaxCrossEntropy:
    """Softmax followed by cross-entropy, averaged over the batch.

    forward(scores, y): scores (N, C); y int labels (N,) or one-hot (N, C).
    backward(dout=1.0) -> dscores (N, C). Stable for very large scores.
    """

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, scores, y):
        scores = as_float_array(scores, "scores")
        expect_ndim(scores, 2, "SoftmaxCrossEntropy", "(N, C)")
        y = np.asarray(y)
        if y.shape not in (scores.shape, scores.shape[:1]):
            raise ValueError(
                f"SoftmaxCrossEntropy: y must be labels {scores.shape[:1]} "
                f"or one-hot {scores.shape}, got {y.shape}"
            )
        if y.ndim == 1:
            check_labels(y, scores.shape[1], "SoftmaxCrossEntropy")
        if y.ndim == 1:
            targets = np.zeros(scores.shape)
            targets[np.arange(len(y)), y.astype(int)] = 1.0
        else:
            targets = y.astype(float)
        top = np.max(scores, axis=1, keepdims=True)
        log_normaliser = top + np.log(np.sum(np.exp(scores - top), axis=1, keepdims=True))
        log_likelihood = scores - log_normaliser
        self.softmax = np.exp(log_likelihood)
        self.targets = targets
        per_sample = -np.sum(targets * log_likelihood, axis=1)
        return float(np.mean(per_sample))

    def backward(self, dout=1.0):
        batch = len(self.softmax)
        return (self.softmax - self.targets) * (dout / batch)


class MSELoss:
    """Mean squared error, the mean over all elements of (pred - target)^2.

    forward(pred, target): same shapes, any shape. backward(dout=1.0) -> dpred.
    """

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, pred, target):
        pred, target = as_float_array(pred, "pred"), as_float_array(target, "target")
        if pred.shape != target.shape:
            raise ValueError(
                f"MSELoss: pred and target must have the same shape, got {pred.shape} and {target.shape}"
            )
        self.error = np.subtract(pred, target)
        self.count = self.error.size
        return float(np.sum(np.square(self.error)) / self.count)

    def backward(self, dout=1.0):
        return (2.0 / self.count) * dout * self.error
