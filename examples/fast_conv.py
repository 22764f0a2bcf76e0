"""Fast Conv2d and MaxPool2d: the same layers as solutions/conv.py, built for speed.

`FastConv2d` and `FastMaxPool2d` subclass the reference layers: the same constructor
arguments, attributes, input checks, results and gradients (tests/test_fast_conv.py
compares them), in far less time on large batches. The digits demo
(examples/digits_cnn.py) trains with them and bench/layers_vs_torch.py times them
against PyTorch. They are not part of the exercises: the student kit and the
grader's sandbox do not ship this module, and solutions/conv.py stays the
readable reference.

Convolution by "flat shifts"
----------------------------
Lay out each input channel as one flat row: the channel's zero-padded images
(Hp x Wp each) one after another, read row by row. A window whose top-left corner
is flat position q covers, at kernel offset (u, v), flat position q + u * Wp + v.
So entry (u, v) of *every* window is the row shifted by u * Wp + v: im2col is
K * K contiguous slice copies, col2im K * K contiguous shifted adds, and forward
and backward are plain matrix products.

The price: the products compute one output per padded pixel (Hp * Wp per image)
instead of one per window (H' * W'; with stride S, the windows start at every
S-th pixel of every S-th row). The extra outputs are dropped in forward and get a
zero gradient in backward; a shifted slice that runs past the end of an image
(into the next image, channel or the zero tail) does so only for them. The batch
goes through in blocks of SAMPLES_PER_BLOCK samples, so that each block's column
matrix is still in the CPU cache when the matrix products read it.

Max pooling by a running maximum
--------------------------------
Instead of copying every window, FastMaxPool2d walks the K * K window entries in
row-major order, each one a strided view of the input, and keeps the running
maximum and the index of its first occurrence (a strictly larger entry replaces
it, a tie does not).
"""

import numpy as np

from solutions.base import as_float_array, expect_ndim
from solutions.conv import Conv2d, MaxPool2d, output_size

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

    cols[(u, v, c), q] = rows[c, q + u * width + v]: column q lists the window whose
    top-left corner is flat position q, in the order (u, v, c).
    """
    k, c = kernel_size, rows.shape[0]
    cols = np.empty((k, k, c, length), dtype=rows.dtype)
    for u in range(k):
        for v in range(k):
            shift = u * width + v
            cols[u, v] = rows[:, shift : shift + length]
    return cols.reshape(k * k * c, length)


def col2im(dcols, kernel_size, width):
    """The adjoint of im2col: dcols (K * K * C, length) -> drows (C, length).

    Adds entry (u, v) of every window back at its shifted position. The channels
    are shifted as one flat vector: what crosses from one channel into the next
    comes from extra outputs, whose gradient is zero.
    """
    k = kernel_size
    c, length = dcols.shape[0] // (k * k), dcols.shape[1]
    dcols = dcols.reshape(k, k, c * length)
    drows = np.zeros(c * length, dtype=dcols.dtype)
    for u in range(k):
        for v in range(k):
            shift = u * width + v
            drows[shift:] += dcols[u, v, : c * length - shift]
    return drows.reshape(c, length)


def sample_blocks(n):
    """Consecutive slices of range(n), SAMPLES_PER_BLOCK samples each (the last may be shorter)."""
    return [slice(start, min(start + SAMPLES_PER_BLOCK, n)) for start in range(0, n, SAMPLES_PER_BLOCK)]


def kernel_rows(weights, dtype):
    """W (F, C, K, K) -> (F, K * K * C) in the (u, v, c) order of im2col's rows, as dtype."""
    return weights.transpose(0, 2, 3, 1).reshape(weights.shape[0], -1).astype(dtype, copy=False)


class FastConv2d(Conv2d):
    """Conv2d (solutions/conv.py) by flat shifts and blocked matrix products.

    Same arguments, shapes and results: x (N, C, H, W) -> out (N, F, H', W'),
    in the dtype of x.
    """

    def forward(self, x):
        x = as_float_array(x)
        expect_ndim(x, 4, "Conv2d", "(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expects x of shape (N, {self.in_channels}, H, W), got {x.shape}")
        for size in x.shape[2:]:
            output_size(size, self.kernel_size, self.stride, self.padding, "Conv2d")
        k, s, p, f = self.kernel_size, self.stride, self.padding, self.out_channels
        n, c, h, w = x.shape
        hp, wp = h + 2 * p, w + 2 * p
        out_h, out_w = (hp - k) // s + 1, (wp - k) // s + 1
        self.x_shape = x.shape
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

    def backward(self, dout):
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
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


class FastMaxPool2d(MaxPool2d):
    """MaxPool2d (solutions/conv.py) by a running maximum over the K * K window entries.

    Same arguments, shapes and results: x (N, C, H, W) -> out (N, C, H', W'); backward
    sends each window's gradient to the first position of its maximum, and overlapping
    windows add up.
    """

    def entry(self, array, u, v, out_h, out_w):
        """Entry (u, v) of every window of array (N, C, H, W): a view (N, C, H', W')."""
        s = self.stride
        return array[:, :, u : u + s * out_h : s, v : v + s * out_w : s]

    def forward(self, x):
        x = as_float_array(x)
        expect_ndim(x, 4, "MaxPool2d", "(N, C, H, W)")
        for size in x.shape[2:]:
            output_size(size, self.kernel_size, self.stride, 0, "MaxPool2d")
        k, s = self.kernel_size, self.stride
        out_h, out_w = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        self.x_shape = x.shape
        out = self.entry(x, 0, 0, out_h, out_w).copy()  # (N, C, H', W')
        index = np.min_scalar_type(k * k - 1).type  # the smallest integer type that holds K * K - 1
        argmax = np.zeros(out.shape, dtype=index)  # small integers: fewer bytes to move
        for a in range(1, k * k):
            entry = self.entry(x, a // k, a % k, out_h, out_w)
            larger = entry > out  # strictly: a tie keeps the earlier entry
            np.maximum(out, entry, out=out)
            # a grows with the loop, so the last entry that was larger wins
            np.maximum(argmax, index(a) * larger, out=argmax)
        self.argmax = argmax.astype(np.intp)
        return out

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        k, s = self.kernel_size, self.stride
        out_h, out_w = dout.shape[2:]
        dx = np.zeros(self.x_shape, dtype=dout.dtype)
        for a in range(k * k):
            entry = self.entry(dx, a // k, a % k, out_h, out_w)
            if s >= k:  # windows do not overlap: each cell gets at most one value (faster than +=)
                entry[...] = dout * (self.argmax == a)
            else:  # overlapping windows add up
                entry += dout * (self.argmax == a)
        return dx
