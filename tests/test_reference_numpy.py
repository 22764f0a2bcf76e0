"""The reference solutions against independent oracles: closed forms, hand-computed values,
scipy/sklearn, explicit-loop implementations and float64 central differences. No torch needed.

Gradient checks use a norm-based relative error, ||a - b||_F / max(||a||_F + ||b||_F, 1e-300),
and must stay below 1e-7 in float64.
"""

import math
import warnings

import numpy as np
import pytest
from scipy import signal, special
from sklearn.metrics import log_loss

from solutions import (
    AND,
    NAND,
    OR,
    SGD,
    XOR,
    AdaGrad,
    Adam,
    AddLayer,
    Affine,
    AvgPool2d,
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    MaxPool2d,
    Momentum,
    MSELoss,
    MulLayer,
    Perceptron,
    Relu,
    RMSProp,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    cross_entropy,
    gradient_descent,
    he_init,
    mse,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
    step,
    tanh,
    xavier_init,
)

TOL = 1e-7
H = 1e-5  # central-difference step of the test's own helper


def rel_error(a, b):
    """Norm-based relative error ||a - b||_F / max(||a||_F + ||b||_F, 1e-300)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def num_grad(f, x, h=H):
    """Central differences of the scalar f() with respect to the float64 array x (nudged, then restored)."""
    assert isinstance(x, np.ndarray) and x.dtype == np.float64
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f()
        x[idx] = old - h
        f_minus = f()
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def check_layer_gradients(layer, x, seed=0, before_forward=None):
    """Compare backward's dx and every grads[k] with central differences of sum(forward(x) * dout)."""
    rng = np.random.default_rng(seed)
    if before_forward:
        before_forward()
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    grads = {k: np.array(v, copy=True) for k, v in layer.grads.items()}
    assert set(grads) == set(layer.params)

    def loss():
        if before_forward:
            before_forward()
        return float(np.sum(layer.forward(x) * dout))

    assert dx.shape == x.shape
    assert rel_error(dx, num_grad(loss, x)) < TOL
    for key, p in layer.params.items():
        assert grads[key].shape == p.shape
        assert rel_error(grads[key], num_grad(loss, p)) < TOL, key


def distinct_values(rng, shape, gap=0.05):
    """Values in random order, pairwise at least `gap` apart (no ties for max pooling)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * gap - n * gap / 2).reshape(shape).astype(np.float64)


# ------------------------------------------------------------------ chapter 1: gates, perceptron

BITS = [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.parametrize(
    "gate, table",
    [(AND, [0, 0, 0, 1]), (NAND, [1, 1, 1, 0]), (OR, [0, 1, 1, 1]), (XOR, [0, 1, 1, 0])],
    ids=["AND", "NAND", "OR", "XOR"],
)
def test_gate_truth_tables(gate, table):
    assert [int(gate(a, b)) for a, b in BITS] == table


@pytest.mark.parametrize("target", [[0, 0, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]], ids=["AND", "OR", "NAND"])
def test_perceptron_learns_linearly_separable_gates(target):
    X, y = np.array(BITS, dtype=float), np.array(target)
    p = Perceptron(2, lr=0.1)
    errors = p.fit(X, y, epochs=30)
    assert len(errors) == 30 and errors[0] > 0
    assert errors[-1] == 0
    np.testing.assert_array_equal(p.predict(X), y)


def test_perceptron_rule_hand_traced_on_and():
    # w=0, b=0; only (1,1) is wrong in epoch 1 -> w=(.1,.1), b=.1.
    # Epoch 2: (0,0) wrong -> b=0; (0,1) wrong -> w=(.1,0), b=-.1; (1,0) right; (1,1) wrong -> w=(.2,.1), b=0.
    X, y = np.array(BITS, dtype=float), np.array([0, 0, 0, 1])
    p = Perceptron(2, lr=0.1)
    assert p.fit(X, y, epochs=1) == [1]
    np.testing.assert_allclose(p.w, [0.1, 0.1])
    assert float(p.b) == pytest.approx(0.1)
    assert p.fit(X, y, epochs=1) == [3]
    np.testing.assert_allclose(p.w, [0.2, 0.1])
    assert float(p.b) == pytest.approx(0.0, abs=1e-12)


def test_perceptron_cannot_learn_xor():
    X, y = np.array(BITS, dtype=float), np.array([0, 1, 1, 0])
    errors = Perceptron(2, lr=0.1).fit(X, y, epochs=100)
    assert len(errors) == 100
    assert min(errors) >= 1


# ------------------------------------------------------------------ chapters 2-3: functions


def test_step_values_and_integer_dtype():
    out = step(np.array([[-2.0, 0.0], [1e-9, 3.0]]))
    np.testing.assert_array_equal(out, [[0, 0], [1, 1]])
    assert np.issubdtype(out.dtype, np.integer)


def test_sigmoid_matches_expit_without_warnings():
    x = np.linspace(-1000, 1000, 2001)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sigmoid(x)
    np.testing.assert_allclose(y, special.expit(x), rtol=1e-12, atol=1e-300)
    assert sigmoid(np.array([0.0]))[0] == 0.5
    assert sigmoid(np.array([1000.0]))[0] == 1.0 and sigmoid(np.array([-1000.0]))[0] == 0.0
    np.testing.assert_allclose(sigmoid(-x[900:1100]), 1 - sigmoid(x[900:1100]), atol=1e-15)


def test_sigmoid_keeps_shape():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-13)


def test_relu_values():
    np.testing.assert_array_equal(relu(np.array([[-3.0, 0.0, 2.5]])), [[0.0, 0.0, 2.5]])


def test_tanh_closed_form_and_saturation():
    x = np.linspace(-5, 5, 41)
    np.testing.assert_allclose(tanh(x), (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), rtol=1e-12)
    assert tanh(np.array([0.5]))[0] == pytest.approx(math.tanh(0.5), rel=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(tanh(np.array([-1000.0, 1000.0])), [-1.0, 1.0])


@pytest.mark.parametrize("shape", [(5,), (1, 3), (4, 7)])
def test_softmax_matches_scipy_and_rows_sum_to_one(shape):
    x = np.random.default_rng(1).standard_normal(shape) * 3
    y = softmax(x)
    assert y.shape == shape
    np.testing.assert_allclose(y, special.softmax(x, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(y > 0)


def test_softmax_stable_for_large_scores():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y1 = softmax(np.array([1000.0, 1001.0, 1002.0]))
        y2 = softmax(np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -998.0]]))
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(y1, e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(y2, np.stack([e / e.sum()] * 2), rtol=1e-12)


def test_mse_hand_values():
    assert mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])) == pytest.approx(4 / 3)
    assert mse(np.array([[1.0, -1.0], [0.0, 2.0]]), np.zeros((2, 2))) == pytest.approx(6 / 4)
    assert isinstance(mse(np.ones(3), np.ones(3)), float)
    with pytest.raises(ValueError, match="same shape"):
        mse(np.ones(3), np.ones(4))


def test_cross_entropy_hand_values_and_sklearn():
    y = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    t = np.array([1, 0])
    expected = -(math.log(0.7) + math.log(0.5)) / 2
    assert cross_entropy(y, t) == pytest.approx(expected, rel=1e-9)
    assert cross_entropy(y, np.eye(3)[t]) == pytest.approx(expected, rel=1e-9)
    assert cross_entropy(np.array([0.1, 0.7, 0.2]), 1) == pytest.approx(-math.log(0.7), rel=1e-9)
    assert cross_entropy(np.array([0.1, 0.7, 0.2]), np.array([0, 1, 0])) == pytest.approx(-math.log(0.7))
    rng = np.random.default_rng(2)
    probs = special.softmax(rng.standard_normal((20, 5)), axis=1)
    labels = rng.integers(0, 5, 20)
    oracle = log_loss(labels, probs, labels=range(5))
    assert cross_entropy(probs, labels) == pytest.approx(oracle, rel=1e-9)
    assert cross_entropy(probs, np.eye(5)[labels]) == pytest.approx(oracle, rel=1e-9)


def test_cross_entropy_finite_when_true_probability_is_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = cross_entropy(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]))
    assert np.isfinite(value) and value > 20  # about -log(1e-12)


@pytest.mark.parametrize("shape", [(), (4,), (3, 2), (2, 3, 2)])
def test_numerical_gradient_quadratic_and_cubic(shape):
    x = np.random.default_rng(3).uniform(-2, 2, shape)
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sum(z**2), x), 2 * x, atol=1e-7)
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sum(z**3), x), 3 * x**2, atol=1e-6)
    c = np.arange(x.size, dtype=float).reshape(shape)
    g = numerical_gradient(lambda z: np.sum(c * z) + 7.0, x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, c, atol=1e-7)


def test_numerical_gradient_leaves_x_bit_identical():
    x = np.random.default_rng(4).standard_normal((3, 4, 2)) * 10
    h = 1e-4
    assert np.any(((x + h) - 2 * h) + h != x)  # nudging by +h, -2h, +h would drift
    before = x.copy()
    numerical_gradient(lambda z: float(np.sum(np.sin(z))), x, h=h)
    assert x.tobytes() == before.tobytes()


def test_numerical_gradient_with_closure_ignoring_its_argument():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = numerical_gradient(lambda _unused: float(np.sum(x**2) + x[0, 1] * x[1, 0]), x)
    np.testing.assert_allclose(g, [[2.0, -4.0 + 0.5], [1.0 - 2.0, 6.0]], atol=1e-7)


def test_numerical_gradient_rejects_int_arrays():
    with pytest.raises(TypeError):
        numerical_gradient(lambda z: float(np.sum(z)), np.array([1, 2, 3]))


def test_gradient_descent_minimises_a_quadratic():
    c = np.array([[1.0, -2.0], [0.5, 3.0]])
    x0 = np.zeros((2, 2))
    lr, steps = 0.1, 50
    x = gradient_descent(lambda z: float(np.sum((z - c) ** 2)), x0, lr=lr, steps=steps)
    # x_{k+1} - c = (1 - 2 lr)(x_k - c) exactly for this quadratic
    np.testing.assert_allclose(x, c + (1 - 2 * lr) ** steps * (x0 - c), atol=1e-8)
    assert x.shape == x0.shape
    np.testing.assert_array_equal(x0, 0.0)
    assert x is not x0


def test_gradient_descent_does_not_modify_x0():
    x0 = np.array([3.0, -4.0])
    before = x0.copy()
    x = gradient_descent(lambda z: float(np.sum(z**2)), x0, lr=0.1, steps=100)
    np.testing.assert_array_equal(x0, before)
    np.testing.assert_allclose(x, 0.0, atol=1e-8)


# ------------------------------------------------------------------ chapter 4: graph nodes


def test_mul_and_add_layers_buy_apples_and_oranges():
    apple, n_apple, orange, n_orange, tax = 100.0, 2.0, 150.0, 3.0, 1.1
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    a = mul_apple.forward(apple, n_apple)
    o = mul_orange.forward(orange, n_orange)
    total = add.forward(a, o)
    price = mul_tax.forward(total, tax)
    assert price == pytest.approx(715.0)
    dtotal, dtax = mul_tax.backward(1.0)
    assert (dtotal, dtax) == pytest.approx((1.1, 650.0))
    da, do = add.backward(dtotal)
    assert (da, do) == pytest.approx((1.1, 1.1))
    assert mul_apple.backward(da) == pytest.approx((2.2, 110.0))
    assert mul_orange.backward(do) == pytest.approx((3.3, 165.0))


def test_mul_layer_elementwise_arrays():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0])
    m = MulLayer()
    np.testing.assert_array_equal(m.forward(x, y), [4.0, -10.0, 18.0])
    dx, dy = m.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(dx, [4.0, -10.0, 18.0])
    np.testing.assert_array_equal(dy, [1.0, 4.0, 9.0])


# ------------------------------------------------------------------ explicit-loop oracles


def naive_conv_forward(x, W, b, stride, pad):
    N, C, Hh, Ww = x.shape
    F, _, K, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (Hh + 2 * pad - K) // stride + 1, (Ww + 2 * pad - K) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride : i * stride + K, j * stride : j * stride + K]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


def naive_conv_backward(dout, x, W, stride, pad):
    N, C, Hh, Ww = x.shape
    F, _, K, _ = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * stride, i * stride + K), slice(j * stride, j * stride + K)
                    dW[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * W[f]
                    db[f] += dout[n, f, i, j]
    return dxp[:, :, pad : pad + Hh, pad : pad + Ww], dW, db


def naive_maxpool_forward(x, K, stride):
    N, C, Hh, Ww = x.shape
    Ho, Wo = (Hh - K) // stride + 1, (Ww - K) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = x[n, c, i * stride : i * stride + K, j * stride : j * stride + K].max()
    return out


def naive_maxpool_backward(dout, x, K, stride):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride : i * stride + K, j * stride : j * stride + K]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def naive_avgpool_forward(x, K, stride):
    N, C, Hh, Ww = x.shape
    Ho, Wo = (Hh - K) // stride + 1, (Ww - K) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = x[n, c, i * stride : i * stride + K, j * stride : j * stride + K].sum() / (K * K)
    return out


def naive_avgpool_backward(dout, x_shape, K, stride):
    dx = np.zeros(x_shape)
    for n, c, i, j in np.ndindex(dout.shape):
        dx[n, c, i * stride : i * stride + K, j * stride : j * stride + K] += dout[n, c, i, j] / (K * K)
    return dx


def scipy_conv(x, W, b, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C = x.shape[:2]
    F = W.shape[0]
    rows = []
    for n in range(N):
        maps = []
        for f in range(F):
            acc = sum(signal.correlate(xp[n, c], W[f, c], mode="valid") for c in range(C))
            maps.append(acc[::stride, ::stride] + b[f])
        rows.append(maps)
    return np.array(rows)


def random_conv_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        K = int(rng.integers(1, 5))
        pad = int(rng.integers(0, 3))
        stride = int(rng.integers(1, 4))
        lo = max(1, K - 2 * pad)
        Hh = int(rng.integers(lo, 10)) | 1  # odd height
        Ww = Hh + int(rng.integers(1, 4))  # non-square
        cases.append(
            (
                int(rng.integers(1, 4)),
                int(rng.integers(1, 5)),
                int(rng.integers(1, 5)),
                K,
                stride,
                pad,
                Hh,
                Ww,
            )
        )
    return cases


CONV_CASES = random_conv_cases(1234, 14) + [(2, 3, 2, 3, 2, 1, 7, 5), (1, 2, 3, 2, 3, 2, 5, 8)]


def make_conv(C, F, K, stride, pad, seed):
    rng = np.random.default_rng(seed)
    conv = Conv2d(C, F, K, stride=stride, padding=pad, rng=rng)
    conv.params["W"] = rng.standard_normal((F, C, K, K))
    conv.params["b"] = rng.standard_normal(F)
    return conv, rng


@pytest.mark.parametrize("N, C, F, K, stride, pad, Hh, Ww", CONV_CASES)
def test_conv_forward_matches_scipy_correlate(N, C, F, K, stride, pad, Hh, Ww):
    conv, rng = make_conv(C, F, K, stride, pad, seed=N + 10 * C + 100 * K)
    x = rng.standard_normal((N, C, Hh, Ww))
    out = conv.forward(x)
    Ho, Wo = (Hh + 2 * pad - K) // stride + 1, (Ww + 2 * pad - K) // stride + 1
    assert out.shape == (N, F, Ho, Wo)
    np.testing.assert_allclose(
        out, scipy_conv(x, conv.params["W"], conv.params["b"], stride, pad), atol=1e-12
    )


def test_conv_is_cross_correlation_not_convolution():
    x = np.arange(20, dtype=float).reshape(1, 1, 4, 5)
    conv = Conv2d(1, 1, 2, rng=np.random.default_rng(0))
    conv.params["W"] = np.array([[[[0.0, 1.0], [0.0, 0.0]]]])  # picks the top-right of each window
    np.testing.assert_array_equal(conv.forward(x), x[:, :, :3, 1:5])
    conv.params["W"] = np.array([[[[0.0, 0.0], [2.0, 0.0]]]])  # bottom-left, doubled
    np.testing.assert_array_equal(conv.forward(x), 2 * x[:, :, 1:4, 0:4])


@pytest.mark.parametrize("N, C, F, K, stride, pad, Hh, Ww", CONV_CASES[:8])
def test_conv_matches_explicit_loops(N, C, F, K, stride, pad, Hh, Ww):
    conv, rng = make_conv(C, F, K, stride, pad, seed=7 + K)
    x = rng.standard_normal((N, C, Hh, Ww))
    W, b = conv.params["W"], conv.params["b"]
    out = conv.forward(x)
    np.testing.assert_allclose(out, naive_conv_forward(x, W, b, stride, pad), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = conv.backward(dout)
    ndx, ndW, ndb = naive_conv_backward(dout, x, W, stride, pad)
    np.testing.assert_allclose(dx, ndx, atol=1e-12)
    np.testing.assert_allclose(conv.grads["W"], ndW, atol=1e-12)
    np.testing.assert_allclose(conv.grads["b"], ndb, atol=1e-12)


POOL_CASES = [
    (2, 2, 4, 6),
    (2, 1, 5, 5),
    (3, 1, 6, 5),
    (3, 2, 7, 8),
    (2, 3, 7, 9),
    (1, 2, 5, 4),
    (3, 3, 6, 7),
]


@pytest.mark.parametrize("K, stride, Hh, Ww", POOL_CASES)
def test_maxpool_matches_explicit_loops(K, stride, Hh, Ww):
    rng = np.random.default_rng(K * 10 + stride)
    x = distinct_values(rng, (2, 3, Hh, Ww))
    pool = MaxPool2d(K, stride)
    out = pool.forward(x)
    np.testing.assert_array_equal(out, naive_maxpool_forward(x, K, stride))
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(pool.backward(dout), naive_maxpool_backward(dout, x, K, stride), atol=1e-12)


@pytest.mark.parametrize("K, stride, Hh, Ww", POOL_CASES)
def test_avgpool_matches_explicit_loops(K, stride, Hh, Ww):
    rng = np.random.default_rng(K * 10 + stride + 1)
    x = rng.standard_normal((2, 3, Hh, Ww))
    pool = AvgPool2d(K, stride)
    out = pool.forward(x)
    np.testing.assert_allclose(out, naive_avgpool_forward(x, K, stride), atol=1e-14)
    dout = rng.standard_normal(out.shape)
    dx = naive_avgpool_backward(dout, x.shape, K, stride)
    np.testing.assert_allclose(pool.backward(dout), dx, atol=1e-14)


def test_avgpool_stride_defaults_to_kernel_size_and_keeps_float32():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    pool = AvgPool2d(2)
    out = pool.forward(x)
    np.testing.assert_array_equal(out, [[[[2.5, 4.5], [10.5, 12.5]]]])
    assert out.dtype == np.float32
    dx = pool.backward(np.ones((1, 1, 2, 2), dtype=np.float32))
    np.testing.assert_array_equal(dx, np.full((1, 1, 4, 4), 0.25))


def test_maxpool_stride_defaults_to_kernel_size():
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(MaxPool2d(2).forward(x), [[[[5.0, 7.0], [13.0, 15.0]]]])


def test_maxpool_backward_sends_ties_to_first_maximum():
    x = np.ones((1, 1, 2, 2))
    pool = MaxPool2d(2)
    pool.forward(x)
    dx = pool.backward(np.array([[[[3.0]]]]))
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


# ------------------------------------------------------------------ gradient checks


@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 3), (2, 3, 2, 2)])
def test_affine_gradients(shape):
    rng = np.random.default_rng(11)
    D = int(np.prod(shape[1:]))
    layer = Affine(D, 4, rng=rng)
    layer.params["b"] = rng.standard_normal(4)
    x = rng.standard_normal(shape)
    out = layer.forward(x)
    np.testing.assert_allclose(
        out, x.reshape(shape[0], -1) @ layer.params["W"] + layer.params["b"], atol=1e-12
    )
    check_layer_gradients(layer, x)


def test_relu_gradients_away_from_zero():
    rng = np.random.default_rng(12)
    x = rng.uniform(0.1, 2.0, (4, 6)) * rng.choice([-1.0, 1.0], (4, 6))
    check_layer_gradients(Relu(), x)


def test_relu_layer_forward_and_backward_near_zero():
    x = np.array([[-2.0, -1e-3, 0.0, 1e-3, 2.0]])
    layer = Relu()
    np.testing.assert_array_equal(layer.forward(x), [[0.0, 0.0, 0.0, 1e-3, 2.0]])
    np.testing.assert_array_equal(layer.backward(np.full((1, 5), 3.0)), [[0.0, 0.0, 0.0, 3.0, 3.0]])


@pytest.mark.parametrize("layer_cls", [Sigmoid, Tanh])
def test_sigmoid_and_tanh_layer_gradients(layer_cls):
    x = np.random.default_rng(13).standard_normal((3, 2, 4)) * 2
    check_layer_gradients(layer_cls(), x)


def test_sigmoid_and_tanh_layers_forward():
    x = np.linspace(-30, 30, 13)
    np.testing.assert_allclose(Sigmoid().forward(x), special.expit(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(Tanh().forward(x), [math.tanh(v) for v in x], rtol=1e-12)


def test_flatten_forward_and_gradients():
    x = np.random.default_rng(14).standard_normal((2, 3, 4, 5))
    layer = Flatten()
    out = layer.forward(x)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out[1], x[1].ravel())
    check_layer_gradients(layer, x)


def test_dropout_gradients_with_fixed_mask():
    x = np.random.default_rng(15).standard_normal((5, 6))
    layer = Dropout(p=0.4)

    def reseed():
        layer.rng = np.random.default_rng(99)

    check_layer_gradients(layer, x, before_forward=reseed)


def test_dropout_backward_is_dout_times_mask_over_keep_probability():
    rng = np.random.default_rng(16)
    x = rng.uniform(0.5, 1.5, (50, 40))
    p = 0.3
    layer = Dropout(p=p, rng=np.random.default_rng(5))
    out = layer.forward(x)
    mask = out != 0
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(out, x * mask / (1 - p), rtol=1e-14)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dout), dout * mask / (1 - p), rtol=1e-14)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_gradients(training):
    rng = np.random.default_rng(17)
    layer = BatchNorm1d(4)
    layer.params["gamma"] = rng.uniform(0.5, 2.0, 4)
    layer.params["beta"] = rng.standard_normal(4)
    layer.running_mean = rng.standard_normal(4)
    layer.running_var = rng.uniform(0.5, 2.0, 4)
    if not training:
        layer.eval()
    x = rng.standard_normal((6, 4)) * 2 + 1
    check_layer_gradients(layer, x)


def test_batchnorm_training_output_and_running_statistics():
    rng = np.random.default_rng(18)
    bn = BatchNorm1d(3, momentum=0.9, eps=1e-5)
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    bn.params["gamma"], bn.params["beta"] = gamma, beta
    x1, x2 = rng.normal(2.0, 3.0, (8, 3)), rng.normal(-1.0, 0.5, (8, 3))
    out = bn.forward(x1)
    mu, var = x1.mean(axis=0), ((x1 - x1.mean(axis=0)) ** 2).mean(axis=0)
    np.testing.assert_allclose(out, gamma * (x1 - mu) / np.sqrt(var + 1e-5) + beta, rtol=1e-12)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * var, rtol=1e-12)
    bn.forward(x2)
    mu2, var2 = x2.mean(axis=0), x2.var(axis=0)
    np.testing.assert_allclose(bn.running_mean, 0.9 * 0.1 * mu + 0.1 * mu2, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 * (0.9 + 0.1 * var) + 0.1 * var2, rtol=1e-12)


def test_batchnorm_eval_uses_running_statistics():
    bn = BatchNorm1d(2)
    bn.running_mean, bn.running_var = np.array([1.0, -2.0]), np.array([4.0, 0.25])
    bn.params["gamma"], bn.params["beta"] = np.array([2.0, 1.0]), np.array([0.5, 0.0])
    bn.eval()
    x = np.array([[3.0, -2.0], [1.0, -1.0], [5.0, 0.0]])
    rv = np.array([4.0, 0.25])
    scaled = np.array([[2.0, 0.0], [0.0, 2.0], [4.0, 4.0]])  # gamma * (x - mean) / sqrt(var), by hand
    np.testing.assert_allclose(bn.forward(x), scaled * np.sqrt(rv / (rv + 1e-5)) + [0.5, 0.0], rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0])  # eval never updates them


@pytest.mark.parametrize("onehot", [False, True], ids=["labels", "onehot"])
@pytest.mark.parametrize("dscale", [1.0, 2.5])
def test_softmax_cross_entropy_gradients(onehot, dscale):
    rng = np.random.default_rng(19)
    scores = rng.standard_normal((5, 4)) * 2
    labels = rng.integers(0, 4, 5)
    y = np.eye(4)[labels] if onehot else labels
    loss = SoftmaxCrossEntropy()
    value = loss.forward(scores, y)
    assert isinstance(value, float)
    assert value == pytest.approx(
        log_loss(labels, special.softmax(scores, axis=1), labels=range(4)), rel=1e-10
    )
    dscores = loss.backward(dscale)
    numeric = num_grad(lambda: dscale * loss.forward(scores, y), scores)
    assert rel_error(dscores, numeric) < TOL


def test_softmax_cross_entropy_labels_and_onehot_agree_at_large_scores():
    scores = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    labels = np.array([0, 1])
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        la, lb = a.forward(scores, labels), b.forward(scores, np.eye(3)[labels])
    log_z = math.log(1 + math.e + math.e**2)
    assert la == pytest.approx(((log_z - 0.0) + 1000.0) / 2, rel=1e-12)
    assert la == pytest.approx(lb, rel=1e-15)
    np.testing.assert_allclose(a.backward(), b.backward(), atol=1e-15)
    assert np.all(np.isfinite(a.backward()))


def test_mse_loss_gradients():
    rng = np.random.default_rng(20)
    pred, target = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    loss = MSELoss()
    assert loss.forward(pred, target) == pytest.approx(np.sum((pred - target) ** 2) / pred.size, rel=1e-12)
    for dscale in (1.0, -0.7):
        loss.forward(pred, target)
        dpred = loss.backward(dscale)
        numeric = num_grad(lambda d=dscale: d * loss.forward(pred, target), pred)
        assert rel_error(dpred, numeric) < TOL


@pytest.mark.parametrize(
    "N, C, F, K, stride, pad, Hh, Ww",
    [(2, 2, 3, 3, 1, 0, 5, 6), (2, 3, 2, 3, 2, 1, 7, 6), (1, 2, 2, 2, 3, 2, 5, 4), (2, 1, 3, 1, 2, 0, 5, 5)],
)
def test_conv_gradients(N, C, F, K, stride, pad, Hh, Ww):
    conv, rng = make_conv(C, F, K, stride, pad, seed=21)
    check_layer_gradients(conv, rng.standard_normal((N, C, Hh, Ww)))


@pytest.mark.parametrize("K, stride", [(2, 2), (3, 1), (3, 2), (2, 3)], ids=["k2s2", "k3s1", "k3s2", "k2s3"])
def test_maxpool_gradients(K, stride):
    x = distinct_values(np.random.default_rng(22), (2, 2, 7, 6))
    check_layer_gradients(MaxPool2d(K, stride), x)


@pytest.mark.parametrize("K, stride", [(2, 2), (3, 1), (3, 2), (2, 3)], ids=["k2s2", "k3s1", "k3s2", "k2s3"])
def test_avgpool_gradients(K, stride):
    x = np.random.default_rng(22).standard_normal((2, 2, 7, 6))
    check_layer_gradients(AvgPool2d(K, stride), x)


def test_sequential_backward_gradients():
    rng = np.random.default_rng(23)
    drop = Dropout(p=0.25)
    net = Sequential(
        Conv2d(2, 3, 3, stride=1, padding=1, rng=rng),
        Sigmoid(),
        MaxPool2d(2),
        Flatten(),
        Affine(12, 6, rng=rng),
        BatchNorm1d(6),
        Tanh(),
        drop,
        Affine(6, 3, rng=rng),
    )
    for p in net.params.values():
        p += 0.1 * rng.standard_normal(p.shape)
    assert set(net.params) == {"0.W", "0.b", "4.W", "4.b", "5.gamma", "5.beta", "8.W", "8.b"}
    x = rng.standard_normal((3, 2, 5, 4))

    def reseed():
        drop.rng = np.random.default_rng(7)

    reseed()
    out = net.forward(x)
    assert out.shape == (3, 3)
    dout = rng.standard_normal(out.shape)
    dx = net.backward(dout)
    grads = {k: v.copy() for k, v in net.grads.items()}

    def loss():
        reseed()
        return float(np.sum(net.forward(x) * dout))

    assert rel_error(dx, num_grad(loss, x)) < TOL
    for key, p in net.params.items():  # the layers' own arrays, nudged through the flat dict
        numeric = num_grad(loss, p)
        if key == "4.b":  # BatchNorm cancels any per-feature shift: this gradient is exactly 0
            assert np.abs(grads[key]).max() < 1e-12 and np.abs(numeric).max() < 1e-8
        else:
            assert rel_error(grads[key], numeric) < TOL, key


# ------------------------------------------------------------------ no in-place changes, repeatable backward


def _layer_cases():
    rng = np.random.default_rng(24)
    return {
        "affine": (lambda: Affine(6, 3, rng=np.random.default_rng(0)), rng.standard_normal((4, 2, 3))),
        "relu": (Relu, rng.standard_normal((4, 5))),
        "sigmoid": (Sigmoid, rng.standard_normal((4, 5))),
        "tanh": (Tanh, rng.standard_normal((4, 5))),
        "flatten": (Flatten, rng.standard_normal((2, 3, 4))),
        "dropout": (lambda: Dropout(0.5, rng=np.random.default_rng(0)), rng.standard_normal((4, 5))),
        "dropout-eval": (lambda: Dropout(0.5).eval(), rng.standard_normal((4, 5))),
        "batchnorm": (lambda: BatchNorm1d(5), rng.standard_normal((4, 5))),
        "batchnorm-eval": (lambda: BatchNorm1d(5).eval(), rng.standard_normal((4, 5))),
        "conv": (
            lambda: Conv2d(2, 3, 3, 2, 1, rng=np.random.default_rng(0)),
            rng.standard_normal((2, 2, 5, 6)),
        ),
        "maxpool": (lambda: MaxPool2d(3, 2), distinct_values(rng, (2, 2, 5, 7))),
        "avgpool": (lambda: AvgPool2d(3, 2), rng.standard_normal((2, 2, 5, 7))),
        "sequential": (
            lambda: Sequential(Affine(5, 4, rng=np.random.default_rng(0)), Tanh(), Affine(4, 2)),
            rng.standard_normal((3, 5)),
        ),
    }


LAYER_CASES = _layer_cases()


@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_forward_backward_leave_inputs_alone_and_backward_repeats(name):
    make, x = LAYER_CASES[name]
    layer = make()
    x_before = x.copy()
    out = layer.forward(x)
    np.testing.assert_array_equal(x, x_before)
    out_before = out.copy()
    dout = np.random.default_rng(25).standard_normal(out.shape)
    dout_before = dout.copy()
    dx1 = np.array(layer.backward(dout), copy=True)
    grads1 = {k: np.array(v, copy=True) for k, v in layer.grads.items()}
    dx2 = layer.backward(dout)
    np.testing.assert_array_equal(dout, dout_before)
    np.testing.assert_array_equal(out, out_before)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dx1, dx2)
    assert dx1.shape == x.shape
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(g, grads1[k])


@pytest.mark.parametrize("loss_cls", [SoftmaxCrossEntropy, MSELoss])
def test_losses_leave_inputs_alone_and_backward_repeats(loss_cls):
    rng = np.random.default_rng(26)
    scores = rng.standard_normal((4, 3))
    target = rng.integers(0, 3, 4) if loss_cls is SoftmaxCrossEntropy else rng.standard_normal((4, 3))
    s0, t0 = scores.copy(), target.copy()
    loss = loss_cls()
    loss.forward(scores, target)
    g1 = loss.backward().copy()
    np.testing.assert_array_equal(loss.backward(), g1)
    np.testing.assert_array_equal(scores, s0)
    np.testing.assert_array_equal(target, t0)


# ------------------------------------------------------------------ dropout behaviour


def test_dropout_zeroes_about_p_and_scales_survivors():
    p = 0.3
    x = np.ones((1000, 1000))
    out = Dropout(p, rng=np.random.default_rng(27)).forward(x)
    zeroed = np.mean(out == 0)
    assert abs(zeroed - p) < 0.005  # ~10 standard deviations
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-15)
    assert abs(out.mean() - 1.0) < 0.01


def test_dropout_reproducible_with_seeded_rng():
    x = np.ones((20, 20))
    a = Dropout(0.5, rng=np.random.default_rng(3)).forward(x)
    b = Dropout(0.5, rng=np.random.default_rng(3)).forward(x)
    c = Dropout(0.5, rng=np.random.default_rng(4)).forward(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_identity_in_eval_and_for_p_zero():
    x = np.random.default_rng(28).standard_normal((6, 7))
    d = Dropout(0.9, rng=np.random.default_rng(0)).eval()
    np.testing.assert_array_equal(d.forward(x), x)
    dout = np.arange(42.0).reshape(6, 7)
    np.testing.assert_array_equal(d.backward(dout), dout)
    d0 = Dropout(0.0, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(d0.forward(x), x)
    np.testing.assert_array_equal(d0.backward(dout), dout)


# ------------------------------------------------------------------ optimizers


def hand_updates(kind, params, grad_steps, lr, wd, **hp):
    """Expected parameters after each step, written directly from the update formulas."""
    p = {k: v.copy() for k, v in params.items()}
    s1 = {k: np.zeros_like(v) for k, v in params.items()}
    s2 = {k: np.zeros_like(v) for k, v in params.items()}
    history = []
    for t, grads in enumerate(grad_steps, start=1):
        for k in p:
            g = grads[k] + wd * p[k]
            if kind == "sgd":
                p[k] = p[k] - lr * g
            elif kind == "momentum":
                s1[k] = hp["momentum"] * s1[k] - lr * g
                p[k] = p[k] + s1[k]
            elif kind == "adagrad":
                s1[k] = s1[k] + g**2
                p[k] = p[k] - lr * g / (np.sqrt(s1[k]) + hp["eps"])
            elif kind == "rmsprop":
                s1[k] = hp["alpha"] * s1[k] + (1 - hp["alpha"]) * g**2
                p[k] = p[k] - lr * g / (np.sqrt(s1[k]) + hp["eps"])
            elif kind == "adam":
                b1, b2 = hp["beta1"], hp["beta2"]
                s1[k] = b1 * s1[k] + (1 - b1) * g
                s2[k] = b2 * s2[k] + (1 - b2) * g**2
                m_hat, v_hat = s1[k] / (1 - b1**t), s2[k] / (1 - b2**t)
                p[k] = p[k] - lr * m_hat / (np.sqrt(v_hat) + hp["eps"])
        history.append({k: v.copy() for k, v in p.items()})
    return history


OPTIMIZERS = {
    "sgd": (SGD, {}),
    "momentum": (Momentum, {"momentum": 0.8}),
    "adagrad": (AdaGrad, {"eps": 1e-3}),
    "rmsprop": (RMSProp, {"alpha": 0.9, "eps": 1e-3}),
    "adam": (Adam, {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3}),
}


@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_optimizers_follow_update_formulas_in_place(kind, wd):
    cls, hp = OPTIMIZERS[kind]
    rng = np.random.default_rng(29)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "gamma": rng.standard_normal(2)}
    grad_steps = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]
    expected = hand_updates(kind, params, grad_steps, 0.05, wd, **hp)
    opt = cls(lr=0.05, weight_decay=wd, **hp)
    ids = {k: id(v) for k, v in params.items()}
    start = {k: v.copy() for k, v in params.items()}
    for grads, exp in zip(grad_steps, expected, strict=True):
        opt.step(params, grads)
        assert {k: id(v) for k, v in params.items()} == ids
        for k in params:
            np.testing.assert_allclose(params[k], exp[k], rtol=1e-12, atol=1e-14)
    assert all(not np.allclose(params[k], start[k]) for k in params)


def test_optimizer_first_steps_closed_forms():
    g = np.array([0.5, -2.0, 1e-3])
    p = np.zeros(3)
    Adam(lr=0.1, eps=0.0).step({"p": p}, {"p": g})
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-12)  # m_hat / sqrt(v_hat) = sign(g)
    p = np.zeros(3)
    AdaGrad(lr=0.1, eps=0.0).step({"p": p}, {"p": g})
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-12)
    p = np.zeros(3)
    RMSProp(lr=0.1, alpha=0.75, eps=0.0).step({"p": p}, {"p": g})
    np.testing.assert_allclose(p, -0.1 * np.sign(g) / 0.5, rtol=1e-12)  # sqrt(1 - 0.75) = 0.5
    p = np.zeros(3)
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.step({"p": p}, {"p": g})
    opt.step({"p": p}, {"p": g})
    np.testing.assert_allclose(p, -0.1 * g * (1 + 1.9), rtol=1e-12)
    p = np.ones(3)
    SGD(lr=0.1, weight_decay=0.5).step({"p": p}, {"p": g})
    np.testing.assert_allclose(p, 1 - 0.1 * (g + 0.5), rtol=1e-12)


def test_optimizer_state_is_kept_per_key():
    g = np.array([1.0, -1.0])
    a, b = np.zeros(2), np.zeros(2)
    opt = Momentum(lr=1.0, momentum=0.5)
    opt.step({"a": a, "b": b}, {"a": g, "b": 3 * g})
    opt.step({"a": a, "b": b}, {"a": g, "b": 3 * g})
    np.testing.assert_allclose(a, -g * 2.5)
    np.testing.assert_allclose(b, -3 * g * 2.5)


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_optimizers_update_the_layers_through_sequential_dicts(kind):
    cls, hp = OPTIMIZERS[kind]
    rng = np.random.default_rng(30)
    net = Sequential(Affine(3, 4, rng=rng), Relu(), Affine(4, 2, rng=rng))
    layer_arrays = [net.layers[0].params["W"], net.layers[2].params["b"]]
    before = [a.copy() for a in layer_arrays]
    loss = MSELoss()
    loss.forward(net.forward(rng.standard_normal((5, 3))), rng.standard_normal((5, 2)))
    net.backward(loss.backward())
    g_W = net.grads["0.W"].copy()
    opt = cls(lr=0.1, **hp)
    opt.step(net.params, net.grads)
    assert net.layers[0].params["W"] is layer_arrays[0] and net.layers[2].params["b"] is layer_arrays[1]
    for arr, old in zip(layer_arrays, before, strict=True):
        assert not np.array_equal(arr, old)
    if kind == "sgd":
        np.testing.assert_allclose(net.layers[0].params["W"], before[0] - 0.1 * g_W, rtol=1e-12)


# ------------------------------------------------------------------ initialisation


@pytest.mark.parametrize(
    "init, std",
    [(xavier_init, math.sqrt(2 / (400 + 600))), (he_init, math.sqrt(2 / 400))],
    ids=["xavier", "he"],
)
def test_init_std_and_reproducibility(init, std):
    W = init(400, 600, rng=np.random.default_rng(31))
    assert W.shape == (400, 600)
    assert abs(W.std() / std - 1) < 0.01  # relative sd of the estimate ~ 0.15%
    assert abs(W.mean()) < 0.01 * std
    np.testing.assert_array_equal(W, init(400, 600, rng=np.random.default_rng(31)))
    assert not np.array_equal(W, init(400, 600, rng=np.random.default_rng(32)))


# ------------------------------------------------------------------ training


@pytest.mark.parametrize(
    "make_opt, epochs", [(lambda: Adam(lr=0.05), 300), (lambda: SGD(lr=0.5), 1500)], ids=["adam", "sgd"]
)
def test_sequential_fit_learns_xor(make_opt, epochs):
    rng = np.random.default_rng(33)
    X = np.array(BITS, dtype=float)
    y = np.array([0, 1, 1, 0])
    net = Sequential(Affine(2, 8, rng=rng), Tanh(), Affine(8, 2, rng=rng))
    history = net.fit(X, y, SoftmaxCrossEntropy(), make_opt(), epochs=epochs, batch_size=2, rng=rng)
    assert isinstance(history, list) and len(history) == 2 * epochs
    assert all(isinstance(v, float) for v in history)
    assert history[-1] < 0.1 * history[0]
    np.testing.assert_array_equal(net.forward(X).argmax(axis=1), y)


def test_sequential_fit_visits_every_sample_each_epoch():
    X = np.arange(10, dtype=float).reshape(5, 2)
    y = np.zeros((5, 1))
    net = Sequential(Affine(2, 1, rng=np.random.default_rng(0)))
    seen = []

    class Record(MSELoss):
        def forward(self, pred, target):
            seen.append(len(pred))
            return super().forward(pred, target)

    history = net.fit(X, y, Record(), SGD(lr=0.0), epochs=3, batch_size=2, rng=np.random.default_rng(1))
    assert seen == [2, 2, 1] * 3 and len(history) == 9


# ------------------------------------------------------------------ error messages


def test_affine_wrong_feature_count():
    with pytest.raises(ValueError, match=r"\(N, 5\).*\(3, 4\)"):
        Affine(5, 2, rng=np.random.default_rng(0)).forward(np.zeros((3, 4)))


def test_conv_wrong_rank():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(2, 3, 4\)"):
        Conv2d(2, 3, 3, rng=np.random.default_rng(0)).forward(np.zeros((2, 3, 4)))


def test_conv_channel_mismatch():
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\).*\(1, 3, 5, 5\)"):
        Conv2d(2, 3, 3, rng=np.random.default_rng(0)).forward(np.zeros((1, 3, 5, 5)))


def test_conv_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel_size 5.*padded input \(4\)"):
        Conv2d(1, 1, 5, padding=1, rng=np.random.default_rng(0)).forward(np.zeros((1, 1, 2, 6)))


def test_avgpool_wrong_rank_and_window_larger_than_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(4, 4\)"):
        AvgPool2d(2).forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"kernel_size 3.*\(2\)"):
        AvgPool2d(3).forward(np.zeros((1, 1, 2, 5)))


def test_maxpool_wrong_rank():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(4, 4\)"):
        MaxPool2d(2).forward(np.zeros((4, 4)))


def test_softmax_cross_entropy_label_shape_mismatch():
    with pytest.raises(ValueError, match=r"labels \(4,\) or one-hot \(4, 3\), got \(3,\)"):
        SoftmaxCrossEntropy().forward(np.zeros((4, 3)), np.zeros(3, dtype=int))


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_optimizer_key_mismatch(kind):
    cls, hp = OPTIMIZERS[kind]
    with pytest.raises(KeyError, match="same keys"):
        cls(**hp).step({"W": np.zeros(2), "b": np.zeros(1)}, {"W": np.zeros(2)})


def test_layer_rejects_non_numeric_input():
    with pytest.raises(TypeError, match="numeric"):
        Relu().forward(np.array(["a", "b"]))
