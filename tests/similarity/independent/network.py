"""Chapter 5: a network is a list of layers run forward, then backward in reverse."""

import numpy as np

from .base import as_float_array


class Sequential:
    """Layers applied in order.

    `params` and `grads` are flat views over every layer's dicts, keyed
    "<layer index>.<name>" (e.g. "0.W"), holding the layers' own arrays, so an
    optimizer stepping `params` updates the layers.
    """

    def __init__(self, *layers):
        self.layers = list(layers)
        self.training = True

    @property
    def params(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @property
    def grads(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def train(self):
        """Put every layer in training mode."""
        self.training = True
        for layer in self.layers:
            layer.training = True
        return self

    def eval(self):
        """Put every layer in evaluation mode."""
        self.training = False
        for layer in self.layers:
            layer.training = False
        return self

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """x: the first layer's input -> the last layer's output."""
        signal = x
        index = 0
        while index < len(self.layers):
            signal = self.layers[index].forward(signal)
            index += 1
        return signal

    def backward(self, dout):
        """dout: gradient of the loss with respect to the output -> gradient with respect to the input."""
        gradient = dout
        for index in range(len(self.layers) - 1, -1, -1):
            gradient = self.layers[index].backward(gradient)
        return gradient

    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        """Train on (X, y) in mini-batches and return the loss of every step (a list of floats).

        Each epoch visits every sample once, in an order shuffled with `rng`
        (a fresh Generator if None) when `shuffle` is True. One step: forward,
        `loss.forward(out, y_batch)`, `loss.backward()`, `self.backward`,
        `optimizer.step(self.params, self.grads)`. The network is in training mode.
        """
        X = as_float_array(X, "X")
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"Sequential.fit: X has {len(X)} samples but y has {len(y)}")
        rng = np.random.default_rng() if rng is None else rng
        self.train()
        losses = []
        count = len(X)
        for epoch in range(epochs):
            if shuffle:
                order = rng.permutation(count)
            else:
                order = np.arange(count)
            batches = [order[i : i + batch_size] for i in range(0, count, batch_size)]
            for chosen in batches:
                scores = self.forward(X[chosen])
                value = loss.forward(scores, y[chosen])
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
                losses.append(float(value))
        return losses

    def predict(self, X):
        """X: (N, ...) the first layer's input -> (N,) integer class labels.

        A sample's label is the index of its largest score, the argmax over axis 1 of
        the last layer's (N, C) output. Runs in evaluation mode (Dropout off, BatchNorm
        with its running statistics) and leaves the network in the mode it found
        (training or evaluation), also when forward raises.
        """
        mode_before = self.training
        try:
            self.eval()
            scores = self.forward(X)
            labels = scores.argmax(axis=1)
        finally:
            self.train() if mode_before else self.eval()
        return labels
