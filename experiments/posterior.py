"""A sigmoid output trained with cross-entropy approximates the posterior P(C1|x) (seed 001).

Claim (seed 001): for two classes the posterior is a logistic sigmoid,
P(C1|x) = 1 / (1 + exp(-ln(p(x|C1) P(C1) / (p(x|C2) P(C2))))), so the sigmoid output of a
network trained with cross-entropy approximates P(C1|x).

Setting: the ``gaussians`` data set, two Gaussian classes with a shared covariance and priors
0.6/0.4, whose true posterior ``datasets.posterior`` gives exactly (for a shared covariance it
is g(w^T x + w0), linear in x inside the sigmoid). Two networks with a sigmoid output and binary
cross-entropy: the seed's single-layer network ``(2, 1)`` and an MLP ``(2, 8, 1)`` with tanh
hidden units; full-batch Adam, on 100, 1000 and 10000 training examples. The gap is
|net(x) - P(C1|x)| on the 1000 test points (fresh draws of the same distribution).

Criterion, on the seed's own network (the single layer, whose family holds the true posterior):
with 10000 training examples its largest gap over the test points is below 0.05, and it shrinks
as the training set grows (largest gap at 10000 examples below that at 100). The MLP is
reported beside it, not judged: with no regularisation and training to convergence it
overfits the small sets, and its largest gap sits in the sparse tails.
"""

import time

import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

NETS = {
    "single layer (2, 1)": MLP((2, 1), output="sigmoid", loss="bce"),
    "MLP (2, 8, 1) tanh": MLP((2, 8, 1), "tanh", "sigmoid", "bce"),
}
TOLERANCE = 0.05


def train(net, ds, epochs, seed):
    result = fit(
        net, ds.x_train, ds.t_train, Optimizer("adam", lr=0.01),
        TrainConfig(epochs, batch_size="full", seed=seed),
    )  # fmt: skip
    return result.params


def line(ds, s):
    """Points m2 + s (m1 - m2) on the line through the class means, in the net's input space."""
    m1, m2 = ds.info["means"]
    raw = m2 + s[:, None] * (m1 - m2)
    return ds.info["standardizer"].apply(raw)


def main():
    args = parse_args(__doc__)
    sizes, epochs = ((100, 1000), 300) if args.quick else ((100, 1000, 10000), 2000)
    start = time.perf_counter()
    runs = {}
    for n in sizes:
        ds = datasets.load("gaussians", seed=args.seed, n=n)
        truth = datasets.posterior(ds, ds.x_test)
        for name, net in NETS.items():
            params = train(net, ds, epochs, args.seed)
            gap = np.abs(np.asarray(net.apply(params, ds.x_test))[:, 0] - truth)
            runs[name, n] = (ds, net, params, gap)
    seconds = time.perf_counter() - start

    largest = {f"{name}, n={n}": float(r[3].max()) for (name, n), r in runs.items()}
    mean = {f"{name}, n={n}": float(r[3].mean()) for (name, n), r in runs.items()}
    n_max = sizes[-1]
    single = "single layer (2, 1)"
    at_most = runs[single, n_max][3].max()
    shrinks = runs[single, n_max][3].max() < runs[single, sizes[0]][3].max()
    metrics = {
        f"largest_gap_single_layer_at_n={n_max}": float(at_most),
        "largest_gap_on_test_points": largest,
        "mean_gap_on_test_points": mean,
        "epochs": epochs,
        "seconds": seconds,
    }
    plot(args, runs, sizes)
    save(
        args, "posterior",
        claim="seed 001: a sigmoid output trained with cross-entropy approximates the "
        "posterior P(C1|x) of two Gaussian classes",
        criterion=f"single-layer net: largest |net(x) - P(C1|x)| on the test points < {TOLERANCE} "
        f"at n = {n_max}, and smaller than at n = {sizes[0]}",
        reproduced=at_most < TOLERANCE and shrinks, metrics=metrics,
    )  # fmt: skip


def plot(args, runs, sizes):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    s = np.linspace(-1.5, 2.5, 401)
    n_max = sizes[-1]
    ds = runs["single layer (2, 1)", n_max][0]
    axes[0].plot(s, datasets.posterior(ds, line(ds, s)), "k", lw=3, label="true P(C1|x)")
    for i, name in enumerate(NETS):
        for n, style in zip(sizes, (":", "--", "-")):
            ds, net, params, _ = runs[name, n]
            y = np.asarray(net.apply(params, line(ds, s)))[:, 0]
            axes[0].plot(s, y, style, color=f"C{i}", label=f"{name}, n={n}")
    axes[0].set(
        xlabel="s: x = m2 + s (m1 - m2)", ylabel="P(C1 | x)",
        title="along the line through the class means",
    )  # fmt: skip
    axes[0].legend(fontsize=7, loc="upper left")

    ds, net, params, _ = runs["MLP (2, 8, 1) tanh", n_max]
    grid = np.linspace(-3, 3, 121, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], 1)
    levels = [0.1, 0.5, 0.9]
    c1 = ds.t_test[:, 0] == 1
    axes[1].scatter(*ds.x_test[c1].T, s=3, c="darkred", alpha=0.4, label="C1")
    axes[1].scatter(*ds.x_test[~c1].T, s=3, c="navy", alpha=0.4, label="C2")
    true = datasets.posterior(ds, points).reshape(gx.shape)
    axes[1].contour(gx, gy, true, levels=levels, colors="k", linewidths=2)
    net_p = np.asarray(net.apply(params, points)).reshape(gx.shape)
    cs = axes[1].contour(gx, gy, net_p, levels=levels, colors="C1", linestyles="--")
    axes[1].clabel(cs, fontsize=7)
    axes[1].set(
        xlabel="x1 (standardised)", ylabel="x2",
        title=f"P = 0.1, 0.5, 0.9: true (black), MLP n={n_max} (dashed)",
    )  # fmt: skip
    axes[1].legend(fontsize=7, loc="upper left")

    for i, name in enumerate(NETS):
        axes[2].loglog(sizes, [runs[name, n][3].max() for n in sizes], "o-", color=f"C{i}",
                       label=f"{name}: largest")  # fmt: skip
        axes[2].loglog(sizes, [runs[name, n][3].mean() for n in sizes], "s--", color=f"C{i}",
                       label=f"{name}: mean")  # fmt: skip
    axes[2].axhline(TOLERANCE, color="grey", ls=":", lw=0.8)
    axes[2].set(xlabel="training examples", ylabel="|net(x) - P(C1|x)| on test points",
                title="gap against training set size")  # fmt: skip
    axes[2].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    figure(args, "posterior", fig)


if __name__ == "__main__":
    main()
