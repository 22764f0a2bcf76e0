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
        ### BEGIN SOLUTION: stable log-softmax (subtract the row max), one-hot targets, mean of -sum(t * log p)
        n, c = scores.shape
        target = y.astype(np.float64) if y.ndim == 2 else np.eye(c)[y.astype(np.int64)]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs, self.target = np.exp(log_probs), target
        return float(-(target * log_probs).sum() / n)
        ### END SOLUTION

    def backward(self, dout=1.0):
        ### BEGIN SOLUTION: (softmax - target) / N, times dout
        n = self.probs.shape[0]
        return dout * (self.probs - self.target) / n
        ### END SOLUTION


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
        ### BEGIN SOLUTION: keep the difference for backward, return its mean square
        self.diff = pred - target
        return float(np.mean(self.diff**2))
        ### END SOLUTION

    def backward(self, dout=1.0):
        ### BEGIN SOLUTION: 2 * (pred - target) / number of elements, times dout
        return dout * 2.0 * self.diff / self.diff.size
        ### END SOLUTION
