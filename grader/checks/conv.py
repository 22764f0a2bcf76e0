"""Checks for Conv2d, MaxPool2d and AvgPool2d.

Expected values come from the oracles "conv.*" (a cross-correlation that loops over
kernel offsets, a max pool that loops over windows) and their float64 central-difference
gradients, through `expected`. Small inputs keep the numeric gradients fast.
"""

import contextlib
from typing import NamedTuple

import numpy as np

from ..expect import GRAD_TOL, expect_array, expect_untouched, given_shapes
from ..expected import expected, recording
from ..hints import FLOAT_AS_INT, mistake_of, named
from ..numeric import rel_error
from ..registry import check
from ..results import CheckFailure, name_crash
from ..target import Rng
from .common import (
    SEED,
    data_rng,
    grads_of,
    layer_run,
    make,
    make_with_params,
    remembered,
    run_layer,
    spread,
    upstream_blame,
)


def equals(got, value, tol=1e-6):
    """True when `got` has the shape of `value` and the same numbers."""
    if value is None or got is None or np.shape(got) != np.shape(value):
        return False
    return rel_error(got, value) <= tol


def case_seed(case):
    """A reproducible number for a case (unlike hash(), which varies between runs for None)."""
    return sum((i + 1) * 7**i * (v or 0) for i, v in enumerate(case)) % 997


def hint_when(candidate, text):
    """A hint that applies when the answer equals `candidate()` (computed only if the check fails)."""

    def hint(got, expected):
        return text if equals(got, candidate()) else None

    return hint


# ----------------------------------------------------------------------------- probes
# A case the code gets wrong is evidence; a simpler case that differs in one respect and that the
# code gets right names the respect. Probes run only after a failure (or a crash) of the case.
ONLY_SQUARE = named(
    "conv.height_width_mixed_up",
    "right only when H = W: height and width are mixed up somewhere "
    "(an output width computed from H, or a loop over H' where W' is meant)",
)
ONLY_ONE_SAMPLE = named(
    "conv.batch_not_covered",
    "right only for a batch of one: every sample must be used, and dW and db sum over all of them "
    "(+= in a loop over n, not =)",
)


def only_stride_divides(span, area="conv"):
    return named(
        f"{area}.right_only_when_stride_divides",
        f"right only when the stride divides {span}: the contract takes the floor, H' = ({span}) // S + 1, "
        "and the last rows/columns that fit no window are left out (no assert, round() or ceil; "
        "loop over H' and W' output positions)",
    )


class Probe(NamedTuple):
    """If the code gets every case of `right` right and none of `wrong`, `text` names its mistake."""

    right: tuple
    wrong: tuple
    text: str


def forward_first(forward_right, forward_check):
    """The `first` of probe_hint for a gradient: when the forward is already wrong on the case, the
    forward's own check names the mistake (a backward is judged against the right forward)."""

    def first(t, case):
        if forward_right(t, case):
            return None
        return upstream_blame(t, [forward_check])

    return first


def probe_hint(t, case, probes, right_for, first=None):
    """The text of the first of probes(case) whose evidence right_for(t, case) confirms, or None;
    `first(t, case)`, if given and not None, comes before every probe.

    While a kit is recorded, every probe case is judged (not only up to the first confirmed
    probe), so the kit holds the expected values of them all."""
    if recording():
        for right, wrong, _ in probes(case):
            for probe_case in (*right, *wrong):
                right_for(t, probe_case)
    hint = first(t, case) if first else None
    if hint:
        return hint
    for right, wrong, text in probes(case):
        if all(right_for(t, c) for c in right) and not any(right_for(t, c) for c in wrong):
            return text
    return None


def remembered_verdict(t, key, judge):
    """judge() -> bool, remembered per target; a crash or a failure counts as False."""
    memory, key = remembered(t), ("probe", *key, SEED)
    if key not in memory:
        try:
            memory[key] = bool(judge())
        except Exception:  # noqa: BLE001 - the variant is simply not right (time-outs still stop the check)
            memory[key] = False
    return memory[key]


def probing(t, case, probes, right_for, first=None):
    """The probes of `case` as a hint of expect_array (a callable of (got, expected))."""
    return lambda got, exp: probe_hint(t, case, probes, right_for, first)


@contextlib.contextmanager
def naming_crashes(t, case, probes, right_for, first=None):
    """A crash of student code in the block gets the probes' hint as its likely mistake."""
    try:
        yield
    except CheckFailure:
        raise
    except Exception as error:
        name_crash(error, probe_hint(t, case, probes, right_for, first))
        raise


# ============================================================================ Conv2d
class ConvCase(NamedTuple):
    n: int
    c: int  # in_channels
    f: int  # out_channels
    h: int
    w: int
    k: int  # kernel_size
    s: int  # stride
    p: int  # padding

    def settings(self):
        return f"in_channels={self.c}, out_channels={self.f}, kernel_size={self.k}, stride={self.s}, padding={self.p}"

    def out_size(self):
        return ((self.h + 2 * self.p - self.k) // self.s + 1, (self.w + 2 * self.p - self.k) // self.s + 1)


# Stride 1, no padding: several channels in and out, odd and non-square sizes, batch of 1, C == F.
CONV_BASIC = [
    ConvCase(2, 2, 3, 5, 6, 3, 1, 0),
    ConvCase(1, 3, 2, 4, 7, 2, 1, 0),
    ConvCase(2, 2, 2, 6, 5, 3, 1, 0),
]
# Padding 1 and 2, with an even kernel.
CONV_PADDED = [
    ConvCase(2, 2, 3, 5, 6, 3, 1, 1),
    ConvCase(1, 3, 2, 4, 5, 3, 1, 2),
    ConvCase(2, 2, 2, 5, 4, 2, 1, 1),
]
# Stride 2 and 3, stride != kernel, sizes where the last rows/columns fit no window.
CONV_STRIDED = [
    ConvCase(2, 2, 3, 7, 6, 3, 2, 0),
    ConvCase(1, 2, 3, 8, 7, 2, 3, 1),
    ConvCase(2, 3, 2, 6, 7, 3, 2, 1),
]
CONV_ALL = CONV_BASIC + CONV_PADDED + CONV_STRIDED


def build_conv(t, case, seed=0):
    """A Conv2d with grader-chosen asymmetric W and nonzero b, an input x and an upstream dout."""
    rng = data_rng(1000 + seed + case_seed(case))
    params = {"W": rng.standard_normal((case.f, case.c, case.k, case.k)), "b": spread(rng, case.f, 0.5, 2.0)}
    settings = {"stride": case.s, "padding": case.p, "rng": Rng(1)}
    layer = make_with_params(t, "Conv2d", params, case.c, case.f, case.k, **settings)
    x = rng.standard_normal((case.n, case.c, case.h, case.w))
    dout = rng.standard_normal((case.n, case.f, *case.out_size()))
    return layer, x, params, dout


# ----------------------------------------------------------------------------- forward
FLIPPED = named(
    "conv.kernel_flipped",
    "the kernel is flipped: this is cross-correlation, not convolution (use W[f, c, u, v] as is, no [::-1, ::-1])",
)


def forward_hints(case, x, W, b):
    """Known-wrong forwards. A candidate equal to the right answer (e.g. padding 1 when P = 1) never matches a failure."""
    s, p = case.s, case.p

    def size_mistake(got, expected):
        if np.shape(got) == np.shape(expected):
            return None
        if len(np.shape(got)) == 4 and sizes_mixed_up(np.shape(got), *case.out_size()):
            return SIZES_MIXED_UP
        return size_hint([(np.shape(got), case[3:5] + case[5:])], unique=True) or SIZE_WRONG

    return [
        size_mistake,
        hint_when(
            lambda: (
                expected("conv.forward", np.pad(x, ((0, 0), (0, 0), (2 * p, 0), (2 * p, 0))), W, b, s, 0)
                if p
                else None
            ),
            named(
                "conv.zeros_all_one_side",
                "the zeros are all on one side (top and left): pad P zeros before AND after each of H and W",
            ),
        ),
        hint_when(lambda: expected("conv.forward", x, W[:, :, ::-1, ::-1], b, s, p), FLIPPED),
        hint_when(
            lambda: expected("conv.forward", x, W, 0 * b, s, p),
            named("conv.bias_b_not_added", "the bias b is not added"),
        ),
        hint_when(
            lambda: expected("conv.forward", x, W, case.c * b, s, p),
            named(
                "conv.bias_added_once_per_input_channel",
                f"the bias is added once per input channel ({case.c} times): add b[f] once to each output value",
            ),
        ),
        hint_when(
            lambda: expected("conv.forward", x, W, b, s, 1),
            named(
                "conv.padding_hard_coded", "the padding is hard-coded to 1: pad by self.padding on every side"
            ),
        ),
        hint_when(
            lambda: expected("conv.forward", x, W, b, s, 0),
            named(
                "conv.padding_ignored",
                f"the padding is ignored: pad x with padding={p} zeros on every side of H and W first",
            ),
        ),
        hint_when(
            lambda: expected("conv.forward", x, W, b, 1, p),
            named(
                "conv.stride_ignored",
                "the stride is ignored: output (i, j) uses the window starting at (i * stride, j * stride)",
            ),
        ),
        hint_when(
            lambda: expected("conv.forward", x, W, b, 1, p)[:, :, : case.out_size()[0], : case.out_size()[1]],
            named(
                "conv.wrong_stride_arithmetic",
                "wrong stride arithmetic: window (i, j) starts at (i * stride, j * stride), not at (i, j)",
            ),
        ),
    ]


def conv_forward_cases(t, cases, seed=0, note=""):
    """Compare Conv2d.forward with the oracle on each case (`note` is added to the description)."""
    right_for = conv_right_for(None)
    for case in cases:
        with naming_crashes(t, case, conv_probes, right_for):
            layer, x, params, _ = build_conv(t, case, seed=seed)
            out = layer.call("forward", x)
        expect_untouched(t, "Conv2d.forward")
        expect_array(
            out,
            expected("conv.forward", x, params["W"], params["b"], case.s, case.p),
            "Conv2d.forward output",
            f"{given_shapes(x=x, W=params['W'])}, {case.settings()}{note}",
            hints=forward_hints(case, x, **params),
            probes=[probing(t, case, conv_probes, right_for)],
        )


@check("Conv2d", "forward")
def conv_forward(t):
    conv_forward_cases(t, CONV_ALL, note=" (random asymmetric W, nonzero b)")


# ----------------------------------------------------------------------------- output size
SIZE_CASES = [  # (H, W, K, S, P): remainders, stride > kernel, output 1 x 1, kernel 1
    (5, 6, 3, 1, 0),
    (6, 7, 3, 2, 1),
    (7, 5, 2, 3, 2),
    (4, 9, 4, 2, 1),
    (3, 3, 5, 1, 1),
    (8, 5, 3, 3, 0),
    (5, 4, 1, 2, 0),
]

ROUNDED = (
    named("conv.size_rounded_up", "the output size is rounded up: use floor division //"),
    named("conv.size_rounded", "the output size is rounded (round()): use floor division //"),
)
SIZE_MISTAKES = [  # size formula -> what it forgets
    (
        lambda n, k, s, p: (n - k) // s + 1,
        named("conv.output_size_ignores_padding", "the output size ignores the padding"),
    ),
    (
        lambda n, k, s, p: (n + p - k) // s + 1,
        named(
            "conv.padding_added_one_side_only",
            "the padding is added on one side only (or counted once): P zeros go before and after, H + 2P",
        ),
    ),
    (
        lambda n, k, s, p: (n + 2 - k) // s + 1,
        named("conv.padding_hard_coded", "the padding is hard-coded to 1: use self.padding"),
    ),
    (lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1, ROUNDED[0]),
    (lambda n, k, s, p: round((n + 2 * p - k) / s) + 1, ROUNDED[1]),
    (
        lambda n, k, s, p: n + 2 * p - k + 1,
        named("conv.output_size_ignores_stride", "the output size ignores the stride"),
    ),
    (
        lambda n, k, s, p: (n + 2 * p - k) // s,
        named("conv.output_size_misses_plus_one", "the output size misses the + 1"),
    ),
    (
        lambda n, k, s, p: (n + 2 * p - k + 1) // s,
        named(
            "conv.added_before_division_stride",
            "the + 1 is added before the division by the stride: divide (H + 2P - K) by S first, then add 1",
        ),
    ),
]
SIZE_FORMULA = "H' = (H + 2P - K) // S + 1 (and the same for W')"


SIZE_WRONG = named("conv.output_size_wrong", f"check the output-size formula {SIZE_FORMULA}")


def size_hint(seen, unique=False):
    """The size mistake that explains every output shape seen: [(shape, (h, w, k, s, p))]
    (a size the formula makes negative comes out of a slice as 0). With `unique`, only a mistake
    that no other one explains as well, else None."""
    explaining = [
        text
        for formula, text in SIZE_MISTAKES
        if all(
            shape is not None
            and len(shape) == 4
            and tuple(shape[2:]) == (max(formula(h, k, s, p), 0), max(formula(w, k, s, p), 0))
            for shape, (h, w, k, s, p) in seen
        )
    ]
    if unique:
        if set(explaining) == set(
            ROUNDED
        ):  # round() and ceil give the same size here; the advice is the same
            explaining = [ROUNDED[1]]
        return (
            named(mistake_of(explaining[0]), f"{explaining[0]}: {SIZE_FORMULA}")
            if len(explaining) == 1
            else None
        )
    return named(mistake_of(explaining[0]), f"{explaining[0]}: {SIZE_FORMULA}") if explaining else SIZE_WRONG


@check("Conv2d", "output_shape")
def conv_output_shape(t):
    """Every case runs first; the first wrong shape is reported with the mistake that explains them all."""
    rng = data_rng(1)
    seen, wrong = [], None
    for h, w, k, s, p in SIZE_CASES:
        layer = make(t, "Conv2d", 2, 3, k, stride=s, padding=p, rng=Rng(2))
        x = rng.standard_normal((2, 2, h, w))
        settings = f"x of shape {x.shape}, kernel_size={k}, stride={s}, padding={p}"
        if recording():  # a crash below is named by this case's probes: a kit must hold their answers
            probe_hint(t, ConvCase(2, 2, 3, h, w, k, s, p), conv_probes, conv_right_for(None))
        try:
            out = layer.call("forward", x)
        except Exception as error:  # noqa: BLE001 - (a time-out is a BaseException: it passes)
            if wrong is not None:  # a wrong shape came first: report it, judged on the cases so far
                break
            if not (isinstance(error, TypeError) and any(text in str(error) for text in FLOAT_AS_INT)):
                with naming_crashes(t, ConvCase(2, 2, 3, h, w, k, s, p), conv_probes, conv_right_for(None)):
                    raise
            raise CheckFailure(
                f"Conv2d.forward raised TypeError: {error} (for {settings})",
                hint=named(
                    "conv.size_float_division",
                    f"a float where an int is needed: compute the output size with floor division //, {SIZE_FORMULA}",
                ),
            ) from None
        expected = (2, 3, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        got = np.shape(out) if isinstance(out, np.ndarray) else None
        seen.append((got, (h, w, k, s, p)))
        if got != expected and wrong is None:
            wrong = f"Conv2d.forward output has shape {got}, expected {expected} for {settings}"
        elif got == expected and not np.issubdtype(out.dtype, np.floating):
            raise CheckFailure(f"Conv2d.forward output has dtype {out.dtype}, expected a float dtype")
    if wrong:
        shaped = all(shape is not None and len(shape) == 4 for shape, _ in seen)
        raise CheckFailure(wrong, hint=size_hint(seen) if shaped else None)


# ----------------------------------------------------------------------------- gradients
def expected_conv_gradient(case, x, params, dout, which):
    """Float64 central differences of sum(conv.forward(...) * dout) w.r.t. x, W or b."""
    settings = {"stride": case.s, "padding": case.p}
    return expected("numeric.layer_gradients", "conv.forward", x, params, dout, which, settings)[which]


ONLY_PADDED = named(
    "conv.wrong_without_padding",
    "right only when padding > 0: with padding = 0 a crop like dx[:, :, p:-p, p:-p] is empty; "
    "crop with dx[:, :, P:P + H, P:P + W]",
)
ONLY_PADDING_1 = named(
    "conv.padding_hard_coded_1",
    "right only when padding = 1: the padding is hard-coded to 1 somewhere: use self.padding",
)
ONLY_UNPADDED = named(
    "conv.padding_mishandled",
    "right only when padding = 0: pad x with P zeros on every side of H and W in forward (np.pad), "
    "and crop dx back with dx[:, :, P:P + H, P:P + W] in backward",
)
ONLY_STRIDE_1 = named(
    "conv.stride_mishandled",
    "right only with stride 1: window (i, j) starts at (i * stride, j * stride), "
    "and the output size divides by the stride",
)


def conv_probes(case):
    """Probes of `case`: cases that differ from it in one respect (Probe)."""
    n, _, _, h, w, k, s, p = case
    rest_h, rest_w = (h + 2 * p - k) % s, (w + 2 * p - k) % s
    fits = lambda padding: min(h, w) + 2 * padding >= k  # noqa: E731
    at = lambda padding: (case._replace(p=padding),)  # noqa: E731
    candidates = [
        (h != w, Probe((case._replace(w=h), case._replace(h=w)), (), ONLY_SQUARE)),
        (
            bool(rest_h or rest_w),
            Probe((case._replace(h=h - rest_h, w=w - rest_w),), (), only_stride_divides("H + 2P - K")),
        ),
        (p == 0 and fits(2), Probe(at(1) + at(2), (), ONLY_PADDED)),
        (p != 1 and fits(1) and fits(2), Probe(at(1), at(2) if p == 0 else at(0), ONLY_PADDING_1)),
        (p > 0 and fits(0), Probe(at(0), (), ONLY_UNPADDED)),
        (n > 1, Probe((case._replace(n=1),), (), ONLY_ONE_SAMPLE)),
        (s > 1, Probe((case._replace(s=1),), (), ONLY_STRIDE_1)),
    ]
    return [candidate for applies, candidate in candidates if applies]


def conv_is_right(t, case, which):
    """Whether the student's Conv2d gets `case` right: its forward (which=None) or one gradient."""
    if which is None:
        layer, x, params, _ = build_conv(t, case)
        return equals(
            layer.call("forward", x), expected("conv.forward", x, params["W"], params["b"], case.s, case.p)
        )
    run = layer_run(t, "Conv2d", build_conv, case)
    got = run.dx if which == "x" else grads_of(run, which, "Conv2d")
    return equals(got, expected_conv_gradient(case, run.x, run.params, run.dout, which), GRAD_TOL)


def conv_right_for(which):
    """right_for(t, case) of the probes, for the forward (which=None) or one gradient."""
    return lambda t, case: remembered_verdict(
        t, ("Conv2d", which, case), lambda: conv_is_right(t, case, which)
    )


CONV_FORWARD_FIRST = forward_first(conv_right_for(None), "Conv2d.forward")


def dx_hints(case, x, params, dout):
    """Known-wrong dx: padding not cropped or cropped wrong, kernel flipped, stride ignored."""
    W, p, s, (h, w) = params["W"], case.p, case.s, x.shape[2:]
    padded_shape = (case.n, case.c, h + 2 * p, w + 2 * p)

    def padded():
        return expected("conv.padded_dx", dout, W, s, padded_shape)

    def empty_crop(got, expected):
        if p == 0 and np.size(got) == 0:
            return named(
                "conv.crop_minus_p_empty",
                "dx[:, :, p:-p, p:-p] is empty when padding = 0: crop with dx[:, :, p:p + H, p:p + W]",
            )
        return None

    def inner_windows_only():
        if not p:
            return None
        window_rows, window_cols = dout.shape[2:]  # H', W'
        rows = (np.arange(window_rows) * s >= p) & (np.arange(window_rows) * s + case.k <= p + h)
        cols = (np.arange(window_cols) * s >= p) & (np.arange(window_cols) * s + case.k <= p + w)
        inner = dout * (rows[:, None] & cols[None, :])
        return expected("conv.padded_dx", inner, W, s, padded_shape)[:, :, p : p + h, p : p + w]

    return [
        empty_crop,
        hint_when(
            inner_windows_only,
            named(
                "conv.windows_that_overlap_padding_skipped_dx",
                "windows that overlap the padding are skipped in dx: every window sends dout * W back, "
                "onto the padded dx; crop the padding off at the end",
            ),
        ),
        hint_when(
            padded,
            named(
                "conv.dx_has_padded_shape",
                f"dx has the padded shape: crop the {p} padding rows/columns off every side (dx[:, :, P:P + H, P:P + W])",
            ),
        ),
        hint_when(
            lambda: padded()[:, :, :h, :w] if p else None,
            named(
                "conv.dx_cropped_wrong_place",
                "dx is cropped at the wrong place: remove P rows/columns on EVERY side (dx[:, :, P:P + H, P:P + W])",
            ),
        ),
        hint_when(
            lambda: expected("conv.padded_dx", dout, W[:, :, ::-1, ::-1], s, padded_shape)[
                :, :, p : p + h, p : p + w
            ],
            named(
                "conv.dx_uses_flipped_kernel",
                "dx uses the flipped kernel: each dout[n, f, i, j] * W[f] (not flipped) goes back onto its window",
            ),
        ),
        hint_when(
            lambda: (
                expected("conv.padded_dx", dout, W, 1, padded_shape)[:, :, p : p + h, p : p + w]
                if s > 1
                else None
            ),
            named(
                "conv.backward_pass_ignores_stride",
                "the backward pass ignores the stride: the window of output (i, j) starts at (i * stride, j * stride)",
            ),
        ),
    ]


LAST_SAMPLE_ONLY = (
    "{grad} holds the last sample's contribution only: sum it over every sample of the batch "
    "(+= in the loop over n, not =)"
)


def dw_hints(case, x, params, dout):
    """Known-wrong dW: channel axes swapped (or a (C, F) result reshaped to (F, C)), kernel flipped, stride ignored."""

    def swapped():
        return expected("conv.dw", x, dout, case.k, case.s, case.p).transpose(1, 0, 2, 3)

    swap_text = named(
        "conv.dw_has_channel_axes_swapped",
        "dW has its channel axes swapped: grads['W'][f, c] pairs output channel f with input channel c, "
        "shape (F, C, K, K); a (C, F, K, K) result must be transposed, not reshaped",
    )
    return [
        hint_when(
            lambda: expected("conv.dw", x[-1:], dout[-1:], case.k, case.s, case.p) if case.n > 1 else None,
            named("conv.dw_last_sample_only", LAST_SAMPLE_ONLY.format(grad="dW")),
        ),
        hint_when(swapped, swap_text),
        hint_when(lambda: swapped().reshape(case.f, case.c, case.k, case.k), swap_text),
        hint_when(
            lambda: expected("conv.dw", x, dout, case.k, case.s, case.p)[:, :, ::-1, ::-1],
            named(
                "conv.dw_flipped", "dW is flipped ([::-1, ::-1]): this is cross-correlation, not convolution"
            ),
        ),
        hint_when(
            lambda: expected("conv.dw", x, dout, case.k, 1, case.p) if case.s > 1 else None,
            named(
                "conv.backward_pass_ignores_stride",
                "the backward pass ignores the stride: the window of output (i, j) starts at (i * stride, j * stride)",
            ),
        ),
    ]


def db_hints(case, x, params, dout):
    summed = expected("conv.db", dout)

    def shape_hint(got, expected):
        if np.shape(got) != (case.f,):
            return named(
                "conv.db_not_summed_over_n_h_w",
                f"db not summed over N, H', W': db[f] = dout[:, f].sum(), shape ({case.f},)",
            )
        return None

    return [
        shape_hint,
        hint_when(
            lambda: expected("conv.db", dout[-1:]) if case.n > 1 else None,
            named("conv.db_last_sample_only", LAST_SAMPLE_ONLY.format(grad="db")),
        ),
        hint_when(
            lambda: case.f * summed,
            named(
                "conv.db_multiplied_number_output_channels",
                f"db is multiplied by the number of output channels ({case.f}): db[f] = dout[:, f].sum(), once",
            ),
        ),
        hint_when(
            lambda: case.c * summed,
            named(
                "conv.db_multiplied_number_input_channels",
                f"db is multiplied by the number of input channels ({case.c}): the bias is added once per output value",
            ),
        ),
        hint_when(
            lambda: summed / (dout.shape[2] * dout.shape[3]),
            named(
                "conv.db_averaged_over_h_w",
                "db is averaged over H', W': it should be summed over N, H' and W'",
            ),
        ),
    ]


def conv_gradient(t, cases, which, hints):
    """Compare dx (which="x") or grads[which] with the oracle's numeric gradient on each case."""
    right_for = conv_right_for(which)
    for case in cases:
        with naming_crashes(t, case, conv_probes, right_for, CONV_FORWARD_FIRST):
            x, params, dout, _, dx, _, _ = run = layer_run(t, "Conv2d", build_conv, case)
            if which == "x":
                got, what = dx, "Conv2d.backward: dx"
            else:
                got, what = grads_of(run, which, "Conv2d"), f"Conv2d.backward: grads[{which!r}]"
        expect_array(
            got,
            expected_conv_gradient(case, x, params, dout, which),
            what,
            f"{given_shapes(x=x, dout=dout)}, {case.settings()}",
            tol=GRAD_TOL,
            batch_size=case.n,
            hints=hints(case, x, params, dout),
            probes=[probing(t, case, conv_probes, right_for, CONV_FORWARD_FIRST)],
        )


@check("Conv2d", "backward_dx")
def conv_backward_dx(t):
    conv_gradient(t, CONV_BASIC, "x", dx_hints)


@check("Conv2d", "backward_dW")
def conv_backward_dw(t):
    conv_gradient(t, CONV_BASIC, "W", dw_hints)


@check("Conv2d", "backward_db")
def conv_backward_db(t):
    conv_gradient(t, CONV_BASIC + CONV_STRIDED[:1], "b", db_hints)


@check("Conv2d", "backward_padding")
def conv_backward_padding(t):
    conv_gradient(t, CONV_PADDED, "x", dx_hints)
    conv_gradient(t, CONV_PADDED, "W", dw_hints)


@check("Conv2d", "backward_stride")
def conv_backward_stride(t):
    conv_gradient(t, CONV_STRIDED, "x", dx_hints)
    conv_gradient(t, CONV_STRIDED, "W", dw_hints)


# ----------------------------------------------------------------------------- side effects
@check("Conv2d", "no_mutation")
def conv_no_mutation(t):
    for case in (CONV_BASIC[0], CONV_STRIDED[2]):
        with naming_crashes(t, case, conv_probes, conv_right_for("x"), CONV_FORWARD_FIRST):
            layer, x, _, dout = build_conv(t, case, seed=1)
            run_layer(t, layer, x, dout, "Conv2d")


SECOND_CALL_DIFFERS = named(
    "conv.second_backward_gives_another_result",
    "a second backward gives another result: backward must not change what forward stored "
    "(e.g. write into the cached padded input)",
)


@check("Conv2d", "backward_twice")
def conv_backward_twice(t):
    case = CONV_STRIDED[2]
    with naming_crashes(t, case, conv_probes, conv_right_for("x"), CONV_FORWARD_FIRST):
        layer, x, params, dout = build_conv(t, case, seed=2)
        layer.call("forward", x)
        first = [layer.call("backward", dout), layer.get("grads")]
        after_first = layer.get("params")
        second = [layer.call("backward", dout), layer.get("grads")]
    for key in ("W", "b"):
        if not equals(after_first.get(key), params[key], 0):
            raise CheckFailure(
                f"Conv2d.backward changed params[{key!r}]",
                hint=named(
                    "conv.backward_must_not_modify_parameters",
                    "backward must not modify the parameters (e.g. flip a copy of W, not W in place)",
                ),
            )
    for key in ("W", "b"):
        expect_array(
            second[1].get(key),
            first[1].get(key),
            f"Conv2d.backward: grads[{key!r}] on a second backward with the same dout",
            case.settings(),
            hints=[
                lambda got, exp: (
                    named(
                        "conv.gradients_accumulate_across_backward_calls",
                        "gradients accumulate across backward calls: assign grads, do not add to them",
                    )
                    if equals(got, 2 * np.asarray(exp))
                    else None
                ),
                lambda got, exp: SECOND_CALL_DIFFERS,
            ],
        )
    expect_array(
        second[0],
        first[0],
        "Conv2d.backward: dx on a second call",
        case.settings(),
        hints=[lambda got, exp: SECOND_CALL_DIFFERS],
    )


# ============================================================================ MaxPool2d
class PoolCase(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    k: int  # kernel_size
    s: int | None  # stride; None means the default (= kernel_size)

    @property
    def stride(self):
        return self.k if self.s is None else self.s

    def settings(self):
        stride = f"stride=None (defaults to {self.k})" if self.s is None else f"stride={self.s}"
        return f"kernel_size={self.k}, {stride}"


POOL_BASIC = [  # stride = kernel (default), non-square, trailing rows/columns in no window
    PoolCase(2, 2, 6, 8, 2, None),
    PoolCase(1, 3, 5, 7, 3, None),
    PoolCase(2, 2, 4, 6, 2, 2),
]
POOL_OVERLAP = [  # stride < kernel: windows share cells
    PoolCase(2, 2, 7, 5, 3, 2),
    PoolCase(2, 1, 5, 6, 3, 1),
    PoolCase(1, 2, 6, 7, 2, 1),
]
POOL_GAPS = [  # stride > kernel: some cells are in no window
    PoolCase(1, 2, 7, 8, 2, 3),
    PoolCase(2, 2, 9, 7, 2, 4),
    PoolCase(2, 1, 8, 7, 3, 4),
]
POOL_ALL = POOL_BASIC + POOL_OVERLAP + POOL_GAPS


def distinct_values(rng, shape):
    """Values at least 0.07 apart (no ties, so the max is unique) with many negatives; x[0, 0] all negative."""
    size = int(np.prod(shape))
    x = ((rng.permutation(size) - 0.6 * size) * 0.1 + rng.uniform(0, 0.03, size)).reshape(shape)
    x[0, 0] -= x[0, 0].max() + 0.5
    return x


def build_pool(t, case, seed=0, name="MaxPool2d"):
    """(the student's pooling layer `name`, x, dout) of `case`."""
    rng = data_rng(2000 + seed + case_seed(case))
    layer = make(t, name, case.k) if case.s is None else make(t, name, case.k, stride=case.s)
    x = distinct_values(rng, (case.n, case.c, case.h, case.w))
    out_h, out_w = (case.h - case.k) // case.stride + 1, (case.w - case.k) // case.stride + 1
    return layer, x, spread(rng, (case.n, case.c, out_h, out_w), 0.5, 2.0)


STRIDE_IGNORED = named(
    "conv.stride_ignored", "the stride is ignored: window (i, j) starts at (i * stride, j * stride)"
)


ONLY_STRIDE_K = named(
    "pool.stride_mishandled",
    "right only when stride = kernel_size: window (i, j) starts at (i * stride, j * stride), "
    "in forward and in backward; a window's flat argmax unravels with the kernel size, divmod(a, K), "
    "not the stride; where windows overlap their gradients add up (+=)",
)


def pool_probes(case):
    """Probes of `case`: cases that differ from it in one respect (Probe)."""
    n, _, h, w, k, _ = case
    s = case.stride
    rest_h, rest_w = (h - k) % s, (w - k) % s
    candidates = [
        (h != w, Probe((case._replace(w=h), case._replace(h=w)), (), ONLY_SQUARE)),
        (
            bool(rest_h or rest_w),
            Probe((case._replace(h=h - rest_h, w=w - rest_w),), (), only_stride_divides("H - K", "pool")),
        ),
        (s != k, Probe((case._replace(s=None),), (), ONLY_STRIDE_K)),
        (
            n > 1,
            Probe(
                (case._replace(n=1),),
                (),
                "right only for a batch of one: every sample of the batch must be pooled",
            ),
        ),
    ]
    return [candidate for applies, candidate in candidates if applies]


# name -> (its oracle, the oracle's names of kernel size and stride); both pooling layers share the cases
POOL_ORACLES = {
    "MaxPool2d": ("conv.max_pool", ("kernel_size", "stride")),
    "AvgPool2d": ("conv.avg_pool", ("k", "s")),
}


def pool_output(name, x, case):
    """The expected output of pooling layer `name` on x for `case`."""
    return expected(POOL_ORACLES[name][0], x, case.k, case.stride)


def pool_dx(name, x, dout, case):
    """The float64 central-difference dx of pooling layer `name` for `case`."""
    oracle, (kernel, stride) = POOL_ORACLES[name]
    settings = {kernel: case.k, stride: case.stride}
    return expected("numeric.layer_gradients", oracle, x, {}, dout, "x", settings)["x"]


def pool_is_right(t, case, which, name):
    """Whether the student's pooling layer `name` gets `case` right: its forward (which=None) or dx ("x")."""
    layer, x, dout = build_pool(t, case, name=name)
    if which is None:
        return equals(layer.call("forward", x), pool_output(name, x, case))
    _, dx = run_layer(t, layer, x, dout, name)
    return equals(dx, pool_dx(name, x, dout, case), GRAD_TOL)


def pool_right_for(which, name="MaxPool2d"):
    """right_for(t, case) of the probes, for the forward (which=None) or dx (which="x") of `name`."""
    return lambda t, case: remembered_verdict(
        t, (name, which, case), lambda: pool_is_right(t, case, which, name)
    )


POOL_FORWARD_FIRST = forward_first(pool_right_for(None), "MaxPool2d.forward")


POOL_SIZE_FORMULA = "H' = (H - K) // S + 1 (and the same for W')"
POOL_SIZE_MISTAKES = [  # size formula -> what it forgets
    (lambda n, k, s: n // k, named("pool.output_size_ignores_stride", "the output size ignores the stride")),
    (
        lambda n, k, s: (n - k) // k + 1,
        named("pool.output_size_ignores_stride", "the output size ignores the stride"),
    ),
    (
        lambda n, k, s: n - k + 1,
        named("pool.output_size_ignores_stride", "the output size ignores the stride"),
    ),
    (
        lambda n, k, s: n // s,
        named("pool.output_size_ignores_kernel", "the output size ignores the kernel size"),
    ),
    (
        lambda n, k, s: -(-n // s),
        named("pool.output_size_ignores_kernel", "the output size ignores the kernel size"),
    ),
    (
        lambda n, k, s: (n - k) // s,
        named("pool.output_size_misses_plus_one", "the output size misses the + 1"),
    ),
    (
        lambda n, k, s: -(-(n - k) // s) + 1,
        named("pool.output_size_rounded", "the output size is rounded up"),
    ),
    (lambda n, k, s: round((n - k) / s) + 1, named("pool.output_size_rounded", "the output size is rounded")),
]


POOL_SIZE_WRONG = named("pool.output_size_wrong", f"check the output-size formula {POOL_SIZE_FORMULA}")


def pool_output_shapes(t):
    """[(shape of the student's MaxPool2d output, case)] over POOL_ALL (remembered; crashes left out)."""
    memory, key = remembered(t), ("pool output shapes", SEED)
    if key not in memory:
        seen = []
        for case in POOL_ALL:
            try:
                layer, x, _ = build_pool(t, case)
                seen.append((np.shape(layer.call("forward", x)), case))
            except Exception:  # noqa: BLE001 - a crash says nothing about the size formula
                continue
        memory[key] = seen
    return memory[key]


SIZES_MIXED_UP = named(
    "conv.height_width_mixed_up",
    "the output's height and width are mixed up: H' comes from H and W' from W (an output width "
    "computed from H, or the two swapped)",
)


def sizes_mixed_up(shape, right_h, right_w):
    """Whether an output (.., H', W') has H' and W' built from the wrong axis (and is not right)."""
    mixed = {(right_h, right_h), (right_w, right_w), (right_w, right_h)} - {(right_h, right_w)}
    return tuple(shape[2:]) in mixed


def pool_size_hint(t):
    """The size mistake that alone explains every output shape of the student's MaxPool2d, or None."""
    seen = [(shape, case) for shape, case in pool_output_shapes(t) if len(shape) == 4]
    if not seen:
        return None
    out = lambda n, c: (n - c.k) // c.stride + 1  # noqa: E731
    wrong = [(shape, c) for shape, c in seen if tuple(shape[2:]) != (out(c.h, c), out(c.w, c))]
    if wrong and all(sizes_mixed_up(shape, out(c.h, c), out(c.w, c)) for shape, c in wrong):
        return SIZES_MIXED_UP
    explaining = {
        mistake_of(text): text
        for formula, text in POOL_SIZE_MISTAKES
        if all(
            tuple(shape[2:]) == (formula(c.h, c.k, c.stride), formula(c.w, c.k, c.stride))
            for shape, c in seen
        )
    }
    if len(explaining) != 1:
        return None
    text = next(iter(explaining.values()))
    return named(mistake_of(text), f"{text}: {POOL_SIZE_FORMULA}")


def pool_forward_hints(t, case, x):
    k, s = case.k, case.stride
    return [
        lambda got, exp: None if np.shape(got) == np.shape(exp) else pool_size_hint(t) or POOL_SIZE_WRONG,
        hint_when(
            lambda: np.maximum(expected("conv.max_pool", x, k, s), 0),
            named(
                "conv.windows_whose_values_all_negative_give",
                "windows whose values are all negative give 0: start the running max at -inf "
                "(or at the window's first value), not at 0",
            ),
        ),
        hint_when(
            lambda: expected("conv.avg_pool", x, k, s),
            named("conv.window_mean_taken", "the window mean is taken: max pooling keeps the maximum"),
        ),
        hint_when(lambda: expected("conv.max_pool", x, k, k) if s != k else None, STRIDE_IGNORED),
        hint_when(lambda: expected("conv.max_pool", x, k, 1) if s != 1 else None, STRIDE_IGNORED),
    ]


def pool_forward_cases(t, cases, seed=0, note=""):
    """Compare MaxPool2d.forward with the oracle on each case (`note` is added to the description)."""
    right_for = pool_right_for(None)
    for case in cases:
        with naming_crashes(t, case, pool_probes, right_for):
            layer, x, _ = build_pool(t, case, seed=seed)
            out = layer.call("forward", x)
        expect_untouched(t, "MaxPool2d.forward")
        expect_array(
            out,
            pool_output("MaxPool2d", x, case),
            "MaxPool2d.forward output",
            f"{given_shapes(x=x)}, {case.settings()}{note}",
            hints=pool_forward_hints(t, case, x),
            probes=[probing(t, case, pool_probes, right_for)],
        )


@check("MaxPool2d", "forward")
def pool_forward(t):
    pool_forward_cases(t, POOL_ALL, note=" (x[0, 0] is all negative)")


def pool_backward_hints(case, x, dout):
    k, s = case.k, case.stride
    _, count = expected("conv.max_pool_route", x, dout, k, s)

    def non_max(got, expected):
        got = np.asarray(got, dtype=float)
        if got.shape == x.shape and np.any(np.abs(got[count == 0]) > 1e-6 * np.abs(dout).max()):
            return named(
                "conv.max_pool_gradient_reached_non_max_cells",
                "max-pool gradient reached non-max cells: only the maximum of each window receives its dout",
            )
        return None

    def overwritten(got, expected):
        got = np.asarray(got, dtype=float)
        if got.shape != x.shape or not np.any(count > 1):
            return None
        single = count <= 1
        if rel_error(got[single], expected[single]) < 1e-6 and rel_error(got, expected) > 1e-6:
            return named(
                "conv.overlapping_windows_must_add_their_gradients",
                "overlapping windows must add their gradients: a cell that is the max of several windows gets the sum (+=, not =)",
            )
        return None

    return [
        hint_when(
            lambda: expected("conv.max_pool_route", x, dout, k, s, swap_axes=True)[0],
            named(
                "conv.rows_columns_swapped_where_window_s_flat",
                "rows and columns are swapped where the window's flat argmax a is unravelled: "
                "a = row * K + col, so (row, col) = divmod(a, K), not (a % K, a // K)",
            ),
        ),
        hint_when(
            lambda: expected("conv.max_pool_route", x, dout, k, s, unravel_width=s)[0] if s != k else None,
            named(
                "conv.window_s_flat_argmax_unravelled_stride_instead",
                "the window's flat argmax is unravelled with the stride instead of the kernel size: "
                "the window is K = kernel_size wide, so (row, col) = divmod(a, K)",
            ),
        ),
        hint_when(
            lambda: expected("conv.max_pool_route", x, dout, k, k)[0] if s != k else None, STRIDE_IGNORED
        ),
        hint_when(
            lambda: expected("conv.max_pool_route", x, dout, k, s, place_step=k)[0] if s != k else None,
            STRIDE_IGNORED,
        ),
        hint_when(
            lambda: expected("conv.max_pool_route", x, dout, k, s, assign_windows=True)[0] if s < k else None,
            named(
                "conv.overlapping_windows_must_add_their_gradients",
                "overlapping windows must add their gradients: dx[window] = mask * dout lets a later window "
                "overwrite the cells it shares with earlier ones; add with +=",
            ),
        ),
        overwritten,
        non_max,
    ]


def pool_gradient(t, cases):
    right_for = pool_right_for("x")
    for case in cases:
        with naming_crashes(t, case, pool_probes, right_for, POOL_FORWARD_FIRST):
            layer, x, dout = build_pool(t, case)
            _, dx = run_layer(t, layer, x, dout, "MaxPool2d")
        expect_array(
            dx,
            pool_dx("MaxPool2d", x, dout, case),
            "MaxPool2d.backward: dx",
            f"{given_shapes(x=x, dout=dout)}, {case.settings()} (no ties in x)",
            tol=GRAD_TOL,
            hints=pool_backward_hints(case, x, dout),
            probes=[probing(t, case, pool_probes, right_for, POOL_FORWARD_FIRST)],
        )


@check("MaxPool2d", "backward")
def pool_backward(t):
    pool_gradient(t, POOL_BASIC)


@check("MaxPool2d", "backward_overlap")
def pool_backward_overlap(t):
    pool_gradient(t, POOL_OVERLAP)


@check("MaxPool2d", "backward_stride")
def pool_backward_stride(t):
    pool_gradient(t, POOL_GAPS)


TIE_CASES = [PoolCase(2, 2, 4, 6, 2, None), PoolCase(1, 2, 7, 6, 3, None)]


@check("MaxPool2d", "ties")
def pool_ties(t):
    """Tied maxima (non-overlapping windows): a window's dout must reach only its maximum cells, once in total.

    The docstring asks for the first maximum; any split among tied maxima is also a valid gradient, so
    this check accepts it. It rejects gradient on non-max cells and a dout counted once per tied cell.
    """
    for index, case in enumerate(TIE_CASES):
        rng = data_rng(3000 + index)
        layer = make(t, "MaxPool2d", case.k)
        x = rng.integers(-1, 2, (case.n, case.c, case.h, case.w)).astype(float)
        x[0, 0] = 0.0  # every window of this channel is one big tie (as after a ReLU)
        out_h, out_w = case.h // case.k, case.w // case.k
        dout = spread(rng, (case.n, case.c, out_h, out_w), 0.5, 2.0)
        _, dx = run_layer(t, layer, x, dout, "MaxPool2d")
        given = f"{given_shapes(x=x, dout=dout)}, {case.settings()}, x with tied maxima (values in -1, 0, 1)"
        if not isinstance(dx, np.ndarray) or dx.shape != x.shape:
            raise CheckFailure(
                f"MaxPool2d.backward: dx has shape {np.shape(dx)}, expected {x.shape} for {given}"
            )
        if not np.all(np.isfinite(dx)):
            raise CheckFailure(f"MaxPool2d.backward: dx contains inf or nan for {given}")
        check_tied_windows(dx, x, dout, case.k, given)


def check_tied_windows(dx, x, dout, k, given):
    """Each window's gradient sums to its dout and sits on max cells; cells outside every window get 0."""
    rule = named(
        "conv.each_window_s_dout_must_go_maximum",
        "each window's dout must go to its maximum cells only, and add up to dout (any split among tied maxima is accepted)",
    )
    tol = 1e-6 * np.abs(dout).max()
    covered = np.zeros(x.shape, dtype=bool)
    for n, c, i, j in np.ndindex(dout.shape):
        rows, cols = slice(i * k, i * k + k), slice(j * k, j * k + k)
        window, grad = x[n, c, rows, cols], dx[n, c, rows, cols]
        covered[n, c, rows, cols] = True
        ties = window == window.max()
        where = f"window (n={n}, c={c}, i={i}, j={j}) with {ties.sum()} tied maxima"
        if np.any(np.abs(grad[~ties]) > tol):
            raise CheckFailure(
                f"MaxPool2d.backward: {where} sends gradient to non-max cells for {given}; {rule}",
                hint=named(
                    "conv.max_pool_gradient_reached_non_max_cells",
                    "max-pool gradient reached non-max cells: only the maximum of each window receives its dout",
                ),
            )
        if abs(grad.sum() - dout[n, c, i, j]) > tol:
            hint = None
            if ties.sum() > 1 and abs(grad.sum() - ties.sum() * dout[n, c, i, j]) <= tol:
                hint = named(
                    "conv.every_tied_maximum_received_full_dout",
                    "every tied maximum received the full dout: send it to one of them (the first), so it is counted once",
                )
            raise CheckFailure(
                f"MaxPool2d.backward: {where} passes on {grad.sum():.6g} in total instead of dout = "
                f"{dout[n, c, i, j]:.6g} for {given}; {rule}",
                hint=hint,
            )
    if np.any(np.abs(dx[~covered]) > tol):
        raise CheckFailure(
            f"MaxPool2d.backward: cells in no window get gradient for {given}",
            hint=named(
                "conv.max_pool_gradient_reached_non_max_cells",
                "max-pool gradient reached non-max cells: only the maximum of each window receives its dout",
            ),
        )


@check("MaxPool2d", "no_mutation")
def pool_no_mutation(t):
    for case in (POOL_BASIC[0], POOL_OVERLAP[0]):
        with naming_crashes(t, case, pool_probes, pool_right_for("x"), POOL_FORWARD_FIRST):
            layer, x, dout = build_pool(t, case, seed=1)
            run_layer(t, layer, x, dout, "MaxPool2d")


# ============================================================================ AvgPool2d
# The pooling cases of MaxPool2d (PoolCase, POOL_*), with the student's AvgPool2d. Expected values:
# the oracle "conv.avg_pool" (a loop over windows) and its numerical gradients.
def build_avg_pool(t, case, seed=0):
    return build_pool(t, case, seed, name="AvgPool2d")


AVG_DIVIDED_BY_K = named(
    "avgpool.divided_by_k",
    "divided by K, but a window has K * K cells: the mean is the window's sum / (K * K), "
    "and backward gives each cell dout / (K * K)",
)
AVG_DIVIDED_BY_WINDOWS = named(
    "avgpool.divided_by_window_count",
    "divided by the number of windows (H' * W'): a window's mean divides its own sum by its K * K cells",
)
AVG_NOT_DIVIDED = named(
    "avgpool.sum_not_divided",
    "the window's sum is not divided by K * K: average pooling keeps the mean, sum / (K * K), "
    "and backward gives each cell dout / (K * K)",
)
AVG_MAX_TAKEN = named(
    "avgpool.max_taken", "the window's maximum is taken: average pooling keeps the mean of the window"
)
AVG_STRIDE_IGNORED = named(
    "avgpool.stride_ignored",
    "the stride is ignored: window (i, j) starts at (i * stride, j * stride), in forward and in backward",
)
AVG_ONE_CELL = named(
    "avgpool.gradient_to_one_cell",
    "the gradient is not spread over the window: every one of its K * K cells took part in the mean, "
    "so each gets dout / (K * K), not just one cell",
)
AVG_OVERWRITTEN = named(
    "avgpool.overlap_overwritten",
    "overlapping windows must add their gradients: dx[window] = dout / (K * K) lets a later window "
    "overwrite the cells it shares with earlier ones; add with +=",
)
AVG_ONLY_STRIDE_K = named(
    "avgpool.stride_mishandled",
    "right only when stride = kernel_size: window (i, j) starts at (i * stride, j * stride), in forward "
    "and in backward; where windows overlap their gradients add up (+=)",
)
AVG_ONLY_ONE_SAMPLE = named(
    "avgpool.batch_not_covered", "right only for a batch of one: every sample of the batch must be pooled"
)


def avg_pool_probes(case):
    """Probes of `case`: cases that differ from it in one respect (Probe)."""
    n, _, h, w, k, _ = case
    rest_h, rest_w = (h - k) % case.stride, (w - k) % case.stride
    candidates = [
        (h != w, Probe((case._replace(w=h), case._replace(h=w)), (), ONLY_SQUARE)),
        (
            bool(rest_h or rest_w),
            Probe((case._replace(h=h - rest_h, w=w - rest_w),), (), only_stride_divides("H - K", "pool")),
        ),
        (case.stride != k, Probe((case._replace(s=None),), (), AVG_ONLY_STRIDE_K)),
        (n > 1, Probe((case._replace(n=1),), (), AVG_ONLY_ONE_SAMPLE)),
    ]
    return [candidate for applies, candidate in candidates if applies]


def avg_forward_hints(case, x):
    k, s = case.k, case.stride
    windows = ((case.h - k) // s + 1) * ((case.w - k) // s + 1)

    def mean_times(factor):
        return lambda: expected("conv.avg_pool", x, k, s) * factor

    return [
        hint_when(mean_times(k * k), AVG_NOT_DIVIDED),
        hint_when(mean_times(k), AVG_DIVIDED_BY_K),
        hint_when(mean_times(k * k / windows), AVG_DIVIDED_BY_WINDOWS),
        hint_when(lambda: expected("conv.max_pool", x, k, s), AVG_MAX_TAKEN),
        hint_when(lambda: expected("conv.avg_pool", x, k, k) if s != k else None, AVG_STRIDE_IGNORED),
        hint_when(lambda: expected("conv.avg_pool", x, k, 1) if s != 1 else None, AVG_STRIDE_IGNORED),
    ]


def avg_forward_cases(t, cases, seed=0):
    """Compare AvgPool2d.forward with the oracle on each case."""
    right_for = pool_right_for(None, "AvgPool2d")
    for case in cases:
        with naming_crashes(t, case, avg_pool_probes, right_for):
            layer, x, _ = build_avg_pool(t, case, seed=seed)
            out = layer.call("forward", x)
        expect_untouched(t, "AvgPool2d.forward")
        expect_array(
            out,
            pool_output("AvgPool2d", x, case),
            "AvgPool2d.forward output",
            f"{given_shapes(x=x)}, {case.settings()}",
            hints=avg_forward_hints(case, x),
            probes=[probing(t, case, avg_pool_probes, right_for)],
        )


@check("AvgPool2d", "forward")
def avg_pool_forward(t):
    avg_forward_cases(t, POOL_ALL)


def avg_backward_hints(case, x, dout):
    k, s = case.k, case.stride
    windows = dout.shape[2] * dout.shape[3]

    def spread_with(**mistake):
        return lambda: expected("conv.avg_pool_spread", x.shape, dout, k, s, **mistake)

    def when(applies, candidate):
        return lambda: candidate() if applies else None

    return [
        hint_when(spread_with(divisor=1), AVG_NOT_DIVIDED),
        hint_when(spread_with(divisor=k), AVG_DIVIDED_BY_K),
        hint_when(spread_with(divisor=windows), AVG_DIVIDED_BY_WINDOWS),
        hint_when(spread_with(one_cell=True), AVG_ONE_CELL),
        hint_when(spread_with(one_cell=True, divisor=1), AVG_ONE_CELL),
        hint_when(when(s < k, spread_with(assign_windows=True)), AVG_OVERWRITTEN),
        hint_when(when(s != k, spread_with(place_step=k)), AVG_STRIDE_IGNORED),
        hint_when(lambda: expected("conv.max_pool_route", x, dout, k, s)[0], AVG_MAX_TAKEN),
    ]


def avg_pool_gradient(t, cases, seed=0):
    right_for = pool_right_for("x", "AvgPool2d")
    for case in cases:
        with naming_crashes(t, case, avg_pool_probes, right_for):
            layer, x, dout = build_avg_pool(t, case, seed=seed)
            _, dx = run_layer(t, layer, x, dout, "AvgPool2d")
        expect_array(
            dx,
            pool_dx("AvgPool2d", x, dout, case),
            "AvgPool2d.backward: dx",
            f"{given_shapes(x=x, dout=dout)}, {case.settings()}",
            tol=GRAD_TOL,
            hints=avg_backward_hints(case, x, dout),
            probes=[probing(t, case, avg_pool_probes, right_for)],
        )


@check("AvgPool2d", "backward")
def avg_pool_backward(t):
    avg_pool_gradient(t, POOL_BASIC)


@check("AvgPool2d", "backward_overlap")
def avg_pool_backward_overlap(t):
    avg_pool_gradient(t, POOL_OVERLAP)


@check("AvgPool2d", "backward_stride")
def avg_pool_backward_stride(t):
    avg_pool_gradient(t, POOL_GAPS)


@check("AvgPool2d", "no_mutation")
def avg_pool_no_mutation(t):
    for case in (POOL_BASIC[0], POOL_OVERLAP[0]):
        with naming_crashes(t, case, avg_pool_probes, pool_right_for("x", "AvgPool2d")):
            layer, x, dout = build_avg_pool(t, case, seed=1)
            run_layer(t, layer, x, dout, "AvgPool2d")
