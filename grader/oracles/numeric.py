"""Float64 central differences, and the gradients of other oracles they give."""

import numpy as np

from . import ORACLES, oracle


def numeric_gradient(f, x, h=1e-6):
    """Gradient of the scalar f at x (any shape) by central differences, in float64.

    f receives a perturbed copy of x; x itself is never modified.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        plus = f(x.copy())
        x[idx] = original - h
        minus = f(x.copy())
        x[idx] = original
        grad[idx] = (plus - minus) / (2 * h)
    return grad


@oracle
def layer_gradients(name, x, params, dout, which=None, settings=None):
    """Numerical gradients of sum(ORACLES[name](x, **params, **settings) * dout) w.r.t. x and every parameter.

    With `which` ("x" or a params key) only that gradient is computed.
    """
    forward, settings = ORACLES[name], settings or {}
    inputs = {"x": x, **params}

    def loss(key, value):
        args = {**inputs, key: value}
        return np.sum(forward(args.pop("x"), **args, **settings) * dout)

    keys = list(inputs) if which is None else [which]
    return {key: numeric_gradient(lambda v, key=key: loss(key, v), inputs[key]) for key in keys}


@oracle
def gradient(name, x, *args, **kwargs):
    """Numerical gradient of the scalar ORACLES[name](x, *args, **kwargs) w.r.t. x."""
    f = ORACLES[name]
    return numeric_gradient(lambda v: f(v, *args, **kwargs), x)
