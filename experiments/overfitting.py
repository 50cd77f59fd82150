"""Over-fitting in data-scarce settings: the train/test gap against the number of examples.

Claim (seed 004, among the limits of neural networks): "Over-fitting in data-scarce scenarios":
a flexible network fitted to few examples learns their noise, so its training error falls below
the noise level while its test error stays high; with more examples the gap closes.

Setup: t = sin(x) + noise (std 0.3, so the best possible mean squared error is 0.09), x uniform
on [-pi, pi]; a ``(1, 64, 64, 1)`` tanh network, squared error, full-batch Adam (lr 0.01) for
4,000 epochs (--quick: 1,500), no regularisation, trained on n = 8 to 2048 examples
(--quick: 8, 64, 512), 3 seeds each (--quick: 1); test error on 2,000 fresh examples.

Criterion: with the fewest examples the training MSE is below the noise variance 0.09 and the
test MSE above it, and the gap (test - train MSE, median over seeds) at the fewest examples is at
least 10 times that at the most; the gap falls with n (Spearman rank correlation <= -0.8).
"""

import numpy as np
from common import figure, parse_args, pyplot, save
from scipy.stats import spearmanr

from jaxmlp import MLP, Optimizer, TrainConfig, fit

NOISE = 0.3


def draw(rng, n):
    x = rng.uniform(-np.pi, np.pi, (n, 1)).astype(np.float32)
    return x, (np.sin(x) + NOISE * rng.standard_normal((n, 1))).astype(np.float32)


def main():
    args = parse_args(__doc__)
    if args.quick:
        sizes, n_seeds, epochs = (8, 64, 512), 1, 1500
    else:
        sizes, n_seeds, epochs = (8, 16, 32, 64, 128, 256, 512, 1024, 2048), 3, 4000
    net = MLP((1, 64, 64, 1), "tanh", "identity", "sse")
    x_test, t_test = draw(np.random.default_rng(10_000 + args.seed), 2000)
    mse = lambda params, x, t: float(np.mean((np.asarray(net.apply(params, x)) - t) ** 2))  # noqa: E731
    rows, examples = [], {}
    for n in sizes:
        train, test = [], []
        for seed in range(args.seed, args.seed + n_seeds):
            x, t = draw(np.random.default_rng(seed * 100_003 + n), n)
            params = fit(
                net, x, t, Optimizer("adam", lr=0.01),
                TrainConfig(epochs, batch_size="full", seed=seed),
            ).params  # fmt: skip
            train.append(mse(params, x, t))
            test.append(mse(params, x_test, t_test))
            if seed == args.seed and n in (sizes[0], sizes[len(sizes) // 2], sizes[-1]):
                examples[n] = (x, t, params)
        row = {"n": n, "train_mse": float(np.median(train)), "test_mse": float(np.median(test)),
               "train_mse_seeds": train, "test_mse_seeds": test}  # fmt: skip
        row["gap"] = float(np.median(np.subtract(test, train)))
        rows.append(row)
        print({k: v for k, v in row.items() if not k.endswith("seeds")}, flush=True)
    gaps = [r["gap"] for r in rows]
    rho = float(spearmanr(sizes, gaps).statistic)
    ratio = gaps[0] / max(gaps[-1], 1e-12)
    checks = {
        "fewest examples: train MSE < 0.09 < test MSE": rows[0]["train_mse"]
        < NOISE**2
        < rows[0]["test_mse"],
        "gap at fewest >= 10 x gap at most": ratio >= 10,
        "gap falls with n (Spearman <= -0.8)": rho <= -0.8,
    }
    plot(args, rows, examples, net)
    save(
        args, "overfitting",
        claim="seed 004: networks over-fit in data-scarce settings: with few examples the "
        "training error falls below the noise while the test error stays high; the gap closes "
        "as examples grow",
        criterion="fewest examples: train MSE < noise variance 0.09 < test MSE; median "
        "test-train gap at the fewest >= 10x that at the most; Spearman(n, gap) <= -0.8",
        reproduced=all(checks.values()),
        metrics={"gap_ratio_fewest_over_most": ratio, "checks": checks, "spearman_n_gap": rho,
                 "rows": rows, "epochs": epochs, "n_seeds": n_seeds,
                 "noise_variance": NOISE**2},
    )  # fmt: skip


def plot(args, rows, examples, net):
    plt = pyplot()
    fig, axes = plt.subplots(1, 1 + len(examples), figsize=(5.2 * (1 + len(examples)), 4.4))
    n = [r["n"] for r in rows]
    axes[0].loglog(n, [r["train_mse"] for r in rows], "o-", label="training MSE")
    axes[0].loglog(n, [r["test_mse"] for r in rows], "s-", label="test MSE")
    axes[0].axhline(NOISE**2, color="k", ls=":", label="noise variance (best possible)")
    axes[0].set(xlabel="training examples n", ylabel="MSE (median over seeds)",
                title="(1, 64, 64, 1) tanh, no regularisation")  # fmt: skip
    axes[0].legend()
    grid = np.linspace(-np.pi, np.pi, 400, dtype=np.float32)[:, None]
    for ax, (count, (x, t, params)) in zip(axes[1:], sorted(examples.items())):
        ax.plot(grid, np.sin(grid), "k--", label="sin x")
        ax.plot(grid, np.asarray(net.apply(params, grid)), "C1", label="network")
        ax.plot(x[:300], t[:300], "C0.", ms=4, label="training examples")
        ax.set(ylim=(-2, 2), xlabel="x", title=f"n = {count}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    figure(args, "overfitting", fig)


if __name__ == "__main__":
    main()
