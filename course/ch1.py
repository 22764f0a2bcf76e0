"""Chapter 1: perceptrons, logic gates, the perceptron learning rule."""

from grader.authoring.chapters import Answer, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch1_perceptron",
    (
        Markdown(
            r"""
            # Chapter 1: the perceptron

            A perceptron takes inputs $x_1, \dots, x_D$, weighs them and fires when the weighted sum
            crosses a threshold:

            $$y = \begin{cases} 1 & \text{if } w_1 x_1 + \dots + w_D x_D + b > 0 \\ 0 & \text{otherwise} \end{cases}$$

            The weights $w$ say how much each input matters, the bias $b$ how easily the unit fires.
            In this chapter you choose weights by hand to build logic gates, compose gates into XOR,
            and then let the perceptron learning rule find weights on its own.

            By the end of this chapter you can

            * build AND, NAND and OR from one perceptron each, by choosing $w$ and $b$ by hand;
            * explain why no single perceptron computes XOR, and build it from two layers of gates;
            * train a perceptron with the perceptron learning rule and read its decision boundary.

            Run the setup cell below first. Each answer cell has a comment saying what to write
            where `raise NotImplementedError()` stands; each test cell after it runs the same checks
            as `python -m grader` and shows the points you earned, with a hint when something is wrong.
            """
        ),
        Markdown(
            r"""
            ## Logic gates by hand

            With two inputs $x_1, x_2 \in \{0, 1\}$ a perceptron draws the line $w_1 x_1 + w_2 x_2 + b = 0$
            and answers 1 on one side of it. AND must fire only for $(1, 1)$: for example
            $(w_1, w_2, b) = (0.5, 0.5, -0.7)$ gives $0.3 > 0$ for $(1, 1)$ and at most $-0.2$ otherwise.
            NAND is AND with every sign flipped; OR needs a bias small enough that a single 1 crosses
            the threshold.
            """
        ),
        Answer("perceptron", ("AND",)),
        Tests("AND"),
        Answer("perceptron", ("NAND",)),
        Tests("NAND"),
        Answer("perceptron", ("OR",)),
        Tests("OR"),
        Markdown(
            r"""
            ## XOR needs two layers

            XOR is 1 when exactly one input is 1. The points $(0, 1), (1, 0)$ and $(0, 0), (1, 1)$ cannot
            be separated by one straight line, so no single perceptron computes XOR. Two layers can:
            $\mathrm{XOR}(x_1, x_2) = \mathrm{AND}(\mathrm{NAND}(x_1, x_2), \mathrm{OR}(x_1, x_2))$.
            """
        ),
        Answer("perceptron", ("XOR",)),
        Tests("XOR"),
        Demo(
            r"""
            # The truth tables of your gates.
            for gate in (AND, NAND, OR, XOR):
                try:
                    print(f"{gate.__name__:>4}:", [gate(a, b) for a in (0, 1) for b in (0, 1)])
                except NotImplementedError:
                    print(f"{gate.__name__:>4}: not implemented yet")
            """
        ),
        Markdown(
            r"""
            ## The perceptron learning rule

            Instead of choosing $w$ and $b$ by hand, visit the samples one by one and nudge the weights
            toward every mistake:

            $$\delta = t - y, \qquad w \leftarrow w + \eta\, \delta\, x, \qquad b \leftarrow b + \eta\, \delta$$

            where $t$ is the target, $y$ the prediction and $\eta$ the learning rate. A correct
            prediction gives $\delta = 0$ and changes nothing. If the data are linearly separable the
            rule stops making mistakes after finitely many updates (the perceptron convergence theorem);
            for XOR it never does.
            """
        ),
        Answer("perceptron", ("Perceptron",)),
        Tests("Perceptron"),
        Demo(
            r"""
            # Mistakes per epoch: AND is learned, XOR never is. And the line the perceptron draws.
            import matplotlib.pyplot as plt
            from matplotlib.patches import Patch

            X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
            colours = np.array(["tab:blue", "tab:orange"])


            def show_points(ax, y, title):
                for target in (0, 1):
                    mine = np.asarray(y) == target
                    ax.scatter(X[mine, 0], X[mine, 1], c=colours[target], edgecolors="k", s=80, label=f"target {target}")
                ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), aspect="equal")


            try:
                fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
                for name, y in (("AND", [0, 0, 0, 1]), ("XOR", [0, 1, 1, 0])):
                    p = Perceptron(2, lr=0.1)
                    axes[0].plot(p.fit(X, np.array(y), epochs=20), marker="o", label=name)
                    if name == "AND":
                        grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200)), -1)
                        predicted = p.predict(grid.reshape(-1, 2)).reshape(200, 200)
                        axes[1].contourf(grid[..., 0], grid[..., 1], predicted, levels=[-0.5, 0.5, 1.5], colors=colours, alpha=0.25)
                        show_points(axes[1], y, "AND: what the learned perceptron answers")
                        handles = axes[1].get_legend_handles_labels()[0]
                        handles += [Patch(color=c, alpha=0.25, label=f"predicts {k}") for k, c in enumerate(colours)]
                        axes[1].legend(handles=handles, loc="center left", fontsize="small")
                axes[0].set(xlabel="epoch", ylabel="mistakes in the epoch", title="perceptron rule: mistakes per epoch")
                axes[0].legend()
                show_points(axes[2], [0, 1, 1, 0], "XOR: no single line separates the targets")
                axes[2].legend(loc="center left", fontsize="small")
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("the perceptron", error))
            """
        ),
        Markdown(
            r"""
            ## What you built

            * One perceptron computes $y = 1$ if $w \cdot x + b > 0$ else $0$: a straight line (a plane in
              more dimensions) splits the inputs into the two answers. AND, NAND and OR are such lines.
            * XOR is not linearly separable; two layers are: $\mathrm{XOR} = \mathrm{AND}(\mathrm{NAND}, \mathrm{OR})$.
            * The perceptron learning rule $w \leftarrow w + \eta\,(t - y)\,x$, $b \leftarrow b + \eta\,(t - y)$
              changes the weights only on mistakes; it finds a separating line whenever one exists.

            Its threshold has no useful slope, so the rule cannot train several layers. The next chapter
            replaces it with smooth activation functions.
            """
        ),
    ),
)
