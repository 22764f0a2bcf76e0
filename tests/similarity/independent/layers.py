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
        self.original_shape = x.shape
        self.inputs = np.reshape(x, (len(x), self.in_features))
        weights, bias = self.params["W"], self.params["b"]
        return np.dot(self.inputs, weights) + bias

    def backward(self, dout):
        """dout: (N, M) -> dx with the shape of the forward input; fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        self.grads["W"] = np.einsum("nd,nm->dm", self.inputs, dout)
        self.grads["b"] = np.einsum("nm->m", dout)
        grad_inputs = np.einsum("nm,dm->nd", dout, self.params["W"])
        return np.reshape(grad_inputs, self.original_shape)


class Relu(Layer):
    """Elementwise max(0, x). x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        self.active = x > 0
        kept = x.copy()
        kept[~self.active] = 0
        return kept

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        expect_same_shape(self.active, dout, "Relu.backward")
        passed = np.zeros_like(dout)
        passed[self.active] = dout[self.active]
        return passed


class Sigmoid(Layer):
    """Elementwise logistic sigmoid, without overflow warnings. x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        small = np.exp(-np.abs(x))
        self.y = np.where(x >= 0, 1.0 / (1.0 + small), small / (1.0 + small)).astype(x.dtype)
        return self.y

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        slope = self.y - self.y * self.y
        return slope * dout


class Tanh(Layer):
    """Elementwise hyperbolic tangent. x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        return (1.0 - np.square(self.y)) * dout


class Flatten(Layer):
    """Reshape (N, d1, ..., dk) -> (N, d1 * ... * dk); backward reshapes back."""

    def forward(self, x):
        x = as_float_array(x)
        if x.ndim < 1:
            raise ValueError("Flatten expects an input of shape (N, ...), got a scalar")
        self.original_shape = x.shape
        features = int(np.prod(x.shape[1:], dtype=np.int64))
        return np.reshape(x, (x.shape[0], features))

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        return np.reshape(dout, self.original_shape)


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
        if self.training:
            survivors = self.rng.random(x.shape) >= self.p
            self.multiplier = np.where(survivors, 1.0 / (1.0 - self.p), 0.0).astype(x.dtype)
        else:
            self.multiplier = np.ones(x.shape, dtype=x.dtype)
        return x * self.multiplier

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        return (dout * self.multiplier).astype(dout.dtype)


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
        self.used_batch = bool(self.training)
        if self.used_batch:
            centre = np.sum(x, axis=0) / x.shape[0]
            deviation = x - centre
            spread = np.sum(deviation**2, axis=0) / x.shape[0]
            keep = self.momentum
            self.running_mean = keep * self.running_mean + (1 - keep) * centre
            self.running_var = keep * self.running_var + (1 - keep) * spread
        else:
            deviation = x - self.running_mean
            spread = self.running_var
        self.std = np.sqrt(spread + self.eps)
        self.normalised = deviation / self.std
        return self.normalised * self.params["gamma"] + self.params["beta"]

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        gamma = self.params["gamma"]
        self.grads["beta"] = np.sum(dout, axis=0)
        self.grads["gamma"] = np.sum(self.normalised * dout, axis=0)
        grad_normalised = gamma * dout
        if not self.used_batch:
            return grad_normalised / self.std
        mean_grad = np.mean(grad_normalised, axis=0)
        mean_proj = np.mean(grad_normalised * self.normalised, axis=0)
        return (grad_normalised - mean_grad - self.normalised * mean_proj) / self.std
