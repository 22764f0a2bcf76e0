"""Mistakes and alternative implementations of SoftmaxCrossEntropy and MSELoss."""

import numpy as np
from scipy.special import logsumexp

import solutions as ref

from . import Alternative, Bug


def log_softmax_rows(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def targets(y, c):
    y = np.asarray(y)
    return y.astype(float) if y.ndim == 2 else np.eye(c)[y.astype(int)]


# ----------------------------------------------------------------------------- SoftmaxCrossEntropy bugs
class CESubtractsInput(ref.SoftmaxCrossEntropy):
    """The classic slip: dx = (y - x) / N with x the scores instead of t the labels."""

    def forward(self, scores, y):
        self.scores = np.asarray(scores, dtype=float).copy()
        return super().forward(scores, y)

    def backward(self, dout=1.0):
        return dout * (self.probs - self.scores) / len(self.scores)


class CESummed(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        return super().forward(scores, y) * len(scores)


class CEBackwardNotDivided(ref.SoftmaxCrossEntropy):
    def backward(self, dout=1.0):
        return dout * (self.probs - self.target)


class CELabelsAsOneHot(ref.SoftmaxCrossEntropy):
    """Uses y as the target whatever its shape."""

    def forward(self, scores, y):
        log_probs = log_softmax_rows(np.asarray(scores, dtype=float))
        self.probs, self.target = np.exp(log_probs), np.asarray(y, dtype=float)
        return float(-(self.target * log_probs).sum() / len(scores))


class CEOneHotAsLabels(ref.SoftmaxCrossEntropy):
    """Indexes with y whatever its shape."""

    def forward(self, scores, y):
        scores = np.asarray(scores, dtype=float)
        n = len(scores)
        log_probs = log_softmax_rows(scores)
        labels = np.asarray(y).astype(int)
        self.probs, self.target = np.exp(log_probs), targets(y, scores.shape[1])
        return float(-log_probs[np.arange(n), labels].sum() / n)


class CELogOfZero(ref.SoftmaxCrossEntropy):
    """Stable softmax, then log of the probabilities: -log(0) = inf for a confidently wrong row."""

    def forward(self, scores, y):
        scores = np.asarray(scores, dtype=float)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        self.probs = shifted / shifted.sum(axis=1, keepdims=True)
        self.target = targets(y, scores.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(-(self.target * np.log(self.probs)).sum() / len(scores))


class CELogOfZeroPicked(ref.SoftmaxCrossEntropy):
    """Stable softmax, then -log of the true class's probability: inf for a confidently wrong row."""

    def forward(self, scores, y):
        super().forward(scores, y)
        labels = self.target.argmax(axis=1)
        with np.errstate(divide="ignore"):
            return float(-np.log(self.probs[np.arange(len(labels)), labels]).mean())


class CELogEps(CELogOfZero):
    """'Deep Learning from Scratch' style: -sum(t * log(p + 1e-7)) / N."""

    def forward(self, scores, y):
        super().forward(scores, y)
        return float(-(self.target * np.log(self.probs + 1e-7)).sum() / len(scores))


class CENoMaxShift(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        scores = np.asarray(scores, dtype=float)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            e = np.exp(scores)
            self.probs = e / e.sum(axis=1, keepdims=True)
            self.target = targets(y, scores.shape[1])
            return float(-(self.target * np.log(self.probs)).sum() / len(scores))


class CEIgnoresDout(ref.SoftmaxCrossEntropy):
    def backward(self, dout=1.0):
        return super().backward(1.0)


class CEMeanOverAll(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        super().forward(scores, y)
        return float(-np.mean(self.target * np.log(self.probs)))


class CEShiftsInPlace(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        scores -= scores.max(axis=1, keepdims=True)
        return super().forward(scores, y)


class CENoTargetInBackward(ref.SoftmaxCrossEntropy):
    def backward(self, dout=1.0):
        return dout * self.probs / len(self.probs)


class CESignFlipped(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        return -super().forward(scores, y)


# ----------------------------------------------------------------------------- MSELoss bugs
class MSEDividesByN(ref.MSELoss):
    def forward(self, pred, target):
        super().forward(pred, target)
        return float((self.diff**2).sum() / len(self.diff))

    def backward(self, dout=1.0):
        return dout * 2 * self.diff / len(self.diff)


class MSEBackwardByN(ref.MSELoss):
    def backward(self, dout=1.0):
        return dout * 2 * self.diff / self.diff.shape[0]


class MSENoFactorTwo(ref.MSELoss):
    def backward(self, dout=1.0):
        return dout * self.diff / self.diff.size


class MSESignFlipped(ref.MSELoss):
    def backward(self, dout=1.0):
        return -super().backward(dout)


class MSEHalfSum(ref.MSELoss):
    """The 'Deep Learning from Scratch' convention 0.5 * sum((y - t) ** 2)."""

    def forward(self, pred, target):
        super().forward(pred, target)
        return float(0.5 * (self.diff**2).sum())

    def backward(self, dout=1.0):
        return dout * self.diff


class MSEHalfSumBackward(ref.MSELoss):
    def backward(self, dout=1.0):
        return dout * self.diff


class MSEIgnoresDout(ref.MSELoss):
    def backward(self, dout=1.0):
        return 2 * self.diff / self.diff.size


class MSESummed(ref.MSELoss):
    def forward(self, pred, target):
        return super().forward(pred, target) * np.size(pred)


class MSESubtractsInPlace(ref.MSELoss):
    def forward(self, pred, target):
        pred -= target
        self.diff = pred
        return float(np.mean(pred**2))


BUGS = [
    Bug(
        "softmax-with-loss backward subtracts the input instead of the labels",
        "SoftmaxCrossEntropy",
        CESubtractsInput,
        "subtracts the input scores instead of the labels",
    ),
    Bug("cross-entropy summed over the batch", "SoftmaxCrossEntropy", CESummed, "summed over the batch"),
    Bug(
        "cross-entropy backward not divided by N", "SoftmaxCrossEntropy", CEBackwardNotDivided, "factor of N"
    ),
    Bug(
        "int labels used as one-hot", "SoftmaxCrossEntropy", CELabelsAsOneHot, "used as if they were one-hot"
    ),
    Bug("one-hot y used as labels", "SoftmaxCrossEntropy", CEOneHotAsLabels, "one-hot"),
    Bug("log(0) for a confidently wrong row", "SoftmaxCrossEntropy", CELogOfZero, "log(0)"),
    Bug("log(0) of the picked probability", "SoftmaxCrossEntropy", CELogOfZeroPicked, "log(0)"),
    Bug("log(p + 1e-7) caps the loss", "SoftmaxCrossEntropy", CELogEps, "log(p + eps)"),
    Bug(
        "softmax without the max shift overflows",
        "SoftmaxCrossEntropy",
        CENoMaxShift,
        "softmax overflows for scores around 1000: subtract the row max",
    ),
    Bug("cross-entropy backward ignores dout", "SoftmaxCrossEntropy", CEIgnoresDout, "ignores dout"),
    Bug("cross-entropy np.mean over N * C", "SoftmaxCrossEntropy", CEMeanOverAll, "divides by N * C"),
    Bug("cross-entropy shifts the scores in place", "SoftmaxCrossEntropy", CEShiftsInPlace, "in place"),
    Bug(
        "cross-entropy backward without the target",
        "SoftmaxCrossEntropy",
        CENoTargetInBackward,
        "not subtracted",
    ),
    Bug("cross-entropy sign flipped", "SoftmaxCrossEntropy", CESignFlipped, "sign is flipped"),
    Bug(
        "mse divided by N instead of the size", "MSELoss", MSEDividesByN, "instead of the number of elements"
    ),
    Bug("mse backward divided by N", "MSELoss", MSEBackwardByN, "instead of the number of elements"),
    Bug("mse backward without the factor 2", "MSELoss", MSENoFactorTwo, "missing factor 2"),
    Bug("mse backward sign flipped", "MSELoss", MSESignFlipped, "sign is flipped"),
    Bug("mse as 0.5 * sum", "MSELoss", MSEHalfSum, "mean over ALL elements"),
    Bug("mse backward of 0.5 * sum", "MSELoss", MSEHalfSumBackward, "Deep Learning from Scratch"),
    Bug("mse backward ignores dout", "MSELoss", MSEIgnoresDout, "ignores dout"),
    Bug("mse summed", "MSELoss", MSESummed, "summed, not averaged"),
    Bug("mse subtracts the target in place", "MSELoss", MSESubtractsInPlace, "in place"),
]


# ----------------------------------------------------------------------------- alternatives
class CELogsumexp(ref.SoftmaxCrossEntropy):
    """scipy's logsumexp, labels picked by index; one-hot rows turned into labels."""

    def forward(self, scores, y):
        scores = np.asarray(scores, dtype=float)
        y = np.asarray(y)
        self.labels = y.argmax(axis=1) if y.ndim == 2 else y.astype(int)
        n = len(scores)
        lse = logsumexp(scores, axis=1)
        self.probs = np.exp(scores - lse[:, None])
        return float(np.mean(lse - scores[np.arange(n), self.labels]))

    def backward(self, dout=1.0):
        dx = self.probs.copy()  # index arithmetic instead of a one-hot matrix
        dx[np.arange(len(dx)), self.labels] -= 1.0
        return dx * (dout / len(dx))


class CEExplicitLoops(ref.SoftmaxCrossEntropy):
    """Row by row, with np.eye for the targets."""

    def forward(self, scores, y):
        scores = np.asarray(scores, dtype=float)
        n, c = scores.shape
        self.target = targets(y, c)
        self.probs = np.zeros_like(scores)
        total = 0.0
        for i in range(n):
            m = scores[i].max()
            e = np.exp(scores[i] - m)
            self.probs[i] = e / e.sum()
            log_p = scores[i] - m - np.log(e.sum())
            total -= float(self.target[i] @ log_p)
        return total / n

    def backward(self, dout=1.0):
        n = len(self.probs)
        return np.array([(self.probs[i] - self.target[i]) * dout / n for i in range(n)])


class MSESquareAndSize(ref.MSELoss):
    def forward(self, pred, target):
        self.pred, self.target = np.asarray(pred, dtype=float), np.asarray(target, dtype=float)
        return np.square(self.pred - self.target).sum() / self.pred.size

    def backward(self, dout=1.0):
        return np.multiply(dout, 2.0) * np.subtract(self.pred, self.target) / np.size(self.pred)


class CERoundOffBelowZero(ref.SoftmaxCrossEntropy):
    """Another summation order: a loss that should be 0 (one class) comes out as -1.85e-17."""

    def forward(self, scores, y):
        return super().forward(scores, y) - 1.85e-17


ALTERNATIVES = [
    Alternative("cross-entropy via scipy logsumexp and index arithmetic", "SoftmaxCrossEntropy", CELogsumexp),
    Alternative("cross-entropy with round-off below zero", "SoftmaxCrossEntropy", CERoundOffBelowZero),
    Alternative("cross-entropy row by row with np.eye targets", "SoftmaxCrossEntropy", CEExplicitLoops),
    Alternative("mse via np.square and size", "MSELoss", MSESquareAndSize),
]


# ----------------------------------------------------------------------------- softmax axis and raw scores
class CESoftmaxDownColumns(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        scores = np.asarray(scores, dtype=float)
        n, c = scores.shape
        self.target = np.eye(c)[y] if np.ndim(y) == 1 else np.asarray(y, dtype=float)
        e = np.exp(scores - scores.max(axis=0))
        self.probs = e / e.sum(axis=0)
        return float(-np.sum(self.target * np.log(self.probs)) / n)


class CEBackwardFromScores(ref.SoftmaxCrossEntropy):
    def forward(self, scores, y):
        self.raw = np.asarray(scores, dtype=float)
        return super().forward(scores, y)

    def backward(self, dout=1.0):
        return dout * (self.raw - self.target) / len(self.raw)


BUGS += [
    Bug("softmax cross-entropy over the batch axis", "SoftmaxCrossEntropy", CESoftmaxDownColumns, "over the batch axis"),
    Bug("cross-entropy backward from the raw scores", "SoftmaxCrossEntropy", CEBackwardFromScores, "raw scores instead"),
]  # fmt: skip


class CELabelsOrOneHotBySize(ref.SoftmaxCrossEntropy):
    """One-hot when y has as many entries as the scores: with one class, labels pass for one-hot."""

    def forward(self, scores, y):
        scores, y = np.asarray(scores, dtype=float), np.asarray(y)
        labels = y.argmax(axis=1) if y.size == scores.size else y.astype(int)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs, self.target = np.exp(log_probs), np.eye(scores.shape[1])[labels]
        return float(-log_probs[np.arange(len(labels)), labels].mean())


BUGS += [
    Bug("cross-entropy tells one-hot by size", "SoftmaxCrossEntropy", CELabelsOrOneHotBySize, "by y.ndim"),
]
