"""Chapter 6: optimisers, initialisation, regularisation."""

from . import Answer, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch6_optimization",
    (
        Markdown(
            r"""
            # Chapter 6: better optimisers, initialisation and regularisation

            Plain SGD zig-zags across narrow valleys and crawls along flat ones. The optimisers below keep
            some *state* per parameter array (keyed by the name in `params`) and update the arrays in place.
            Every one adds `weight_decay * param` to the gradient first.

            By the end of this chapter you can

            * implement Momentum, AdaGrad, RMSProp and Adam, and compare their paths on a narrow valley;
            * initialise weights with Xavier or He so that activations neither vanish nor explode;
            * regularise a network with dropout, and normalise its activations with batch normalisation,
              in training and in evaluation mode.

            Run the setup cell first.
            """
        ),
        Markdown(
            r"""
            ## Momentum

            A velocity $v$ (starting at 0) accumulates past steps, like a ball rolling downhill:

            $$v \leftarrow \alpha v - \eta\, g, \qquad W \leftarrow W + v.$$
            """
        ),
        Answer("optim", ("Momentum",)),
        Tests("Momentum"),
        Markdown(
            r"""
            ## AdaGrad and RMSProp

            Scale each coordinate's step by the root of its accumulated squared gradients, so steep
            coordinates take small steps:

            $$\text{AdaGrad: } h \leftarrow h + g \odot g, \qquad \text{RMSProp: } h \leftarrow \rho h + (1 - \rho)\, g \odot g,$$
            $$W \leftarrow W - \eta\, \frac{g}{\sqrt{h} + \epsilon}.$$

            AdaGrad's $h$ only grows, so its steps shrink forever; RMSProp forgets old gradients.
            """
        ),
        Answer("optim", ("AdaGrad",)),
        Tests("AdaGrad"),
        Answer("optim", ("RMSProp",)),
        Tests("RMSProp"),
        Markdown(
            r"""
            ## Adam

            Momentum on the gradient and RMSProp on its square, with bias correction for the zero start
            ($t$ counts the calls to `step`, starting at 1):

            $$m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g \odot g,
            \quad \hat m = \frac{m}{1 - \beta_1^t}, \quad \hat v = \frac{v}{1 - \beta_2^t},
            \quad W \leftarrow W - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}.$$
            """
        ),
        Answer("optim", ("Adam",)),
        Tests("Adam"),
        Demo(
            r"""
            # Optimiser paths on f(x, y) = x^2 / 20 + y^2 from (-7, 2), 30 steps each, and f along the way.
            import matplotlib.pyplot as plt


            def valley(p):
                return p[0] ** 2 / 20 + p[1] ** 2


            g0, g1 = np.meshgrid(np.linspace(-8, 8, 200), np.linspace(-3, 3, 200))
            fig, axes = plt.subplots(2, 3, figsize=(16, 7), layout="constrained")
            fig.suptitle("optimisers on the valley $f(x, y) = x^2/20 + y^2$: 30 steps from (-7, 2)")
            for i, (ax, (name, make)) in enumerate(zip(axes.flat, [
                ("SGD, lr=0.95 (plain numpy)", None), ("Momentum, lr=0.1", lambda: Momentum(lr=0.1)),
                ("AdaGrad, lr=1.5", lambda: AdaGrad(lr=1.5)), ("RMSProp, lr=0.1", lambda: RMSProp(lr=0.1)),
                ("Adam, lr=0.3", lambda: Adam(lr=0.3)),
            ])):
                ax.contour(g0, g1, valley((g0, g1)), levels=15, colors="lightgray")
                ax.plot([0], [0], "k*", ms=12, label="minimum (0, 0)")
                ax.set(xlabel="x", ylabel="y", xlim=(-8, 8), ylim=(-3, 3))
                params = {"p": np.array([-7.0, 2.0])}
                path = [params["p"].copy()]
                try:
                    optimizer = make() if make else None
                    for _ in range(30):
                        grads = {"p": np.array([params["p"][0] / 10.0, 2.0 * params["p"][1]])}
                        if optimizer is None:
                            params["p"] -= 0.95 * grads["p"]
                        else:
                            optimizer.step(params, grads)
                        path.append(params["p"].copy())
                except NotImplementedError:
                    ax.set_title(f"{name.split(',')[0]}: not implemented yet")
                    ax.legend(loc="lower right", fontsize="small")
                    continue
                path = np.array(path)
                ax.plot(path[:, 0], path[:, 1], marker=".", color=f"C{i}", label="path")
                ax.plot(*path[0], "o", color=f"C{i}", mfc="white", ms=8, label="start")
                ax.set_title(name)
                ax.legend(loc="lower right", fontsize="small")
                axes.flat[-1].semilogy([valley(p) for p in path], marker=".", color=f"C{i}", label=name.split(",")[0])
            last = axes.flat[-1]
            last.set(title="f at each step (log scale)", xlabel="step", ylabel="f(x, y)")
            if last.get_legend_handles_labels()[0]:
                last.legend(fontsize="small")
            plt.show()
            """
        ),
        Markdown(
            r"""
            ## Weight initialisation

            If the weights are too small the activations shrink layer after layer; too large and they
            explode (or saturate a tanh). Keep the variance of the activations constant:

            $$\text{Xavier (tanh, sigmoid): } \sigma = \sqrt{\frac{2}{n_\text{in} + n_\text{out}}}, \qquad
            \text{He (ReLU): } \sigma = \sqrt{\frac{2}{n_\text{in}}}.$$

            ReLU zeroes half of its inputs, hence He's extra factor 2.
            """
        ),
        Answer("init", ("xavier_init",)),
        Tests("xavier_init"),
        Answer("init", ("he_init",)),
        Tests("he_init"),
        Demo(
            r"""
            # Activations of a 5-layer ReLU network with 100 units: std 0.01 vs He.
            import matplotlib.pyplot as plt

            rng = np.random.default_rng(0)
            try:
                fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
                fig.suptitle("ReLU activations of 500 inputs in a 5-layer network of 100 units, by weight initialisation")
                for ax, (name, init) in zip(axes, [
                    ("weights with std 0.01", lambda i, o: 0.01 * rng.standard_normal((i, o))),
                    ("He weights, std $\\sqrt{2 / n_{in}}$", lambda i, o: he_init(i, o, rng=rng)),
                ]):
                    x = rng.standard_normal((500, 100))
                    for layer in range(5):
                        x = np.maximum(x @ init(100, 100), 0)
                        ax.hist(x.ravel(), bins=30, range=(0, 3), histtype="step", label=f"layer {layer + 1}")
                    ax.set(title=name, xlabel="activation value", ylabel="count (log scale)", yscale="log")
                    ax.legend()
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("he_init", error))
            """
        ),
        Markdown(
            r"""
            ## Dropout

            In training, zero each activation with probability $p$ and scale the survivors by $1/(1-p)$
            (*inverted* dropout: the expected output equals the input, so evaluation is the identity).
            Backward applies the same mask and scale. Draw masks from `self.rng`.
            """
        ),
        Answer("layers", ("Dropout",)),
        Tests("Dropout"),
        Markdown(
            r"""
            ## Batch normalisation

            For a batch $x$ of shape $(N, D)$, per feature: $\mu = \frac{1}{N}\sum_n x_n$,
            $\sigma^2 = \frac{1}{N}\sum_n (x_n - \mu)^2$, $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$,
            $y = \gamma \hat x + \beta$. Backward, with $d\hat x = dy \odot \gamma$:

            $$d\gamma = \sum_n dy \odot \hat x, \quad d\beta = \sum_n dy, \quad
            dx = \frac{1}{N \sqrt{\sigma^2 + \epsilon}}\Big(N\, d\hat x - \sum_n d\hat x - \hat x \sum_n d\hat x \odot \hat x\Big).$$

            Keep running averages of $\mu$ and $\sigma^2$ for evaluation mode, where they replace the batch
            statistics (and backward is then just $d\hat x / \sqrt{\sigma^2_\text{running} + \epsilon}$).
            """
        ),
        Answer("layers", ("BatchNorm1d",)),
        Tests("BatchNorm1d"),
        Markdown(
            r"""
            ## What you built

            * Momentum adds a velocity, $v \leftarrow \alpha v - \eta g$, that keeps going through flat
              stretches and averages out zig-zags.
            * AdaGrad and RMSProp divide each coordinate's step by $\sqrt{h}$, the root of its (summed or
              decaying average of) squared gradients: steep coordinates take small steps. Adam combines a
              momentum on $g$ with RMSProp on $g \odot g$, both bias-corrected for their zero start.
            * Initial weights with $\sigma = \sqrt{2/(n_\text{in} + n_\text{out})}$ (Xavier) or
              $\sigma = \sqrt{2/n_\text{in}}$ (He, for ReLU) keep the spread of the activations the same from
              layer to layer; with $\sigma = 0.01$ they shrink towards 0 (the histograms).
            * Inverted dropout zeroes activations with probability $p$ and scales the rest by $1/(1-p)$ in
              training only; batch normalisation standardises each feature over the batch, then scales by
              $\gamma$ and shifts by $\beta$, and uses running averages in evaluation mode.

            The next chapter moves from vectors to images: convolution and pooling layers.
            """
        ),
    ),
)
