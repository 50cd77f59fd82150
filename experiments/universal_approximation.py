"""One hidden layer approximates continuous functions: error against width (seeds 000-004).

Claim (seeds 000, 001, 004, after Cybenko 1989 and Hornik 1991): "any continuous function can
be approximated, at any [precision], by means of two-layered neural networks with sigmoidal
activation functions [...] as long as a suitable number of hidden units is defined."

Setting: networks ``(d, width, 1)`` with one tanh hidden layer (tanh(z) = 2 sigma(2z) - 1, so a
tanh net is a sigmoid net with rescaled weights) and a linear output, trained on 1/2 squared
error by full-batch Adam (cosine-decayed rate, He-normal weights), best of several seeds per
width. Targets: sin(pi x), |x| (a kink) and a triangle wave (five kinks) on [-1, 1], from 256
evenly spaced points, and seed 000's two-variable ``surface`` data set
sin(2 pi x1) cos(2 pi x2). The error is the theorem's: the largest |f(x) - net(x)| over a
test set (2001 grid points in 1-D; 1000 fresh random points for the surface); the root mean
square error is reported beside it.

Criterion: for every function, the largest test error of the widest network is at most a tenth
of that of the one-unit network. The log-log slope of error against width is reported too.
"""

import time

import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit


def one_d(f):
    x = np.linspace(-1, 1, 256, dtype=np.float32)[:, None]
    x_test = np.linspace(-1, 1, 2001, dtype=np.float32)[:, None]
    return x, f(x), x_test, f(x_test)


def targets(seed):
    surface = datasets.load("surface", seed=seed)
    return {
        "sin(pi x)": one_d(lambda x: np.sin(np.pi * x)),
        "|x|": one_d(np.abs),
        "triangle wave": one_d(lambda x: np.abs((2 * x + 1) % 2 - 1)),
        "surface (2-D)": (surface.x_train, surface.t_train, surface.x_test, surface.t_test),
    }


def best_fit(width, data, seeds, epochs):
    """Smallest (max error, rms error) over ``seeds`` for one width, with its predictions."""
    x, t, x_test, t_test = data
    net = MLP((x.shape[1], width, 1), "tanh", "identity", "sse", init="he_normal")
    best = None
    for seed in seeds:
        result = fit(
            net, x, t, Optimizer("adam", lr=0.01, schedule="cosine"),
            TrainConfig(epochs, batch_size="full", seed=seed),
        )  # fmt: skip
        y = np.asarray(net.apply(result.params, x_test))
        errors = (float(np.abs(y - t_test).max()), float(np.sqrt(np.mean((y - t_test) ** 2))))
        if best is None or errors < best[0]:
            best = (errors, y)
    return best


def slope(widths, errors):
    """Least-squares slope of log(error) against log(width)."""
    return float(np.polyfit(np.log(widths), np.log(errors), 1)[0])


def main():
    args = parse_args(__doc__)
    if args.quick:
        widths, n_seeds, epochs = (1, 8), 1, 1500
    else:
        widths, n_seeds, epochs = (1, 2, 4, 8, 16, 32, 64, 128, 256), 3, 10000
    seeds = range(args.seed, args.seed + n_seeds)
    start = time.perf_counter()
    fits = {
        name: {w: best_fit(w, data, seeds, epochs) for w in widths}
        for name, data in targets(args.seed).items()
    }
    seconds = time.perf_counter() - start

    max_err = {name: [fits[name][w][0][0] for w in widths] for name in fits}
    rms_err = {name: [fits[name][w][0][1] for w in widths] for name in fits}
    ratio = {name: e[-1] / e[0] for name, e in max_err.items()}
    metrics = {
        "worst_ratio_max_error_widest_over_width_1": max(ratio.values()),
        "ratio_max_error_widest_over_width_1": ratio,
        "loglog_slope_max_error": {n: slope(widths, e) for n, e in max_err.items()},
        "loglog_slope_rms_error": {n: slope(widths, e) for n, e in rms_err.items()},
        "max_error": max_err,
        "rms_error": rms_err,
        "widths": list(widths),
        "n_seeds": n_seeds,
        "epochs": epochs,
        "seconds": seconds,
    }
    plot(args, widths, max_err, rms_err, fits)
    save(
        args, "universal_approximation",
        claim="seeds 000-004: one hidden layer of sigmoidal units approximates continuous "
        "functions, as closely as wanted with enough units",
        criterion="for each of 4 functions, the max test error of the widest net is <= 1/10 "
        "of the 1-unit net's",
        reproduced=max(ratio.values()) <= 0.1, metrics=metrics,
    )  # fmt: skip


def plot(args, widths, max_err, rms_err, fits):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for i, name in enumerate(max_err):
        axes[0].loglog(widths, max_err[name], "o-", color=f"C{i}", label=f"{name}: max")
        axes[0].loglog(widths, rms_err[name], "s--", color=f"C{i}", alpha=0.6, label="rms")
    axes[0].set(xlabel="hidden units", ylabel="test error", title="error against width")
    axes[0].legend(fontsize=7, ncol=2, loc="lower left")
    x = np.linspace(-1, 1, 2001)
    truth = {"|x|": np.abs(x), "triangle wave": np.abs((2 * x + 1) % 2 - 1)}
    for ax, name in zip(axes[1:], truth):
        ax.plot(x, truth[name], "k", lw=2, label="target")
        for w in widths[:: max(1, len(widths) // 4)]:
            ax.plot(x, fits[name][w][1][:, 0], lw=1, label=f"{w} units")
        ax.set(xlabel="x", title=f"{name}: one hidden layer of tanh units")
        ax.legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    figure(args, "universal_approximation", fig)


if __name__ == "__main__":
    main()
