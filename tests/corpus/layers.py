"""Mistakes and alternative implementations of Affine, Relu, Sigmoid, Tanh, Flatten."""

import numpy as np

import solutions as ref

from . import Alternative, Bug


class AffineNoBias(ref.Affine):
    def forward(self, x):
        out = super().forward(x)
        return out - self.params["b"]


class AffineTransposedDW(ref.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = (
            (dout.T @ self.x).T if self.grads["W"].shape[0] == self.grads["W"].shape[1] else dout.T @ self.x
        )
        return dx


class AffineTransposedDWAlways(ref.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = dout.T @ self.x
        return dx


class AffineBiasNotSummed(ref.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout
        return dx


class AffineBiasMean(ref.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=0)
        return dx


class AffineDividesByN(ref.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"] / dout.shape[0]
        return dx


class AffineNoReshapeBack(ref.Affine):
    def backward(self, dout):
        return super().backward(dout).reshape(dout.shape[0], -1)


class AffineAccumulates(ref.Affine):
    def backward(self, dout):
        old = {k: v.copy() for k, v in self.grads.items()}
        dx = super().backward(dout)
        for k in self.grads:
            if old[k].shape == self.grads[k].shape:
                self.grads[k] = self.grads[k] + old[k]
        return dx


class AffineBiasRow(ref.Affine):
    def __init__(self, in_features, out_features, rng=None):
        super().__init__(in_features, out_features, rng)
        self.params["b"] = np.zeros((1, out_features))
        self.grads["b"] = np.zeros((1, out_features))


class AffineLowercaseKeys(ref.Affine):
    def __init__(self, in_features, out_features, rng=None):
        super().__init__(in_features, out_features, rng)
        self.params = {"w": self.params["W"], "b": self.params["b"]}


class ReluMaskNotKept(ref.Relu):
    def forward(self, x):
        mask = x <= 0
        out = np.array(x, dtype=float)
        out[mask] = 0
        return out


class ReluNoMask(ref.Relu):
    def backward(self, dout):
        return np.asarray(dout, dtype=float).copy()


class ReluMutatesDout(ref.Relu):
    def backward(self, dout):
        dout[~self.mask] = 0
        return dout


class ReluMutatesInput(ref.Relu):
    def forward(self, x):
        self.mask = x > 0
        x[~self.mask] = 0
        return x


class ReluMaskOnOutputGeq(ref.Relu):
    def forward(self, x):
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, dout):
        return dout * (self.out >= 0)


class SigmoidDerivativeOfX(ref.Sigmoid):
    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return super().forward(x)

    def backward(self, dout):
        return dout * self.x * (1 - self.x)


class SigmoidNaiveNan(ref.Sigmoid):
    def forward(self, x):
        e = np.exp(x)
        self.out = e / (1 + e)
        return self.out


class TanhDerivativeOfX(ref.Tanh):
    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return super().forward(x)

    def backward(self, dout):
        return dout * (1 - self.x**2)


class TanhNaiveOverflow(ref.Tanh):
    def forward(self, x):
        self.out = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
        return self.out


class FlattenAllAxes(ref.Flatten):
    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(-1, x.shape[-1])


BUGS = [
    Bug("affine forward without bias", "Affine", AffineNoBias, "bias b is not added"),
    Bug("affine dW transposed (square W only)", "Affine", AffineTransposedDW, "transpose"),
    Bug("affine dW transposed", "Affine", AffineTransposedDWAlways, "transpose"),
    Bug("affine db not summed over the batch", "Affine", AffineBiasNotSummed, "not summed over the batch"),
    Bug("affine db is a mean", "Affine", AffineBiasMean, "mean over the batch"),
    Bug("affine dW divided by N", "Affine", AffineDividesByN, "1/N"),
    Bug("affine dx not reshaped to the input shape", "Affine", AffineNoReshapeBack, "reshape dx back"),
    Bug("affine grads accumulate", "Affine", AffineAccumulates, "accumulate"),
    Bug("affine b of shape (1, M)", "Affine", AffineBiasRow, "params['b'] has shape (1, "),
    Bug("affine params key 'w'", "Affine", AffineLowercaseKeys, "params has no key 'W'"),
    Bug("relu backward without mask", "Relu", ReluNoMask, "passed through unchanged"),
    Bug("relu mask not kept on self", "Relu", ReluMaskNotKept, "forward never stored"),
    Bug("relu backward writes into dout", "Relu", ReluMutatesDout, "in place"),
    Bug("relu forward writes into x", "Relu", ReluMutatesInput, "in place"),
    Bug("relu mask out >= 0 is always true", "Relu", ReluMaskOnOutputGeq, "passed through unchanged"),
    Bug("sigmoid derivative from x", "Sigmoid", SigmoidDerivativeOfX, "uses x"),
    Bug("sigmoid exp(x)/(1+exp(x)) gives nan", "Sigmoid", SigmoidNaiveNan, "inf or nan"),
    Bug("tanh derivative from x", "Tanh", TanhDerivativeOfX, "uses x"),
    Bug("tanh by exponentials overflows", "Tanh", TanhNaiveOverflow, "inf or nan"),
    Bug("flatten merges the batch axis", "Flatten", FlattenAllAxes, "keep the batch axis"),
]


class AffineEinsum(ref.Affine):
    def forward(self, x):
        self.x_in = np.asarray(x, dtype=float)
        flat = self.x_in.reshape(len(self.x_in), -1)
        return np.einsum("nd,dm->nm", flat, self.params["W"]) + self.params["b"]

    def backward(self, dout):
        flat = self.x_in.reshape(len(self.x_in), -1)
        self.grads["W"] = np.einsum("nd,nm->dm", flat, dout)
        self.grads["b"] = np.einsum("nm->m", dout)
        return np.einsum("nm,dm->nd", dout, self.params["W"]).reshape(self.x_in.shape)


class ReluCopyAndIndex(ref.Relu):
    """The 'Deep Learning from Scratch' style, done on copies."""

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class SigmoidNaiveWithWarnings(ref.Sigmoid):
    """Correct values; overflows (with a warning) for very negative x."""

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out


class TanhFromSigmoid(ref.Tanh):
    def forward(self, x):
        self.out = 2 * (0.5 * (1 + np.tanh(x))) - 1
        return self.out


ALTERNATIVES = [
    Alternative("affine with einsum", "Affine", AffineEinsum),
    Alternative("relu with copies and boolean indexing", "Relu", ReluCopyAndIndex),
    Alternative("naive sigmoid that warns", "Sigmoid", SigmoidNaiveWithWarnings),
    Alternative("tanh via 2*sigmoid(2x)-1", "Tanh", TanhFromSigmoid),
]


# ----------------------------------------------------------------------------- derivative formulas
class SigmoidDerivativeSignSlip(ref.Sigmoid):
    def backward(self, dout):
        s = self.out
        return dout * (s + s * s)  # s * (1 + s)


class TanhDerivativeWithoutSquare(ref.Tanh):
    def backward(self, dout):
        return dout - dout * self.out


class ReluMaskFromDout(ref.Relu):
    def backward(self, dout):
        return np.maximum(dout, 0.0)  # keeps dout where dout > 0


BUGS += [
    Bug("sigmoid backward out * (1 + out)", "Sigmoid", SigmoidDerivativeSignSlip, "not out * (1 + out)"),
    Bug("tanh backward 1 - out", "Tanh", TanhDerivativeWithoutSquare, "the square is missing"),
    Bug("relu backward masked by dout", "Relu", ReluMaskFromDout, "the mask comes from the sign of dout"),
]


class AffineDWReshapedNotTransposed(ref.Affine):
    """(dout.T @ x) has shape (M, D); reshaped to (D, M) instead of transposed."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = (dout.T @ self.x).reshape(self.params["W"].shape)
        return dx


BUGS += [
    Bug("affine dW reshaped instead of transposed", "Affine", AffineDWReshapedNotTransposed, "reshaped"),
]


class AffineRemovedReshapeKeyword(ref.Affine):
    """np.reshape(dx, newshape=...): the keyword NumPy 2 removed."""

    def backward(self, dout):
        dx = super().backward(dout)
        return np.reshape(dx.reshape(len(dx), -1), newshape=self.x_shape)


BUGS += [
    Bug("affine reshape with newshape=", "Affine", AffineRemovedReshapeKeyword, "NumPy 2 removed"),
]
