"""Backprop cannot break symmetry: hidden units that start identical stay identical.

Claim (seed 003): if all weights start equal, every hidden unit of a layer computes the same
output and receives the same error signal delta, so gradient descent moves them alike and they
remain copies of one another: the network behaves as if each layer had a single unit. Random
initial weights break the symmetry.

Setup: the two-moons data set (200 training, 1000 test points), ``(2, 8, 8, 1)`` networks, tanh
hidden units, sigmoid output, binary cross-entropy, plain full-batch gradient descent
(eta = 0.5) on the hand-derived ``net.backprop`` for 3000 steps (--quick: 500). Two starts: the
library's ``init="constant:0.3"`` (every weight and bias 0.3) and Glorot-uniform random weights,
over 5 seeds (--quick: 2). The spread of a hidden layer is max_j |w_j - w_1| over its units' input
weight columns and biases (units j against unit 1), recorded every step.

Criterion: from the constant start, the spread of both hidden layers is exactly 0 at every step
(bitwise copies), and its test accuracy is at most that of the best single-unit network
``(2, 1, 1, 1)`` trained the same way plus 0.02; from random starts the spread stays above 0.1
after training and every seed beats the constant start's test accuracy.
"""

import jax
import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, datasets

ETA = 0.5


def spread(layer):
    """max_j |unit j - unit 1| over a layer's weight columns and biases."""
    units = jnp.concatenate([layer["w"], layer["b"][None]], axis=0)  # (fan_in + 1, units)
    return jnp.max(jnp.abs(units - units[:, :1]))


def descend(net, params, x, t, steps):
    """Full-batch gradient descent on ``net.backprop``: final params and per-step spreads."""

    @jax.jit
    def run(params):
        def step(p, _):
            grads = net.backprop(p, x, t)
            p = jax.tree.map(lambda w, g: w - ETA * g, p, grads)
            return p, jnp.stack([spread(layer) for layer in p[:-1]])

        return jax.lax.scan(step, params, None, length=steps)

    return run(params)


def accuracy(net, params, x, t):
    return float(np.mean(np.asarray(net.predict(params, x)) == np.asarray(t)[:, 0]))


def main():
    args = parse_args(__doc__)
    steps, n_seeds = (500, 2) if args.quick else (3000, 5)
    ds = datasets.load("moons", seed=args.seed)
    x, t = jnp.asarray(ds.x_train), jnp.asarray(ds.t_train)

    def train(sizes, init, seed):
        net = MLP(sizes, "tanh", "sigmoid", "bce", init=init)
        params, spreads = descend(net, net.init(jax.random.key(seed)), x, t, steps)
        return net, params, np.asarray(spreads)

    net, const_params, const_spreads = train((2, 8, 8, 1), "constant:0.3", args.seed)
    const_acc = accuracy(net, const_params, ds.x_test, ds.t_test)
    random_runs = [train((2, 8, 8, 1), "glorot_uniform", s) for s in range(n_seeds)]
    random_acc = [accuracy(n, p, ds.x_test, ds.t_test) for n, p, _ in random_runs]
    random_final_spread = [float(s[-1].min()) for _, _, s in random_runs]
    single_acc = max(
        accuracy(n, p, ds.x_test, ds.t_test)
        for n, p, _ in (train((2, 1, 1, 1), "glorot_uniform", s) for s in range(n_seeds))
    )
    checks = {
        "constant start: spread exactly 0 at every step": bool(np.all(const_spreads == 0)),
        "constant start: accuracy <= best single-unit net + 0.02": const_acc <= single_acc + 0.02,
        "random starts: spread > 0.1 after training": min(random_final_spread) > 0.1,
        "random starts: every seed beats the constant start": min(random_acc) > const_acc,
    }
    print({"constant": const_acc, "random": random_acc, "single unit": single_acc})
    plot(args, ds, net, const_params, random_runs, const_spreads)
    save(
        args, "symmetry",
        claim="seed 003: backprop cannot break symmetry: hidden units that start with identical "
        "weights stay identical copies under training; random initial weights break it",
        criterion="constant init: hidden-unit spread exactly 0 every step and test accuracy <= "
        "best 1-unit-per-layer net + 0.02; random init: spread > 0.1 and every seed more accurate",
        reproduced=all(checks.values()),
        metrics={
            "constant_init_max_spread": float(const_spreads.max()),
            "checks": checks,
            "constant_init_test_accuracy": const_acc,
            "random_init_test_accuracy": random_acc,
            "single_unit_net_best_test_accuracy": single_acc,
            "random_init_final_spread_min_layer": random_final_spread,
            "steps": steps,
            "eta": ETA,
        },
    )  # fmt: skip


def plot(args, ds, net, const_params, random_runs, const_spreads):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax = axes[0]
    steps = np.arange(1, len(const_spreads) + 1)
    for layer in range(const_spreads.shape[1]):
        ax.plot(steps, const_spreads[:, layer], "k", lw=2 - layer,
                label=f"constant init, hidden layer {layer + 1}")  # fmt: skip
    for i, (_, _, s) in enumerate(random_runs):
        for layer in range(s.shape[1]):
            ax.plot(steps, s[:, layer], color=f"C{layer}", alpha=0.6,
                    label=f"random init, layer {layer + 1}" if i == 0 else None)  # fmt: skip
    ax.set(xlabel="gradient descent step", ylabel="max_j |unit j - unit 1|",
           title="spread of the hidden units' weights", yscale="symlog")  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    g = np.linspace(-3, 3, 200)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2).astype(np.float32)
    for ax, (n, p, title) in zip(
        axes[1:], ((net, const_params, "constant init"), (*random_runs[0][:2], "random init"))
    ):
        out = np.asarray(n.apply(p, grid)).reshape(200, 200)
        ax.contourf(g, g, out, levels=20, cmap="RdBu_r", alpha=0.6)
        ax.contour(g, g, out, levels=[0.5], colors="k")
        ax.scatter(*ds.x_test[:300].T, c=ds.t_test[:300, 0], cmap="RdBu_r", s=6, edgecolors="k",
                   linewidths=0.2)  # fmt: skip
        ax.set(title=f"{title}: network output, boundary 0.5", xlabel="x1", ylabel="x2")
    fig.tight_layout()
    figure(args, "symmetry", fig)


if __name__ == "__main__":
    main()
