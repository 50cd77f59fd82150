"""Multilabel classification: a sigmoid output per label, binary cross-entropy, per-label accuracy.

Claim (seed 002): for an e-mail that may be spam and may be urgent "you would need two output
neurons, both using the sigmoid activation function [...] the output probabilities do not
necessarily add up to one. This lets the model output any combination of labels."

Setup: ``datasets.load("multilabel")``: four standardised inputs, spam = [x1 + x2 > 0] (linear),
urgent = [x3 x4 > 0] (an XOR, needs hidden units). A 4-16-2 tanh MLP with two sigmoid outputs
and bce trains with Adam; a linear 4-2 sigmoid model is the baseline that cannot learn urgent.

Criterion: the MLP's test accuracy is >= 0.95 on each label separately, and it predicts all four
label combinations (no-spam/spam x not-urgent/urgent) on the test set.
"""

import itertools

import common
import numpy as np

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

NAME = "multilabel"
CLAIM = (
    "seed 002: two sigmoid outputs with binary cross-entropy classify two independent labels "
    "(spam, urgent) at once, any combination allowed"
)
CRITERION = (
    "4-16-2 tanh MLP, sigmoid + bce: test accuracy >= 0.95 on each label, and all four label "
    "combinations predicted on the test set"
)


def combinations(labels, t) -> dict:
    """How many rows of the 0/1 matrix ``t (n, 2)`` hold each of the four label combinations."""
    return {
        f"{labels[0]}={a},{labels[1]}={b}": int(np.sum((t[:, 0] == a) & (t[:, 1] == b)))
        for a, b in itertools.product((0, 1), repeat=2)
    }


def per_label_accuracy(net, params, x, t):
    return (np.asarray(net.predict(params, x)) == t).mean(axis=0)


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    ds = datasets.load("multilabel", seed=args.seed, n=400 if args.quick else None)
    labels = ds.info["labels"]
    epochs = 150 if args.quick else 300
    optimizer = Optimizer("adam", lr=0.01)
    config = TrainConfig(epochs=epochs, batch_size=32, seed=args.seed)
    nets = {
        "mlp": MLP((4, 16, 2), "tanh", "sigmoid", "bce"),
        "linear": MLP((4, 2), output="sigmoid", loss="bce"),
    }
    results, histories = {}, {}
    for name, net in nets.items():
        result = fit(net, ds.x_train, ds.t_train, optimizer, config)
        histories[name] = [r["train_loss"] for r in result.history]
        accuracy = per_label_accuracy(net, result.params, ds.x_test, ds.t_test)
        results[name] = {"params": result.params, "accuracy": dict(zip(labels, accuracy))}

    mlp, params = nets["mlp"], results["mlp"]["params"]
    combos = combinations(labels, np.asarray(mlp.predict(params, ds.x_test)))
    y = np.asarray(mlp.apply(params, ds.x_test))
    sums = y.sum(axis=1)
    accuracy = results["mlp"]["accuracy"]
    reproduced = min(accuracy.values()) >= 0.95 and min(combos.values()) > 0
    plot(args, ds, mlp, params, histories, labels)
    metrics = {
        "mlp_min_label_accuracy": float(min(accuracy.values())),
        "mlp_test_accuracy": {k: float(v) for k, v in accuracy.items()},
        "linear_test_accuracy": {k: float(v) for k, v in results["linear"]["accuracy"].items()},
        "predicted_combinations_test": combos,
        "true_combinations_test": combinations(labels, ds.t_test),
        "output_sum_range_test": [float(sums.min()), float(sums.max())],
        "n_train": int(len(ds.x_train)),
        "n_test": int(len(ds.x_test)),
        "recipe": {
            "mlp": "4-16-2 tanh, sigmoid outputs, bce (summed over labels), mean over examples",
            "optimizer": "adam lr 0.01",
            "batch_size": 32,
            "epochs": epochs,
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, ds, net, params, histories, labels):
    """Each label's output over the plane of the two inputs it depends on (others at 0)."""
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    g = np.linspace(-3.2, 3.2, 129, dtype=np.float32)
    u, v = np.meshgrid(g, g)
    for k, (ax, inputs) in enumerate(zip(axes, ((0, 1), (2, 3)))):
        x = np.zeros((u.size, 4), np.float32)
        x[:, inputs[0]], x[:, inputs[1]] = u.ravel(), v.ravel()
        y = np.asarray(net.apply(params, x))[:, k].reshape(u.shape)
        image = ax.contourf(u, v, y, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        ax.contour(u, v, y, levels=[0.5], colors="k")
        near = np.all(np.abs(np.delete(ds.x_test, inputs, axis=1)) < 0.5, axis=1)
        t = ds.t_test[near, k]
        ax.scatter(*ds.x_test[near][:, inputs].T, c=t, cmap="RdBu_r", edgecolors="k", s=14)
        ax.set_xlabel(f"x{inputs[0] + 1}")
        ax.set_ylabel(f"x{inputs[1] + 1}")
        ax.set_title(f"P({labels[k]} | x) over (x{inputs[0] + 1}, x{inputs[1] + 1})")
        fig.colorbar(image, ax=ax)
    for name, losses in histories.items():
        axes[2].plot(np.arange(1, len(losses) + 1), losses, label=name)
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("training bce (sum over labels)")
    axes[2].set_yscale("log")
    axes[2].legend()
    fig.suptitle(
        "MLP outputs with the two other inputs at 0; dots: test points whose other inputs are "
        "within 0.5 of 0, coloured by label",
        fontsize=10,
    )
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
