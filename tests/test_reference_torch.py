"""The reference solutions against PyTorch (float64): forward values and every gradient."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is a test-only oracle: pip install torch==2.13.0")
F = torch.nn.functional

from solutions import (  # noqa: E402
    SGD,
    AdaGrad,
    Adam,
    Affine,
    AvgPool2d,
    BatchNorm1d,
    Conv2d,
    MaxPool2d,
    Momentum,
    RMSProp,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
)

pytestmark = pytest.mark.torch

ATOL = 1e-10


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs, atol=ATOL, rtol=1e-9):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert np.shape(ours) == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=atol, rtol=rtol)


def distinct_values(rng, shape, gap=0.05):
    n = int(np.prod(shape))
    return (rng.permutation(n) * gap - n * gap / 2).reshape(shape)


def random_conv_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        K, pad, stride = int(rng.integers(1, 6)), int(rng.integers(0, 3)), int(rng.integers(1, 4))
        Hh = int(rng.integers(max(1, K - 2 * pad), 12))
        Ww = int(rng.integers(max(1, K - 2 * pad), 12))
        if Hh == Ww:
            Ww += 1
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


CONV_CASES = random_conv_cases(2024, 16) + [(2, 3, 4, 3, 2, 1, 9, 7), (1, 2, 3, 4, 3, 2, 6, 11)]


@pytest.mark.parametrize("N, C, Fo, K, stride, pad, Hh, Ww", CONV_CASES)
def test_conv2d_matches_torch(N, C, Fo, K, stride, pad, Hh, Ww):
    rng = np.random.default_rng(N * 1000 + C * 100 + K * 10 + stride)
    conv = Conv2d(C, Fo, K, stride=stride, padding=pad, rng=rng)
    conv.params["b"] = rng.standard_normal(Fo)
    x = rng.standard_normal((N, C, Hh, Ww))
    xt, Wt, bt = t64(x, True), t64(conv.params["W"], True), t64(conv.params["b"], True)
    ref = F.conv2d(xt, Wt, bt, stride=stride, padding=pad)
    out = conv.forward(x)
    close(out, ref)
    dout = rng.standard_normal(out.shape)
    ref.backward(t64(dout))
    close(conv.backward(dout), xt.grad)
    close(conv.grads["W"], Wt.grad)
    close(conv.grads["b"], bt.grad)


@pytest.mark.parametrize(
    "K, stride, Hh, Ww",
    [(2, 2, 6, 8), (2, 1, 5, 6), (3, 1, 7, 5), (3, 2, 7, 9), (2, 3, 8, 7), (4, 2, 9, 10), (1, 2, 5, 4)],
    ids=["k2s2", "k2s1", "k3s1", "k3s2", "k2s3", "k4s2", "k1s2"],
)
def test_maxpool2d_matches_torch(K, stride, Hh, Ww):
    rng = np.random.default_rng(K * 10 + stride)
    x = distinct_values(rng, (2, 3, Hh, Ww))
    pool = MaxPool2d(K, stride)
    xt = t64(x, True)
    ref = F.max_pool2d(xt, K, stride)
    out = pool.forward(x)
    close(out, ref, atol=0, rtol=0)
    dout = rng.standard_normal(out.shape)
    ref.backward(t64(dout))
    close(pool.backward(dout), xt.grad)


@pytest.mark.parametrize(
    "K, stride, Hh, Ww",
    [(2, 2, 6, 8), (2, 1, 5, 6), (3, 1, 7, 5), (3, 2, 7, 9), (2, 3, 8, 7), (4, 2, 9, 10), (1, 2, 5, 4)],
    ids=["k2s2", "k2s1", "k3s1", "k3s2", "k2s3", "k4s2", "k1s2"],
)
def test_avgpool2d_matches_torch(K, stride, Hh, Ww):
    rng = np.random.default_rng(K * 10 + stride + 1)
    x = rng.standard_normal((2, 3, Hh, Ww))
    pool = AvgPool2d(K, stride)
    xt = t64(x, True)
    ref = F.avg_pool2d(xt, K, stride)
    out = pool.forward(x)
    close(out, ref)
    dout = rng.standard_normal(out.shape)
    ref.backward(t64(dout))
    close(pool.backward(dout), xt.grad)


@pytest.mark.parametrize("scale", [1.0, 1000.0], ids=["unit", "large"])
@pytest.mark.parametrize("onehot", [False, True], ids=["labels", "onehot"])
def test_softmax_cross_entropy_matches_torch(onehot, scale):
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((6, 5)) * scale
    labels = rng.integers(0, 5, 6)
    target = np.eye(5)[labels] if onehot else labels
    st = t64(scores, True)
    ref = F.cross_entropy(st, t64(target) if onehot else torch.tensor(labels))
    loss = SoftmaxCrossEntropy()
    value = loss.forward(scores, target)
    assert np.isfinite(value)
    assert value == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    ref.backward(torch.tensor(2.0, dtype=torch.float64))
    close(loss.backward(2.0), st.grad, atol=1e-14)


def make_bn(rng, D):
    bn = BatchNorm1d(D, momentum=0.9, eps=1e-5)
    bn.params["gamma"] = rng.uniform(0.5, 2.0, D)
    bn.params["beta"] = rng.standard_normal(D)
    ref = torch.nn.BatchNorm1d(D, eps=1e-5, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(t64(bn.params["gamma"]))
        ref.bias.copy_(t64(bn.params["beta"]))
    return bn, ref


def test_batchnorm1d_training_matches_torch():
    rng = np.random.default_rng(6)
    N, D = 8, 5
    bn, ref = make_bn(rng, D)
    for _ in range(3):
        x = rng.normal(1.5, 2.0, (N, D))
        xt = t64(x, True)
        prev_var = bn.running_var.copy()
        with torch.no_grad():
            ref.running_var.copy_(t64(prev_var))  # both start the step from our running_var
        ref.zero_grad()
        out_ref = ref(xt)
        out = bn.forward(x)
        close(out, out_ref)
        dout = rng.standard_normal((N, D))
        out_ref.backward(t64(dout))
        close(bn.backward(dout), xt.grad)
        close(bn.grads["gamma"], ref.weight.grad)
        close(bn.grads["beta"], ref.bias.grad)
        close(bn.running_mean, ref.running_mean)
        # torch mixes in the unbiased batch variance, ours the biased one (factor (N - 1) / N)
        unbiased = (ref.running_var.numpy() - 0.9 * prev_var) / 0.1
        close(bn.running_var, 0.9 * prev_var + 0.1 * unbiased * (N - 1) / N)


def test_batchnorm1d_eval_matches_torch_with_same_running_stats():
    rng = np.random.default_rng(7)
    bn, ref = make_bn(rng, 4)
    bn.running_mean, bn.running_var = rng.standard_normal(4), rng.uniform(0.3, 3.0, 4)
    with torch.no_grad():
        ref.running_mean.copy_(t64(bn.running_mean))
        ref.running_var.copy_(t64(bn.running_var))
    bn.eval()
    ref.eval()
    x = rng.standard_normal((6, 4))
    xt = t64(x, True)
    out_ref = ref(xt)
    close(bn.forward(x), out_ref)
    dout = rng.standard_normal((6, 4))
    out_ref.backward(t64(dout))
    close(bn.backward(dout), xt.grad)
    close(bn.grads["gamma"], ref.weight.grad)
    close(bn.grads["beta"], ref.bias.grad)


@pytest.mark.parametrize("shape", [(5, 6), (4, 2, 3)])
def test_affine_matches_torch_linear(shape):
    rng = np.random.default_rng(8)
    D = int(np.prod(shape[1:]))
    layer = Affine(D, 3, rng=rng)
    layer.params["b"] = rng.standard_normal(3)
    x = rng.standard_normal(shape)
    xt, Wt, bt = t64(x, True), t64(layer.params["W"].T, True), t64(layer.params["b"], True)
    ref = F.linear(xt.reshape(shape[0], -1), Wt, bt)  # torch weight is (out, in)
    out = layer.forward(x)
    close(out, ref)
    dout = rng.standard_normal(out.shape)
    ref.backward(t64(dout))
    close(layer.backward(dout), xt.grad)
    close(layer.grads["W"], Wt.grad.T)
    close(layer.grads["b"], bt.grad)


@pytest.mark.parametrize(
    "ours, theirs", [(Sigmoid, torch.sigmoid), (Tanh, torch.tanh)], ids=["sigmoid", "tanh"]
)
def test_elementwise_layers_match_torch(ours, theirs):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4, 2)) * 3
    xt = t64(x, True)
    ref = theirs(xt)
    layer = ours()
    close(layer.forward(x), ref, atol=1e-15)
    dout = rng.standard_normal(x.shape)
    ref.backward(t64(dout))
    close(layer.backward(dout), xt.grad, atol=1e-15)


OPTIMIZER_PAIRS = {
    "sgd-wd": (
        lambda: SGD(lr=0.1, weight_decay=0.05),
        lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.05),
    ),
    "momentum": (
        lambda: Momentum(lr=0.05, momentum=0.9),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0),
    ),
    "momentum-wd": (
        lambda: Momentum(lr=0.05, momentum=0.7, weight_decay=0.1),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.7, dampening=0, weight_decay=0.1),
    ),
    "adagrad": (
        lambda: AdaGrad(lr=0.1, eps=1e-10),
        lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-10),
    ),
    "adagrad-eps": (
        lambda: AdaGrad(lr=0.1, eps=0.5, weight_decay=0.02),
        lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=0.5, weight_decay=0.02),
    ),
    "rmsprop": (
        lambda: RMSProp(lr=0.01, alpha=0.9, eps=1e-3),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-3),
    ),
    "rmsprop-wd": (
        lambda: RMSProp(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.1),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.1),
    ),
    "adam": (
        lambda: Adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-3),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-3),
    ),
    "adam-wd": (
        lambda: Adam(lr=0.001, weight_decay=0.1),
        lambda ps: torch.optim.Adam(ps, lr=0.001, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("name", list(OPTIMIZER_PAIRS))
def test_optimizers_match_torch_over_five_steps(name):
    make_ours, make_theirs = OPTIMIZER_PAIRS[name]
    rng = np.random.default_rng(10)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tparams = {k: torch.nn.Parameter(t64(v)) for k, v in params.items()}
    ours, theirs = make_ours(), make_theirs(list(tparams.values()))
    start = {k: v.copy() for k, v in params.items()}
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        for k, p in tparams.items():
            p.grad = t64(grads[k])
        theirs.step()
        ours.step(params, grads)
        for k in params:
            close(params[k], tparams[k], atol=1e-13, rtol=1e-11)
    assert all(not np.allclose(params[k], start[k]) for k in params)
