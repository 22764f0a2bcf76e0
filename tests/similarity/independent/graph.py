"""Chapter 4: computational-graph nodes with two inputs."""


class MulLayer:
    """Node `out = x * y` (elementwise); backward returns (dx, dy)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, y):
        self.cache = (x, y)
        product = x * y
        return product

    def backward(self, dout):
        left, right = self.cache
        grad_left = right * dout
        grad_right = left * dout
        return grad_left, grad_right


class AddLayer:
    """Node `out = x + y`; backward returns (dx, dy)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, y):
        total = x + y
        return total

    def backward(self, dout):
        grad_left = dout * 1
        grad_right = dout * 1
        return grad_left, grad_right
