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
        ### BEGIN SOLUTION: flatten each sample, keep it (and the input shape) for backward, return x @ W + b
        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.params["W"] + self.params["b"]
        ### END SOLUTION

    def backward(self, dout):
        """dout: (N, M) -> dx with the shape of the forward input; fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: dx = dout @ W^T (reshaped back), dW = x^T @ dout, db = dout summed over the batch
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return (dout @ self.params["W"].T).reshape(self.x_shape)
        ### END SOLUTION


class Relu(Layer):
    """Elementwise max(0, x). x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        ### BEGIN SOLUTION: remember where x > 0, return x with the other entries zeroed
        self.mask = x > 0
        return np.where(self.mask, x, 0.0).astype(x.dtype)
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: pass dout through where the input was positive, zero elsewhere
        expect_same_shape(self.mask, dout, "Relu.backward")
        return np.where(self.mask, dout, 0.0).astype(dout.dtype)
        ### END SOLUTION


class Sigmoid(Layer):
    """Elementwise logistic sigmoid, without overflow warnings. x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        ### BEGIN SOLUTION: compute 1 / (1 + exp(-x)) stably and keep the output for backward
        self.out = np.exp(-np.logaddexp(0.0, -x))
        return self.out
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: the derivative is out * (1 - out)
        return dout * self.out * (1.0 - self.out)
        ### END SOLUTION


class Tanh(Layer):
    """Elementwise hyperbolic tangent. x: any shape -> same shape."""

    def forward(self, x):
        x = as_float_array(x)
        ### BEGIN SOLUTION: keep the output for backward
        self.out = np.tanh(x)
        return self.out
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: the derivative is 1 - out^2
        return dout * (1.0 - self.out**2)
        ### END SOLUTION


class Flatten(Layer):
    """Reshape (N, d1, ..., dk) -> (N, d1 * ... * dk); backward reshapes back."""

    def forward(self, x):
        x = as_float_array(x)
        if x.ndim < 1:
            raise ValueError("Flatten expects an input of shape (N, ...), got a scalar")
        ### BEGIN SOLUTION: remember the input shape, keep the batch axis, merge the rest
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: reshape dout to the remembered input shape
        return dout.reshape(self.x_shape)
        ### END SOLUTION


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
        ### BEGIN SOLUTION: in training draw a keep-mask with P(keep) = 1 - p, scale survivors by 1/(1-p)
        if not self.training:
            self.scale = None
            return x.copy()
        keep = self.rng.random(x.shape) >= self.p
        self.scale = keep / (1.0 - self.p)
        return (x * self.scale).astype(x.dtype)
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: apply the same mask and scale as the last forward pass
        if self.scale is None:
            return dout.copy()
        return (dout * self.scale).astype(dout.dtype)
        ### END SOLUTION


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
        ### BEGIN SOLUTION: pick batch or running statistics, normalise, scale and shift; cache for backward
        if self.training:
            mean, var = x.mean(axis=0), x.var(axis=0)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mean, var = self.running_mean, self.running_var
        self.batch_stats = self.training
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mean) * self.inv_std
        return self.params["gamma"] * self.x_hat + self.params["beta"]
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: dgamma, dbeta by summing over the batch; dx through the batch mean and variance
        self.grads["gamma"] = (dout * self.x_hat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dx_hat = dout * self.params["gamma"]
        if not self.batch_stats:
            return dx_hat * self.inv_std
        n = dout.shape[0]
        return (self.inv_std / n) * (
            n * dx_hat - dx_hat.sum(axis=0) - self.x_hat * (dx_hat * self.x_hat).sum(axis=0)
        )
        ### END SOLUTION
