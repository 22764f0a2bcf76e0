"""Chapter 4: computational-graph nodes with two inputs."""


class MulLayer:
    """Node `out = x * y` (elementwise); backward returns (dx, dy)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, y):
        raise NotImplementedError("MulLayer.forward: remember both inputs, return their product")

    def backward(self, dout):
        raise NotImplementedError("MulLayer.backward: each input's gradient is dout times the other input")


class AddLayer:
    """Node `out = x + y`; backward returns (dx, dy)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, y):
        raise NotImplementedError("AddLayer.forward: return the sum")

    def backward(self, dout):
        raise NotImplementedError("AddLayer.backward: the gradient flows unchanged to both inputs")
