"""Chapter 3: losses, the numerical gradient, gradient descent."""

from grader.authoring.chapters import Answer, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch3_losses_gradients",
    (
        Markdown(
            r"""
            # Chapter 3: losses and gradients

            Learning means choosing the weights that make a *loss* small: one number that measures how
            far the network's outputs $y$ are from the targets $t$. The gradient of the loss with
            respect to the weights says which way to move them.

            By the end of this chapter you can

            * measure a network's error with the mean squared error and the cross-entropy;
            * estimate the gradient of any function numerically with central differences;
            * minimise a function by gradient descent, and tell a learning rate that creeps from one that
              overshoots.

            Run the setup cell first.
            """
        ),
        Markdown(
            r"""
            ## Mean squared error

            $$\mathrm{MSE}(y, t) = \frac{1}{n} \sum_{i=1}^{n} (y_i - t_i)^2$$

            averaged over *every* element $n$ of the arrays. Its derivative is
            $\partial\,\mathrm{MSE} / \partial y_i = 2 (y_i - t_i) / n$: you will need it in chapter 4.
            """
        ),
        Answer("functions", ("mse",)),
        Tests("mse"),
        Markdown(
            r"""
            ## Cross-entropy

            For a classifier that outputs probabilities $y_{k}$ over $C$ classes, the cross-entropy of
            one sample with true class $c$ is $-\log y_{c}$; with one-hot targets $t$ it reads
            $-\sum_k t_k \log y_k$. Average over the $N$ samples of a batch:

            $$E = -\frac{1}{N} \sum_{n=1}^{N} \log y_{n, c_n}.$$

            A probability of exactly 0 would give $\log 0 = -\infty$: clip it from below (e.g. at
            $10^{-12}$). Accept both integer labels of shape $(N,)$ and one-hot targets of shape $(N, C)$.
            """
        ),
        Answer("functions", ("cross_entropy",)),
        Tests("cross_entropy"),
        Markdown(
            r"""
            ## The numerical gradient

            The derivative is the limit of a difference quotient. The *central* difference is much more
            accurate than the forward one (its error shrinks like $h^2$ instead of $h$):

            $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}, \qquad h = 10^{-4}.$$

            Nudge one entry of `x` at a time *in place*, evaluate `f`, and put the entry back: a
            network's loss reads its weights through a closure, so `f` may ignore its argument.
            """
        ),
        Answer("functions", ("numerical_gradient",)),
        Tests("numerical_gradient"),
        Markdown(
            r"""
            ## Gradient descent

            Step against the gradient, again and again:

            $$x \leftarrow x - \eta\, \nabla f(x).$$

            A small learning rate $\eta$ creeps, a large one overshoots and may diverge. Do not modify
            `x0`: work on a copy.
            """
        ),
        Answer("functions", ("gradient_descent",)),
        Tests("gradient_descent"),
        Demo(
            r"""
            # Gradient descent on f(x) = x0^2 + 4 x1^2 with three learning rates: the path and the loss.
            import matplotlib.pyplot as plt


            def bowl(x):
                return x[0] ** 2 + 4 * x[1] ** 2


            try:
                fig, axes = plt.subplots(1, 2, figsize=(11, 4))
                g0, g1 = np.meshgrid(np.linspace(-3.5, 3.5, 200), np.linspace(-2.5, 2.5, 200))
                axes[0].contour(g0, g1, g0**2 + 4 * g1**2, levels=20, colors="lightgray")
                for lr in (0.02, 0.1, 0.24):
                    path = [np.array([-3.0, 2.0])]
                    for _ in range(30):
                        path.append(gradient_descent(bowl, path[-1], lr=lr, steps=1))
                    path = np.array(path)
                    axes[0].plot(path[:, 0], path[:, 1], marker=".", label=f"lr={lr}")
                    axes[1].semilogy([bowl(p) for p in path], label=f"lr={lr}")
                axes[0].plot([0], [0], "k*", ms=12, label="minimum")
                axes[0].set(title="paths from (-3, 2) on $x_0^2 + 4 x_1^2$", xlabel="$x_0$", ylabel="$x_1$", aspect="equal")
                axes[1].set(title="f(x) per step", xlabel="step", ylabel="f(x) (log scale)")
                for ax in axes:
                    ax.legend(fontsize="small")
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("numerical_gradient and gradient_descent", error))
            """
        ),
        Markdown(
            r"""
            ## What you built

            * Mean squared error $\frac{1}{n}\sum_i (y_i - t_i)^2$ and cross-entropy
              $-\frac{1}{N}\sum_n \log y_{n, c_n}$: one number that is small when the outputs match the targets.
            * The central difference $\big(f(x + h e_i) - f(x - h e_i)\big) / 2h$ estimates each partial
              derivative with an error of order $h^2$, at the cost of two evaluations of $f$ per coordinate.
            * Gradient descent $x \leftarrow x - \eta \nabla f(x)$ walks downhill; in the plot the small rate
              creeps, the middle one converges, and the largest zig-zags across the steep direction $x_1$.

            Two evaluations per weight are far too many for a network with thousands of weights. The next
            chapter computes every gradient in one backward sweep.
            """
        ),
    ),
)
