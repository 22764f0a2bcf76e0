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
            # Optimiser paths on f(x, y) = x^2 / 20 + y^2 from (-7, 2).
            import matplotlib.pyplot as plt

            g0, g1 = np.meshgrid(np.linspace(-8, 8, 200), np.linspace(-3, 3, 200))
            fig, axes = plt.subplots(1, 4, figsize=(16, 3.5))
            for ax, (name, make) in zip(axes, [
                ("SGD (plain numpy)", None), ("Momentum", lambda: Momentum(lr=0.1)),
                ("AdaGrad", lambda: AdaGrad(lr=1.5)), ("Adam", lambda: Adam(lr=0.3)),
            ]):
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
                    ax.set_title(f"{name}: not implemented yet")
                    continue
                path = np.array(path)
                ax.contour(g0, g1, g0**2 / 20 + g1**2, levels=15, colors="lightgray")
                ax.plot(path[:, 0], path[:, 1], marker=".", color="C3")
                ax.set_title(name)
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
            rng = np.random.default_rng(0)
            try:
                fig, axes = plt.subplots(1, 2, figsize=(10, 3))
                for ax, (name, init) in zip(axes, [
                    ("std 0.01", lambda i, o: 0.01 * rng.standard_normal((i, o))),
                    ("He", lambda i, o: he_init(i, o, rng=rng)),
                ]):
                    x = rng.standard_normal((500, 100))
                    for layer in range(5):
                        x = np.maximum(x @ init(100, 100), 0)
                        ax.hist(x.ravel(), bins=30, range=(0, 3), histtype="step", label=f"layer {layer + 1}")
                    ax.set(title=name, yscale="log")
                    ax.legend()
                plt.show()
            except NotImplementedError as error:
                plt.close("all")
                print("implement he_init first:", error)
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
    ),
)
