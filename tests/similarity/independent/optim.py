"""Chapter 6: optimizers.

`step(params, grads)` updates every array of `params` in place (the very
arrays the layers hold), keeping any state per key. `weight_decay` adds
`weight_decay * param` to each gradient (L2 regularisation).
"""

import numpy as np

from .base import param_pairs


def _decayed(grad, param, weight_decay):
    """The gradient with the L2 penalty's share added (a new array)."""
    return grad + weight_decay * param if weight_decay else grad.astype(param.dtype, copy=True)


class SGD:
    """Plain gradient descent: param -= lr * grad."""

    def __init__(self, lr=0.01, weight_decay=0.0):
        self.lr, self.weight_decay = lr, weight_decay

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            update = _decayed(g, p, self.weight_decay)
            np.subtract(p, self.lr * update, out=p, casting="unsafe")


class Momentum:
    """SGD with momentum: v = momentum * v - lr * grad; param += v (v starts at 0)."""

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            if key not in self.velocity:
                self.velocity[key] = np.zeros(p.shape)
            speed = self.momentum * self.velocity[key] - self.lr * _decayed(g, p, self.weight_decay)
            self.velocity[key] = speed
            np.add(p, speed, out=p, casting="unsafe")


class AdaGrad:
    """AdaGrad: h += grad^2; param -= lr * grad / (sqrt(h) + eps)."""

    def __init__(self, lr=0.01, eps=1e-8, weight_decay=0.0):
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.h = {}

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            grad = _decayed(g, p, self.weight_decay)
            squares = self.h.setdefault(key, np.zeros(p.shape))
            squares += np.square(grad)
            np.subtract(p, self.lr * grad / (np.sqrt(squares) + self.eps), out=p, casting="unsafe")


class RMSProp:
    """RMSProp: h = alpha * h + (1 - alpha) * grad^2; param -= lr * grad / (sqrt(h) + eps)."""

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        self.lr, self.alpha, self.eps, self.weight_decay = lr, alpha, eps, weight_decay
        self.h = {}

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "RMSProp"):
            grad = _decayed(g, p, self.weight_decay)
            previous = self.h.get(key, np.zeros(p.shape))
            average = self.alpha * previous + (1.0 - self.alpha) * np.square(grad)
            self.h[key] = average
            np.subtract(p, self.lr * grad / (np.sqrt(average) + self.eps), out=p, casting="unsafe")


class Adam:
    """Adam with bias correction; t counts the calls to `step` (1 on the first).

    m = beta1 * m + (1 - beta1) * grad; v = beta2 * v + (1 - beta2) * grad^2;
    param -= lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t).
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.weight_decay = weight_decay
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        checked = list(param_pairs(params, grads, "Adam"))
        self.t = self.t + 1
        first_fix = 1.0 - self.beta1**self.t
        second_fix = 1.0 - self.beta2**self.t
        for key, p, g in checked:
            grad = _decayed(g, p, self.weight_decay)
            first = self.m.get(key, np.zeros(p.shape))
            second = self.v.get(key, np.zeros(p.shape))
            first = self.beta1 * first + (1.0 - self.beta1) * grad
            second = self.beta2 * second + (1.0 - self.beta2) * grad**2
            self.m[key], self.v[key] = first, second
            size = self.lr * (first / first_fix) / (np.sqrt(second / second_fix) + self.eps)
            np.subtract(p, size, out=p, casting="unsafe")
