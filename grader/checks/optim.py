"""Checks for the optimizers SGD, Momentum, AdaGrad, RMSProp and Adam.

Every check runs a few `step(params, grads)` calls on grader-chosen dicts of
arrays and compares the change of each parameter with the oracle's ("optim.simulate",
through `expected`). The checks accept the usual equivalent conventions: PyTorch-style momentum
(v = mu * v + g, p -= lr * v) and, where eps is tiny, Adam's `lr_t` formulation. Where eps's
place shows (the eps_placement checks: small gradients, a visible eps), the docstrings' form
counts, PyTorch's: sqrt(h) + eps, sqrt(v_hat) + eps.
"""

from dataclasses import dataclass

import numpy as np

from ..expect import expect_array, given_shapes
from ..expected import expected
from ..hints import named
from ..numeric import rel_error
from ..registry import check
from ..results import CheckFailure
from .common import EPS_IGNORED, data_rng, make, spread

STEP_TOL = 1e-5  # relative error of one step (eps conventions differ by far less)
HINT_TOL = 1e-4  # how close an answer must be to a known-wrong formula to name it
TINY_EPS = 1e-12

HYPER = {
    "SGD": {"lr": 0.1},
    "Momentum": {"lr": 0.1, "momentum": 0.8},
    "AdaGrad": {"lr": 0.1, "eps": TINY_EPS},
    "RMSProp": {"lr": 0.05, "alpha": 0.9, "eps": TINY_EPS},
    "Adam": {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": TINY_EPS},
}
STATEFUL = ("Momentum", "AdaGrad", "RMSProp", "Adam")
ADAPTIVE = ("AdaGrad", "RMSProp", "Adam")


# ----------------------------------------------------------------------------- known mistakes
# Rules are named: "SGD", ..., "Adam" (the oracle "optim.simulate" applies them), and
# "<rule>/<mistake>" for the known-wrong rules whose results the hints recognise.
@dataclass(frozen=True)
class Mistake:
    text: str
    rule: str
    shared: bool = False
    counter: str = "call"
    hyper: tuple = ()  # (name, value) pairs that replace the check's hyperparameters
    swap: tuple = ()  # two hyperparameter names whose values trade places


def decay_mistakes(name):
    return [
        Mistake(
            named(
                "optim.weight_decay_has_wrong_sign",
                "weight decay has the wrong sign: add weight_decay * param to the gradient",
            ),
            f"{name}/decay flipped",
        ),
        Mistake(
            named(
                "optim.weight_decay_ignored",
                "weight_decay is ignored: add weight_decay * param to the gradient",
            ),
            f"{name}/decay ignored",
        ),
        Mistake(
            named(
                "optim.weight_decay_applied_parameter_directly",
                "weight decay is applied to the parameter directly (decoupled, AdamW style): "
                "add weight_decay * param to the gradient before the update",
            ),
            f"{name}/decay decoupled",
        ),
    ]


def lr_eps_swapped(name):
    return Mistake(
        named(
            "optim.lr_eps_swapped", "lr and eps are swapped: check the order of the constructor's arguments"
        ),
        name,
        swap=("lr", "eps"),
    )


ADAM_T_ONCE = "increment it once per call to step, before the update (t = 1 on the first step)"

MISTAKES = {
    "SGD": decay_mistakes("SGD"),
    "Momentum": [
        Mistake(
            named(
                "optim.velocity_not_kept_between_steps",
                "the velocity is not kept between steps (this is plain SGD)",
            ),
            "Momentum/no velocity",
        ),
        Mistake(
            named(
                "optim.new_gradient_scaled",
                "the new gradient is scaled by (1 - momentum): v = momentum * v - lr * grad",
            ),
            "Momentum/dampened",
        ),
        Mistake(
            named("optim.step_does_not_use_lr", "the step does not use lr: v = momentum * v - lr * grad"),
            "Momentum/no lr",
        ),
        *decay_mistakes("Momentum"),
    ],
    "AdaGrad": [
        Mistake(
            named(
                "optim.adagrad_does_not_accumulate",
                "AdaGrad does not accumulate: h must be the running sum of grad**2 over all steps (h += grad**2)",
            ),
            "AdaGrad/no accumulation",
        ),
        Mistake(
            named("optim.adagrad_no_sqrt", "the step is divided by h: divide by sqrt(h) + eps"),
            "AdaGrad/no sqrt",
        ),
        *decay_mistakes("AdaGrad"),
        lr_eps_swapped("AdaGrad"),
    ],
    "RMSProp": [
        Mistake(
            named(
                "optim.rmsprop_uses_alpha_wrong_way_round",
                "RMSProp uses alpha the wrong way round: h = alpha * h + (1 - alpha) * grad**2",
            ),
            "RMSProp/alpha swapped",
        ),
        Mistake(
            named(
                "optim.h_accumulates_grad_without_decay",
                "h accumulates grad**2 without decay (that is AdaGrad): h = alpha * h + (1 - alpha) * grad**2",
            ),
            "RMSProp/as AdaGrad",
        ),
        Mistake(
            named(
                "optim.grad_not_scaled",
                "grad**2 is not scaled by (1 - alpha): h = alpha * h + (1 - alpha) * grad**2",
            ),
            "RMSProp/no 1 - alpha",
        ),
        *decay_mistakes("RMSProp"),
        lr_eps_swapped("RMSProp"),
    ],
    "Adam": [
        Mistake(
            named(
                "optim.adam_without_bias_correction",
                "Adam without bias correction: use m / (1 - beta1**t) and v / (1 - beta2**t)",
            ),
            "Adam/no correction",
        ),
        Mistake(
            named(
                "optim.adam_bias_correction_applied_m_only",
                "Adam bias correction applied to m only: correct v too, v / (1 - beta2**t)",
            ),
            "Adam/m corrected only",
        ),
        Mistake(
            named(
                "optim.adam_bias_correction_applied_v_only",
                "Adam bias correction applied to v only: correct m too, m / (1 - beta1**t)",
            ),
            "Adam/v corrected only",
        ),
        Mistake(
            named(
                "optim.adam_step_counter_t_not_incremented",
                f"Adam step counter t not incremented (1 - beta**0 = 0): {ADAM_T_ONCE}",
            ),
            "Adam",
            counter="zero",
        ),
        Mistake(
            named(
                "optim.adam_step_counter_t_never_incremented",
                f"Adam step counter t is never incremented (it stays 1): {ADAM_T_ONCE}",
            ),
            "Adam",
            counter="one",
        ),
        Mistake(
            named(
                "optim.adam_step_counter_t_incremented_per_key",
                f"Adam step counter t incremented per key: {ADAM_T_ONCE}",
            ),
            "Adam",
            counter="per_key",
        ),
        Mistake(
            named("optim.adam_step_counter_t_off_one", f"Adam step counter t is off by one: {ADAM_T_ONCE}"),
            "Adam",
            counter="plus_one",
        ),
        Mistake(
            named(
                "optim.beta_beta_used_wrong_way_round",
                "beta1/beta2 used the wrong way round: m = beta1 * m + (1 - beta1) * grad, "
                "v = beta2 * v + (1 - beta2) * grad**2",
            ),
            "Adam/betas swapped",
        ),
        Mistake(
            named(
                "optim.first_moment_m_averaged_beta",
                "the first moment m is averaged with beta2: m = beta1 * m + (1 - beta1) * grad",
            ),
            "Adam/beta2 for m",
        ),
        Mistake(
            named(
                "optim.step_uses_raw_gradient_instead_first_moment",
                "the step uses the raw gradient instead of the first moment: step with m_hat = m / (1 - beta1**t)",
            ),
            "Adam/raw gradient",
        ),
        *decay_mistakes("Adam"),
        lr_eps_swapped("Adam"),
    ],
}

UPHILL = {
    "Momentum": named(
        "optim.momentum_update_has_wrong_sign",
        "momentum update has the wrong sign: v = momentum * v - lr * grad, then param += v "
        "(or v = momentum * v + grad, then param -= lr * v)",
    ),
}
UPHILL_DEFAULT = named(
    "optim.moves_uphill",
    "the parameters move up the gradient: subtract the step (param -= ...)",
)
NO_CHANGE = named(
    "optim.step_did_not_change_parameters",
    "step did not change the parameters: update the arrays of params in place (p -= ..., not p = p - ...)",
)
SHARED_STATE = named(
    "optim.optimizer_state_shared_between_keys",
    "optimizer state is shared between keys: keep one state array per key (e.g. self.h[key])",
)


# ----------------------------------------------------------------------------- hints
def same_answer(got, candidate):
    """True if `got` matches a candidate answer (non-finite entries must coincide)."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != candidate.shape:
        return False
    bad = ~np.isfinite(candidate)
    if bad.any():
        return bool(np.array_equal(~np.isfinite(got), bad)) and (
            rel_error(got[~bad], candidate[~bad]) <= HINT_TOL if (~bad).any() else True
        )
    return rel_error(got, candidate) <= HINT_TOL


def mistake_hint(text, candidate, expected):
    """A hint naming `text` when the answer equals `candidate` (and the candidate is really wrong)."""
    distinct = not np.all(np.isfinite(candidate)) or rel_error(candidate, expected) > 10 * HINT_TOL

    def hint(got, exp):
        return text if distinct and same_answer(got, candidate) else None

    return hint


def generic_hints(name):
    def no_change(got, expected):
        got = np.asarray(got, dtype=np.float64)
        return NO_CHANGE if got.size and not np.any(got) and np.any(expected) else None

    def uphill(got, expected):
        return UPHILL.get(name, UPHILL_DEFAULT) if same_answer(got, -np.asarray(expected)) else None

    return [no_change, uphill]


# ----------------------------------------------------------------------------- running an optimizer
def describe_hyper(name, hyper):
    return f"{name}({', '.join(f'{k}={v:g}' for k, v in hyper.items())})"


def fetch_params(params, params0, name):
    """The student's params dict after a step, checking it still has the same keys."""
    current = params.fetch()
    if not isinstance(current, dict) or set(current) != set(params0):
        keys = sorted(current) if isinstance(current, dict) else type(current).__name__
        raise CheckFailure(
            f"{name}.step changed the keys of params: {keys} instead of {sorted(params0)}",
            hint=named(
                "optim.update_each_array_params_place_do_not",
                "update each array of params in place; do not add, remove or rename keys",
            ),
        )
    return current


def change(now, before):
    """now - before, or `now` itself when it is not a float array of the same shape."""
    if isinstance(now, np.ndarray) and now.shape == before.shape and np.issubdtype(now.dtype, np.floating):
        return now - before
    return now


def expect_grads_untouched(grads_ref, grads, name):
    after = grads_ref.fetch()
    for key, g in grads.items():
        kept = after.get(key) if isinstance(after, dict) else None
        if not (isinstance(kept, np.ndarray) and kept.shape == g.shape and np.array_equal(kept, g)):
            raise CheckFailure(
                f"{name}.step modified grads[{key!r}] in place",
                hint=named(
                    "optim.grads_belong_layers",
                    "the grads belong to the layers: compute g = g + weight_decay * p (a new array), "
                    "never g += ... or grads[key] = ...",
                ),
            )


def mistaken(hyper, mistake):
    """The hyperparameters a Mistake runs with."""
    wrong = {**hyper, **dict(mistake.hyper)}
    if mistake.swap:
        a, b = mistake.swap
        wrong[a], wrong[b] = hyper[b], hyper[a]
    return wrong


def run_steps(t, name, hyper, params0, grads_seq, situation, extra=()):
    """Run step once per grads dict and compare every parameter's change with the oracle's.

    params0: key -> array; grads_seq: list of dicts with the same keys and shapes;
    extra: more Mistakes to name in hints.
    """
    opt = make(t, name, **hyper)
    params = t.put(params0, "params")
    expected_run = expected("optim.simulate", name, hyper, params0, grads_seq)
    wrong = [
        (
            m.text,
            expected("optim.simulate", m.rule, mistaken(hyper, m), params0, grads_seq, m.shared, m.counter),
        )
        for m in list(extra) + MISTAKES[name]
    ]
    given = f"{describe_hyper(name, hyper)}, params {given_shapes(**params0)}, {situation}"
    before = params0
    for step, grads in enumerate(grads_seq, start=1):
        grads_ref = t.put(grads, "grads")
        opt.run("step", params, grads_ref)
        expect_grads_untouched(grads_ref, grads, name)
        now = fetch_params(params, params0, name)
        for key in params0:
            exp = expected_run[step][key] - expected_run[step - 1][key]
            hints = [mistake_hint(text, h[step][key] - h[step - 1][key], exp) for text, h in wrong]
            expect_array(
                change(now[key], before[key]),
                exp,
                f"{name}.step: the change of params[{key!r}] at step {step}",
                given,
                tol=STEP_TOL,
                hints=hints + generic_hints(name),
            )
        before = now


def random_params(rng, shapes):
    return {key: spread(rng, shape, 0.5, 2.0) for key, shape in shapes.items()}


def random_grads(rng, shapes, steps):
    return [random_params(rng, shapes) for _ in range(steps)]


# ----------------------------------------------------------------------------- the checks
def first_step(name):
    def run(t):
        rng = data_rng(600)
        shapes = {"W": (3, 4), "b": (4,)}
        params0 = random_params(rng, shapes)
        run_steps(t, name, HYPER[name], params0, random_grads(rng, shapes, 1), "one step")

    return run


def several_steps(name):
    def run(t):
        rng = data_rng(601)
        shapes = {"W1": (3, 4), "b1": (4,), "K": (2, 2, 3)}
        params0 = random_params(rng, shapes)
        grads = random_grads(rng, shapes, 4)
        run_steps(t, name, HYPER[name], params0, grads, "4 steps with changing grads")

    return run


def per_key_state(name):
    def run(t):
        rng = data_rng(602)
        shapes = {"a": (2, 3), "b": (2, 3)}
        params0 = random_params(rng, shapes)
        grads = random_grads(rng, shapes, 3)
        shared = Mistake(SHARED_STATE, name, shared=True)
        situation = "3 steps, two keys of the same shape with different grads"
        run_steps(t, name, HYPER[name], params0, grads, situation, extra=[shared])

    return run


def weight_decay(name):
    def run(t):
        rng = data_rng(603)
        shapes = {"W": (3, 4), "b": (4,)}
        params0 = random_params(rng, shapes)
        grads = random_grads(rng, shapes, 3)
        hyper = {**HYPER[name], "weight_decay": 0.2}
        run_steps(t, name, hyper, params0, grads, "3 steps with weight decay")

    return run


def zero_gradient(name):
    def run(t):
        rng = data_rng(604)
        shapes = {"W": (3, 4), "b": (4,)}
        params0 = random_params(rng, shapes)
        grads = random_grads(rng, shapes, 2)
        for g in grads:
            g["W"][0] = 0.0
            g["b"][1] = 0.0
        no_eps = Mistake(
            named(
                "optim.zero_gradient_gives_nan",
                "a zero gradient gives 0 / 0 = nan: add eps to the denominator (sqrt(h) + eps)",
            ),
            name,
            hyper=(("eps", 0.0),),
        )
        hyper = {**HYPER[name], "eps": 1e-8}
        situation = "2 steps where some gradient entries are exactly 0 (those must not move)"
        run_steps(t, name, hyper, params0, grads, situation, extra=[no_eps])

    return run


ROOT_FORM = {
    "AdaGrad": "sqrt(h) + eps",
    "RMSProp": "sqrt(h) + eps",
    "Adam": "sqrt(v_hat) + eps",
}


def eps_placement(name):
    def run(t):
        rng = data_rng(607)
        shapes = {"W": (3, 4), "b": (4,)}
        params0 = random_params(rng, shapes)
        grads = [{k: 1e-3 * g for k, g in step.items()} for step in random_grads(rng, shapes, 3)]
        hyper = {**HYPER[name], "eps": 1e-3}
        extra = [
            Mistake(
                named(
                    "optim.eps_inside_square_root",
                    f"eps is inside the square root: divide by {ROOT_FORM[name]} (the docstring's form, "
                    "PyTorch's); with small gradients sqrt(... + eps) takes far too small steps",
                ),
                f"{name}/eps inside sqrt",
            ),
            *[Mistake(EPS_IGNORED, name, hyper=(("eps", e),)) for e in (0.0, 1e-7, 1e-8, 1e-10)],
        ]
        if name == "Adam":
            extra.append(
                Mistake(
                    named(
                        "optim.eps_added_sqrt",
                        "eps is added to sqrt(v) before the bias correction (the lr_t form): "
                        "divide m_hat by sqrt(v_hat) + eps",
                    ),
                    "Adam/eps before correction",
                )
            )
        situation = "3 steps with gradients of about 1e-3 and eps = 1e-3 (where the place of eps matters)"
        run_steps(t, name, hyper, params0, grads, situation, extra=extra)

    return run


def in_place(name):
    def run(t):
        rng = data_rng(605)
        shapes = {"W": (3, 4), "b": (4,)}
        params0 = random_params(rng, shapes)
        held = {key: t.put(value, f"params[{key!r}]") for key, value in params0.items()}
        params = t.put(held, "params")  # the dict holds the very arrays of `held`
        opt = make(t, name, **HYPER[name])
        for grads in random_grads(rng, shapes, 2):
            opt.run("step", params, grads)
        current = fetch_params(params, params0, name)
        for key, start in params0.items():
            if isinstance(current[key], np.ndarray) and np.array_equal(current[key], start, equal_nan=True):
                raise CheckFailure(f"{name}.step did not change params[{key!r}]", hint=NO_CHANGE)
            if not np.array_equal(held[key].fetch(), current[key], equal_nan=True):
                raise CheckFailure(
                    f"{name}.step: the array that was params[{key!r}] before the step was not updated "
                    "(the layer holding it would not learn)",
                    hint=named(
                        "optim.parameters_were_replaced_new_arrays",
                        "parameters were replaced by new arrays: update them in place (p -= ...)",
                    ),
                )

    return run


def adam_bias_correction(t):
    rng = data_rng(606)
    shapes = {"W": (2, 3), "b": (3,)}
    params0 = random_params(rng, shapes)
    constant = random_params(rng, shapes)
    situation = "3 steps with the same grads (each bias-corrected step is about -lr * sign(grad))"
    run_steps(t, "Adam", HYPER["Adam"], params0, [constant] * 3, situation)


CHECKS = [
    ("first_step", first_step, ("SGD", *STATEFUL)),
    ("several_steps", several_steps, ("SGD", *STATEFUL)),
    ("per_key_state", per_key_state, STATEFUL),
    ("in_place", in_place, ("SGD", *STATEFUL)),
    ("weight_decay", weight_decay, ("SGD", *STATEFUL)),
    ("zero_gradient", zero_gradient, ADAPTIVE),
    ("eps_placement", eps_placement, ADAPTIVE),
]

for _check_name, _factory, _names in CHECKS:
    for _name in _names:
        check(_name, _check_name)(_factory(_name))
check("Adam", "bias_correction")(adam_bias_correction)
