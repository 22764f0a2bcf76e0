"""Checks for Dropout and BatchNorm1d.

Dropout is graded by statistics and by structure (which entries are zero, how
survivors are scaled, whether backward reuses the forward mask), never by the
order in which the masks are drawn: masks from `rng.random`, `rng.uniform` or
`rng.binomial` all pass. Rates are compared with 6 binomial standard deviations.

BatchNorm1d is compared with float64 oracles ("regularization.*", through
`expected`); gradients with central differences of the training-mode oracle,
where the batch statistics depend on x. The value checks use a tiny eps and features of variance >= 16, so eps
inside or outside the square root (and a fixed eps up to 1e-5) give the same
values; the `eps` check alone grades the use of the constructor's eps, accepting
both placements. The running variance may be biased (as documented) or unbiased
(PyTorch's choice).
"""

import numpy as np

from ..expect import GRAD_TOL, expect_array, expect_untouched, given_shapes
from ..expected import expected
from ..hints import UNNAMED, mistake_of, named
from ..numeric import rel_error
from ..registry import check
from ..results import CheckFailure
from ..target import Rng
from .common import (
    EPS_IGNORED,
    blaming,
    check_gradient,
    data_rng,
    make,
    make_with_params,
    run_layer,
    spread,
    upstream_problem,
)

SIGMAS = 6


def value_hint(value, text):
    """A hint that applies when the answer equals `value` (much closer to it than `value` is to the truth)."""

    def hint(got, expected):
        got = np.asarray(got, dtype=np.float64)
        if got.shape != np.shape(value):
            return None
        return text if rel_error(got, value) <= min(1e-5, rel_error(value, expected) / 10) else None

    return hint


def close_hint(candidate, text):
    """A hint for check_gradient: applies when the answer equals `candidate(x, dout, params)`."""
    return lambda x, dout, params: value_hint(candidate(x, dout, params), text)


# ============================================================================= Dropout
DROPOUT_RATES = [0.5, 0.2, 0.8]
SWAPPED = named(
    "dropout.keep_drop_swapped",
    "keep and drop probabilities are swapped: p is the probability of zeroing an entry",
)
NOT_SCALED = named(
    "dropout.survivors_not_scaled",
    "dropout survivors are not scaled by 1/(1-p)",
)
ACTIVE_IN_EVAL = named(
    "dropout.active_in_eval",
    "dropout active in eval mode: when training is False, forward and backward are the identity",
)
RESCALED_AT_TEST = named(
    "dropout.rescaled_at_test",
    "rescaled at test time: inverted dropout already scales in training, so eval mode is the identity",
)


def student_seed(k):
    """A seed for a generator on the student's side, derived from the grader's seed."""
    return int(data_rng(k).integers(2**31))


def dropout(t, p, seed):
    return make(t, "Dropout", p=p, rng=Rng(seed))


def dropout_forward(t, layer, x):
    out = layer.call("forward", x)
    expect_untouched(t, "Dropout.forward")
    if not isinstance(out, np.ndarray) or out.shape != x.shape:
        raise CheckFailure(
            f"Dropout.forward should return an array of the input's shape {x.shape}, got "
            + (f"shape {out.shape}" if isinstance(out, np.ndarray) else repr(out))
        )
    return out


def expect_drop_rate(p, out):
    """Dropout(p).forward's output `out` zeroed a fraction p of its entries, within SIGMAS binomial stds."""
    n = out.size
    frac = float(np.mean(out == 0))
    tol = SIGMAS * np.sqrt(p * (1 - p) / n)
    if abs(frac - p) > tol:
        hint = None
        if frac == 0:
            hint = named(
                "regularization.nothing_dropped_training_mode", "nothing was dropped in training mode"
            )
        elif abs(frac - (1 - p)) <= tol:
            hint = SWAPPED
        elif abs(frac - 0.5) <= SIGMAS * np.sqrt(0.25 / n):
            hint = named("regularization.p_ignored", "p is ignored: half of the entries were dropped")
        elif out.ndim > 1 and len(out) > 1 and np.all((out == 0) == (out[:1] == 0)):
            hint = named(
                "dropout.one_mask_for_the_batch",
                "every sample lost the same entries: one mask for the whole batch; draw a mask of x's "
                "full shape, rng.random(x.shape)",
            )
        raise CheckFailure(
            f"Dropout(p={p}).forward zeroed a fraction {frac:.4f} of {n} entries, expected {p} "
            f"(tolerance {tol:.4f}: {SIGMAS} binomial standard deviations)",
            hint=hint,
        )


def survivor_hints(xs, p):
    """Hints for survivors that should be xs / (1 - p)."""
    return [
        value_hint(xs, NOT_SCALED),
        value_hint(
            xs * (1 - p),
            named(
                "regularization.survivors_multiplied",
                "survivors are multiplied by (1 - p): divide them by (1 - p)",
            ),
        ),
        value_hint(
            xs / p,
            named(
                "regularization.survivors_scaled_p",
                "survivors are scaled by 1/p: divide by the keep probability 1 - p",
            ),
        ),
    ]


@check("Dropout", "drop_rate")
def dropout_drop_rate(t):
    x = np.ones((100, 1000))
    for k, p in enumerate(DROPOUT_RATES):
        expect_drop_rate(p, dropout_forward(t, dropout(t, p, student_seed(1000 + k)), x))
    out = dropout_forward(t, dropout(t, 0.0, student_seed(1099)), x[:10])
    by_p = named(
        "dropout.divided_by_p",
        "Dropout(p=0) gave inf or nan: divide the survivors by the keep probability 1 - p, not by p",
    )
    expect_array(
        out,
        x[:10],
        "Dropout(p=0).forward output",
        "p = 0 (nothing is dropped)",
        hints=[lambda got, exp: None if np.all(np.isfinite(got)) else by_p],
    )


@check("Dropout", "scaling")
def dropout_scaling(t):
    rng = data_rng(800)
    for k, (p, shape) in enumerate([(0.2, (2, 3, 4, 5)), (0.8, (30, 20)), (0.5, (7, 9))]):
        x = spread(rng, shape, 0.5, 2.0)
        out = dropout_forward(t, dropout(t, p, student_seed(1010 + k)), x)
        kept = out != 0
        if not kept.any():
            raise CheckFailure(f"Dropout(p={p}).forward zeroed every entry of x of shape {shape}")
        survivors, xs = out[kept], x[kept]
        expect_array(
            survivors,
            xs / (1 - p),
            f"Dropout(p={p}).forward output at the entries that were not dropped",
            given_shapes(x=x) + " (survivors must be x / (1 - p))",
            hints=survivor_hints(xs, p),
        )


def expect_dropout_dx(p, x, out, dout, dx):
    """dx of Dropout(p) is dout / (1 - p) where the forward output `out` kept x, 0 where it dropped it."""
    if not isinstance(out, np.ndarray) or out.shape != np.shape(x):
        raise CheckFailure(
            f"Dropout(p={p}).forward output should be an array of shape {np.shape(x)} (the shape of x), "
            f"got {type(out).__name__} of shape {np.shape(out)}, so its mask cannot be judged",
            hint=named("dropout.output_shape", "forward returns an array of x's shape: x * mask / (1 - p)"),
        )
    kept = out != 0

    def new_mask(got, expected):
        got = np.asarray(got)
        if got.shape == kept.shape and (got != 0).any() and not np.array_equal(got != 0, kept):
            return named(
                "regularization.backward_draws_new_mask",
                "backward draws a new mask: reuse the mask of the last forward pass",
            )
        return None

    expect_array(
        dx,
        np.where(kept, dout / (1 - p), 0.0),
        f"Dropout(p={p}).backward: dx",
        given_shapes(x=x, dout=dout) + " (dx must be 0 where out is 0, dout / (1 - p) elsewhere)",
        hints=[
            value_hint(
                dout,
                named(
                    "regularization.dout_passed_through_unchanged",
                    "dout is passed through unchanged: apply the forward mask and scale",
                ),
            ),
            value_hint(
                dout * kept,
                named(
                    "regularization.dx_not_scaled", "dx is not scaled by 1/(1-p) like the forward survivors"
                ),
            ),
            value_hint(
                dout / (1 - p),
                named(
                    "regularization.dx_rescaled_but_never_masked",
                    "dx is rescaled but never masked: zero it where the forward pass dropped x (same mask, then / (1 - p))",
                ),
            ),
            new_mask,
        ],
    )


@check("Dropout", "backward_mask")
def dropout_backward_mask(t):
    rng = data_rng(801)
    for k, p in enumerate([0.3, 0.5]):
        x, dout = spread(rng, (50, 40), 0.5, 2.0), spread(rng, (50, 40), 0.5, 2.0)
        out, dx = run_layer(t, dropout(t, p, student_seed(1020 + k)), x, dout, "Dropout")
        expect_dropout_dx(p, x, out, dout, dx)


@check("Dropout", "eval_identity")
def dropout_eval_identity(t):
    rng = data_rng(802)
    p = 0.3
    x, dout = spread(rng, (20, 30), 0.5, 2.0), spread(rng, (20, 30), 0.5, 2.0)
    layer = dropout(t, p, student_seed(1030))
    run_layer(t, layer, x, dout, "Dropout")  # a training pass first: eval must not reuse its mask
    layer.set("training", False)
    out, dx = run_layer(t, layer, x, dout, "Dropout")
    given = given_shapes(x=x) + f", p = {p}, training False"
    for got, value, what in [(out, x, "Dropout.forward output"), (dx, dout, "Dropout.backward: dx")]:
        expect_array(
            got,
            value,
            what,
            given,
            hints=[
                lambda g, e: (
                    ACTIVE_IN_EVAL if np.shape(g) == e.shape and np.any(np.asarray(g) == 0) else None
                ),
                value_hint(value * (1 - p), RESCALED_AT_TEST),
                value_hint(value / (1 - p), RESCALED_AT_TEST),
            ],
        )


@check("Dropout", "fresh_masks")
def dropout_fresh_masks(t):
    x = np.ones((20, 50))
    layer = dropout(t, 0.5, student_seed(1040))
    first = dropout_forward(t, layer, x) != 0
    second = dropout_forward(t, layer, x) != 0
    if np.array_equal(first, second):
        raise CheckFailure(
            "two forward calls of one Dropout(p=0.5) layer on x of shape (20, 50) dropped the same entries",
            hint=named(
                "regularization.same_mask_reused",
                "the same mask is reused: draw a new mask on every forward pass in training mode",
            ),
        )


@check("Dropout", "uses_rng")
def dropout_uses_rng(t):
    x = np.ones((20, 50))

    def mask(seed):
        return dropout_forward(t, dropout(t, 0.5, seed), x) != 0

    seed, other = student_seed(1050), student_seed(1051)
    if not np.array_equal(mask(seed), mask(seed)):
        raise CheckFailure(
            f"two Dropout(p=0.5) layers built with rng = default_rng({seed}) dropped different entries",
            hint=named(
                "regularization.masks_not_drawn_from_self_rng",
                "masks are not drawn from self.rng: use self.rng.random(...), not np.random",
            ),
        )
    if np.array_equal(mask(seed), mask(other)):
        raise CheckFailure(
            f"Dropout(p=0.5) layers built with default_rng({seed}) and default_rng({other}) dropped the same entries",
            hint=named(
                "regularization.masks_do_not_depend_layer_s_rng",
                "the masks do not depend on the layer's rng: draw them from self.rng",
            ),
        )


# ============================================================================= BatchNorm1d
BN_EPS = 1e-10  # tiny: most checks grade the rest of the layer; the eps check grades eps
EPS_OUTSIDE = named(
    "batchnorm.eps_outside_sqrt",
    "eps is added to the standard deviation: normalise with (x - mean) / sqrt(var + eps), "
    "the docstring's form (PyTorch's)",
)
BN_CASES = [(4, 4), (8, 5), (3, 2)]  # (N, D): square first, so a wrong-axis mean still broadcasts
RUNNING_TOL = 1e-6
BN_FORWARD = "regularization.bn_train"  # the training-mode forward, (x, gamma, beta), eps BN_EPS
DEFAULT_EPS = 1e-5  # BatchNorm1d's default eps (the constant_feature check builds the layer without one)


def bn_features(rng, n, d, low=4.0, high=8.0):
    """x of shape (n, d) whose feature j has batch mean offset_j and batch std exactly scale_j.

    With the default scales (variance >= 16) an eps up to 1e-5, wherever it is added,
    moves the output by less than the tolerance: the eps check grades eps on its own.
    """
    z = rng.standard_normal((n, d))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    return rng.uniform(-3, 3, d) + rng.uniform(low, high, d) * z


def bn_params(rng, d):
    return {"gamma": spread(rng, d, 0.5, 2.0), "beta": rng.standard_normal(d)}


def build_bn(t, case):
    n, d = case
    rng = data_rng(900 + 10 * n + d)
    params = bn_params(rng, d)
    layer = make_with_params(t, "BatchNorm1d", params, d, eps=BN_EPS)
    return layer, bn_features(rng, n, d), params, rng.standard_normal((n, d))


WRONG_AXIS = named(
    "batchnorm.wrong_axis",
    "normalised over the wrong axis: normalise each feature over the batch (mean and var over axis 0)",
)
TRAIN_WITH_RUNNING = named(
    "batchnorm.running_stats_in_training",
    "running statistics used in training: normalise with the batch mean and variance",
)
FORWARD_MISTAKES = [  # (name of the oracle's candidate, hint); "axis 1 broadcast" exists for a square x only
    ("per sample", WRONG_AXIS),
    ("whole batch", WRONG_AXIS),
    (
        "unbiased variance",
        named(
            "regularization.normalised_unbiased_variance",
            "normalised with the unbiased variance (ddof=1): use the biased batch variance, np.var's default",
        ),
    ),
    ("initial running statistics", TRAIN_WITH_RUNNING),
    ("updated running statistics", TRAIN_WITH_RUNNING),
    (
        "no gamma, beta",
        named(
            "regularization.gamma_beta_not_applied",
            "gamma and beta are not applied: out = gamma * x_hat + beta",
        ),
    ),
    ("axis 1 broadcast", WRONG_AXIS),
]


def bn_forward_mistakes(x, params, eps=BN_EPS):
    candidates = expected("regularization.bn_train_mistakes", x, params["gamma"], params["beta"], eps)
    return [value_hint(candidates[name], text) for name, text in FORWARD_MISTAKES if name in candidates]


@check("BatchNorm1d", "forward_train")
def bn_forward_train(t):
    for case in BN_CASES:
        layer, x, params, _ = build_bn(t, case)
        out = layer.call("forward", x)
        expect_untouched(t, "BatchNorm1d.forward")
        expect_array(
            out,
            expected(BN_FORWARD, x, **params),
            "BatchNorm1d.forward output (training)",
            given_shapes(x=x),
            hints=bn_forward_mistakes(x, params),
        )


def gradient_mistake(name, text):
    """A hint for check_gradient naming `text` when the answer is the oracle's known-wrong gradient `name`."""

    def candidate(x, dout, params):
        return expected("regularization.bn_gradient_mistakes", x, dout, params["gamma"])[name]

    return close_hint(candidate, text)


@check("BatchNorm1d", "backward_dx")
@blaming("BatchNorm1d.forward_train")
def bn_backward_dx(t):
    hints = [
        gradient_mistake(
            "dx, constant statistics",
            named(
                "regularization.dx_treats_batch_mean_variance_constants",
                "dx treats the batch mean and variance as constants: in training they depend on x",
            ),
        ),
        gradient_mistake(
            "dx, no gamma", named("regularization.dx_missing_factor_gamma", "dx is missing the factor gamma")
        ),
    ]
    try:
        check_gradient(t, "BatchNorm1d", build_bn, BN_FORWARD, BN_CASES, "x", hints=hints)
    except CheckFailure as failure:
        unnamed = failure.hint is None or mistake_of(failure.hint) in UNNAMED
        upstream = ("BatchNorm1d.forward_train", "BatchNorm1d.backward_dgamma", "BatchNorm1d.backward_dbeta")
        if unnamed and all(upstream_problem(t, check_id) is None for check_id in upstream):
            failure.hint = DX_DERIVATION
        raise


DX_DERIVATION = named(
    "batchnorm.dx_derivation_wrong",
    "forward, dgamma and dbeta are right, dx is not: with x_hat = (x - mean) / sqrt(var + eps), "
    "dx = gamma / (N * sqrt(var + eps)) * (N * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))",
)


@check("BatchNorm1d", "backward_dgamma")
@blaming("BatchNorm1d.forward_train")
def bn_backward_dgamma(t):
    hints = [
        gradient_mistake(
            "dgamma with x",
            named(
                "regularization.dgamma_uses_x_instead_normalised_x_hat",
                "dgamma uses x instead of the normalised x_hat",
            ),
        ),
        gradient_mistake(
            "dgamma mean",
            named(
                "regularization.dgamma_mean_over_batch",
                "dgamma is the mean over the batch: it should be the sum",
            ),
        ),
    ]
    check_gradient(t, "BatchNorm1d", build_bn, BN_FORWARD, BN_CASES, "gamma", hints=hints)


@check("BatchNorm1d", "backward_dbeta")
@blaming("BatchNorm1d.forward_train")
def bn_backward_dbeta(t):
    hints = [
        gradient_mistake(
            "dbeta mean",
            named(
                "regularization.dbeta_mean_over_batch",
                "dbeta is the mean over the batch: it should be the sum",
            ),
        )
    ]
    check_gradient(t, "BatchNorm1d", build_bn, BN_FORWARD, BN_CASES, "beta", hints=hints)


def read_running(layer, d):
    values = {}
    for attr in ("running_mean", "running_var"):
        value = layer.get(attr)
        if not isinstance(value, np.ndarray) or value.shape != (d,):
            kept = isinstance(value, np.ndarray) and value.shape in ((1, d), (d, 1))
            raise CheckFailure(
                f"BatchNorm1d.{attr} should be an array of shape ({d},), got {value!r}",
                hint=named(
                    "batchnorm.running_stats_kept_dims",
                    f"{attr} has shape {value.shape}: the batch statistics keep their axis (keepdims=True); "
                    "compute them with x.mean(axis=0) and x.var(axis=0)",
                )
                if kept
                else None,
            )
        values[attr] = value
    return values


VAR_WITH_EPS = named(
    "batchnorm.running_var_includes_eps",
    "running_var includes eps: update it with the batch variance itself; eps belongs only inside sqrt(var + eps)",
)


@check("BatchNorm1d", "running_stats")
def bn_running_stats(t):
    rng = data_rng(910)
    momentum, n, d, eps = 0.8, 6, 4, 0.5  # a visible eps: it belongs in sqrt(var + eps), not in running_var
    layer = make(t, "BatchNorm1d", d, momentum=momentum, eps=eps)
    batches = [bn_features(rng, n, d) for _ in range(3)]
    got = []
    for x in batches:
        layer.call("forward", x)
        expect_untouched(t, "BatchNorm1d.forward")
        got.append(read_running(layer, d))
    initial = {"running_mean": np.zeros(d), "running_var": np.ones(d)}
    statistic = {"running_mean": "mean", "running_var": "var"}
    unbiased = expected("regularization.running_sequence", batches, "unbiased var", np.ones(d), momentum)
    accept_unbiased = all(
        rel_error(g["running_var"], u) <= RUNNING_TOL for g, u in zip(got, unbiased, strict=True)
    )
    for attr in ("running_mean", "running_var"):
        if attr == "running_var" and accept_unbiased:
            continue
        stat = statistic[attr]
        running = expected("regularization.running_sequence", batches, stat, initial[attr], momentum)
        mistakes = [
            (
                expected("regularization.running_sequence", batches, stat, initial[attr], 1 - momentum),
                named(
                    "regularization.momentum_used_wrong_way_round",
                    "momentum is used the wrong way round: running = momentum * running + (1 - momentum) * batch",
                ),
            ),
            (
                [initial[attr]] * len(batches),
                named(
                    "regularization.running_statistics_not_updated_training_mode",
                    "running statistics are not updated in training mode",
                ),
            ),
            (
                expected("regularization.batch_statistics", batches, stat),
                named(
                    "regularization.running_statistics_replaced_batch_statistics",
                    "running statistics are replaced by the batch statistics: "
                    "running = momentum * running + (1 - momentum) * batch",
                ),
            ),
        ]
        if attr == "running_var":
            mistakes.append(
                (
                    expected("regularization.running_sequence", batches, "std", initial[attr], momentum),
                    named(
                        "batchnorm.running_var_from_std",
                        "running_var is updated with the standard deviation: use the batch variance",
                    ),
                )
            )
        for step, x in enumerate(batches):
            step_mistakes = [(values[step], text) for values, text in mistakes]
            if attr == "running_var":  # each batch variance with eps added, through the running average
                step_mistakes.append((running[step] + eps * (1 - momentum ** (step + 1)), VAR_WITH_EPS))
            expect_array(
                got[step][attr],
                running[step],
                f"BatchNorm1d(eps={eps}).{attr}",
                f"momentum = {momentum}, after {step + 1} training forward passes on batches of shape {x.shape}",
                tol=RUNNING_TOL,
                hints=[value_hint(value, text) for value, text in step_mistakes],
            )


def eval_layer(t, rng, n, d, eps=BN_EPS, mean=2.0, var=(16, 64), scale=(4.0, 8.0)):
    """A BatchNorm1d in eval mode with grader-chosen gamma, beta and running statistics."""
    params = bn_params(rng, d)
    layer = make_with_params(t, "BatchNorm1d", params, d, eps=eps)
    stats = {"running_mean": rng.uniform(-mean, mean, d), "running_var": rng.uniform(*var, d)}
    for attr, value in stats.items():
        layer.set(attr, value)
    layer.set("training", False)
    return layer, params, stats, bn_features(rng, n, d, *scale)


@check("BatchNorm1d", "eval_forward")
def bn_eval_forward(t):
    rng = data_rng(920)
    for n, d in [(6, 4), (3, 3)]:
        layer, params, stats, x = eval_layer(t, rng, n, d)
        out = layer.call("forward", x)
        expect_untouched(t, "BatchNorm1d.forward")
        args = (x, params["gamma"], params["beta"], stats["running_mean"], stats["running_var"])
        wrong = expected("regularization.bn_eval_mistakes", *args, 0.9)
        expect_array(
            out,
            expected("regularization.bn_eval", *args),
            "BatchNorm1d.forward output (training False)",
            given_shapes(x=x) + ", with grader-set running_mean and running_var",
            hints=[
                value_hint(
                    wrong["batch statistics"],
                    named(
                        "regularization.batch_statistics_used_eval",
                        "batch statistics used in eval: normalise with running_mean and running_var when training is False",
                    ),
                ),
                value_hint(
                    wrong["statistics updated"],
                    named(
                        "regularization.running_statistics_updated_eval_mode",
                        "running statistics updated in eval mode: update them only when training",
                    ),
                ),
                value_hint(
                    wrong["divided by var"],
                    named(
                        "regularization.divided_running_var",
                        "divided by running_var: divide by sqrt(running_var + eps)",
                    ),
                ),
                value_hint(
                    wrong["no gamma, beta"],
                    named(
                        "regularization.gamma_beta_not_applied",
                        "gamma and beta are not applied: out = gamma * x_hat + beta",
                    ),
                ),
            ],
        )
        after = read_running(layer, d)
        for attr, value in stats.items():
            expect_array(
                after[attr],
                value,
                f"BatchNorm1d.{attr} after a forward pass with training False",
                hints=[
                    lambda got, exp: named(
                        "regularization.running_statistics_updated_eval_mode",
                        "running statistics updated in eval mode: update them only when training",
                    )
                ],
            )


@check("BatchNorm1d", "eval_backward")
@blaming(
    "BatchNorm1d.eval_forward",
    "BatchNorm1d.backward_dx",
    "BatchNorm1d.backward_dgamma",
    "BatchNorm1d.running_stats",
)
def bn_eval_backward(t):
    rng = data_rng(930)
    layer, params, stats, x = eval_layer(t, rng, 5, 3)
    dout = rng.standard_normal(x.shape)
    _, dx = run_layer(t, layer, x, dout, "BatchNorm1d")
    g, rm, rv = params["gamma"], stats["running_mean"], stats["running_var"]
    grads = expected("regularization.bn_eval_gradients", x, dout, g, rm, rv)
    given = (
        given_shapes(x=x, dout=dout)
        + ", training False (out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta)"
    )
    train_formula = named(
        "batchnorm.training_backward_in_eval",
        "backward used the training formula after an eval-mode forward: with running statistics, "
        "dx = dout * gamma / sqrt(running_var + eps)",
    )
    expect_array(
        dx,
        grads["dx"],
        "BatchNorm1d.backward: dx",
        given,
        tol=GRAD_TOL,
        hints=[
            value_hint(expected("regularization.bn_dx", x, dout, g), train_formula),
            value_hint(expected("regularization.bn_dx", x, dout, g, rm, rv), train_formula),
        ],
    )
    expect_array(
        layer.get("grads").get("gamma"),
        grads["dgamma"],
        "BatchNorm1d.backward: grads['gamma']",
        given,
        tol=GRAD_TOL,
    )


@check("BatchNorm1d", "constant_feature")
@blaming("BatchNorm1d.forward_train")
def bn_constant_feature(t):
    rng = data_rng(940)
    n, d = 6, 3
    params = bn_params(rng, d)
    layer = make_with_params(t, "BatchNorm1d", params, d)
    x = bn_features(rng, n, d)
    x[:, 1] = 1.5  # a feature with zero variance in this batch
    out, dx = run_layer(t, layer, x, rng.standard_normal((n, d)), "BatchNorm1d")
    given = given_shapes(x=x) + " whose feature 1 is constant (its batch variance is 0)"
    nan_hint = named(
        "regularization.zero_batch_variance_gives",
        "a zero batch variance gives 0 / 0: add eps to the variance, sqrt(var + eps)",
    )
    for got, what in [
        (out, named("regularization.batchnorm_d_forward_output", "BatchNorm1d.forward output")),
        (dx, named("regularization.batchnorm_d_backward", "BatchNorm1d.backward: dx")),
    ]:
        if not isinstance(got, np.ndarray) or got.shape != x.shape or not np.all(np.isfinite(got)):
            raise CheckFailure(
                f"{what} contains inf or nan (or has the wrong shape) for {given}", hint=nan_hint
            )
    expect_array(
        out[:, 1],
        expected(BN_FORWARD, x, params["gamma"], params["beta"], eps=DEFAULT_EPS)[:, 1],
        "BatchNorm1d.forward output of the constant feature",
        given + " (it normalises to 0, so the output is beta)",
    )


@check("BatchNorm1d", "eps")
@blaming("BatchNorm1d.eval_forward", "BatchNorm1d.forward_train")
def bn_eps(t):
    rng = data_rng(950)
    eps, n, d = 0.5, 5, 3
    params = bn_params(rng, d)
    layer = make_with_params(t, "BatchNorm1d", params, d, eps=eps)
    x = bn_features(rng, n, d, 0.3, 1.0)  # a variance comparable to eps
    out = layer.call("forward", x)
    expect_untouched(t, "BatchNorm1d.forward")
    g, b = params["gamma"], params["beta"]
    outside = expected("regularization.bn_train_eps_outside", x, g, b, eps)
    variances = expected("regularization.batch_statistics", [x], "var")[0]
    expect_array(
        out,
        expected(BN_FORWARD, x, g, b, eps=eps),
        f"BatchNorm1d(eps={eps}).forward output (training)",
        given_shapes(x=x) + f" with batch variances {np.round(variances, 2).tolist()}",
        hints=[
            *[
                value_hint(expected(BN_FORWARD, x, g, b, eps=e), EPS_IGNORED)
                for e in (0.0, 1e-5, 1e-6, 1e-7, 1e-8)
            ],
            value_hint(outside, EPS_OUTSIDE),
            *bn_forward_mistakes(x, params, eps),
        ],
    )
    check_eval_eps(t, rng, eps)


def check_eval_eps(t, rng, eps):
    """Eval mode with running variances comparable to eps: where eps goes shows."""
    layer, params, stats, x = eval_layer(t, rng, 4, 3, eps=eps, mean=1.0, var=(0.05, 0.5), scale=(0.3, 1.0))
    out = layer.call("forward", x)
    expect_untouched(t, "BatchNorm1d.forward")
    args = (x, params["gamma"], params["beta"], stats["running_mean"], stats["running_var"])
    wrong = expected("regularization.bn_eval_mistakes", *args, 0.9, eps)
    expect_array(
        out,
        expected("regularization.bn_eval", *args, eps),
        f"BatchNorm1d(eps={eps}).forward output (training False)",
        given_shapes(x=x) + f", running_var {np.round(stats['running_var'], 3).tolist()}",
        hints=[
            value_hint(wrong["eps outside the root"], EPS_OUTSIDE),
            *[
                value_hint(expected("regularization.bn_eval", *args, e), EPS_IGNORED)
                for e in (0.0, 1e-5, 1e-8)
            ],
        ],
    )
