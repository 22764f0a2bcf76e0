"""Chapters 4 and 6: fully connected and elementwise layers, Flatten, Dropout, BatchNorm1d.

Every layer follows one protocol: `forward(x) -> out` caches what `backward`
needs; `backward(dout) -> dx` fills `grads` (same keys and shapes as `params`).
Neither method may modify its input array.
"""

import numpy as np

from .base import Layer, as_float_array, expect_ndim, expect_same_shape


class Affine(Layer):
    """Fully connected layer `out = x @ W + b`.

    Args:
        in_features: D, the size of one input sample.
        out_features: M, the size of one output sample.
        rng: numpy Generator used to initialise W (a fresh one if None).

    Shapes:
        params["W"]: (D, M), params["b"]: (M,)
        x: (N, D), or (N, d1, ..., dk) with d1 * ... * dk = D (each sample is flattened)
        out: (N, M); dx has the shape of x.
    """

    def __init__(self, in_features, out_features, rng=None):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        self.in_features, self.out_features = in_features, out_features
        self.params["W"] = rng.standard_normal((in_features, out_features)) / np.sqrt(in_features)
        self.params["b"] = np.zeros(out_features)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        x = as_float_array(x)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.in_features:
            raise ValueError(f"Affine expects x of shape (N, {self.in_features}), got {x.shape}")
        raise NotImplementedError("Affine.forward: flatten each sample, keep it (and the input shape) for backward, return x @ W + b")

    def backward(self, dout):
        """dout: (N, M) -> dx with the shape of the forward input; fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Affine.backward: dx = dout @ W^T (reshaped back), dW = x^T @ dout, db = dout summed over the batch")


class Relu(Layer):
    """Elementwise max(0, x). x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        raise NotImplementedError("Relu.forward: remember where x > 0, return x with the other entries zeroed")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Relu.backward: pass dout through where the input was positive, zero elsewhere")


class Sigmoid(Layer):
    """Elementwise logistic sigmoid, without overflow warnings. x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        raise NotImplementedError("Sigmoid.forward: compute 1 / (1 + exp(-x)) stably and keep the output for backward")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Sigmoid.backward: the derivative is out * (1 - out)")


class Tanh(Layer):
    """Elementwise hyperbolic tangent. x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        raise NotImplementedError("Tanh.forward: keep the output for backward")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Tanh.backward: the derivative is 1 - out^2")


class Flatten(Layer):
    """Reshape (N, d1, ..., dk) -> (N, d1 * ... * dk); backward reshapes back."""

    def forward(self, x):
        x = as_float_array(x)
        if x.ndim < 1:
            raise ValueError("Flatten expects an input of shape (N, ...), got a scalar")
        raise NotImplementedError("Flatten.forward: remember the input shape, keep the batch axis, merge the rest")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Flatten.backward: reshape dout to the remembered input shape")


class Dropout(Layer):
    """Inverted dropout.

    In training, each entry is zeroed with probability `p` and the survivors are
    scaled by 1 / (1 - p), so the expected output equals the input; in evaluation
    mode (`training` False) it is the identity. Masks are drawn from `self.rng`.

    Args:
        p: probability of zeroing an entry, 0 <= p < 1.
        rng: numpy Generator (a fresh one if None).

    x: any shape -> same shape.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must satisfy 0 <= p < 1, got {p}")
        self.p = p
        self.rng = np.random.default_rng() if rng is None else rng

    def forward(self, x):
        x = as_float_array(x)
        raise NotImplementedError("Dropout.forward: in training draw a keep-mask with P(keep) = 1 - p, scale survivors by 1/(1-p)")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Dropout.backward: apply the same mask and scale as the last forward pass")


class BatchNorm1d(Layer):
    """Batch normalisation over the batch axis of (N, D) inputs.

    Training: normalise with the batch mean and (biased) variance,
    `x_hat = (x - mean) / sqrt(var + eps)`, then scale by gamma and shift by beta,
    `out = gamma * x_hat + beta`; update the running statistics as
    `running = momentum * running + (1 - momentum) * batch_statistic`.
    Evaluation (`training` False): normalise with the running statistics.

    Shapes:
        params["gamma"], params["beta"]: (D,); running_mean, running_var: (D,)
        x: (N, D) -> out: (N, D)
    """

    def __init__(self, num_features, momentum=0.9, eps=1e-5):
        super().__init__()
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.params["gamma"] = np.ones(num_features)
        self.params["beta"] = np.zeros(num_features)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)

    def forward(self, x):
        x = as_float_array(x)
        expect_ndim(x, 2, "BatchNorm1d", f"(N, {self.num_features})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d expects x of shape (N, {self.num_features}), got {x.shape}")
        raise NotImplementedError("BatchNorm1d.forward: pick batch or running statistics, normalise, scale and shift; cache for backward")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("BatchNorm1d.backward: dgamma, dbeta by summing over the batch; dx through the batch mean and variance")
