"""What each layer does: the first draws boundaries, the second combines them, the third shapes.

Claim (seed 002): "The first hidden layer draws boundaries. The second hidden layer combines the
boundaries. The third and further layers can generate arbitrarily complex shapes."

Setup: the two-spirals data set (1,000 training points in 2-D, classes that no convex region
separates), ``(2, 16, 16, 16, 1)`` networks with tanh hidden units, sigmoid output and binary
cross-entropy, full-batch Adam (lr 0.01, cosine decay) for 6,000 epochs (--quick: 1,500), 3 seeds
(--quick: 1). Every hidden unit's region, {x : its activation > 0}, is mapped on a 200 x 200 grid
over the data (units whose region is empty or the whole grid are left out), and measured:
  * convexity defect: the fraction of 2,000 random segments between two points of the region
    that leave it (0 for a convex set), taken for the region and its complement, the smaller of
    the two: a straight boundary (a half-plane) scores 0 on both, an intersection of half-planes
    (a convex polygon) 0 on one side, a curved or winding shape more on both;
  * pieces: the connected components of the region plus those of its complement (2 for a line).

Criterion: every first-layer unit's region is a half-plane (defect <= 0.01, 2 pieces); pooled
over seeds, the median defect rises from layer 1 to layer 2 to layer 3, and so does the median
number of pieces or, where that ties, the mean; the trained networks classify the training set
with accuracy >= 0.95.
"""

import numpy as np
from common import figure, parse_args, pyplot, save
from scipy import ndimage

from jaxmlp import MLP, Optimizer, TrainConfig, activations, datasets, fit

SIZES = (2, 16, 16, 16, 1)
N_GRID = 200


def hidden_activations(net, params, x):
    """Each hidden layer's activations ``(n, units)`` (forward pass with the library's parts)."""
    h = activations.get(net.activation).fn
    out, a = [], x
    for layer in params[:-1]:
        a = h(a @ layer["w"] + layer["b"])
        out.append(np.asarray(a))
    return out


def defect(mask, rng, pairs=2000, steps=12):
    """Fraction of random segments between points of ``mask`` that leave it."""
    inside = np.argwhere(mask)
    if len(inside) < 2:
        return 0.0
    a = inside[rng.integers(0, len(inside), pairs)]
    b = inside[rng.integers(0, len(inside), pairs)]
    s = np.linspace(0, 1, steps)[:, None, None]
    points = np.rint(a + s * (b - a)).astype(int)  # (steps, pairs, 2)
    return float(np.mean(~mask[points[..., 0], points[..., 1]].all(0)))


def pieces(mask):
    return int(ndimage.label(mask)[1] + ndimage.label(~mask)[1])


def measure(regions, rng):
    """Per unit ``(defect, pieces)``, for units whose region is neither empty nor everything."""
    return [
        (min(defect(m, rng), defect(~m, rng)), pieces(m)) for m in regions if 0 < m.sum() < m.size
    ]


def main():
    args = parse_args(__doc__)
    epochs, n_seeds = (1500, 1) if args.quick else (6000, 3)
    ds = datasets.load("spirals", seed=args.seed)
    lo, hi = ds.x_train.min(0) - 0.2, ds.x_train.max(0) + 0.2
    g0, g1 = np.linspace(lo[0], hi[0], N_GRID), np.linspace(lo[1], hi[1], N_GRID)
    grid = np.stack(np.meshgrid(g0, g1, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
    net = MLP(SIZES, "tanh", "sigmoid", "bce")
    rng = np.random.default_rng(args.seed)
    per_layer = {layer: [] for layer in (1, 2, 3)}
    accuracies, shown = [], None
    for seed in range(args.seed, args.seed + n_seeds):
        params = fit(
            net, ds.x_train, ds.t_train, Optimizer("adam", lr=0.01, schedule="cosine"),
            TrainConfig(epochs, batch_size="full", seed=seed),
        ).params  # fmt: skip
        accuracies.append(float(np.mean(
            np.asarray(net.predict(params, ds.x_train)) == ds.t_train[:, 0])))  # fmt: skip
        acts = hidden_activations(net, params, grid)
        for layer, a in enumerate(acts, 1):
            regions = (a > 0).T.reshape(-1, N_GRID, N_GRID)
            per_layer[layer] += measure(regions, rng)
        if shown is None:
            shown = (params, acts)
    summary = {
        layer: {
            "units_measured": len(rows),
            "median_defect": float(np.median([d for d, _ in rows])),
            "max_defect": float(np.max([d for d, _ in rows])),
            "median_pieces": float(np.median([p for _, p in rows])),
            "mean_pieces": float(np.mean([p for _, p in rows])),
        }
        for layer, rows in per_layer.items()
    }
    for layer, s in summary.items():
        print(layer, s)
    s1, s2, s3 = summary[1], summary[2], summary[3]

    def more_pieces(a, b):
        if b["median_pieces"] != a["median_pieces"]:
            return b["median_pieces"] > a["median_pieces"]
        return b["mean_pieces"] > a["mean_pieces"]

    checks = {
        "layer 1: every region a half-plane (defect <= 0.01, 2 pieces)": (
            s1["max_defect"] <= 0.01 and all(p == 2 for _, p in per_layer[1])
        ),
        "median defect rises: layer 1 < 2 < 3": (
            s1["median_defect"] < s2["median_defect"] < s3["median_defect"]
        ),
        "pieces rise: layer 1 < 2 < 3": more_pieces(s1, s2) and more_pieces(s2, s3),
        "training accuracy >= 0.95 (every seed)": min(accuracies) >= 0.95,
    }
    plot(args, ds, net, g0, g1, grid, *shown)
    save(
        args, "layer_regions",
        claim="seed 002: the first hidden layer draws boundaries, the second combines them, the "
        "third and further layers build arbitrarily complex shapes (each layer's regions on "
        "two spirals)",
        criterion="layer-1 regions are half-planes; the median convexity defect and the number "
        "of pieces of the units' regions rise from layer 1 to 2 to 3; training accuracy >= 0.95",
        reproduced=all(checks.values()),
        metrics={"median_defect_layer_3": s3["median_defect"], "checks": checks,
                 "layers": summary, "train_accuracy": accuracies, "epochs": epochs,
                 "n_seeds": n_seeds},
    )  # fmt: skip


def plot(args, ds, net, g0, g1, grid, params, acts):
    plt = pyplot()
    fig, axes = plt.subplots(4, 6, figsize=(18, 12.5))
    for row, a in zip(axes[:3], acts):
        for k, ax in enumerate(row):
            unit = a[:, k].reshape(N_GRID, N_GRID).T
            ax.contourf(g0, g1, unit, levels=[-1, 0, 1], colors=["#ddd", "#357"])
            ax.set_xticks([])
            ax.set_yticks([])
    for layer, row in enumerate(axes[:3], 1):
        row[0].set_ylabel(f"hidden layer {layer}\n(units 1-6: > 0 dark)")
    out = np.asarray(net.apply(params, grid)).reshape(N_GRID, N_GRID).T
    ax = axes[3][0]
    ax.contourf(g0, g1, out, levels=[0, 0.5, 1], colors=["#ddd", "#357"])
    ax.scatter(*ds.x_train.T, c=ds.t_train[:, 0], cmap="coolwarm", s=2)
    ax.set_title("network output > 0.5, data")
    for ax in axes[3][1:]:
        ax.axis("off")
    fig.suptitle("two spirals, (2, 16, 16, 16, 1) tanh: where each of the first 6 units per "
                 "layer is positive")  # fmt: skip
    fig.tight_layout()
    figure(args, "layer_regions", fig)


if __name__ == "__main__":
    main()
