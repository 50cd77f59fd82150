"""Softmax outputs trained with cross-entropy approximate the posteriors of K > 2 classes.

Claim (seed 001): for K classes the posterior is the normalised exponential,
P(C_k|x) = exp(a_k) / sum_j exp(a_j) with a_k = ln p(x|C_k) P(C_k), so a network with a softmax
output trained with cross-entropy approximates P(C_k|x) (the K-class form of the two-class
sigmoid result that ``posterior.py`` shows).

Setup: four Gaussian classes in 2-D with priors 0.4/0.3/0.2/0.1, whose posteriors are computed
exactly by Bayes' rule, in two settings:
  * shared covariance: a_k is linear in x, so the single-layer softmax network ``(2, 4)`` has the
    true posterior in its family;
  * class-specific covariances: a_k is quadratic, beyond a single layer; an MLP ``(2, 16, 4)``
    with tanh hidden units is needed.
Both networks are trained in both settings with cross-entropy, full-batch Adam (lr 0.05, cosine
decay, 2,000 epochs; --quick: 600), on 300, 3,000 and 30,000 examples (--quick: 300 and 3,000).
The gap is max_k |y_k(x) - P(C_k|x)| on 2,000 fresh test points; its mean and its maximum over
the points are reported.

Criterion: shared covariance: the single layer's largest gap with the most examples is below
0.05 and below its gap with the fewest; class-specific covariances: the MLP's mean gap with the
most examples is below 0.02 and below the single layer's.
"""

import numpy as np
from common import figure, parse_args, pyplot, save
from scipy.stats import multivariate_normal

from jaxmlp import MLP, Optimizer, TrainConfig, fit

PRIORS = np.array([0.4, 0.3, 0.2, 0.1])
MEANS = np.array([[1.5, 1.0], [-1.5, 1.0], [0.0, -1.5], [0.0, 0.5]])
SHARED = np.array([[0.8, 0.2], [0.2, 0.6]])
SETTINGS = {
    "shared covariance": [SHARED] * 4,
    "class-specific covariances": [np.array([[1.2, 0.5], [0.5, 0.6]]),
                                   np.array([[0.3, 0.0], [0.0, 1.5]]),
                                   np.array([[1.0, -0.6], [-0.6, 0.8]]), 0.15 * np.eye(2)],
}  # fmt: skip
NETS = {
    "single layer (2, 4)": MLP((2, 4), output="softmax", loss="cross_entropy"),
    "MLP (2, 16, 4) tanh": MLP((2, 16, 4), "tanh", "softmax", "cross_entropy"),
}


def draw(rng, n, covs):
    labels = rng.choice(len(PRIORS), n, p=PRIORS)
    x = np.stack([rng.multivariate_normal(MEANS[k], covs[k]) for k in labels])
    return x.astype(np.float32), labels.astype(np.int32)


def posterior(x, covs):
    """P(C_k|x) by Bayes' rule, ``(n, K)``."""
    joint = np.stack(
        [PRIORS[k] * multivariate_normal(MEANS[k], covs[k]).pdf(x) for k in range(len(PRIORS))], 1
    )
    return joint / joint.sum(1, keepdims=True)


def main():
    args = parse_args(__doc__)
    sizes, epochs = ((300, 3000), 600) if args.quick else ((300, 3000, 30000), 2000)
    rng = np.random.default_rng(args.seed)
    results, fitted = {}, {}
    for setting, covs in SETTINGS.items():
        x_test, _ = draw(rng, 2000, covs)
        truth = posterior(x_test, covs)
        for name, net in NETS.items():
            for n in sizes:
                x, t = draw(rng, n, covs)
                params = fit(
                    net, x, t, Optimizer("adam", lr=0.05, schedule="cosine"),
                    TrainConfig(epochs, batch_size="full", seed=args.seed),
                ).params  # fmt: skip
                gap = np.abs(np.asarray(net.apply(params, x_test)) - truth).max(1)
                results.setdefault(setting, {}).setdefault(name, {})[n] = {
                    "mean_gap": float(gap.mean()), "max_gap": float(gap.max())}  # fmt: skip
                fitted[setting, name] = (net, params)
            print(setting, name, results[setting][name], flush=True)
    few, most = sizes[0], sizes[-1]
    single, mlp = NETS
    shared, specific = SETTINGS
    checks = {
        "shared: single layer's largest gap < 0.05 with the most examples": (
            results[shared][single][most]["max_gap"] < 0.05
        ),
        "shared: single layer's largest gap shrinks with examples": (
            results[shared][single][most]["max_gap"] < results[shared][single][few]["max_gap"]
        ),
        "class-specific: MLP's mean gap < 0.02 with the most examples": (
            results[specific][mlp][most]["mean_gap"] < 0.02
        ),
        "class-specific: MLP's mean gap below the single layer's": (
            results[specific][mlp][most]["mean_gap"] < results[specific][single][most]["mean_gap"]
        ),
    }
    plot(args, fitted)
    save(
        args, "softmax_posteriors",
        claim="seed 001: softmax outputs trained with cross-entropy approximate the class "
        "posteriors P(C_k|x) for K > 2 classes (four Gaussian classes)",
        criterion="shared covariance: single-layer largest gap < 0.05 at the most examples and "
        "below its gap at the fewest; class-specific covariances: MLP mean gap < 0.02 and below "
        "the single layer's",
        reproduced=all(checks.values()),
        metrics={"shared_single_layer_max_gap_at_most": results[shared][single][most]["max_gap"],
                 "checks": checks, "gaps": results, "training_sizes": list(sizes),
                 "epochs": epochs},
    )  # fmt: skip


def plot(args, fitted):
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    g = np.linspace(-4, 4, 160)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2).astype(np.float32)
    colors = np.array([[0.85, 0.2, 0.2], [0.2, 0.4, 0.85], [0.2, 0.7, 0.3], [0.95, 0.7, 0.1]])
    for row, (setting, covs) in zip(axes, SETTINGS.items()):
        truth = posterior(grid, covs)
        panels = [("true posterior", truth)] + [
            (name, np.asarray(net.apply(params, grid)))
            for (s, name), (net, params) in fitted.items() if s == setting
        ]  # fmt: skip
        for ax, (title, p) in zip(row, panels):
            ax.imshow((p @ colors).reshape(160, 160, 3), origin="lower", extent=(-4, 4, -4, 4))
            ax.contour(g, g, np.abs(p - truth).max(1).reshape(160, 160), levels=[0.05],
                       colors="k", linewidths=0.8)  # fmt: skip
            ax.set_title(f"{setting}: {title}", fontsize=9)
    fig.suptitle("P(C_k|x) mixed as colours (4 classes); black: where the gap to the truth is "
                 "0.05")  # fmt: skip
    fig.tight_layout()
    figure(args, "softmax_posteriors", fig)


if __name__ == "__main__":
    main()
