"""Training with curvature against gradient descent, momentum and Adam on the seeds' small problems.

Claim: seed 001 only lists the iterative methods, "Gradient descent, Newton's method, Conjugate
gradient methods"; how they compare is this experiment's question. On small full-batch problems
the methods that use curvature (L-BFGS, Levenberg-Marquardt, Newton-CG, nonlinear conjugate
gradient) reach a target loss in fewer epochs than plain gradient descent, and Levenberg-Marquardt
and L-BFGS in fewer epochs and less wall time than Adam. Not every one beats every first-order
method: in the recorded run nonlinear CG needs more epochs than Adam and momentum on XOR and
rings (``ratios_to_adam`` in the JSON).

Setup: three problems, full batch, float32, each optimizer from the same initial weights (seeds 0,
1, 2; --quick: seed 0):
  * XOR (seed 000): 2-3-1, tanh hidden, sigmoid output, sse summed; target E <= 1e-3;
  * sin(pi x) on 256 points in [-1, 1] (universal approximation's first target): 1-10-1 tanh,
    identity output, mse; target 1e-4;
  * rings (seed 004, ``datasets.load("rings")``, 1000 points): 2-8-1 tanh, sigmoid output, mse;
    target 0.02 (not in --quick).
Gradient descent, momentum and Adam take their best learning rate (fewest epochs to the target,
then lowest final loss) from one log grid; lbfgs, cg, newton-cg and lm their defaults. At most
2000 epochs (--quick: 500, learning rates 0.03 and 0.3). Epochs to the target are counted from
``fit``'s history. Wall time is that of ``fit`` for exactly that many epochs, measured two ways:
its first call (compiling the epochs' program included) and, compiled, the median over 7 rounds
(--quick: 3) that each time every optimizer once, in an order rotating from round to round, so
that the shared machine's drifting load touches all alike; "x adam" is the median over rounds of
the same-round ratio. Both include ``fit``'s fixed cost per call (a few ms: preparing the data,
the optimizer's initial state, the history), which is most of a run that takes only a few dozen
epochs. One epoch is one gradient for the first-order methods; for newton-cg and lm one gradient,
at most 50 curvature products (truncated CG) and two costs; for lbfgs and cg one gradient and the
line search's evaluations (counted by optax, not here).

Criterion: on the two regression problems (XOR with sse, sin(pi x)), lm and lbfgs reach the target
in fewer epochs and less compiled wall time than Adam at its best learning rate (median over the
seeds); the wall time with compilation is reported beside it, not judged.
"""

import os
import time

import common
import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

NAME = "curvature_training"
CLAIM = (
    "seed 001: Newton-type and conjugate-gradient methods beat gradient descent; L-BFGS and "
    "Levenberg-Marquardt reach a target loss in fewer epochs and less wall time than Adam"
)
CRITERION = (
    "median over seeds, on XOR (sse) and sin(pi x) (mse): lm and lbfgs need fewer epochs and less "
    "compiled wall time (fit to the target, median of interleaved rounds) than Adam at its best "
    "grid learning rate"
)
FIRST_ORDER = ("sgd", "momentum", "adam")
SECOND_ORDER = ("cg", "lbfgs", "newton-cg", "lm")


def problems():
    x = np.linspace(-1, 1, 256, dtype=np.float32)[:, None]
    rings = datasets.load("rings")
    return {
        "xor": (
            MLP((2, 3, 1), "tanh", "sigmoid", "sse", reduction="sum"),
            np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32),
            np.array([[0], [1], [1], [0]], np.float32),
            1e-3,
        ),
        "sin(pi x)": (MLP((1, 10, 1), "tanh", "identity", "mse"), x, np.sin(np.pi * x), 1e-4),
        "rings": (
            MLP((2, 8, 1), "tanh", "sigmoid", "mse"),
            np.asarray(rings.x_train, np.float32),
            np.asarray(rings.t_train, np.float32),
            0.02,
        ),
    }


def run(net, x, t, optimizer, epochs, seed):
    """Training losses, one per epoch (inf after a divergence)."""
    config = TrainConfig(epochs=epochs, batch_size="full", seed=seed)
    try:
        return [h["train_loss"] for h in fit(net, x, t, optimizer, config).history]
    except ArithmeticError as error:  # Diverged: the finished epochs, then inf
        return [h["train_loss"] for h in error.history] + [np.inf]


def epochs_to(losses, target) -> float:
    return next((e + 1 for e, loss in enumerate(losses) if loss <= target), np.inf)


def walls_to(runs: dict, x, t, seed, rounds, fresh=True) -> dict:
    """``{name: (first_s, steady_s array (rounds,))}`` for ``runs = {name: (net, optimizer,
    epochs)}``: the wall seconds of ``fit`` for exactly ``epochs`` epochs at its first call
    (compiling included), then compiled, in rounds that time every run once, in an order that
    rotates from round to round. A run that never reached the target: inf. ``fresh``: clear
    jax's caches before each first call (another seed may have compiled that many epochs)."""
    config = {name: TrainConfig(epochs=int(e), batch_size="full", seed=seed)
              for name, (_, _, e) in runs.items() if np.isfinite(e)}  # fmt: skip

    def wall(name):
        net, opt, _ = runs[name]
        start = time.perf_counter()
        fit(net, x, t, opt, config[name])
        return time.perf_counter() - start

    first = {}
    for name in config:
        if fresh:
            jax.clear_caches()
        first[name] = wall(name)
    names = list(config)
    for name in names:  # compiled again after the last clear_caches
        wall(name)
    steady = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            steady[name].append(wall(name))
    return {
        name: (first[name], np.asarray(steady[name])) if name in config else (np.inf, None)
        for name in runs
    }


def best_first_order(name, lrs, net, x, t, target, epochs, seed):
    """``(optimizer, losses)`` at the grid's best learning rate: fewest epochs to the target,
    then the lowest final loss."""
    runs = [
        (Optimizer(name, lr=lr), run(net, x, t, Optimizer(name, lr=lr), epochs, seed)) for lr in lrs
    ]
    return min(runs, key=lambda r: (epochs_to(r[1], target), np.nan_to_num(r[1][-1], nan=np.inf)))


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    seeds = [0] if args.quick else [0, 1, 2]
    epochs = 500 if args.quick else 2000
    lrs = [0.03, 0.3] if args.quick else [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
    rounds = 3 if args.quick else 7
    load_start = os.getloadavg()[0]
    results, curves = {}, {}
    probs = problems()
    if args.quick:  # the two problems the verdict is on
        probs = {name: probs[name] for name in ("xor", "sin(pi x)")}
    for problem, (net, x, t, target) in probs.items():
        per_seed = {name: [] for name in FIRST_ORDER + SECOND_ORDER}
        for seed in seeds:
            runs = {}
            for name in FIRST_ORDER + SECOND_ORDER:
                if name in FIRST_ORDER:
                    opt, losses = best_first_order(name, lrs, net, x, t, target, epochs, seed)
                else:
                    opt = Optimizer(name)
                    losses = run(net, x, t, opt, epochs, seed)
                runs[name] = (net, opt, epochs_to(losses, target))
                per_seed[name].append({"seed": seed, "epochs": runs[name][2], "lr": opt.lr,
                                       "final_loss": losses[-1]})  # fmt: skip
                if seed == seeds[0]:
                    curves[problem, name] = losses
            walls = walls_to(runs, x, t, seed, rounds, fresh=len(seeds) > 1)
            for name, (first, steady) in walls.items():
                row = per_seed[name][-1]
                row["first_call_wall_s"] = first
                row["wall_s"] = float(np.median(steady)) if steady is not None else np.inf
                adam = walls["adam"][1]
                row["wall_x_adam"] = (
                    float(np.median(steady / adam))
                    if steady is not None and adam is not None
                    else np.inf
                )
        results[problem] = {}
        for name, rows in per_seed.items():
            results[problem][name] = {
                key: float(np.median([r[field] for r in rows]))
                for key, field in (("median_epochs", "epochs"), ("median_wall_s", "wall_s"),
                                   ("median_first_call_wall_s", "first_call_wall_s"),
                                   ("median_wall_x_adam", "wall_x_adam"))
            } | {"runs": rows}  # fmt: skip
            row = results[problem][name]
            print(f"{problem} {name}: {row['median_epochs']} epochs, {row['median_wall_s']:.4f} s"
                  f" compiled ({row['median_wall_x_adam']:.2f} x adam), "
                  f"{row['median_first_call_wall_s']:.2f} s first call", flush=True)  # fmt: skip
    adam = {problem: results[problem]["adam"] for problem in results}
    verdicts = {
        f"{problem}: {name} beats adam": bool(
            results[problem][name]["median_epochs"] < adam[problem]["median_epochs"]
            and results[problem][name]["median_wall_x_adam"] < 1.0
        )
        for problem in ("xor", "sin(pi x)")
        for name in ("lm", "lbfgs")
    }
    reproduced = all(verdicts.values())
    ratios = {  # how far each solver is from Adam: < 1 is better (None: one never got there)
        f"{problem}: {name} / adam": {
            "median_epochs": _ratio(
                results[problem][name]["median_epochs"], adam[problem]["median_epochs"]
            ),
            "compiled_wall": _finite(results[problem][name]["median_wall_x_adam"]),
            "first_call_wall": _ratio(
                results[problem][name]["median_first_call_wall_s"],
                adam[problem]["median_first_call_wall_s"],
            ),
        }  # fmt: skip
        for problem in results
        for name in ("lm", "lbfgs", "newton-cg", "cg")
    }
    plot(args, curves, probs)
    metrics = {
        "lm_and_lbfgs_beat_adam": verdicts,
        "ratios_to_adam": ratios,
        "results": _finite(results),
        "setup": {"seeds": seeds, "max_epochs": epochs, "first_order_lr_grid": lrs,
                  "rounds": rounds,
                  "machine_load": "shared 2-core CPU with other jobs running; 1-minute load "
                  f"average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"},
    }  # fmt: skip
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def _ratio(a, b):
    return float(a / b) if np.isfinite(a) and np.isfinite(b) else None


def _finite(tree):
    """inf (never reached the target) as None in the JSON."""
    return jax.tree.map(
        lambda v: None if isinstance(v, float) and not np.isfinite(v) else v,
        tree,
        is_leaf=lambda v: v is None,
    )


def plot(args, curves, probs):
    plt = common.pyplot()
    fig, axes = plt.subplots(1, len(probs), figsize=(5 * len(probs), 4))
    for ax, (problem, (*_, target)) in zip(axes, probs.items()):
        for name in FIRST_ORDER + SECOND_ORDER:
            losses = np.asarray(curves[problem, name], float)
            ax.semilogy(np.arange(1, len(losses) + 1), np.maximum(losses, 1e-12), label=name)
        ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_title(f"{problem} (target {target:g})")
        ax.set_xlabel("epoch (full batch)")
    axes[0].set_ylabel("training loss")
    axes[0].legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    jnp.zeros(())  # jax initialised before timing
    main()
