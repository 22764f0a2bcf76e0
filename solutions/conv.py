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
    """Adjoint of `windows`: add dwin (N, C, H', W', K, K) back into an array of x_shape.

    The direct form of col2im; the layers below use faster special cases of it.
    """
    dx = np.zeros(x_shape, dtype=dwin.dtype)
    out_h, out_w, k = dwin.shape[2], dwin.shape[3], dwin.shape[4]
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride] += dwin[
                :, :, :, :, i, j
            ]
    return dx


# Fast convolution by "flat shifts".
#
# Lay out each input channel as one flat row: the channel's zero-padded images
# (Hp x Wp each) one after another, read row by row. A window whose top-left
# corner is flat position q covers, at kernel offset (i, j), flat position
# q + i * Wp + j. So entry (i, j) of *every* window is the row shifted by
# i * Wp + j: im2col is K * K contiguous slice copies, col2im K * K contiguous
# shifted adds, and forward and backward are plain matrix products.
#
# The price: the products compute one output per padded pixel (Hp * Wp per image)
# instead of one per window (H' * W'; with stride S, the windows start at every S-th
# pixel of every S-th row of an image). The extra outputs are dropped in forward and
# get a zero gradient in backward; a shifted slice that runs past the end of an
# image (into the next image, channel or the zero tail) does so only for them.
# The batch goes through in blocks of samples, so each block's column matrix
# is still in the CPU cache when the matrix products read it.

SAMPLES_PER_BLOCK = 8


def padded_rows(x, padding, kernel_size):
    """x (N, C, H, W) -> rows (C, N * Hp * Wp + tail), Hp = H + 2P, Wp = W + 2P.

    rows[c] holds channel c of the N zero-padded images one after another, then
    tail = (K - 1) * (Wp + 1) zeros so that every shifted slice stays in range.
    """
    n, c, h, w = x.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    tail = (kernel_size - 1) * (wp + 1)
    rows = np.zeros((c, n * hp * wp + tail), dtype=x.dtype)
    images = rows[:, : n * hp * wp].reshape(c, n, hp, wp)
    images[:, :, padding : padding + h, padding : padding + w] = x.transpose(1, 0, 2, 3)
    return rows


def im2col(rows, kernel_size, width, length):
    """rows (C, length + tail) -> cols (K * K * C, length), width = Wp.

    cols[(i, j, c), q] = rows[c, q + i * width + j]: column q lists the window whose
    top-left corner is flat position q, in the order (i, j, c).
    """
    k, c = kernel_size, rows.shape[0]
    cols = np.empty((k, k, c, length), dtype=rows.dtype)
    for i in range(k):
        for j in range(k):
            shift = i * width + j
            cols[i, j] = rows[:, shift : shift + length]
    return cols.reshape(k * k * c, length)


def col2im(dcols, kernel_size, width):
    """Adjoint of im2col: dcols (K * K * C, length) -> drows (C, length).

    Adds entry (i, j) of every window back at its shifted position. The channels
    are shifted as one flat vector: what crosses from one channel into the next
    comes from extra outputs, whose gradient is zero.
    """
    k = kernel_size
    c, length = dcols.shape[0] // (k * k), dcols.shape[1]
    dcols = dcols.reshape(k, k, c * length)
    drows = np.zeros(c * length, dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            shift = i * width + j
            drows[shift:] += dcols[i, j, : c * length - shift]
    return drows.reshape(c, length)


def sample_blocks(n):
    """Consecutive slices of range(n), SAMPLES_PER_BLOCK samples each (the last may be shorter)."""
    return [slice(start, min(start + SAMPLES_PER_BLOCK, n)) for start in range(0, n, SAMPLES_PER_BLOCK)]


def kernel_rows(weights, dtype):
    """W (F, C, K, K) -> (F, K * K * C) in the (i, j, c) order of im2col's rows, as dtype."""
    return weights.transpose(0, 2, 3, 1).reshape(weights.shape[0], -1).astype(dtype, copy=False)


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
        n, c, h, w = x.shape
        hp, wp = h + 2 * p, w + 2 * p
        out_h, out_w = (hp - k) // s + 1, (wp - k) // s + 1
        self.x_shape = x.shape
        # everything in the dtype of x: float32 in, float32 out
        self.rows = padded_rows(x, p, k)  # (C, N * Hp * Wp + tail)
        # the same memory seen as the padded input (N, C, Hp, Wp)
        self.x_padded = self.rows[:, : n * hp * wp].reshape(c, n, hp, wp).transpose(1, 0, 2, 3)
        w_rows = kernel_rows(self.params["W"], x.dtype)  # (F, K * K * C)
        bias = self.params["b"].astype(x.dtype, copy=False)[:, None, None]
        out = np.empty((n, f, out_h, out_w), dtype=x.dtype)
        for block in sample_blocks(n):
            m = block.stop - block.start
            block_rows = self.rows[:, block.start * hp * wp :]
            cols = im2col(block_rows, k, wp, m * hp * wp)  # (K * K * C, m * Hp * Wp)
            every_pixel = (w_rows @ cols).reshape(f, m, hp, wp)
            out[block] = every_pixel[:, :, : s * out_h : s, : s * out_w : s].transpose(1, 0, 2, 3)
            out[block] += bias
        return out
        ### END SOLUTION

    def backward(self, dout):
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: db sums dout over N, H', W'; dW contracts dout with the windows; dx scatters dout @ W back and crops the padding
        k, s, p, f = self.kernel_size, self.stride, self.padding, self.out_channels
        n, c, h, w = self.x_shape
        hp, wp = self.x_padded.shape[2:]
        out_h, out_w = dout.shape[2:]
        dtype = np.result_type(dout, self.rows)
        w_rows = kernel_rows(self.params["W"], dtype)  # (F, K * K * C)
        dw_cols = np.zeros((k * k * c, f), dtype=dtype)  # dW transposed: BLAS is faster this way round
        db = np.zeros(f, dtype=dtype)
        dx = np.empty(self.x_shape, dtype=dtype)
        for block in sample_blocks(n):
            m = block.stop - block.start
            # rebuilt from the stored rows: cheaper than keeping K * K copies of the input
            cols = im2col(self.rows[:, block.start * hp * wp :], k, wp, m * hp * wp)
            # dout at the pixels where its window starts, zero at the extra outputs
            dpixels = np.zeros((f, m, hp, wp), dtype=dtype)
            dpixels[:, :, : s * out_h : s, : s * out_w : s] = dout[block].transpose(1, 0, 2, 3)
            dpixels = dpixels.reshape(f, m * hp * wp)
            db += dpixels.sum(axis=1)
            dw_cols += cols @ dpixels.T
            drows = col2im(w_rows.T @ dpixels, k, wp).reshape(c, m, hp, wp)
            dx[block] = drows[:, :, p : p + h, p : p + w].transpose(1, 0, 2, 3)
        dw = dw_cols.reshape(k, k, c, f).transpose(3, 2, 0, 1)  # (F, C, K, K)
        self.grads["W"] = dw.astype(self.params["W"].dtype, order="C")
        self.grads["b"] = db.astype(self.params["b"].dtype)
        return dx
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
        win = windows(x, k, self.stride)  # (N, C, H', W', K, K), no copy
        self.x_shape = x.shape
        # a running maximum over the K * K entries of every window, in row-major order;
        # argmax = u * K + v of the first entry (u, v) that holds the window's maximum
        out = win[..., 0, 0].copy()  # (N, C, H', W')
        index = np.min_scalar_type(k * k - 1).type  # the smallest integer type that holds K * K - 1
        argmax = np.zeros(out.shape, dtype=index)  # small integers: fewer bytes to move
        for a in range(1, k * k):
            entry = win[..., a // k, a % k]  # entry (u, v) of every window
            larger = entry > out  # strictly: a tie keeps the earlier entry
            np.maximum(out, entry, out=out)
            # a grows with the loop, so the last entry that was larger wins
            np.maximum(argmax, index(a) * larger, out=argmax)
        self.argmax = argmax.astype(np.intp)
        return out
        ### END SOLUTION

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        ### BEGIN SOLUTION: route each dout entry to its window's argmax, adding where windows overlap
        k, s = self.kernel_size, self.stride
        out_h, out_w = dout.shape[2:]
        dx = np.zeros(self.x_shape, dtype=dout.dtype)
        for a in range(k * k):
            u, v = divmod(a, k)
            entry = dx[:, :, u : u + s * out_h : s, v : v + s * out_w : s]  # entry (u, v) of every window
            if s >= k:  # windows do not overlap: each cell gets at most one value (faster than +=)
                entry[...] = dout * (self.argmax == a)
            else:  # overlapping windows add up
                entry += dout * (self.argmax == a)
        return dx
        ### END SOLUTION
