"""Checks for the computational-graph nodes MulLayer and AddLayer.

Expected values, and the known-wrong gradients the hints name, come from the oracles "graph.*".
"""

import numpy as np

from ..expect import expect_array, expect_number, expect_untouched, given_shapes
from ..expected import expected
from ..hints import named
from ..registry import check
from ..results import CheckFailure
from .common import data_rng, make, spread
from .functions import like


def cases(k):
    """(x, y, dout): two scalars first (the book's apple example), then arrays of a few shapes."""
    rng = data_rng(k)
    found = [(2.0, -3.5, 1.5)]
    for shape in [(3, 4), (5,), (2, 3, 2)]:
        found.append((spread(rng, shape), spread(rng, shape), rng.normal(size=shape)))
    return found


def expect_value(got, expected, what, given, hints=()):
    """expect_number for a scalar `expected`, expect_array otherwise."""
    if np.ndim(expected) == 0:
        expect_number(got, float(expected), what, given, hints=hints)
    else:
        expect_array(got, expected, what, given, hints=hints)


def gradient_pair(got, what, given):
    """The (dx, dy) a backward returned, or a failure saying what came back instead."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailure(
            f"{what} should return the pair (dx, dy) for {given}, got {type(got).__name__} {got!r:.80}",
            hint=named("graph.return_both_gradients", "return both gradients: return dx, dy"),
        )
    return got


def forward_check(name, oracle):
    """The forward check of `name`, against the oracle named `oracle`."""

    def run(t):
        for x, y, _ in cases(300):
            out = make(t, name).call("forward", x, y)
            expect_untouched(t, f"{name}.forward")
            expect_value(out, expected(oracle, x, y), f"{name}.forward(x, y)", given_shapes(x=x, y=y))

    return run


check("MulLayer", "forward")(forward_check("MulLayer", "graph.mul_forward"))
check("AddLayer", "forward")(forward_check("AddLayer", "graph.add_forward"))


def backward_of(t, name, x, y, dout):
    layer = make(t, name)
    layer.call("forward", x, y)
    got = layer.call("backward", dout)
    expect_untouched(t, f"{name}.backward")
    given = given_shapes(x=x, y=y, dout=dout)
    return gradient_pair(got, f"{name}.backward(dout)", given), given


SWAPPED = named(
    "graph.dx_dy_swapped",
    "dx and dy are swapped: dx = dout * y and dy = dout * x (each input gets dout times the OTHER input)",
)


@check("MulLayer", "backward")
def mul_backward(t):
    for x, y, dout in cases(301):
        (dx, dy), given = backward_of(t, "MulLayer", x, y, dout)
        want_dx, want_dy = expected("graph.mul_gradients", x, y, dout)
        no_dout = named(
            "graph.local_gradient_not_multiplied_dout",
            "the local gradient is not multiplied by dout (chain rule: dx = dout * y)",
        )
        expect_value(
            dx, want_dx, "MulLayer.backward: dx", given, hints=[like(want_dy, SWAPPED), like(y, no_dout)]
        )
        expect_value(
            dy, want_dy, "MulLayer.backward: dy", given, hints=[like(want_dx, SWAPPED), like(x, no_dout)]
        )


ADD_AS_MUL = named(
    "graph.dout_multiplied_other_input_mullayer",
    "dout is multiplied by the other input as in MulLayer: an addition passes dout through unchanged",
)


@check("AddLayer", "backward")
def add_backward(t):
    for x, y, dout in cases(302):
        (dx, dy), given = backward_of(t, "AddLayer", x, y, dout)
        ones = like(
            np.ones_like(dout),
            named(
                "graph.local_gradient_not_multiplied_dout",
                "the local gradient 1 is not multiplied by dout: pass dout through unchanged",
            ),
        )
        wants = expected("graph.add_gradients", x, y, dout)
        as_mul = expected("graph.mul_gradients", x, y, dout)  # what MulLayer's backward gives
        for got, what, want, mul in zip((dx, dy), ("dx", "dy"), wants, as_mul, strict=True):
            expect_value(got, want, f"AddLayer.backward: {what}", given, hints=[ones, like(mul, ADD_AS_MUL)])
