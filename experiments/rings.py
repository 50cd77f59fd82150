"""Concentric classes need a layer of at least 3 units, whatever the depth (seed 004).

Claim (seed 004, after Olah's "Neural Networks, Manifolds, and Topology"): for
A = {x : |x| < 1/3} and B = {x : 2/3 < |x| < 1} it is "impossible for a neural network to
classify this dataset without having a layer that has 3 or more hidden units, regardless of
depth."

Setting: the ``rings`` data set (1000 training and 1000 test points, standardised), tanh
hidden layers of width 2 or 3 at depths 1 to 4, a sigmoid output with cross-entropy, full-batch
Adam; several seeds per cell and the best seed kept (the claim is about what any weights can
do, so the best run is the fair witness).

Why it holds: with width 2 every layer maps the plane into the plane; if its weight matrix is
invertible the map is one-to-one, and B's image still encloses A's, so no line (the output
unit) separates them; a singular matrix squashes the plane onto a line, where the two classes
overlap. The argument forbids a *perfect* classification of the sets; a width-2 net can still
misclassify only a thin sliver of B, and on a finite sample a channel between sample points
is not ruled out.

Criterion: at every depth, the best training accuracy of width 2 is below 100 %, and the best
training accuracy of width 3 is 100 %.
"""

import time

import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, evaluate, fit

WIDTHS = (2, 3)


def train_cell(width, depth, ds, seeds, epochs):
    """Best run over ``seeds`` (by training accuracy, then loss): (params, train acc, test acc)."""
    net = MLP((2, *(width,) * depth, 1), "tanh", "sigmoid", "bce")
    best = None
    for seed in seeds:
        result = fit(
            net, ds.x_train, ds.t_train, Optimizer("adam", lr=0.02),
            TrainConfig(epochs, batch_size="full", seed=seed),
        )  # fmt: skip
        train = evaluate(net, result.params, ds.x_train, ds.t_train)
        score = (train["accuracy"], -train["loss"])
        if best is None or score > best[0]:
            test = evaluate(net, result.params, ds.x_test, ds.t_test)["accuracy"]
            best = (score, result.params, train["accuracy"], test)
    return net, best[1], best[2], best[3]


def main():
    args = parse_args(__doc__)
    if args.quick:
        depths, n_seeds, epochs, n = (1, 2), 1, 600, 300
    else:
        depths, n_seeds, epochs, n = (1, 2, 3, 4), 5, 3000, None
    ds = datasets.load("rings", seed=args.seed, n=n)
    seeds = range(args.seed, args.seed + n_seeds)
    start = time.perf_counter()
    cells = {(w, d): train_cell(w, d, ds, seeds, epochs) for w in WIDTHS for d in depths}
    seconds = time.perf_counter() - start

    train_acc = {f"width {w}, depth {d}": c[2] for (w, d), c in cells.items()}
    test_acc = {f"width {w}, depth {d}": c[3] for (w, d), c in cells.items()}
    best2 = max(c[2] for (w, _), c in cells.items() if w == 2)
    worst3 = min(c[2] for (w, _), c in cells.items() if w == 3)
    metrics = {
        "best_train_accuracy_width_2": best2,
        "worst_train_accuracy_width_3": worst3,
        "best_of_seeds_train_accuracy": train_acc,
        "test_accuracy_of_those_runs": test_acc,
        "n_seeds": n_seeds,
        "epochs": epochs,
        "n_train": len(ds.x_train),
        "seconds": seconds,
    }
    plot(args, ds, cells, depths)
    save(
        args, "rings",
        claim="seed 004: concentric classes cannot be classified without a layer of >= 3 "
        "units, whatever the depth",
        criterion="at every depth 1-4 the best-of-seeds training accuracy is < 100 % with "
        "width 2 and = 100 % with width 3",
        reproduced=best2 < 1.0 and worst3 == 1.0, metrics=metrics,
    )  # fmt: skip


def plot(args, ds, cells, depths):
    plt = pyplot()
    fig, axes = plt.subplots(
        len(WIDTHS), len(depths), figsize=(3.2 * len(depths), 6.4), squeeze=False
    )
    edge = 1.05 * float(np.abs(np.concatenate([ds.x_train, ds.x_test])).max())
    grid = np.linspace(-edge, edge, 201, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], 1)
    labels = ds.t_test[:, 0]
    for i, w in enumerate(WIDTHS):
        for j, d in enumerate(depths):
            net, params, train, test = cells[w, d]
            p = np.asarray(net.apply(params, points)).reshape(gx.shape)
            ax = axes[i, j]
            ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
            ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1)
            ax.scatter(*ds.x_test[labels == 0].T, s=2, c="navy")
            ax.scatter(*ds.x_test[labels == 1].T, s=2, c="darkred")
            ax.set_title(f"width {w}, depth {d}: train {train:.1%}", fontsize=9)
            ax.set(xlim=(-edge, edge), ylim=(-edge, edge), xticks=[], yticks=[], aspect="equal")
    fig.suptitle("rings: decision boundary P(B|x) = 0.5 of the best seed (A blue, B red)")
    fig.tight_layout()
    figure(args, "rings", fig)


if __name__ == "__main__":
    main()
