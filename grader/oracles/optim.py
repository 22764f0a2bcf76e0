"""The optimizers' update rules, and the known-wrong rules whose results the hints recognise.

A rule is rule(p, g, state, t, **hyper) -> the new p. `state` is the dict kept for one key,
`t` counts the calls to step (1 on the first). Rules are named by strings (RULES), so that
the checks can ask for them as data: "SGD", "Momentum", ..., and "<rule>/<mistake>".
"""

import numpy as np

from . import oracle


def sgd_rule(p, g, state, t, lr, weight_decay=0.0):
    return p - lr * (g + weight_decay * p)


def momentum_rule(p, g, state, t, lr, momentum, weight_decay=0.0):
    state["v"] = momentum * state.get("v", 0.0) - lr * (g + weight_decay * p)
    return p + state["v"]


def adagrad_rule(p, g, state, t, lr, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["h"] = state.get("h", 0.0) + g * g
    return p - lr * g / (np.sqrt(state["h"]) + eps)


def rmsprop_rule(p, g, state, t, lr, alpha, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["h"] = alpha * state.get("h", 0.0) + (1 - alpha) * g * g
    return p - lr * g / (np.sqrt(state["h"]) + eps)


def adam_moments(g, state, beta1, beta2):
    state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    return state["m"], state["v"]


def adam_rule(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


# ----------------------------------------------------------------------------- known mistakes
def decay_flipped(rule):
    def wrong(p, g, state, t, weight_decay=0.0, **hyper):
        return rule(p, g - weight_decay * p, state, t, **hyper)

    return wrong


def decay_ignored(rule):
    def wrong(p, g, state, t, weight_decay=0.0, **hyper):
        return rule(p, g, state, t, **hyper)

    return wrong


def decay_decoupled(rule):
    def wrong(p, g, state, t, weight_decay=0.0, **hyper):
        return rule(p, g, state, t, **hyper) - hyper["lr"] * weight_decay * p

    return wrong


def momentum_no_velocity(p, g, state, t, lr, momentum, weight_decay=0.0):
    return sgd_rule(p, g, state, t, lr, weight_decay)


def momentum_dampened(p, g, state, t, lr, momentum, weight_decay=0.0):
    state["v"] = momentum * state.get("v", 0.0) - (1 - momentum) * lr * (g + weight_decay * p)
    return p + state["v"]


def adagrad_no_accumulation(p, g, state, t, lr, eps, weight_decay=0.0):
    return adagrad_rule(p, g, {}, t, lr, eps, weight_decay)


def adagrad_no_sqrt(p, g, state, t, lr, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["h"] = state.get("h", 0.0) + g * g
    return p - lr * g / (state["h"] + eps)


def rmsprop_alpha_swapped(p, g, state, t, lr, alpha, eps, weight_decay=0.0):
    return rmsprop_rule(p, g, state, t, lr, 1 - alpha, eps, weight_decay)


def rmsprop_as_adagrad(p, g, state, t, lr, alpha, eps, weight_decay=0.0):
    return adagrad_rule(p, g, state, t, lr, eps, weight_decay)


def rmsprop_no_one_minus_alpha(p, g, state, t, lr, alpha, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["h"] = alpha * state.get("h", 0.0) + g * g
    return p - lr * g / (np.sqrt(state["h"]) + eps)


def adam_no_correction(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta1, beta2)
    return p - lr * m / (np.sqrt(v) + eps)


def adam_corrects_m_only(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta1, beta2)
    return p - lr * m / (1 - beta1**t) / (np.sqrt(v) + eps)


def adam_corrects_v_only(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta1, beta2)
    return p - lr * m / (np.sqrt(v / (1 - beta2**t)) + eps)


def adam_betas_swapped(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["m"] = (1 - beta1) * state.get("m", 0.0) + beta1 * g
    state["v"] = (1 - beta2) * state.get("v", 0.0) + beta2 * g * g
    m_hat, v_hat = state["m"] / (1 - beta1**t), state["v"] / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def adagrad_eps_inside(p, g, state, t, lr, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["h"] = state.get("h", 0.0) + g * g
    return p - lr * g / np.sqrt(state["h"] + eps)


def rmsprop_eps_inside(p, g, state, t, lr, alpha, eps, weight_decay=0.0):
    g = g + weight_decay * p
    state["h"] = alpha * state.get("h", 0.0) + (1 - alpha) * g * g
    return p - lr * g / np.sqrt(state["h"] + eps)


def adam_eps_inside(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta1, beta2)
    return p - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps)


def adam_eps_before_correction(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta1, beta2)
    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return p - lr_t * m / (np.sqrt(v) + eps)


def adam_beta2_for_m(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = adam_moments(g + weight_decay * p, state, beta2, beta2)
    return p - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)


def adam_raw_gradient(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0):
    g = g + weight_decay * p
    _, v = adam_moments(g, state, beta1, beta2)
    return p - lr * g / (np.sqrt(v / (1 - beta2**t)) + eps)


def momentum_no_lr(p, g, state, t, lr, momentum, weight_decay=0.0):
    state["v"] = momentum * state.get("v", 0.0) - (g + weight_decay * p)
    return p + state["v"]


CORRECT = {
    "SGD": sgd_rule,
    "Momentum": momentum_rule,
    "AdaGrad": adagrad_rule,
    "RMSProp": rmsprop_rule,
    "Adam": adam_rule,
}
RULES = {
    **CORRECT,
    **{
        f"{name}/decay {how}": wrap(rule)
        for name, rule in CORRECT.items()
        for how, wrap in [
            ("flipped", decay_flipped),
            ("ignored", decay_ignored),
            ("decoupled", decay_decoupled),
        ]
    },
    "Momentum/no velocity": momentum_no_velocity,
    "Momentum/dampened": momentum_dampened,
    "Momentum/no lr": momentum_no_lr,
    "AdaGrad/eps inside sqrt": adagrad_eps_inside,
    "RMSProp/eps inside sqrt": rmsprop_eps_inside,
    "Adam/eps inside sqrt": adam_eps_inside,
    "Adam/eps before correction": adam_eps_before_correction,
    "Adam/beta2 for m": adam_beta2_for_m,
    "Adam/raw gradient": adam_raw_gradient,
    "AdaGrad/no accumulation": adagrad_no_accumulation,
    "AdaGrad/no sqrt": adagrad_no_sqrt,
    "RMSProp/alpha swapped": rmsprop_alpha_swapped,
    "RMSProp/as AdaGrad": rmsprop_as_adagrad,
    "RMSProp/no 1 - alpha": rmsprop_no_one_minus_alpha,
    "Adam/no correction": adam_no_correction,
    "Adam/m corrected only": adam_corrects_m_only,
    "Adam/v corrected only": adam_corrects_v_only,
    "Adam/betas swapped": adam_betas_swapped,
}


@oracle
def simulate(rule, hyper, params0, grads_seq, shared=False, counter="call"):
    """Parameters before and after each step of the rule named `rule` (a list of dicts, index 0 = params0).

    shared: one state for all keys (a mistake); counter: how t is counted,
    "call" (correct), "per_key", "zero" or "one" (never incremented) or "plus_one".
    """
    update = RULES[rule]
    params = {k: np.array(v, dtype=np.float64) for k, v in params0.items()}
    history, states, visits = [{k: v.copy() for k, v in params.items()}], {}, 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for step, step_grads in enumerate(grads_seq, start=1):
            for key in params:
                visits += 1
                t = {"call": step, "per_key": visits, "zero": 0, "one": 1, "plus_one": step + 1}[counter]
                state = states.setdefault(None if shared else key, {})
                params[key] = update(
                    params[key], np.asarray(step_grads[key], dtype=np.float64), state, t, **hyper
                )
            history.append({k: v.copy() for k, v in params.items()})
    return history
