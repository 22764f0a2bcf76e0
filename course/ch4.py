"""Chapter 4: backpropagation through computational graphs and layers."""

from grader.authoring.chapters import Answer, Chapter, Demo, Markdown, Tests

CHAPTER = Chapter(
    "ch4_backprop",
    (
        Markdown(
            r"""
            # Chapter 4: backpropagation

            The numerical gradient costs two evaluations of the loss *per weight*. Backpropagation gets
            every gradient in one backward sweep, using the chain rule: if $z = f(y)$ and $y = g(x)$,

            $$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial z}\,\frac{\partial z}{\partial y}\,\frac{\partial y}{\partial x}.$$

            Each node of a computational graph implements two methods: `forward` computes its output and
            remembers what it needs; `backward(dout)` receives $\partial L / \partial \text{out}$ and
            returns $\partial L / \partial \text{input}$. Neither may modify its input array.

            By the end of this chapter you can

            * backpropagate through multiplication and addition nodes of a computational graph;
            * write the forward and backward passes of the ReLU, sigmoid and tanh layers;
            * derive and implement the gradients of a fully connected (Affine) layer from the shapes;
            * use the softmax-with-cross-entropy gradient $(p - t)/N$, and check backpropagation
              against numerical gradients.

            Run the setup cell first.
            """
        ),
        Markdown(
            r"""
            ## Multiplication and addition nodes

            For $z = x y$: $\partial L/\partial x = \text{dout} \cdot y$ and $\partial L/\partial y = \text{dout} \cdot x$
            (each input's gradient is the upstream gradient times the *other* input), so the node must
            remember both inputs. For $z = x + y$ the gradient flows to both inputs unchanged.
            """
        ),
        Answer("graph", ("MulLayer",)),
        Tests("MulLayer"),
        Answer("graph", ("AddLayer",)),
        Tests("AddLayer"),
        Demo(
            r"""
            # Two apples at 100 each plus 10% tax: how does the price change with each input?
            try:
                apple, count, tax = 100.0, 2.0, 1.1
                mul_apple, mul_tax = MulLayer(), MulLayer()
                price = mul_tax.forward(mul_apple.forward(apple, count), tax)
                dapple_price, dtax = mul_tax.backward(1.0)
                dapple, dcount = mul_apple.backward(dapple_price)
                print(f"price {price:.1f}; d/dapple {dapple:.2f}, d/dcount {dcount:.1f}, d/dtax {dtax:.1f}")
            except NotImplementedError as error:
                print(not_implemented_yet("MulLayer", error))
            """
        ),
        Markdown(
            r"""
            ## Activation layers

            An elementwise activation $y = h(x)$ has the elementwise backward $dx = \text{dout} \odot h'(x)$:

            * ReLU: $h'(x) = 1$ where $x > 0$, else 0: remember the mask of positive inputs.
            * Sigmoid: $h'(x) = y (1 - y)$, expressed by the output: remember $y$.
            * Tanh: $h'(x) = 1 - y^2$: remember $y$.

            These classes derive from `Layer` (in the setup cell): `params` and `grads` are empty dicts.
            """
        ),
        Answer("layers", ("Relu",)),
        Tests("Relu"),
        Answer("layers", ("Sigmoid",)),
        Tests("Sigmoid"),
        Answer("layers", ("Tanh",)),
        Tests("Tanh"),
        Markdown(
            r"""
            ## The Affine layer

            A fully connected layer computes $Y = XW + b$ for a batch $X$ of shape $(N, D)$, $W: (D, M)$,
            $b: (M,)$. With $dY = \partial L/\partial Y$ of shape $(N, M)$:

            $$dX = dY\,W^\top \quad (N, D), \qquad dW = X^\top dY \quad (D, M), \qquad db = \sum_{n} dY_{n,:} \quad (M,).$$

            The shapes are the check: every product must be the only one whose shapes fit. The bias is
            added to every row, so its gradient sums over the batch. Inputs of shape $(N, d_1, \dots, d_k)$
            are flattened per sample, and $dX$ gets the input's shape back.
            """
        ),
        Answer("layers", ("Affine",)),
        Tests("Affine"),
        Markdown(
            r"""
            ## Loss layers

            Softmax followed by cross-entropy has a remarkably simple gradient. With
            $p = \mathrm{softmax}(s)$ and one-hot targets $t$, averaged over $N$ samples,

            $$L = -\frac{1}{N}\sum_n \sum_k t_{nk} \log p_{nk}, \qquad \frac{\partial L}{\partial s} = \frac{p - t}{N}.$$

            Compute $\log p$ stably as $s - \max s - \log \sum e^{s - \max s}$. For the mean squared error
            over $n$ elements, $\partial L / \partial y = 2 (y - t) / n$. Both `backward(dout=1.0)`
            multiply by `dout`.
            """
        ),
        Answer("losses", ("SoftmaxCrossEntropy",)),
        Tests("SoftmaxCrossEntropy"),
        Answer("losses", ("MSELoss",)),
        Tests("MSELoss"),
        Demo(
            r"""
            # Gradient check: backpropagation against central differences on a tiny Affine-Tanh-Affine network.
            def numeric(f, x, h=1e-5):
                estimate = np.zeros_like(x)
                for i in np.ndindex(x.shape):
                    old = x[i]
                    x[i] = old + h
                    up = f()
                    x[i] = old - h
                    down = f()
                    x[i] = old
                    estimate[i] = (up - down) / (2 * h)
                return estimate


            try:
                rng = np.random.default_rng(0)
                layers = [Affine(4, 5, rng=rng), Tanh(), Affine(5, 3, rng=rng)]
                loss = SoftmaxCrossEntropy()
                x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

                def loss_value():
                    out = x
                    for layer in layers:
                        out = layer.forward(out)
                    return loss.forward(out, labels)

                loss_value()
                upstream = loss.backward()
                for layer in reversed(layers):
                    upstream = layer.backward(upstream)
                for i in (0, 2):
                    for key in ("W", "b"):
                        exact = layers[i].grads[key]
                        approx = numeric(loss_value, layers[i].params[key])
                        print(f"layer {i} {key}: max difference {np.abs(exact - approx).max():.2e}")
            except NotImplementedError as error:
                print(not_implemented_yet("Affine, Tanh and SoftmaxCrossEntropy", error))
            """
        ),
        Markdown(
            r"""
            ## What you built

            * The chain rule, one node at a time: each `backward` multiplies the upstream gradient by its own
              local derivative. A product sends each input the other input times the upstream gradient; a
              sum passes it on unchanged.
            * Activation layers: $dx = \text{dout} \odot h'(x)$, with $h' = [x > 0]$ for ReLU,
              $y(1 - y)$ for the sigmoid and $1 - y^2$ for tanh.
            * Affine: $dX = dY\,W^\top$, $dW = X^\top dY$, $db = \sum_n dY_{n,:}$, each the only product
              whose shapes fit.
            * Softmax with cross-entropy: $\partial L / \partial s = (p - t)/N$.
            * A gradient check: backpropagation and central differences differ by less than about $10^{-10}$.

            The next chapter stacks these layers into a network and trains it.
            """
        ),
    ),
)
