"""Affine, the elementwise activations and Flatten from their definitions, and the known-wrong
answers their checks recognise."""

import numpy as np

from . import functions, oracle


# ----------------------------------------------------------------------------- Affine
@oracle
def affine(x, W, b):
    """x (N, ...) flattened per sample to (N, D), times W (D, M), plus b (M,)."""
    return x.reshape(x.shape[0], -1) @ W + b


@oracle
def affine_no_bias(x, W):
    """Affine without its bias: x (N, ...) flattened per sample, times W."""
    return x.reshape(len(x), -1) @ W


@oracle
def affine_dw_transposed(x, dout):
    """dout.T @ x: the transpose of the weight gradient (M, D) instead of (D, M)."""
    return dout.T @ x


@oracle
def affine_db_mean(dout):
    """The bias gradient averaged over the batch instead of summed."""
    return dout.mean(axis=0)


# ----------------------------------------------------------------------------- elementwise
@oracle
def relu(x):
    """The Relu layer's forward: the relu function."""
    return functions.relu(x)


@oracle
def sigmoid(x):
    """The Sigmoid layer's forward: the sigmoid function."""
    return functions.sigmoid(x)


@oracle
def tanh(x):
    """The Tanh layer's forward: the tanh function."""
    return functions.tanh(x)


@oracle
def relu_grad_times_x(x, dout):
    """dout multiplied by relu(x) instead of by the 0/1 mask."""
    return dout * np.maximum(x, 0)


@oracle
def relu_grad_inverted(x, dout):
    """dout kept where x <= 0: the mask inverted."""
    return dout * (x <= 0)


@oracle
def sigmoid_grad_of_x(x, dout):
    """out * (1 - out) with x in place of out = sigmoid(x)."""
    return dout * x * (1 - x)


@oracle
def tanh_grad_of_x(x, dout):
    """1 - out**2 with x in place of out = tanh(x)."""
    return dout * (1 - x**2)


@oracle
def relu_grad_masked_by_dout(x, dout):
    """dout kept where dout > 0: the mask taken from dout instead of from x."""
    return dout * (dout > 0)


@oracle
def sigmoid_grad_plus(x, dout):
    """out * (1 + out): a sign slip in the derivative."""
    out = 1 / (1 + np.exp(-x))
    return dout * out * (1 + out)


@oracle
def tanh_grad_no_square(x, dout):
    """1 - out: the square of out missing."""
    return dout * (1 - np.tanh(x))


# ----------------------------------------------------------------------------- Flatten
@oracle
def flatten(x):
    """One row per sample: (N, ...) -> (N, D)."""
    return x.reshape(x.shape[0], -1)


@oracle
def unflatten(dout, shape):
    """dout (N, D) back to the forward input's shape."""
    return dout.reshape(shape)
