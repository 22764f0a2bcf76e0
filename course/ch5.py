"""Chapter 5: training networks with Sequential and SGD."""

from grader.authoring.chapters import Answer, Carry, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch5_training",
    (
        Markdown(
            r"""
            # Chapter 5: training networks

            A network is a list of layers. Forward runs them in order; backward runs their `backward`
            methods in *reverse* order, each passing $\partial L / \partial(\text{its input})$ to the layer
            before it. An optimizer then moves every parameter a little against its gradient.

            By the end of this chapter you can

            * update parameters in place with stochastic gradient descent and weight decay;
            * chain layers into a `Sequential` network and train it on mini-batches with `fit`;
            * train a network that solves XOR, and a classifier of handwritten digits, and judge it by its
              accuracy on digits it never saw.

            Run the setup cell first.
            """
        ),
        Markdown(
            r"""
            ## Your layers from chapter 4

            Paste your chapter-4 `Affine`, `Relu`, `Sigmoid`, `Tanh` and `SoftmaxCrossEntropy` into the
            next two cells (they earn no points here, but the checks of `Sequential` train networks made
            of them, and say which one to fix first if one is wrong).
            """
        ),
        Carry("layers", ("Affine", "Relu", "Sigmoid", "Tanh")),
        Carry("losses", ("SoftmaxCrossEntropy",)),
        Markdown(
            r"""
            ## Stochastic gradient descent

            For every parameter array $W$ and its gradient $\partial L/\partial W$:

            $$W \leftarrow W - \eta \left(\frac{\partial L}{\partial W} + \lambda W\right)$$

            where $\lambda$ is the weight decay (L2 regularisation: it adds $\frac{\lambda}{2}\lVert W \rVert^2$
            to the loss). Update the arrays *in place* (`p -= ...`): they are the very arrays the layers
            hold, so a new array would leave the network unchanged.
            """
        ),
        Answer("optim", ("SGD",)),
        Tests("SGD"),
        Markdown(
            r"""
            ## Sequential

            `forward` feeds each layer's output to the next. `backward(dout)` walks the layers backwards:
            by the chain rule the gradient with respect to layer $i$'s input is layer $i$'s backward of the
            gradient with respect to its output. `fit` repeats, for each mini-batch: forward, loss,
            `loss.backward()`, `self.backward(...)`, `optimizer.step(self.params, self.grads)`, and returns
            the loss of every step. `predict(X)` gives each sample's class label, the index of its largest
            score ($\arg\max$ over axis 1 of the output, shape $(N,)$), in evaluation mode: it switches
            Dropout off and BatchNorm to its running statistics (chapter 6), and leaves the network in the
            mode it found, also when forward raises (`try` ... `finally`).
            """
        ),
        Answer("network", ("Sequential",)),
        Tests("Sequential"),
        Markdown(
            r"""
            ## XOR with a 2-layer tanh network

            Chapter 1 showed that one perceptron cannot compute XOR. A hidden layer of tanh units bends the
            decision boundary: train `Affine(2, 8) → Tanh → Affine(8, 2)` on the four points and look at the
            regions it learned.
            """
        ),
        Demo(
            r"""
            import matplotlib.pyplot as plt
            from matplotlib.patches import Patch

            X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
            y = np.array([0, 1, 1, 0])
            try:
                rng = np.random.default_rng(0)
                net = Sequential(Affine(2, 8, rng=rng), Tanh(), Affine(8, 2, rng=rng))
                history = net.fit(X, y, SoftmaxCrossEntropy(), SGD(lr=0.5), epochs=500, batch_size=4, rng=rng)
                g0, g1 = np.meshgrid(np.linspace(-0.5, 1.5, 150), np.linspace(-0.5, 1.5, 150))
                labels = net.predict(np.stack([g0.ravel(), g1.ravel()], axis=1))
                colours = np.array(["tab:blue", "tab:orange"])
                fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
                axes[0].plot(history)
                axes[0].set(title="training loss per step", xlabel="step (one batch of 4)", ylabel="cross-entropy")
                axes[1].contourf(g0, g1, labels.reshape(g0.shape), levels=[-0.5, 0.5, 1.5], colors=colours, alpha=0.25)
                for target in (0, 1):
                    axes[1].scatter(*X[y == target].T, c=colours[target], edgecolors="k", s=80, label=f"target {target}")
                handles = axes[1].get_legend_handles_labels()[0]
                handles += [Patch(color=c, alpha=0.25, label=f"predicts {k}") for k, c in enumerate(colours)]
                axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
                axes[1].set(title="XOR decision regions", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("the layers, SGD and Sequential", error))
            """
        ),
        Markdown(
            r"""
            ## A 2-layer sigmoid network on handwritten digits

            scikit-learn ships 1797 images of 8x8 digits. Train `Affine(64, 50) → Sigmoid → Affine(50, 10)`
            with mini-batches of 100 for 1500 iterations and watch the training loss and the accuracy on
            held-out digits.
            """
        ),
        Demo(
            r"""
            from sklearn.datasets import load_digits

            digits = load_digits()
            X, y = digits.data / 16.0, digits.target
            X_train, y_train, X_test, y_test = X[:1500], y[:1500], X[1500:], y[1500:]
            try:
                rng = np.random.default_rng(0)
                net = Sequential(Affine(64, 50, rng=rng), Sigmoid(), Affine(50, 10, rng=rng))
                history = net.fit(X_train, y_train, SoftmaxCrossEntropy(), SGD(lr=0.5), epochs=100, batch_size=100, rng=rng)
                accuracy = (net.predict(X_test) == y_test).mean()
                plt.figure(figsize=(7, 4))
                plt.plot(history)
                plt.title(f"digits: training loss; held-out accuracy {accuracy:.1%}")
                plt.xlabel("iteration (one mini-batch of 100)")
                plt.ylabel("cross-entropy")
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("the layers, SGD and Sequential", error))
            """
        ),
        Markdown(
            r"""
            ## What you built

            * SGD: $W \leftarrow W - \eta\,(\partial L / \partial W + \lambda W)$, in place on the arrays the layers hold.
            * `Sequential`: forward through the layers in order, backward in reverse order, each layer handing
              the gradient with respect to its input to the layer before it.
            * `fit`: for each mini-batch, forward, loss, backward, optimizer step; the loss of every step comes
              back, the curve you plotted; `predict`: the labels, in evaluation mode.
            * A hidden layer bends the decision boundary (XOR is learned), and a 2-layer network classifies
              most held-out digits correctly: accuracy on data the network never saw is what counts.

            The next chapter trains faster and more reliably: better optimisers, better initial weights,
            and layers that regularise.
            """
        ),
    ),
)
