"""Hidden checks for Dropout: rates near 0 and 1, 3-d and 4-d inputs, backward with a high rate."""

from ..checks.common import data_rng, run_layer, spread
from ..checks.regularization import (
    dropout,
    dropout_forward,
    expect_drop_rate,
    expect_dropout_dx,
    student_seed,
    survivor_hints,
)
from ..expect import expect_array, given_shapes
from ..registry import check

EXTREME_RATES = [(0.05, (40, 50, 60)), (0.95, (8, 5, 50, 60))]  # (p, shape of x)


@check("Dropout", "extreme_rates")
def dropout_extreme_rates(t):
    rng = data_rng(9100)
    for k, (p, shape) in enumerate(EXTREME_RATES):
        x = spread(rng, shape, 0.5, 2.0)
        out = dropout_forward(t, dropout(t, p, student_seed(9100 + k)), x)
        expect_drop_rate(p, out)
        kept = out != 0
        expect_array(
            out[kept],
            x[kept] / (1 - p),
            f"Dropout(p={p}).forward output at the entries that were not dropped",
            given_shapes(x=x) + " (survivors must be x / (1 - p))",
            hints=survivor_hints(x[kept], p),
        )


@check("Dropout", "high_rate_backward")
def dropout_high_rate_backward(t):
    rng = data_rng(9101)
    p = 0.9
    x, dout = spread(rng, (6, 7, 80), 0.5, 2.0), spread(rng, (6, 7, 80), 0.5, 2.0)
    out, dx = run_layer(t, dropout(t, p, student_seed(9110)), x, dout, "Dropout")
    expect_dropout_dx(p, x, out, dout, dx)
