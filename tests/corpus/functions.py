"""Mistakes and alternative implementations of the gates, Perceptron, the functions of chapters 2-3,
MulLayer and AddLayer.

The naive sigmoid 1 / (1 + exp(-x)) and the tanh written with exponentials give the right
values for ordinary inputs and only warn or overflow for |x| around 1000. So they are Bugs
caught by the separate 1-point `stable` checks alone; the value checks pass them (their
warnings become notes):

>>> from grader.registry import all_checks
>>> from grader.results import run_check
>>> from tests.corpus import target_with
>>> def statuses(name, fn):
...     target = target_with(**{name: fn})
...     return {c.name: run_check(c, target).status for c in all_checks() if c.exercise == name}
>>> statuses("sigmoid", sigmoid_naive)
{'values': 'passed', 'stable': 'failed'}
>>> statuses("tanh", tanh_by_exponentials)
{'values': 'passed', 'stable': 'failed'}
"""

import numpy as np

import solutions as ref
from solutions.base import as_float_array

from . import Alternative, Bug


# ----------------------------------------------------------------------------- gates
def and_weak_bias(x1, x2):
    w, b = np.array([0.5, 0.5]), -0.2
    return int(np.dot(w, [x1, x2]) + b > 0)


def nand_bias_not_flipped(x1, x2):
    w, b = np.array([-0.5, -0.5]), -0.7
    return int(np.dot(w, [x1, x2]) + b > 0)


def or_strong_bias(x1, x2):
    w, b = np.array([0.5, 0.5]), -0.7
    return int(np.dot(w, [x1, x2]) + b > 0)


def and_returns_weighted_sum(x1, x2):
    w, b = np.array([0.5, 0.5]), -0.7
    return float(np.dot(w, [x1, x2]) + b)


def xor_as_or(x1, x2):
    return ref.OR(x1, x2)


def xor_wrong_combination(x1, x2):
    return ref.OR(ref.NAND(x1, x2), ref.AND(x1, x2))


def and_other_weights(x1, x2):
    w, b = np.array([1.0, 1.0]), -1.5
    return int(np.dot(w, [x1, x2]) + b > 0)


def nand_numpy_bool(x1, x2):
    return np.dot([-2.0, -2.0], [x1, x2]) + 3 > 0  # a numpy bool


def or_float(x1, x2):
    return 1.0 if x1 + x2 >= 0.5 else 0.0


def xor_from_nor(x1, x2):
    """XOR = NOR(AND(x1, x2), NOR(x1, x2)), a different valid two-layer network."""

    def nor(a, b):
        return int(np.dot([-1.0, -1.0], [a, b]) + 0.5 > 0)

    return nor(ref.AND(x1, x2), nor(x1, x2))


# ----------------------------------------------------------------------------- Perceptron
class PerceptronNoBias(ref.Perceptron):
    def predict(self, X):
        X = as_float_array(X, "X")
        return (X @ self.w > 0).astype(np.int64)


class PerceptronWeightedSum(ref.Perceptron):
    def predict(self, X):
        X = as_float_array(X, "X")
        return X @ self.w + self.b


class PerceptronSignFlipped(ref.Perceptron):
    def fit(self, X, y, epochs=10):
        errors = []
        for _ in range(epochs):
            wrong = 0
            for xi, target in zip(np.asarray(X, dtype=float), y, strict=True):
                delta = self.predict(xi) - target
                self.w += self.lr * delta * xi
                self.b += self.lr * delta
                wrong += int(delta != 0)
            errors.append(wrong)
        return errors


class PerceptronNoBiasUpdate(ref.Perceptron):
    def fit(self, X, y, epochs=10):
        errors = []
        for _ in range(epochs):
            wrong = 0
            for xi, target in zip(np.asarray(X, dtype=float), y, strict=True):
                delta = target - self.predict(xi)
                self.w += self.lr * delta * xi
                wrong += int(delta != 0)
            errors.append(wrong)
        return errors


class PerceptronNoLearningRate(ref.Perceptron):
    def fit(self, X, y, epochs=10):
        errors = []
        for _ in range(epochs):
            wrong = 0
            for xi, target in zip(np.asarray(X, dtype=float), y, strict=True):
                delta = target - self.predict(xi)
                self.w += delta * xi
                self.b += delta
                wrong += int(delta != 0)
            errors.append(wrong)
        return errors


class PerceptronErrorsPerSample(ref.Perceptron):
    def fit(self, X, y, epochs=10):
        errors = []
        for _ in range(epochs):
            for xi, target in zip(np.asarray(X, dtype=float), y, strict=True):
                delta = target - self.predict(xi)
                self.w += self.lr * delta * xi
                self.b += self.lr * delta
                errors.append(int(delta != 0))
        return errors


class PerceptronOneEpoch(ref.Perceptron):
    """Ignores `epochs`: a single pass."""

    def fit(self, X, y, epochs=10):
        return super().fit(X, y, epochs=1)


class PerceptronFiresAtZero(ref.Perceptron):
    """Thresholds with >= 0 (a convention some books use) and counts errors after each epoch."""

    def predict(self, X):
        X = as_float_array(X, "X")
        return np.where(X @ self.w + self.b >= 0, 1, 0)

    def fit(self, X, y, epochs=10):
        X, errors = as_float_array(X, "X"), []
        for _ in range(epochs):
            for xi, target in zip(X, y, strict=True):
                update = self.lr * (target - self.predict(xi))
                self.w = self.w + update * xi
                self.b = self.b + update
            errors.append(int(np.sum(self.predict(X) != y)))
        return errors


class PerceptronHeaviside(ref.Perceptron):
    """np.heaviside returns floats 0.0 / 1.0; fit returns a numpy array."""

    def predict(self, X):
        X = as_float_array(X, "X")
        return np.heaviside(X @ self.w + self.b, 0.0)

    def fit(self, X, y, epochs=10):
        return np.array(super().fit(X, y, epochs))


# ----------------------------------------------------------------------------- step, sigmoid, relu, tanh
def step_floats(x):
    return (as_float_array(x) > 0).astype(float)


def step_bools(x):
    return as_float_array(x) > 0


def step_inverted(x):
    return (as_float_array(x) <= 0).astype(np.int64)


def step_where(x):
    return np.where(as_float_array(x) > 0, 1, 0)


def sigmoid_naive(x):
    return 1 / (1 + np.exp(-as_float_array(x)))


def sigmoid_exp_ratio(x):
    e = np.exp(as_float_array(x))
    return e / (1 + e)


def sigmoid_where(x):
    """Right values, but np.where computes both branches and overflows in the unused one."""
    x = as_float_array(x)
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def sigmoid_wrong_sign(x):
    x = as_float_array(x)
    return 0.5 * (1 - np.tanh(0.5 * x))


def sigmoid_via_tanh(x):
    return 0.5 * (1 + np.tanh(0.5 * as_float_array(x)))


def sigmoid_exp_of_minus_abs(x):
    x = as_float_array(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def relu_in_place(x):
    x = as_float_array(x)
    x[x < 0] = 0
    return x


def relu_np_max(x):
    return np.max(as_float_array(x), 0)


def relu_times_mask(x):
    x = as_float_array(x)
    return x * (x > 0)


def tanh_by_exponentials(x):
    x = as_float_array(x)
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


def tanh_half_argument(x):
    return 2 * ref.sigmoid(as_float_array(x)) - 1


def tanh_from_sigmoid(x):
    return 2 * ref.sigmoid(2 * as_float_array(x)) - 1


# ----------------------------------------------------------------------------- softmax
def softmax_naive(x):
    e = np.exp(as_float_array(x))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_axis0(x):
    x = as_float_array(x)
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_global_max(x):
    x = as_float_array(x)
    e = np.exp(x - np.max(x))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_book_1d(x):
    """The one-sample softmax: the sum runs over the whole array."""
    x = as_float_array(x)
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def softmax_in_place(x):
    x = as_float_array(x)
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def softmax_logsumexp(x):
    x = as_float_array(x)
    m = x.max(axis=-1, keepdims=True)
    return np.exp(x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def softmax_transposed_book(x):
    """The book's 2-D version: transpose, work down the columns, transpose back."""
    x = as_float_array(x)
    if x.ndim == 2:
        z = x.T - np.max(x.T, axis=0)
        return (np.exp(z) / np.sum(np.exp(z), axis=0)).T
    z = x - np.max(x)
    return np.exp(z) / np.sum(np.exp(z))


# ----------------------------------------------------------------------------- mse, cross_entropy
def mse_summed(y, t):
    return float(np.sum((as_float_array(y) - as_float_array(t)) ** 2))


def mse_half_sum(y, t):
    return float(0.5 * np.sum((as_float_array(y) - as_float_array(t)) ** 2))


def mse_loop(y, t):
    y, t = as_float_array(y).ravel(), as_float_array(t).ravel()
    total = 0.0
    for a, b in zip(y, t, strict=True):
        total += (a - b) ** 2
    return total / len(y)


def as_batch(y, t):
    """The scaffold of cross_entropy: (N, C) probabilities and labels (N,) or one-hot (N, C)."""
    y, t = as_float_array(y, "y"), np.asarray(t)
    if y.ndim == 1:
        y, t = y[None, :], t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    return y, t


def labels_of(y, t):
    return (t.argmax(axis=1) if t.shape == y.shape else t).astype(np.int64)


def cross_entropy_summed(y, t):
    y, t = as_batch(y, t)
    return float(-np.sum(np.log(y[np.arange(len(y)), labels_of(y, t)] + 1e-7)))


def cross_entropy_log_zero(y, t):
    y, t = as_batch(y, t)
    return float(-np.mean(np.log(y[np.arange(len(y)), labels_of(y, t)])))


def cross_entropy_one_hot_only(y, t):
    """The one-hot formula applied to whatever t is: int labels broadcast along the classes."""
    y, t = as_batch(y, t)
    return float(-np.sum(t * np.log(y + 1e-7)) / y.shape[0])


def cross_entropy_argmax_axis0(y, t):
    y, t = as_batch(y, t)
    labels = t.argmax(axis=0) if t.shape == y.shape else t
    return float(-np.mean(np.log(y[np.arange(len(y)), labels.astype(np.int64)] + 1e-7)))


def cross_entropy_one_hot_no_delta(y, t):
    y, t = as_batch(y, t)
    one_hot = t if t.shape == y.shape else np.eye(y.shape[1])[t.astype(np.int64)]
    return float(-np.sum(one_hot * np.log(y)) / y.shape[0])


def cross_entropy_one_hot_multiply(y, t):
    """Labels are turned into one-hot rows; then -sum(t * log(y + delta)) / N, as in the book."""
    y, t = as_batch(y, t)
    one_hot = t if t.shape == y.shape else np.eye(y.shape[1])[t.astype(np.int64)]
    return float(-np.sum(one_hot * np.log(y + 1e-7)) / y.shape[0])


def cross_entropy_clipped(y, t):
    y, t = as_batch(y, t)
    p = np.clip(y[np.arange(len(y)), labels_of(y, t)], 1e-15, 1.0)
    return float(-np.log(p).mean())


# ----------------------------------------------------------------------------- numerical_gradient
def numerical_gradient_forward(f, x, h=1e-4):
    grad = np.zeros_like(x, dtype=np.float64)
    base = float(f(x))
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        grad[idx] = (float(f(x)) - base) / h
        x[idx] = original
    return grad


def numerical_gradient_not_restored(f, x, h=1e-4):
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        f_plus = float(f(x))
        x[idx] -= 2 * h
        f_minus = float(f(x))
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_inexact_restore(f, x, h=1e-4):
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        f_plus = float(f(x))
        x[idx] -= 2 * h
        f_minus = float(f(x))
        x[idx] += h
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_on_copies(f, x, h=1e-4):
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        grad[idx] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return grad


def numerical_gradient_fixed_h(f, x, h=1e-4):
    return ref.numerical_gradient(f, x)


def numerical_gradient_divides_by_h(f, x, h=1e-4):
    return 2 * ref.numerical_gradient(f, x, h)


def numerical_gradient_nditer(f, x, h=1e-4):
    """The book's version with np.nditer."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        tmp = x[idx]
        x[idx] = tmp + h
        fxh1 = f(x)
        x[idx] = tmp - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp
        it.iternext()
    return grad


def numerical_gradient_flat_view(f, x, h=1e-4):
    """Loops over a flat view of x (x is contiguous, so writes reach x itself)."""
    flat, grad = x.reshape(-1), np.zeros(x.size)
    for i in range(flat.size):
        tmp = flat[i]
        flat[i] = tmp + h
        plus = f(x)
        flat[i] = tmp - h
        minus = f(x)
        flat[i] = tmp
        grad[i] = (plus - minus) / (2 * h)
    return grad.reshape(x.shape)


# ----------------------------------------------------------------------------- gradient_descent
def gradient_descent_ascends(f, x0, lr=0.01, steps=100):
    x = np.array(x0, dtype=np.float64)
    for _ in range(steps):
        x += lr * ref.numerical_gradient(f, x)
    return x


def gradient_descent_mutates_x0(f, x0, lr=0.01, steps=100):
    x = x0
    for _ in range(steps):
        x -= lr * ref.numerical_gradient(f, x)
    return x


def gradient_descent_extra_step(f, x0, lr=0.01, steps=100):
    x = np.array(x0, dtype=np.float64)
    for _ in range(steps + 1):
        x -= lr * ref.numerical_gradient(f, x)
    return x


def gradient_descent_no_lr(f, x0, lr=0.01, steps=100):
    x = np.array(x0, dtype=np.float64)
    for _ in range(steps):
        x -= ref.numerical_gradient(f, x)
    return x


def gradient_descent_rebinds(f, x0, lr=0.01, steps=100):
    x = as_float_array(x0, "x0")
    step = 0
    while step < steps:
        x = x - lr * ref.numerical_gradient(f, x.copy())
        step += 1
    return x


# ----------------------------------------------------------------------------- graph nodes
class MulLayerSwapped(ref.MulLayer):
    def backward(self, dout):
        return dout * self.x, dout * self.y


class MulLayerNoDout(ref.MulLayer):
    def backward(self, dout):
        return self.y, self.x


class MulLayerInPlace(ref.MulLayer):
    def forward(self, x, y):
        self.x, self.y = np.copy(x), np.copy(y)
        if isinstance(x, np.ndarray):
            x *= y
            return x
        return x * y


class AddLayerOnes(ref.AddLayer):
    def backward(self, dout):
        return np.ones_like(dout), np.ones_like(dout)


class AddLayerLikeMul(ref.AddLayer):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddLayerOneGradient(ref.AddLayer):
    def backward(self, dout):
        return dout


class MulLayerCopies(ref.MulLayer):
    """Stores copies, returns a list."""

    def forward(self, x, y):
        self.x, self.y = np.copy(x), np.copy(y)
        return np.multiply(x, y)

    def backward(self, dout):
        return [np.multiply(dout, self.y), np.multiply(dout, self.x)]


BUGS = [
    Bug("AND with a weak bias is OR", "AND", and_weak_bias, "behaves like OR"),
    Bug("NAND with the bias sign not flipped", "NAND", nand_bias_not_flipped, "a constant 0"),
    Bug("OR with a strong bias is AND", "OR", or_strong_bias, "behaves like AND"),
    Bug("AND returns the weighted sum", "AND", and_returns_weighted_sum, "return 0 or 1"),
    Bug("XOR built as OR", "XOR", xor_as_or, "behaves like OR"),
    Bug("XOR from the wrong gates", "XOR", xor_wrong_combination, "AND(NAND(x1, x2), OR(x1, x2))"),
    Bug("perceptron predict without bias", "Perceptron", PerceptronNoBias, "bias b is not added"),
    Bug("perceptron predict returns the weighted sum", "Perceptron", PerceptronWeightedSum, "0 or 1"),
    Bug("perceptron rule with the sign flipped", "Perceptron", PerceptronSignFlipped, "wrong sign"),
    Bug("perceptron rule without bias update", "Perceptron", PerceptronNoBiasUpdate, "never updated"),
    Bug("perceptron rule without learning rate", "Perceptron", PerceptronNoLearningRate, "learning rate"),
    Bug("perceptron errors per sample", "Perceptron", PerceptronErrorsPerSample, "one entry per sample"),
    Bug("perceptron fit ignores epochs", "Perceptron", PerceptronOneEpoch),
    Bug("step returns floats", "step", step_floats, "astype(int)"),
    Bug("step returns booleans", "step", step_bools, "booleans"),
    Bug("step inverted", "step", step_inverted, "inverted"),
    Bug("sigmoid 1/(1+exp(-x)) overflows", "sigmoid", sigmoid_naive, "overflows"),
    Bug("sigmoid exp(x)/(1+exp(x)) gives nan", "sigmoid", sigmoid_exp_ratio, "overflows"),
    Bug("sigmoid with np.where warns", "sigmoid", sigmoid_where, "np.where"),
    Bug("sigmoid of -x", "sigmoid", sigmoid_wrong_sign, "sigmoid(-x)"),
    Bug("relu writes into x", "relu", relu_in_place, "in place"),
    Bug("relu with np.max(x, 0)", "relu", relu_np_max, "np.maximum"),
    Bug("tanh by exponentials overflows", "tanh", tanh_by_exponentials, "overflows"),
    Bug("tanh as 2 sigmoid(x) - 1", "tanh", tanh_half_argument, "2 * sigmoid(2x) - 1"),
    Bug("softmax without the max subtraction", "softmax", softmax_naive, "subtract the row max"),
    Bug("softmax over axis 0", "softmax", softmax_axis0, "axis 0"),
    Bug("softmax subtracts the global max", "softmax", softmax_global_max, "each row's own max"),
    Bug("softmax sums the whole batch", "softmax", softmax_book_1d, "sum over the whole array"),
    Bug("softmax in place", "softmax", softmax_in_place, "in place"),
    Bug("mse summed", "mse", mse_summed, "summed instead of averaged"),
    Bug("mse as half the sum of squares", "mse", mse_half_sum, "0.5 * the sum"),
    Bug(
        "cross_entropy summed over the batch", "cross_entropy", cross_entropy_summed, "summed over the batch"
    ),
    Bug("cross_entropy takes log(0)", "cross_entropy", cross_entropy_log_zero, "log(0)"),
    Bug(
        "cross_entropy one-hot formula on labels",
        "cross_entropy",
        cross_entropy_one_hot_only,
        "one-hot vectors",
    ),
    Bug("cross_entropy one-hot argmax over axis 0", "cross_entropy", cross_entropy_argmax_axis0, "axis 0"),
    Bug("cross_entropy 0 * log(0)", "cross_entropy", cross_entropy_one_hot_no_delta, "log(0)"),
    Bug(
        "numerical gradient by forward differences",
        "numerical_gradient",
        numerical_gradient_forward,
        "forward difference",
    ),
    Bug(
        "numerical gradient leaves x nudged",
        "numerical_gradient",
        numerical_gradient_not_restored,
        "left nudged",
    ),
    Bug(
        "numerical gradient restores x by adding h back",
        "numerical_gradient",
        numerical_gradient_inexact_restore,
        "exactly",
    ),
    Bug(
        "numerical gradient on copies of x",
        "numerical_gradient",
        numerical_gradient_on_copies,
        "reads x itself",
    ),
    Bug(
        "numerical gradient ignores h",
        "numerical_gradient",
        numerical_gradient_fixed_h,
        "h passed in is ignored",
    ),
    Bug(
        "numerical gradient divides by h",
        "numerical_gradient",
        numerical_gradient_divides_by_h,
        "factor of 2",
    ),
    Bug("gradient descent ascends", "gradient_descent", gradient_descent_ascends, "lr * grad"),
    Bug("gradient descent modifies x0", "gradient_descent", gradient_descent_mutates_x0, "in place"),
    Bug(
        "gradient descent one step too many",
        "gradient_descent",
        gradient_descent_extra_step,
        "one update too many",
    ),
    Bug("gradient descent ignores lr", "gradient_descent", gradient_descent_no_lr),
    Bug("MulLayer gradients swapped", "MulLayer", MulLayerSwapped, "swapped"),
    Bug("MulLayer backward without dout", "MulLayer", MulLayerNoDout, "not multiplied by dout"),
    Bug("MulLayer forward writes into x", "MulLayer", MulLayerInPlace, "in place"),
    Bug("AddLayer backward returns ones", "AddLayer", AddLayerOnes, "pass dout through"),
    Bug("AddLayer backward like MulLayer", "AddLayer", AddLayerLikeMul, "as in MulLayer"),
    Bug("AddLayer backward returns one gradient", "AddLayer", AddLayerOneGradient, "return dx, dy"),
]

ALTERNATIVES = [
    Alternative("AND with weights (1, 1) and bias -1.5", "AND", and_other_weights),
    Alternative("NAND returning a numpy bool", "NAND", nand_numpy_bool),
    Alternative("OR returning floats 0.0 / 1.0", "OR", or_float),
    Alternative("XOR from NOR and AND", "XOR", xor_from_nor),
    Alternative(
        "perceptron thresholding with >= 0, errors after each epoch", "Perceptron", PerceptronFiresAtZero
    ),
    Alternative("perceptron with np.heaviside", "Perceptron", PerceptronHeaviside),
    Alternative("step with np.where", "step", step_where),
    Alternative("sigmoid via tanh", "sigmoid", sigmoid_via_tanh),
    Alternative("sigmoid with exp(-|x|)", "sigmoid", sigmoid_exp_of_minus_abs),
    Alternative("relu as x * mask", "relu", relu_times_mask),
    Alternative("tanh as 2 sigmoid(2x) - 1", "tanh", tanh_from_sigmoid),
    Alternative("softmax through log-sum-exp", "softmax", softmax_logsumexp),
    Alternative("softmax by transposing (the book's 2-D version)", "softmax", softmax_transposed_book),
    Alternative("mse with an explicit loop", "mse", mse_loop),
    Alternative("cross_entropy with a one-hot multiply", "cross_entropy", cross_entropy_one_hot_multiply),
    Alternative("cross_entropy with clipping", "cross_entropy", cross_entropy_clipped),
    Alternative("numerical gradient with np.nditer", "numerical_gradient", numerical_gradient_nditer),
    Alternative("numerical gradient over a flat view", "numerical_gradient", numerical_gradient_flat_view),
    Alternative("gradient descent rebinding x", "gradient_descent", gradient_descent_rebinds),
    Alternative("MulLayer with copies, returning a list", "MulLayer", MulLayerCopies),
]
