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


### BEGIN SOLUTION: helper functions of your own (e.g. im2col) may go here
def pad(x, padding):
    """x: (N, C, H, W) -> (N, C, H + 2P, W + 2P), with P zeros on every side of H and W."""
    n, c, h, w = x.shape
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)  # (N, C, Hp, Wp)
    padded[:, :, padding : padding + h, padding : padding + w] = x  # the middle (N, C, H, W)
    return padded


def im2col(x_padded, kernel_size, stride, out_h, out_w):
    """Every window as a column: x_padded (N, C, Hp, Wp) -> cols (C * K * K, N * H' * W').

    cols[(c, u, v), (n, i, j)] = x_padded[n, c, i * S + u, j * S + v]: column (n, i, j) is
    window (i, j) of sample n, its entries in the order of W[f].ravel().
    """
    n, c = x_padded.shape[:2]
    k, s = kernel_size, stride
    cols = np.empty((c, k, k, n, out_h, out_w), dtype=x_padded.dtype)  # (C, K, K, N, H', W')
    for u in range(k):
        for v in range(k):
            entry = x_padded[:, :, u : u + s * out_h : s, v : v + s * out_w : s]  # (N, C, H', W')
            cols[:, u, v] = entry.transpose(1, 0, 2, 3)  # (C, N, H', W')
    return cols.reshape(c * k * k, n * out_h * out_w)


def col2im(dcols, padded_shape, kernel_size, stride, out_h, out_w):
    """The adjoint of im2col: dcols (C * K * K, N * H' * W') -> dx_padded (N, C, Hp, Wp).

    Every entry is added back to the cell it was copied from: where windows overlap
    (stride < K), their contributions add up.
    """
    n, c = padded_shape[:2]
    k, s = kernel_size, stride
    dcols = dcols.reshape(c, k, k, n, out_h, out_w)  # (C, K, K, N, H', W')
    dx_padded = np.zeros(padded_shape, dtype=dcols.dtype)  # (N, C, Hp, Wp)
    for u in range(k):
        for v in range(k):
            entry = dcols[:, u, v].transpose(1, 0, 2, 3)  # (N, C, H', W')
            dx_padded[:, :, u : u + s * out_h : s, v : v + s * out_w : s] += entry
    return dx_padded


def windows(x, kernel_size, stride):
    """View of every pooling window: x (N, C, H, W) -> (N, C, H', W', K, K), no copy."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def scatter_windows(dwin, x_shape, stride):
    """The adjoint of `windows`: dwin (N, C, H', W', K, K) -> dx of x_shape (N, C, H, W).

    Where windows overlap (stride < K), their contributions add up.
    """
    dx = np.zeros(x_shape, dtype=dwin.dtype)  # (N, C, H, W)
    out_h, out_w, k = dwin.shape[2], dwin.shape[3], dwin.shape[4]
    for u in range(k):
        for v in range(k):
            entry = dwin[:, :, :, :, u, v]  # (N, C, H', W')
            dx[:, :, u : u + stride * out_h : stride, v : v + stride * out_w : stride] += entry
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
        k, s, p, f = self.kernel_size, self.stride, self.padding, self.out_channels
        n, _, h, w = x.shape
        out_h, out_w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        self.x_shape = x.shape
        # everything in the dtype of x: float32 in, float32 out
        self.x_padded = pad(x, p)  # (N, C, Hp, Wp)
        cols = im2col(self.x_padded, k, s, out_h, out_w)  # (C * K * K, N * H' * W')
        w_rows = self.params["W"].reshape(f, -1).astype(x.dtype)  # (F, C * K * K)
        b = self.params["b"].astype(x.dtype)[:, None]  # (F, 1)
        out = w_rows @ cols + b  # (F, N * H' * W')
        return out.reshape(f, n, out_h, out_w).transpose(1, 0, 2, 3)  # (N, F, H', W')
        ### END SOLUTION

    def backward(self, dout):
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: db sums dout over N, H', W'; dW contracts dout with the windows; dx scatters dout @ W back and crops the padding
        k, s, p, f = self.kernel_size, self.stride, self.padding, self.out_channels
        _, _, h, w = self.x_shape
        out_h, out_w = dout.shape[2:]
        dtype = np.result_type(dout, self.x_padded)  # float32 when dout and x are
        # rebuilt from the padded input: less memory than keeping the K * K times larger cols
        cols = im2col(self.x_padded, k, s, out_h, out_w)  # (C * K * K, N * H' * W')
        d_rows = dout.transpose(1, 0, 2, 3).reshape(f, -1).astype(dtype, copy=False)  # (F, N * H' * W')
        w_rows = self.params["W"].reshape(f, -1).astype(dtype)  # (F, C * K * K)
        db = d_rows.sum(axis=1)  # (F,)
        dw = d_rows @ cols.T  # (F, C * K * K)
        dcols = w_rows.T @ d_rows  # (C * K * K, N * H' * W')
        dx_padded = col2im(dcols, self.x_padded.shape, k, s, out_h, out_w)  # (N, C, Hp, Wp)
        self.grads["W"] = dw.reshape(self.params["W"].shape).astype(self.params["W"].dtype)  # (F, C, K, K)
        self.grads["b"] = db.astype(self.params["b"].dtype)  # (F,)
        return dx_padded[:, :, p : p + h, p : p + w]  # (N, C, H, W): the padding cropped
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
        self.x_shape = x.shape
        win = windows(x, k, self.stride)  # (N, C, H', W', K, K), a view: no copy
        flat = win.reshape(*win.shape[:4], k * k)  # (N, C, H', W', K * K): entry (u, v) at u * K + v
        self.argmax = flat.argmax(axis=-1)  # (N, C, H', W'): the first maximum in row-major order
        return np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]  # (N, C, H', W')
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: route each dout entry to its window's argmax, adding where windows overlap
        k = self.kernel_size
        first_max = self.argmax[..., None] == np.arange(k * k)  # (N, C, H', W', K * K): one True per window
        dwin = (first_max * dout[..., None]).reshape(*dout.shape, k, k)  # (N, C, H', W', K, K)
        return scatter_windows(dwin, self.x_shape, self.stride)  # (N, C, H, W)
        ### END SOLUTION


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
        ### BEGIN SOLUTION: average every K x K window (window (i, j) starts at (i * S, j * S))
        self.x_shape = x.shape
        win = windows(x, self.kernel_size, self.stride)  # (N, C, H', W', K, K), a view: no copy
        return win.mean(axis=(4, 5))  # (N, C, H', W')
        ### END SOLUTION

    def backward(self, dout):
        """dout: (N, C, H', W') -> dx: (N, C, H, W)."""
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: give each cell of a window dout / (K * K), adding where windows overlap
        k = self.kernel_size
        share = dout / (k * k)  # (N, C, H', W'): what each cell of a window receives
        dwin = np.broadcast_to(share[..., None, None], (*dout.shape, k, k))  # (N, C, H', W', K, K)
        return scatter_windows(dwin, self.x_shape, self.stride)  # (N, C, H, W)
        ### END SOLUTION
