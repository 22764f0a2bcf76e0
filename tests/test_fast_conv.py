"""The fast layers of examples/fast_conv.py against the readable reference of solutions/conv.py.

Both run on the same inputs and parameters in float64; forward, dx and the parameter
gradients must agree to rounding. Cases: a few chosen geometries, then seeded random ones.
"""

import numpy as np
import pytest

from examples.fast_conv import FastConv2d, FastMaxPool2d
from solutions import Conv2d, MaxPool2d

TOL = 1e-12

# (N, C, F, H, W, K, stride, padding)
CONV_CASES = [
    (2, 3, 4, 5, 5, 3, 1, 0),  # padding 0
    (2, 2, 3, 7, 7, 3, 2, 1),  # stride divides H + 2P - K
    (3, 2, 2, 8, 8, 3, 3, 0),  # stride does not divide H + 2P - K = 5: the last rows are never read
    (2, 3, 2, 6, 9, 3, 2, 1),  # H != W
    (1, 4, 3, 5, 7, 1, 1, 0),  # K = 1
    (2, 2, 3, 5, 4, 1, 2, 2),  # K = 1, stride 2, padding larger than the kernel
    (1, 1, 1, 4, 4, 4, 1, 0),  # the kernel covers the whole input: one output
    (1, 2, 2, 3, 6, 5, 3, 2),  # K > H, the padding makes it fit
    (17, 2, 3, 4, 5, 3, 1, 1),  # more samples than one block of the fast version
]


def random_conv_cases(seed, count):
    """`count` seeded geometries (N, C, F, H, W, K, stride, padding) whose kernel fits the padded input."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        k, s, p = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h, w = int(rng.integers(1, 11)), int(rng.integers(1, 11))
        if k <= min(h, w) + 2 * p:
            n, c, f = (int(v) for v in rng.integers(1, 5, size=3))
            cases.append((n, c, f, h, w, k, s, p))
    return cases


def conv_pair(c, f, k, s, p, rng):
    """The reference Conv2d and a FastConv2d with the same random W and b."""
    ref = Conv2d(c, f, k, stride=s, padding=p, rng=rng)
    ref.params["b"] = rng.standard_normal(f)
    fast = FastConv2d(c, f, k, stride=s, padding=p)
    fast.params = {key: value.copy() for key, value in ref.params.items()}
    return ref, fast


def assert_close(got, expected, what):
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    np.testing.assert_allclose(
        got, expected, rtol=TOL, atol=TOL * max(1.0, np.abs(expected).max()), err_msg=what
    )


@pytest.mark.parametrize(
    "case", CONV_CASES + random_conv_cases(16, 40), ids=lambda case: "-".join(map(str, case))
)
def test_fast_conv_agrees_with_the_reference(case):
    n, c, f, h, w, k, s, p = case
    rng = np.random.default_rng(sum(case))
    ref, fast = conv_pair(c, f, k, s, p, rng)
    x = rng.standard_normal((n, c, h, w))
    out = ref.forward(x)
    assert out.shape == (n, f, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
    assert_close(fast.forward(x), out, "forward")
    dout = rng.standard_normal(out.shape)
    assert_close(fast.backward(dout), ref.backward(dout), "dx")
    for key in ("W", "b"):
        assert_close(fast.grads[key], ref.grads[key], f"grads[{key!r}]")


def test_both_convs_keep_float32():
    rng = np.random.default_rng(3)
    ref, fast = conv_pair(2, 3, 3, 2, 1, rng)
    x = rng.standard_normal((2, 2, 7, 6)).astype(np.float32)
    out_ref, out_fast = ref.forward(x), fast.forward(x)
    dout = rng.standard_normal(out_ref.shape).astype(np.float32)
    dx_ref, dx_fast = ref.backward(dout), fast.backward(dout)
    assert out_ref.dtype == out_fast.dtype == dx_ref.dtype == dx_fast.dtype == np.float32
    np.testing.assert_allclose(out_fast, out_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx_fast, dx_ref, rtol=1e-5, atol=1e-5)


def test_fast_conv_checks_its_input_as_the_reference_does():
    ref, fast = Conv2d(3, 2, 3), FastConv2d(3, 2, 3)
    for bad, error in ((np.zeros((2, 4, 5, 5)), ValueError), (np.zeros((2, 3, 2, 5)), ValueError),
                       (np.zeros((3, 5, 5)), ValueError), (np.array([["a"]]), TypeError)):  # fmt: skip
        with pytest.raises(error) as expected:
            ref.forward(bad)
        with pytest.raises(error) as got:
            fast.forward(bad)
        assert str(got.value) == str(expected.value)


# (N, C, H, W, K, stride): stride None is K
POOL_CASES = [
    (2, 3, 4, 4, 2, None),
    (2, 2, 7, 5, 2, None),  # odd sizes: the last row and column are never read
    (2, 2, 9, 10, 3, 2),  # overlapping windows
    (1, 3, 6, 8, 2, 1),  # overlapping, stride 1
    (2, 1, 8, 7, 2, 3),  # stride > K: cells between the windows
    (1, 2, 5, 9, 5, None),  # windows as tall as the input
    (3, 2, 4, 6, 1, 1),  # K = 1
]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda case: "-".join(map(str, case)))
def test_fast_max_pool_agrees_with_the_reference(case):
    n, c, h, w, k, s = case
    rng = np.random.default_rng(sum(v or 0 for v in case))
    ref, fast = MaxPool2d(k, s), FastMaxPool2d(k, s)
    for x in (rng.standard_normal((n, c, h, w)), rng.integers(-2, 2, (n, c, h, w)).astype(float)):  # ties
        out = ref.forward(x)
        np.testing.assert_array_equal(fast.forward(x), out)
        dout = rng.standard_normal(out.shape)
        assert_close(fast.backward(dout), ref.backward(dout), "dx")


def test_both_pools_send_a_tie_to_its_first_position_and_keep_float32():
    # window 0: 3 at (0, 1) and (1, 0); window 1: 3 at (0, 1), (1, 0) and (1, 1)
    x = np.array([[[[1, 3, 0, 3], [3, 2, 3, 3]]]], dtype=np.float32)
    dout = np.array([[[[5.0, 7.0]]]], dtype=np.float32)
    expected = np.array([[[[0, 5, 0, 7], [0, 0, 0, 0]]]], dtype=np.float32)
    for pool in (MaxPool2d(2), FastMaxPool2d(2)):
        out, dx = pool.forward(x), pool.backward(dout)
        assert out.dtype == dx.dtype == np.float32
        np.testing.assert_array_equal(out, [[[[3, 3]]]])
        np.testing.assert_array_equal(dx, expected)
