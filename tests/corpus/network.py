"""Mistakes and alternative implementations of Sequential."""

import contextlib
import functools

import numpy as np

import solutions as ref

from . import Alternative, Bug


# ----------------------------------------------------------------------------- forward / backward bugs
class ForwardSkipsLast(ref.Sequential):
    def forward(self, x):
        for layer in self.layers[:-1]:
            x = layer.forward(x)
        return x


class ForwardReturnsInLoop(ref.Sequential):
    def forward(self, x):
        for layer in self.layers:
            return layer.forward(x)


class BackwardForwardOrder(ref.Sequential):
    def backward(self, dout):
        for layer in self.layers:
            dout = layer.backward(dout)
        return dout


class BackwardUnchained(ref.Sequential):
    def backward(self, dout):
        for layer in reversed(self.layers):
            dx = layer.backward(dout)
        return dx


class BackwardNoReturn(ref.Sequential):
    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)


# ----------------------------------------------------------------------------- fit bugs
def batches(n, batch_size, order):
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


class FitNoStep(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for batch in batches(len(X), batch_size, order):
                history.append(loss.forward(self.forward(X[batch]), y[batch]))
                self.backward(loss.backward())
        return history


class FitStepBeforeBackward(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for batch in batches(len(X), batch_size, order):
                history.append(loss.forward(self.forward(X[batch]), y[batch]))
                optimizer.step(self.params, self.grads)
                self.backward(loss.backward())
        return history


class FitFullBatch(ref.Sequential):
    """Ignores batch_size: one full-batch step per epoch."""

    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        return super().fit(X, y, loss, optimizer, epochs, len(X), shuffle, rng)


class FitLastLossOnly(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        return super().fit(X, y, loss, optimizer, epochs, batch_size, shuffle, rng)[-1]


class FitDropsLastBatch(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for i in range(len(X) // batch_size):
                batch = order[i * batch_size : (i + 1) * batch_size]
                history.append(loss.forward(self.forward(X[batch]), y[batch]))
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
        return history


class FitOneEpoch(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        return super().fit(X, y, loss, optimizer, 1, batch_size, shuffle, rng)


class FitShufflesXAndYApart(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        history = []
        for _ in range(epochs):
            xs = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            ys = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for start in range(0, len(X), batch_size):
                xb, yb = X[xs[start : start + batch_size]], y[ys[start : start + batch_size]]
                history.append(loss.forward(self.forward(xb), yb))
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
        return history


class FitNeverShuffles(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        return super().fit(X, y, loss, optimizer, epochs, batch_size, False, rng)


class FitGlobalRandom(ref.Sequential):
    """Shuffles with np.random instead of the rng argument."""

    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        return super().fit(X, y, loss, optimizer, epochs, batch_size, shuffle, np.random.default_rng())


class FitWithReplacement(ref.Sequential):
    """Draws every mini-batch at random, with replacement."""

    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        history = []
        for _ in range(epochs):
            for start in range(0, len(X), batch_size):
                size = min(batch_size, len(X) - start)
                batch = rng.integers(0, len(X), size) if shuffle else np.arange(start, start + size)
                history.append(loss.forward(self.forward(X[batch]), y[batch]))
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
        return history


class FitRecordsLossAfterStep(ref.Sequential):
    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for batch in batches(len(X), batch_size, order):
                loss.forward(self.forward(X[batch]), y[batch])
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
                history.append(loss.forward(self.forward(X[batch]), y[batch]))
        return history


BUGS = [
    Bug("sequential forward skips the last layer", "Sequential", ForwardSkipsLast, "last layer is skipped"),
    Bug("sequential forward returns inside the loop", "Sequential", ForwardReturnsInLoop, "first layer ran"),
    Bug("sequential backward in forward order", "Sequential", BackwardForwardOrder, "forward order"),
    Bug("sequential backward not chained", "Sequential", BackwardUnchained, "original dout"),
    Bug("sequential backward returns nothing", "Sequential", BackwardNoReturn, "missing return"),
    Bug("fit never calls optimizer.step", "Sequential", FitNoStep, "did not change"),
    Bug("fit steps before backward", "Sequential", FitStepBeforeBackward, "before backward"),
    Bug("fit ignores batch_size", "Sequential", FitFullBatch, "one loss per epoch"),
    Bug("fit returns only the last loss", "Sequential", FitLastLossOnly, "only the last loss"),
    Bug("fit drops the last partial batch", "Sequential", FitDropsLastBatch, "smaller mini-batch"),
    Bug("fit runs a single epoch", "Sequential", FitOneEpoch, "only one epoch"),
    Bug("fit shuffles X and y apart", "Sequential", FitShufflesXAndYApart, "X and y in the same order"),
    Bug("fit never shuffles", "Sequential", FitNeverShuffles, "must shuffle"),
    Bug("fit shuffles with np.random", "Sequential", FitGlobalRandom, "rng argument"),
    Bug("fit samples with replacement", "Sequential", FitWithReplacement, "exactly once"),
    Bug("fit records the loss after the step", "Sequential", FitRecordsLossAfterStep),
]


# ----------------------------------------------------------------------------- alternatives
class FitBooleanMasks(ref.Sequential):
    """Mini-batches picked with boolean masks (samples keep their original order within a batch)."""

    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        rng = np.random.default_rng() if rng is None else rng
        self.train()
        history = []
        for _ in range(epochs):
            position = rng.permutation(len(X)) if shuffle else np.arange(len(X))  # rank of each sample
            for start in range(0, len(X), batch_size):
                mask = (position >= start) & (position < start + batch_size)
                history.append(float(loss.forward(self.forward(X[mask]), y[mask])))
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
        return history


class FitShuffledCopies(ref.Sequential):
    """Shuffles copies of X and y in place with rng.shuffle, then slices them."""

    def fit(self, X, y, loss, optimizer, epochs=1, batch_size=32, shuffle=True, rng=None):
        X, y = np.array(X, dtype=float), np.array(y)
        rng = np.random.default_rng() if rng is None else rng
        self.train()
        history = []
        for _ in range(epochs):
            if shuffle:
                order = np.arange(len(X))
                rng.shuffle(order)
                X, y = X[order], y[order]
            start = 0
            while start < len(X):
                out = self.forward(X[start : start + batch_size])
                history.append(loss.forward(out, y[start : start + batch_size]))
                self.backward(loss.backward())
                optimizer.step(self.params, self.grads)
                start += batch_size
        return history


class ReduceAndIndexLoop(ref.Sequential):
    """forward with functools.reduce; backward by index from the end."""

    def forward(self, x):
        return functools.reduce(lambda out, layer: layer.forward(out), self.layers, x)

    def backward(self, dout):
        for i in range(len(self.layers) - 1, -1, -1):
            dout = self.layers[i].backward(dout)
        return dout


ALTERNATIVES = [
    Alternative("fit with boolean masks", "Sequential", FitBooleanMasks),
    Alternative("fit slicing shuffled copies", "Sequential", FitShuffledCopies),
    Alternative("forward with reduce, backward by index", "Sequential", ReduceAndIndexLoop),
]


# ----------------------------------------------------------------------------- predict
def evaluated(net, X):
    """net.forward(X) in evaluation mode, the mode found restored: what the predict bugs below get right."""
    was_training = net.training
    net.eval()
    try:
        return net.forward(X)
    finally:
        if was_training:
            net.train()


class PredictReturnsScores(ref.Sequential):
    def predict(self, X):
        return evaluated(self, X)


class PredictReturnsProbabilities(ref.Sequential):
    def predict(self, X):
        return ref.softmax(evaluated(self, X))


class PredictArgmaxAxis0(ref.Sequential):
    def predict(self, X):
        return np.argmax(evaluated(self, X), axis=0)


class PredictFloatLabels(ref.Sequential):
    def predict(self, X):
        return np.argmax(evaluated(self, X), axis=1).astype(float)


class PredictInTrainingMode(ref.Sequential):
    def predict(self, X):
        return np.argmax(self.forward(X), axis=1)


class PredictLeavesEvalMode(ref.Sequential):
    def predict(self, X):
        self.eval()
        return np.argmax(self.forward(X), axis=1)


class PredictAlwaysBackToTraining(ref.Sequential):
    def predict(self, X):
        self.eval()
        labels = np.argmax(self.forward(X), axis=1)
        self.train()
        return labels


class PredictRestoresWithoutFinally(ref.Sequential):
    def predict(self, X):
        was_training = self.training
        self.eval()
        labels = np.argmax(self.forward(X), axis=1)
        if was_training:
            self.train()
        return labels


BUGS += [
    Bug("predict returns the scores", "Sequential", PredictReturnsScores, "a score (or probability) for every class"),
    Bug("predict returns probabilities", "Sequential", PredictReturnsProbabilities, "np.argmax(scores, axis=1)"),
    Bug("predict takes the argmax over axis 0", "Sequential", PredictArgmaxAxis0, "the argmax ran over axis 0"),
    Bug("predict returns float labels", "Sequential", PredictFloatLabels, "not as floats"),
    Bug("predict stays in training mode", "Sequential", PredictInTrainingMode, "call self.eval() before"),
    Bug("predict leaves the net in eval mode", "Sequential", PredictLeavesEvalMode, "leaves the network in evaluation mode"),
    Bug("predict always switches back to training", "Sequential", PredictAlwaysBackToTraining, "restore the mode it found"),
    Bug("predict restores the mode without finally", "Sequential", PredictRestoresWithoutFinally, "in a finally block"),
]  # fmt: skip


class PredictSoftmaxArgmax(ref.Sequential):
    """The argmax of the softmax probabilities (the same labels); each layer's own mode restored."""

    def predict(self, X):
        modes = [self.training] + [layer.training for layer in self.layers]
        self.eval()
        try:
            scores = self.forward(X)
            probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            return np.argmax(probabilities, axis=1)
        finally:
            self.training = modes[0]
            for layer, training in zip(self.layers, modes[1:], strict=True):
                layer.training = training


class PredictWithContextManager(ref.Sequential):
    """Evaluation mode through a context manager; labels as int64 by comparing with the row maximum."""

    @contextlib.contextmanager
    def evaluating(self):
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train() if was_training else self.eval()

    def predict(self, X):
        with self.evaluating():
            scores = self.forward(X)
        return (scores == scores.max(axis=1, keepdims=True)).argmax(axis=1).astype(np.int64)


ALTERNATIVES += [
    Alternative("predict: argmax of softmax probabilities", "Sequential", PredictSoftmaxArgmax),
    Alternative("predict in a context manager", "Sequential", PredictWithContextManager),
]
