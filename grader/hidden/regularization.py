"""Hidden checks for Dropout: rates near 0 and 1, 3-d and 4-d inputs, backward with a high rate."""

import numpy as np

from ..checks.common import data_rng, run_layer, spread
from ..checks.regularization import (
    NOT_SCALED,
    SIGMAS,
    SWAPPED,
    dropout,
    dropout_forward,
    student_seed,
    value_hint,
)
from ..expect import expect_array, given_shapes
from ..registry import check
from ..results import CheckFailure

EXTREME_RATES = [(0.05, (40, 50, 60)), (0.95, (8, 5, 50, 60))]  # (p, shape of x)


@check("Dropout", "extreme_rates")
def dropout_extreme_rates(t):
    rng = data_rng(9100)
    for k, (p, shape) in enumerate(EXTREME_RATES):
        x = spread(rng, shape, 0.5, 2.0)
        out = dropout_forward(t, dropout(t, p, student_seed(9100 + k)), x)
        kept = out != 0
        frac, n = 1.0 - float(kept.mean()), kept.size
        tol = SIGMAS * np.sqrt(p * (1 - p) / n)
        if abs(frac - p) > tol:
            hint = SWAPPED if abs(frac - (1 - p)) <= tol else None
            raise CheckFailure(
                f"Dropout(p={p}).forward zeroed a fraction {frac:.4f} of {n} entries, expected {p} "
                f"(tolerance {tol:.4f}: {SIGMAS} binomial standard deviations)",
                hint=hint,
            )
        expect_array(
            out[kept],
            x[kept] / (1 - p),
            f"Dropout(p={p}).forward output at the entries that were not dropped",
            given_shapes(x=x) + " (survivors must be x / (1 - p))",
            hints=[value_hint(x[kept], NOT_SCALED)],
        )


@check("Dropout", "high_rate_backward")
def dropout_high_rate_backward(t):
    rng = data_rng(9101)
    p = 0.9
    x, dout = spread(rng, (6, 7, 80), 0.5, 2.0), spread(rng, (6, 7, 80), 0.5, 2.0)
    out, dx = run_layer(t, dropout(t, p, student_seed(9110)), x, dout, "Dropout")
    kept = out != 0
    expect_array(
        dx,
        np.where(kept, dout / (1 - p), 0.0),
        f"Dropout(p={p}).backward: dx",
        given_shapes(x=x, dout=dout) + " (dx must be 0 where out is 0, dout / (1 - p) elsewhere)",
        hints=[value_hint(dout * kept, "dx is not scaled by 1/(1-p) like the forward survivors")],
    )
