"""Mistakes and alternative implementations of Conv2d, MaxPool2d and AvgPool2d."""

import numpy as np
from scipy import signal

import solutions as ref
from solutions.base import as_float_array

from . import Alternative, Bug


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


# ============================================================================ Conv2d mistakes
def padded_dx(layer, dout):
    """The reference's dx before cropping: (N, C, H + 2P, W + 2P)."""
    dcols = np.tensordot(dout, layer.params["W"], axes=([1], [0]))
    return scatter_windows(dcols.transpose(0, 3, 1, 2, 4, 5), layer.x_padded.shape, layer.stride)


class ConvFlippedKernel(ref.Conv2d):
    """scipy.signal.convolve (a true convolution) where cross-correlation is meant."""

    def forward(self, x):
        p, s = self.padding, self.stride
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.x_padded, self.x_shape = xp, x.shape
        W, b = self.params["W"], self.params["b"]
        out = np.array(
            [
                [sum(signal.convolve(xp[n, c], W[f, c], mode="valid") for c in range(x.shape[1])) + b[f]
                 for f in range(W.shape[0])]
                for n in range(x.shape[0])
            ]
        )  # fmt: skip
        return out[:, :, ::s, ::s]


class ConvBiasPerInputChannel(ref.Conv2d):
    """The bias sits inside the loop over input channels, so it is added C times."""

    def forward(self, x):
        out = super().forward(x)
        return out + (self.in_channels - 1) * self.params["b"][None, :, None, None]


class ConvNoBias(ref.Conv2d):
    def forward(self, x):
        return super().forward(x) - self.params["b"][None, :, None, None]


class ConvNoPadding(ref.Conv2d):
    """np.pad never called: x used as it is."""

    def forward(self, x):
        padding, self.padding = self.padding, 0
        out = super().forward(x)
        self.padding = padding
        return out


class ConvBiasGradTimesC(ref.Conv2d):
    """db of a forward that added the bias once per input channel."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = self.in_channels * dout.sum(axis=(0, 2, 3))
        return dx


class ConvBiasGradMeanOverPositions(ref.Conv2d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=(2, 3)).sum(axis=0)
        return dx


class ConvBiasGradTimesF(ref.Conv2d):
    """db summed once per output channel in a loop that already covers every channel."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = self.out_channels * dout.sum(axis=(0, 2, 3))
        return dx


class ConvPaddingHardcoded(ref.Conv2d):
    """np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))) whatever self.padding says."""

    def forward(self, x):
        self.padding = 1
        return super().forward(x)


class ConvDxNotCropped(ref.Conv2d):
    def backward(self, dout):
        super().backward(dout)
        return padded_dx(self, dout)


class ConvDxCroppedAtStart(ref.Conv2d):
    def backward(self, dout):
        super().backward(dout)
        h, w = self.x_shape[2:]
        return padded_dx(self, dout)[:, :, :h, :w]


class ConvDxCropMinusP(ref.Conv2d):
    """dx[:, :, p:-p, p:-p] is empty when p = 0."""

    def backward(self, dout):
        super().backward(dout)
        p = self.padding
        return padded_dx(self, dout)[:, :, p:-p, p:-p]


class ConvDbNotSummedOverHW(ref.Conv2d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=0)
        return dx


class ConvDbNotSummedOverN(ref.Conv2d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=(2, 3))
        return dx


class ConvStrideIgnoredInBackward(ref.Conv2d):
    """Backward takes the window of output (i, j) at (i, j) instead of (i*S, j*S)."""

    def backward(self, dout):
        out_h, out_w = dout.shape[2:]
        cols = windows(self.x_padded, self.kernel_size, 1)[:, :, :out_h, :out_w]
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        self.grads["W"] = np.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))
        dcols = np.tensordot(dout, self.params["W"], axes=([1], [0]))
        dxp = scatter_windows(dcols.transpose(0, 3, 1, 2, 4, 5), self.x_padded.shape, 1)
        p, (h, w) = self.padding, self.x_shape[2:]
        return dxp[:, :, p : p + h, p : p + w]


class ConvWindowsAtI(ref.Conv2d):
    """Right output size, but window (i, j) taken at (i, j): the stride only shrinks the output."""

    def forward(self, x):
        out = super().forward(x)
        cols = windows(self.x_padded, self.kernel_size, 1)[:, :, : out.shape[2], : out.shape[3]]
        out = np.tensordot(cols, self.params["W"], axes=([1, 4, 5], [1, 2, 3]))
        return out.transpose(0, 3, 1, 2) + self.params["b"][None, :, None, None]


class ConvStrideIgnored(ref.Conv2d):
    def forward(self, x):
        self.stride = 1
        return super().forward(x)


class ConvSizeIgnoresPadding(ref.Conv2d):
    """Output size (H - K) // S + 1: the padded result is cut to the unpadded size."""

    def forward(self, x):
        out = super().forward(x)
        k, s = self.kernel_size, self.stride
        return out[:, :, : (x.shape[2] - k) // s + 1, : (x.shape[3] - k) // s + 1]


class ConvFloatDivision(ref.Conv2d):
    def forward(self, x):
        n, _, h, w = x.shape
        p, k, s = self.padding, self.kernel_size, self.stride
        out_h, out_w = (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1
        out = np.zeros((n, self.out_channels, out_h, out_w))
        return out + super().forward(x)


class ConvDWChannelsSwapped(ref.Conv2d):
    """tensordot(cols, dout) gives (C, K, K, F); moved to (C, F, K, K) instead of (F, C, K, K)."""

    def backward(self, dout):
        dx = super().backward(dout)
        cols = windows(self.x_padded, self.kernel_size, self.stride)
        dw = np.tensordot(cols, dout, axes=([0, 2, 3], [0, 2, 3]))
        self.grads["W"] = dw.transpose(0, 3, 1, 2)
        return dx


class ConvDWReshapedFromCF(ref.Conv2d):
    """einsum to (C, F, K, K), then reshaped (not transposed) to W's shape: silent scrambling."""

    def backward(self, dout):
        dx = super().backward(dout)
        cols = windows(self.x_padded, self.kernel_size, self.stride)
        dw = np.einsum("nfhw,nchwuv->cfuv", dout, cols)
        self.grads["W"] = dw.reshape(self.params["W"].shape)
        return dx


class ConvDWDividedByN(ref.Conv2d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"] / dout.shape[0]
        return dx


class ConvGradsAccumulate(ref.Conv2d):
    def backward(self, dout):
        old = {k: v.copy() for k, v in self.grads.items()}
        dx = super().backward(dout)
        for k in self.grads:
            self.grads[k] = self.grads[k] + old[k]
        return dx


class ConvFlipsWInPlace(ref.Conv2d):
    """dx as a full convolution with W flipped in place, and never flipped back."""

    def backward(self, dout):
        dx = super().backward(dout)
        W = self.params["W"]
        W[...] = W[:, :, ::-1, ::-1].copy()
        return dx


class ConvReusesPaddedInput(ref.Conv2d):
    """dx accumulated in the buffer that holds the padded input forward stored."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.x_padded[...] = padded_dx(self, dout)
        return dx


class ConvDoutShapeAssign(ref.Conv2d):
    """dout.shape = ... reshapes the caller's array."""

    def backward(self, dout):
        dx = super().backward(dout)
        dout.shape = (*dout.shape[:2], -1)
        self.grads["b"] = dout.sum(axis=(0, 2))
        return dx


class ConvZeroesBorderInPlace(ref.Conv2d):
    """'Padding' by writing zeros over the border of x itself."""

    def forward(self, x):
        p = self.padding
        if p:
            x[:, :, :p], x[:, :, -p:], x[:, :, :, :p], x[:, :, :, -p:] = 0, 0, 0, 0
        return super().forward(x)


# ============================================================================ MaxPool2d mistakes
class PoolGradToWholeWindow(ref.MaxPool2d):
    def backward(self, dout):
        k = self.kernel_size
        dwin = np.broadcast_to(dout[..., None, None], (*dout.shape, k, k))
        return scatter_windows(dwin, self.x_shape, self.stride)


class PoolGradAveraged(ref.MaxPool2d):
    """The average-pooling gradient dout / K^2 on every cell."""

    def backward(self, dout):
        k = self.kernel_size
        dwin = np.broadcast_to(dout[..., None, None] / k**2, (*dout.shape, k, k))
        return scatter_windows(dwin, self.x_shape, self.stride)


class PoolAssignsGradient(ref.MaxPool2d):
    """dx[...] = dout where windows overlap: later windows overwrite earlier ones."""

    def backward(self, dout):
        k, s = self.kernel_size, self.stride
        dx = np.zeros(self.x_shape)
        for n, c, i, j in np.ndindex(dout.shape):
            u, v = divmod(self.argmax[n, c, i, j], k)
            dx[n, c, i * s + u, j * s + v] = dout[n, c, i, j]
        return dx


class PoolArgmaxUnravelSwapped(ref.MaxPool2d):
    """The flat argmax a turned into (row, col) = (a % K, a // K)."""

    def backward(self, dout):
        k, s = self.kernel_size, self.stride
        dx = np.zeros(self.x_shape)
        for n, c, i, j in np.ndindex(dout.shape):
            a = self.argmax[n, c, i, j]
            dx[n, c, i * s + a % k, j * s + a // k] += dout[n, c, i, j]
        return dx


class PoolStrideIgnoredInBackward(ref.MaxPool2d):
    """The argmax of window (i, j) is put back at (i*K, j*K), as if stride == kernel_size."""

    def backward(self, dout):
        k = self.kernel_size
        dx = np.zeros(self.x_shape)
        for n, c, i, j in np.ndindex(dout.shape):
            u, v = divmod(self.argmax[n, c, i, j], k)
            dx[n, c, i * k + u, j * k + v] += dout[n, c, i, j]
        return dx


class PoolStrideIgnored(ref.MaxPool2d):
    def forward(self, x):
        self.stride = self.kernel_size
        return super().forward(x)


class PoolAllTiedMaxes(ref.MaxPool2d):
    """mask = (window == max): every tied maximum gets the full dout."""

    def forward(self, x):
        out = super().forward(x)
        self.win = windows(as_float_array(x), self.kernel_size, self.stride)
        self.out = out
        return out

    def backward(self, dout):
        mask = self.win == self.out[..., None, None]
        return scatter_windows(mask * dout[..., None, None], self.x_shape, self.stride)


class PoolMaxStartsAtZero(ref.MaxPool2d):
    """best = 0, then best = max(best, v) over the window."""

    def forward(self, x):
        return np.maximum(super().forward(x), 0.0)


class PoolMaskAliasesX(ref.MaxPool2d):
    """self.mask = x (not a copy), then the maxima are marked in it."""

    def forward(self, x):
        out = super().forward(x)
        k = self.kernel_size
        one_hot = (self.argmax[..., None] == np.arange(k * k)).reshape(*self.argmax.shape, k, k)
        self.mask = x
        self.mask[...] = scatter_windows(one_hot.astype(float), x.shape, self.stride)
        return out


class PoolAverage(ref.MaxPool2d):
    def forward(self, x):
        super().forward(x)
        return windows(as_float_array(x), self.kernel_size, self.stride).mean(axis=(4, 5))


BUGS = [
    Bug("conv kernel flipped (true convolution)", "Conv2d", ConvFlippedKernel, "the kernel is flipped"),
    Bug("conv bias added once per input channel", "Conv2d", ConvBiasPerInputChannel, "once per input channel"),
    Bug("conv db multiplied by out_channels", "Conv2d", ConvBiasGradTimesF, "number of output channels"),
    Bug("conv db multiplied by in_channels", "Conv2d", ConvBiasGradTimesC, "number of input channels"),
    Bug("conv db averaged over H', W'", "Conv2d", ConvBiasGradMeanOverPositions, "averaged over H', W'"),
    Bug("conv without bias", "Conv2d", ConvNoBias, "bias b is not added"),
    Bug("conv without padding", "Conv2d", ConvNoPadding, "ignores the padding"),
    Bug("conv padding hard-coded to 1", "Conv2d", ConvPaddingHardcoded, "hard-coded to 1"),
    Bug("conv dx not cropped", "Conv2d", ConvDxNotCropped, "dx has the padded shape"),
    Bug("conv dx cropped at the start", "Conv2d", ConvDxCroppedAtStart, "cropped at the wrong place"),
    Bug("conv dx cropped with p:-p", "Conv2d", ConvDxCropMinusP, "empty when padding = 0"),
    Bug("conv db not summed over H', W'", "Conv2d", ConvDbNotSummedOverHW, "db not summed over N, H', W'"),
    Bug("conv db not summed over N", "Conv2d", ConvDbNotSummedOverN, "db not summed over N, H', W'"),
    Bug("conv stride ignored in backward", "Conv2d", ConvStrideIgnoredInBackward, "ignores the stride"),
    Bug("conv windows at (i, j) not (i*S, j*S)", "Conv2d", ConvWindowsAtI, "wrong stride arithmetic"),
    Bug("conv stride ignored", "Conv2d", ConvStrideIgnored, "ignores the stride"),
    Bug("conv output size ignores padding", "Conv2d", ConvSizeIgnoresPadding, "ignores the padding"),
    Bug("conv output size by float division", "Conv2d", ConvFloatDivision, "floor division"),
    Bug("conv dW channel axes swapped", "Conv2d", ConvDWChannelsSwapped, "channel axes swapped"),
    Bug("conv dW (C, F) reshaped to (F, C)", "Conv2d", ConvDWReshapedFromCF, "channel axes swapped"),
    Bug("conv dW divided by N", "Conv2d", ConvDWDividedByN, "1/N"),
    Bug("conv grads accumulate", "Conv2d", ConvGradsAccumulate, "accumulate"),
    Bug("conv backward flips W in place", "Conv2d", ConvFlipsWInPlace, "must not modify the parameters"),
    Bug("conv backward overwrites the cached input", "Conv2d", ConvReusesPaddedInput, "must not change what forward stored"),
    Bug("conv backward reshapes dout in place", "Conv2d", ConvDoutShapeAssign, "in place"),
    Bug("conv zeroes the border of x in place", "Conv2d", ConvZeroesBorderInPlace, "in place"),
    Bug("max-pool gradient to the whole window", "MaxPool2d", PoolGradToWholeWindow, "reached non-max cells"),
    Bug("max-pool gradient averaged over the window", "MaxPool2d", PoolGradAveraged, "reached non-max cells"),
    Bug("max-pool argmax unravelled as (col, row)", "MaxPool2d", PoolArgmaxUnravelSwapped, "reached non-max cells"),
    Bug("max-pool = instead of +=", "MaxPool2d", PoolAssignsGradient, "overlapping windows must add their gradients"),
    Bug("max-pool stride ignored in backward", "MaxPool2d", PoolStrideIgnoredInBackward, "the stride is ignored"),
    Bug("max-pool stride ignored", "MaxPool2d", PoolStrideIgnored, "stride"),
    Bug("max-pool gradient to every tied max", "MaxPool2d", PoolAllTiedMaxes, "every tied maximum"),
    Bug("max-pool running max starts at 0", "MaxPool2d", PoolMaxStartsAtZero, "not at 0"),
    Bug("max-pool mask aliases x", "MaxPool2d", PoolMaskAliasesX, "in place"),
    Bug("average pooling", "MaxPool2d", PoolAverage, "the window mean is taken"),
]  # fmt: skip


# ============================================================================ Conv2d alternatives
class ConvExplicitLoops(ref.Conv2d):
    """Scalar loops over n, f, i, j, c, u, v: the slowest correct student code."""

    def forward(self, x):
        x = as_float_array(x)
        p, s, k = self.padding, self.stride, self.kernel_size
        n_, c_, h, w = x.shape
        xp = np.zeros((n_, c_, h + 2 * p, w + 2 * p))
        xp[:, :, p : p + h, p : p + w] = x
        self.xp, self.x_shape = xp, x.shape
        W, b = self.params["W"], self.params["b"]
        out_h, out_w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        out = np.zeros((n_, self.out_channels, out_h, out_w))
        for n in range(n_):
            for f in range(self.out_channels):
                for i in range(out_h):
                    for j in range(out_w):
                        total = b[f]
                        for c in range(c_):
                            for u in range(k):
                                for v in range(k):
                                    total += xp[n, c, i * s + u, j * s + v] * W[f, c, u, v]
                        out[n, f, i, j] = total
        return out

    def backward(self, dout):
        p, s, k = self.padding, self.stride, self.kernel_size
        W, xp = self.params["W"], self.xp
        dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(self.out_channels)
        n_, f_, out_h, out_w = dout.shape
        for n in range(n_):
            for f in range(f_):
                for i in range(out_h):
                    for j in range(out_w):
                        g = dout[n, f, i, j]
                        db[f] += g
                        for c in range(self.in_channels):
                            for u in range(k):
                                for v in range(k):
                                    dW[f, c, u, v] += g * xp[n, c, i * s + u, j * s + v]
                                    dxp[n, c, i * s + u, j * s + v] += g * W[f, c, u, v]
        self.grads = {"W": dW, "b": db}
        h, w = self.x_shape[2:]
        return dxp[:, :, p : p + h, p : p + w]


class ConvEinsumWindows(ref.Conv2d):
    """einsum over sliding_window_view; dx by adding each kernel offset's slice."""

    def forward(self, x):
        x = as_float_array(x)
        p, s, k = self.padding, self.stride, self.kernel_size
        self.x_shape = x.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        view = np.lib.stride_tricks.sliding_window_view(self.xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        return np.einsum("nchwuv,fcuv->nfhw", view, self.params["W"]) + self.params["b"][:, None, None]

    def backward(self, dout):
        p, s, k = self.padding, self.stride, self.kernel_size
        view = np.lib.stride_tricks.sliding_window_view(self.xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        self.grads["W"][...] = np.einsum("nfhw,nchwuv->fcuv", dout, view)
        self.grads["b"][...] = np.einsum("nfhw->f", dout)
        out_h, out_w = dout.shape[2:]
        dxp = np.zeros_like(self.xp)
        for u in range(k):
            for v in range(k):
                dxp[:, :, u : u + s * out_h : s, v : v + s * out_w : s] += np.einsum(
                    "nfhw,fc->nchw", dout, self.params["W"][:, :, u, v]
                )
        h, w = self.x_shape[2:]
        return dxp[:, :, p : p + h, p : p + w]


def im2col_indices(c, h, w, k, s):
    """Row indices (C*K*K, H'*W') into a flattened (C, H, W) image, for im2col."""
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    ch, u, v = np.meshgrid(np.arange(c), np.arange(k), np.arange(k), indexing="ij")
    i, j = np.meshgrid(np.arange(out_h) * s, np.arange(out_w) * s, indexing="ij")
    rows = (u.reshape(-1, 1) + i.reshape(1, -1)) * w + v.reshape(-1, 1) + j.reshape(1, -1)
    return ch.reshape(-1, 1) * h * w + rows, (out_h, out_w)


class ConvIm2col(ref.Conv2d):
    """im2col with fancy indexing, reshape + matmul; col2im with np.add.at."""

    def forward(self, x):
        x = as_float_array(x)
        p = self.padding
        self.x_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.xp_shape = xp.shape
        self.idx, (out_h, out_w) = im2col_indices(*xp.shape[1:], self.kernel_size, self.stride)
        self.cols = xp.reshape(xp.shape[0], -1)[:, self.idx]  # (N, C*K*K, H'*W')
        w_rows = self.params["W"].reshape(self.out_channels, -1)  # (F, C*K*K)
        out = w_rows @ self.cols + self.params["b"][:, None]  # (N, F, H'*W')
        return out.reshape(x.shape[0], self.out_channels, out_h, out_w)

    def backward(self, dout):
        n = dout.shape[0]
        d = dout.reshape(n, self.out_channels, -1)  # (N, F, H'*W')
        self.grads["b"] = d.sum(axis=(0, 2))
        self.grads["W"] = np.sum(d @ self.cols.transpose(0, 2, 1), axis=0).reshape(self.params["W"].shape)
        dcols = self.params["W"].reshape(self.out_channels, -1).T @ d  # (N, C*K*K, H'*W')
        dxp = np.zeros((n, int(np.prod(self.xp_shape[1:]))))
        for sample in range(n):
            np.add.at(dxp[sample], self.idx, dcols[sample])
        p, (h, w) = self.padding, self.x_shape[2:]
        return dxp.reshape(self.xp_shape)[:, :, p : p + h, p : p + w]


def dilate(dout, s):
    """Insert s - 1 zeros between the entries of dout along H and W."""
    n, f, out_h, out_w = dout.shape
    dil = np.zeros((n, f, (out_h - 1) * s + 1, (out_w - 1) * s + 1))
    dil[:, :, ::s, ::s] = dout
    return dil


class ConvScipy(ref.Conv2d):
    """scipy.signal.correlate forward; dx as a full convolution of the dilated dout with W."""

    def forward(self, x):
        x = as_float_array(x)
        p, s = self.padding, self.stride
        self.x_shape = x.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        W, b = self.params["W"], self.params["b"]
        out = np.stack(
            [
                np.stack(
                    [signal.correlate(xn, wf, mode="valid")[0] + bf for wf, bf in zip(W, b, strict=True)]
                )
                for xn in self.xp
            ]
        )
        return out[:, :, ::s, ::s]

    def backward(self, dout):
        p, s, k = self.padding, self.stride, self.kernel_size
        dil = dilate(dout, s)
        W, xp = self.params["W"], self.xp
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        self.grads["W"] = np.stack(
            [
                np.stack([sum(signal.correlate(xp[n, c], dil[n, f], mode="valid")[:k, :k] for n in range(len(xp)))
                          for c in range(self.in_channels)])
                for f in range(self.out_channels)
            ]
        )  # fmt: skip
        dxp = np.zeros_like(xp)
        hd, wd = dil.shape[2:]
        for n in range(len(xp)):
            for c in range(self.in_channels):
                full = sum(signal.convolve(dil[n, f], W[f, c], mode="full") for f in range(self.out_channels))
                dxp[n, c, : hd + k - 1, : wd + k - 1] = full
        h, w = self.x_shape[2:]
        return dxp[:, :, p : p + h, p : p + w]


# ============================================================================ MaxPool2d alternatives
class PoolExplicitLoops(ref.MaxPool2d):
    """Loops over every window; backward finds the first maximum again."""

    def forward(self, x):
        self.x = as_float_array(x)
        k, s = self.kernel_size, self.stride
        n_, c_, h, w = self.x.shape
        out = np.zeros((n_, c_, (h - k) // s + 1, (w - k) // s + 1))
        for n, c, i, j in np.ndindex(out.shape):
            best = -np.inf
            for u in range(k):
                for v in range(k):
                    best = max(best, self.x[n, c, i * s + u, j * s + v])
            out[n, c, i, j] = best
        return out

    def backward(self, dout):
        k, s = self.kernel_size, self.stride
        dx = np.zeros_like(self.x)
        for n, c, i, j in np.ndindex(dout.shape):
            window = self.x[n, c, i * s : i * s + k, j * s : j * s + k]
            u, v = np.unravel_index(np.argmax(window), window.shape)
            dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]
        return dx


class PoolFirstMaxMask(ref.MaxPool2d):
    """A broadcast mask of the maxima, keeping only the first (cumsum == 1) of each window."""

    def forward(self, x):
        x = as_float_array(x)
        k = self.kernel_size
        self.x_shape = x.shape
        win = windows(x, k, self.stride)
        flat = win.reshape(*win.shape[:4], k * k)
        out = flat.max(axis=-1)
        is_max = flat == out[..., None]
        self.mask = (is_max & (np.cumsum(is_max, axis=-1) == 1)).reshape(win.shape)
        return out

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        k, s = self.kernel_size, self.stride
        out_h, out_w = dout.shape[2:]
        for u in range(k):
            for v in range(k):
                dx[:, :, u : u + s * out_h : s, v : v + s * out_w : s] += dout * self.mask[..., u, v]
        return dx


class PoolTiesSplitEvenly(ref.MaxPool2d):
    """Another valid subgradient: tied maxima share the window's dout equally."""

    def forward(self, x):
        out = super().forward(x)
        win = windows(as_float_array(x), self.kernel_size, self.stride)
        ties = win == out[..., None, None]
        self.share = ties / ties.sum(axis=(4, 5), keepdims=True)
        return out

    def backward(self, dout):
        return scatter_windows(self.share * dout[..., None, None], self.x_shape, self.stride)


ALTERNATIVES = [
    Alternative("conv with explicit scalar loops", "Conv2d", ConvExplicitLoops),
    Alternative("conv with einsum over sliding_window_view", "Conv2d", ConvEinsumWindows),
    Alternative("conv with im2col and matmul", "Conv2d", ConvIm2col),
    Alternative("conv with scipy correlate and a full convolution for dx", "Conv2d", ConvScipy),
    Alternative("max-pool with explicit loops", "MaxPool2d", PoolExplicitLoops),
    Alternative("max-pool with a first-max mask", "MaxPool2d", PoolFirstMaxMask),
    Alternative("max-pool splitting ties evenly", "MaxPool2d", PoolTiesSplitEvenly),
]


# ============================================================================ naive loops, as in assignments
class ConvNaive(ref.Conv2d):
    """Loops over samples and output positions with a vectorised window product (the usual naive form).

    The hooks (`output_sizes`, `backward_padding`, `scatter`) are where the mistakes below go wrong."""

    def output_sizes(self, h, w):
        p, k, s = self.padding, self.kernel_size, self.stride
        return (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    def forward(self, x):
        x = as_float_array(x)
        p, k, s = self.padding, self.kernel_size, self.stride
        n_, _, h, w = x.shape
        self.x = x
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out_h, out_w = self.output_sizes(h, w)
        W, b = self.params["W"], self.params["b"]
        out = np.zeros((n_, self.out_channels, out_h, out_w))
        for n in range(n_):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * s : i * s + k, j * s : j * s + k]  # (C, K, K)
                    out[n, :, i, j] = np.sum(window * W, axis=(1, 2, 3)) + b
        return out

    backward_padding = None  # None: self.padding

    def backward(self, dout):
        p = self.padding if self.backward_padding is None else self.backward_padding
        x, W = self.x, self.params["W"]
        n_, _, h, w = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dxp, dW = np.zeros_like(xp), np.zeros_like(W)
        out_h, out_w = self.backward_sizes(dout)
        for n in range(n_):
            self.add_sample_dw(dW, n, xp, dout, out_h, out_w)
            for i in range(out_h):
                for j in range(out_w):
                    self.scatter(dxp, n, i, j, dout[n, :, i, j], W)
        self.grads = {"W": dW, "b": dout.sum(axis=(0, 2, 3))}
        return self.crop(dxp, p, h, w)

    def backward_sizes(self, dout):
        return dout.shape[2], dout.shape[3]

    def add_sample_dw(self, dW, n, xp, dout, out_h, out_w):
        k, s = self.kernel_size, self.stride
        for i in range(out_h):
            for j in range(out_w):
                window = xp[n, :, i * s : i * s + k, j * s : j * s + k]  # (C, K, K)
                dW += dout[n, :, i, j][:, None, None, None] * window[None]

    def scatter(self, dxp, n, i, j, g, W):
        k, s = self.kernel_size, self.stride
        dxp[n, :, i * s : i * s + k, j * s : j * s + k] += np.tensordot(g, W, axes=(0, 0))

    def crop(self, dxp, p, h, w):
        return dxp[:, :, p : p + h, p : p + w]


class ConvNaiveBackwardHWSwapped(ConvNaive):
    """Backward reads (W', H') from dout's shape: right only for square outputs."""

    def backward_sizes(self, dout):
        return dout.shape[3], dout.shape[2]


class ConvNaiveBackwardPaddingOne(ConvNaive):
    backward_padding = 1


class ConvNaiveAssertsStrideDivides(ConvNaive):
    def output_sizes(self, h, w):
        p, k, s = self.padding, self.kernel_size, self.stride
        assert (h + 2 * p - k) % s == 0 and (w + 2 * p - k) % s == 0, "invalid stride"
        return super().output_sizes(h, w)


class ConvNaiveRoundedSize(ConvNaive):
    def output_sizes(self, h, w):
        p, k, s = self.padding, self.kernel_size, self.stride
        return int(round((h + 2 * p - k) / s)) + 1, int(round((w + 2 * p - k) / s)) + 1


class ConvNaivePlusOneInsideDivision(ConvNaive):
    def output_sizes(self, h, w):
        p, k, s = self.padding, self.kernel_size, self.stride
        return (h + 2 * p - k + 1) // s, (w + 2 * p - k + 1) // s


class ConvNaiveDwLastSample(ConvNaive):
    """dW is assigned per sample (dW = ... inside the loop over n), not added up."""

    def add_sample_dw(self, dW, n, xp, dout, out_h, out_w):
        dW[...] = 0
        super().add_sample_dw(dW, n, xp, dout, out_h, out_w)


class ConvNaiveSkipsPaddingWindows(ConvNaive):
    """dx scattered straight into the unpadded input, skipping the windows that overlap the padding."""

    def scatter(self, dxp, n, i, j, g, W):
        k, s, p = self.kernel_size, self.stride, self.padding
        h, w = dxp.shape[2] - 2 * p, dxp.shape[3] - 2 * p
        top, left = i * s - p, j * s - p
        if top >= 0 and left >= 0 and top + k <= h and left + k <= w:
            super().scatter(dxp, n, i, j, g, W)


class ConvNaiveCropIntoPreallocated(ConvNaive):
    """dx = np.empty(x.shape); dx[...] = dxp[:, :, p:-p, p:-p]: a broadcast error when p = 0."""

    def crop(self, dxp, p, h, w):
        dx = np.empty((dxp.shape[0], dxp.shape[1], h, w))
        dx[...] = dxp[:, :, p:-p, p:-p]
        return dx


class ConvNaivePadsOneSide(ConvNaive):
    """np.pad(x, ((0, 0), (0, 0), (p, 0), (p, 0))): the zeros only before each axis."""

    def output_sizes(self, h, w):
        p, k, s = self.padding, self.kernel_size, self.stride
        return (h + p - k) // s + 1, (w + p - k) // s + 1

    def forward(self, x):
        p, self.padding = self.padding, 0
        try:
            x = np.pad(as_float_array(x), ((0, 0), (0, 0), (p, 0), (p, 0)))
            return ConvNaive.forward(self, x)
        finally:
            self.padding = p


class PoolNaive(ref.MaxPool2d):
    """Loops over output positions with a window mask, as in assignments."""

    def output_sizes(self, h, w):
        k, s = self.kernel_size, self.stride
        return (h - k) // s + 1, (w - k) // s + 1

    def forward(self, x):
        self.x = as_float_array(x)
        k, s = self.kernel_size, self.stride
        n_, c_, h, w = self.x.shape
        out_h, out_w = self.output_sizes(h, w)
        out = np.zeros((n_, c_, out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                out[:, :, i, j] = self.x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
        return out

    def backward(self, dout):
        k, s = self.kernel_size, self.stride
        dx = np.zeros_like(self.x)
        for n, c, i, j in np.ndindex(dout.shape):
            window = self.x[n, c, i * s : i * s + k, j * s : j * s + k]
            self.route(dx[n, c], i, j, window, dout[n, c, i, j])
        return dx

    def route(self, dx, i, j, window, g):
        k, s = self.kernel_size, self.stride
        u, v = divmod(int(np.argmax(window)), k)
        dx[i * s + u, j * s + v] += g


class PoolNaiveWidthFromHeight(PoolNaive):
    def output_sizes(self, h, w):
        out_h, _ = super().output_sizes(h, w)
        return out_h, out_h


class PoolNaiveAssignsWindow(PoolNaive):
    """dx[window] = mask * dout: a later window overwrites what an earlier one put on shared cells."""

    def route(self, dx, i, j, window, g):
        k, s = self.kernel_size, self.stride
        mask = np.zeros_like(window)
        mask.flat[np.argmax(window)] = 1
        dx[i * s : i * s + k, j * s : j * s + k] = mask * g


class PoolNaiveUnravelsByStride(PoolNaive):
    def route(self, dx, i, j, window, g):
        s = self.stride
        u, v = divmod(int(np.argmax(window)), s)
        dx[i * s + u, j * s + v] += g


BUGS += [
    Bug("conv backward reads (W', H') from dout", "Conv2d", ConvNaiveBackwardHWSwapped, "right only when H = W"),
    Bug("conv backward padding hard-coded to 1", "Conv2d", ConvNaiveBackwardPaddingOne, "hard-coded to 1"),
    Bug("conv asserts the stride divides the input", "Conv2d", ConvNaiveAssertsStrideDivides, "takes the floor"),
    Bug("conv output size with round()", "Conv2d", ConvNaiveRoundedSize, "round()"),
    Bug("conv output size with + 1 inside the division", "Conv2d", ConvNaivePlusOneInsideDivision, "before the division by the stride"),
    Bug("conv dW of the last sample only", "Conv2d", ConvNaiveDwLastSample, "last sample"),
    Bug("conv dx skips windows that overlap the padding", "Conv2d", ConvNaiveSkipsPaddingWindows, "overlap the padding"),
    Bug("conv dx[...] = dxp[p:-p, p:-p]", "Conv2d", ConvNaiveCropIntoPreallocated, "p:-p"),
    Bug("conv pads one side only", "Conv2d", ConvNaivePadsOneSide, "one side"),
    Bug("max-pool output width from H", "MaxPool2d", PoolNaiveWidthFromHeight, "height and width"),
    Bug("max-pool backward assigns the whole window", "MaxPool2d", PoolNaiveAssignsWindow, "overlapping windows must add"),
    Bug("max-pool argmax unravelled with the stride", "MaxPool2d", PoolNaiveUnravelsByStride, "not the stride"),
]  # fmt: skip
ALTERNATIVES += [
    Alternative("conv with naive loops over output positions", "Conv2d", ConvNaive),
    Alternative("max-pool with naive loops over output positions", "MaxPool2d", PoolNaive),
]


# ============================================================================ AvgPool2d
class AvgPoolNaive(ref.AvgPool2d):
    """Loops over every sample, channel and output position; each step of the mean is a method a bug can replace."""

    def output_sizes(self, h, w):
        k, s = self.kernel_size, self.stride
        return (h - k) // s + 1, (w - k) // s + 1

    def window(self, i, j):
        """Rows and columns of window (i, j)."""
        k, s = self.kernel_size, self.stride
        return slice(i * s, i * s + k), slice(j * s, j * s + k)

    def divisor(self):
        return self.kernel_size**2

    def pool(self, window):
        return window.sum() / self.divisor()

    def forward(self, x):
        x = as_float_array(x)
        self.x_shape = x.shape
        n, c, h, w = x.shape
        out_h, out_w = self.output_sizes(h, w)
        self.out_size = out_h * out_w
        out = np.zeros((n, c, out_h, out_w))
        for b, ch, i, j in np.ndindex(out.shape):
            rows, cols = self.window(i, j)
            out[b, ch, i, j] = self.pool(x[b, ch, rows, cols])
        return out

    def spread(self, dx, i, j, g):
        """Add window (i, j)'s gradient g onto dx (H, W)."""
        rows, cols = self.window(i, j)
        dx[rows, cols] += g / self.divisor()

    def backward(self, dout):
        dout = as_float_array(dout, "dout")
        dx = np.zeros(self.x_shape)
        for b, ch, i, j in np.ndindex(dout.shape):
            self.spread(dx[b, ch], i, j, dout[b, ch, i, j])
        return dx


class AvgPoolDividesByK(AvgPoolNaive):
    def divisor(self):
        return self.kernel_size


class AvgPoolDividesByWindowCount(AvgPoolNaive):
    def divisor(self):
        return self.out_size


class AvgPoolGradientToOneCell(AvgPoolNaive):
    def spread(self, dx, i, j, g):
        dx[i * self.stride, j * self.stride] += g


class AvgPoolGradientNotDivided(AvgPoolNaive):
    def spread(self, dx, i, j, g):
        rows, cols = self.window(i, j)
        dx[rows, cols] += g


class AvgPoolOverlapOverwritten(AvgPoolNaive):
    def spread(self, dx, i, j, g):
        rows, cols = self.window(i, j)
        dx[rows, cols] = g / self.divisor()


class AvgPoolStrideIgnored(AvgPoolNaive):
    """Windows placed every kernel_size cells, in forward and backward."""

    def output_sizes(self, h, w):
        k = self.kernel_size
        return (h - k) // k + 1, (w - k) // k + 1

    def window(self, i, j):
        k = self.kernel_size
        return slice(i * k, i * k + k), slice(j * k, j * k + k)


class AvgPoolStrideIgnoredInBackward(AvgPoolNaive):
    def spread(self, dx, i, j, g):
        k = self.kernel_size
        dx[i * k : i * k + k, j * k : j * k + k] += g / self.divisor()


class AvgPoolTakesMax(ref.AvgPool2d):
    """Max pooling under the name AvgPool2d: each window's maximum forward, its gradient to the maximum."""

    def __init__(self, kernel_size, stride=None):
        super().__init__(kernel_size, stride)
        self.max_pool = ref.MaxPool2d(kernel_size, stride)

    def forward(self, x):
        return self.max_pool.forward(x)

    def backward(self, dout):
        return self.max_pool.backward(dout)


class AvgPoolWidthFromHeight(AvgPoolNaive):
    def output_sizes(self, h, w):
        out_h, _ = super().output_sizes(h, w)
        return out_h, out_h


BUGS += [
    Bug("avg-pool divides by K", "AvgPool2d", AvgPoolDividesByK, "divided by K, but a window has K * K cells"),
    Bug("avg-pool divides by the number of windows", "AvgPool2d", AvgPoolDividesByWindowCount, "number of windows"),
    Bug("avg-pool gradient to one cell of the window", "AvgPool2d", AvgPoolGradientToOneCell, "not spread over the window"),
    Bug("avg-pool gradient not divided by K * K", "AvgPool2d", AvgPoolGradientNotDivided, "not divided by K * K"),
    Bug("avg-pool overlapping windows overwrite", "AvgPool2d", AvgPoolOverlapOverwritten, "overlapping windows must add"),
    Bug("avg-pool stride ignored", "AvgPool2d", AvgPoolStrideIgnored, "stride"),
    Bug("avg-pool stride ignored in backward", "AvgPool2d", AvgPoolStrideIgnoredInBackward, "stride is ignored"),
    Bug("avg-pool takes the maximum", "AvgPool2d", AvgPoolTakesMax, "maximum is taken"),
    Bug("avg-pool output width from H", "AvgPool2d", AvgPoolWidthFromHeight, "right only when H = W"),
]  # fmt: skip


class AvgPoolWindowViewAddAt(ref.AvgPool2d):
    """Forward: the mean of a sliding_window_view; backward: np.add.at on every window cell's (row, col)."""

    def forward(self, x):
        x = as_float_array(x)
        self.x_shape = x.shape
        return windows(x, self.kernel_size, self.stride).mean(axis=(-2, -1))

    def backward(self, dout):
        k, s = self.kernel_size, self.stride
        out_h, out_w = dout.shape[2:]
        rows = (np.arange(out_h) * s)[:, None] + np.arange(k)  # (H', K): the rows of each window
        cols = (np.arange(out_w) * s)[:, None] + np.arange(k)  # (W', K)
        r, c = np.broadcast_arrays(rows[:, None, :, None], cols[None, :, None, :])  # (H', W', K, K)
        share = np.broadcast_to((dout / (k * k))[..., None, None], (*dout.shape, k, k))
        dx = np.zeros(self.x_shape)
        np.add.at(dx, (slice(None), slice(None), r, c), share)  # repeated cells (overlaps) add up
        return dx


class AvgPoolIntegralImage(ref.AvgPool2d):
    """Window sums from a summed-area table (2-D cumulative sums), four lookups per window."""

    def forward(self, x):
        x = as_float_array(x)
        self.x_shape = x.shape
        k, s = self.kernel_size, self.stride
        padded = np.pad(x, ((0, 0), (0, 0), (1, 0), (1, 0)))  # a row and a column of zeros in front
        table = padded.cumsum(axis=2).cumsum(axis=3)  # (N, C, H + 1, W + 1): sums of x[:, :, :r, :c]
        top = np.arange((x.shape[2] - k) // s + 1) * s
        left = np.arange((x.shape[3] - k) // s + 1) * s

        def at(rows, cols):
            return table[:, :, rows][:, :, :, cols]

        total = at(top + k, left + k) - at(top, left + k) - at(top + k, left) + at(top, left)
        return total / (k * k)


ALTERNATIVES += [
    Alternative("avg-pool with naive loops over output positions", "AvgPool2d", AvgPoolNaive),
    Alternative("avg-pool: window-view mean, np.add.at backward", "AvgPool2d", AvgPoolWindowViewAddAt),
    Alternative("avg-pool from a summed-area table", "AvgPool2d", AvgPoolIntegralImage),
]


class PoolNaiveSizeIgnoresStride(PoolNaive):
    """out_h = int(H / K): the windows are read with the stride, but the output size assumes S = K."""

    def output_sizes(self, h, w):
        return int(h / self.kernel_size), int(w / self.kernel_size)


BUGS += [
    Bug("max-pool output size int(H / K)", "MaxPool2d", PoolNaiveSizeIgnoresStride, "output size ignores the stride"),
]  # fmt: skip
