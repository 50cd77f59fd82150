"""On-line, mini-batch and full-batch gradient descent: loss against epochs and wall time.

Claim (seed 000): on-line (stochastic) gradient descent updates on "one training set element
at a time": each step is "less expensive", though "more steps may be necessary"; batch gradient
descent sums the gradient over a subset B (the whole set for full batch) before each step.

Setting: digits (1438 training examples, 64 inputs, 10 classes), ``(64, 32, 10)`` with tanh
hidden units, softmax output and cross-entropy (mean over the batch), plain SGD with the same
eta = 0.05 for batch sizes 1 (on-line), 32 (mini-batch) and 1438 (full batch), all from the
same initial parameters. An epoch is one pass over the data: 1438, 45 (the last of 30 rows) and
1 steps. The training
loss after every epoch is the loss on the whole training set (the training set passed as
validation set, so it is computed inside the fused epochs).

Wall time, honestly: ``fit`` fuses several epochs into one compiled call and reports, per
epoch, the call's wall time divided by its epochs (``record["seconds"]``); the first call also
pays for compiling. Each mode is timed by a separate run without the loss evaluation, long
enough for several calls, and its time per epoch is the median over the calls between the first
and the last (either may compile): compiling and ``fit``'s one-off set-up are excluded, the
per-call dispatch is not. The machine's load average is recorded beside the timings. The
time axis is epochs x that per-epoch time. Each mode then trains for about the wall time the
on-line run takes.

Criterion: a full-batch step costs more wall time than an on-line step, and after the same
number of epochs the training loss is ordered on-line < mini-batch < full batch. The seed's
"more steps may be necessary" is not judged: the losses are recorded once an epoch, and an
on-line epoch is 1438 steps, too coarse to count the steps to a loss.
"""

import os
import time

import jax
import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, evaluate, fit
from jaxmlp.epochs import steps_per_epoch

ETA = 0.05


def seconds_per_epoch(net, params, ds, batch_size, epochs, seed):
    """Wall seconds per epoch: the median over the fused calls between the first and the last."""
    history = fit(
        net, ds.x_train, ds.t_train, Optimizer("sgd", lr=ETA),
        TrainConfig(epochs, batch_size=batch_size, seed=seed), params=params,
    ).history  # fmt: skip
    seconds = np.array([r["seconds"] for r in history])
    # The epochs of one call share one value. The first call compiles, and so may the last
    # (a shorter remainder call has a new shape): the calls in between are timed.
    starts = np.flatnonzero(np.diff(seconds, prepend=np.nan) != 0)
    if len(starts) < 3:
        raise RuntimeError(f"{epochs} epochs ran as {len(starts)} calls: time more epochs")
    return float(np.median(seconds[starts[1:-1]]))


def seconds_per_step(epoch_seconds, n, batch_size, drop_last=False):
    """An epoch's seconds over the steps ``fit`` takes in it (``TrainConfig.drop_last``)."""
    return epoch_seconds / steps_per_epoch(n, batch_size, drop_last)


def loss_curve(net, params, ds, batch_size, epochs, seed):
    """Whole-training-set loss before training and after each epoch, ``(epochs + 1,)``."""
    result = fit(
        net, ds.x_train, ds.t_train, Optimizer("sgd", lr=ETA),
        TrainConfig(epochs, batch_size=batch_size, seed=seed), params=params,
        x_val=ds.x_train, t_val=ds.t_train,
    )  # fmt: skip
    start = evaluate(net, params, ds.x_train, ds.t_train)["loss"]
    return np.array([start] + [r["val_loss"] for r in result.history])


def main():
    args = parse_args(__doc__)
    ds = datasets.load("digits", seed=args.seed, n=300 if args.quick else None)
    n = len(ds.x_train)
    modes = {"on-line (batch 1)": 1, "mini-batch (32)": 32, f"full batch ({n})": n}
    online_epochs = 2 if args.quick else 30
    timing_epochs = (100, 200, 400) if args.quick else (40, 400, 4000)
    net = MLP((64, 32, 10), "tanh", "softmax", "cross_entropy")
    params = net.init(jax.random.key(args.seed))  # one start for all three modes
    load = os.getloadavg()[0]
    start = time.perf_counter()
    per_epoch = {
        m: seconds_per_epoch(net, params, ds, b, e, args.seed)
        for (m, b), e in zip(modes.items(), timing_epochs)
    }
    budget = online_epochs * per_epoch["on-line (batch 1)"]
    epochs = {m: max(online_epochs, min(20000, round(budget / s))) for m, s in per_epoch.items()}
    curves = {m: loss_curve(net, params, ds, b, epochs[m], args.seed) for m, b in modes.items()}
    seconds = time.perf_counter() - start

    names = list(modes)
    at_same_epoch = {m: float(curves[m][online_epochs]) for m in names}
    per_step = {m: seconds_per_step(per_epoch[m], n, b) for m, b in modes.items()}
    at_budget = {m: float(curves[m][-1]) for m in names}
    ordered = at_same_epoch[names[0]] < at_same_epoch[names[1]] < at_same_epoch[names[2]]
    metrics = {
        f"loss_full_batch_over_online_after_{online_epochs}_epochs": (
            at_same_epoch[names[2]] / at_same_epoch[names[0]]
        ),
        f"loss_after_{online_epochs}_epochs": at_same_epoch,
        "seconds_per_step": per_step,
        "seconds_per_epoch": per_epoch,
        "epochs_run": epochs,
        f"loss_after_about_{budget:.2f}_s": at_budget,
        "load_average_1min_at_start": load,
        "eta": ETA,
        "n_train": n,
        "seconds": seconds,
    }
    plot(args, curves, per_epoch)
    save(
        args, "gd_modes",
        claim="seed 000: on-line GD takes cheaper steps than full-batch GD; per epoch it lowers "
        "the loss most",
        criterion="a full-batch step costs more wall time than an on-line step, and after "
        f"{online_epochs} epochs the training loss is on-line < mini-batch < full batch",
        reproduced=per_step[names[2]] > per_step[names[0]] and ordered, metrics=metrics,
    )  # fmt: skip


def plot(args, curves, per_epoch):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for mode, curve in curves.items():
        epochs = np.arange(len(curve))
        axes[0].plot(epochs[1:], curve[1:], label=mode)
        axes[1].plot(
            epochs * per_epoch[mode], curve, label=f"{mode}: {per_epoch[mode]:.2g} s/epoch"
        )
    axes[0].set(xlabel="epochs", ylabel="training loss (whole set)", xscale="log", yscale="log",
                title=f"digits, SGD eta = {ETA}: loss against epochs")  # fmt: skip
    axes[1].set(xlabel="wall seconds (compile excluded)", ylabel="training loss (whole set)",
                yscale="log", title="loss against wall time")  # fmt: skip
    for ax in axes:
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    figure(args, "gd_modes", fig)


if __name__ == "__main__":
    main()
