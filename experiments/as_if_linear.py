"""Rumelhart's trick: derivatives computed "as if linear" still train sigmoid units, slowly.

Claim (seed 003, Rumelhart quoted): "we'd pretend they were linear, and we would compute
derivatives as if they were linear, and then we could train them." Hinton's objections and the
later success of true backprop suggest the surrogate works, but worse than the true derivative.

Setup: a user activation registered with ``jaxmlp.activations.register``: the logistic sigmoid
forward, but its derivative replaced by the constant slope of its linear approximation at 0,
sigma(z) ~ 1/2 + z/4, i.e. h'(z) = 1/4 everywhere; the library's hand backprop then uses it
(``jax.grad`` would not: the run checks that the two gradients differ). Networks ``(2, 8, 1)``,
sigmoid output, binary cross-entropy, on two moons (200 points), full-batch gradient descent
(eta = 0.5) for 6,000 epochs (--quick: 1,500), 10 seeds (--quick: 3), each seed starting both
variants from the same weights. Steps to target: the first epoch whose training loss is below
0.1; a seed that never gets there counts as infinitely slow.

Criterion: the surrogate trains: its final training loss is below half its initial loss and its
test accuracy above 0.85 for at least 80 % of seeds; and slowly: its median number of epochs to
the 0.1 target (an unreached target counts as never) is larger than the true derivative's.
"""

import jax
import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, activations, datasets, fit

TARGET = 0.1
ETA = 0.5


def _sigmoid(z):
    return jax.nn.sigmoid(z)


activations.register("sigmoid_as_if_linear", _sigmoid, lambda z: jnp.full_like(z, 0.25))


def main():
    args = parse_args(__doc__)
    epochs, n_seeds = (1500, 3) if args.quick else (6000, 10)
    ds = datasets.load("moons", seed=args.seed)
    nets = {
        "true derivative (sigmoid)": MLP((2, 8, 1), "sigmoid", "sigmoid", "bce"),
        "as if linear (h' = 1/4)": MLP((2, 8, 1), "sigmoid_as_if_linear", "sigmoid", "bce"),
    }
    true_net, surrogate_net = nets.values()
    params0 = true_net.init(jax.random.key(args.seed))
    hand = surrogate_net.backprop(params0, ds.x_train, ds.t_train)
    autodiff = jax.grad(surrogate_net.cost)(params0, ds.x_train, ds.t_train)
    pairs = zip(jax.tree.leaves(hand), jax.tree.leaves(autodiff))
    surrogate_vs_autodiff = float(max(jnp.max(jnp.abs(a - b)) for a, b in pairs))
    runs = {name: [] for name in nets}
    for seed in range(args.seed, args.seed + n_seeds):
        params = true_net.init(jax.random.key(seed))
        for name, net in nets.items():
            result = fit(
                net, ds.x_train, ds.t_train, Optimizer("sgd", lr=ETA),
                TrainConfig(epochs, batch_size="full", seed=seed), params=params,
            )  # fmt: skip
            losses = np.array([r["train_loss"] for r in result.history])
            below = np.flatnonzero(losses < TARGET)
            runs[name].append({
                "seed": seed,
                "initial_loss": float(net.cost(params, ds.x_train, ds.t_train)),
                "final_loss": float(losses[-1]),
                "epochs_to_target": int(below[0]) + 1 if below.size else None,
                "test_accuracy": float(np.mean(
                    np.asarray(net.predict(result.params, ds.x_test)) == ds.t_test[:, 0])),
                "curve": losses[:: max(1, epochs // 300)].tolist(),
            })  # fmt: skip
    summary = {name: summarize(rs, epochs) for name, rs in runs.items()}
    true, surrogate = summary.values()
    readable = {n: {k: finite(v) for k, v in s.items()} for n, s in summary.items()}
    print(summary)
    checks = {
        "surrogate trains (>= 80 % of seeds: loss halves, test accuracy > 0.85)": (
            surrogate["share_trained"] >= 0.8
        ),
        "surrogate slower (median epochs to loss 0.1; the true derivative's finite)": (
            np.isfinite(true["median_epochs_to_target"])
            and surrogate["median_epochs_to_target"] > true["median_epochs_to_target"]
        ),
        "hand backprop uses the surrogate (differs from jax.grad)": surrogate_vs_autodiff > 1e-4,
    }
    plot(args, runs, epochs)
    save(
        args, "as_if_linear",
        claim="seed 003: Rumelhart's trick, sigmoid units trained with derivatives computed as "
        "if they were linear, trains, but more slowly than true backprop",
        criterion=">= 80 % of seeds with the surrogate h' = 1/4 halve their loss and exceed "
        "0.85 test accuracy on moons, and its median epochs to training loss 0.1 exceed the "
        "true derivative's",
        reproduced=all(checks.values()),
        metrics={"median_final_loss_surrogate_over_true": (
                     surrogate["median_final_loss"] / true["median_final_loss"]),
                 "checks": checks,
                 "slowdown_median_epochs_to_target": finite(ratio(surrogate, true)),
                 "summary": readable, "hand_vs_autodiff_max_diff": surrogate_vs_autodiff,
                 "runs": {n: [{k: v for k, v in r.items() if k != "curve"} for r in rs]
                          for n, rs in runs.items()},
                 "eta": ETA, "epochs": epochs},
    )  # fmt: skip


def summarize(rs, epochs):
    steps = [r["epochs_to_target"] if r["epochs_to_target"] else np.inf for r in rs]
    trained = [r["final_loss"] < r["initial_loss"] / 2 and r["test_accuracy"] > 0.85 for r in rs]
    return {
        "median_epochs_to_target": float(np.median(steps)),  # inf: never (None in the JSON)
        "reached_target": int(np.isfinite(steps).sum()),
        "share_trained": float(np.mean(trained)),
        "median_final_loss": float(np.median([r["final_loss"] for r in rs])),
        "median_test_accuracy": float(np.median([r["test_accuracy"] for r in rs])),
    }


def finite(value):
    """JSON has no infinity: a target never reached (or a ratio of such) is None."""
    return value if np.isfinite(value) else None


def ratio(a, b):
    return a["median_epochs_to_target"] / b["median_epochs_to_target"]


def plot(args, runs, epochs):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, (name, rs) in enumerate(runs.items()):
        for j, r in enumerate(rs):
            x = np.linspace(1, epochs, len(r["curve"]))
            ax.semilogy(x, r["curve"], color=f"C{i}", alpha=0.5, label=name if j == 0 else None)
    ax.axhline(TARGET, color="k", ls=":", label=f"target {TARGET}")
    ax.set(xlabel="epoch (full-batch gradient descent, eta 0.5)", ylabel="training loss (BCE)",
           title="two moons, (2, 8, 1) sigmoid: true derivative vs 'as if linear'")  # fmt: skip
    ax.legend()
    figure(args, "as_if_linear", fig)


if __name__ == "__main__":
    main()
