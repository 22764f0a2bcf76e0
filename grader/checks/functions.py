"""Checks for step, sigmoid, relu, tanh, softmax, mse, cross_entropy, numerical_gradient, gradient_descent.

Expected values, and the known-wrong values the hints name, come from the oracles
"functions.*" through `expected`. The functions handed to numerical_gradient and
gradient_descent are in grader/checks/handed.py (named there by the oracles).
"""

import itertools
import warnings

import numpy as np

from ..contract import need
from ..expect import expect_array, expect_number, expect_untouched, given_shapes
from ..expected import expected
from ..hints import named
from ..registry import check
from ..results import CheckFailure
from .common import blaming, data_rng, spread
from .handed import HeldLoss, bowl, cubic, steep, valley, wavy

SHAPES = [(3, 4), (6,), (2, 3, 4)]  # 2-D first: a wrong shape there gets the most specific hint


# ----------------------------------------------------------------------------- helpers
def like(value, text):
    """A hint (got, expected) -> `text` when the answer equals the known-wrong `value` (nan matches nan)."""
    value = np.asarray(value, dtype=float)

    def hint(got, expected):
        got = np.asarray(got, dtype=float)
        if got.size != value.size or (value.ndim and got.shape != value.shape):
            return None
        with np.errstate(all="ignore"):
            same = np.allclose(got.ravel(), value.ravel(), rtol=1e-5, atol=1e-9, equal_nan=True)
        return text if same else None

    return hint


def call(t, name, *args, **kwargs):
    """`name(*args, **kwargs)` after checking that `name` exists with the expected signature."""
    need(t, name)
    return t.call(name, *args, **kwargs)


def call_quietly(t, name, *args):
    """Call `name(*args)` and return (result, texts of the RuntimeWarnings it raised)."""
    need(t, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = t.call(name, *args)
    texts = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
    return out, texts


def as_zero_one(got, what, given, shape, hint=None):
    """`got` as an int array of `shape` holding only 0 and 1 (ints, bools or exact 0.0/1.0), else fail."""
    arr = np.asarray(got) if got is not None else None
    if arr is None or arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise CheckFailure(f"{what} should be 0/1 values of shape {shape} for {given}, got {got!r}")
    if arr.shape != shape and not (shape == () and arr.size == 1):
        raise CheckFailure(f"{what} has shape {arr.shape}, expected {shape} for {given}")
    if not np.all((arr == 0) | (arr == 1)):
        shown = f"{arr.reshape(-1)[0]:.4g}" if arr.size == 1 else f"values such as {np.unique(arr)[:4]}"
        raise CheckFailure(f"{what} returned {shown} for {given}: expected only 0 or 1", hint=hint)
    return arr.astype(np.int64).reshape(shape)


# ----------------------------------------------------------------------------- step
@check("step", "values")
def step_values(t):
    rng = data_rng(200)
    for shape in SHAPES:
        x = spread(rng, shape, 0.05, 3.0)
        hint = named(
            "functions.step_returns_where_x_elsewhere_nothing_between",
            "step returns 1 where x > 0 and 0 elsewhere, nothing in between",
        )
        got = as_zero_one(call(t, "step", x), "step(x)", given_shapes(x=x), shape, hint)
        want = expected("functions.step", x)
        if not np.array_equal(got, want):
            inverted = np.array_equal(got, 1 - want)
            raise CheckFailure(
                f"step(x) is wrong for {given_shapes(x=x)}: {np.sum(got != want)} of {x.size} entries differ",
                hint=named(
                    "functions.comparison_inverted", "the comparison is inverted: step is 1 where x > 0"
                )
                if inverted
                else None,
            )


@check("step", "dtype")
def step_dtype(t):
    x = spread(data_rng(201), (4,), 0.25, 2.0)
    got = np.asarray(call(t, "step", x))
    if not np.issubdtype(got.dtype, np.integer):
        kind = "booleans" if got.dtype == bool else f"{got.dtype} values"
        raise CheckFailure(
            f"step(x) returns {kind}, expected an int array",
            hint=named(
                "functions.step_not_int",
                f"step returns {kind}: convert the comparison with .astype(int) (the docstring asks for ints)",
            ),
        )


# ----------------------------------------------------------------------------- sigmoid, relu, tanh
def big_values():
    """0 and, with both signs, one value near each of 1000, 800, 40 and 0.5, sorted: exp(|x|) overflows for two."""
    rng = data_rng(205)
    sizes = np.array([rng.uniform(*r) for r in [(950, 1000), (750, 880), (30, 50), (0.25, 0.75)]])
    return np.sort(np.concatenate([-sizes, [0.0], sizes]))


SIGMOID_OVERFLOW = named(
    "functions.sigmoid_overflow",
    "sigmoid overflows in exp for x around -1000 (1 / (1 + exp(-x)) computes exp(1000)): "
    "use exp(-x) where x >= 0 and exp(x) / (1 + exp(x)) where x < 0, or 0.5 * (1 + tanh(x / 2)); "
    "np.where evaluates both branches on every element, so it warns too",
)
TANH_OVERFLOW = named(
    "functions.tanh_overflow",
    "tanh overflows in exp for |x| around 1000 ((e^x - e^-x) / (e^x + e^-x) gives inf / inf): "
    "use np.tanh, or rewrite with exp(-2|x|) only",
)


def check_elementwise(t, name, oracle, k, high, hints=()):
    """Compare `name(x)` with the oracle named `oracle` on a few shapes of values up to `high` in size."""
    rng = data_rng(k)
    for shape in SHAPES:
        x = spread(rng, shape, 0.05, high)
        got = call(t, name, x)
        given = given_shapes(x=x)
        expect_array(got, expected(oracle, x), f"{name}(x)", given, hints=[h(x) for h in hints])


def check_stable(t, name, oracle, advice, hints=()):
    """`name` at |x| up to 1000: finite, the values of the oracle named `oracle`, and no overflow RuntimeWarning.

    hints: functions of x giving hints for wrong values, as for check_elementwise.
    """
    big = big_values()
    got, warned = call_quietly(t, name, big)
    given = f"x = [{', '.join(f'{v:.4g}' for v in big)}]"
    not_finite = lambda g, e: None if np.all(np.isfinite(g)) else advice  # noqa: E731
    with np.errstate(over="ignore"):
        value_hints = [h(big) for h in hints]
    expect_array(got, expected(oracle, big), f"{name}(x)", given, hints=[not_finite, *value_hints])
    if warned:
        raise CheckFailure(f"{name}(x) warned ({'; '.join(warned)}) for {given}", hint=advice)


SIGMOID_MISTAKES = [
    lambda x: like(
        expected("functions.sigmoid", -x),
        named("functions.this_sigmoid", "this is sigmoid(-x): the formula is 1 / (1 + exp(-x))"),
    ),
    lambda x: like(
        expected("functions.tanh", x),
        named("functions.this_tanh", "this is tanh(x), not the sigmoid 1 / (1 + exp(-x))"),
    ),
]


@check("sigmoid", "values")
def sigmoid_values(t):
    check_elementwise(t, "sigmoid", "functions.sigmoid", 201, 12.0, SIGMOID_MISTAKES)


@check("sigmoid", "stable")
def sigmoid_stable(t):
    check_stable(t, "sigmoid", "functions.sigmoid", SIGMOID_OVERFLOW, SIGMOID_MISTAKES)


@check("relu", "values")
def relu_values(t):
    wrong = lambda x, key: expected("functions.wrong_relus", x)[key]  # noqa: E731
    hints = [
        lambda x: like(
            wrong(x, "max_axis0"),
            named(
                "functions.np_max_not_maximum",
                "np.max(x, 0) is the maximum over axis 0: use np.maximum(x, 0)",
            ),
        ),
        lambda x: like(
            wrong(x, "mask"),
            named(
                "functions.relu_returns_mask",
                "relu returns the 0/1 mask (x > 0): return the values max(0, x)",
            ),
        ),
        lambda x: like(
            wrong(x, "minimum"),
            named(
                "functions.relu_keeps_negative_entries", "relu keeps the negative entries: it is max(0, x)"
            ),
        ),
    ]
    check_elementwise(t, "relu", "functions.relu", 202, 3.0, hints)


@check("relu", "no_mutation")
def relu_no_mutation(t):
    x = spread(data_rng(203), (4, 5))
    call(t, "relu", x)
    expect_untouched(t, "relu")


TANH_MISTAKES = [
    lambda x: like(
        expected("functions.tanh", 0.5 * x),
        named(
            "functions.this_tanh", "this is tanh(x / 2) = 2 * sigmoid(x) - 1: tanh(x) = 2 * sigmoid(2x) - 1"
        ),
    ),
    lambda x: like(
        expected("functions.sigmoid", x),
        named("functions.this_sigmoid_not_tanh", "this is the sigmoid, not tanh"),
    ),
]


@check("tanh", "values")
def tanh_values(t):
    check_elementwise(t, "tanh", "functions.tanh", 204, 6.0, TANH_MISTAKES)


@check("tanh", "stable")
def tanh_stable(t):
    check_stable(t, "tanh", "functions.tanh", TANH_OVERFLOW, TANH_MISTAKES)


# ----------------------------------------------------------------------------- softmax
SOFTMAX_OVERFLOW = named(
    "functions.softmax_overflows_scores_around",
    "softmax overflows for scores around 1000: subtract the row max",
)


def softmax_mistakes(x, large=False):
    """Hints for the classic wrong softmaxes of a 2-D x.

    With `large` scores, the whole-array sum without a max subtraction is left out: it
    overflows to nan like every softmax that skips the max, so it would name the wrong mistake.
    """
    whole_sum = named(
        "functions.normalised_sum_over_whole_array",
        "normalised by the sum over the whole array: sum each row (axis=-1, keepdims=True)",
    )
    wrong = expected("functions.wrong_softmaxes", x)
    return [
        like(
            expected("functions.softmax", x.T).T,
            named(
                "functions.softmax_taken_over_axis",
                "softmax is taken over axis 0 (down the columns): normalise each row (axis=-1, keepdims=True)",
            ),
        ),
        *([] if large else [like(wrong["whole_sum_no_max"], whole_sum)]),
        like(
            wrong["global_max"],
            named(
                "functions.subtract_each_row_s_own_max",
                "subtract each row's own max (x.max(axis=-1, keepdims=True)), not the max of the whole "
                "array: rows far below it underflow to 0 / 0",
            ),
        ),
        like(wrong["whole_sum"], whole_sum),
    ]


@check("softmax", "values_1d")
def softmax_values_1d(t):
    rng = data_rng(210)
    for c in (5, 2, 1):
        x = rng.normal(0.0, 2.0, c)
        expect_array(call(t, "softmax", x), expected("functions.softmax", x), "softmax(x)", given_shapes(x=x))


@check("softmax", "values_2d")
def softmax_values_2d(t):
    rng = data_rng(211)
    for shape in [(4, 6), (3, 3), (1, 5), (5, 2)]:
        x = rng.normal(0.0, 2.0, shape)
        got = call(t, "softmax", x)
        want = expected("functions.softmax", x)
        expect_array(got, want, "softmax(x)", given_shapes(x=x), hints=softmax_mistakes(x))


@check("softmax", "large_scores")
def softmax_large_scores(t):
    rng = data_rng(212)
    row = 1000.0 + rng.normal(0.0, 2.0, 5)
    x2 = np.stack([row, rng.normal(0.0, 2.0, 5), -1000.0 + rng.normal(0.0, 2.0, 5)])
    nonfinite = lambda got, exp: None if np.all(np.isfinite(got)) else SOFTMAX_OVERFLOW  # noqa: E731
    for x in (row, x2):
        given = given_shapes(x=x) + " (scores around 1000 and -1000)"
        hints = softmax_mistakes(x, large=True) if x.ndim == 2 else []
        want = expected("functions.softmax", x)
        expect_array(call(t, "softmax", x), want, "softmax(x)", given, hints=hints + [nonfinite])


@check("softmax", "no_mutation")
def softmax_no_mutation(t):
    rng = data_rng(213)
    for x in (rng.normal(0.0, 2.0, (3, 4)), rng.normal(0.0, 2.0, 4)):
        call(t, "softmax", x)
        expect_untouched(t, "softmax")


# ----------------------------------------------------------------------------- mse
@check("mse", "values")
def mse_values(t):
    rng = data_rng(220)
    for shape in [(4, 3), (7,), (2, 5)]:
        y, target = rng.normal(size=shape), rng.normal(size=shape)
        wrong = expected("functions.wrong_mses", y, target)
        hints = [
            like(
                wrong["sum"],
                named(
                    "functions.mse_summed_instead_averaged",
                    "mse is summed instead of averaged: take the mean over every element",
                ),
            ),
            like(
                wrong["half_sum"],
                named(
                    "functions.this_sum_squared_errors",
                    "this is 0.5 * the sum of squared errors: mse is the mean of (y - t)**2",
                ),
            ),
            like(
                wrong["root"],
                named(
                    "functions.this_root_mean_squared_error",
                    "this is the root of the mean squared error: do not take the square root",
                ),
            ),
            like(
                wrong["absolute"],
                named(
                    "functions.this_mean_absolute_error",
                    "this is the mean absolute error: square the differences",
                ),
            ),
        ]
        if len(shape) == 2:
            hints.append(
                like(
                    wrong["batch_only"],
                    named(
                        "functions.averaged_over_batch_only",
                        "averaged over the batch only: average over every element",
                    ),
                )
            )
        got = call(t, "mse", y, target)
        expect_untouched(t, "mse")
        want = expected("functions.mse", y, target)
        expect_number(got, want, "mse(y, t)", given_shapes(y=y, t=target), hints=hints)


# ----------------------------------------------------------------------------- cross_entropy
CE_TOL = 1e-3  # a delta inside the log (np.log(y + 1e-7), up to about 1e-5) is fine
LOG_ZERO = named(
    "functions.log_of_zero",
    "log(0): a predicted probability of exactly 0 gives log(0) = -inf (and 0 * log(0) = nan); "
    "add a small delta inside the log, e.g. np.log(y + 1e-7), or clip y",
)


def probabilities(rng, n, c):
    """(n, c) rows of probabilities, every entry at least about 0.02."""
    p = rng.uniform(0.5, 2.0, (n, c))
    return p / p.sum(axis=1, keepdims=True)


def ce_mistakes(y, labels):
    """Hints for the classic wrong cross-entropies of (N, C) probabilities and int labels."""
    n = len(labels)
    wrong = expected("functions.wrong_cross_entropies", y, labels)
    return [
        like(
            wrong["sum"],
            named(
                "functions.cross_entropy_summed_over_batch_instead_averaged",
                f"cross_entropy is summed over the batch instead of averaged: divide by N = {n}",
            ),
        ),
        like(
            wrong["over_nc"],
            named("functions.divided_by_n_times_c", "divided by N * C: average over the batch (N rows) only"),
        ),
        like(
            wrong["negated"],
            named("functions.sign_flipped", "the sign is flipped: cross-entropy is -mean(log p_true)"),
        ),
    ]


def ce_cases(rng):
    """(y, labels): a square case first (mixed-up label conventions go unnoticed by shape there).

    Its labels repeat a class and miss another, so an argmax of one-hot rows over the wrong axis differs;
    drawn again until that mistake and int labels used as one-hot each give a loss of their own.
    """
    while True:
        y, labels = probabilities(rng, 4, 4), rng.permutation(4)
        labels[rng.integers(1, 4)] = labels[0]
        losses = [
            expected("functions.cross_entropy", y, labels),
            expected("functions.cross_entropy", y, np.eye(4)[labels].argmax(axis=0)),
            expected("functions.wrong_cross_entropies", y, labels)["labels_as_one_hot"],
        ]
        if all(abs(a - b) > 0.05 * abs(a) for a, b in itertools.combinations(losses, 2)):
            break
    cases = [(y, labels)]
    return cases + [(probabilities(rng, n, c), rng.integers(0, c, n)) for n, c in [(3, 5), (6, 2), (1, 3)]]


@check("cross_entropy", "labels")
def cross_entropy_labels(t):
    for y, labels in ce_cases(data_rng(230)):
        hints = ce_mistakes(y, labels)
        if y.shape[0] == y.shape[1]:
            as_one_hot = expected("functions.wrong_cross_entropies", y, labels)["labels_as_one_hot"]
            hints.append(
                like(
                    as_one_hot,
                    named(
                        "functions.int_labels_multiplied_like_one_hot_vectors",
                        "the int labels are multiplied like one-hot vectors: pick y[np.arange(N), t]",
                    ),
                )
            )
        got = call(t, "cross_entropy", y, labels)
        expect_untouched(t, "cross_entropy")
        given = given_shapes(y=y) + f", int labels t of shape {labels.shape}"
        want = expected("functions.cross_entropy", y, labels)
        expect_number(got, want, "cross_entropy(y, t)", given, tol=CE_TOL, hints=hints)
    rng = data_rng(231)
    y, label = probabilities(rng, 1, 4)[0], int(rng.integers(0, 4))
    got = call(t, "cross_entropy", y, label)
    given = given_shapes(y=y) + f", a single int label t = {label}"
    expect_number(
        got, expected("functions.cross_entropy", y, label), "cross_entropy(y, t)", given, tol=CE_TOL
    )


@check("cross_entropy", "one_hot")
def cross_entropy_one_hot(t):
    for i, (y, labels) in enumerate(ce_cases(data_rng(232))):
        one_hot = np.eye(y.shape[1])[labels]
        if i % 2:
            one_hot = one_hot.astype(np.int64)
        hints = ce_mistakes(y, labels)
        if y.shape[0] == y.shape[1]:
            wrong = one_hot.argmax(axis=0)
            hints.append(
                like(
                    expected("functions.cross_entropy", y, wrong),
                    named(
                        "functions.one_hot_rows_converted_argmax_over_axis",
                        "one-hot rows converted with argmax over axis 0: use argmax(axis=1)",
                    ),
                )
            )
        got = call(t, "cross_entropy", y, one_hot)
        expect_untouched(t, "cross_entropy")
        given = given_shapes(y=y) + f", one-hot t of shape {one_hot.shape} ({one_hot.dtype})"
        want = expected("functions.cross_entropy", y, labels)
        expect_number(got, want, "cross_entropy(y, t)", given, tol=CE_TOL, hints=hints)
    rng = data_rng(233)
    y, label = probabilities(rng, 1, 4)[0], int(rng.integers(0, 4))
    got = call(t, "cross_entropy", y, np.eye(4)[label])
    given = given_shapes(y=y) + ", a one-hot t of shape (4,)"
    expect_number(
        got, expected("functions.cross_entropy", y, label), "cross_entropy(y, t)", given, tol=CE_TOL
    )


@check("cross_entropy", "zero_probability")
@blaming("cross_entropy.labels", "cross_entropy.one_hot")
def cross_entropy_zero_probability(t):
    rng = data_rng(234)
    y, labels = probabilities(rng, 3, 4), rng.integers(0, 4, 3)
    true, others = labels[1], rng.permutation([c for c in range(4) if c != labels[1]])
    zero = others[0]
    y[1, zero], y[1, true] = 0.0, y[1, true] + y[1, zero]  # a wrong class with probability exactly 0
    nonfinite = lambda got, exp: None if np.all(np.isfinite(got)) else LOG_ZERO  # noqa: E731
    for name, target in (("int labels", labels), ("one-hot", np.eye(4)[labels])):
        given = given_shapes(y=y) + f", {name} t; y[1, {zero}] = 0 (a wrong class)"
        got = call(t, "cross_entropy", y, target)
        hints = [nonfinite] + ce_mistakes(y, labels)
        want = expected("functions.cross_entropy", y, labels)
        expect_number(got, want, "cross_entropy(y, t)", given, tol=CE_TOL, hints=hints)
    # the true class of sample 1 gets probability exactly 0: a large but finite loss
    y0 = y.copy()
    y0[1, :] = 0.0
    y0[1, others[1:]] = 0.5
    floor = expected("functions.cross_entropy", np.where(y0 > 0, y0, 0.01), labels)
    for name, target in (("int labels", labels), ("one-hot", np.eye(4)[labels])):
        got = call(t, "cross_entropy", y0, target)
        value = np.asarray(got, dtype=float).reshape(-1) if got is not None else np.array([np.nan])
        if value.size != 1 or not np.isfinite(value[0]) or value[0] < floor:
            raise CheckFailure(
                f"cross_entropy(y, t) is {got!r} for {given_shapes(y=y0)}, {name} t, when the true class of "
                f"sample 1 has probability exactly 0: expected a finite loss of at least {floor:.3g}",
                hint=LOG_ZERO if value.size == 1 and not np.isfinite(value[0]) else None,
            )


# ----------------------------------------------------------------------------- numerical_gradient
FORWARD_HINT = named(
    "functions.this_forward_difference",
    "this is a forward difference (f(x + h) - f(x)) / h, which is much less accurate: "
    "use central differences (f(x + h) - f(x - h)) / (2h)",
)


def x_moved_hint(t):
    """A hint for a wrong gradient when the last call left x changed."""
    moved = bool(t.last_mutations)
    return lambda got, exp: NOT_RESTORED if moved else None


NOT_RESTORED = named(
    "functions.x_left_nudged",
    "x is left nudged: after the two evaluations put the original value back, x[i] = tmp",
)


@check("numerical_gradient", "values")
def numerical_gradient_values(t):
    rng = data_rng(240)
    for fn, shape in [(bowl, (4,)), (wavy, (3, 2)), (cubic, (2, 3, 2)), (wavy, (5,))]:
        x = rng.uniform(-2.0, 2.0, shape)
        got = call(t, "numerical_gradient", fn, x)
        given = given_shapes(x=x) + f", f = {fn.__name__}: {fn.__doc__.split(':')[0]}, default h"
        hints = [
            like(expected("functions.forward_differences", fn.__name__, x, 1e-4), FORWARD_HINT),
            x_moved_hint(t),
        ]
        want = expected("functions.gradient", fn.__name__, x)
        expect_array(got, want, "numerical_gradient(f, x)", given, hints=hints)


@check("numerical_gradient", "central_differences")
def numerical_gradient_central(t):
    rng = data_rng(241)
    for h, shape in [(0.05, (4,)), (0.1, (2, 3))]:
        x = rng.uniform(-1.0, 1.0, shape)
        got = call(t, "numerical_gradient", steep, x, h=h)
        given = given_shapes(x=x) + f", f = sum(exp(x)), h = {h}"
        diffs = expected("functions.steep_differences", x, h)
        hints = [
            like(diffs["forward"], FORWARD_HINT),
            like(
                diffs["backward"],
                named(
                    "functions.this_backward_difference",
                    "this is a backward difference (f(x) - f(x - h)) / h: use central differences",
                ),
            ),
            like(
                diffs["exact"],
                named(
                    "functions.h_passed_ignored",
                    "the h passed in is ignored: use the argument h, not a fixed step",
                ),
            ),
        ]
        want = diffs["central"]  # exactly what central differences with this h give
        expect_array(got, want, "numerical_gradient(f, x, h)", given, tol=1e-7, hints=hints)


def nudged_and_left(t, fn, x):
    """Run numerical_gradient(fn, x) on an array kept on the student's side; return (grad, x afterwards)."""
    need(t, "numerical_gradient")
    x_ref = t.put(x, "x")
    grad = t.call("numerical_gradient", fn, x_ref)
    return grad, x_ref.fetch()


@check("numerical_gradient", "restores_x")
def numerical_gradient_restores_x(t):
    x = data_rng(242).uniform(-3.0, 3.0, (4, 6))
    _, after = nudged_and_left(t, bowl, x)
    if after.shape != x.shape or not np.array_equal(after, x):
        diff = np.max(np.abs(after - x)) if after.shape == x.shape else np.inf
        if diff < 1e-9:
            hint = named(
                "functions.x_not_restored",
                "x[i] += h followed by x[i] -= h does not give back x[i] exactly in floating point: "
                "save the original value (tmp = x[i]) and assign it back",
            )
        else:
            hint = NOT_RESTORED
        raise CheckFailure(
            f"numerical_gradient(f, x) changed x (by up to {diff:.3g}) for {given_shapes(x=x)}: "
            "x must be exactly unchanged afterwards",
            hint=hint,
        )


@check("numerical_gradient", "closure")
def numerical_gradient_closure(t):
    rng = data_rng(243)
    for fn, shape in [(wavy, (3, 4)), (cubic, (5,))]:
        x = rng.uniform(-2.0, 2.0, shape)
        loss = t.put(HeldLoss(fn), "f")
        x_ref = t.put(x, "x")
        loss.set("held", x_ref)
        need(t, "numerical_gradient")
        got = t.call("numerical_gradient", loss, x_ref)
        moved = not np.array_equal(x_ref.fetch(), x)
        given = given_shapes(x=x) + f", f ignores its argument and reads x itself ({fn.__name__})"
        closure_hint = like(
            np.zeros(shape),
            named(
                "functions.f_ignores_argument_reads_x_itself",
                "f ignores its argument and reads x itself (as a network's loss reads its weights): nudge x[i] in "
                "place, call f(x), and restore x[i]; do not call f on a new array (x + h * e_i or a copy)",
            ),
        )
        hints = [
            closure_hint,
            like(expected("functions.forward_differences", fn.__name__, x, 1e-4), FORWARD_HINT),
            lambda got, exp, moved=moved: NOT_RESTORED if moved else None,
        ]
        want = expected("functions.gradient", fn.__name__, x)
        expect_array(got, want, "numerical_gradient(f, x)", given, hints=hints)


# ----------------------------------------------------------------------------- gradient_descent
@check("gradient_descent", "minimum")
def gradient_descent_minimum(t):
    rng = data_rng(250)
    for shape in [(3,), (2, 2)]:
        x0 = rng.uniform(-3.0, 3.0, shape)
        c = expected("functions.valley_minimum", shape)
        got = call(t, "gradient_descent", valley, x0, lr=0.2, steps=100)
        given = given_shapes(x0=x0) + ", f = sum(A * (x - C)**2), lr = 0.2, steps = 100"

        def uphill(g, e, x0=x0, c=c):
            far = np.max(np.abs(g - c)) > np.max(np.abs(x0 - c)) if np.all(np.isfinite(g)) else True
            text = "x moves away from the minimum: step against the gradient, x -= lr * grad"
            return named("functions.moves_uphill", text) if far else None

        expect_array(got, c, "gradient_descent(f, x0) (the minimum C)", given, hints=[uphill])


@check("gradient_descent", "steps")
def gradient_descent_steps(t):
    rng = data_rng(251)
    for lr, steps, shape in [(0.1, 3, (4,)), (0.25, 1, (2, 3)), (0.05, 5, (3,)), (0.1, 0, (2,))]:
        x0 = rng.uniform(-3.0, 3.0, shape)
        got = call(t, "gradient_descent", valley, x0, lr=lr, steps=steps)
        wrong = expected("functions.wrong_descents", x0, lr, steps)
        hints = [
            like(
                wrong["one_more"],
                named("functions.one_update_too_many", "one update too many: run exactly `steps` updates"),
            ),
            like(
                wrong["one_fewer"],
                named("functions.one_update_too_few", "one update too few: run exactly `steps` updates"),
            ),
            like(
                wrong["uphill"],
                named("functions.x_moves_uphill", "x moves uphill: the update is x -= lr * grad"),
            ),
            like(
                wrong["no_lr"],
                named(
                    "functions.learning_rate_lr_ignored", "the learning rate lr is ignored: x -= lr * grad"
                ),
            ),
        ]
        given = given_shapes(x0=x0) + f", f = sum(A * (x - C)**2), lr = {lr}, steps = {steps}"
        want = expected("functions.descent", x0, lr, steps)
        expect_array(got, want, "gradient_descent(f, x0, lr, steps)", given, hints=hints)


@check("gradient_descent", "x0_unchanged")
def gradient_descent_x0_unchanged(t):
    x0 = data_rng(252).uniform(-3.0, 3.0, (3,))
    call(t, "gradient_descent", valley, x0, lr=0.1, steps=5)
    expect_untouched(t, "gradient_descent")
