"""The held-out mistakes (frozen 2026-12-01; see __init__.py). Each overrides the reference."""

import numpy as np

import solutions as ref
from solutions.base import as_float_array

from . import HeldOut


# ============================================================================ activations
def sigmoid_wrong_sign(x):
    return 1.0 / (1.0 + np.exp(as_float_array(x)))


class SigmoidBackwardPlus(ref.Sigmoid):
    def backward(self, dout):
        return as_float_array(dout) * self.out * (1.0 + self.out)


class TanhBackwardNoSquare(ref.Tanh):
    def backward(self, dout):
        return as_float_array(dout) * (1.0 - self.out)


class ReluBackwardMaskedByDout(ref.Relu):
    def backward(self, dout):
        dout = as_float_array(dout)
        return np.where(dout > 0, dout, 0.0)


# ============================================================================ optimizers
class AdamBeta2ForFirstMoment(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key in params:
            p, g = params[key], grads[key] + self.weight_decay * params[key]
            self.m[key] = self.beta2 * self.m.get(key, 0.0) + (1 - self.beta2) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamCounterNeverIncremented(ref.Adam):
    def step(self, params, grads):
        self.t = 1
        for key in params:
            p, g = params[key], grads[key] + self.weight_decay * params[key]
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamRawGradient(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key in params:
            p, g = params[key], grads[key] + self.weight_decay * params[key]
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * g / (np.sqrt(v_hat) + self.eps)


class AdamLrEpsSwapped(ref.Adam):
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(eps, beta1, beta2, lr, weight_decay)


class AdamEpsInsideRoot(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key in params:
            p, g = params[key], grads[key] + self.weight_decay * params[key]
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / np.sqrt(v_hat + self.eps)


class AdamIgnoresEps(ref.Adam):
    def step(self, params, grads):
        eps, self.eps = self.eps, 1e-8
        try:
            super().step(params, grads)
        finally:
            self.eps = eps


class RMSPropEpsInsideRoot(ref.RMSProp):
    def step(self, params, grads):
        for key in params:
            p, g = params[key], grads[key] + self.weight_decay * params[key]
            self.h[key] = self.alpha * self.h.get(key, 0.0) + (1 - self.alpha) * g * g
            p -= self.lr * g / np.sqrt(self.h[key] + self.eps)


class MomentumWithoutLr(ref.Momentum):
    def step(self, params, grads):
        for key in params:
            p, g = params[key], grads[key] + self.weight_decay * params[key]
            v = self.velocity.get(key, np.zeros_like(p))
            self.velocity[key] = self.momentum * v - g
            p += self.velocity[key]


# ============================================================================ convolution and pooling
class NaiveConv2d(ref.Conv2d):
    """Loops over samples, filters and output positions; the flags add one mistake each."""

    dw_last_sample_only = False
    db_mean = False
    size_plus_one_first = False

    def out_size(self, size):
        k, s, p = self.kernel_size, self.stride, self.padding
        if self.size_plus_one_first:
            return (size + 2 * p - k + 1) // s
        return (size + 2 * p - k) // s + 1

    def forward(self, x):
        x = as_float_array(x)
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h, w = x.shape
        self.x_shape = x.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        W, b = self.params["W"], self.params["b"]
        oh, ow = self.out_size(h), self.out_size(w)
        out = np.zeros((n, W.shape[0], oh, ow))
        for i in range(oh):
            for j in range(ow):
                window = self.xp[:, :, i * s : i * s + k, j * s : j * s + k]
                out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b
        return out

    def backward(self, dout):
        dout = as_float_array(dout)
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h, w = self.x_shape
        W = self.params["W"]
        dxp = np.zeros_like(self.xp)
        dW = np.zeros_like(W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.xp[:, :, i * s : i * s + k, j * s : j * s + k]
                d = dout[:, :, i, j]  # (N, F)
                if self.dw_last_sample_only:
                    dW += np.tensordot(d[-1:], window[-1:], axes=([0], [0]))
                else:
                    dW += np.tensordot(d, window, axes=([0], [0]))
                dxp[:, :, i * s : i * s + k, j * s : j * s + k] += np.tensordot(d, W, axes=([1], [0]))
        self.grads["W"] = dW
        self.grads["b"] = dout.mean(axis=(0, 2, 3)) if self.db_mean else dout.sum(axis=(0, 2, 3))
        return dxp[:, :, p : p + h, p : p + w]


class ConvDwLastSample(NaiveConv2d):
    dw_last_sample_only = True


class ConvDbMean(NaiveConv2d):
    db_mean = True


class ConvSizePlusOneFirst(NaiveConv2d):
    size_plus_one_first = True


class ConvCropEmptyWithoutPadding(NaiveConv2d):
    def backward(self, dout):
        dx = super().backward(dout)
        p = self.padding
        dxp = np.pad(dx, ((0, 0), (0, 0), (p, p), (p, p)))
        return dxp[:, :, p:-p, p:-p]


class PoolArgmaxByStride(ref.MaxPool2d):
    """Backward unravels the window's argmax with the stride instead of the kernel size."""

    def forward(self, x):
        x = as_float_array(x)
        k, s = self.kernel_size, self.stride
        n, c, h, w = x.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        self.x_shape, self.x = x.shape, x
        out = np.zeros((n, c, oh, ow))
        self.arg = np.zeros((n, c, oh, ow), dtype=int)
        for i in range(oh):
            for j in range(ow):
                flat = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n, c, -1)
                out[:, :, i, j] = flat.max(axis=2)
                self.arg[:, :, i, j] = flat.argmax(axis=2)
        return out

    def unravel(self, a):
        return divmod(a, self.stride)

    def backward(self, dout):
        dout = as_float_array(dout)
        s = self.stride
        dx = np.zeros(self.x_shape)
        n, c, oh, ow = dout.shape
        for b in range(n):
            for ch in range(c):
                for i in range(oh):
                    for j in range(ow):
                        u, v = self.unravel(self.arg[b, ch, i, j])
                        dx[b, ch, i * s + u, j * s + v] += dout[b, ch, i, j]
        return dx


class PoolArgmaxRowsColumnsSwapped(PoolArgmaxByStride):
    def unravel(self, a):
        u, v = divmod(a, self.kernel_size)
        return v, u


class PoolBackwardOverwrites(PoolArgmaxByStride):
    """Overlapping windows: `=` where the gradients should add up."""

    def unravel(self, a):
        return divmod(a, self.kernel_size)

    def backward(self, dout):
        dout = as_float_array(dout)
        s = self.stride
        dx = np.zeros(self.x_shape)
        n, c, oh, ow = dout.shape
        for b in range(n):
            for ch in range(c):
                for i in range(oh):
                    for j in range(ow):
                        u, v = self.unravel(self.arg[b, ch, i, j])
                        dx[b, ch, i * s + u, j * s + v] = dout[b, ch, i, j]
        return dx


# ============================================================================ softmax, dropout, batch norm
class CrossEntropySoftmaxOverBatch(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        scores = as_float_array(scores)
        n, c = scores.shape
        target = np.eye(c)[np.asarray(y)] if np.ndim(y) == 1 else np.asarray(y, dtype=float)
        shifted = scores - scores.max(axis=0, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True)
        self.probs, self.target = probs, target
        return float(-(target * np.log(probs + 1e-300)).sum() / n)


class CrossEntropyBackwardRawScores(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        self.scores = as_float_array(scores)
        return super().forward(scores, y)

    def backward(self, dout=1.0):
        return dout * (self.scores - self.target) / self.scores.shape[0]


class DropoutBackwardNeverMasks(ref.Dropout):
    def backward(self, dout):
        dout = as_float_array(dout)
        if self.scale is None:
            return dout.copy()
        return dout / (1.0 - self.p)


class BatchNormEvalEpsOutsideRoot(ref.BatchNorm1d):
    def forward(self, x):
        if self.training:
            return super().forward(x)
        x = as_float_array(x)
        self.batch_stats = False
        self.inv_std = 1.0 / (np.sqrt(self.running_var) + self.eps)
        self.x_hat = (x - self.running_mean) * self.inv_std
        return self.params["gamma"] * self.x_hat + self.params["beta"]


class BatchNormKeepdims(ref.BatchNorm1d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads = {k: v[None, :] for k, v in self.grads.items()}
        return dx


HELD_OUT = [
    HeldOut("sigmoid forward 1/(1+exp(x))", "sigmoid", sigmoid_wrong_sign, ("exp(-x)", "sign")),
    HeldOut("sigmoid backward out*(1+out)", "Sigmoid", SigmoidBackwardPlus, ("1 - out",)),
    HeldOut("tanh backward 1-out", "Tanh", TanhBackwardNoSquare, ("square", "out**2", "out ** 2", "out^2")),
    HeldOut("relu backward masked by dout", "Relu", ReluBackwardMaskedByDout, ("dout", "mask")),
    HeldOut("adam beta2 for the first moment", "Adam", AdamBeta2ForFirstMoment, ("beta1", "first moment")),
    HeldOut("adam step counter never incremented", "Adam", AdamCounterNeverIncremented, ("counter", "incremented", "t += 1", "step count")),
    HeldOut("adam raw gradient instead of m_hat", "Adam", AdamRawGradient, ("first moment", "m_hat")),
    HeldOut("adam lr and eps swapped", "Adam", AdamLrEpsSwapped, ("lr", "eps")),
    HeldOut("adam eps inside the square root", "Adam", AdamEpsInsideRoot, ("inside the square root", "sqrt(v_hat) + eps")),
    HeldOut("adam ignores its eps", "Adam", AdamIgnoresEps, ("eps",)),
    HeldOut("rmsprop eps inside the square root", "RMSProp", RMSPropEpsInsideRoot, ("inside the square root", "sqrt(h) + eps")),
    HeldOut("momentum without lr", "Momentum", MomentumWithoutLr, ("lr",)),
    HeldOut("conv dW from the last sample only", "Conv2d", ConvDwLastSample, ("summed over the batch", "every sample", "last sample")),
    HeldOut("conv db averaged", "Conv2d", ConvDbMean, ("db", "sum", "mean")),
    HeldOut("conv output size +1 before the stride division", "Conv2d", ConvSizePlusOneFirst, ("+ 1 before", "before dividing", "after the division", "outside the division")),
    HeldOut("conv crop p:-p empty without padding", "Conv2d", ConvCropEmptyWithoutPadding, ("p:-p", "padding is 0", "empty")),
    HeldOut("pool argmax unravelled with the stride", "MaxPool2d", PoolArgmaxByStride, ("stride", "kernel size", "unravel")),
    HeldOut("pool argmax rows and columns swapped", "MaxPool2d", PoolArgmaxRowsColumnsSwapped, ("swapped", "rows and columns", "transpose")),
    HeldOut("pool backward overwrites overlapping windows", "MaxPool2d", PoolBackwardOverwrites, ("overlap", "add up", "+=")),
    HeldOut("softmax over the batch axis", "SoftmaxCrossEntropy", CrossEntropySoftmaxOverBatch, ("axis", "over the batch")),
    HeldOut("cross-entropy backward with the raw scores", "SoftmaxCrossEntropy", CrossEntropyBackwardRawScores, ("softmax", "probabilit")),
    HeldOut("dropout backward rescales but never masks", "Dropout", DropoutBackwardNeverMasks, ("never", "not masked", "apply the mask", "rescal")),
    HeldOut("batchnorm eval eps outside the root", "BatchNorm1d", BatchNormEvalEpsOutsideRoot, ("eps", "sqrt(var + eps)")),
    HeldOut("batchnorm grads with keepdims", "BatchNorm1d", BatchNormKeepdims, ("keepdims",)),
]  # fmt: skip
