"""Chapter 6: optimisers, initialisation, regularisation."""

from grader.authoring.chapters import Answer, Carry, Chapter, Demo, Markdown, Tests

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
              in training and in evaluation mode;
            * recognise overfitting in a network's learning curves, narrow the gap between training and test
              accuracy with weight decay or dropout, and choose a hyper-parameter on a validation set.

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
            ## Overfitting

            A network *overfits* when it learns its training set, accidents included, rather than what the
            training images have in common with new ones: its accuracy on the training set climbs towards
            100 % while its accuracy on images it never saw stays well below. The two usual causes are too
            little data and too many parameters; below there are both, 150 training digits for a network with
            about 37 000 weights (some 250 per training image).

            Two remedies make memorising harder:

            * **Weight decay** (L2 regularisation) adds the squared size of the weights to the loss,

              $$\tilde L = L + \frac{\lambda}{2} \sum_W \lVert W \rVert^2, \qquad
              \frac{\partial \tilde L}{\partial W} = \frac{\partial L}{\partial W} + \lambda W,$$

              so with SGD every step first shrinks the weights, $W \leftarrow (1 - \eta\lambda)\,W - \eta\,
              \partial L / \partial W$ (hence *decay*). Fitting every training image exactly takes large
              weights, and large weights now cost loss. This is the `weight_decay` argument of every optimiser
              of this chapter: $\lambda$ times the parameter added to the gradient, for every parameter array
              (the biases too; many libraries leave those out).
            * **Dropout** zeroes a random part of the activations at every step, so no unit can rely on a few
              others being there and the network cannot store an image in one exact combination of units. Each
              step trains a different thinned network; `predict` runs in evaluation mode, where the whole
              network answers, a kind of average of the thinned ones.

            The demos use your `Affine`, `Relu`, `SoftmaxCrossEntropy` and `Sequential` (with `predict`) from
            chapters 4 and 5: paste them into the next three cells (they earn no points here).
            """
        ),
        Carry("layers", ("Affine", "Relu")),
        Carry("losses", ("SoftmaxCrossEntropy",)),
        Carry("network", ("Sequential",)),
        Markdown(
            r"""
            150 training digits and 500 test digits, drawn at random from scikit-learn's 1797; each pixel is
            standardised with the mean and standard deviation of the training images (a pixel blank in all
            of them keeps its scale). With so few images, a pixel that is almost always blank gets a tiny
            standard deviation, and a test image that does use it gets a very large value there: an accident
            of the sample, of the kind a network with many weights fits. The network is
            `Affine(64, 100) → Relu`, three times `Affine(100, 100) → Relu`, then `Affine(100, 10)`, trained
            for 100 epochs with Momentum (batches of 25), three times: as it is, with weight decay
            $\lambda = 0.03$, and with `Dropout(0.2)` after every `Relu`. After each epoch, `net.predict`
            measures the accuracy on the training and on the test images.
            """
        ),
        Demo(
            r"""
            # Three runs on 150 training digits: no regularisation, weight decay, dropout (about 6 s).
            import matplotlib.pyplot as plt
            from sklearn.datasets import load_digits

            digits = load_digits()
            order = np.random.default_rng(2).permutation(len(digits.target))
            train, test = order[:150], order[150:650]
            y_train, y_test = digits.target[train], digits.target[test]


            def standardise(X_fit, *others):
                # every array scaled with the mean and standard deviation of X_fit's pixels
                mean, std = X_fit.mean(axis=0), X_fit.std(axis=0)
                std[std == 0] = 1.0
                return [(X - mean) / std for X in (X_fit, *others)]


            def make_network(p_drop=0.0, seed=3):
                # 64 -> 100 -> 100 -> 100 -> 100 -> 10 with ReLU, and Dropout(p_drop) after each ReLU if p_drop > 0
                init = np.random.default_rng(seed)  # initial weights and dropout masks
                layers, width = [], 64
                for _ in range(4):
                    layers += [Affine(width, 100, rng=init), Relu()]
                    if p_drop:
                        layers.append(Dropout(p_drop, rng=init))
                    width = 100
                return Sequential(*layers, Affine(width, 10, rng=init))


            def learning_curves(net, optimizer, X_fit, y_fit, X_eval, y_eval, epochs=100, seed=4):
                # train for `epochs`; the accuracy on (X_fit, y_fit) and on (X_eval, y_eval) after each epoch
                rng, loss = np.random.default_rng(seed), SoftmaxCrossEntropy()
                curves = {"train": [], "test": []}
                for epoch in range(epochs):
                    net.fit(X_fit, y_fit, loss, optimizer, epochs=1, batch_size=25, rng=rng)
                    curves["train"].append(np.mean(net.predict(X_fit) == y_fit))
                    curves["test"].append(np.mean(net.predict(X_eval) == y_eval))
                return curves


            X_train, X_test = standardise(digits.data[train], digits.data[test])
            try:
                runs = {
                    "no regularisation": (make_network(), Momentum(lr=0.01)),
                    "weight decay 0.03": (make_network(), Momentum(lr=0.01, weight_decay=0.03)),
                    "dropout 0.2": (make_network(p_drop=0.2), Momentum(lr=0.01)),
                }
                curves = {name: learning_curves(net, opt, X_train, y_train, X_test, y_test) for name, (net, opt) in runs.items()}
                final_accuracy = {name: {k: c[k][-1] for k in c} for name, c in curves.items()}
                fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
                for i, (name, c) in enumerate(curves.items()):
                    epochs = np.arange(1, len(c["train"]) + 1)
                    ax.plot(epochs, c["train"], "--", color=f"C{i}", label=f"{name}: train")
                    ax.plot(epochs, c["test"], color=f"C{i}", label=f"{name}: test")
                ax.set(
                    title="150 training digits, 37 000 weights: accuracy per epoch (dashed: train, solid: test)",
                    xlabel="epoch", ylabel="accuracy", ylim=(0.5, 1.01),
                )
                ax.legend(loc="lower right")
                plt.show()
                for name, acc in final_accuracy.items():
                    gap = acc["train"] - acc["test"]
                    print(f"{name:>18}: train {acc['train']:.1%}, test {acc['test']:.1%}, gap {100 * gap:.1f} points")
            except NotImplementedError as error:
                plt.close("all")
                print(not_implemented_yet("Momentum and Dropout, and paste Affine, Relu, SoftmaxCrossEntropy and Sequential", error))
            """
        ),
        Markdown(
            r"""
            Without regularisation the training accuracy reaches 100 % within 20 epochs, and the test accuracy
            stops improving more than 10 points below it. Weight decay and dropout learn more slowly, narrow the
            gap and end one to three points higher on the test images (how much varies with the random split
            and seeds, but on this data both help). Neither makes up for the missing data: the same network,
            trained for 30 epochs on the 1147 digits that are in neither set, reaches about 97 % on the same
            test images.
            """
        ),
        Markdown(
            r"""
            ## Choosing a hyper-parameter on a validation set

            Which $\lambda$? Try a few values and keep the best, but *best on what*? Not on the test set: the
            test accuracy is an honest estimate of the accuracy on new images only as long as nothing was
            chosen by it. Pick the best of several values by their test accuracy and you have picked, among
            other things, the value that happened to suit those 500 images; its test accuracy is then an
            optimistic estimate, and the more values you try the more optimistic it gets (you fit the test set,
            one hyper-parameter at a time).

            So split the training images once more: fit on 100 of them, compare the values on the other 50
            (the *validation set*), choose, and only then measure the chosen network on the test set, once.
            (The standardisation, too, now uses only the 100 images the networks are fitted on.)

            With 50 validation images one image is 2 points, so values that differ by an image or two are a
            coin toss; among equally good values the cell takes the largest $\lambda$, the most constrained
            network that does as well. What the search does show clearly is a value that is too large: the
            weights shrink faster than the data can pull them up, and the network *underfits*, wrong on its
            own training images too. A larger validation set, or an average over several splits
            (cross-validation), makes the choice steadier; a common last step, left out here, trains once more
            on all 150 images with the chosen value.
            """
        ),
        Demo(
            r"""
            # Weight decay chosen on 50 validation images, then one look at the test set (about 3 s).
            X_fit, X_val, X_test_fit = standardise(digits.data[train[:100]], digits.data[train[100:]], digits.data[test])
            y_fit, y_val = y_train[:100], y_train[100:]
            try:
                validation_accuracy, networks = {}, {}
                for weight_decay in (0.0, 0.003, 0.01, 0.03, 0.1):
                    net = make_network()
                    net.fit(X_fit, y_fit, SoftmaxCrossEntropy(), Momentum(lr=0.01, weight_decay=weight_decay),
                            epochs=100, batch_size=25, rng=np.random.default_rng(4))
                    validation_accuracy[weight_decay] = np.mean(net.predict(X_val) == y_val)
                    networks[weight_decay] = net
                    print(f"weight decay {weight_decay:<6g} accuracy on its 100 training images {np.mean(net.predict(X_fit) == y_fit):6.1%},"
                          f" on the 50 validation images {validation_accuracy[weight_decay]:6.1%}")
                best = max(validation_accuracy.values())
                chosen_weight_decay = max(wd for wd, accuracy in validation_accuracy.items() if accuracy == best)
                chosen_test_accuracy = np.mean(networks[chosen_weight_decay].predict(X_test_fit) == y_test)
                print(f"chosen on validation: weight decay {chosen_weight_decay:g}; its accuracy on the test set {chosen_test_accuracy:.1%}")
            except NotImplementedError as error:
                print(not_implemented_yet("Momentum, and paste Affine, Relu, SoftmaxCrossEntropy and Sequential", error))
            """
        ),
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
            * A network with many weights and few training images overfits: train accuracy near 100 %, test
              accuracy well below. Weight decay ($\frac{\lambda}{2}\lVert W \rVert^2$ in the loss, $\lambda W$ in
              the gradient) and dropout narrow the gap; a hyper-parameter such as $\lambda$ is chosen on a
              validation set split off the training data, and the test set is used once, at the end.

            The next chapter moves from vectors to images: convolution and pooling layers.
            """
        ),
    ),
)
