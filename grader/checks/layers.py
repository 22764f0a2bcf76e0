"""Checks for Affine, Relu, Sigmoid, Tanh and Flatten.

Expected values come from the oracles "layers.*" and their float64 central-difference
gradients, through `expected`.
"""

import numpy as np

from ..expect import GRAD_TOL, expect_array, expect_untouched, given_shapes
from ..expected import expected
from ..hints import named
from ..registry import check
from ..results import CheckFailure
from ..target import Rng
from .common import check_gradient, data_rng, expected_gradients, make, make_with_params, run_layer, spread

# ----------------------------------------------------------------------------- Affine
AFFINE_CASES = [(4, 5, 3), (1, 3, 2), (6, 2, 7), (3, 4, 4)]  # (N, D, M): batch of one, square W


def build_affine(t, case):
    n, d, m = case
    rng = data_rng(n * 100 + d * 10 + m)
    params = {"W": rng.standard_normal((d, m)), "b": rng.standard_normal(m)}
    layer = make_with_params(t, "Affine", params, d, m, rng=Rng(1))
    return layer, rng.standard_normal((n, d)), params, rng.standard_normal((n, m))


def hint_if_close(candidate, text):
    """A hint that applies when the answer equals `candidate(x, dout, params)`."""

    def make_hint(x, dout, params):
        value = candidate(x, dout, params)

        def hint(got, expected):
            got = np.asarray(got, dtype=float)
            if got.shape == np.shape(value) and np.allclose(got, value, rtol=1e-5, atol=1e-8):
                return text
            return None

        return hint

    return make_hint


def expect_affine_out(out, x, params, given):
    """Affine.forward's output for x (N, ...) and params {"W": (D, M), "b": (M,)}."""
    no_bias = expected("layers.affine_no_bias", x, params["W"])
    expect_array(
        out,
        expected("layers.affine", x, params["W"], params["b"]),
        "Affine.forward output",
        given,
        hints=[
            lambda got, exp: (
                named("layers.bias_b_not_added", "the bias b is not added")
                if np.shape(got) == no_bias.shape and np.allclose(got, no_bias)
                else None
            )
        ],
    )


def affine_forward_cases(t, cases):
    """Compare Affine.forward with the oracle on each (N, D, M) case, input left untouched."""
    for case in cases:
        layer, x, params, _ = build_affine(t, case)
        out = layer.call("forward", x)
        expect_untouched(t, "Affine.forward")
        expect_affine_out(out, x, params, given_shapes(x=x))


@check("Affine", "forward")
def affine_forward(t):
    affine_forward_cases(t, AFFINE_CASES)


@check("Affine", "backward_dx")
def affine_backward_dx(t):
    check_gradient(t, "Affine", build_affine, "layers.affine", AFFINE_CASES, "x")


# Known-wrong dW of Affine, as hints of check_gradient (public and hidden checks)
DW_TRANSPOSED = hint_if_close(
    lambda x, dout, p: expected("layers.affine_dw_transposed", x, dout),
    named(
        "generic.transposed",
        "dW looks like the transpose of the expected gradient: use x.T @ dout",
    ),
)
DW_RESHAPED_TEXT = named(
    "layers.dw_reshaped_not_transposed",
    "dW is dout.T @ x reshaped to (D, M): a reshape keeps the order of the entries and scrambles "
    "them; transpose instead, dW = x.T @ dout",
)


def dw_reshaped(got, expected):
    """The hint for a dW that is (dout.T @ x), of shape (M, D), reshaped to W's shape (D, M)."""
    expected = np.asarray(expected)
    if not (isinstance(got, np.ndarray) and got.dtype.kind in "fiu" and got.shape == expected.shape):
        return None
    if expected.ndim == 2 and np.allclose(got, expected.T.reshape(expected.shape), rtol=1e-5, atol=1e-8):
        return DW_RESHAPED_TEXT
    return None


DW_RESHAPED = lambda x, dout, params: dw_reshaped  # noqa: E731 - a hint of check_gradient
AFFINE_DW_HINTS = [DW_TRANSPOSED, DW_RESHAPED]


@check("Affine", "backward_dW")
def affine_backward_dw(t):
    check_gradient(t, "Affine", build_affine, "layers.affine", AFFINE_CASES, "W", hints=AFFINE_DW_HINTS)


@check("Affine", "backward_db")
def affine_backward_db(t):
    mean_db = hint_if_close(
        lambda x, dout, p: expected("layers.affine_db_mean", dout),
        named("layers.db_mean_over_batch", "db is the mean over the batch: it should be the sum"),
    )
    check_gradient(t, "Affine", build_affine, "layers.affine", AFFINE_CASES, "b", hints=[mean_db])


def check_nd_affine(t, x_shape, out_features, seed):
    """Affine on (N, d1, ..., dk) input: each sample flattened; dx has the input's shape. Returns (x, dout, grads)."""
    rng = data_rng(seed)
    features = int(np.prod(x_shape[1:]))
    params = {"W": rng.standard_normal((features, out_features)), "b": rng.standard_normal(out_features)}
    layer = make_with_params(t, "Affine", params, features, out_features, rng=Rng(1))
    x, dout = rng.standard_normal(x_shape), rng.standard_normal((x_shape[0], out_features))
    out, dx = run_layer(t, layer, x, dout, "Affine")
    given = given_shapes(x=x) + f" (each sample is flattened to {features} features)"
    expect_affine_out(out, x, params, given)
    if dx is None or np.shape(dx) != x.shape:
        raise CheckFailure(
            f"Affine.backward: dx has shape {np.shape(dx)}, expected the input's shape {x.shape}",
            hint=named(
                "layers.reshape_dx_back_shape_forward_input",
                "reshape dx back to the shape of the forward input",
            ),
        )
    grads = expected_gradients("layers.affine", x, params, dout)
    expect_array(dx, grads["x"], "Affine.backward: dx", given, tol=GRAD_TOL, batch_size=x.shape[0])
    return given, grads, layer.get("grads")


@check("Affine", "nd_input")
def affine_nd_input(t):
    check_nd_affine(t, (3, 2, 3), 4, seed=7)


@check("Affine", "backward_twice")
def affine_backward_twice(t):
    layer, x, _, dout = build_affine(t, (4, 3, 2))
    layer.call("forward", x)
    first = [layer.call("backward", dout), layer.get("grads")]
    second = [layer.call("backward", dout), layer.get("grads")]
    for key in ("W", "b"):
        expect_array(
            second[1].get(key),
            first[1].get(key),
            f"Affine.backward: grads[{key!r}] on a second backward with the same dout",
            hints=[
                lambda got, exp: (
                    named(
                        "layers.gradients_accumulate_across_backward_calls",
                        "gradients accumulate across backward calls: assign grads, do not add to them",
                    )
                    if np.allclose(got, 2 * exp)
                    else None
                )
            ],
        )
    expect_array(second[0], first[0], "Affine.backward: dx on a second call")


# ----------------------------------------------------------------------------- elementwise
def elementwise_build(name):
    def build(t, shape):
        rng = data_rng(sum(shape))
        return make(t, name), spread(rng, shape), {}, rng.standard_normal(shape)

    return build


ELEMENTWISE_SHAPES = [(4, 5), (2, 3, 4, 4), (1, 7)]

ACTIVATIONS = {"Relu": "layers.relu", "Sigmoid": "layers.sigmoid", "Tanh": "layers.tanh"}  # oracle names


def activation_forward(name):
    def run(t):
        rng = data_rng(11)
        for shape in ELEMENTWISE_SHAPES:
            x = spread(rng, shape, 0.1, 4.0)
            if name != "Relu":
                x.flat[:2] = [-800.0, 800.0]  # large inputs must not overflow
            out = make(t, name).call("forward", x)
            expect_untouched(t, f"{name}.forward")
            expect_array(out, expected(ACTIVATIONS[name], x), f"{name}.forward output", given_shapes(x=x))

    return run


DERIVATIVE_MISTAKES = {
    "Relu": [
        hint_if_close(
            lambda x, dout, p: dout,
            named(
                "layers.dout_passed_through_unchanged",
                "dout is passed through unchanged: zero it where x <= 0",
            ),
        ),
        hint_if_close(
            lambda x, dout, p: expected("layers.relu_grad_times_x", x, dout),
            named("layers.multiplied_by_x_not_mask", "multiplied by x (or out) instead of the 0/1 mask"),
        ),
        hint_if_close(
            lambda x, dout, p: expected("layers.relu_grad_inverted", x, dout),
            named("layers.mask_inverted", "the mask is inverted: keep dout where x > 0"),
        ),
        hint_if_close(
            lambda x, dout, p: expected("layers.relu_grad_masked_by_dout", x, dout),
            named(
                "layers.mask_comes_from_sign_dout",
                "the mask comes from the sign of dout: keep dout where the forward input x was > 0",
            ),
        ),
    ],
    "Sigmoid": [
        hint_if_close(
            lambda x, dout, p: expected("layers.sigmoid_grad_of_x", x, dout),
            named(
                "layers.derivative_uses_x",
                "the derivative uses x: it is out * (1 - out), with out = sigmoid(x)",
            ),
        ),
        hint_if_close(
            lambda x, dout, p: dout,
            named(
                "layers.dout_passed_through_unchanged",
                "dout is passed through unchanged: multiply by out * (1 - out)",
            ),
        ),
        hint_if_close(
            lambda x, dout, p: expected("layers.sigmoid_grad_plus", x, dout),
            named(
                "layers.sign_slip_derivative",
                "a sign slip in the derivative: it is out * (1 - out), not out * (1 + out)",
            ),
        ),
    ],
    "Tanh": [
        hint_if_close(
            lambda x, dout, p: expected("layers.tanh_grad_of_x", x, dout),
            named("layers.derivative_uses_x", "the derivative uses x: it is 1 - out**2, with out = tanh(x)"),
        ),
        hint_if_close(
            lambda x, dout, p: dout,
            named(
                "layers.dout_passed_through_unchanged",
                "dout is passed through unchanged: multiply by 1 - out**2",
            ),
        ),
        hint_if_close(
            lambda x, dout, p: expected("layers.tanh_grad_no_square", x, dout),
            named(
                "layers.square_missing", "the square is missing: the derivative is 1 - out**2, not 1 - out"
            ),
        ),
    ],
}


def activation_backward(name):
    def run(t):
        check_gradient(
            t,
            name,
            elementwise_build(name),
            ACTIVATIONS[name],
            ELEMENTWISE_SHAPES,
            "x",
            hints=DERIVATIVE_MISTAKES[name],
        )

    return run


for _name in ACTIVATIONS:
    check(_name, "forward")(activation_forward(_name))
    check(_name, "backward")(activation_backward(_name))


@check("Relu", "no_mutation")
def relu_no_mutation(t):
    rng = data_rng(12)
    x, dout = spread(rng, (5, 6)), rng.standard_normal((5, 6))
    run_layer(t, make(t, "Relu"), x, dout, "Relu")


# ----------------------------------------------------------------------------- Flatten
@check("Flatten", "forward_backward")
def flatten_forward_backward(t):
    rng = data_rng(13)
    for shape in [(2, 3, 4, 5), (3, 7), (1, 2, 3)]:
        x, layer = rng.standard_normal(shape), make(t, "Flatten")
        dout = rng.standard_normal((shape[0], int(np.prod(shape[1:]))))
        out, dx = run_layer(t, layer, x, dout, "Flatten")
        batch_lost = lambda got, exp: (  # noqa: E731
            named("layers.keep_batch_axis", "keep the batch axis: one row per sample, x.reshape(len(x), -1)")
            if np.ndim(got) >= 1 and np.shape(got)[0] != exp.shape[0]
            else None
        )
        expect_array(
            out,
            expected("layers.flatten", x),
            "Flatten.forward output",
            given_shapes(x=x),
            hints=[batch_lost],
        )
        expect_array(
            dx,
            expected("layers.unflatten", dout, shape),
            "Flatten.backward: dx",
            given_shapes(x=x, dout=dout),
        )
