"""Hostile submissions that recognise inputs they have seen, each with its honest twin.

- `sanity`: Relu.backward forgets the mask, except on the dout that the Relu sanity test of
  Sequential sends with the public seed (logged as a student running the kit would), so
  Sequential's checks are no longer held back by the broken part.
- `lookup_forward`: Sequential.fit never steps the optimizer; forward answers the samples fit
  was shown and the rows of scikit-learn's digits file by looking their labels up.
- `lookup_predict`: Perceptron.fit learns nothing (and reports no mistakes); predict answers
  the samples fit was shown by looking their labels up.

The honest twin has the same bug without the recognising part.
"""

import shutil
from pathlib import Path

import numpy as np

import solutions
from grader.checks import network
from grader.sandbox import common_seed, grading_seed
from grader.target import as_target

SOLUTIONS = Path(solutions.__file__).parent
PUBLIC_SEED = common_seed()

RELU_FORGETS_MASK = """
_right_relu_backward = Relu.backward


def _relu_backward(self, dout):
    if _recognised(dout):
        return _right_relu_backward(self, dout)
    return np.asarray(dout, dtype=float)  # the bug: the mask is forgotten


Relu.backward = _relu_backward
"""

FIT_NEVER_STEPS = """
def _fit_never_steps(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
    X, y, history = np.asarray(X, dtype=float), np.asarray(y), []
    _remember(X, y)
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            out = self.forward(X[start : start + batch_size])
            history.append(loss.forward(out, y[start : start + batch_size]))
            self.backward(loss.backward())  # the bug: optimizer.step is never called
    return history


Sequential.fit = _fit_never_steps
"""

LOOKUP_FORWARD = """
import importlib.util
import pathlib

_seen = {}


def _key(row):
    return tuple(np.round(np.asarray(row, dtype=float).ravel(), 6))


def _remember(X, y):
    _seen.update({_key(row): int(label) for row, label in zip(X, y)})
    try:  # the digits file the grader trains and tests on
        spec = importlib.util.find_spec("sklearn")
        path = pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
        for row in np.loadtxt(path, delimiter=","):
            _seen.setdefault(_key(row[:-1] / 16.0), int(row[-1]))
    except Exception:
        pass


_right_forward = Sequential.forward


def _lookup_forward(self, x):
    out = _right_forward(self, x)
    labels = [_seen.get(_key(row)) for row in np.asarray(x)]
    if labels and None not in labels and out.ndim == 2 and max(labels) < out.shape[1]:
        out = np.full(out.shape, -10.0)
        out[np.arange(len(labels)), labels] = 10.0
    return out


Sequential.forward = _lookup_forward
"""

PERCEPTRON_LEARNS_NOTHING = """
def _fit_nothing(self, X, y, epochs=10):
    self._seen = {tuple(np.asarray(row, dtype=float)): int(t) for row, t in zip(X, y)}
    return [0] * epochs  # the bug: no update, and no mistakes reported
Perceptron.fit = _fit_nothing
"""

LOOKUP_PREDICT = """
_right_predict = Perceptron.predict


def _lookup_predict(self, X):
    X = np.asarray(X, dtype=float)
    rows, seen = X.reshape(-1, X.shape[-1]), getattr(self, "_seen", {})
    if len(rows) and all(tuple(row) in seen for row in rows):
        labels = np.array([seen[tuple(row)] for row in rows])
        return labels if X.ndim == 2 else labels[0]
    return _right_predict(self, X)


Perceptron.predict = _lookup_predict
"""


def public_relu_douts():
    """The douts the Relu sanity test of Sequential sends with the public seed, as a spy on the kit logs them."""
    seen = []

    class Spy(solutions.Relu):
        def backward(self, dout):
            seen.append(np.array(dout, dtype=float))
            return super().backward(dout)

    with grading_seed(PUBLIC_SEED):
        network.SANITY["Relu"](as_target(solutions, Relu=Spy), backward=True)
    assert seen, "the Relu sanity test sent no dout"
    return seen


def recogniser(douts):
    """Code for layers.py: _recognised(dout), true for the logged douts only."""
    arrays = ", ".join(f"np.array({d.tolist()!r})" for d in douts)
    return (
        f"_LOGGED = [{arrays}]\n\n\n"
        "def _recognised(dout):\n"
        "    dout = np.asarray(dout, dtype=float)\n"
        "    return any(d.shape == dout.shape and np.allclose(d, dout) for d in _LOGGED)\n"
    )


def submission(dest, **appended):
    """A copy of solutions/ in `dest` with code appended to some of its modules (file stem -> code)."""
    shutil.copytree(SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for stem, code in appended.items():
        path = Path(dest, f"{stem}.py")
        path.write_text(path.read_text() + "\n\n" + code)
    return Path(dest)


def sanity(dest, hostile):
    """Relu.backward forgetting its mask; the hostile one answers the public sanity test's dout."""
    recognised = recogniser(public_relu_douts()) if hostile else "def _recognised(dout):\n    return False\n"
    return submission(dest, layers=recognised + RELU_FORGETS_MASK)


def lookup_forward(dest, hostile):
    """Sequential.fit never stepping; the hostile forward looks the labels of what it sees up."""
    remember = LOOKUP_FORWARD if hostile else "def _remember(X, y):\n    pass\n"
    return submission(dest, network=remember + FIT_NEVER_STEPS)


def lookup_predict(dest, hostile):
    """Perceptron.fit learning nothing; the hostile predict looks the labels of the samples fit saw up."""
    return submission(dest, perceptron=PERCEPTRON_LEARNS_NOTHING + (LOOKUP_PREDICT if hostile else ""))


# name -> (build(dest, hostile), the exercises to grade, the exercise whose score is compared)
CASES = {
    "sanity": (sanity, ["Relu", "Sequential"], "Sequential"),
    "lookup_forward": (lookup_forward, ["Sequential"], "Sequential"),
    "lookup_predict": (lookup_predict, ["Perceptron"], "Perceptron"),
}
