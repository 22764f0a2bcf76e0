"""Hidden checks for Adam: PyTorch's default betas over many steps, gradients of very different scales."""

from ..checks.common import data_rng
from ..checks.optim import TINY_EPS, random_grads, random_params, run_steps
from ..registry import check

LONG_RUN = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": TINY_EPS}


@check("Adam", "long_run")
def adam_long_run(t):
    rng = data_rng(9200)
    shapes = {"W": (5, 7), "b": (1,), "K": (2, 3, 2, 2)}
    params0 = random_params(rng, shapes)
    grads = random_grads(rng, shapes, 12)
    for step, g in enumerate(grads):
        g["W"] *= 10.0 ** (step % 4 - 2)  # from 1e-2 to 10 and back
        g["K"] *= 1e3 if step % 3 == 0 else 1.0
    situation = "12 steps with gradients whose scale changes from step to step"
    run_steps(t, "Adam", LONG_RUN, params0, grads, situation)
