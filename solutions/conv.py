"""Chapter 7: convolution and max pooling on (N, C, H, W) inputs.

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


### BEGIN SOLUTION: helper functions of your own (e.g. im2col) may go here
def windows(x, kernel_size, stride):
    """View of every kernel window: x (N, C, H, W) -> (N, C, H', W', K, K), no copy."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def scatter_windows(dwin, x_shape, stride):
    """Adjoint of `windows`: add dwin (N, C, H', W', K, K) back into an array of x_shape."""
    dx = np.zeros(x_shape, dtype=dwin.dtype)
    out_h, out_w, k = dwin.shape[2], dwin.shape[3], dwin.shape[4]
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride] += dwin[
                :, :, :, :, i, j
            ]
    return dx


### END SOLUTION


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
        ### BEGIN SOLUTION: pad, take every window, contract windows with W over (C, K, K), add b
        p = self.padding
        self.x_shape = x.shape
        self.x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        cols = windows(self.x_padded, self.kernel_size, self.stride)
        out = np.tensordot(cols, self.params["W"], axes=([1, 4, 5], [1, 2, 3]))
        return out.transpose(0, 3, 1, 2) + self.params["b"][None, :, None, None]
        ### END SOLUTION

    def backward(self, dout):
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: db sums dout over N, H', W'; dW contracts dout with the windows; dx scatters dout @ W back and crops the padding
        cols = windows(self.x_padded, self.kernel_size, self.stride)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        self.grads["W"] = np.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))
        dcols = np.tensordot(dout, self.params["W"], axes=([1], [0]))
        dx_padded = scatter_windows(dcols.transpose(0, 3, 1, 2, 4, 5), self.x_padded.shape, self.stride)
        p, (h, w) = self.padding, self.x_shape[2:]
        return dx_padded[:, :, p : p + h, p : p + w]
        ### END SOLUTION


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
        ### BEGIN SOLUTION: take every window, remember where each maximum sits, return the maxima
        k = self.kernel_size
        win = windows(x, k, self.stride)
        flat = win.reshape(*win.shape[:4], k * k)
        self.argmax = flat.argmax(axis=-1)
        self.x_shape = x.shape
        return np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: route each dout entry to its window's argmax, adding where windows overlap
        k = self.kernel_size
        one_hot = self.argmax[..., None] == np.arange(k * k)
        dwin = (dout[..., None] * one_hot).reshape(*dout.shape, k, k)
        return scatter_windows(dwin, self.x_shape, self.stride)
        ### END SOLUTION
