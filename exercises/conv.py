"""Chapter 7: convolution, max pooling and average pooling on (N, C, H, W) inputs.

Output size along one axis: (H + 2 * padding - kernel_size) // stride + 1.
"""

import numpy as np

from .base import Layer, as_float_array, expect_ndim, int_at_least


def output_size(size, kernel_size, stride, padding, owner):
    """Spatial output size, with a clear error when the kernel does not fit."""
    padded = size + 2 * padding
    if kernel_size > padded:
        raise ValueError(f"{owner}: kernel_size {kernel_size} is larger than the padded input ({padded})")
    return (padded - kernel_size) // stride + 1


# helper functions of your own (e.g. im2col) may go here


class Conv2d(Layer):
    """2-D cross-correlation (as in PyTorch) with zero padding.

    Args:
        in_channels: C. out_channels: F. kernel_size: K (square kernels).
        stride: S. padding: P zeros on every side. rng: Generator for W's initial values.

    Shapes:
        params["W"]: (F, C, K, K), params["b"]: (F,)
        x: (N, C, H, W) -> out: (N, F, H', W') with H' = (H + 2P - K) // S + 1
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
        super().__init__()
        self.in_channels = int_at_least(in_channels, 1, "in_channels", "Conv2d")
        self.out_channels = int_at_least(out_channels, 1, "out_channels", "Conv2d")
        self.kernel_size = int_at_least(kernel_size, 1, "kernel_size", "Conv2d")
        self.stride = int_at_least(stride, 1, "stride", "Conv2d")
        self.padding = int_at_least(padding, 0, "padding", "Conv2d")
        rng = np.random.default_rng() if rng is None else rng
        fan_in = in_channels * kernel_size * kernel_size
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.params["W"] = rng.standard_normal(shape) / np.sqrt(fan_in)
        self.params["b"] = np.zeros(out_channels)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        x = as_float_array(x)
        expect_ndim(x, 4, "Conv2d", "(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expects x of shape (N, {self.in_channels}, H, W), got {x.shape}")
        for size in x.shape[2:]:
            output_size(size, self.kernel_size, self.stride, self.padding, "Conv2d")
        raise NotImplementedError("Conv2d.forward: pad, take every window, contract windows with W over (C, K, K), add b")

    def backward(self, dout):
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("Conv2d.backward: db sums dout over N, H', W'; dW contracts dout with the windows; dx scatters dout @ W back and crops the padding")


class MaxPool2d(Layer):
    """Max pooling over K x K windows with stride S (S defaults to K).

    x: (N, C, H, W) -> out: (N, C, H', W') with H' = (H - K) // S + 1.
    Backward sends each window's gradient to the first position of its maximum;
    overlapping windows add up.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = int_at_least(kernel_size, 1, "kernel_size", "MaxPool2d")
        self.stride = self.kernel_size if stride is None else int_at_least(stride, 1, "stride", "MaxPool2d")

    def forward(self, x):
        x = as_float_array(x)
        expect_ndim(x, 4, "MaxPool2d", "(N, C, H, W)")
        for size in x.shape[2:]:
            output_size(size, self.kernel_size, self.stride, 0, "MaxPool2d")
        raise NotImplementedError("MaxPool2d.forward: take every window, remember where each maximum sits, return the maxima")

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("MaxPool2d.backward: route each dout entry to its window's argmax, adding where windows overlap")


class AvgPool2d(Layer):
    """Average pooling over K x K windows with stride S (S defaults to K).

    x: (N, C, H, W) -> out: (N, C, H', W') with H' = (H - K) // S + 1, each output the
    mean of the K * K cells of its window. Backward gives every cell of a window an equal
    share dout / (K * K) of that window's gradient; overlapping windows add up, and cells
    in no window get 0.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = int_at_least(kernel_size, 1, "kernel_size", "AvgPool2d")
        self.stride = self.kernel_size if stride is None else int_at_least(stride, 1, "stride", "AvgPool2d")

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, C, H', W')."""
        x = as_float_array(x)
        expect_ndim(x, 4, "AvgPool2d", "(N, C, H, W)")
        for size in x.shape[2:]:
            output_size(size, self.kernel_size, self.stride, 0, "AvgPool2d")
        raise NotImplementedError("AvgPool2d.forward: average every K x K window (window (i, j) starts at (i * S, j * S))")

    def backward(self, dout):
        """dout: (N, C, H', W') -> dx: (N, C, H, W)."""
        dout = as_float_array(dout, "dout")
        raise NotImplementedError("AvgPool2d.backward: give each cell of a window dout / (K * K), adding where windows overlap")
