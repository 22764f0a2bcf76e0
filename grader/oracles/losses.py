"""SoftmaxCrossEntropy and MSELoss from their definitions (scipy's log_softmax), and the
known-wrong answers their checks recognise."""

import numpy as np
from scipy.special import log_softmax, softmax

from . import oracle


# ----------------------------------------------------------------------------- SoftmaxCrossEntropy
@oracle
def ce(scores, t, scale=1.0):
    """scale times the mean cross-entropy of softmax(scores) (N, C) against one-hot t (N, C)."""
    return scale * float(-(t * log_softmax(scores, axis=1)).sum() / len(scores))


@oracle
def ce_grad(scores, t):
    """d ce / d scores in closed form: (softmax(scores) - t) / N."""
    return (softmax(scores, axis=1) - t) / len(scores)


def _one_hot(y, c):
    return np.eye(c)[y]


@oracle
def ce_forward_mistakes(scores, labels):
    """Known-wrong loss values for scores (N, C) and int labels (N,).

    "labels_as_onehot" (labels (N,) broadcast against the columns as if they were one-hot
    rows) is None unless N is C or 1.
    """
    n, c = scores.shape
    t = _one_hot(labels, c)
    per_sample = -(t * log_softmax(scores, axis=1)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = softmax(scores, axis=1)
        log_eps = [-(t * np.log(p + eps)).sum() / n for eps in (1e-7, 1e-8, 1e-10, 1e-12)]
    return {
        "summed": per_sample.sum(),
        "classes_averaged": per_sample.mean() / c,
        "sign_flipped": -per_sample.mean(),
        "log_p_plus_eps": log_eps,
        "labels_as_onehot": -(log_softmax(scores, axis=1) * labels).sum() / n if n in (c, 1) else None,
        "softmax_over_batch": -(t * log_softmax(scores, axis=0)).sum() / n if n > 1 else None,
    }


@oracle
def ce_backward_mistakes(scores, target, dout):
    """Known-wrong gradients for scores (N, C), one-hot target (N, C) and upstream dout.

    "minus_scores" has one candidate per scale (dout, then 1.0 when dout != 1);
    "labels_as_onehot" is None unless N is C or 1, "ignores_dout" None when dout == 1.
    """
    batch = len(scores)
    probs = softmax(scores, axis=1)
    right = (probs - target) / batch
    labels, c = target.argmax(axis=1), target.shape[1]
    return {
        "minus_scores": [
            scale * (probs - scores) / batch for scale in ((dout, 1.0) if dout != 1.0 else (1.0,))
        ],
        "no_target": dout * probs / batch,
        "raw_scores": dout * (scores - target) / batch,
        "softmax_over_batch": dout * (softmax(scores, axis=0) - target) / batch if batch > 1 else None,
        "labels_as_onehot": dout * (probs - labels) / batch if batch in (c, 1) else None,
        "ignores_dout": right if dout != 1.0 else None,
    }


# ----------------------------------------------------------------------------- MSELoss
@oracle
def mse(pred, target, scale=1.0):
    """scale times the mean over all elements of (pred - target) ** 2."""
    return float(scale * np.mean((pred - target) ** 2))


@oracle
def mse_forward_mistakes(pred, target):
    """Known-wrong loss values: other divisors and the 0.5 * sum conventions."""
    sq = ((pred - target) ** 2).sum()
    n = pred.shape[0]
    return {"per_sample": sq / n, "half_sum": 0.5 * sq, "half_per_sample": 0.5 * sq / n, "summed": sq}


@oracle
def mse_backward_mistakes(pred, target, dout):
    """Known-wrong gradients of mean((pred - target) ** 2) times dout; "ignores_dout" None when dout == 1."""
    diff, n, size = pred - target, pred.shape[0], pred.size
    return {
        "per_sample": dout * 2 * diff / n,
        "no_factor_2": dout * diff / size,
        "sign_flipped": -dout * 2 * diff / size,
        "half_sum": dout * diff,
        "half_per_sample": dout * diff / n,
        "summed": dout * 2 * diff,
        "ignores_dout": 2 * diff / size if dout != 1.0 else None,
    }
