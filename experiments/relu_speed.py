"""ReLU trains faster than tanh and sigmoid: cost per step and steps to a target.

Claim (seed 001): ReLU, g(a) = max(0, a), is "several times faster than tanh" (the lecture's
source is Krizhevsky et al. 2012: six times fewer epochs to a training error on CIFAR-10), and
tanh, zero-centred, converges faster than the sigmoid.

Setup: digits (1,438 training examples, 64 inputs, 10 classes), ``(64, 128, 128, 128, 10)``
networks with one hidden activation throughout, softmax + cross-entropy, the library's default
initialisation per activation (He for ReLU, Glorot for tanh and sigmoid), plain SGD (eta 0.05,
batch 32), 3 seeds (--quick: 1, and a 64-64-64 net); the whole training set's loss is evaluated
after every epoch (passed as validation set).
  * steps to target: the first epoch whose training loss is below 0.1 (at most 150 epochs;
    --quick: 40);
  * cost per step: process CPU seconds of one ``net.backprop`` on a batch of 32, from 500 in one
    compiled loop (median of 5 calls), and XLA's operation count of it (flops, transcendentals:
    exp and tanh evaluations, which ReLU does not need).
Time to target = epochs to target x steps per epoch x CPU seconds per step.

Criterion: ReLU reaches the target in fewer epochs than tanh and than sigmoid (median over
seeds), its cost per step is at most 1.1 x tanh's, and its time to target is at least 2 x shorter
than tanh's ("several times").
"""

import time

import jax
import numpy as np
from common import figure, parse_args, pyplot, save
from jax import lax

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit
from jaxmlp.epochs import steps_per_epoch

ACTIVATIONS = ("relu", "tanh", "sigmoid")
TARGET, ETA, BATCH = 0.1, 0.05, 32


def never(value):
    """JSON has no infinity: a target never reached is None."""
    return value if np.isfinite(value) else None


def step_cost(net, params, x, t, repeats=5, r=500):
    """``(CPU seconds, flops, transcendentals)`` of one ``net.backprop`` on the batch ``x, t``."""

    @jax.jit
    def loop(p):
        def body(_, p):
            return jax.tree.map(lambda w, g: w - 1e-30 * g, p, net.backprop(p, x, t))

        return lax.fori_loop(0, r, body, p)

    jax.block_until_ready(loop(params))
    cpu = []
    for _ in range(repeats):
        start = time.process_time()
        jax.block_until_ready(loop(params))
        cpu.append(time.process_time() - start)
    cost = jax.jit(net.backprop).lower(params, x, t).compile().cost_analysis()
    return float(np.median(cpu)) / r, float(cost["flops"]), float(cost.get("transcendentals", 0))


def main():
    args = parse_args(__doc__)
    width, n_seeds, max_epochs = (64, 1, 40) if args.quick else (128, 3, 150)
    ds = datasets.load("digits", seed=args.seed)
    steps = steps_per_epoch(len(ds.x_train), BATCH, drop_last=False)  # fit's, the last short
    rows, readable, curves = {}, {}, {}
    for act in ACTIVATIONS:
        net = MLP((64, width, width, width, 10), act, "softmax", "cross_entropy")
        params = net.init(jax.random.key(args.seed))
        seconds, flops, transcendentals = step_cost(
            net, params, ds.x_train[:BATCH], ds.t_train[:BATCH]
        )
        epochs, curves[act] = [], []
        for seed in range(args.seed, args.seed + n_seeds):
            history = fit(
                net, ds.x_train, ds.t_train, Optimizer("sgd", lr=ETA),
                TrainConfig(max_epochs, batch_size=BATCH, seed=seed),
                params=net.init(jax.random.key(seed)), x_val=ds.x_train, t_val=ds.t_train,
            ).history  # fmt: skip
            losses = np.array([r["val_loss"] for r in history])
            below = np.flatnonzero(losses < TARGET)
            epochs.append(int(below[0]) + 1 if below.size else np.inf)
            curves[act].append(losses.tolist())
        median = float(np.median(epochs))
        rows[act] = {
            "median_epochs_to_target": median,
            "epochs_to_target": [never(e) for e in epochs],
            "cpu_seconds_per_step": seconds,
            "flops_per_step": flops,
            "transcendentals_per_step": transcendentals,
            "cpu_seconds_to_target": median * steps * seconds,
        }
        readable[act] = {k: never(v) if isinstance(v, float) else v for k, v in rows[act].items()}
        print(act, readable[act], flush=True)
    relu, tanh, sigmoid = (rows[a] for a in ACTIVATIONS)
    speedup = tanh["cpu_seconds_to_target"] / relu["cpu_seconds_to_target"]
    checks = {
        "relu: fewer epochs to target than tanh": (
            relu["median_epochs_to_target"] < tanh["median_epochs_to_target"]
        ),
        "relu: fewer epochs to target than sigmoid": (
            relu["median_epochs_to_target"] < sigmoid["median_epochs_to_target"]
        ),
        "relu: cost per step <= 1.1 x tanh's": (
            relu["cpu_seconds_per_step"] <= 1.1 * tanh["cpu_seconds_per_step"]
        ),
        "relu: time to target >= 2 x shorter than tanh's": bool(speedup >= 2),
    }
    plot(args, curves, rows)
    save(
        args, "relu_speed",
        claim="seed 001: ReLU trains several times faster than tanh (and tanh faster than "
        "sigmoid): fewer epochs to a target loss at no higher cost per step",
        criterion="median epochs to training loss 0.1: relu < tanh and < sigmoid; relu's CPU "
        "time per step <= 1.1 x tanh's; relu's CPU time to target >= 2 x shorter than tanh's",
        reproduced=all(checks.values()),
        metrics={"time_to_target_tanh_over_relu": never(speedup), "checks": checks,
                 "rows": readable,
                 "tanh_faster_than_sigmoid": bool(tanh["median_epochs_to_target"]
                                                  < sigmoid["median_epochs_to_target"]),
                 "net": f"64-{width}-{width}-{width}-10", "eta": ETA, "batch": BATCH,
                 "max_epochs": max_epochs, "n_seeds": n_seeds,
                 "machine_load": "shared 2-core CPU with other jobs running"},
    )  # fmt: skip


def plot(args, curves, rows):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.6))
    for i, (act, runs) in enumerate(curves.items()):
        for j, losses in enumerate(runs):
            ax.semilogy(range(1, len(losses) + 1), losses, color=f"C{i}", alpha=0.7,
                        label=act if j == 0 else None)  # fmt: skip
    ax.axhline(TARGET, color="k", ls=":", label=f"target {TARGET}")
    ax.set(xlabel="epoch (SGD, eta 0.05, batch 32)", ylabel="training loss",
           title="digits: training loss by hidden activation")  # fmt: skip
    ax.legend()
    acts = list(rows)
    bx.bar(acts, [rows[a]["cpu_seconds_per_step"] * 1e6 for a in acts])
    bx.set(ylabel="CPU microseconds per backprop step (batch 32)", title="cost per step")
    for k, a in enumerate(acts):
        label = (f"{rows[a]['transcendentals_per_step']:.0f} transc.\n"
                 f"{rows[a]['flops_per_step'] / 1e6:.2f} Mflop")  # fmt: skip
        bx.text(k, 0, label, ha="center", va="bottom")
    fig.tight_layout()
    figure(args, "relu_speed", fig)


if __name__ == "__main__":
    main()
