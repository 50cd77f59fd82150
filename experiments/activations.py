"""Activation functions: the gallery, tanh against sigmoid, dying ReLU against Leaky ReLU.

Claims (seeds 001, 002, 004):
  1. the table of activations and their derivatives (seed 004, seed 002);
  2. tanh is "0 (zero) centred -> faster convergence than sigmoid" (seed 001);
  3. "'Dying ReLU' problem - a unit outputting 0 always -> use Leaky ReLU instead" (seed 001).

Settings.
  1. Every registered activation (``activations.names()``): its forward rule and hand-derived
     derivative on [-4, 4], and the largest difference between that derivative and ``jax.grad``
     of the forward rule, in float64.
  2. Digits (64 inputs, 10 classes), ``(64, 32, 10)`` with a softmax output and cross-entropy,
     tanh or sigmoid hidden units, both from the same Glorot-uniform weights, mini-batch SGD
     (eta = 0.1, batches of 32), several seeds. Sigmoid differs from tanh in two ways: its
     output is not centred on 0, and its slope is at most 1/4 instead of 1; the experiment
     measures their joint effect.
  3. Digits, ``(64, 64, 64, 10)``, ReLU or Leaky ReLU (slope 0.01), SGD with gradients clipped
     to norm 1 (so a large rate moves the weights far but never diverges), rates 0.5 to 4, 10
     epochs, several seeds. A hidden unit is *dead* when its pre-activation z <= 0 on every
     training example: a ReLU unit then outputs 0 for all of them and gets exactly zero
     gradient, so it cannot come back; a Leaky ReLU unit still outputs 0.01 z and gets a
     gradient 0.01 times as large.

Criterion: (1) every hand derivative matches jax.grad within 1e-12 in float64; (2) tanh reaches
a training loss of 0.2 in at most half the epochs sigmoid needs (median over seeds, a run that
never gets there counting as never); (3) at the largest rate the ReLU nets have on average
>= 10 % dead units, none at the smallest rate, and the Leaky ReLU nets at the largest rate have
a higher mean test accuracy than the ReLU nets.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, activations, datasets, evaluate, fit

LOSS_TARGET = 0.2


# -- 1. the gallery ----------------------------------------------------------------------------


def gallery():
    """name -> (z, h(z), h'(z), max |h'(z) - jax.grad(h)(z)|), all in float64."""
    out = {}
    with jax.enable_x64(True):
        z = jnp.linspace(-4.0, 4.0, 801, dtype=jnp.float64)
        for name in activations.names():
            act = activations.get(name)
            autodiff = jax.vmap(jax.grad(lambda v, act=act: act.fn(v)))(z)
            gap = float(jnp.max(jnp.abs(act.grad(z) - autodiff)))
            out[name] = (np.asarray(z), np.asarray(act.fn(z)), np.asarray(act.grad(z)), gap)
    return out


# -- 2. tanh against sigmoid ---------------------------------------------------------------------


def first_epoch_below(losses, level):
    """The first epoch (1-based) whose loss is below ``level``; infinity: never."""
    hit = np.flatnonzero(np.asarray(losses) < level)
    return int(hit[0]) + 1 if hit.size else np.inf


def median_epochs_to(curves, level) -> float:
    """The median over runs of ``first_epoch_below`` (a run that never gets there: infinity)."""
    return float(np.median([first_epoch_below(c, level) for c in curves]))


def faster(tanh, sigmoid) -> bool:
    """Does tanh reach the target (it must) in at most half the epochs sigmoid needs?"""
    return bool(np.isfinite(tanh) and tanh <= sigmoid / 2)


def tanh_vs_sigmoid(ds, seeds, epochs):
    curves = {}
    for name in ("tanh", "sigmoid"):
        net = MLP((64, 32, 10), name, "softmax", "cross_entropy", init="glorot_uniform")
        curves[name] = np.array([
            [r["train_loss"] for r in fit(
                net, ds.x_train, ds.t_train, Optimizer("sgd", lr=0.1),
                TrainConfig(epochs, batch_size=32, seed=seed),
            ).history]
            for seed in seeds
        ])  # fmt: skip
    return curves


# -- 3. dying ReLU ---------------------------------------------------------------------------


def dead_units(net, params, x):
    """Share of hidden units with z <= 0 on every row of ``x``. A hidden layer's pre-activation
    is the output of the truncated network with a linear output."""
    dead = []
    for l in range(len(net.sizes) - 2):
        head = MLP(net.sizes[: l + 2], net.activation, "identity", "sse")
        z = np.asarray(head.apply(params[: l + 1], x))
        dead.append(np.all(z <= 0, axis=0))
    return float(np.concatenate(dead).mean())


def dying(ds, rates, seeds, epochs):
    """(activation, rate) -> list over seeds of (dead share, test accuracy)."""
    out = {}
    for name in ("relu", "leaky_relu"):
        net = MLP((64, 64, 64, 10), name, "softmax", "cross_entropy")
        for rate in rates:
            out[name, rate] = []
            for seed in seeds:
                params = fit(
                    net, ds.x_train, ds.t_train, Optimizer("sgd", lr=rate, clip_norm=1.0),
                    TrainConfig(epochs, batch_size=32, seed=seed),
                ).params  # fmt: skip
                accuracy = evaluate(net, params, ds.x_test, ds.t_test)["accuracy"]
                out[name, rate].append((dead_units(net, params, ds.x_train), accuracy))
    return out


def main():
    args = parse_args(__doc__)
    if args.quick:
        n_seeds, ts_epochs, rates, die_epochs = 1, 3, (4.0,), 2
    else:
        n_seeds, ts_epochs, rates, die_epochs = 5, 30, (0.5, 1.0, 2.0, 4.0), 10
    seeds = range(args.seed, args.seed + n_seeds)
    ds = datasets.load("digits", seed=args.seed)
    start = time.perf_counter()
    shapes = gallery()
    curves = tanh_vs_sigmoid(ds, seeds, ts_epochs)
    deaths = dying(ds, rates, seeds, die_epochs)
    seconds = time.perf_counter() - start

    worst_gap = max(g[3] for g in shapes.values())
    epochs_to = {n: median_epochs_to(c, LOSS_TARGET) for n, c in curves.items()}
    dead = {f"{n}, eta={r:g}": float(np.mean([d for d, _ in v])) for (n, r), v in deaths.items()}
    accuracy = {
        f"{n}, eta={r:g}": float(np.mean([a for _, a in v])) for (n, r), v in deaths.items()
    }
    hi, lo = rates[-1], rates[0]
    ok_gallery = worst_gap <= 1e-12
    ok_tanh = faster(epochs_to["tanh"], epochs_to["sigmoid"])
    ok_dying = (
        dead[f"relu, eta={hi:g}"] >= 0.1
        and dead[f"relu, eta={lo:g}"] == 0
        and accuracy[f"leaky_relu, eta={hi:g}"] > accuracy[f"relu, eta={hi:g}"]
    )
    metrics = {
        f"dead_relu_units_at_eta={hi:g}": dead[f"relu, eta={hi:g}"],
        "max_abs_hand_minus_jax_grad_float64": {n: g[3] for n, g in shapes.items()},
        f"median_epochs_to_train_loss_{LOSS_TARGET}": {  # None: the median run never got there
            n: e if np.isfinite(e) else None for n, e in epochs_to.items()
        },
        "median_train_loss_by_epoch": {n: np.median(c, 0).tolist() for n, c in curves.items()},
        "mean_dead_unit_share": dead,
        "mean_test_accuracy": accuracy,
        "verdicts": {"gallery": ok_gallery, "tanh_faster": ok_tanh, "dying_relu": ok_dying},
        "n_seeds": n_seeds,
        "seconds": seconds,
    }
    plot_gallery(args, shapes)
    plot_training(args, curves, deaths, rates)
    save(
        args, "activations",
        claim="seeds 001/002/004: the activations and their derivatives; tanh (zero-centred) "
        "trains faster than sigmoid; ReLU units die at large rates, Leaky ReLU avoids it",
        criterion="hand derivatives = jax.grad within 1e-12 (float64); tanh reaches train loss "
        f"{LOSS_TARGET} in <= half sigmoid's epochs; at eta {hi:g} >= 10 % of ReLU units dead "
        f"(none at {lo:g}) and Leaky ReLU more accurate than ReLU",
        reproduced=ok_gallery and ok_tanh and ok_dying, metrics=metrics,
    )  # fmt: skip


def plot_gallery(args, shapes):
    plt = pyplot()
    cols = 4
    rows = -(-len(shapes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, (name, (z, a, g, gap)) in zip(axes.flat, shapes.items()):
        ax.plot(z, a, label="h(z)")
        ax.plot(z, g, "--", label="h'(z) by hand")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(f"{name}  (|h' - jax.grad| <= {gap:.0e})", fontsize=8)
        ax.set_ylim(-2.5, 4.2)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(shapes) :]:
        ax.axis("off")
    fig.tight_layout()
    figure(args, "activations_gallery", fig)


def plot_training(args, curves, deaths, rates):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
    for name, curve in curves.items():
        epochs = np.arange(1, curve.shape[1] + 1)
        axes[0].plot(epochs, np.median(curve, 0), label=f"{name} (median)")
        axes[0].fill_between(epochs, curve.min(0), curve.max(0), alpha=0.2)
    axes[0].axhline(LOSS_TARGET, color="grey", ls=":", lw=0.8)
    axes[0].set(xlabel="epoch", ylabel="training cross-entropy", yscale="log",
                title="digits (64, 32, 10): tanh against sigmoid")  # fmt: skip
    axes[0].legend(fontsize=8, loc="upper right")
    panels = (
        (0, "share of units with z <= 0 on all inputs", "dead units (ReLU: output 0, gradient 0)"),
        (1, "test accuracy", "test accuracy"),
    )
    for i, (metric, label, title) in enumerate(panels):
        ax = axes[1 + i]
        for j, name in enumerate(("relu", "leaky_relu")):
            values = [[run[metric] for run in deaths[name, r]] for r in rates]
            for r, v in zip(rates, values):
                ax.scatter(np.full(len(v), r) * (1 + 0.04 * (j - 0.5)), v, s=10, color=f"C{j}")
            ax.plot(rates, [np.mean(v) for v in values], "o-", color=f"C{j}", label=name)
        ax.set(xlabel="learning rate (SGD, clip norm 1)", ylabel=label, xscale="log",
               title=f"(64, 64, 64, 10) after training: {title}")  # fmt: skip
        ax.legend(fontsize=8, loc="upper left" if metric == 0 else "lower left")
    fig.tight_layout()
    figure(args, "activations_training", fig)


if __name__ == "__main__":
    main()
