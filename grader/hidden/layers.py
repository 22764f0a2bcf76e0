"""Hidden checks for Affine: one feature, one output, a batch of one, a larger batch, 4-d input."""

import numpy as np

from ..checks.common import check_gradient, data_rng, make, run_layer, set_params
from ..checks.layers import affine_oracle, build_affine
from ..expect import GRAD_TOL, expect_array, expect_untouched, given_shapes
from ..registry import check
from ..results import CheckFailure
from ..target import Rng

ODD_AFFINE_CASES = [(16, 9, 5), (1, 1, 1), (7, 12, 1), (2, 1, 6)]  # (N, D, M)


@check("Affine", "odd_shapes")
def affine_odd_shapes(t):
    for case in ODD_AFFINE_CASES:
        layer, x, params, _ = build_affine(t, case)
        out = layer.call("forward", x)
        expect_untouched(t, "Affine.forward")
        expect_array(out, affine_oracle(x, **params), "Affine.forward output", given_shapes(x=x))
    for which in ("x", "W", "b"):
        check_gradient(t, "Affine", build_affine, affine_oracle, ODD_AFFINE_CASES, which)


@check("Affine", "input_4d")
def affine_input_4d(t):
    rng = data_rng(9001)
    layer = make(t, "Affine", 12, 5, rng=Rng(3))
    params = {"W": rng.standard_normal((12, 5)), "b": rng.standard_normal(5)}
    set_params(layer, params)
    x, dout = rng.standard_normal((3, 2, 2, 3)), rng.standard_normal((3, 5))
    out, dx = run_layer(t, layer, x, dout, "Affine")
    given = given_shapes(x=x) + " (each sample is flattened to 12 features)"
    expect_array(out, affine_oracle(x, **params), "Affine.forward output", given)
    if dx is None or np.shape(dx) != x.shape:
        raise CheckFailure(
            f"Affine.backward: dx has shape {np.shape(dx)}, expected the input's shape {x.shape}",
            hint="reshape dx back to the shape of the forward input",
        )
    expect_array(dx, (dout @ params["W"].T).reshape(x.shape), "Affine.backward: dx", given, tol=GRAD_TOL)
    grads = layer.get("grads")
    flat = x.reshape(3, -1)
    expect_array(grads.get("W"), flat.T @ dout, "Affine.backward: grads['W']", given, tol=GRAD_TOL)
    expect_array(grads.get("b"), dout.sum(axis=0), "Affine.backward: grads['b']", given, tol=GRAD_TOL)
