"""Helpers shared by the checks: building layers with grader-chosen values, expected gradients."""

import functools
import weakref
from typing import NamedTuple

import numpy as np

from ..contract import need
from ..expect import GRAD_TOL, expect_array, expect_untouched, given_shapes
from ..expected import expected, provider
from ..hints import UNNAMED, Hint, crash_hint, mistake_of, named
from ..results import CheckFailure, name_crash, named_crash

EPS_IGNORED = named(
    "optim.eps_ignored",
    "the eps given to the constructor is not used: use self.eps",
)

SEED = 20261123  # batch grading may replace it with a per-run secret


def data_rng(k=0):
    """The grader's own random numbers (never the student's)."""
    return np.random.default_rng(SEED + k)


def judged_by_grader():
    """Whether live oracles answer (not a student kit nor its recording): learning checks then also
    judge the weights a student's fit learned with the grader's own forward or predict."""
    return provider().kind == "live"


def spread(rng, shape, low=0.1, high=2.0):
    """Random values with |v| in [low, high] and random signs: never near a ReLU kink."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def make(t, name, *args, **kwargs):
    """Check that `name` exists with the expected signature, then construct it."""
    need(t, name)
    return t.new(name, *args, **kwargs)


def make_with_params(t, name, params, *args, **kwargs):
    """make(), then write grader-chosen values into the layer's own params arrays (in place)."""
    need(t, name)
    layer, keys, shapes = t.new_filled(name, args, kwargs, "params", params)
    for key, value in params.items():
        if shapes[key] is None:
            raise CheckFailure(
                f"{name}.params has no key {key!r} (keys: {sorted(keys)})", hint=missing_key_hint(key, keys)
            )
        if shapes[key] != np.shape(value):
            raise CheckFailure(
                f"{name}.params[{key!r}] has shape {shapes[key]}, expected {np.shape(value)}",
                hint=named(
                    "common.create_params_shape",
                    f"create params[{key!r}] with shape {np.shape(value)}: "
                    + (
                        "a 1-d array, e.g. np.zeros(n)"
                        if np.ndim(value) == 1
                        else "see the docstring's shapes"
                    ),
                ),
            )
    return layer


def missing_key_hint(key, keys):
    """The hint for a params dict without `key`, whose keys are `keys`."""
    same_but_case = [k for k in keys if isinstance(k, str) and k.lower() == key.lower()]
    if same_but_case:
        return named(
            "common.keys_case_sensitive",
            f"keys are case-sensitive: name it {key!r}, not {same_but_case[0]!r}",
        )
    return named(
        "common.param_key_missing",
        f"store this parameter as params[{key!r}]: the grader and the optimizers look it up by that name",
    )


def expected_gradients(oracle, x, params, dout, which=None, settings=None):
    """Numerical gradients of sum(oracle(x, **params, **settings) * dout) w.r.t. x and every parameter.

    `oracle` names a registered oracle ("layers.affine"); with `which` ("x" or a params key)
    only that gradient is computed.
    """
    return expected("numeric.layer_gradients", oracle, x, params, dout, which, settings)


def run_layer(t, layer, x, dout, name):
    """forward(x) then backward(dout) through the target; checks neither modified its input."""
    out = layer.call("forward", x)
    expect_untouched(t, f"{name}.forward")
    dx = layer.call("backward", dout)
    expect_untouched(t, f"{name}.backward")
    return out, dx


class LayerRun(NamedTuple):
    """One forward and backward of a layer on grader-chosen values, as plain (read-only) values."""

    x: np.ndarray
    params: dict
    dout: np.ndarray
    out: object
    dx: object
    grads: object  # the layer's grads after backward, or None if reading them raised grads_error
    grads_error: Exception | None


# target -> {key: value} that checks may share while that implementation is graded (its code
# does not change meanwhile); keys start with what they are for
REMEMBERED = weakref.WeakKeyDictionary()


def remembered(t):
    """What the checks remembered about target `t` (a dict, kept as long as `t` lives)."""
    return REMEMBERED.setdefault(t, {})


def frozen(value):
    """`value` with its arrays (also inside dicts, lists, tuples) made read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for item in value.values():
            frozen(item)
    elif isinstance(value, list | tuple):
        for item in value:
            frozen(item)
    return value


def layer_run(t, name, build, case):
    """build(t, case) -> (layer Ref, x, params, dout), then forward, backward and the grads.

    Remembered per target, so the dx, dW and db checks of a layer share their runs; a run
    that fails (a wrong shape, a modified input, a crash) is not remembered.
    """
    memory, key = remembered(t), ("layer run", name, build, case, SEED)
    if key not in memory:
        layer, x, params, dout = build(t, case)
        out, dx = run_layer(t, layer, x, dout, name)
        try:
            grads, grads_error = layer.get("grads"), None
        except Exception as error:  # noqa: BLE001 - raised again by the checks that read grads
            grads, grads_error = None, error
        memory[key] = LayerRun(*frozen((x, params, dout, out, dx, grads)), grads_error)
    return memory[key]


def grads_of(run, which, name):
    """grads[which] of a LayerRun (raising what reading the grads raised)."""
    if run.grads_error is not None:
        raise run.grads_error
    grads = run.grads
    if not isinstance(grads, dict):
        raise CheckFailure(f"{name}.grads is a {type(grads).__name__}, expected a dict of arrays")
    return grads.get(which)


def check_gradient(t, name, build, oracle, cases, which, hints=()):
    """Compare one gradient (`which` is "x" or a params key) with the oracle's, over several cases.

    build(t, case) -> (layer Ref, x, params dict, dout); `oracle` names the oracle of the
    forward, called as oracle(x, **params).
    """
    for case in cases:
        x, params, dout, _, dx, _, _ = run = layer_run(t, name, build, case)
        expected = expected_gradients(oracle, x, params, dout, which)
        given = given_shapes(x=x, dout=dout) + (f", {case}" if isinstance(case, str) else "")
        if which == "x":
            got, what = dx, f"{name}.backward: dx"
        else:
            got, what = grads_of(run, which, name), f"{name}.backward: grads[{which!r}]"
        case_hints = [h(x=x, dout=dout, params=params) for h in hints]
        expect_array(got, expected[which], what, given, tol=GRAD_TOL, batch_size=x.shape[0], hints=case_hints)


# ----------------------------------------------------------------------------- blame upstream
def upstream_problem(t, check_id):
    """(hint or None, first message line) when check `check_id` fails on `t`, else None (remembered)."""
    from ..registry import CHECKS

    memory, key = remembered(t), ("upstream", check_id, SEED)
    if key not in memory:
        try:
            CHECKS[check_id].function(t)
            memory[key] = None
        except CheckFailure as failure:
            memory[key] = (failure.hint, failure.message.splitlines()[0])
        except NotImplementedError:
            memory[key] = None  # reported by that check itself
        except Exception as error:  # noqa: BLE001 - a crash there is that check's verdict
            memory[key] = (
                named_crash(error) or crash_hint(CHECKS[check_id].exercise, error),
                f"it crashes ({type(error).__name__})",
            )
    return memory[key]


def upstream_blame(t, check_ids):
    """The hint naming the first failing check of `check_ids`: its mistake, found by it."""
    for check_id in check_ids:
        problem = upstream_problem(t, check_id)
        if problem is None:
            continue
        hint, first_line = problem
        what = hint if hint else first_line
        return Hint(
            mistake_of(hint) or f"{check_id.lower()}_fails",
            f"{check_id} fails too, and this check relies on it: fix that first ({what})",
        )
    return None


def blaming(*upstream):
    """Decorator of a check that relies on other checks of its exercise (a fit on forward and backward):
    when it fails or crashes without a named mistake of its own and one of `upstream` fails, its hint
    names that check's mistake. Verdicts never change; only the hint does."""

    def decorate(function):
        @functools.wraps(function)
        def judged(t):
            try:
                return function(t)
            except CheckFailure as failure:
                if failure.hint is None or mistake_of(failure.hint) in UNNAMED:
                    failure.hint = upstream_blame(t, upstream) or failure.hint
                raise
            except NotImplementedError:
                raise
            except Exception as error:
                if named_crash(error) is None:
                    name_crash(error, upstream_blame(t, upstream))
                raise

        return judged

    return decorate
