"""Mistakes and alternative implementations of Dropout and BatchNorm1d."""

import numpy as np

import solutions as ref
from solutions.base import as_float_array

from . import Alternative, Bug


# ----------------------------------------------------------------------------- Dropout
class DropoutMask(ref.Dropout):
    """Dropout written around a keep-mask, with hooks for one mistake at a time."""

    def draw(self, shape):
        return self.rng.random(shape) >= self.p

    def forward(self, x):
        x = as_float_array(x)
        if not self.training:
            self.mask = None
            return x.copy()
        self.mask = self.draw(x.shape)
        return x * self.mask / (1 - self.p)

    def backward(self, dout):
        if self.mask is None:
            return dout.copy()
        return dout * self.mask / (1 - self.p)


class DropoutNotScaled(DropoutMask):
    def forward(self, x):
        out = super().forward(x)
        return out * (1 - self.p) if self.training else out


class DropoutRescaledAtTest(DropoutMask):
    def forward(self, x):
        out = super().forward(x)
        return out if self.training else out * (1 - self.p)


class DropoutKeepDropSwapped(DropoutMask):
    def draw(self, shape):
        return self.rng.random(shape) < self.p


class DropoutIgnoresP(DropoutMask):
    def draw(self, shape):
        return self.rng.random(shape) >= 0.5


class DropoutNewMaskInBackward(DropoutMask):
    def backward(self, dout):
        if self.mask is None:
            return dout.copy()
        return dout * self.draw(dout.shape) / (1 - self.p)


class DropoutBackwardNotScaled(DropoutMask):
    def backward(self, dout):
        return dout * self.mask if self.mask is not None else dout.copy()


class DropoutActiveInEval(DropoutMask):
    def forward(self, x):
        x = as_float_array(x)
        self.mask = self.draw(x.shape)
        return x * self.mask / (1 - self.p)


class DropoutChecksTrainMethod(DropoutMask):
    """`self.train` is a method, always truthy: dropout stays on in eval mode."""

    def forward(self, x):
        x = as_float_array(x)
        if not self.train:
            self.mask = None
            return x.copy()
        self.mask = self.draw(x.shape)
        return x * self.mask / (1 - self.p)


class DropoutStaleMaskInEval(DropoutMask):
    def forward(self, x):
        x = as_float_array(x)
        if not self.training:
            return x.copy()
        self.mask = self.draw(x.shape)
        return x * self.mask / (1 - self.p)


class DropoutGlobalRandom(DropoutMask):
    def draw(self, shape):
        return np.random.rand(*shape) >= self.p


class DropoutMaskOnce(DropoutMask):
    def draw(self, shape):
        if getattr(self, "fixed", None) is None or self.fixed.shape != shape:
            self.fixed = self.rng.random(shape) >= self.p
        return self.fixed


class DropoutMultipliesByKeep(DropoutMask):
    def forward(self, x):
        out = super().forward(x)
        return out * (1 - self.p) ** 2 if self.training else out


class DropoutScalesByP(DropoutMask):
    def forward(self, x):
        out = super().forward(x)
        return out * (1 - self.p) / self.p if self.training else out


class DropoutInPlace(DropoutMask):
    def forward(self, x):
        x = as_float_array(x)
        if not self.training:
            self.mask = None
            return x
        self.mask = self.draw(x.shape)
        x *= self.mask / (1 - self.p)
        return x


# ----------------------------------------------------------------------------- BatchNorm1d
class BatchNormSteps(ref.BatchNorm1d):
    """BatchNorm1d with hooks for one mistake at a time."""

    def statistics(self, x):
        return x.mean(axis=0), x.var(axis=0)

    def update_running(self, mean, var):
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mean
        self.running_var = m * self.running_var + (1 - m) * var

    def normalise_with(self, mean, var):
        return mean, var

    def forward(self, x):
        x = as_float_array(x)
        if self.training:
            mean, var = self.statistics(x)
            self.update_running(mean, var)
            mean, var = self.normalise_with(mean, var)
        else:
            mean, var = self.running_mean, self.running_var
        self.batch_stats = self.training
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mean) * self.inv_std
        return self.params["gamma"] * self.x_hat + self.params["beta"]


class BatchNormWrongAxis(BatchNormSteps):
    def statistics(self, x):
        return x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)

    def update_running(self, mean, var):
        pass


class BatchNormRunningInTraining(BatchNormSteps):
    def normalise_with(self, mean, var):
        return self.running_mean, self.running_var


class BatchNormUnbiasedBatchVar(BatchNormSteps):
    def statistics(self, x):
        return x.mean(axis=0), x.var(axis=0, ddof=1)


class BatchNormMomentumSwapped(BatchNormSteps):
    def update_running(self, mean, var):
        m = 1 - self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mean
        self.running_var = m * self.running_var + (1 - m) * var


class BatchNormRunningNotUpdated(BatchNormSteps):
    def update_running(self, mean, var):
        pass


class BatchNormRunningVarFromStd(BatchNormSteps):
    def update_running(self, mean, var):
        super().update_running(mean, np.sqrt(var))


class BatchNormBatchStatsInEval(ref.BatchNorm1d):
    def forward(self, x):
        training = self.training
        self.training = True
        saved = self.running_mean.copy(), self.running_var.copy()
        out = super().forward(x)
        self.running_mean, self.running_var = saved if not training else (self.running_mean, self.running_var)
        self.training = training
        return out


class BatchNormUpdatesInEval(ref.BatchNorm1d):
    def forward(self, x):
        if not self.training:
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * x.mean(axis=0)
            self.running_var = m * self.running_var + (1 - m) * x.var(axis=0)
        return super().forward(x)


class BatchNormNoAffine(ref.BatchNorm1d):
    def forward(self, x):
        super().forward(x)
        return self.x_hat


class BatchNormNoEps(BatchNormSteps):
    def forward(self, x):
        eps, self.eps = self.eps, 0.0
        try:
            return super().forward(x)
        finally:
            self.eps = eps


class BatchNormFixedEps(ref.BatchNorm1d):
    def forward(self, x):
        eps, self.eps = self.eps, 1e-5
        try:
            return super().forward(x)
        finally:
            self.eps = eps


class BatchNormDgammaNotSummed(ref.BatchNorm1d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = dout * self.x_hat
        return dx


class BatchNormDgammaFromX(ref.BatchNorm1d):
    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return super().forward(x)

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = (dout * self.x).sum(axis=0)
        return dx


class BatchNormDbetaMean(ref.BatchNorm1d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["beta"] = dout.mean(axis=0)
        return dx


class BatchNormConstantStatistics(ref.BatchNorm1d):
    """dx as if the batch mean and variance did not depend on x."""

    def backward(self, dout):
        super().backward(dout)
        return dout * self.params["gamma"] * self.inv_std


class BatchNormTrainBackwardAlways(ref.BatchNorm1d):
    def backward(self, dout):
        self.batch_stats = True
        return super().backward(dout)


class BatchNormForgetsGamma(ref.BatchNorm1d):
    def backward(self, dout):
        gamma = self.params["gamma"]
        self.params["gamma"] = np.ones_like(gamma)
        try:
            dx = super().backward(dout)
            self.grads["gamma"] = (dout * self.x_hat).sum(axis=0)
            return dx
        finally:
            self.params["gamma"] = gamma


BUGS = [
    Bug("dropout survivors not rescaled", "Dropout", DropoutNotScaled, "not scaled by 1/(1-p)"),
    Bug("dropout rescaled at test time", "Dropout", DropoutRescaledAtTest, "rescaled at test time"),
    Bug(
        "dropout keep and drop swapped",
        "Dropout",
        DropoutKeepDropSwapped,
        "keep and drop probabilities are swapped",
    ),
    Bug("dropout ignores p", "Dropout", DropoutIgnoresP, "p is ignored"),
    Bug("dropout new mask in backward", "Dropout", DropoutNewMaskInBackward, "backward draws a new mask"),
    Bug("dropout backward not scaled", "Dropout", DropoutBackwardNotScaled, "dx is not scaled"),
    Bug("dropout active in eval", "Dropout", DropoutActiveInEval, "dropout active in eval mode"),
    Bug("dropout tests self.train", "Dropout", DropoutChecksTrainMethod, "dropout active in eval mode"),
    Bug(
        "dropout eval backward reuses the training mask", "Dropout", DropoutStaleMaskInEval, "active in eval"
    ),
    Bug("dropout from np.random", "Dropout", DropoutGlobalRandom, "not drawn from self.rng"),
    Bug("dropout mask drawn once", "Dropout", DropoutMaskOnce, "same mask is reused"),
    Bug("dropout survivors times (1-p)", "Dropout", DropoutMultipliesByKeep, "multiplied by (1 - p)"),
    Bug("dropout survivors divided by p", "Dropout", DropoutScalesByP, "scaled by 1/p"),
    Bug("dropout writes into x", "Dropout", DropoutInPlace, "in place"),
    Bug("batchnorm over the feature axis", "BatchNorm1d", BatchNormWrongAxis, "wrong axis"),
    Bug(
        "batchnorm running stats in training",
        "BatchNorm1d",
        BatchNormRunningInTraining,
        "running statistics used in training",
    ),
    Bug("batchnorm unbiased batch variance", "BatchNorm1d", BatchNormUnbiasedBatchVar, "unbiased variance"),
    Bug(
        "batchnorm momentum swapped",
        "BatchNorm1d",
        BatchNormMomentumSwapped,
        "momentum is used the wrong way round",
    ),
    Bug(
        "batchnorm running stats not updated",
        "BatchNorm1d",
        BatchNormRunningNotUpdated,
        "not updated in training",
    ),
    Bug("batchnorm running var from std", "BatchNorm1d", BatchNormRunningVarFromStd, "standard deviation"),
    Bug(
        "batchnorm batch stats in eval",
        "BatchNorm1d",
        BatchNormBatchStatsInEval,
        "batch statistics used in eval",
    ),
    Bug(
        "batchnorm updates running stats in eval",
        "BatchNorm1d",
        BatchNormUpdatesInEval,
        "updated in eval mode",
    ),
    Bug(
        "batchnorm without gamma and beta", "BatchNorm1d", BatchNormNoAffine, "gamma and beta are not applied"
    ),
    Bug("batchnorm without eps", "BatchNorm1d", BatchNormNoEps, "add eps"),
    Bug("batchnorm ignores the eps argument", "BatchNorm1d", BatchNormFixedEps, "use self.eps"),
    Bug("batchnorm dgamma not summed", "BatchNorm1d", BatchNormDgammaNotSummed, "not summed over the batch"),
    Bug("batchnorm dgamma from x", "BatchNorm1d", BatchNormDgammaFromX, "uses x instead"),
    Bug("batchnorm dbeta is a mean", "BatchNorm1d", BatchNormDbetaMean, "dbeta is the mean"),
    Bug("batchnorm dx with constant statistics", "BatchNorm1d", BatchNormConstantStatistics, "as constants"),
    Bug(
        "batchnorm training backward in eval", "BatchNorm1d", BatchNormTrainBackwardAlways, "training formula"
    ),
    Bug("batchnorm dx without gamma", "BatchNorm1d", BatchNormForgetsGamma, "missing the factor gamma"),
]


# ----------------------------------------------------------------------------- correct variants
class DropoutBinomial(DropoutMask):
    def draw(self, shape):
        return self.rng.binomial(1, 1 - self.p, size=shape)


class DropoutUniformBelowKeep(DropoutMask):
    def draw(self, shape):
        return self.rng.uniform(size=shape) < 1 - self.p


class DropoutScaledMask(ref.Dropout):
    """The scale is folded into a float mask once, and x * 0 may give -0.0."""

    def forward(self, x):
        x = as_float_array(x)
        self.scaled = None
        if self.training:
            self.scaled = np.where(self.rng.random(x.shape) < self.p, 0.0, 1.0 / (1.0 - self.p))
            return x * self.scaled
        return x.copy()

    def backward(self, dout):
        return dout.copy() if self.scaled is None else dout * self.scaled


class BatchNormBook(ref.BatchNorm1d):
    """'Deep Learning from Scratch' style: backward through the centred input xc and std."""

    def forward(self, x):
        x = as_float_array(x)
        if self.training:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + self.eps)
            self.xc, self.std, self.xn = xc, std, xc / std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            self.batch_stats = True
        else:
            self.std = np.sqrt(self.running_var + self.eps)
            self.xn = (x - self.running_mean) / self.std
            self.batch_stats = False
        return self.params["gamma"] * self.xn + self.params["beta"]

    def backward(self, dout):
        self.grads["beta"] = dout.sum(axis=0)
        self.grads["gamma"] = np.sum(self.xn * dout, axis=0)
        dxn = self.params["gamma"] * dout
        if not self.batch_stats:
            return dxn / self.std
        n = dout.shape[0]
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / n) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / n


class BatchNormEpsOutsideSqrt(BatchNormSteps):
    def forward(self, x):
        x = as_float_array(x)
        if self.training:
            mean, var = self.statistics(x)
            self.update_running(mean, var)
        else:
            mean, var = self.running_mean, self.running_var
        self.batch_stats = self.training
        self.inv_std = 1.0 / (np.sqrt(var) + self.eps)
        self.x_hat = (x - mean) * self.inv_std
        return self.params["gamma"] * self.x_hat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.x_hat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dx_hat = dout * self.params["gamma"]
        if not self.batch_stats:
            return dx_hat * self.inv_std
        # x_hat = c / (s + eps) with c = x - mean and s = sqrt(mean(c**2))
        n = dout.shape[0]
        c = self.x_hat / self.inv_std
        s = np.sqrt((c**2).mean(axis=0))
        dc = dx_hat * self.inv_std
        ds = -(dx_hat * c).sum(axis=0) * self.inv_std**2
        dc = dc + ds * c / (n * np.where(s > 0, s, 1.0))
        return dc - dc.mean(axis=0)


class BatchNormUnbiasedRunningVar(BatchNormSteps):
    """PyTorch's choice: the running variance is updated with the unbiased batch variance."""

    def update_running(self, mean, var):
        super().update_running(mean, var * self.batch_size / (self.batch_size - 1))

    def forward(self, x):
        self.batch_size = np.shape(x)[0]
        return super().forward(x)


BUGS += [  # the docstring's form, (x - mean) / sqrt(var + eps), is the contract
    Bug(
        "batchnorm eps outside the sqrt",
        "BatchNorm1d",
        BatchNormEpsOutsideSqrt,
        "eps is added to the standard deviation",
    ),
]

ALTERNATIVES = [
    Alternative("dropout with binomial masks", "Dropout", DropoutBinomial),
    Alternative("dropout with uniform < 1 - p", "Dropout", DropoutUniformBelowKeep),
    Alternative("dropout with a scaled float mask", "Dropout", DropoutScaledMask),
    Alternative("batchnorm book style backward", "BatchNorm1d", BatchNormBook),
    Alternative("batchnorm unbiased running variance", "BatchNorm1d", BatchNormUnbiasedRunningVar),
]


# ----------------------------------------------------------------------------- more Dropout and BatchNorm slips
class DropoutBackwardOnlyRescales(ref.Dropout):
    def backward(self, dout):
        return as_float_array(dout) * (1.0 if self.scale is None else 1.0 / (1.0 - self.p))


class BatchNormGradsKeepdims(ref.BatchNorm1d):
    def backward(self, dout):
        dx = super().backward(dout)
        dout = as_float_array(dout)
        self.grads["gamma"] = (dout * self.x_hat).sum(axis=0, keepdims=True)
        self.grads["beta"] = dout.sum(axis=0, keepdims=True)
        return dx


BUGS += [
    Bug("dropout backward rescales without the mask", "Dropout", DropoutBackwardOnlyRescales, "never masked"),
    Bug("batchnorm dgamma and dbeta with keepdims", "BatchNorm1d", BatchNormGradsKeepdims, "keepdims"),
]


class DropoutOneMaskForTheBatch(ref.Dropout):
    """A (1, D) mask: every sample of the batch loses the same features."""

    def forward(self, x):
        x = as_float_array(x)
        if not self.training:
            self.scale = None
            return x.copy()
        keep = self.rng.random((1, *x.shape[1:])) >= self.p
        self.scale = keep / (1.0 - self.p)
        return x * self.scale


BUGS += [
    Bug("dropout one (1, D) mask for the whole batch", "Dropout", DropoutOneMaskForTheBatch, "whole batch"),
]


class BatchNormRunningVarWithEps(BatchNormSteps):
    """var = x.var(axis=0) + eps, and that sum goes into running_var."""

    def update_running(self, mean, var):
        super().update_running(mean, var + self.eps)


class BatchNormKeepdimsStatistics(BatchNormSteps):
    """mean and var with keepdims=True: the running statistics become (1, D)."""

    def statistics(self, x):
        return x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)


BUGS += [
    Bug("batchnorm running_var includes eps", "BatchNorm1d", BatchNormRunningVarWithEps, "running_var includes eps"),
    Bug("batchnorm statistics with keepdims", "BatchNorm1d", BatchNormKeepdimsStatistics, "keepdims=True"),
]  # fmt: skip


class BatchNormDxWithoutVarianceTerm(BatchNormSteps):
    """dx = gamma / (N * std) * (N * dout - sum(dout)): the path through the batch variance is missing."""

    def backward(self, dout):
        dx = super().backward(dout)
        if self.batch_stats:
            n = dout.shape[0]
            dx_hat = dout * self.params["gamma"]
            dx = (self.inv_std / n) * (n * dx_hat - dx_hat.sum(axis=0))
        return dx


BUGS += [
    Bug("batchnorm dx without the variance path", "BatchNorm1d", BatchNormDxWithoutVarianceTerm, "dx is not"),
]
