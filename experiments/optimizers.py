"""Modern SGD variants against plain SGD: on a network and on 2-D loss surfaces.

Claim (seed 004, "Modern SGD variants", with the optimizer animations it cites): momentum,
Nesterov and the adaptive methods (Adam, RMSProp, Adagrad) descend faster than plain SGD.

Setup. (a) A 2-32-32-1 tanh MLP on ``datasets.load("spirals")`` (sigmoid + bce, hand backprop,
mini-batches of 32), trained from several seeds (initial weights and shuffling; seed s is the
same for every optimizer): every (seed, learning rate) of an optimizer is one member of one
``fit_population``, and the comparison with SGD is a rate over seeds with a 95 % Wilson
interval. (b) Two 2-D
surfaces: Rosenbrock's valley (1 - x)^2 + 100 (y - x^2)^2 from (-1.2, 1), and the ill-conditioned
quadratic (x^2 + 100 y^2) / 2 from (-2, 1) (condition number 100, axis-aligned: the per-coordinate
step sizes of Adam, RMSProp and Adagrad can undo it, which they could not for a rotated one). The
optimizers are ``Optimizer(name, lr).build(steps)`` driven directly. Every optimizer gets its best
learning rate from the same log grid: the lowest final loss, the mean over the last tenth of the
run (a run that diverges counts as infinite; on the network, the median over seeds).

Criterion: on each of the three problems, each of momentum, Nesterov, Adam, RMSProp and Adagrad,
at its best grid learning rate, ends at a lower loss than plain SGD at its best grid learning rate
(on the network: the median over seeds).
"""

import math

import common
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit_population

NAME = "optimizers"
NAMES = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")
VARIANTS = NAMES[1:]
CLAIM = (
    "seed 004: the modern SGD variants (momentum, Nesterov, Adam, RMSProp, Adagrad) descend "
    "faster than plain SGD, on a network and on 2-D loss surfaces"
)
CRITERION = (
    "with each optimizer's best learning rate from one log grid, every variant ends at a lower "
    "loss than plain SGD on each of: spirals MLP, Rosenbrock, ill-conditioned quadratic"
)
NET = MLP((2, 32, 32, 1), "tanh", "sigmoid", "bce")


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def quadratic(p):
    return 0.5 * (p[0] ** 2 + 100 * p[1] ** 2)


SURFACES = {
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0)),
    "quadratic": (quadratic, (-2.0, 1.0), (0.0, 0.0)),
}


def descend(name, lrs, value_and_grad, p0, batches, keep_path=False):
    """Run optimizer ``name`` from ``p0`` once per learning rate in ``lrs``, in one compiled call.

    All six optimizers apply eta last (optax's final ``scale``): given the gradients their update
    is eta times that of ``lr=1``, so ``Optimizer(name, lr=1)`` scaled by each eta is
    ``Optimizer(name, lr=eta)``, and the grid is one vmap. ``value_and_grad(p, batch) -> (loss,
    grads)``; ``batches`` is scanned, one step each. Returns losses ``(len(lrs), steps)`` (the
    loss at the point each step starts from) and, with ``keep_path``, the points visited.
    """
    steps = jax.tree.leaves(batches)[0].shape[0]
    tx = Optimizer(name, lr=1.0).build(steps)

    def run(lr):
        def step(carry, batch):
            p, state = carry
            loss, grads = value_and_grad(p, batch)
            updates, state = tx.update(grads, state, p)
            p = jax.tree.map(lambda w, u: w + lr * u, p, updates)
            return (p, state), (loss, p if keep_path else None)

        _, (losses, path) = lax.scan(step, (p0, tx.init(p0)), batches)
        return losses, path

    return jax.jit(jax.vmap(run))(jnp.asarray(lrs, jnp.float32))


def surface_runs(name, lrs, f, x0, steps):
    """``(f along the path (len(lrs), steps + 1), path (len(lrs), steps + 1, 2))``."""
    p0 = jnp.asarray(x0, jnp.float32)
    vg = jax.value_and_grad(lambda p, _: f(p))
    _, path = descend(name, lrs, vg, p0, jnp.zeros(steps), keep_path=True)
    path = jnp.concatenate([jnp.broadcast_to(p0, (len(lrs), 1, 2)), path], axis=1)
    return np.asarray(jax.vmap(jax.vmap(f))(path)), np.asarray(path)


def network_runs(name, lrs, ds, epochs, batch_size, seeds):
    """Epoch-mean training losses ``(len(seeds), len(lrs), epochs)`` of ``NET`` trained with
    ``name``: every (seed, lr) one member of one population; a diverged run's losses are inf
    from its diverging epoch on."""
    members = [(s, lr) for s in seeds for lr in lrs]
    pop = fit_population(
        NET, ds.x_train, ds.t_train, Optimizer(name), TrainConfig(epochs, batch_size),
        seeds=[s for s, _ in members], hyper={"lr": [lr for _, lr in members]},
    )  # fmt: skip
    losses = pop.history["train_loss"].copy()
    for k, record in enumerate(pop.members):
        if record["diverged_epoch"] is not None:
            losses[k, record["diverged_epoch"] - 1 :] = np.inf
    return losses.reshape(len(seeds), len(lrs), epochs)


def final(losses) -> float:
    """The mean loss over the last tenth of the run (one noisy last step does not decide), or
    infinity for a run that diverged or produced NaN on the way."""
    losses = np.asarray(losses, np.float64)
    if not np.all(np.isfinite(losses)):
        return math.inf
    return float(losses[-max(1, len(losses) // 10) :].mean())


def grid_check(names, steps=20, lr=1e-3):
    """max |path(Optimizer(name, lr)) - path(Optimizer(name, 1) scaled by lr)| on Rosenbrock:
    the grid shortcut of ``descend`` checked against the optimizer as built."""
    f, x0, _ = SURFACES["rosenbrock"]
    worst = 0.0
    for name in names:
        tx = Optimizer(name, lr=lr).build(steps)

        def step(carry, _, tx=tx):
            p, state = carry
            updates, state = tx.update(jax.grad(f)(p), state, p)
            return (p + updates, state), p + updates

        p0 = jnp.asarray(x0, jnp.float32)
        _, direct = jax.jit(
            lambda p0, tx=tx, step=step: lax.scan(step, (p0, tx.init(p0)), None, length=steps)
        )(p0)
        _, path = surface_runs(name, [lr], f, x0, steps)
        worst = max(worst, float(np.max(np.abs(path[0, 1:] - np.asarray(direct)))))
    return worst


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    quick = args.quick
    grid = [float(10.0**k) for k in np.arange(-4, 0.01, 1 if quick else 0.25)]
    steps = 200 if quick else 500
    epochs = 30 if quick else 150
    ds = datasets.load("spirals", seed=args.seed, n=500 if quick else None)
    seeds = list(range(args.seed, args.seed + (3 if quick else 10)))

    curves, paths, per_seed = {}, {}, {}
    for name in NAMES:
        runs = network_runs(name, grid, ds, epochs, 32, seeds)
        per_seed[name] = np.array([[final(c) for c in by_lr] for by_lr in runs])  # (seeds, lrs)
        curves.setdefault("spirals_mlp", {})[name] = np.median(runs, axis=0)
        for s, (f, x0, _) in SURFACES.items():
            curves.setdefault(s, {})[name], paths.setdefault(s, {})[name] = surface_runs(
                name, grid, f, x0, steps
            )
    finals = {p: {n: [final(c) for c in cs] for n, cs in by.items()} for p, by in curves.items()}
    finals["spirals_mlp"] = {n: np.median(v, axis=0).tolist() for n, v in per_seed.items()}
    best = {p: {n: int(np.argmin(v)) for n, v in by.items()} for p, by in finals.items()}
    best_final = {p: {n: finals[p][n][i] for n, i in by.items()} for p, by in best.items()}
    wins = {p: {n: by[n] < by["sgd"] for n in VARIANTS} for p, by in best_final.items()}
    reproduced = all(all(w.values()) for w in wins.values())
    # Per seed, on the network: does the variant at its best lr end below SGD at its best lr?
    at_best = {n: v[:, best["spirals_mlp"][n]] for n, v in per_seed.items()}
    seed_wins = {n: int(np.sum(at_best[n] < at_best["sgd"])) for n in VARIANTS}
    win_rate = {
        n: {"rate": w / len(seeds), "wilson_95": common.wilson(w, len(seeds))}
        for n, w in seed_wins.items()
    }

    plot_network(args, curves["spirals_mlp"], best["spirals_mlp"], grid)
    plot_surfaces(args, curves, paths, best, grid, steps)
    distance = {
        s: {
            n: float(np.linalg.norm(paths[s][n][i, -1] - np.asarray(SURFACES[s][2])))
            for n, i in best[s].items()
        }
        for s in SURFACES
    }
    metrics = {
        "variants_beating_sgd": int(sum(sum(w.values()) for w in wins.values())),
        "comparisons": len(VARIANTS) * len(wins),
        "not_beating_sgd": [
            f"{n} on {p}" for p, w in wins.items() for n, won in w.items() if not won
        ],
        "beats_sgd": wins,
        "spirals_seeds": len(seeds),
        "spirals_rate_beating_sgd_over_seeds": win_rate,
        "spirals_sgd_wins_for_some_seeds": [n for n, w in seed_wins.items() if w < len(seeds)],
        "final_loss_at_best_lr": _finite(best_final),
        "best_lr": {p: {n: grid[i] for n, i in by.items()} for p, by in best.items()},
        "final_loss_per_lr": _finite(finals),
        "lr_grid": grid,
        "surface_distance_to_minimum": distance,
        "grid_shortcut_max_abs_diff": grid_check(("adam",) if quick else NAMES),
        "setup": {
            "network": "2-32-32-1 tanh, sigmoid + bce, hand backprop, batch 32, per-seed init",
            "epochs": epochs,
            "n_train": int(len(ds.x_train)),
            "surface_steps": steps,
            "momentum": 0.9,
            "other_hyperparameters": "optax defaults (adam b1 0.9 b2 0.999; rmsprop decay 0.9)",
            "diverged": "a run with a non-finite loss counts as infinite (null here)",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def _finite(tree):
    """Infinities (diverged runs) as None, so the JSON stays standard."""
    return jax.tree.map(lambda v: v if math.isfinite(v) else None, tree)


def plot_network(args, curves, best, grid):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, losses in curves.items():
        i = best[name]
        ax.plot(np.arange(1, losses.shape[1] + 1), losses[i], label=f"{name} (lr {grid[i]:.3g})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training bce (epoch mean)")
    ax.set_title("2-32-32-1 tanh MLP on spirals, best grid lr each")
    ax.legend()
    common.figure(args, NAME, fig)


def plot_surfaces(args, curves, paths, best, grid, steps):
    plt = common.pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    views = {"rosenbrock": ((-2, 2), (-1, 3)), "quadratic": ((-2.5, 2.5), (-1.5, 1.5))}
    for row, (s, (f, x0, minimum)) in zip(axes, SURFACES.items()):
        (x_lo, x_hi), (y_lo, y_hi) = views[s]
        u, v = np.meshgrid(np.linspace(x_lo, x_hi, 300), np.linspace(y_lo, y_hi, 300))
        z = np.asarray(f(np.stack([u, v])))
        row[0].contour(u, v, z, levels=np.logspace(-2, 3.5, 20), cmap="Greys", linewidths=0.7)
        for name in NAMES:
            i = best[s][name]
            path, fs = paths[s][name][i], curves[s][name][i]
            row[0].plot(path[:, 0], path[:, 1], lw=1.3, label=f"{name} (lr {grid[i]:.3g})")
            row[1].plot(np.arange(len(fs)), np.maximum(fs, 1e-30), label=name)
        row[0].plot(*x0, "ko")
        row[0].plot(*minimum, "r*", ms=12)
        row[0].set_xlim(x_lo, x_hi)
        row[0].set_ylim(y_lo, y_hi)
        row[0].set_title(f"{s}: trajectories, {steps} steps, best grid lr each")
        row[0].legend(fontsize=8)
        row[1].set_yscale("log")
        row[1].set_xlabel("step")
        row[1].set_ylabel("f")
        row[1].set_title(f"{s}: loss against step")
        row[1].legend(fontsize=8)
    common.figure(args, f"{NAME}_surfaces", fig)


if __name__ == "__main__":
    main()
