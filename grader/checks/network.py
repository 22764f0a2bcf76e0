"""Checks for Sequential: forward and backward through the student's own layers, fit, and learning.

Sequential runs the student's Affine, Tanh, Relu, SoftmaxCrossEntropy and SGD,
so each check first runs a tiny test of the parts it uses and, when one fails,
says which to fix first. The grader's own numpy network (the oracles "network.*":
forward, backward, a reference SGD fit) gives the expected values, through `expected`.
"""

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np

from ..expect import GRAD_TOL, expect_array, expect_number, expect_untouched, given_shapes
from ..expected import RecordedDataError, UnknownOracle, expected
from ..hints import named
from ..registry import check
from ..results import BlockedByPart, CheckFailure, CheckTimeout, not_implemented_name
from ..target import Rng
from . import common
from .common import (
    blaming,
    data_rng,
    expected_gradients,
    judged_by_grader,
    make,
    make_with_params,
    remembered,
    spread,
)
from .handed import PROBE_FAILURE, ModeProbe

FIT_TOL = 1e-6  # relative error allowed on the weights after a few SGD steps
HISTORY_TOL = 1e-4  # on the recorded losses (a loss written as log(p + eps) stays within it)

# ----------------------------------------------------------------------------- the grader's network
# A network is a spec, a list of ("Affine", D, M), ("Tanh",) or ("Relu",), and a flat params
# dict keyed like Sequential.params: "<layer index>.W", "<layer index>.b".


def random_params(spec, rng, scale=0.8):
    """Grader-chosen weights for every Affine of `spec`."""
    params = {}
    for i, (kind, *dims) in enumerate(spec):
        if kind == "Affine":
            params[f"{i}.W"] = scale * rng.standard_normal(dims)
            params[f"{i}.b"] = 0.5 * rng.standard_normal(dims[1])
    return params


def out_shape(spec, n):
    """The shape of the network's output for a batch of n: (n, the last Affine's output size)."""
    return (n, [dims for kind, *dims in spec if kind == "Affine"][-1][1])


# ----------------------------------------------------------------------------- prerequisites
# The sanity tests draw their values and sizes from the grader's seed, like every other check:
# a part that is wrong elsewhere cannot pass them by recognising their inputs.
def sanity_sizes(rng, count):
    return [int(v) for v in rng.integers(2, 6, count)]


def sanity_affine(t, backward):
    rng = data_rng(4400)
    n, d, m = sanity_sizes(rng, 3)
    x, W, b, dout = (rng.standard_normal(s) for s in [(n, d), (d, m), (m,), (n, m)])
    out, dx, dW, db = expected("network.affine_layer", x, W, b, dout)
    layer = make_with_params(t, "Affine", {"W": W, "b": b}, d, m, rng=Rng(0))
    expect_array(layer.call("forward", x), out, "Affine.forward output")
    for _ in range(2 if backward else 0):  # a second backward must not accumulate
        expect_array(layer.call("backward", dout), dx, "Affine.backward: dx")
        grads = layer.get("grads")
        expect_array(grads.get("W"), dW, "Affine.backward: grads['W']")
        expect_array(grads.get("b"), db, "Affine.backward: grads['b']")


def sanity_elementwise(name, k):
    def run(t, backward):
        rng = data_rng(k)
        shape = tuple(sanity_sizes(rng, 2))
        x = spread(rng, shape, 0.2, 2.0)
        dout = rng.standard_normal(shape)
        out, dx = expected("network.elementwise_layer", name, x, dout)
        layer = make(t, name)
        expect_array(layer.call("forward", x), out, f"{name}.forward output")
        if backward:
            expect_array(layer.call("backward", dout), dx, f"{name}.backward: dx")

    return run


def sanity_softmax_ce(t, backward):
    rng = data_rng(4403)
    n, c = sanity_sizes(rng, 2)
    scores, labels = rng.standard_normal((n, c)), rng.integers(0, c, n)
    loss, dscores = expected("network.ce_loss_and_grad", scores, labels)
    layer = make(t, "SoftmaxCrossEntropy")
    expect_number(layer.call("forward", scores, labels), loss, "SoftmaxCrossEntropy.forward loss", tol=1e-5)
    if backward:
        expect_array(layer.call("backward"), dscores, "SoftmaxCrossEntropy.backward: dscores")


def sanity_sgd(t, backward):
    rng = data_rng(4404)
    shape = tuple(sanity_sizes(rng, 2))
    w, g = rng.standard_normal((2, *shape))
    lr = float(rng.choice([0.05, 0.1, 0.2, 0.5]))
    after = expected("network.sgd_step", w, g, lr)
    held = t.put(w, "params['W']")
    params, grads = t.put({"W": held}, "params"), t.put({"W": g}, "grads")  # the dict holds the array `held`
    make(t, "SGD", lr=lr).run("step", params, grads)
    expect_array(params.fetch().get("W"), after, "SGD.step: params['W'] after one step")
    expect_array(held.fetch(), after, "SGD.step: the array that was params['W'] (updated in place?)")


SANITY = {
    "Affine": sanity_affine,
    "Tanh": sanity_elementwise("Tanh", 4401),
    "Relu": sanity_elementwise("Relu", 4402),
    "SoftmaxCrossEntropy": sanity_softmax_ce,
    "SGD": sanity_sgd,
}


def sanity_problem(t, name, backward=True):
    """None if the basic test of part `name` passes (its forward only, unless `backward`), else what
    went wrong (remembered per target)."""
    memory, key = remembered(t), ("sanity", name, backward, common.SEED)
    if key not in memory:
        try:
            SANITY[name](t, backward)
            problem = None
        except NotImplementedError as error:  # not remembered: the check reports it as blocked by the part
            raise BlockedByPart(name, not_implemented_name(error)) from error
        except CheckTimeout:  # not remembered: reported by the check itself
            raise
        except (RecordedDataError, UnknownOracle):  # the grader cannot judge: never the part's problem
            raise
        except CheckFailure as failure:
            problem = failure.message
        except Exception as error:  # noqa: BLE001 - a crash in the part is reported as its problem
            problem = f"it raised {type(error).__name__}: {error}"
        memory[key] = problem
    return memory[key]


def require(t, user, *names, backward=True):
    """Run a tiny test of each part `user` relies on (their forward only, unless `backward`); fail
    naming the first broken one."""
    for name in names:
        problem = sanity_problem(t, name, backward)
        if problem is None:
            continue
        raise CheckFailure(
            f"{user} cannot be graded yet: it runs your {name}, which fails a basic test "
            f"({problem}); check {name} first",
            hint=named(
                "sequential.blocked_by_part",
                f"fix {name} (its own checks say what is wrong), then Sequential is graded again",
            ),
        )


# ----------------------------------------------------------------------------- building
def spec_text(spec):
    return "-".join(kind if kind != "Affine" else f"Affine({dims[0]},{dims[1]})" for kind, *dims in spec)


def build_net(t, spec, params):
    """A Sequential of the student's layers holding the grader's params; (net Ref, layer Refs)."""
    layers = []
    for i, (kind, *dims) in enumerate(spec):
        if kind == "Affine":
            values = {"W": params[f"{i}.W"], "b": params[f"{i}.b"]}
            layer = make_with_params(t, "Affine", values, *dims, rng=Rng(i))
        else:
            layer = make(t, kind)
        layers.append(layer)
    return make(t, "Sequential", *layers), layers


def key_text(key, attr):
    """Name a flat key for messages: ("0.W", "grads") -> layer 0 grads['W']."""
    index, name = key.split(".")
    return f"layer {index} {attr}[{name!r}]"


def layer_grads(spec, layers):
    """The Affine layers' grads as one flat dict keyed like Sequential.grads."""
    found = {}
    for i, ((kind, *_), layer) in enumerate(zip(spec, layers, strict=True)):
        if kind == "Affine":
            grads = layer.get("grads")
            found.update({f"{i}.{k}": grads.get(k) for k in ("W", "b")})
    return found


def layer_params(spec, layers):
    """The Affine layers' params as one flat dict, read from the layers themselves."""
    found = {}
    for i, ((kind, *_), layer) in enumerate(zip(spec, layers, strict=True)):
        if kind == "Affine":
            found.update({f"{i}.{k}": v for k, v in layer.get("params").items()})
    return found


# ----------------------------------------------------------------------------- forward and backward
SQUARE = [("Affine", 3, 3), ("Tanh",), ("Affine", 3, 3), ("Tanh",)]
DEEP = [("Affine", 3, 5), ("Tanh",), ("Affine", 5, 4), ("Relu",), ("Affine", 4, 2)]
SINGLE = [("Affine", 4, 2)]
NETS = [(SQUARE, 4), (DEEP, 6), (SINGLE, 1)]  # (spec, batch size)


def net_case(k):
    spec, n = NETS[k]
    rng = data_rng(500 + k)
    params = random_params(spec, rng)
    x = rng.standard_normal((n, spec[0][1]))
    return spec, params, x, rng.standard_normal(out_shape(spec, n))


def forward_hints(x, spec, params):
    """Outputs of the first k layers only: the loop stopped early or returned too soon."""
    hints = []
    texts = {
        len(spec) - 1: named(
            "network.last_layer_skipped",
            "the last layer is skipped: feed x through every layer, self.layers[-1] included",
        ),
        1: named(
            "network.only_first_layer_ran",
            "only the first layer ran: is the return statement inside the loop?",
        ),
        0: named(
            "network.forward_returns_input_unchanged",
            "forward returns its input unchanged: assign x = layer.forward(x) in the loop and return x",
        ),
    }
    for k, text in texts.items():
        if 0 <= k < len(spec):
            partial = expected("network.forward", x, spec[:k], **params)
            hints.append(
                lambda got, exp, p=partial, s=text: (
                    s if got.shape == p.shape and np.allclose(got, p) else None
                )
            )
    return hints


@check("Sequential", "forward")
def sequential_forward(t):
    require(t, "Sequential.forward", "Affine", "Tanh", "Relu", backward=False)
    for k in range(len(NETS)):
        spec, params, x, _ = net_case(k)
        net, _ = build_net(t, spec, params)
        out = net.call("forward", x)
        expect_untouched(t, "Sequential.forward")
        expect_array(
            out,
            expected("network.forward", x, spec, **params),
            "Sequential.forward output",
            f"{given_shapes(x=x)} through {spec_text(spec)} (your layers, the grader's weights)",
            hints=forward_hints(x, spec, params),
        )


def backward_hints(x, spec, params, dout):
    texts = {
        "forward": named(
            "network.backward_ran_layers_forward_order",
            "backward ran the layers in forward order: go through reversed(self.layers)",
        ),
        "unchained": named(
            "network.every_layer_got_original_dout",
            "every layer got the original dout: pass each layer's result on, dout = layer.backward(dout)",
        ),
    }
    hints = [
        lambda got, exp: (
            named(
                "network.backward_returns_dout_unchanged",
                "backward returns dout unchanged: return the gradient from the first layer",
            )
            if got.shape == dout.shape and np.allclose(got, dout)
            else None
        )
    ]
    for order, text in texts.items():
        wrong = expected("network.backward", x, spec, params, dout, order)
        if wrong is None:  # the shapes only allow this mistake in a square network
            continue
        wrong = wrong[0]
        hints.append(
            lambda got, exp, w=wrong, s=text: s if got.shape == w.shape and np.allclose(got, w) else None
        )
    return hints


@check("Sequential", "backward")
@blaming("Sequential.forward")
def sequential_backward(t):
    require(t, "Sequential.backward", "Affine", "Tanh", "Relu")
    for k in range(len(NETS)):
        spec, params, x, dout = net_case(k)
        net, layers = build_net(t, spec, params)
        net.call("forward", x)
        dx = net.call("backward", dout)
        expect_untouched(t, "Sequential.backward")
        numeric = expected_gradients("network.forward", x, params, dout, settings={"spec": spec})
        given = f"{given_shapes(x=x, dout=dout)} through {spec_text(spec)}"
        expect_array(
            dx,
            numeric["x"],
            "Sequential.backward: dx",
            given,
            GRAD_TOL,
            hints=backward_hints(x, spec, params, dout),
        )
        for key, got in layer_grads(spec, layers).items():
            expect_array(got, numeric[key], f"Sequential.backward: {key_text(key, 'grads')}", given, GRAD_TOL)


# ----------------------------------------------------------------------------- fit
FIT_NET = [("Affine", 3, 4), ("Tanh",), ("Affine", 4, 2)]
FIT_PARTS = ("Affine", "Tanh", "SoftmaxCrossEntropy", "SGD")


def fit_data(n, k=0):
    """Weights for FIT_NET, X (n, 3) and labels (n,) with both classes equally often."""
    rng = data_rng(600 + k)
    return random_params(FIT_NET, rng), rng.standard_normal((n, 3)), rng.permutation(np.arange(n) % 2)


def step_count_hints(n, batch_size, epochs):
    """{number of losses: the mistake that gives it}; the first mistake listed wins a tie."""
    per_epoch = math.ceil(n / batch_size)
    mistakes = [
        (
            epochs,
            named(
                "network.one_loss_per_epoch",
                "one loss per epoch: fit must take a step per mini-batch of batch_size samples "
                "and record the loss of every step (is batch_size ignored?)",
            ),
        ),
        (
            (n // batch_size) * epochs,
            named(
                "network.last_smaller_mini_batch_dropped",
                "the last, smaller mini-batch is dropped: range(0, N, batch_size) includes it",
            ),
        ),
        (n * epochs, named("network.one_step_per_sample", "one step per sample: batch_size is ignored")),
        (
            math.ceil(n / 32) * epochs,
            named("network.batch_size_ignored", "batch_size is ignored (the default 32 is used)"),
        ),
        (per_epoch, named("network.only_one_epoch_ran", "only one epoch ran: loop over range(epochs)")),
    ]
    hints = {}
    for count, text in mistakes:
        if count != per_epoch * epochs:
            hints.setdefault(count, text)
    return hints


def fit_losses(got, n, batch_size, epochs):
    """The list of losses fit returned, as a float array of the right length, or a CheckFailure."""
    expected = math.ceil(n / batch_size) * epochs
    given = f"N = {n} samples, batch_size={batch_size}, epochs={epochs}"
    want = f"a list of {expected} losses (one per step: ceil({n}/{batch_size}) * {epochs} epochs) for {given}"
    if got is None:
        raise CheckFailure(
            f"Sequential.fit returned None; expected {want}",
            hint=named("network.missing_return_statement", "a missing return statement?"),
        )
    if isinstance(got, (int, float)) or (isinstance(got, np.ndarray) and got.ndim == 0):
        raise CheckFailure(
            f"Sequential.fit returned the single number {float(got):.6g}; expected {want}",
            hint=named(
                "network.fit_returns_only_last_loss",
                "fit returns only the last loss: append every step's loss to a list and return the list",
            ),
        )
    try:
        losses = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailure(f"Sequential.fit returned {got!r}; expected {want}") from None
    if losses.ndim != 1 or len(losses) != expected:
        raise CheckFailure(
            f"Sequential.fit returned {losses.size} losses; expected {want}",
            hint=step_count_hints(n, batch_size, epochs).get(losses.size),
        )
    return losses


@check("Sequential", "fit_steps", timeout=20)
@blaming("Sequential.forward", "Sequential.backward")
def sequential_fit_steps(t):
    require(t, "Sequential.fit", *FIT_PARTS)
    for n, batch_size, epochs in [(10, 4, 2), (6, None, 2), (5, 1, 1)]:
        params, X, y = fit_data(n)
        net, _ = build_net(t, FIT_NET, params)
        sizes = {} if batch_size is None else {"batch_size": batch_size}
        got = fit_with_sgd(t, net, X, y, 0.1, epochs=epochs, shuffle=False, **sizes)
        losses = fit_losses(got, n, batch_size or 32, epochs)
        if not np.all(np.isfinite(losses)):
            raise CheckFailure(f"Sequential.fit returned losses that are not finite: {losses}")


def fit_with_sgd(t, net, X, y, lr, **options):
    """The student's Sequential.fit with the student's SoftmaxCrossEntropy and SGD(lr); the losses it returns."""
    return net.call("fit", X, y, make(t, "SoftmaxCrossEntropy"), make(t, "SGD", lr=lr), **options)


LOSS_AFTER_STEP = named(
    "sequential.loss_recorded_after_step",
    "each recorded loss is computed again after optimizer.step: record the loss that forward gave "
    "for the batch, before the update",
)


def fit_mistake(found, params, step_first):
    """A hint naming the mistake whose weights equal the ones found, or None.

    params: the weights before fit; step_first: the weights fit gives when optimizer.step runs before backward.
    """

    def same(candidate):
        return all(
            np.shape(found.get(k)) == v.shape and np.allclose(found[k], v, rtol=1e-6, atol=1e-9)
            for k, v in candidate.items()
        )

    if same(params):
        return named(
            "network.weights_did_not_change",
            "the weights did not change: fit must call optimizer.step(self.params, self.grads) after self.backward",
        )
    if same(step_first):
        return named(
            "network.optimizer_step_runs_before_backward_so_each",
            "optimizer.step runs before backward, so each update uses the previous step's gradients: "
            "forward, loss, loss.backward(), self.backward(...), then optimizer.step",
        )
    return None


@check("Sequential", "fit_sgd", timeout=20)
@blaming("Sequential.forward", "Sequential.backward")
def sequential_fit_sgd(t):
    require(t, "Sequential.fit", *FIT_PARTS)
    n, batch_size, epochs, lr = 10, 4, 2, 0.5
    params, X, y = fit_data(n, k=1)
    net, layers = build_net(t, FIT_NET, params)
    got = fit_with_sgd(t, net, X, y, lr, epochs=epochs, batch_size=batch_size, shuffle=False)
    losses = fit_losses(got, n, batch_size, epochs)
    expected_losses, expected_params = expected("network.fit", FIT_NET, params, X, y, lr, epochs, batch_size)
    step_first = expected("network.fit", FIT_NET, params, X, y, lr, epochs, batch_size, "step_first")[1]
    found = layer_params(FIT_NET, layers)
    mistake = fit_mistake(found, params, step_first)
    after_step = expected("network.fit", FIT_NET, params, X, y, lr, epochs, batch_size, "loss_after_step")[0]
    hints = [
        lambda got, exp: mistake,
        lambda got, exp: (
            LOSS_AFTER_STEP
            if np.shape(got) == np.shape(after_step) and np.allclose(got, after_step)
            else None
        ),
    ]
    given = (
        f"{spec_text(FIT_NET)} with SoftmaxCrossEntropy and SGD(lr={lr}) on N = {n} samples, "
        f"batch_size={batch_size} (batches of 4, 4, 2), epochs={epochs}, shuffle=False"
    )
    expect_array(
        losses, expected_losses, "Sequential.fit: the loss of each step", given, HISTORY_TOL, hints=hints
    )
    for key, value in expected_params.items():
        expect_array(
            found.get(key),
            value,
            f"Sequential.fit: {key_text(key, 'params')} after training",
            given,
            FIT_TOL,
            hints=hints,
        )


@check("Sequential", "fit_shuffle", timeout=20)
@blaming("Sequential.forward", "Sequential.backward")
def sequential_fit_shuffle(t):
    require(t, "Sequential.fit", *FIT_PARTS)
    n, batch_size, epochs, steps = 20, 4, 2, 5
    params, X, y = fit_data(n, k=2)
    # Mean losses measured with the student's own network and loss, as fit sees them.
    net, _ = build_net(t, FIT_NET, params)
    loss = make(t, "SoftmaxCrossEntropy")

    def mean_loss(rows):
        return float(np.asarray(loss.call("forward", net.call("forward", X[rows]), y[rows])).reshape(-1)[0])

    overall = mean_loss(np.arange(n))
    in_order = sorted(mean_loss(np.arange(s, s + batch_size)) for s in range(0, n, batch_size))
    runs, seed = [], int(data_rng(4609).integers(2**31))  # the student's generator, seeded by the grader
    for _ in range(2):
        net, _ = build_net(t, FIT_NET, params)
        got = fit_with_sgd(
            t, net, X, y, 0.0, epochs=epochs, batch_size=batch_size, shuffle=True, rng=Rng(seed)
        )
        runs.append(fit_losses(got, n, batch_size, epochs))
    given = f"N = {n}, batch_size={batch_size}, epochs={epochs}, shuffle=True, SGD(lr=0) so the weights stay fixed"
    for e in range(epochs):
        batch = runs[0][e * steps : (e + 1) * steps]
        if not np.isclose(batch.mean(), overall, rtol=1e-9):
            raise CheckFailure(
                f"Sequential.fit: the {steps} mini-batch losses of epoch {e + 1} average to {batch.mean():.8g}, "
                f"but the mean loss over all {n} samples is {overall:.8g} ({given})",
                hint=named(
                    "network.each_epoch_must_visit_every_sample_exactly",
                    "each epoch must visit every sample exactly once, with X and y in the same order: "
                    "index both with one permutation, e.g. order = rng.permutation(N)",
                ),
            )
        if np.allclose(np.sort(batch), in_order, rtol=1e-9):
            raise CheckFailure(
                f"Sequential.fit: epoch {e + 1} used the samples in their original order ({given})",
                hint=named(
                    "network.shuffle_true_must_shuffle_sample_order_each",
                    "shuffle=True must shuffle the sample order each epoch, e.g. order = rng.permutation(N)",
                ),
            )
    if not np.allclose(runs[0], runs[1], rtol=1e-12):
        raise CheckFailure(
            f"Sequential.fit: two runs with rng=np.random.default_rng({seed}) gave different losses ({given})",
            hint=named(
                "network.draw_order_from_rng_argument",
                "draw the order from the rng argument (rng.permutation), not from np.random",
            ),
        )


# ----------------------------------------------------------------------------- learning
# The starting weights, the order of the samples and the digits' split come from the grader's
# seed like every other input (bench/learning_seeds.py: the reference and the corpus's correct
# variants learn on every one of hundreds of seeds). The gates' inputs are fixed by definition
# and the digits file is public, so in live grading the weights fit leaves in the student's
# layers are also scored with the grader's own forward: a forward that looks its inputs up
# gains nothing. A student kit has no oracle to run that forward; there the student's forward scores.
GATES = ("AND", "OR", "NAND")  # their labels are the truth tables of the oracle "perceptron.truth_tables"
GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
NOT_THE_LAYERS = named(
    "sequential.not_the_layers",
    "your forward's scores are not those of the weights in your layers: forward must run self.layers, "
    "and fit must train the layers given to Sequential (their own params arrays), not copies",
)


def trained_params(spec, layers):
    """The Affine layers' params after fit, read from the layers, with the shapes of `spec` (a flat dict)."""
    found = {}
    for i, ((kind, *dims), layer) in enumerate(zip(spec, layers, strict=True)):
        if kind != "Affine":
            continue
        params = layer.get("params")
        for key, shape in (("W", tuple(dims)), ("b", (dims[1],))):
            value = params.get(key) if isinstance(params, dict) else None
            if not isinstance(value, np.ndarray) or value.shape != shape:
                raise CheckFailure(
                    f"after Sequential.fit, layer {i} params[{key!r}] has shape {np.shape(value)}, expected {shape}",
                    hint=named(
                        "network.optimizer_updates_layers_own_params_arrays_place",
                        "the optimizer updates the layers' own params arrays in place: keep their shapes",
                    ),
                )
            found[f"{i}.{key}"] = value.astype(float)
    return found


def train_and_score(t, spec, params, X, y, lr, epochs, batch_size, X_test, y_test):
    """Fit a Sequential of the student's layers with SGD; (accuracy on the test data, losses, note).

    The accuracy is the student's forward's; in live grading it is at most the grader's forward's
    on the weights fit left in the layers, and `note` says so when that is lower.
    """
    net, layers = build_net(t, spec, params)
    losses = fit_with_sgd(t, net, X, y, lr, epochs=epochs, batch_size=batch_size, shuffle=False)
    trained = trained_params(spec, layers)
    scores = net.call("forward", X_test)
    if not isinstance(scores, np.ndarray) or scores.shape != (len(X_test), spec[-1][2]):
        raise CheckFailure(
            f"Sequential.forward returned {type(scores).__name__} of shape {np.shape(scores)}, expected {(len(X_test), spec[-1][2])}"
        )
    accuracy, note = float(np.mean(scores.argmax(axis=1) == y_test)), ""
    if judged_by_grader():
        theirs = expected("network.forward", X_test, spec, **trained)
        weights = float(np.mean(theirs.argmax(axis=1) == y_test))
        if weights < accuracy:
            note = f" (the weights in your layers, through the grader's forward; your forward scores {accuracy:.1%})"
            accuracy = weights
    return accuracy, losses, note


def learning_failure(what, accuracy, needed, losses, setup, note=""):
    try:
        curve = np.asarray(losses, dtype=float).ravel()
        trend = f"; the loss went from {curve[0]:.3g} to {curve[-1]:.3g}" if curve.size else ""
        stuck = curve.size > 1 and not curve[-1] < 0.9 * curve[0]
    except (TypeError, ValueError):
        trend, stuck = "", False
    if note:
        hint = NOT_THE_LAYERS
    elif stuck:
        hint = named(
            "network.loss_does_not_go_down",
            "the loss does not go down: does fit call optimizer.step(self.params, self.grads) after self.backward?",
        )
    else:
        hint = named(
            "network.check_that_fit_passes_loss_backward",
            "check that fit passes loss.backward() to self.backward and steps after every mini-batch",
        )
    raise CheckFailure(
        f"Sequential.fit did not learn {what}: accuracy {accuracy:.1%}{note} (needs {needed:.0%}) "
        f"after {setup}{trend}",
        hint=hint,
    )


def gate_data(table, rng):
    """The four inputs of a gate and its labels, in an order drawn from `rng`."""
    order = rng.permutation(len(GATE_INPUTS))
    return GATE_INPUTS[order], np.array(table)[order]


@check("Sequential", "learns_gates", timeout=60)
@blaming("Sequential.forward", "Sequential.backward", "Sequential.fit_sgd")
def sequential_learns_gates(t):
    require(t, "Sequential.fit", *FIT_PARTS)
    spec = [("Affine", 2, 4), ("Tanh",), ("Affine", 4, 2)]
    epochs, lr = 200, 1.0
    tables = expected("perceptron.truth_tables")
    for k, gate in enumerate(GATES):
        rng = data_rng(4610 + k)
        params = random_params(spec, rng, scale=1.0)
        X, y = gate_data(tables[gate], rng)
        accuracy, losses, note = train_and_score(t, spec, params, X, y, lr, epochs, 4, X, y)
        if accuracy < 1.0:
            setup = (
                f"{epochs} epochs of full-batch SGD(lr={lr}) on {spec_text(spec)} from the grader's weights"
            )
            learning_failure(f"the {gate} gate", accuracy, 1.0, losses, setup, note)


@check("Sequential", "learns_xor", timeout=60)
@blaming("Sequential.forward", "Sequential.backward", "Sequential.fit_sgd")
def sequential_learns_xor(t):
    require(t, "Sequential.fit", *FIT_PARTS)
    spec = [("Affine", 2, 8), ("Tanh",), ("Affine", 8, 2)]
    epochs, lr = 300, 1.0
    rng = data_rng(4620)
    params = random_params(spec, rng, scale=1.0)
    X, y = gate_data(expected("perceptron.truth_tables")["XOR"], rng)
    accuracy, losses, note = train_and_score(t, spec, params, X, y, lr, epochs, 4, X, y)
    if accuracy < 1.0:
        setup = f"{epochs} epochs of full-batch SGD(lr={lr}) on {spec_text(spec)} from the grader's weights"
        learning_failure("XOR", accuracy, 1.0, losses, setup, note)


DIGITS_ACCURACY = 0.90
DIGITS_TRAIN = 1200  # samples to train on; the other 597 are the test set


@functools.cache
def digits_data():
    """scikit-learn's bundled 8x8 digits scaled to [0, 1]: (X, y)."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is not None and path.is_file():  # the file load_digits reads, without importing sklearn (slow)
        data = np.loadtxt(path, delimiter=",")
        X, y = data[:, :-1], data[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def digits():
    """(X_train, y_train, X_test, y_test): the digits split at random with the grader's seed."""
    X, y = digits_data()
    order = data_rng(4630).permutation(len(X))
    train, test = order[:DIGITS_TRAIN], order[DIGITS_TRAIN:]
    return X[train], y[train], X[test], y[test]


@check("Sequential", "learns_digits", timeout=60)
@blaming("Sequential.forward", "Sequential.backward", "Sequential.fit_sgd")
def sequential_learns_digits(t):
    require(t, "Sequential.fit", "Affine", "Relu", "SoftmaxCrossEntropy", "SGD")
    spec = [("Affine", 64, 32), ("Relu",), ("Affine", 32, 10)]
    epochs, lr, batch_size = 8, 0.1, 16
    X, y, X_test, y_test = digits()
    params = expected("network.he_params", spec, int(data_rng(4631).integers(2**31)))
    accuracy, losses, note = train_and_score(t, spec, params, X, y, lr, epochs, batch_size, X_test, y_test)
    if accuracy < DIGITS_ACCURACY:
        setup = (
            f"{epochs} epochs of SGD(lr={lr}), batch_size={batch_size}, on {spec_text(spec)} from He-scaled weights, "
            f"trained on {len(X)} of scikit-learn's digits and tested on the other {len(X_test)}"
        )
        learning_failure("the digits", accuracy, DIGITS_ACCURACY, losses, setup, note)


# ----------------------------------------------------------------------------- predict
# The labels come from the grader's network ("network.predict"); the mode predict runs in and
# leaves behind is read from a layer of the grader's (a ModeProbe) inside the student's
# Sequential, so only predict is judged, not the student's Dropout or BatchNorm.
PREDICT_NETS = [(SQUARE, 5), (DEEP, 7), (SINGLE, 1)]  # (spec, batch size): never N == C


def predict_case(k):
    """(spec, params, x) of the k-th labels case."""
    spec, n = PREDICT_NETS[k]
    rng = data_rng(4700 + k)
    return spec, random_params(spec, rng), rng.standard_normal((n, spec[0][1]))


def labels_shape_hint(shape, n, c):
    """The mistake behind labels of the wrong shape, for N = n samples and C = c classes."""
    if shape == (n, c):
        return named(
            "sequential.predict_returns_scores",
            "predict returned a score (or probability) for every class, shape (N, C): "
            "return the label of each sample, np.argmax(scores, axis=1)",
        )
    if shape == (c,):
        return named(
            "sequential.predict_argmax_axis_0",
            "one value per class, not per sample: the argmax ran over axis 0 (the samples); take it over axis 1",
        )
    if shape == (n, 1):
        return named(
            "sequential.predict_keeps_class_axis",
            "one label per sample, but as a column: drop keepdims=True (or the reshape) to return shape (N,)",
        )
    return named(
        "sequential.predict_labels_shape",
        "predict returns one label per sample: shape (N,), np.argmax(self.forward(X), axis=1)",
    )


def expect_labels(got, labels, c, given):
    """Fail unless `got` equals `labels` (N,) as an integer array; c is the number of classes."""
    n, want = len(labels), f"integer labels of shape ({len(labels)},)"
    if got is None:
        raise CheckFailure(
            f"Sequential.predict returned None for {given}; expected {want}",
            hint=named("generic.missing_return", "a missing return statement?"),
        )
    if not isinstance(got, np.ndarray):
        raise CheckFailure(
            f"Sequential.predict returned a {type(got).__name__} for {given}; expected {want}",
            hint=named("sequential.predict_not_an_array", "return a numpy array: np.argmax(..., axis=1)"),
        )
    if got.shape != labels.shape:
        raise CheckFailure(
            f"Sequential.predict returned shape {got.shape}, expected ({n},) for {given}",
            hint=labels_shape_hint(got.shape, n, c),
        )
    if not np.issubdtype(got.dtype, np.integer):
        raise CheckFailure(
            f"Sequential.predict returned labels of dtype {got.dtype}, expected an integer dtype for {given}",
            hint=named(
                "sequential.predict_labels_not_integers",
                "labels are class indices: return np.argmax's integers as they are, not as floats",
            ),
        )
    wrong = int(np.sum(got != labels))
    if wrong:
        raise CheckFailure(
            f"Sequential.predict: {wrong} of {n} labels are wrong for {given}: got {got.tolist()}, "
            f"expected {labels.tolist()}",
            hint=named(
                "sequential.predict_not_argmax_of_forward",
                "a sample's label is the index of its largest score: np.argmax(self.forward(X), axis=1) "
                "(and Sequential.forward must be right)",
            ),
        )


@check("Sequential", "predict_labels")
def sequential_predict_labels(t):
    require(t, "Sequential.predict", "Affine", "Tanh", "Relu", backward=False)
    for k in range(len(PREDICT_NETS)):
        spec, params, x = predict_case(k)
        net, _ = build_net(t, spec, params)
        got = net.call("predict", x)
        expect_untouched(t, "Sequential.predict")
        given = f"{given_shapes(x=x)} through {spec_text(spec)} (your layers, the grader's weights)"
        expect_labels(got, expected("network.predict", x, spec, **params), out_shape(spec, 1)[1], given)


def probe_net(t, fail=False):
    """A Sequential holding one grader layer that passes x through: (net Ref, probe Ref)."""
    probe = t.put(ModeProbe(fail), "the grader's layer")
    return make(t, "Sequential", probe), probe


def probe_scores(k):
    """(N, C) scores to predict from, fed straight to the probe."""
    return data_rng(4710 + k).standard_normal((5, 3))


@check("Sequential", "predict_eval_mode")
def sequential_predict_eval_mode(t):
    net, probe = probe_net(t)
    net.run("train")
    net.call("predict", probe_scores(0))
    seen = probe.get("seen")
    given = "a network in training mode holding a layer of the grader's that records its mode"
    if not seen:
        raise CheckFailure(
            f"Sequential.predict never ran the layers' forward ({given})",
            hint=named(
                "sequential.predict_skips_forward",
                "predict's scores come from self.forward(X), which runs every layer",
            ),
        )
    if any(seen):
        raise CheckFailure(
            f"Sequential.predict ran the layers in training mode ({given})",
            hint=named(
                "sequential.predict_in_training_mode",
                "call self.eval() before self.forward(X): in training mode Dropout drops units at random "
                "and BatchNorm uses the batch's statistics, so the labels would change from call to call",
            ),
        )


def modes_after(net, probe):
    """(the network's training flag, its layer's) as predict left them."""
    return net.get("training"), probe.get("training")


@check("Sequential", "predict_restores_mode")
def sequential_predict_restores_mode(t):
    for k, (start, training) in enumerate((("train", True), ("eval", False))):
        net, probe = probe_net(t)
        net.run(start)
        net.call("predict", probe_scores(k))
        found = modes_after(net, probe)
        if found == (training, training):
            continue
        if training:
            hint = named(
                "sequential.predict_leaves_eval_mode",
                "predict leaves the network in evaluation mode: note self.training before self.eval() "
                "and call self.train() afterwards if it was True",
            )
        else:
            hint = named(
                "sequential.predict_forces_training_mode",
                "predict switched a network in evaluation mode to training mode: restore the mode it found "
                "(self.train() only if self.training was True before)",
            )
        raise CheckFailure(
            f"after Sequential.predict on a network in {'training' if training else 'evaluation'} mode "
            f"(net.{start}() first), net.training is {found[0]} and its layer's training is {found[1]}, "
            f"expected {training} for both",
            hint=hint,
        )


@check("Sequential", "predict_restores_after_error")
def sequential_predict_restores_after_error(t):
    net, probe = probe_net(t, fail=True)
    net.run("train")
    try:
        net.call("predict", probe_scores(2))
    except RuntimeError as error:
        if PROBE_FAILURE not in str(error):
            raise
    found = modes_after(net, probe)
    if found != (True, True):
        raise CheckFailure(
            "after Sequential.predict on a network in training mode whose forward raised an error "
            f"(a layer of the grader's raised it), net.training is {found[0]} and its layer's training is "
            f"{found[1]}, expected True for both",
            hint=named(
                "sequential.predict_not_restored_after_error",
                "restore the mode in a finally block (try: return ... finally: self.train() if it was "
                "training), so an error in forward does not leave the network in evaluation mode",
            ),
        )
