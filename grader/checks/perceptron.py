"""Checks for the AND, NAND, OR, XOR gates and the Perceptron with its learning rule.

The truth tables, the expected predictions and the perceptron rule's weights come from
the oracles "perceptron.*", through `expected`.
"""

import weakref

import numpy as np

from ..contract import need
from ..expect import expect_untouched, given_shapes
from ..expected import expected, provider
from ..hints import named
from ..registry import check
from ..results import CheckFailure
from . import common
from .common import blaming, data_rng, judged_by_grader, make
from .functions import as_zero_one

INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]
ADVICE = {
    (
        "AND",
        "OR",
    ): named(
        "perceptron.bias_too_weak_so_single_already_crosses",
        "the bias is too weak, so a single 1 already crosses the threshold (e.g. w = (0.5, 0.5), b = -0.7)",
    ),
    (
        "OR",
        "AND",
    ): named(
        "perceptron.bias_too_negative_so_single_does_not",
        "the bias is too negative, so a single 1 does not cross the threshold (e.g. w = (0.5, 0.5), b = -0.2)",
    ),
    ("NAND", "AND"): named(
        "perceptron.flip_signs_weights_bias", "flip the signs of the weights and of the bias"
    ),
    (
        "NAND",
        "NOR",
    ): named(
        "perceptron.bias_too_small",
        "the bias is too small: only (1, 1) should fall below the threshold (e.g. w = (-0.5, -0.5), b = 0.7)",
    ),
    ("XOR", "OR"): named(
        "perceptron.xor_is_or", "(1, 1) must give 0: combine the gates as AND(NAND(x1, x2), OR(x1, x2))"
    ),
    ("XOR", "NAND"): named(
        "perceptron.xor_is_nand", "(0, 0) must give 0: combine the gates as AND(NAND(x1, x2), OR(x1, x2))"
    ),
    ("XOR", "XNOR"): named(
        "perceptron.output_inverted",
        "the output is inverted: combine the gates as AND(NAND(x1, x2), OR(x1, x2))",
    ),
}
GATE_VALUE_HINT = named(
    "perceptron.not_zero_one",
    "return 0 or 1: threshold the weighted sum, 1 if w . x + b > 0 else 0",
)


def show(table):
    return ", ".join(f"{a}{b} -> {v}" for (a, b), v in zip(INPUTS, table, strict=True))


def gate_hint(gate, table, tables):
    """Name the gate that `table` computes, with advice for the classic confusions.

    tables: {name: outputs for INPUTS, in order}, the known gates and confusions.
    """
    name = next((n for n, known in tables.items() if known == table and n != gate), None)
    advice = ADVICE.get((gate, name))
    if advice is None and gate == "XOR":
        advice = "one perceptron cannot compute XOR; combine the gates as AND(NAND(x1, x2), OR(x1, x2))"
    elif advice is None and name and name.startswith("a constant"):
        side = "never" if name.endswith("0") else "always"
        advice = f"the threshold is {side} crossed; check the bias against the weights"
    if name is None:
        return advice
    return named(
        "perceptron.behaves_like_other_gate",
        f"your {gate} behaves like {name}" + (f": {advice}" if advice else ""),
    )


def check_gate(t, gate):
    need(t, gate)
    tables = expected("perceptron.truth_tables")
    got = []
    for x1, x2 in INPUTS:
        value = as_zero_one(
            t.call(gate, x1, x2), f"{gate}({x1}, {x2})", f"x1 = {x1}, x2 = {x2}", (), GATE_VALUE_HINT
        )
        got.append(int(value))
    table = tuple(got)
    if table != tables[gate]:
        raise CheckFailure(
            f"{gate} gives {show(table)}; expected {show(tables[gate])}", hint=gate_hint(gate, table, tables)
        )


def gate_check(gate):
    def run(t):
        check_gate(t, gate)

    return run


for _gate in ("AND", "NAND", "OR", "XOR"):
    check(_gate, "truth_table")(gate_check(_gate))


# ----------------------------------------------------------------------------- Perceptron
@check("Perceptron", "predict")
def perceptron_predict(t):
    rng = data_rng(100)
    w, b = rng.uniform(0.5, 1.5, 3) * rng.choice([-1.0, 1.0], 3), float(rng.uniform(0.4, 1.2))
    X = rng.normal(0.0, 1.0, (7, 3))
    X[0] = -0.5 * b * w / (w @ w)  # x . w = -b/2: 1 with the bias, 0 without it
    X[1] = -1.5 * b * w / (w @ w)  # x . w + b = -b/2
    p = make(t, "Perceptron", 3, lr=0.1)
    p.set("w", w)
    p.set("b", b)
    want, no_bias = expected("perceptron.predict", X, w, b), expected("perceptron.predict", X, w, 0.0)
    given = given_shapes(X=X) + ", w and b set by the grader"
    got = as_zero_one(p.call("predict", X), "Perceptron.predict(X)", given, (7,), GATE_VALUE_HINT)
    expect_untouched(t, "Perceptron.predict")
    if not np.array_equal(got, want):
        hint = None
        if np.array_equal(got, no_bias):
            hint = named("perceptron.bias_b_not_added", "the bias b is not added: threshold x . w + b")
        elif np.array_equal(got, 1 - want):
            hint = named(
                "perceptron.output_inverted", "the output is inverted: 1 where x . w + b > 0, else 0"
            )
        raise CheckFailure(f"Perceptron.predict(X) gives {got}, expected {want} for {given}", hint=hint)
    for i in (0, 2):
        one = as_zero_one(
            p.call("predict", X[i]), "Perceptron.predict(x)", "a single sample x of shape (3,)", ()
        )
        if int(one) != want[i]:
            raise CheckFailure(
                f"Perceptron.predict(x) gives {int(one)}, expected {want[i]} for a single sample x of shape (3,)"
            )


# A short sequence with dyadic values (multiples of 1/2 in [-1, 1]) and lr = 0.25: every update
# is exact in floating point, so the weights after fit can be compared exactly with the rule's.
# Drawn from the grader's seed, and kept only when each wrong rule the checks name ends with
# weights of its own.
FIT_SAMPLES, FIT_LR = 6, 0.25
FIT_EPOCHS = (1, 3)  # of fit_updates; fit_errors runs 5
# provider -> {grader seed: (X, y)}: a new provider (a kit's recording) asks its own questions
FIT_CASES = weakref.WeakKeyDictionary()


def fit_case():
    """(X, y) of the fit checks: 6 dyadic samples of 3 features, both classes equally often."""
    cases = FIT_CASES.setdefault(provider(), {})
    if common.SEED not in cases:
        rng = data_rng(110)
        while True:
            X = rng.integers(-2, 3, (FIT_SAMPLES, 3)) / 2.0
            y = rng.permutation(np.arange(FIT_SAMPLES) % 2)
            if telling(X, y):
                break
        cases[common.SEED] = common.frozen((X, y))
    return cases[common.SEED]


def telling(X, y):
    """Whether on (X, y) every wrong rule of FIT_MISTAKES, the rule without lr and a single epoch give
    other weights than the right rule (either threshold convention) after each of FIT_EPOCHS."""
    for epochs in FIT_EPOCHS:
        right = [expected("perceptron.rule", X, y, FIT_LR, epochs, z) for z in (False, True)]
        wrong = [
            expected("perceptron.rule", X, y, FIT_LR, epochs, z, **v)
            for v, _ in FIT_MISTAKES
            for z in (False, True)
        ]
        wrong += [expected("perceptron.rule", X, y, 1.0, epochs, z) for z in (False, True)]
        if epochs > 1:
            wrong += [expected("perceptron.rule", X, y, FIT_LR, 1, z) for z in (False, True)]
        if any(same(w, np.atleast_1d(b), r) for w, b, *_ in wrong for r in right):
            return False
    return True


def rule_gives(lr, epochs, fire_at_zero, **variant):
    """(w, b, mistakes during each epoch, mistakes after each epoch) of the oracle "perceptron.rule" on fit_case()."""
    X, y = fit_case()
    return expected("perceptron.rule", X, y, lr, epochs, fire_at_zero, **variant)


def fit_perceptron(t, epochs):
    """A fresh Perceptron(3, lr=0.25) fitted on fit_case(); returns (errors, w, b as a 1-vector)."""
    X, y = fit_case()
    p = make(t, "Perceptron", 3, lr=FIT_LR)
    errors = p.call("fit", X, y, epochs=epochs)
    expect_untouched(t, "Perceptron.fit")
    w, b = p.get("w"), p.get("b")
    if not isinstance(w, np.ndarray) or w.shape != (3,):
        raise CheckFailure(f"after fit, Perceptron.w should be an array of shape (3,), got {w!r}")
    b_arr = np.asarray(b, dtype=float).reshape(-1) if b is not None else np.array([])
    if b_arr.size != 1:
        raise CheckFailure(f"after fit, Perceptron.b should be a single number, got {b!r}")
    return errors, w, b_arr


def same(w, b, result):
    return np.allclose(w, result[0], rtol=0, atol=1e-12) and np.isclose(b[0], result[1], rtol=0, atol=1e-12)


FIT_MISTAKES = [
    (
        dict(sign=-1),
        named(
            "perceptron.update_has_wrong_sign",
            "the update has the wrong sign: move by lr * (target - prediction) * x",
        ),
    ),
    (
        dict(bias=False),
        named(
            "perceptron.bias_b_never_updated",
            "the bias b is never updated: add lr * (target - prediction) to b as well",
        ),
    ),
]


@check("Perceptron", "fit_updates")
@blaming("Perceptron.predict")
def perceptron_fit_updates(t):
    for epochs in FIT_EPOCHS:
        _, w, b = fit_perceptron(t, epochs)
        rules = [rule_gives(FIT_LR, epochs, z) for z in (False, True)]
        mistakes = [
            ([rule_gives(FIT_LR, epochs, z, **variant) for z in (False, True)], text)
            for variant, text in FIT_MISTAKES
        ]
        without_lr = [rule_gives(1.0, epochs, z) for z in (False, True)]
        one_pass = [rule_gives(FIT_LR, 1, z) for z in (False, True)] if epochs > 1 else []
        if any(same(w, b, r) for r in rules):
            continue
        hint = None
        for candidates, text in mistakes:
            if any(same(w, b, r) for r in candidates):
                hint = text
        if any(same(w, b, r) for r in without_lr):
            hint = named(
                "perceptron.learning_rate_lr_not_applied",
                "the learning rate lr is not applied: the update is lr * (target - prediction) * x",
            )
        if any(same(w, b, r) for r in one_pass):
            hint = named(
                "perceptron.epochs_ignored",
                f"the weights are those of one pass over the data: fit makes epochs={epochs} passes, "
                "for _ in range(epochs)",
            )
        expected_w, expected_b = rules[0][:2]
        raise CheckFailure(
            f"after Perceptron(3, lr=0.25).fit(X, y, epochs={epochs}) on the grader's 6 samples (from zero "
            f"weights), w = {np.round(w, 4)}, b = {b[0]:.4g}; the perceptron rule gives "
            f"w = {expected_w}, b = {expected_b:g}",
            hint=hint,
        )


@check("Perceptron", "fit_errors")
@blaming("Perceptron.predict", "Perceptron.fit_updates")
def perceptron_fit_errors(t):
    epochs, n = 5, FIT_SAMPLES
    counts = [list(r[i]) for z in (False, True) for r in [rule_gives(FIT_LR, epochs, z)] for i in (2, 3)]
    errors = fit_perceptron(t, epochs)[0]
    what = f"Perceptron.fit(X, y, epochs={epochs}) on {n} samples"
    arr = np.asarray(errors) if isinstance(errors, (list, tuple, np.ndarray)) else None
    if arr is None or arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
        raise CheckFailure(
            f"{what} returned {errors!r}: expected a list of {epochs} error counts",
            hint=named(
                "perceptron.return_list_mistakes_counted_each_epoch",
                "return the list of mistakes counted in each epoch (append one count per epoch)",
            ),
        )
    if len(arr) != epochs:
        hint = None
        if len(arr) == n * epochs:
            hint = named(
                "perceptron.errors_has_one_entry_per_sample",
                "errors has one entry per sample: count the mistakes of each epoch and append once per epoch",
            )
        elif len(arr) == 1:
            hint = named(
                "perceptron.return_one_count_per_epoch_not_single",
                "return one count per epoch, not a single total",
            )
        raise CheckFailure(
            f"{what} returned {len(arr)} error counts, expected {epochs} (one per epoch)", hint=hint
        )
    if [float(v) for v in arr] not in [[float(v) for v in c] for c in counts]:
        raise CheckFailure(
            f"{what} returned the error counts {arr.tolist()}; the perceptron rule makes {counts[0]} mistakes "
            "per epoch (counted while visiting the samples)",
        )


# The gates' inputs are fixed by definition. The order fit visits them in comes from the grader's
# seed (every order converges within 20 epochs), and in live grading the weights fit learned are
# also judged with the grader's own predict: a predict that recognises the four inputs gains nothing.
GATE_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def learned_weights(p, gate):
    """(w, b) of a Perceptron(2) after fit, checked to be an array of shape (2,) and a number."""
    w, b = p.get("w"), p.get("b")
    b_arr = np.asarray(b, dtype=float).reshape(-1) if isinstance(b, (int, float, np.ndarray)) else None
    if not isinstance(w, np.ndarray) or w.shape != (2,) or b_arr is None or b_arr.size != 1:
        raise CheckFailure(
            f"after Perceptron(2).fit on {gate}, w should be an array of shape (2,) and b a single number, "
            f"got w = {w!r}, b = {b!r}"
        )
    return w.astype(float), float(b_arr[0])


@check("Perceptron", "learns_gates")
@blaming("Perceptron.predict", "Perceptron.fit_updates")
def perceptron_learns_gates(t):
    tables = expected("perceptron.truth_tables")
    for k, gate in enumerate(("AND", "OR", "NAND")):
        y = np.array(tables[gate])
        order = data_rng(120 + k).permutation(len(GATE_X))
        p = make(t, "Perceptron", 2)
        errors = p.call("fit", GATE_X[order], y[order], epochs=20)
        weights = learned_weights(p, gate) if judged_by_grader() else None
        got = as_zero_one(p.call("predict", GATE_X), "Perceptron.predict(X)", f"the 4 inputs of {gate}", (4,))
        if not np.array_equal(got, y):
            raise CheckFailure(
                f"Perceptron(2) fitted for 20 epochs on {gate} predicts {show(got)}; expected {show(y)}"
            )
        if weights is not None:  # with x . w + b > 0, or >= 0 (1 unless -(x . w + b) > 0)
            w, b = weights
            above = tuple(int(v) for v in expected("perceptron.predict", GATE_X, w, b))
            at_or_above = tuple(1 - int(v) for v in expected("perceptron.predict", GATE_X, -w, -b))
            by_weights = above if above == tuple(y) else at_or_above
            if by_weights != tuple(y):
                raise CheckFailure(
                    f"Perceptron(2) fitted for 20 epochs on {gate} ends with w = {np.round(weights[0], 4)}, "
                    f"b = {weights[1]:.4g}, which give {show(by_weights)}; expected {show(y)}",
                    hint=named(
                        "perceptron.predict_must_threshold_x_w_b_w",
                        "predict must threshold x . w + b with the w and b that fit learned",
                    ),
                )
        last = np.asarray(errors).reshape(-1)[-1:] if errors is not None else []
        if len(last) != 1 or last[0] != 0:
            raise CheckFailure(
                f"Perceptron(2) learned {gate} in 20 epochs, but fit reported {errors!r}: "
                "the last epoch should count 0 mistakes"
            )
