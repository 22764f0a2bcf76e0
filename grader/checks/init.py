"""Checks for the weight initialisers xavier_init and he_init.

The statistics are compared with tolerances of 6 standard deviations of their
sampling distributions, so a correct implementation fails with probability
below 1e-8 whatever numbers its generator draws. Normal and uniform draws with
the right standard deviation are both accepted. The right standard deviations, and
the wrong ones the hints name, come from the oracles "init.*".
"""

import numpy as np

from ..contract import need
from ..expected import expected
from ..hints import named
from ..registry import check
from ..results import CheckFailure
from ..target import Rng
from .common import data_rng

SIGMAS = 6
STAT_CASES = [(500, 300), (200, 700)]  # (fan_in, fan_out): about 150000 draws each


STD = {"xavier_init": "init.xavier_std", "he_init": "init.he_std"}  # the oracle of each initialiser's std
NOT_CENTRED = named(
    "init.weights_not_centred",
    "the weights are not centred at 0: draw from a zero-mean distribution (rng.standard_normal), not rng.random",
)
UNIFORM = named(
    "init.uniform_std",
    "uniform draws in [-a, a] have std a / sqrt(3): use a = sqrt(3) * std, or normal draws",
)

# (key of the wrong std in the oracle "init.wrong_stds", what the student did), in the order they are tried
WRONG_STD = {
    "xavier_init": [
        (
            "he",
            named(
                "init.this_he_s_std_sqrt",
                "this is He's std sqrt(2 / fan_in): Xavier uses sqrt(2 / (fan_in + fan_out))",
            ),
        ),
        (
            "fan_in_only",
            named(
                "init.xavier_fan_in_only",
                "Xavier with fan_in only (std sqrt(1 / fan_in)): use sqrt(2 / (fan_in + fan_out))",
            ),
        ),
        (
            "fan_out_only",
            named(
                "init.xavier_fan_out_only",
                "Xavier with fan_out only (std sqrt(1 / fan_out)): use sqrt(2 / (fan_in + fan_out))",
            ),
        ),
        (
            "no_factor_2",
            named("init.factor_missing", "a factor 2 is missing: std = sqrt(2 / (fan_in + fan_out))"),
        ),
        (
            "variance",
            named(
                "init.scaled_variance", "scaled by the variance 2 / (fan_in + fan_out): take its square root"
            ),
        ),
        ("uniform", UNIFORM),
    ],
    "he_init": [
        (
            "xavier",
            named(
                "init.this_xavier_s_std_sqrt",
                "this is Xavier's std sqrt(2 / (fan_in + fan_out)): He uses sqrt(2 / fan_in)",
            ),
        ),
        (
            "one_over_fan_in",
            named("init.he_fan_in", "He with 1 / fan_in (std sqrt(1 / fan_in)): He uses sqrt(2 / fan_in)"),
        ),
        ("fan_out", named("init.he_computed_fan_out", "He computed with fan_out: He uses sqrt(2 / fan_in)")),
        (
            "variance",
            named("init.scaled_variance_fan_in", "scaled by the variance 2 / fan_in: take its square root"),
        ),
        ("uniform", UNIFORM),
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
            named(
                "init.weight_matrix_affine_layer", "the weight matrix of an Affine layer is (fan_in, fan_out)"
            )
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
            std = expected(STD[name], fan_in, fan_out)
            wrong = expected("init.wrong_stds", name, fan_in, fan_out)
            n = w.size
            tol = SIGMAS * std / np.sqrt(2.0 * (n - 1))  # std of the sample std of a normal sample
            got = float(np.std(w))
            if abs(got - std) > tol:
                hint = next((text for key, text in WRONG_STD[name] if abs(got - wrong[key]) <= tol), None)
                if hint is None and abs(np.mean(w)) > SIGMAS * std / np.sqrt(n):
                    hint = NOT_CENTRED
                raise CheckFailure(
                    f"{name}({fan_in}, {fan_out}) has standard deviation {got:.5f}, expected {std:.5f} "
                    f"(tolerance {tol:.5f}: {SIGMAS} standard deviations of the sample std over {n} draws)",
                    hint=hint,
                )

    return run


def mean_check(name):
    def run(t):
        need(t, name)
        for k, (fan_in, fan_out) in enumerate(STAT_CASES):
            w = draw(t, name, fan_in, fan_out, stat_seed(10 + k))
            std = expected(STD[name], fan_in, fan_out)
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
        seed, other = stat_seed(30), stat_seed(31)
        first, again = draw(t, name, 40, 30, seed), draw(t, name, 40, 30, seed)
        if not np.array_equal(first, again):
            raise CheckFailure(
                f"two calls of {name}(40, 30, rng) with rng = default_rng({seed}) gave different weights",
                hint=named(
                    "init.rng_argument_not_used",
                    "the rng argument is not used: draw from rng (rng.standard_normal), not np.random",
                ),
            )
        if np.array_equal(first, draw(t, name, 40, 30, other)):
            raise CheckFailure(
                f"{name}(40, 30, rng) gave the same weights for default_rng({seed}) and default_rng({other})",
                hint=named(
                    "init.weights_do_not_depend_rng",
                    "the weights do not depend on rng: draw from the rng argument, not a generator of your own",
                ),
            )

    return run


for _name in STD:
    check(_name, "shape")(shape_check(_name))
    check(_name, "std")(std_check(_name))
    check(_name, "mean")(mean_check(_name))
    check(_name, "uses_rng")(rng_check(_name))
