"""Hidden checks for Affine: one feature, one output, a batch of one, a larger batch, 4-d input."""

import numpy as np

from ..checks.common import check_gradient
from ..checks.layers import AFFINE_DW_HINTS, affine_forward_cases, build_affine, check_nd_affine, dw_reshaped
from ..expect import GRAD_TOL, expect_array
from ..hints import named
from ..registry import check

ODD_AFFINE_CASES = [(16, 9, 5), (1, 1, 1), (7, 12, 1), (2, 1, 6)]  # (N, D, M)


@check("Affine", "odd_shapes")
def affine_odd_shapes(t):
    affine_forward_cases(t, ODD_AFFINE_CASES)
    for which in ("x", "W", "b"):
        hints = AFFINE_DW_HINTS if which == "W" else ()
        check_gradient(t, "Affine", build_affine, "layers.affine", ODD_AFFINE_CASES, which, hints=hints)


FROM_UNFLATTENED_X = named(
    "layers.dw_from_unflattened_x",
    "dW must come from x flattened to (N, D), x.reshape(N, -1), the same x forward multiplied with W; "
    "keep that flattened x in forward",
)


def dw_from_unflattened_x(got, expected):
    shape, wanted = np.shape(got), np.shape(expected)
    return FROM_UNFLATTENED_X if shape not in (wanted, wanted[::-1]) and np.ndim(got) != 2 else None


@check("Affine", "input_4d")
def affine_input_4d(t):
    x_shape = (3, 2, 2, 3)
    given, expected, grads = check_nd_affine(t, x_shape, 5, seed=9001)
    for key in ("W", "b"):
        what = f"Affine.backward: grads[{key!r}]"
        hints = [dw_reshaped, dw_from_unflattened_x] if key == "W" else []
        expect_array(
            grads.get(key), expected[key], what, given, tol=GRAD_TOL, batch_size=x_shape[0], hints=hints
        )
