"""The functions and objects the checks hand to student code; no answers.

numerical_gradient and gradient_descent are called with these grader-chosen functions,
Sequential.predict runs a network holding a ModeProbe layer.
They are module-level so that a sandboxed implementation can be handed them by name
("grader.checks.handed:bowl"): this module, which needs only numpy, is all of the grader
a sandbox worker gets besides its own files.
"""

import functools

import numpy as np


# ----------------------------------------------------------------------------- numerical_gradient
def bowl(x):
    """sum(x**2): a bowl with its minimum at 0."""
    return float(np.sum(x**2))


def wavy(x):
    """sum(sin(x)) + sum(x)**2 / 4: entries coupled through the sum."""
    return float(np.sum(np.sin(x)) + np.sum(x) ** 2 / 4)


def cubic(x):
    """sum(x**3) / 3 + sum(x): a cubic in every entry."""
    return float(np.sum(x**3) / 3 + np.sum(x))


def steep(x):
    """sum(exp(x)): curved enough that the step h matters."""
    return float(np.sum(np.exp(x)))


class HeldLoss:
    """A loss that ignores its argument and reads the array it holds, as a network's loss reads its weights.

    `fn` is one of the module-level functions above; `held` is set to the array being differentiated.
    """

    def __init__(self, fn):
        self.fn, self.held = fn, None

    def __call__(self, _ignored):
        return self.fn(self.held)


# ----------------------------------------------------------------------------- gradient_descent
@functools.cache
def valley_constants(shape):
    """Curvatures A in [0.5, 1.5] and minimum C of `valley` for an x of `shape` (read-only arrays)."""
    n = int(np.prod(shape))
    a, c = np.linspace(0.5, 1.5, n).reshape(shape), np.linspace(-1.5, 2.0, n).reshape(shape)
    a.flags.writeable = c.flags.writeable = False
    return a, c


def valley(x):
    """sum(A * (x - C)**2): minimum at C."""
    a, c = valley_constants(np.shape(x))
    return float(np.sum(a * (x - c) ** 2))


# ----------------------------------------------------------------------------- Sequential.predict
PROBE_FAILURE = "the grader's layer raised this on purpose, to see the mode predict leaves behind"


class ModeProbe:
    """A layer of the grader's put into a student's Sequential: passes x through unchanged and
    remembers `training` at every forward, as Dropout and BatchNorm read it.

    With `fail` set, its forward raises PROBE_FAILURE instead (predict must restore the mode anyway).
    """

    def __init__(self, fail=False):
        self.params, self.grads, self.training = {}, {}, True
        self.fail, self.seen = fail, []

    def forward(self, x):
        self.seen.append(bool(self.training))
        if self.fail:
            raise RuntimeError(PROBE_FAILURE)
        return x

    def backward(self, dout):
        return dout
