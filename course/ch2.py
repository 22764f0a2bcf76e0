"""Chapter 2: activation functions and the forward pass of a 3-layer network."""

from grader.authoring.chapters import Answer, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch2_activations",
    (
        Markdown(
            r"""
            # Chapter 2: activation functions and the forward pass

            A neural network replaces the perceptron's hard threshold with a smooth *activation
            function* $h$, so that small changes of the weights cause small changes of the output, and
            stacks layers: $a = xW + b$, $z = h(a)$, and $z$ is the next layer's input.

            By the end of this chapter you can

            * implement the step, sigmoid, ReLU and tanh activations, elementwise and without overflow;
            * say how their slopes differ, and why a smooth activation can be trained where the step cannot;
            * turn a row of scores into probabilities with a numerically stable softmax;
            * compute the forward pass of a 3-layer network with matrix products.

            Run the setup cell first. Each function works elementwise on arrays of any shape.
            """
        ),
        Markdown(
            r"""
            ## Step and sigmoid

            The step function is the perceptron's threshold, $\mathrm{step}(x) = 1$ if $x > 0$ else $0$.
            The logistic sigmoid is its smooth version:

            $$\sigma(x) = \frac{1}{1 + e^{-x}}, \qquad \sigma'(x) = \sigma(x)\,(1 - \sigma(x)).$$

            For $x = -1000$, $e^{-x}$ overflows and numpy warns. Use $e^{-x}$ only where $x \ge 0$ and
            the equal form $\sigma(x) = e^{x} / (1 + e^{x})$ where $x < 0$: both exponents are then
            $\le 0$.
            """
        ),
        Answer("functions", ("step",)),
        Tests("step"),
        Answer("functions", ("sigmoid",)),
        Tests("sigmoid"),
        Markdown(
            r"""
            ## ReLU and tanh

            $$\mathrm{relu}(x) = \max(0, x), \qquad \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}.$$

            ReLU's derivative is 1 for $x > 0$ and 0 for $x < 0$, so it does not shrink gradients the way
            the sigmoid ($\sigma' \le 1/4$) does. tanh is a rescaled sigmoid, $\tanh(x) = 2\sigma(2x) - 1$,
            centred at zero; compute it without overflow for large $|x|$.
            """
        ),
        Answer("functions", ("relu",)),
        Tests("relu"),
        Answer("functions", ("tanh",)),
        Tests("tanh"),
        Markdown(
            r"""
            ## Your functions and their slopes

            The next cell plots each function you implemented and its slope $h'(x)$, estimated by central
            differences. The step function jumps at $0$: its slope is $0$ everywhere else and undefined at
            $0$ itself (an open circle marks the point). A zero slope says nothing about which way to move
            the weights, which is why networks are trained with the other functions. ReLU's slope jumps
            from $0$ to $1$ at $0$: the plot leaves a gap there rather than drawing a vertical line.
            """
        ),
        Demo(
            r"""
            # Your activation functions and their slopes (central differences; a jump is marked, not drawn).
            import matplotlib.pyplot as plt

            xs = np.linspace(-5, 5, 401)
            fig, axes = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
            missing = []
            for f in (step, sigmoid, relu, tanh):
                try:
                    ys = np.asarray(f(xs), dtype=float)
                except NotImplementedError:
                    missing.append(f.__name__)
                    continue
                (line,) = axes[0].plot(xs, ys, label=f.__name__)
                change = ys[2:] - ys[:-2]
                slope = change / (xs[2] - xs[0])
                jump = np.abs(change) > 0.5  # the function leaps between neighbouring points: no slope there
                slope[jump] = np.nan
                kink = np.abs(np.diff(slope, prepend=slope[0])) > 0.2  # the slope itself jumps (relu at 0)
                shown = np.where(kink | np.roll(kink, -1), np.nan, slope)  # drawn with a gap, not a vertical line
                style = {"lw": 4, "alpha": 0.6} if jump.any() else {}
                axes[1].plot(xs[1:-1], shown, color=line.get_color(), label=f.__name__, **style)
                if jump.any():
                    at = round(float(xs[1:-1][jump].mean()), 1) + 0.0
                    label = f"{f.__name__}: undefined at {at:g}"
                    if np.allclose(slope[~jump], 0):
                        label += "; zero elsewhere"
                    axes[1].plot([at], [0], "o", mfc="white", mew=2, ms=10, color=line.get_color(), label=label, zorder=5)
            axes[0].set(title="activation functions h(x)", xlabel="x", ylabel="h(x)", ylim=(-1.2, 2))
            axes[1].set(title="their slopes h'(x)", xlabel="x", ylabel="h'(x)", ylim=(-0.2, 1.2))
            for ax, where in zip(axes, ({"loc": "upper left"}, {"loc": "upper left", "bbox_to_anchor": (1.02, 1)})):
                ax.axhline(0, color="gray", lw=0.5)
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(fontsize="small", **where)
            if len(missing) == 4:
                plt.close(fig)
                print("implement step, sigmoid, relu or tanh first: each one you implement is plotted here")
            else:
                if missing:
                    print("not implemented yet:", ", ".join(missing), "(the plots show the others)")
                plt.show()
            """
        ),
        Markdown(
            r"""
            ## Softmax: scores to probabilities

            The output layer of a classifier turns $C$ scores into probabilities:

            $$\mathrm{softmax}(a)_k = \frac{e^{a_k}}{\sum_{j=1}^{C} e^{a_j}}.$$

            Adding the same constant to every score leaves the result unchanged, so subtract the
            largest score of each row before exponentiating: $e^{1000}$ overflows, $e^{0}$ does not.
            Work along the last axis so a batch of shape $(N, C)$ gives one distribution per row.
            """
        ),
        Answer("functions", ("softmax",)),
        Tests("softmax"),
        Markdown(
            r"""
            ## The forward pass of a 3-layer network

            With your functions, a 3-layer network is three affine maps with activations between them:

            $$z_1 = \sigma(x W_1 + b_1), \quad z_2 = \sigma(z_1 W_2 + b_2), \quad y = \mathrm{softmax}(z_2 W_3 + b_3).$$

            A batch $x$ of shape $(N, 2)$ and weights $W_1: (2, 3)$, $W_2: (3, 2)$, $W_3: (2, 2)$ give $y$ of
            shape $(N, 2)$: each row a probability distribution over two classes. Run the cell once your
            sigmoid and softmax pass their tests.
            """
        ),
        Demo(
            r"""
            network = {
                "W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]), "b1": np.array([0.1, 0.2, 0.3]),
                "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]), "b2": np.array([0.1, 0.2]),
                "W3": np.array([[0.1, 0.3], [0.2, 0.4]]), "b3": np.array([0.1, 0.2]),
            }


            def forward(network, x):
                z1 = sigmoid(x @ network["W1"] + network["b1"])
                z2 = sigmoid(z1 @ network["W2"] + network["b2"])
                return softmax(z2 @ network["W3"] + network["b3"])


            try:
                y = forward(network, np.array([[1.0, 0.5], [-1.0, 2.0]]))
                print("probabilities:\n", y, "\nrow sums:", y.sum(axis=1))
            except NotImplementedError as error:
                print(not_implemented_yet("sigmoid and softmax", error))
            """
        ),
        Markdown(
            r"""
            ## What you built

            * Activations: $\mathrm{step}(x) = [x > 0]$, $\sigma(x) = 1 / (1 + e^{-x})$ with
              $\sigma' = \sigma (1 - \sigma)$, $\mathrm{relu}(x) = \max(0, x)$ and $\tanh(x) = 2\sigma(2x) - 1$,
              each computed so that no exponent is positive.
            * The step's slope is zero wherever it exists; the sigmoid's is at most $1/4$, ReLU's is 1 for
              every positive input.
            * $\mathrm{softmax}(a)_k = e^{a_k - \max a} / \sum_j e^{a_j - \max a}$: probabilities that sum to 1,
              the same for every shift of the scores, and no overflow.
            * A layer is $z = h(xW + b)$; a network applies layers one after the other, a whole batch at once.

            The weights of the 3-layer network were given. The next chapter measures how wrong a network
            is (a loss) and finds which way to change its weights (a gradient).
            """
        ),
    ),
)
