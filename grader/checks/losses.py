"""Checks for the loss layers SoftmaxCrossEntropy and MSELoss.

Both return a float from `forward` and the gradient of that float from
`backward(dout=1.0)`. Expected values come from the oracles "losses.*" (scipy's
log_softmax) and their float64 central-difference gradients, through `expected`.
"""

import numpy as np

from ..expect import GRAD_TOL, expect_array, expect_number, expect_untouched, given_shapes
from ..expected import expected
from ..hints import named
from ..registry import check
from ..results import CheckFailure, CheckTimeout, student_frames
from .common import data_rng, make

LOSS_TOL = 1e-5  # relative error allowed on a loss value
SOFTMAX_OVER_BATCH = named(
    "losses.softmax_over_batch_axis",
    "softmax is taken over the batch axis (axis 0): normalise each row over the classes, "
    "scores.max(axis=1, keepdims=True) and sum(axis=1, keepdims=True)",
)


def matches(value, text):
    """A hint returning `text` when the answer equals the known-wrong `value`."""
    value = np.asarray(value, dtype=float)

    def hint(got, expected):
        got = np.asarray(got, dtype=float)
        if (
            got.shape == value.shape
            and np.all(np.isfinite(got))
            and np.allclose(got, value, rtol=1e-6, atol=1e-12)
        ):
            return text
        return None

    return hint


def one_hot(y, c):
    """(N,) int labels -> (N, C) float one-hot rows."""
    t = np.zeros((len(y), c))
    t[np.arange(len(y)), y] = 1.0
    return t


# ----------------------------------------------------------------------------- SoftmaxCrossEntropy
CE_CASES = [(4, 4), (5, 3), (3, 7), (6, 2)]  # (N, C): the square case first (labels vs one-hot mix-ups)


def labels_data(case, k=0):
    """Scores (N, C), int labels (N,) and their one-hot rows (N, C)."""
    n, c = case
    rng = data_rng(300 + 10 * n + c + 1000 * k)
    labels = rng.integers(0, c, n)
    return rng.standard_normal((n, c)), labels, one_hot(labels, c)


LABELS_AS_ONEHOT = named(
    "losses.int_labels_as_one_hot",
    "the integer labels y were used as if they were one-hot rows: turn them into one-hot "
    "targets (np.eye(C)[y]) or pick log p[np.arange(N), y]",
)
LOG_P_PLUS_EPS = named(
    "losses.log_p_plus_eps",
    "log(p + eps) is not the log of the softmax: it shifts the loss (and caps it for a confidently "
    "wrong row); compute log-softmax directly as (s - max) - log(sum(exp(s - max)))",
)


def ce_forward_hints(scores, labels, int_labels=True):
    """Known-wrong loss values for scores (N, C) and labels (N,); `int_labels`: y was given as labels."""
    n = len(scores)
    wrong = expected("losses.ce_forward_mistakes", scores, labels)
    hints = [
        matches(
            [wrong["summed"]],
            named(
                "losses.loss_summed_over_batch",
                f"the loss is summed over the batch: return the mean, i.e. divide by N = {n}",
            ),
        ),
        matches(
            [wrong["classes_averaged"]],
            named(
                "losses.np_mean_over_whole",
                "np.mean over the whole (N, C) array of t * log p divides by N * C: "
                "sum over the classes, then average over the batch",
            ),
        ),
        matches(
            [wrong["sign_flipped"]],
            named("losses.sign_flipped", "the sign is flipped: the loss is -mean(log p of the true class)"),
        ),
        *(matches([value], LOG_P_PLUS_EPS) for value in wrong["log_p_plus_eps"]),
    ]
    if wrong["softmax_over_batch"] is not None:
        hints.append(matches([wrong["softmax_over_batch"]], SOFTMAX_OVER_BATCH))
    # labels (N,) broadcast against the columns as if they were one-hot rows (only when N is C or 1)
    if int_labels and wrong["labels_as_onehot"] is not None:
        hints.append(matches([wrong["labels_as_onehot"]], LABELS_AS_ONEHOT))
    return hints


def ce_forward(t, loss, scores, y, given):
    """loss.forward(scores, y) as a number, with the inputs left untouched."""
    try:
        value = loss.call("forward", scores, y)
    except (ValueError, IndexError) as error:  # shape errors: most often y of the other kind
        kind = "one-hot rows (N, C)" if np.ndim(y) == 2 else "int labels (N,)"
        raise CheckFailure(
            f"SoftmaxCrossEntropy.forward raised {type(error).__name__}: {error} for {given}\n"
            f"{student_frames(error, getattr(t, 'origin', None))}",
            hint=named(
                "losses.y_given_handled_accept_both_int_labels",
                f"is y given as {kind} handled? accept both int labels (N,) and one-hot rows (N, C)",
            ),
        ) from None
    expect_untouched(t, "SoftmaxCrossEntropy.forward")
    return value


@check("SoftmaxCrossEntropy", "forward_labels")
def softmax_ce_forward_labels(t):
    for case in CE_CASES:
        scores, labels, target = labels_data(case)
        given = given_shapes(scores=scores) + f" and int labels y of shape {labels.shape}"
        got = ce_forward(t, make(t, "SoftmaxCrossEntropy"), scores, labels, given)
        expect_number(
            got,
            expected("losses.ce", scores, target),
            "SoftmaxCrossEntropy.forward loss",
            given,
            tol=LOSS_TOL,
            hints=ce_forward_hints(scores, labels),
        )


ONEHOT_HINT = named(
    "losses.one_hot_differs_from_labels",
    "one-hot y gives a different loss than the same int labels: when y.ndim == 2 use it as the "
    "target directly (or take y.argmax(axis=1) as labels)",
)


def labels_loss_ok(t, scores, labels, want):
    """Whether int labels give the right loss for these scores (then a one-hot failure is about y)."""
    try:
        value = make(t, "SoftmaxCrossEntropy").call("forward", scores, labels)
        return bool(np.isclose(float(np.asarray(value).reshape(-1)[0]), want, rtol=LOSS_TOL))
    except CheckTimeout:
        raise
    except Exception:  # noqa: BLE001 - the labels path is graded by forward_labels
        return False


@check("SoftmaxCrossEntropy", "forward_onehot")
def softmax_ce_forward_onehot(t):
    for case in CE_CASES:
        scores, labels, target = labels_data(case, k=1)
        loss_value = expected("losses.ce", scores, target)
        labels_ok = labels_loss_ok(t, scores, labels, loss_value)
        for name, y in (("float", target), ("int", target.astype(np.int64))):
            given = given_shapes(scores=scores) + f" and {name} one-hot y of shape {y.shape}"
            got = ce_forward(t, make(t, "SoftmaxCrossEntropy"), scores, y, given)
            expect_number(
                got,
                loss_value,
                "SoftmaxCrossEntropy.forward loss",
                given,
                tol=LOSS_TOL,
                hints=[
                    *ce_forward_hints(scores, labels, int_labels=False),
                    lambda g, e, ok=labels_ok: ONEHOT_HINT if ok else None,
                ],
            )


OVERFLOW_HINT = named(
    "losses.softmax_overflow",
    "softmax overflows for scores around 1000: subtract the row max before exp",
)
LOG_ZERO_HINT = named(
    "losses.log_of_zero",
    "log(0): a class whose score is far below the row max gets p = 0, and log(0) = -inf "
    "(0 * log(0) = nan); compute log-softmax directly as (s - max) - log(sum(exp(s - max)))",
)


def nan_or_inf(text):
    def hint(got, expected):
        return text if not np.all(np.isfinite(np.asarray(got, dtype=float))) else None

    return hint


def large_score_cases():
    """(scores, labels, hint when the result is not finite): scores near +-1000, then rows where
    one score is huge and is the true class (the other classes get p = 0)."""
    rng = data_rng(330)
    near = 1000.0 + rng.uniform(-3, 3, (4, 5))
    low = -1000.0 + rng.uniform(-3, 3, (3, 4))
    near_labels, low_labels = rng.integers(0, 5, 4), rng.integers(0, 4, 3)
    one_huge, huge_labels = rng.uniform(-5, 5, (4, 3)), rng.integers(0, 3, 4)
    for row in (0, 1, 3):  # row 2 keeps ordinary scores
        one_huge[row, huge_labels[row]] = rng.uniform(900, 1200)
    return [
        (near, near_labels, OVERFLOW_HINT),
        (low, low_labels, OVERFLOW_HINT),
        (one_huge, huge_labels, LOG_ZERO_HINT),
    ]


def check_ce_case(t, scores, labels, given, hints):
    """forward then backward() on one input, against the closed forms; `hints` serve both."""
    target = one_hot(labels, scores.shape[1])
    loss = make(t, "SoftmaxCrossEntropy")
    got = ce_forward(t, loss, scores, labels, given)
    forward_hints = [*hints, *ce_forward_hints(scores, labels)]
    expect_number(
        got,
        expected("losses.ce", scores, target),
        "SoftmaxCrossEntropy.forward loss",
        given,
        LOSS_TOL,
        forward_hints,
    )
    expect_array(
        loss.call("backward"),
        expected("losses.ce_grad", scores, target),
        "SoftmaxCrossEntropy.backward: dscores",
        given,
        GRAD_TOL,
        batch_size=len(scores),
        hints=[*hints, *ce_backward_hints(scores, target, 1.0)],
    )


@check("SoftmaxCrossEntropy", "large_scores")
def softmax_ce_large_scores(t):
    for scores, labels, text in large_score_cases():
        given = f"{given_shapes(scores=scores)} with scores up to {np.abs(scores).max():g}"
        check_ce_case(t, scores, labels, given, [nan_or_inf(text)])


def overflows(t):
    """Whether the student's loss is not finite for scores near 1000 (where nothing underflows)."""
    scores, labels, _ = large_score_cases()[0]
    try:
        value = make(t, "SoftmaxCrossEntropy").call("forward", scores, labels)
        return not np.all(np.isfinite(np.asarray(value, dtype=float)))
    except CheckTimeout:
        raise
    except Exception:  # noqa: BLE001 - only used to choose a hint
        return False


@check("SoftmaxCrossEntropy", "confident_wrong")
def softmax_ce_confident_wrong(t):
    rng = data_rng(335)
    high, small = rng.integers(900, 1101, 2).astype(float), np.round(rng.uniform(-1, 1, 4), 2)
    scores = np.array([[high[0], small[0]], [small[1], high[1]], small[2:]])
    labels = np.array([1, 1, int(rng.integers(0, 2))])  # row 0 is confidently wrong and costs about high[0]
    row, cost = f"[{high[0]:g}, {small[0]:g}]", f"{high[0] - small[0]:.0f}"
    shown = ", ".join(f"[{a:g}, {b:g}]" for a, b in scores)
    given = f"scores [{shown}] with labels {labels.tolist()} (row 0 is confidently wrong)"
    not_finite = (
        OVERFLOW_HINT
        if overflows(t)
        else named(
            "losses.log_of_zero",
            f"log(0): the true class of a confidently wrong row (scores {row}, label 1) gets p = 0 and "
            "-log(0) = inf (and 0 * log(0) = nan); compute log-softmax directly as (s - max) - log(sum(exp(s - max))): "
            f"that row's loss must be about {cost}",
        )
    )
    capped = named(
        "losses.log_p_plus_eps",
        f"log(p + eps) caps the loss of a confidently wrong row near -log(eps); its loss must be about "
        f"{cost}: compute log-softmax directly as (s - max) - log(sum(exp(s - max)))",
    )
    hints = [
        nan_or_inf(not_finite),
        lambda got, exp: capped if got.size == 1 and np.all(got < 0.5 * exp) else None,
    ]
    check_ce_case(t, scores, labels, given, hints)


def ce_backward_hints(scores, target, dout):
    """Known-wrong gradients for scores (N, C), one-hot target (N, C) and upstream dout."""
    wrong = expected("losses.ce_backward_mistakes", scores, target, dout)
    hints = [
        matches(
            value,
            named(
                "losses.backward_subtracts_input_scores_instead_labels",
                "backward subtracts the input scores instead of the labels: "
                "dscores = (softmax(scores) - t) / N, with t the one-hot labels",
            ),
        )
        for value in wrong["minus_scores"]
    ]
    hints.append(
        matches(
            wrong["no_target"],
            named(
                "losses.target_not_subtracted", "the target is not subtracted: dscores = (softmax - t) / N"
            ),
        )
    )
    hints.append(
        matches(
            wrong["raw_scores"],
            named(
                "losses.backward_uses_raw_scores_instead_softmax_probabilities",
                "backward uses the raw scores instead of the softmax probabilities: dscores = (softmax(scores) - t) / N",
            ),
        )
    )
    if wrong["softmax_over_batch"] is not None:
        hints.append(matches(wrong["softmax_over_batch"], SOFTMAX_OVER_BATCH))
    if wrong["labels_as_onehot"] is not None:  # int labels (N,) broadcast against the columns (N is C or 1)
        hints.append(matches(wrong["labels_as_onehot"], LABELS_AS_ONEHOT))
    if dout != 1.0:
        hints.append(
            matches(
                wrong["ignores_dout"],
                named(
                    "losses.backward_ignores_dout",
                    f"backward ignores dout (here {dout:g}): multiply the gradient by dout",
                ),
            )
        )
    return hints


def check_ce_backward(t, cases, dout=None, as_onehot=False):
    """Gradient of the loss w.r.t. the scores vs central differences; dout None calls backward()."""
    for k, case in enumerate(cases):
        scores, labels, target = labels_data(case, k=2 + k)
        y = target if as_onehot else labels
        scale = 1.0 if dout is None else dout
        given = given_shapes(scores=scores) + (
            f", one-hot y of shape {y.shape}" if as_onehot else f", int labels of shape {y.shape}"
        )
        given += f", dout={scale:g}" if dout is not None else ", backward() with the default dout"
        loss = make(t, "SoftmaxCrossEntropy")
        ce_forward(t, loss, scores, y, given)
        got = loss.call("backward") if dout is None else loss.call("backward", dout)
        expect_array(
            got,
            expected("numeric.gradient", "losses.ce", scores, target, scale),
            "SoftmaxCrossEntropy.backward: dscores",
            given,
            GRAD_TOL,
            batch_size=len(scores),
            hints=ce_backward_hints(scores, target, scale),
        )


@check("SoftmaxCrossEntropy", "backward")
def softmax_ce_backward(t):
    check_ce_backward(t, CE_CASES)


@check("SoftmaxCrossEntropy", "backward_onehot")
def softmax_ce_backward_onehot(t):
    check_ce_backward(t, CE_CASES, as_onehot=True)


@check("SoftmaxCrossEntropy", "backward_dout")
def softmax_ce_backward_dout(t):
    check_ce_backward(t, CE_CASES[:2], dout=2.5)
    check_ce_backward(t, CE_CASES[2:], dout=-0.3)


@check("SoftmaxCrossEntropy", "batch_of_one")
def softmax_ce_batch_of_one(t):
    rng = data_rng(340)
    scores, label = rng.standard_normal((1, 5)), np.array([3])
    target = one_hot(label, 5)
    expected_loss = expected("losses.ce", scores, target)
    labels_ok = labels_loss_ok(t, scores, label, expected_loss)
    for y, name in ((label, "int label of shape (1,)"), (target, "one-hot y of shape (1, 5)")):
        given = f"{given_shapes(scores=scores)} and {name}"
        loss = make(t, "SoftmaxCrossEntropy")
        got = ce_forward(t, loss, scores, y, given)
        if y is label:
            forward_hints = ce_forward_hints(scores, label)
        else:
            forward_hints = [
                *ce_forward_hints(scores, label, int_labels=False),
                lambda g, e: ONEHOT_HINT if labels_ok else None,
            ]
        expect_number(got, expected_loss, "SoftmaxCrossEntropy.forward loss", given, LOSS_TOL, forward_hints)
        dscores = loss.call("backward")
        expect_array(
            dscores,
            expected("numeric.gradient", "losses.ce", scores, target),
            "SoftmaxCrossEntropy.backward: dscores",
            given,
            GRAD_TOL,
            hints=ce_backward_hints(scores, target, 1.0),
        )


@check("SoftmaxCrossEntropy", "no_mutation")
def softmax_ce_no_mutation(t):
    rng = data_rng(350)
    scores = 50.0 + rng.standard_normal((4, 3))  # a shift by the row max would show
    labels = rng.integers(0, 3, 4)
    for y in (labels, one_hot(labels, 3)):
        loss = make(t, "SoftmaxCrossEntropy")
        ce_forward(t, loss, scores, y, given_shapes(scores=scores, y=y))
        loss.call("backward", 1.0)


# ----------------------------------------------------------------------------- MSELoss
MSE_SHAPES = [(4, 3), (2, 3, 4), (5,), (1, 6)]  # (4, 3) first: its wrong divisors all differ


def mse_data(shape, k=0):
    rng = data_rng(400 + sum(shape) + 100 * k)
    return rng.standard_normal(shape), rng.standard_normal(shape)


MSE_API = "the API asks for the mean over ALL elements, np.mean((pred - target) ** 2)"


def mse_forward_hints(pred, target):
    n, size = pred.shape[0], pred.size
    wrong = expected("losses.mse_forward_mistakes", pred, target)
    return [
        matches(
            [wrong["per_sample"]],
            named(
                "losses.divided_n",
                f"divided by N = {n} (the batch size) instead of the number of elements {size}: {MSE_API}",
            ),
        ),
        matches(
            [wrong["half_sum"]],
            named(
                "losses.mse_half_sum",
                f"0.5 * sum((pred - target) ** 2) is the 'Deep Learning from Scratch' convention; {MSE_API}",
            ),
        ),
        matches(
            [wrong["half_per_sample"]],
            named(
                "losses.mse_half_sum_per_sample",
                f"0.5 * sum((pred - target) ** 2) / N is a per-sample convention; {MSE_API}",
            ),
        ),
        matches(
            [wrong["summed"]],
            named("losses.squares_summed_not_averaged", f"the squares are summed, not averaged: {MSE_API}"),
        ),
    ]


def mse_backward_hints(pred, target, dout):
    n, size = pred.shape[0], pred.size
    wrong = expected("losses.mse_backward_mistakes", pred, target, dout)
    grad = "2 * (pred - target) / pred.size"
    hints = [
        matches(
            wrong["per_sample"],
            named(
                "losses.divided_n",
                f"divided by N = {n} (the batch size) instead of the number of elements {size}: "
                f"the API asks for the mean over ALL elements, so dpred = {grad}",
            ),
        ),
        matches(
            wrong["no_factor_2"],
            named(
                "losses.missing_factor",
                f"a missing factor 2: the derivative of mean((pred - target) ** 2) is {grad}",
            ),
        ),
        matches(
            wrong["sign_flipped"],
            named(
                "losses.sign_flipped",
                f"the sign is flipped: dpred = {grad} (pred minus target, not the reverse)",
            ),
        ),
        matches(
            wrong["half_sum"],
            named(
                "losses.this_gradient_sum",
                "this is the gradient of 0.5 * sum((pred - target) ** 2), the 'Deep Learning from Scratch' "
                f"convention; the API asks for the mean over ALL elements, so dpred = {grad}",
            ),
        ),
        matches(
            wrong["half_per_sample"],
            named(
                "losses.this_gradient_sum_n_so_dpred",
                f"this is the gradient of 0.5 * sum / N; {MSE_API}, so dpred = {grad}",
            ),
        ),
        matches(
            wrong["summed"],
            named("losses.gradient_sum_not_mean", f"the gradient of a sum, not of the mean: dpred = {grad}"),
        ),
    ]
    if dout != 1.0:
        hints.append(
            matches(
                wrong["ignores_dout"],
                named(
                    "losses.backward_ignores_dout",
                    f"backward ignores dout (here {dout:g}): multiply the gradient by dout",
                ),
            )
        )
    return hints


@check("MSELoss", "forward")
def mse_loss_forward(t):
    for shape in MSE_SHAPES:
        pred, target = mse_data(shape)
        loss = make(t, "MSELoss")
        got = loss.call("forward", pred, target)
        expect_untouched(t, "MSELoss.forward")
        expect_number(
            got,
            expected("losses.mse", pred, target),
            "MSELoss.forward loss",
            given_shapes(pred=pred, target=target),
            LOSS_TOL,
            hints=mse_forward_hints(pred, target),
        )


def check_mse_backward(t, shapes, dout=None):
    for shape in shapes:
        pred, target = mse_data(shape, k=1)
        scale = 1.0 if dout is None else dout
        given = given_shapes(pred=pred, target=target)
        given += f", dout={scale:g}" if dout is not None else ", backward() with the default dout"
        loss = make(t, "MSELoss")
        loss.call("forward", pred, target)
        got = loss.call("backward") if dout is None else loss.call("backward", dout)
        expect_array(
            got,
            expected("numeric.gradient", "losses.mse", pred, target, scale),
            "MSELoss.backward: dpred",
            given,
            GRAD_TOL,
            hints=mse_backward_hints(pred, target, scale),
        )


@check("MSELoss", "backward")
def mse_loss_backward(t):
    check_mse_backward(t, MSE_SHAPES)


@check("MSELoss", "backward_dout")
def mse_loss_backward_dout(t):
    check_mse_backward(t, MSE_SHAPES[:2], dout=2.5)
    check_mse_backward(t, MSE_SHAPES[2:], dout=-0.4)


@check("MSELoss", "no_mutation")
def mse_loss_no_mutation(t):
    pred, target = mse_data((3, 4), k=2)
    loss = make(t, "MSELoss")
    loss.call("forward", pred, target)
    expect_untouched(t, "MSELoss.forward")
    loss.call("backward", 1.0)
