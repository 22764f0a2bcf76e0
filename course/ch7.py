"""Chapter 7: convolutional networks."""

from grader.authoring.chapters import HELPERS, Answer, Carry, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch7_cnn",
    (
        Markdown(
            r"""
            # Chapter 7: convolutional networks

            An image has structure an `Affine` layer throws away: neighbouring pixels belong together,
            and a pattern means the same wherever it appears. A convolution slides a small kernel over
            the image and applies the same weights at every position.

            By the end of this chapter you can

            * flatten image batches for a fully connected classifier, and back;
            * implement the forward and backward passes of a 2-d convolution with padding and stride, and
              compute its output size;
            * implement max pooling and send its gradient to each window's maximum;
            * implement average pooling and share its gradient evenly over each window;
            * train a small convolutional network on digits and read the kernels it learned.

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
            ## Average pooling

            Average pooling replaces each $K \times K$ window (stride $S$, default $K$) by its mean:

            $$y_{n c i j} = \frac{1}{K^2} \sum_{k=1}^{K} \sum_{l=1}^{K} x_{n c,\; iS + k,\; jS + l},
            \qquad H' = \left\lfloor \frac{H - K}{S} \right\rfloor + 1.$$

            Every cell of a window counts for $1/K^2$ of its output, so backward gives each of the $K^2$
            cells an equal share of the window's gradient,
            $\partial L / \partial x_{n c,\, iS + k,\, jS + l} \mathrel{+}= dy_{n c i j} / K^2$: where windows
            overlap ($S < K$) the shares add up, and cells in no window ($S > K$, or the last rows and
            columns) get 0. Unlike max pooling, the gradient reaches every input, not just the largest one.
            """
        ),
        Answer("conv", ("AvgPool2d",)),
        Tests("AvgPool2d"),
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
                accuracy = (cnn.predict(X[1500:]) == y[1500:]).mean()
                fig = plt.figure(figsize=(15, 3.6), layout="constrained")
                left, right = fig.subfigures(1, 2, width_ratios=[1, 2.2])
                ax = left.subplots()
                ax.plot(history)
                ax.set(title=f"training loss; held-out accuracy {accuracy:.1%}", xlabel="step (one batch of 32)", ylabel="cross-entropy")
                kernels = cnn.layers[0].params["W"][:, 0]
                limit = np.abs(kernels).max()  # one colour scale for all kernels, 0 in the middle
                axes = right.subplots(1, len(kernels))
                for i, (ax, kernel) in enumerate(zip(axes, kernels)):
                    image = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
                    ax.set(title=f"kernel {i + 1}", xticks=[], yticks=[])
                right.suptitle("the 3x3 kernels of the Conv2d layer (red: positive weight, blue: negative)")
                right.colorbar(image, ax=axes, shrink=0.8, label="weight")
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("the layers of this chapter and paste the earlier ones", error))
            """
        ),
        Markdown(
            r"""
            ## What you built

            * `Flatten` reshapes $(N, C, H, W)$ to $(N, C H W)$ and the gradient back.
            * `Conv2d` slides $F$ kernels of shape $(C, K, K)$ over the zero-padded input with stride $S$:
              the output has $H' = (H + 2P - K)/S + 1$ rows. Its backward sums $dy$ for the bias,
              correlates $dy$ with the input windows for the kernels, and adds every $dy \cdot W$ back to
              the input positions it came from, then crops the padding.
            * `MaxPool2d` keeps each window's maximum and sends the gradient back to that position only.
            * `AvgPool2d` keeps each window's mean and shares the gradient evenly, $dy / K^2$, over its cells.
            * The same few kernels applied everywhere give a network with far fewer weights than an
              `Affine` layer on all pixels; the kernels you plotted are the patterns it learned to look for.
            """
        ),
    ),
)
