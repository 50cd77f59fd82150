"""Output activations that guarantee a regression's range: positive, or within given bounds.

Claim (seed 002): "if you want to guarantee that the output will always be positive, then you can
use the ReLU activation function, or the softplus activation function in the output layer.
Finally, if you want to guarantee that the predictions will fall within a given range of values,
then you can use the sigmoid function or the hyperbolic tangent and scale the labels to the
appropriate range: 0 to 1 for the logistic function, or -1 to 1 for the hyperbolic tangent."

Setup: 1-32-1 ReLU networks (the seed's hidden activation for regression), mse, Adam 0.01 with a
cosine schedule, full batch, on 200 training points x in [-1, 1] (seeds 0-9; --quick: 0-1):
  * positive targets t = (0.05 + x^2) e^(0.1 n), n ~ N(0, 1): outputs relu, softplus, identity;
  * targets in [2, 8], t = 5 + 2.7 sin(pi x) + U(-0.3, 0.3): sigmoid on labels scaled to [0, 1]
    (prediction 2 + 6 y), tanh on labels scaled to [-1, 1] (5 + 3 y), sigmoid on the raw labels,
    identity.
A guarantee holds for any weights and inputs, not only a trained net on its data, so each output
is probed on 401 inputs from -1000 to 1000 (the training range among them), for each seed's
trained net and for its initial weights scaled by 1, 10 and 100 (outputs up to ~1e7, all finite
in float32). The fit is the RMSE to the noise-free function on 200 test points in [-1, 1].

Criterion: every probed output of relu and softplus is >= 0, and of the scaled sigmoid and tanh
within [2, 8] (finite, for every net); the identity output leaves its range for at least one net
of each problem (the guarantee is the output activation's, not the data's); each guaranteed
output's median test RMSE is at most 1.5x the identity's (the guarantee costs the fit little);
and the sigmoid on unscaled labels fits worse than 10x the scaled one (the labels must be scaled).
"""

import common
import jax
import numpy as np

from jaxmlp import MLP, Optimizer, TrainConfig, fit

NAME = "output_ranges"
CLAIM = (
    "seed 002: a ReLU or softplus output guarantees positive predictions, a sigmoid or tanh "
    "output with labels scaled to [0, 1] or [-1, 1] predictions within a given range"
)
CRITERION = (
    "on 401 inputs in [-1000, 1000], trained nets and initial weights x1, x10, x100 (all seeds): "
    "relu/softplus outputs >= 0, scaled sigmoid/tanh within [2, 8], identity outside for some "
    "net; median test RMSE of each <= 1.5x identity's; unscaled sigmoid > 10x scaled sigmoid's"
)
LO, HI = 2.0, 8.0
# name -> (output activation, labels -> what it trains on, its output -> a prediction, range)
POSITIVE = {
    "relu": ("relu", None, None),
    "softplus": ("softplus", None, None),
    "identity": ("identity", None, None),
}
BOUNDED = {
    "sigmoid, labels scaled to [0, 1]": (
        "sigmoid", lambda t: (t - LO) / (HI - LO), lambda y: LO + (HI - LO) * y,
    ),
    "tanh, labels scaled to [-1, 1]": (
        "tanh", lambda t: (t - (LO + HI) / 2) / ((HI - LO) / 2),
        lambda y: (LO + HI) / 2 + (HI - LO) / 2 * y,
    ),
    "sigmoid, raw labels": ("sigmoid", None, None),
    "identity": ("identity", None, None),
}  # fmt: skip
SCALES = (1.0, 10.0, 100.0)


def problems(seed):
    """``{problem: (x_train, t_train, x_test, f_test, (low, high))}`` of one data seed."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (200, 1)).astype(np.float32)
    x_test = np.linspace(-1, 1, 200, dtype=np.float32)[:, None]
    positive = lambda x: 0.05 + x**2  # noqa: E731
    bounded = lambda x: 5 + 2.7 * np.sin(np.pi * x)  # noqa: E731
    return {
        "positive": (x, positive(x) * np.exp(0.1 * rng.standard_normal(x.shape)),
                     x_test, positive(x_test), (0.0, np.inf)),
        "bounded": (x, bounded(x) + rng.uniform(-0.3, 0.3, x.shape),
                    x_test, bounded(x_test), (LO, HI)),
    }  # fmt: skip


def probe_inputs():
    """401 inputs from -1000 to 1000: 0, +-10^k for k in [-2, 3], the training range densely."""
    side = np.concatenate([np.linspace(0.01, 1, 100), np.logspace(0, 3, 101)[1:]])
    return np.concatenate([-side[::-1], [0.0], side]).astype(np.float32)[:, None]


def outputs(problem):
    return POSITIVE if problem == "positive" else BOUNDED


def run(problem, name, data, seed, epochs):
    """The net's test RMSE and its predictions on ``probe_inputs`` for the trained weights and
    the initial ones scaled by ``SCALES``: ``(rmse, {which: predictions})``."""
    x, t, x_test, f_test, _ = data
    output, scale_labels, unscale = outputs(problem)[name]
    scale_labels = scale_labels or (lambda t: t)
    unscale = unscale or (lambda y: y)
    net = MLP((1, 32, 1), "relu", output, "mse")
    config = TrainConfig(epochs=epochs, batch_size="full", seed=seed)
    params = fit(net, x, scale_labels(t), Optimizer("adam", lr=0.01, schedule="cosine"),
                 config).params  # fmt: skip
    rmse = float(np.sqrt(np.mean((unscale(np.asarray(net.apply(params, x_test))) - f_test) ** 2)))
    probe = probe_inputs()
    predictions = {"trained": unscale(np.asarray(net.apply(params, probe)))}
    start = net.init(jax.random.key(seed))
    for s in SCALES:
        scaled = jax.tree.map(lambda w, s=s: w * s, start)
        predictions[f"initial x{s:g}"] = unscale(np.asarray(net.apply(scaled, probe)))
    return rmse, predictions


def within(predictions, bounds) -> bool:
    low, high = bounds
    return bool(np.all(np.isfinite(predictions)) and np.all(predictions >= low)
                and np.all(predictions <= high))  # fmt: skip


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    seeds = range(args.seed, args.seed + (2 if args.quick else 10))
    epochs = 500 if args.quick else 2000
    rows, examples = {}, {}
    for problem in ("positive", "bounded"):
        for name in outputs(problem):
            rmses, held, extremes = [], [], []
            for seed in seeds:
                data = problems(seed)[problem]
                rmse, predictions = run(problem, name, data, seed, epochs)
                rmses.append(rmse)
                held.append({which: within(p, data[4]) for which, p in predictions.items()})
                extremes.append([float(np.min(p)) for p in predictions.values()]
                                + [float(np.max(p)) for p in predictions.values()])  # fmt: skip
                if seed == seeds[0]:
                    examples[problem, name] = (data, predictions["trained"])
            rows[f"{problem}: {name}"] = {
                "median_test_rmse": float(np.median(rmses)), "test_rmse": rmses,
                "nets_within_range": int(sum(all(h.values()) for h in held)), "nets": len(held),
                "within_range_by_weights": {which: int(sum(h[which] for h in held))
                                            for which in held[0]},
                "smallest_prediction": min(min(e) for e in extremes),
                "largest_prediction": max(max(e) for e in extremes),
            }  # fmt: skip
            print(f"{problem}: {name}", rows[f"{problem}: {name}"], flush=True)
    everywhere = lambda key: rows[key]["nets_within_range"] == rows[key]["nets"]  # noqa: E731
    rmse = lambda key: rows[key]["median_test_rmse"]  # noqa: E731
    guaranteed = ["positive: relu", "positive: softplus", "bounded: sigmoid, labels scaled to "
                  "[0, 1]", "bounded: tanh, labels scaled to [-1, 1]"]  # fmt: skip
    checks = {
        **{f"{key}: every output in range": everywhere(key) for key in guaranteed},
        "identity output leaves the positive range for some net": not everywhere(
            "positive: identity"
        ),
        "identity output leaves [2, 8] for some net": not everywhere("bounded: identity"),
        **{
            f"{key}: median test RMSE <= 1.5x identity's": rmse(key)
            <= 1.5 * rmse(f"{key.split(':')[0]}: identity")
            for key in guaranteed
        },
        "sigmoid on raw labels: RMSE > 10x the scaled sigmoid's": rmse(
            "bounded: sigmoid, raw labels"
        ) > 10 * rmse("bounded: sigmoid, labels scaled to [0, 1]"),
    }  # fmt: skip
    plot(args, examples)
    metrics = {
        "guaranteed_outputs_out_of_range": sum(
            rows[key]["nets"] - rows[key]["nets_within_range"] for key in guaranteed
        ),
        "checks": checks,
        "rows": rows,
        "setup": {"seeds": list(seeds), "epochs": epochs, "net": "1-32-1 relu, mse",
                  "optimizer": "adam lr 0.01 cosine, full batch",
                  "probe": "401 inputs in [-1000, 1000]; trained weights and initial x1, x10, "
                           "x100", "dtype": "float32"},
    }  # fmt: skip
    reproduced = all(checks.values())
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, examples):
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, problem in zip(axes, ("positive", "bounded")):
        probe = probe_inputs()[:, 0]
        (x, t, *_, bounds), _ = examples[problem, "identity"]
        ax.scatter(x[:, 0], t[:, 0], s=6, c="0.6", label="training data")
        for name in outputs(problem):
            ax.plot(probe, examples[problem, name][1][:, 0], lw=1.5, label=name)
        for bound in bounds:
            if np.isfinite(bound):
                ax.axhline(bound, color="k", ls=":", lw=1)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_ylim(bounds[0] - 3, (bounds[1] if np.isfinite(bounds[1]) else 4) + 3)
        ax.set_xlabel("x (training range [-1, 1]; symlog)")
        ax.set_title(f"{problem} targets: trained nets, data seed {args.seed}")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("prediction")
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
