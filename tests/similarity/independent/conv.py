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
def patches(image, size, step):
    """Strided view of the size x size patches of image (N, C, H, W): (N, C, H', W', size, size)."""
    batch, channels, height, width = image.shape
    rows = (height - size) // step + 1
    columns = (width - size) // step + 1
    sn, sc, sh, sw = image.strides
    return np.lib.stride_tricks.as_strided(
        image,
        shape=(batch, channels, rows, columns, size, size),
        strides=(sn, sc, sh * step, sw * step, sh, sw),
        writeable=False,
    )


def spread(grad_patches, shape, step):
    """Add every patch's gradient (N, C, H', W', K, K) back onto an image of `shape`."""
    image = np.zeros(shape, dtype=grad_patches.dtype)
    rows, columns, size = grad_patches.shape[2], grad_patches.shape[3], grad_patches.shape[4]
    for dy in range(size):
        for dx in range(size):
            image[:, :, dy : dy + step * rows : step, dx : dx + step * columns : step] += grad_patches[
                ..., dy, dx
            ]
    return image


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
        border = self.padding
        self.source = np.pad(x, ((0, 0), (0, 0), (border, border), (border, border)))
        self.input_shape = x.shape
        views = patches(self.source, self.kernel_size, self.stride)
        kernels = self.params["W"].astype(x.dtype)
        result = np.einsum("nchwij,fcij->nfhw", views, kernels, optimize=True)
        return result + self.params["b"].astype(x.dtype).reshape(1, -1, 1, 1)

    def backward(self, dout):
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        dout = as_float_array(dout, "dout")
        kind = np.result_type(dout, self.source)
        dout = dout.astype(kind, copy=False)
        views = patches(self.source, self.kernel_size, self.stride)
        grad_w = np.einsum("nchwij,nfhw->fcij", views, dout, optimize=True)
        self.grads["W"] = grad_w.astype(self.params["W"].dtype)
        self.grads["b"] = dout.sum(axis=(0, 2, 3)).astype(self.params["b"].dtype)
        grad_views = np.einsum("nfhw,fcij->nchwij", dout, self.params["W"].astype(kind), optimize=True)
        grad_source = spread(grad_views, self.source.shape, self.stride)
        height, width = self.input_shape[2:]
        border = self.padding
        return grad_source[:, :, border : border + height, border : border + width]


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
        size, step = self.kernel_size, self.stride
        batch, channels, height, width = x.shape
        rows, columns = (height - size) // step + 1, (width - size) // step + 1
        self.input_shape = x.shape
        self.winners = np.empty((batch, channels, rows, columns), dtype=np.int64)
        pooled = np.empty((batch, channels, rows, columns), dtype=x.dtype)
        for r in range(rows):
            for c in range(columns):
                block = x[:, :, r * step : r * step + size, c * step : c * step + size]
                flat = block.reshape(batch, channels, size * size)
                best = np.argmax(flat, axis=2)
                self.winners[:, :, r, c] = best
                pooled[:, :, r, c] = np.take_along_axis(flat, best[..., None], axis=2)[..., 0]
        return pooled

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        size, step = self.kernel_size, self.stride
        grad = np.zeros(self.input_shape, dtype=dout.dtype)
        rows, columns = self.winners.shape[2:]
        for r in range(rows):
            for c in range(columns):
                rr, cc = np.divmod(self.winners[:, :, r, c], size)
                n_idx, c_idx = np.indices(rr.shape)
                np.add.at(grad, (n_idx, c_idx, r * step + rr, c * step + cc), dout[:, :, r, c])
        return grad


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
        size, step = self.kernel_size, self.stride
        rows = (x.shape[2] - size) // step + 1
        columns = (x.shape[3] - size) // step + 1
        self.input_shape = x.shape
        total = np.zeros((*x.shape[:2], rows, columns), dtype=x.dtype)
        for dy in range(size):
            for dx in range(size):
                total += x[:, :, dy : dy + step * rows : step, dx : dx + step * columns : step]
        return total / (size * size)

    def backward(self, dout):
        """dout: (N, C, H', W') -> dx: (N, C, H, W)."""
        dout = as_float_array(dout, "dout")
        size, step = self.kernel_size, self.stride
        rows, columns = dout.shape[2:]
        share = dout / (size * size)
        grad = np.zeros(self.input_shape, dtype=share.dtype)
        for dy in range(size):
            for dx in range(size):
                grad[:, :, dy : dy + step * rows : step, dx : dx + step * columns : step] += share
        return grad
