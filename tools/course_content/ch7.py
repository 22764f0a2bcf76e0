"""Chapter 7: convolutional networks."""

from . import HELPERS, Answer, Carry, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch7_cnn",
    (
        Markdown(
            r"""
            # Chapter 7: convolutional networks

            An image has structure an `Affine` layer throws away: neighbouring pixels belong together,
            and a pattern means the same wherever it appears. A convolution slides a small kernel over
            the image and applies the same weights at every position.

            Run the setup cell first.
            """
        ),
        Markdown(
            r"""
            ## Flatten

            Between the convolutional part and the `Affine` classifier, reshape $(N, C, H, W)$ to
            $(N, C \cdot H \cdot W)$; backward reshapes the gradient back.
            """
        ),
        Answer("layers", ("Flatten",)),
        Tests("Flatten"),
        Markdown(
            r"""
            ## Conv2d

            With input $x: (N, C, H, W)$ padded by $P$ zeros on every side, kernels $W: (F, C, K, K)$,
            bias $b: (F,)$ and stride $S$, the output $y: (N, F, H', W')$ is the cross-correlation

            $$y_{n f i j} = b_f + \sum_{c=1}^{C} \sum_{k=1}^{K} \sum_{l=1}^{K} W_{f c k l}\; x^{\text{pad}}_{n c,\; iS + k,\; jS + l},
            \qquad H' = \frac{H + 2P - K}{S} + 1.$$

            Backward: $db_f = \sum_{n,i,j} dy_{n f i j}$; $dW_{fckl} = \sum_{n,i,j} dy_{nfij}\, x^{\text{pad}}_{n c, iS+k, jS+l}$;
            and every $dy_{nfij} W_{fckl}$ is added back at the input position it came from (overlapping
            windows add up), after which the padding is cropped. Nested loops are fine to start with; an
            `im2col` or `sliding_window_view` version is much faster. Helper functions of your own go in the
            next cell (if you write none, delete its `raise NotImplementedError()` line).
            """
        ),
        Answer("conv", (HELPERS,)),
        Answer("conv", ("Conv2d",)),
        Tests("Conv2d"),
        Markdown(
            r"""
            ## Max pooling

            Each $K \times K$ window (stride $S$, default $K$) is replaced by its maximum. Backward sends the
            gradient of each window to the position of its maximum (the first one on ties) and zero
            elsewhere; where windows overlap, contributions add up.
            """
        ),
        Answer("conv", ("MaxPool2d",)),
        Tests("MaxPool2d"),
        Markdown(
            r"""
            ## A small CNN on the digits

            Paste your `Affine`, `Relu`, `SoftmaxCrossEntropy`, `Sequential` and `Adam` from the earlier
            chapters, then train `Conv2d(1, 6, 3, padding=1) → Relu → MaxPool2d(2) → Flatten → Affine(96, 10)`
            on scikit-learn's 8x8 digits and look at the filters it learned.
            """
        ),
        Carry("layers", ("Affine", "Relu")),
        Carry("losses", ("SoftmaxCrossEntropy",)),
        Carry("network", ("Sequential",)),
        Carry("optim", ("Adam",)),
        Demo(
            r"""
            import matplotlib.pyplot as plt
            from sklearn.datasets import load_digits

            digits = load_digits()
            X, y = digits.images[:, None, :, :] / 16.0, digits.target
            try:
                rng = np.random.default_rng(0)
                cnn = Sequential(
                    Conv2d(1, 6, 3, padding=1, rng=rng), Relu(), MaxPool2d(2), Flatten(), Affine(96, 10, rng=rng)
                )
                history = cnn.fit(X[:1500], y[:1500], SoftmaxCrossEntropy(), Adam(lr=0.01), epochs=4, batch_size=32, rng=rng)
                accuracy = (cnn.eval().forward(X[1500:]).argmax(axis=1) == y[1500:]).mean()
                fig, axes = plt.subplots(1, 7, figsize=(15, 2.5))
                axes[0].plot(history)
                axes[0].set_title(f"loss; held-out acc {accuracy:.1%}")
                for ax, kernel in zip(axes[1:], cnn.layers[0].params["W"][:, 0]):
                    ax.imshow(kernel, cmap="gray")
                    ax.axis("off")
                plt.show()
            except NotImplementedError as error:
                print("implement the layers of this chapter and paste the earlier ones first:", error)
            """
        ),
    ),
)
