"""Mistakes and alternative implementations of the optimizers and the weight initialisers."""

import numpy as np

import solutions as ref
from solutions.base import param_pairs

from . import Alternative, Bug


# ----------------------------------------------------------------------------- SGD
class SGDReplacesArrays(ref.SGD):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            params[key] = p - self.lr * (g + self.weight_decay * p)


class SGDRebindsLocal(ref.SGD):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            p = p - self.lr * (g + self.weight_decay * p)


class SGDUphill(ref.SGD):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            p += self.lr * (g + self.weight_decay * p)


class SGDDecaySign(ref.SGD):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            p -= self.lr * (g - self.weight_decay * p)


class SGDNoDecay(ref.SGD):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            p -= self.lr * g


# ----------------------------------------------------------------------------- Momentum
class MomentumWrongSign(ref.Momentum):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            v = self.velocity.get(key, np.zeros_like(p))
            self.velocity[key] = self.momentum * v - self.lr * (g + self.weight_decay * p)
            p -= self.velocity[key]


class MomentumForgetsVelocity(ref.Momentum):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            v = np.zeros_like(p)
            v = self.momentum * v - self.lr * (g + self.weight_decay * p)
            p += v


class MomentumSharedVelocity(ref.Momentum):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            if not isinstance(self.velocity, np.ndarray):
                self.velocity = np.zeros_like(p)
            self.velocity = self.momentum * self.velocity - self.lr * (g + self.weight_decay * p)
            p += self.velocity


class MomentumReplacesArrays(ref.Momentum):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            v = self.velocity.get(key, np.zeros_like(p))
            self.velocity[key] = self.momentum * v - self.lr * (g + self.weight_decay * p)
            params[key] = p + self.velocity[key]


class MomentumDecayIntoGrads(ref.Momentum):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            g += self.weight_decay * p
            v = self.velocity.get(key, np.zeros_like(p))
            self.velocity[key] = self.momentum * v - self.lr * g
            p += self.velocity[key]


# ----------------------------------------------------------------------------- AdaGrad
class AdaGradNoAccumulation(ref.AdaGrad):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            g = g + self.weight_decay * p
            self.h[key] = g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)


class AdaGradNoEps(ref.AdaGrad):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            g = g + self.weight_decay * p
            self.h[key] = self.h.get(key, 0.0) + g * g
            p -= self.lr * g / np.sqrt(self.h[key])


class AdaGradSharedState(ref.AdaGrad):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            g = g + self.weight_decay * p
            self.h = (self.h if isinstance(self.h, np.ndarray) else 0.0) + g * g
            p -= self.lr * g / (np.sqrt(self.h) + self.eps)


class AdaGradNoSqrt(ref.AdaGrad):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            g = g + self.weight_decay * p
            self.h[key] = self.h.get(key, 0.0) + g * g
            p -= self.lr * g / (self.h[key] + self.eps)


# ----------------------------------------------------------------------------- RMSProp
class RMSPropAlphaSwapped(ref.RMSProp):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "RMSProp"):
            g = g + self.weight_decay * p
            self.h[key] = (1 - self.alpha) * self.h.get(key, 0.0) + self.alpha * g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)


class RMSPropNoDecay(ref.RMSProp):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "RMSProp"):
            g = g + self.weight_decay * p
            self.h[key] = self.h.get(key, 0.0) + g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)


class RMSPropDecaySign(ref.RMSProp):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "RMSProp"):
            g = g - self.weight_decay * p
            self.h[key] = self.alpha * self.h.get(key, 0.0) + (1 - self.alpha) * g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)


# ----------------------------------------------------------------------------- Adam
class AdamStep(ref.Adam):
    """Adam with hooks for one mistake at a time."""

    def counter(self, key):
        self.t += 1 if key is None else 0
        return self.t

    def update(self, p, m, v, t):
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def step(self, params, grads):
        self.counter(None)
        for key, p, g in param_pairs(params, grads, "Adam"):
            t = self.counter(key)
            g = g + self.weight_decay * p
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            p -= self.update(p, self.m[key], self.v[key], t)


class AdamNoBiasCorrection(AdamStep):
    def update(self, p, m, v, t):
        return self.lr * m / (np.sqrt(v) + self.eps)


class AdamCounterPerKey(AdamStep):
    def counter(self, key):
        self.t += 0 if key is None else 1
        return self.t


class AdamCounterAfterUpdate(ref.Adam):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Adam"):
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        self.t += 1


class AdamW(AdamStep):
    def step(self, params, grads):
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            p -= self.update(p, self.m[key], self.v[key], self.t) + self.lr * self.weight_decay * p


class AdamBetasSwapped(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            g = g + self.weight_decay * p
            self.m[key] = (1 - self.beta1) * self.m.get(key, 0.0) + self.beta1 * g
            self.v[key] = (1 - self.beta2) * self.v.get(key, 0.0) + self.beta2 * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamSharedMoments(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            g = g + self.weight_decay * p
            self.m = self.beta1 * (self.m if isinstance(self.m, np.ndarray) else 0.0) + (1 - self.beta1) * g
            self.v = (
                self.beta2 * (self.v if isinstance(self.v, np.ndarray) else 0.0) + (1 - self.beta2) * g * g
            )
            m_hat = self.m / (1 - self.beta1**self.t)
            v_hat = self.v / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# ----------------------------------------------------------------------------- initialisers
def xavier_fan_in_only(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)


def xavier_with_he_std(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


def xavier_global_random(fan_in, fan_out, rng=None):
    return np.random.randn(fan_in, fan_out) * np.sqrt(2.0 / (fan_in + fan_out))


def xavier_variance_as_std(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_in, fan_out)) * (2.0 / (fan_in + fan_out))


def xavier_uniform_wrong_limit(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    limit = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


def he_one_over_fan_in(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(1.0 / fan_in)


def he_with_xavier_std(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))


def he_with_fan_out(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_out)


def he_own_generator(fan_in, fan_out, rng=None):
    return np.random.default_rng(0).standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


def he_transposed(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)


def he_uniform_positive(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.random((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


class MomentumOneVelocity(ref.Momentum):
    """One velocity array for every parameter: crashes once the shapes differ."""

    def step(self, params, grads):
        for key in params:
            if not hasattr(self, "v"):
                self.v = np.zeros_like(params[key])
            self.v = self.momentum * self.v - self.lr * grads[key]
            params[key] += self.v


class AdamGradsByPosition(ref.Adam):
    """grads read as a list: grads[0], grads[1], ..."""

    def step(self, params, grads):
        ordered = {key: grads[i] for i, key in enumerate(params)}
        super().step(params, ordered)


BUGS = [
    Bug("momentum one velocity for all parameters", "Momentum", MomentumOneVelocity, "keep a state per key"),
    Bug("adam reads grads by position", "Adam", AdamGradsByPosition, "loop over params"),
    Bug("sgd replaces the arrays", "SGD", SGDReplacesArrays, "replaced by new arrays"),
    Bug("sgd rebinds a local name", "SGD", SGDRebindsLocal, "did not change the parameters"),
    Bug("sgd moves uphill", "SGD", SGDUphill, "up the gradient"),
    Bug("sgd weight decay sign", "SGD", SGDDecaySign, "weight decay has the wrong sign"),
    Bug("sgd ignores weight decay", "SGD", SGDNoDecay, "weight_decay is ignored"),
    Bug("momentum sign", "Momentum", MomentumWrongSign, "momentum update has the wrong sign"),
    Bug("momentum forgets its velocity", "Momentum", MomentumForgetsVelocity, "velocity is not kept"),
    Bug("momentum velocity shared by keys", "Momentum", MomentumSharedVelocity, "shared between keys"),
    Bug("momentum replaces the arrays", "Momentum", MomentumReplacesArrays, "replaced by new arrays"),
    Bug("momentum adds decay into grads", "Momentum", MomentumDecayIntoGrads, "modified grads"),
    Bug("adagrad without accumulation", "AdaGrad", AdaGradNoAccumulation, "does not accumulate"),
    Bug("adagrad without eps", "AdaGrad", AdaGradNoEps, "0 / 0"),
    Bug("adagrad state shared by keys", "AdaGrad", AdaGradSharedState, "shared between keys"),
    Bug("adagrad divides by h", "AdaGrad", AdaGradNoSqrt, "divided by h"),
    Bug("rmsprop alpha swapped", "RMSProp", RMSPropAlphaSwapped, "alpha the wrong way round"),
    Bug("rmsprop without decay", "RMSProp", RMSPropNoDecay, "without decay"),
    Bug("rmsprop weight decay sign", "RMSProp", RMSPropDecaySign, "weight decay has the wrong sign"),
    Bug("adam without bias correction", "Adam", AdamNoBiasCorrection, "Adam without bias correction"),
    Bug("adam t per key", "Adam", AdamCounterPerKey, "incremented per key"),
    Bug("adam t incremented after the update", "Adam", AdamCounterAfterUpdate, "not incremented"),
    Bug("adam decoupled weight decay", "Adam", AdamW, "decoupled"),
    Bug("adam betas swapped", "Adam", AdamBetasSwapped, "wrong way round"),
    Bug("adam moments shared by keys", "Adam", AdamSharedMoments, "shared between keys"),
    Bug("xavier with fan_in only", "xavier_init", xavier_fan_in_only, "fan_in only"),
    Bug("xavier with he's formula", "xavier_init", xavier_with_he_std, "this is He's std"),
    Bug("xavier from np.random", "xavier_init", xavier_global_random, "rng argument is not used"),
    Bug("xavier scaled by the variance", "xavier_init", xavier_variance_as_std, "variance"),
    Bug("xavier uniform with the std as limit", "xavier_init", xavier_uniform_wrong_limit, "uniform draws"),
    Bug("he with 1/fan_in", "he_init", he_one_over_fan_in, "He with 1 / fan_in"),
    Bug("he with xavier's formula", "he_init", he_with_xavier_std, "this is Xavier's std"),
    Bug("he with fan_out", "he_init", he_with_fan_out, "fan_out"),
    Bug("he with its own generator", "he_init", he_own_generator, "do not depend on rng"),
    Bug("he transposed", "he_init", he_transposed, "(fan_in, fan_out)"),
    Bug("he from rng.random", "he_init", he_uniform_positive, "not centred"),
]


# ----------------------------------------------------------------------------- correct variants
class SGDShrinkThenStep(ref.SGD):
    """Weight decay as a shrinking factor, then the gradient step, both in place."""

    def step(self, params, grads):
        for key in params:
            params[key] *= 1 - self.lr * self.weight_decay
            np.subtract(params[key], self.lr * grads[key], out=params[key])


class MomentumPyTorch(ref.Momentum):
    """v = momentum * v + grad; param -= lr * v (same values for a constant lr)."""

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            g = g + self.weight_decay * p
            if key not in self.velocity:
                self.velocity[key] = g.copy()
            else:
                self.velocity[key] = self.momentum * self.velocity[key] + g
            p -= self.lr * self.velocity[key]


class MomentumPreallocated(ref.Momentum):
    """'Deep Learning from Scratch' style: all velocities created on the first call."""

    def step(self, params, grads):
        if not self.velocity:
            self.velocity = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            g = grads[key] + self.weight_decay * params[key]
            self.velocity[key] = self.momentum * self.velocity[key] - self.lr * g
            params[key] += self.velocity[key]


class AdaGradEpsInsideSqrt(ref.AdaGrad):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            g = g + self.weight_decay * p
            self.h[key] = self.h.get(key, 0.0) + g**2
            p -= self.lr * g / np.sqrt(self.h[key] + self.eps)


class AdaGradBookEps(ref.AdaGrad):
    """'Deep Learning from Scratch' style, with the book's fixed 1e-7."""

    def step(self, params, grads):
        if not self.h:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            g = grads[key] + self.weight_decay * params[key]
            self.h[key] += g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + 1e-7)


class RMSPropInPlaceDecay(ref.RMSProp):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "RMSProp"):
            g = g + self.weight_decay * p
            h = self.h.setdefault(key, np.zeros_like(p))
            h *= self.alpha
            h += (1 - self.alpha) * g * g
            p -= self.lr * g / np.sqrt(h + self.eps)


class AdamLrT(ref.Adam):
    """'Deep Learning from Scratch' style: bias correction folded into lr_t."""

    def step(self, params, grads):
        if not self.m:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.t += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)
        for key in params:
            g = grads[key] + self.weight_decay * params[key]
            self.m[key] += (1 - self.beta1) * (g - self.m[key])
            self.v[key] += (1 - self.beta2) * (g**2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + self.eps)


class AdamLrTScaledEps(AdamLrT):
    """The lr_t form with eps scaled to match: lr_t * m / (sqrt(v) + eps * sqrt(1 - beta2**t))."""

    def step(self, params, grads):
        eps, self.eps = self.eps, self.eps * np.sqrt(1.0 - self.beta2 ** (self.t + 1))
        try:
            super().step(params, grads)
        finally:
            self.eps = eps


class AdamEpsInsideSqrt(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            g = g + self.weight_decay * p
            m = self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            v = self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            p -= self.lr * (m / (1 - self.beta1**self.t)) / np.sqrt(v / (1 - self.beta2**self.t) + self.eps)


def xavier_uniform(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def he_normal_scale(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def he_uniform(fan_in, fan_out, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


BUGS += [
    # eps placement: the docstrings' form, sqrt(h) + eps and sqrt(v_hat) + eps (PyTorch's), is the contract
    Bug("adagrad eps inside sqrt", "AdaGrad", AdaGradEpsInsideSqrt, "eps is inside the square root"),
    Bug(
        "adagrad book style with 1e-7", "AdaGrad", AdaGradBookEps, "eps given to the constructor is not used"
    ),
    Bug(
        "rmsprop in-place decay, eps inside sqrt",
        "RMSProp",
        RMSPropInPlaceDecay,
        "eps is inside the square root",
    ),
    Bug("adam with lr_t and eps on sqrt(v)", "Adam", AdamLrT, "before the bias correction"),
    Bug("adam eps inside sqrt", "Adam", AdamEpsInsideSqrt, "eps is inside the square root"),
]

ALTERNATIVES = [
    Alternative("sgd shrink then step", "SGD", SGDShrinkThenStep),
    Alternative("momentum pytorch convention", "Momentum", MomentumPyTorch),
    Alternative("adam lr_t form with eps scaled to sqrt(v_hat) + eps", "Adam", AdamLrTScaledEps),
    Alternative("momentum preallocated velocities", "Momentum", MomentumPreallocated),
    Alternative("xavier uniform", "xavier_init", xavier_uniform),
    Alternative("he via rng.normal", "he_init", he_normal_scale),
    Alternative("he uniform", "he_init", he_uniform),
]


# ----------------------------------------------------------------------------- more Adam and Momentum slips
class AdamFirstMomentWithBeta2(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            g = g + self.weight_decay * p
            m = self.m[key] = self.beta2 * self.m.get(key, 0.0) + (1.0 - self.beta2) * g
            v = self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1.0 - self.beta2) * g**2
            p -= (
                self.lr
                * (m / (1.0 - self.beta1**self.t))
                / (np.sqrt(v / (1.0 - self.beta2**self.t)) + self.eps)
            )


class AdamStepsWithGradient(ref.Adam):
    def step(self, params, grads):
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            g = g + self.weight_decay * p
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1.0 - self.beta1) * g
            v = self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1.0 - self.beta2) * g**2
            p -= self.lr * g / (np.sqrt(v / (1.0 - self.beta2**self.t)) + self.eps)


class AdamCounterStuckAtOne(ref.Adam):
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, beta1, beta2, eps, weight_decay)
        self.t = 1

    def step(self, params, grads):
        self.t -= 1  # the reference's step adds 1 again: t is 1 on every step
        super().step(params, grads)


class AdamFixedEps(ref.Adam):
    def step(self, params, grads):
        self.eps = 1e-8
        super().step(params, grads)


class AdamLrEpsOrder(ref.Adam):
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=eps, beta1=beta1, beta2=beta2, eps=lr, weight_decay=weight_decay)


class MomentumForgetsLr(ref.Momentum):
    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            v = self.velocity.get(key, 0.0) * self.momentum - (g + self.weight_decay * p)
            self.velocity[key] = v
            p += v


BUGS += [
    Bug("adam first moment with beta2", "Adam", AdamFirstMomentWithBeta2, "averaged with beta2"),
    Bug("adam steps with the raw gradient", "Adam", AdamStepsWithGradient, "raw gradient instead of the first moment"),
    Bug("adam t stuck at 1", "Adam", AdamCounterStuckAtOne, "never incremented"),
    Bug("adam with a fixed eps", "Adam", AdamFixedEps, "eps given to the constructor is not used"),
    Bug("adam lr and eps swapped", "Adam", AdamLrEpsOrder, "lr and eps are swapped"),
    Bug("momentum without lr", "Momentum", MomentumForgetsLr, "does not use lr"),
]  # fmt: skip
