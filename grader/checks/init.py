"""Checks for the weight initialisers xavier_init and he_init.

The statistics are compared with tolerances of 6 standard deviations of their
sampling distributions, so a correct implementation fails with probability
below 1e-8 whatever numbers its generator draws. Normal and uniform draws with
the right standard deviation are both accepted.
"""

import numpy as np

from ..contract import need
from ..registry import check
from ..results import CheckFailure
from ..target import Rng
from .common import data_rng

SIGMAS = 6
STAT_CASES = [(500, 300), (200, 700)]  # (fan_in, fan_out): about 150000 draws each


def xavier_std(fan_in, fan_out):
    return np.sqrt(2.0 / (fan_in + fan_out))


def he_std(fan_in, fan_out):
    return np.sqrt(2.0 / fan_in)


STD = {"xavier_init": xavier_std, "he_init": he_std}
NOT_CENTRED = "the weights are not centred at 0: draw from a zero-mean distribution (rng.standard_normal), not rng.random"
UNIFORM = "uniform draws in [-a, a] have std a / sqrt(3): use a = sqrt(3) * std, or normal draws"

# (wrong std as a function of (fan_in, fan_out), what the student did)
WRONG_STD = {
    "xavier_init": [
        (he_std, "this is He's std sqrt(2 / fan_in): Xavier uses sqrt(2 / (fan_in + fan_out))"),
        (
            lambda i, o: np.sqrt(1.0 / i),
            "Xavier with fan_in only (std sqrt(1 / fan_in)): use sqrt(2 / (fan_in + fan_out))",
        ),
        (
            lambda i, o: np.sqrt(1.0 / o),
            "Xavier with fan_out only (std sqrt(1 / fan_out)): use sqrt(2 / (fan_in + fan_out))",
        ),
        (lambda i, o: np.sqrt(1.0 / (i + o)), "a factor 2 is missing: std = sqrt(2 / (fan_in + fan_out))"),
        (lambda i, o: 2.0 / (i + o), "scaled by the variance 2 / (fan_in + fan_out): take its square root"),
        (lambda i, o: xavier_std(i, o) / np.sqrt(3), UNIFORM),
    ],
    "he_init": [
        (xavier_std, "this is Xavier's std sqrt(2 / (fan_in + fan_out)): He uses sqrt(2 / fan_in)"),
        (
            lambda i, o: np.sqrt(1.0 / i),
            "He with 1 / fan_in (std sqrt(1 / fan_in)): He uses sqrt(2 / fan_in)",
        ),
        (lambda i, o: np.sqrt(2.0 / o), "He computed with fan_out: He uses sqrt(2 / fan_in)"),
        (lambda i, o: 2.0 / i, "scaled by the variance 2 / fan_in: take its square root"),
        (lambda i, o: he_std(i, o) / np.sqrt(3), UNIFORM),
    ],
}


def draw(t, name, fan_in, fan_out, seed):
    """The student's weights for a seeded rng, checked to be a float array of shape (fan_in, fan_out)."""
    got = t.call(name, fan_in, fan_out, rng=Rng(seed))
    expect_shape(got, name, fan_in, fan_out)
    return got


def expect_shape(got, name, fan_in, fan_out, rng_text=""):
    call = f"{name}({fan_in}, {fan_out}{rng_text})"
    if not isinstance(got, np.ndarray):
        raise CheckFailure(f"{call} should return an array of shape ({fan_in}, {fan_out}), got {got!r}")
    if got.shape != (fan_in, fan_out):
        hint = (
            "the weight matrix of an Affine layer is (fan_in, fan_out)"
            if got.shape == (fan_out, fan_in)
            else None
        )
        raise CheckFailure(f"{call} has shape {got.shape}, expected ({fan_in}, {fan_out})", hint=hint)
    if not np.issubdtype(got.dtype, np.floating):
        raise CheckFailure(f"{call} has dtype {got.dtype}, expected a float dtype")
    if not np.all(np.isfinite(got)):
        raise CheckFailure(f"{call} contains inf or nan")


def stat_seed(k):
    return int(data_rng(700 + k).integers(2**31))


# ----------------------------------------------------------------------------- the checks
def shape_check(name):
    def run(t):
        need(t, name)
        for fan_in, fan_out in [(3, 5), (5, 3), (1, 4), (4, 4)]:
            draw(t, name, fan_in, fan_out, stat_seed(20 + fan_in))
        got = t.call(name, 6, 2)  # rng=None: a fresh generator
        expect_shape(got, name, 6, 2, ", rng=None")

    return run


def std_check(name):
    def run(t):
        need(t, name)
        for k, (fan_in, fan_out) in enumerate(STAT_CASES):
            w = draw(t, name, fan_in, fan_out, stat_seed(k))
            expected = STD[name](fan_in, fan_out)
            n = w.size
            tol = SIGMAS * expected / np.sqrt(2.0 * (n - 1))  # std of the sample std of a normal sample
            got = float(np.std(w))
            if abs(got - expected) > tol:
                hint = next(
                    (text for wrong, text in WRONG_STD[name] if abs(got - wrong(fan_in, fan_out)) <= tol),
                    None,
                )
                if hint is None and abs(np.mean(w)) > SIGMAS * expected / np.sqrt(n):
                    hint = NOT_CENTRED
                raise CheckFailure(
                    f"{name}({fan_in}, {fan_out}) has standard deviation {got:.5f}, expected {expected:.5f} "
                    f"(tolerance {tol:.5f}: {SIGMAS} standard deviations of the sample std over {n} draws)",
                    hint=hint,
                )

    return run


def mean_check(name):
    def run(t):
        need(t, name)
        for k, (fan_in, fan_out) in enumerate(STAT_CASES):
            w = draw(t, name, fan_in, fan_out, stat_seed(10 + k))
            std = STD[name](fan_in, fan_out)
            tol = SIGMAS * std / np.sqrt(w.size)
            got = float(np.mean(w))
            if abs(got) > tol:
                raise CheckFailure(
                    f"{name}({fan_in}, {fan_out}) has mean {got:.5f}, expected 0 "
                    f"(tolerance {tol:.5f}: {SIGMAS} standard deviations of the mean of {w.size} draws)",
                    hint=NOT_CENTRED,
                )

    return run


def rng_check(name):
    def run(t):
        need(t, name)
        first, again = draw(t, name, 40, 30, 5), draw(t, name, 40, 30, 5)
        if not np.array_equal(first, again):
            raise CheckFailure(
                f"two calls of {name}(40, 30, rng) with rng = default_rng(5) gave different weights",
                hint="the rng argument is not used: draw from rng (rng.standard_normal), not np.random",
            )
        if np.array_equal(first, draw(t, name, 40, 30, 6)):
            raise CheckFailure(
                f"{name}(40, 30, rng) gave the same weights for default_rng(5) and default_rng(6)",
                hint="the weights do not depend on rng: draw from the rng argument, not a generator of your own",
            )

    return run


for _name in STD:
    check(_name, "shape")(shape_check(_name))
    check(_name, "std")(std_check(_name))
    check(_name, "mean")(mean_check(_name))
    check(_name, "uses_rng")(rng_check(_name))
