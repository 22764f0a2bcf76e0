"""Chapter 6: optimizers.

`step(params, grads)` updates every array of `params` in place (the very
arrays the layers hold), keeping any state per key. `weight_decay` adds
`weight_decay * param` to each gradient (L2 regularisation).
"""

import numpy as np

from .base import param_pairs


class SGD:
    """Plain gradient descent: param -= lr * grad."""

    def __init__(self, lr=0.01, weight_decay=0.0):
        self.lr, self.weight_decay = lr, weight_decay

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "SGD"):
            ### BEGIN SOLUTION: add weight decay to the gradient, subtract lr times it in place
            p -= self.lr * (g + self.weight_decay * p)
            ### END SOLUTION


class Momentum:
    """SGD with momentum: v = momentum * v - lr * grad; param += v (v starts at 0)."""

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "Momentum"):
            ### BEGIN SOLUTION: keep a velocity per key, decay it, add the new step, move the parameter
            g = g + self.weight_decay * p
            v = self.velocity.get(key, np.zeros_like(p))
            self.velocity[key] = self.momentum * v - self.lr * g
            p += self.velocity[key]
            ### END SOLUTION


class AdaGrad:
    """AdaGrad: h += grad^2; param -= lr * grad / (sqrt(h) + eps)."""

    def __init__(self, lr=0.01, eps=1e-8, weight_decay=0.0):
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.h = {}

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "AdaGrad"):
            ### BEGIN SOLUTION: accumulate squared gradients per key, scale the step by their root
            g = g + self.weight_decay * p
            self.h[key] = self.h.get(key, 0.0) + g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)
            ### END SOLUTION


class RMSProp:
    """RMSProp: h = alpha * h + (1 - alpha) * grad^2; param -= lr * grad / (sqrt(h) + eps)."""

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        self.lr, self.alpha, self.eps, self.weight_decay = lr, alpha, eps, weight_decay
        self.h = {}

    def step(self, params, grads):
        for key, p, g in param_pairs(params, grads, "RMSProp"):
            ### BEGIN SOLUTION: keep a decaying average of squared gradients per key
            g = g + self.weight_decay * p
            self.h[key] = self.alpha * self.h.get(key, 0.0) + (1 - self.alpha) * g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)
            ### END SOLUTION


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
        ### BEGIN SOLUTION: count the step once, then update both moments per key and apply the bias-corrected step
        self.t += 1
        for key, p, g in param_pairs(params, grads, "Adam"):
            g = g + self.weight_decay * p
            self.m[key] = self.beta1 * self.m.get(key, 0.0) + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v.get(key, 0.0) + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        ### END SOLUTION
