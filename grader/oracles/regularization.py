"""BatchNorm1d from its definition, in float64, and the known-wrong variants the hints recognise.

Dropout has no oracle: its checks compare the student's output with relations on the
student's own mask (which entries are zero, how survivors are scaled).
"""

import numpy as np

from . import oracle

BN_EPS = 1e-10  # the checks' eps: the default, for the numerical gradients of `bn_train`


def _normalise(x, gamma, beta, mean, var, eps):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


@oracle
def bn_train(x, gamma, beta, eps=BN_EPS, ddof=0):
    """Training mode: statistics per feature over the batch axis (biased variance unless ddof=1)."""
    return _normalise(x, gamma, beta, x.mean(axis=0), x.var(axis=0, ddof=ddof), eps)


@oracle
def bn_train_eps_outside(x, gamma, beta, eps):
    """Training mode with eps added to the standard deviation instead of the variance (a mistake)."""
    return gamma * (x - x.mean(axis=0)) / (x.std(axis=0) + eps) + beta


@oracle
def bn_train_mistakes(x, gamma, beta, eps=BN_EPS):
    """Known-wrong training forwards: name -> output ("axis 1 broadcast" only for a square x)."""
    d = x.shape[1]
    per_sample = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    mistakes = {
        "per sample": gamma * per_sample + beta,
        "whole batch": gamma * (x - x.mean()) / np.sqrt(x.var() + eps) + beta,
        "unbiased variance": bn_train(x, gamma, beta, eps=eps, ddof=1),
        "initial running statistics": _normalise(x, gamma, beta, np.zeros(d), np.ones(d), eps),
        "updated running statistics": _normalise(
            x, gamma, beta, 0.1 * x.mean(axis=0), 0.9 + 0.1 * x.var(axis=0), eps
        ),
        "no gamma, beta": bn_train(x, 1.0, 0.0, eps=eps),
    }
    if x.shape[0] == d:  # a mean over axis 1 without keepdims broadcasts along the features
        mistakes["axis 1 broadcast"] = gamma * (x - x.mean(axis=1)) / np.sqrt(x.var(axis=1) + eps) + beta
    return mistakes


@oracle
def bn_dx(x, dout, gamma, mean=None, var=None, eps=BN_EPS):
    """Closed-form training-mode dx (used only to recognise mistakes); mean, var default to the batch's."""
    n = x.shape[0]
    mean = x.mean(axis=0) if mean is None else mean
    inv_std = 1 / np.sqrt((x.var(axis=0) if var is None else var) + eps)
    x_hat = (x - mean) * inv_std
    dx_hat = dout * gamma
    return inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))


@oracle
def bn_gradient_mistakes(x, dout, gamma, eps=BN_EPS):
    """Known-wrong training-mode gradients: name -> value."""
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    return {
        "dx, constant statistics": dout * gamma / np.sqrt(x.var(axis=0) + eps),
        "dx, no gamma": bn_dx(x, dout, 1.0, eps=eps),
        "dgamma with x": (dout * x).sum(axis=0),
        "dgamma mean": (dout * x_hat).mean(axis=0),
        "dbeta mean": dout.mean(axis=0),
    }


_STATISTICS = {
    "mean": lambda x: x.mean(axis=0),
    "var": lambda x: x.var(axis=0),
    "unbiased var": lambda x: x.var(axis=0, ddof=1),
    "std": lambda x: x.std(axis=0),
}


@oracle
def batch_statistics(batches, statistic):
    """The per-feature `statistic` ("mean", "var", "unbiased var", "std") of each batch."""
    return [_STATISTICS[statistic](x) for x in batches]


@oracle
def running_sequence(batches, statistic, initial, momentum):
    """The running value after each batch: running = momentum * running + (1 - momentum) * statistic(x)."""
    running, out = initial, []
    for value in batch_statistics(batches, statistic):
        running = momentum * running + (1 - momentum) * value
        out.append(running)
    return out


@oracle
def bn_eval(x, gamma, beta, running_mean, running_var, eps=BN_EPS):
    """Eval mode: normalised with the running statistics."""
    return _normalise(x, gamma, beta, running_mean, running_var, eps)


@oracle
def bn_eval_mistakes(x, gamma, beta, running_mean, running_var, momentum, eps=BN_EPS):
    """Known-wrong eval-mode forwards: name -> output."""
    rm, rv, mom = running_mean, running_var, momentum
    return {
        "batch statistics": bn_train(x, gamma, beta, eps=eps),
        "statistics updated": _normalise(
            x, gamma, beta, mom * rm + (1 - mom) * x.mean(0), mom * rv + (1 - mom) * x.var(0), eps
        ),
        "divided by var": gamma * (x - rm) / (rv + eps) + beta,
        "eps outside the root": gamma * (x - rm) / (np.sqrt(rv) + eps) + beta,
        "no gamma, beta": (x - rm) / np.sqrt(rv + eps),
    }


@oracle
def bn_eval_gradients(x, dout, gamma, running_mean, running_var, eps=BN_EPS):
    """Eval-mode gradients (the statistics are constants): {"dx": ..., "dgamma": ...}."""
    return {
        "dx": dout * gamma / np.sqrt(running_var + eps),
        "dgamma": (dout * (x - running_mean) / np.sqrt(running_var + eps)).sum(axis=0),
    }
