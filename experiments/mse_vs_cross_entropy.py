"""A saturated sigmoid output learns slowly with squared error, not with cross-entropy (seed 001).

Claim (seed 001): with a sigmoid output y = g(a), the squared-error gradient
dE/dw = sum_n (y_n - t_n) g'(a_n) x_n carries the factor g'(a) = g(a)(1 - g(a)), and
"g'(a) ~ 0 for such a that g(a) ~ 0 or 1", so learning stalls where the output saturates;
the cross-entropy gradient (1/N) sum_n (y_n - t_n) x_n has no such factor.

Setting: seed 001's single-layer network ``(2, 1)`` with a sigmoid output on the ``gaussians``
data set (1000 examples, standardised), started *saturated and wrong*: the weights point
against the class means' direction, scaled so that the median |a| over the data is A, with
A from 0 (not saturated) to 10. From each start, plain full-batch gradient descent (eta = 0.5,
mean over examples) on the squared error (``"sse"``, 1/2 (y - t)^2) and on cross-entropy
(``"bce"``), same data, same start. We measure the gradient norm at the start (from
``net.backprop``) and the iterations until the training accuracy first reaches 80 %.

Criterion: at the saturated start A = 6, the cross-entropy gradient is at least 10 times larger
than the squared-error gradient, and cross-entropy reaches 80 % accuracy in at most a tenth of
the iterations squared error needs (a run that never gets there counts as the budget).
"""

import time

import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

LOSSES = {"squared error": "sse", "cross-entropy": "bce"}
ETA, TARGET_ACCURACY, JUDGED_AT = 0.5, 0.8, 6.0


def saturated_start(ds, level):
    """Params whose output is wrong for the class means, with median |a| = ``level``."""
    m1 = ds.x_train[ds.t_train[:, 0] == 1].mean(0)
    m2 = ds.x_train[ds.t_train[:, 0] == 0].mean(0)
    u = (m1 - m2) / np.linalg.norm(m1 - m2)
    a = ds.x_train @ u
    scale = level / np.median(np.abs(a - a.mean())) if level else 0.0
    w = -scale * u[:, None]
    b = np.array([scale * a.mean()])
    return [{"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}]


def run(loss, params, ds, iterations):
    net = MLP((2, 1), output="sigmoid", loss=loss)
    grad = net.backprop(params, ds.x_train, ds.t_train)
    grad_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grad[0].values())))
    result = fit(
        net, ds.x_train, ds.t_train, Optimizer("sgd", lr=ETA),
        TrainConfig(iterations, batch_size="full"), params=params,
    )  # fmt: skip
    accuracy = np.array([r["train_accuracy"] for r in result.history])
    hit = np.flatnonzero(accuracy >= TARGET_ACCURACY)
    return {
        "grad_norm": grad_norm,
        "iterations_to_80%": int(hit[0]) if hit.size else None,
        "accuracy": accuracy,
        "loss": np.array([r["train_loss"] for r in result.history]),
    }


def main():
    args = parse_args(__doc__)
    levels, iterations = ((0.0, 6.0), 3000) if args.quick else ((0, 1, 2, 4, 6, 8, 10), 20000)
    ds = datasets.load("gaussians", seed=args.seed)
    start = time.perf_counter()
    runs = {
        (name, level): run(loss, saturated_start(ds, level), ds, iterations)
        for level in levels
        for name, loss in LOSSES.items()
    }
    seconds = time.perf_counter() - start

    def steps(name, level):
        v = runs[name, level]["iterations_to_80%"]
        return iterations if v is None else v

    se, ce = runs["squared error", JUDGED_AT], runs["cross-entropy", JUDGED_AT]
    grad_ratio = ce["grad_norm"] / se["grad_norm"]
    step_ratio = steps("cross-entropy", JUDGED_AT) / steps("squared error", JUDGED_AT)
    metrics = {
        f"grad_norm_ratio_ce_over_se_at_A={JUDGED_AT:g}": grad_ratio,
        f"iterations_ratio_ce_over_se_at_A={JUDGED_AT:g}": step_ratio,
        "grad_norm_at_start": {f"{n}, A={lv:g}": r["grad_norm"] for (n, lv), r in runs.items()},
        "iterations_to_80%_accuracy (None: never)": {
            f"{n}, A={lv:g}": r["iterations_to_80%"] for (n, lv), r in runs.items()
        },
        "budget": iterations,
        "eta": ETA,
        "seconds": seconds,
    }
    plot(args, runs, levels, iterations)
    save(
        args, "mse_vs_cross_entropy",
        claim="seed 001: with a sigmoid output, squared error learns slowly where the output "
        "saturates (g'(a) ~ 0), cross-entropy does not",
        criterion=f"from a saturated wrong start (median |a| = {JUDGED_AT:g}) the cross-entropy "
        "gradient is >= 10x the squared-error one and reaches 80 % accuracy in <= 1/10 the "
        "iterations",
        reproduced=grad_ratio >= 10 and step_ratio <= 0.1, metrics=metrics,
    )  # fmt: skip


def plot(args, runs, levels, iterations):
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    a = np.linspace(-10, 10, 401)
    g = 1 / (1 + np.exp(-a))
    axes[0, 0].plot(a, g, label="g(a)")
    axes[0, 0].plot(a, g * (1 - g), label="g'(a) = g(1 - g)")
    axes[0, 0].set(xlabel="a", title="the sigmoid and its derivative")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    styles = {"squared error": "--", "cross-entropy": "-"}
    for i, level in enumerate(levels):
        for name, style in styles.items():
            axes[0, 1].plot(runs[name, level]["accuracy"], style, color=f"C{i}",
                            label=f"{name}, A={level:g}")  # fmt: skip
    axes[0, 1].set(
        xlabel="iteration", ylabel="training accuracy", xscale="symlog",
        title="from a wrong start of saturation A (median |a|)",
    )  # fmt: skip
    axes[0, 1].legend(fontsize=6, ncol=2, loc="center right")
    for name, marker in (("squared error", "s--"), ("cross-entropy", "o-")):
        steps = [runs[name, lv]["iterations_to_80%"] for lv in levels]
        shown = [iterations if s is None else s for s in steps]
        axes[1, 0].semilogy(levels, shown, marker, label=name)
        grads = [runs[name, lv]["grad_norm"] for lv in levels]
        axes[1, 1].semilogy(levels, grads, marker, label=name)
    axes[1, 0].axhline(iterations, color="grey", ls=":", lw=0.8)
    axes[1, 0].set(xlabel="saturation A at the start", ylabel="iterations",
                   title=f"iterations to 80 % accuracy (budget {iterations}, dotted)")  # fmt: skip
    axes[1, 1].set(xlabel="saturation A at the start", ylabel="|dE/dw|",
                   title="gradient norm at the start")  # fmt: skip
    for ax in axes[1]:
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    figure(args, "mse_vs_cross_entropy", fig)


if __name__ == "__main__":
    main()
