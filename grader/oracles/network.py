"""The grader's own numpy network: forward, backward, cross-entropy and a reference SGD fit.

A network is a spec, a list of ("Affine", D, M), ("Tanh",) or ("Relu",), and a flat params
dict keyed like Sequential.params: "<layer index>.W", "<layer index>.b". Also the values
the sanity tests of Sequential's parts (Affine, Tanh, Relu, SoftmaxCrossEntropy, SGD) expect.
"""

import numpy as np
from scipy.special import log_softmax, softmax

from . import oracle


def _forward(x, spec, params):
    """(output, the input of every layer)."""
    inputs = []
    for i, (layer, *_) in enumerate(spec):
        inputs.append(x)
        if layer == "Affine":
            x = x.reshape(len(x), -1) @ params[f"{i}.W"] + params[f"{i}.b"]
        elif layer == "Tanh":
            x = np.tanh(x)
        else:
            x = np.maximum(x, 0.0)
    return x, inputs


def _layer_backward(i, layer, x_in, params, dout, grads):
    """Gradient w.r.t. the input of layer i; fills grads for an Affine."""
    if layer == "Affine":
        grads[f"{i}.W"] = x_in.reshape(len(x_in), -1).T @ dout
        grads[f"{i}.b"] = dout.sum(axis=0)
        return (dout @ params[f"{i}.W"].T).reshape(x_in.shape)
    if layer == "Tanh":
        return dout * (1.0 - np.tanh(x_in) ** 2)
    return dout * (x_in > 0)


def _backward(inputs, spec, params, dout, order="reverse"):
    """(dx, grads) by backpropagation; order "forward" or "unchained" reproduces a mistake."""
    grads, d = {}, dout
    indices = range(len(spec)) if order == "forward" else reversed(range(len(spec)))
    for i in indices:
        d = _layer_backward(i, spec[i][0], inputs[i], params, dout if order == "unchained" else d, grads)
    return d, grads


@oracle
def ce_loss_and_grad(scores, labels):
    """(mean softmax cross-entropy of (N, C) scores, its gradient w.r.t. the scores)."""
    rows = np.arange(len(scores))
    loss = -log_softmax(scores, axis=1)[rows, labels].mean()
    dscores = softmax(scores, axis=1)
    dscores[rows, labels] -= 1.0
    return float(loss), dscores / len(scores)


@oracle
def forward(x, spec, **params):
    """The output of the network `spec` with `params` (keyed "<layer index>.W"/".b") on x."""
    return _forward(x, spec, params)[0]


@oracle
def predict(x, spec, **params):
    """The class labels the network predicts on x: the argmax over axis 1 of its (N, C) output, shape (N,)."""
    return np.argmax(_forward(x, spec, params)[0], axis=1)


@oracle
def backward(x, spec, params, dout, order="reverse"):
    """(dx, grads) of the network on x with upstream dout, or None when the shapes do not allow `order`.

    order "reverse" is right; "forward" (layers in forward order) and "unchained" (every
    layer gets the original dout) reproduce two mistakes, for hints.
    """
    _, inputs = _forward(x, spec, params)
    try:
        return _backward(inputs, spec, params, dout, order)
    except ValueError:  # the shapes only allow this mistake in a square network
        return None


@oracle
def fit(spec, params, X, y, lr, epochs, batch_size, mistake=None):
    """(losses, final params) of mini-batch SGD in the sample order, as Sequential.fit with shuffle=False.

    mistake "step_first" calls the optimizer before backward: each update then uses the
    previous step's gradients (zero at first), and backward sees the updated weights;
    "loss_after_step" records each batch's loss computed again after its update.
    """
    params = {k: v.copy() for k, v in params.items()}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            out, inputs = _forward(xb, spec, params)
            loss, dout = ce_loss_and_grad(out, yb)
            losses.append(loss)
            if mistake == "step_first":
                params = {k: p - lr * grads[k] for k, p in params.items()}
                grads = _backward(inputs, spec, params, dout)[1]
            else:
                grads = _backward(inputs, spec, params, dout)[1]
                params = {k: p - lr * grads[k] for k, p in params.items()}
            if mistake == "loss_after_step":
                losses[-1] = ce_loss_and_grad(_forward(xb, spec, params)[0], yb)[0]
    return losses, params


@oracle
def he_params(spec, seed):
    """He-scaled weights (std sqrt(2 / fan_in)) and zero biases for every Affine of `spec`."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (layer, *dims) in enumerate(spec):
        if layer == "Affine":
            params[f"{i}.W"] = rng.standard_normal(dims) * np.sqrt(2.0 / dims[0])
            params[f"{i}.b"] = np.zeros(dims[1])
    return params


# ----------------------------------------------------------------------------- the sanity tests' values
@oracle
def affine_layer(x, W, b, dout):
    """(out, dx, dW, db) of an Affine layer."""
    return x @ W + b, dout @ W.T, x.T @ dout, dout.sum(axis=0)


@oracle
def elementwise_layer(kind, x, dout):
    """(out, dx) of a "Tanh" or "Relu" layer."""
    if kind == "Tanh":
        return np.tanh(x), dout * (1.0 - np.tanh(x) ** 2)
    return np.maximum(x, 0.0), dout * ((x > 0) * 1.0)


@oracle
def sgd_step(w, g, lr):
    """The weights after one plain SGD step."""
    return w - lr * g
