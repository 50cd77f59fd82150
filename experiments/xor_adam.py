"""XOR with 16 sigmoid hidden units and Adam against the 2-3-1 network and plain GD (seed 003).

Claim (seed 003, its Keras comparison): a 2-16-1 sigmoid network trained with Adam on the mean
squared error reaches a low error on XOR much faster than the 2-3-1 network trained by plain
gradient descent; the seed credits "mostly" the Adam optimizer.

Settings. "plain GD": seed 003's recipe, E = 1/2 sum of squares, eta = 0.1, weights and biases
U[0, 1). "Keras Adam": Keras' defaults, loss mean((y - t)^2), Adam at 1e-3, Glorot-uniform
weights and zero biases. Both recipes run at both widths (3 and 16) to separate what the
optimizer does from what the width does. The error is compared on one scale, the mean squared
error mean((y - t)^2), recorded at every full-batch iteration.

Criterion: over the seeds, the median number of iterations the 2-16-1 Adam network needs to
bring the mean squared error below 0.05 is at most half that of the 2-3-1 plain-GD network.
"""

import time

import jax
import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

THRESHOLD = 0.05  # mean squared error


def cells():
    """name -> (net, optimizer, factor turning the net's cost into mean((y - t)^2))."""
    seed_003 = dict(loss="sse", reduction="sum", init="uniform:0,1")
    keras = dict(loss="mse", reduction="mean", init="glorot_uniform")
    plain, adam = Optimizer("sgd", lr=0.1), Optimizer("adam", lr=1e-3)
    to_mse = 2 / 4  # E = 1/2 sum over the 4 examples
    return {
        "2-3-1 plain GD": (MLP((2, 3, 1), "sigmoid", "sigmoid", **seed_003), plain, to_mse),
        "2-16-1 plain GD": (MLP((2, 16, 1), "sigmoid", "sigmoid", **seed_003), plain, to_mse),
        "2-3-1 Adam": (MLP((2, 3, 1), "sigmoid", "sigmoid", **keras), adam, 1.0),
        "2-16-1 Adam": (MLP((2, 16, 1), "sigmoid", "sigmoid", **keras), adam, 1.0),
    }


def first_below(curve, level):
    """The first index where ``curve < level``, or None."""
    hit = np.flatnonzero(curve < level)
    return int(hit[0]) if hit.size else None


def run_cell(net, optimizer, to_mse, x, t, seeds, iterations):
    curves, to_threshold, to_100 = [], [], []
    for seed in seeds:
        params = net.init(jax.random.key(seed))
        result = fit(
            net, x, t, optimizer, TrainConfig(iterations, batch_size="full"), params=params
        )
        mse = np.array([r["train_loss"] for r in result.history]) * to_mse
        accuracy = np.array([r["train_accuracy"] for r in result.history])
        curves.append(mse)
        to_threshold.append(first_below(mse, THRESHOLD))
        to_100.append(first_below(-accuracy, -0.999))
    return np.array(curves), to_threshold, to_100


def median_or_censored(values, iterations):
    """Median with runs that never got there counted as ``iterations`` (a lower bound then)."""
    return float(np.median([iterations if v is None else v for v in values]))


def main():
    args = parse_args(__doc__)
    n_seeds, iterations = (4, 8000) if args.quick else (20, 20000)
    ds = datasets.load("xor")
    seeds = range(args.seed, args.seed + n_seeds)
    start = time.perf_counter()
    results = {}
    for name, (net, optimizer, to_mse) in cells().items():
        results[name] = run_cell(net, optimizer, to_mse, ds.x_train, ds.t_train, seeds, iterations)
    seconds = time.perf_counter() - start

    metrics = {}
    for name, (_, to_threshold, to_100) in results.items():
        metrics[f"median_iterations_to_mse_{THRESHOLD}: {name}"] = median_or_censored(
            to_threshold, iterations
        )
        metrics[f"median_iterations_to_100%: {name}"] = median_or_censored(to_100, iterations)
        metrics[f"runs_never_below_threshold: {name}"] = sum(v is None for v in to_threshold)
    adam = metrics[f"median_iterations_to_mse_{THRESHOLD}: 2-16-1 Adam"]
    plain = metrics[f"median_iterations_to_mse_{THRESHOLD}: 2-3-1 plain GD"]
    speedup = plain / adam
    metrics = {"speedup_2-16-1_adam_vs_2-3-1_gd": speedup} | metrics
    metrics |= {"n_seeds": n_seeds, "max_iterations": iterations, "seconds": seconds}
    plot(args, results, iterations)
    save(
        args, "xor_adam",
        claim="seed 003: 16 sigmoid hidden units with Adam bring XOR's error down much faster "
        "than the 2-3-1 net with plain gradient descent",
        criterion=f"median iterations to mean squared error < {THRESHOLD}: 2-16-1 Adam needs at "
        "most half of what 2-3-1 plain GD needs",
        reproduced=speedup >= 2, metrics=metrics,
    )  # fmt: skip


def plot(args, results, iterations):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for i, (name, (curves, to_threshold, _)) in enumerate(results.items()):
        axes[0].plot(np.median(curves, 0), color=f"C{i}", label=name)
        axes[0].fill_between(
            np.arange(curves.shape[1]), curves.min(0), curves.max(0), color=f"C{i}", alpha=0.15
        )
        hits = [iterations if v is None else v for v in to_threshold]
        axes[1].scatter(np.full(len(hits), i) + np.linspace(-0.15, 0.15, len(hits)), hits, s=12)
        axes[1].hlines(np.median(hits), i - 0.3, i + 0.3, color="k")
    axes[0].axhline(THRESHOLD, color="grey", ls=":", lw=0.8)
    axes[0].set(
        xlabel="iteration (full batch)", ylabel="mean((y - t)^2)", yscale="log",
        title="XOR: median and range over seeds",
    )  # fmt: skip
    axes[0].legend(fontsize=8, loc="lower left")
    axes[1].set_xticks(range(len(results)), list(results), fontsize=8)
    axes[1].set(ylabel=f"iterations to mean((y-t)^2) < {THRESHOLD}", title="one dot per seed")
    fig.tight_layout()
    figure(args, "xor_adam", fig)


if __name__ == "__main__":
    main()
