"""Chapter 2: activation functions and the forward pass of a 3-layer network."""

from . import Answer, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch2_activations",
    (
        Markdown(
            r"""
            # Chapter 2: activation functions and the forward pass

            A neural network replaces the perceptron's hard threshold with a smooth *activation
            function* $h$, so that small changes of the weights cause small changes of the output, and
            stacks layers: $a = xW + b$, $z = h(a)$, and $z$ is the next layer's input.

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
        Demo(
            r"""
            # Your activation functions and their slopes (central differences).
            import matplotlib.pyplot as plt

            xs = np.linspace(-5, 5, 401)
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
            drawn = []
            for f in (step, sigmoid, relu, tanh):
                try:
                    ys = f(xs)
                except NotImplementedError:
                    continue
                axes[0].plot(xs, ys, label=f.__name__)
                axes[1].plot(xs[1:-1], (ys[2:] - ys[:-2]) / (xs[2] - xs[0]), label=f.__name__)
                drawn.append(f.__name__)
            axes[0].set(title="h(x)", ylim=(-1.2, 2))
            axes[1].set(title="h'(x)", ylim=(-0.2, 1.2))
            for ax in axes:
                ax.axhline(0, color="gray", lw=0.5)
                if drawn:
                    ax.legend()
            if not drawn:
                print("implement step, sigmoid, relu or tanh first: the plots show what you implemented")
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
                print("implement sigmoid and softmax first:", error)
            """
        ),
    ),
)
