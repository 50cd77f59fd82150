"""MSE against MAE against Huber when the training targets carry heavy outliers.

Claim (seed 002): "The loss function to use during training is typically the mean squared error,
but if you have a lot of outliers in the training set, you may prefer to use the mean absolute
error instead. Alternatively, you can use the Huber loss."

Setup: ``datasets.load("outliers")``: t = 2x + 1 + 0.1 noise, with 10 % of the training targets
shifted by 5 to 10 (either sign); the test set is clean. Each loss trains the same 1-32-1 tanh
network (and a linear model, 1-1) with Adam, full batch, on several data seeds. The error is the
RMSE against the clean line on the test inputs.

Criterion: over the seeds, the median clean-test RMSE of the MLP trained with MAE and with Huber
are each below half that of MSE (MSE is pulled by the outliers, the robust losses are not).
"""

import common
import numpy as np

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

NAME = "robust_regression"
LOSSES = ("mse", "mae", "huber")
CLAIM = (
    "seed 002: with many outliers in the training set, MAE or Huber loss fits the clean signal "
    "better than MSE"
)
CRITERION = (
    "median clean-test RMSE over data seeds of the 1-32-1 tanh MLP: MAE and Huber each < 0.5 x MSE"
)


def clean_line(info, x_raw):
    """The generator's noise-free line, at inputs in the original (unstandardised) units."""
    return info["slope"] * x_raw + info["intercept"]


def train(net, ds, epochs, seed):
    optimizer = Optimizer("adam", lr=0.01, schedule="cosine")
    config = TrainConfig(epochs=epochs, batch_size="full", seed=seed)
    return fit(net, ds.x_train, ds.t_train, optimizer, config).params


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    seeds = range(args.seed, args.seed + (2 if args.quick else 10))
    epochs = 1000 if args.quick else 3000
    models = {
        "mlp": lambda loss: MLP((1, 32, 1), "tanh", "identity", loss),
        "linear": lambda loss: MLP((1, 1), output="identity", loss=loss),
    }
    rmse = {m: {loss: [] for loss in LOSSES} for m in models}
    curves = {}
    for seed in seeds:
        ds = datasets.load("outliers", seed=seed)
        scaler = ds.info["standardizer"]
        truth = clean_line(ds.info, scaler.invert(ds.x_test))
        for m, make in models.items():
            for loss in LOSSES:
                net = make(loss)
                params = train(net, ds, epochs, seed)
                y = np.asarray(net.apply(params, ds.x_test))
                rmse[m][loss].append(float(np.sqrt(np.mean((y - truth) ** 2))))
                if seed == seeds[0] and m == "mlp":
                    curves[loss] = params
        if seed == seeds[0]:
            first = ds

    median = {m: {loss: float(np.median(v)) for loss, v in r.items()} for m, r in rmse.items()}
    ratio_mae = median["mlp"]["mae"] / median["mlp"]["mse"]
    ratio_huber = median["mlp"]["huber"] / median["mlp"]["mse"]
    reproduced = ratio_mae < 0.5 and ratio_huber < 0.5
    plot(args, first, curves, rmse)
    metrics = {
        "mlp_rmse_ratio_huber_over_mse": ratio_huber,
        "mlp_rmse_ratio_mae_over_mse": ratio_mae,
        "median_clean_test_rmse": median,
        "clean_test_rmse_per_seed": rmse,
        "seeds": list(seeds),
        "recipe": {
            "mlp": "1-32-1 tanh, identity output",
            "linear": "1-1 identity output",
            "optimizer": "adam lr 0.01 cosine, full batch",
            "epochs": epochs,
            "reduction": "mean",
            "huber_delta": 1.0,
        },
        "data": "datasets.load('outliers'): 200 train (10% outliers, |shift| 5-10), 200 clean test",
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, ds, curves, rmse):
    plt = common.pyplot()
    scaler = ds.info["standardizer"]
    x_raw = scaler.invert(ds.x_train)[:, 0]
    grid_raw = np.linspace(-1, 1, 300)[:, None].astype(np.float32)
    grid = scaler.apply(grid_raw)
    t_raw = ds.t_train[:, 0]
    outlier = np.abs(t_raw - clean_line(ds.info, x_raw)) > 1
    fig, (dx, ax, bx) = plt.subplots(1, 3, figsize=(16, 4.5))
    for panel in (dx, ax):
        panel.scatter(x_raw[~outlier], t_raw[~outlier], s=8, c="0.6", label="training data")
        panel.scatter(
            x_raw[outlier],
            t_raw[outlier],
            s=14,
            c="r",
            marker="x",
            label=f"outliers ({outlier.mean():.0%})",
        )
        panel.plot(
            grid_raw[:, 0],
            clean_line(ds.info, grid_raw[:, 0]),
            "k--",
            lw=1,
            label="clean line 2x + 1",
        )
        panel.set_xlabel("x")
        panel.set_ylabel("t")
    for loss, params in curves.items():
        net = MLP((1, 32, 1), "tanh", "identity", loss)
        y = np.asarray(net.apply(params, grid))[:, 0]
        for panel in (dx, ax):
            panel.plot(grid_raw[:, 0], y, lw=2, label=f"MLP, {loss}")
    dx.set_title(f"training set, data seed {args.seed}")
    ax.set_ylim(-1.5, 3.5)
    ax.set_title("zoom on the fits")
    ax.legend(fontsize=8)
    positions = np.arange(len(LOSSES))
    for offset, (m, r) in zip((-0.15, 0.15), rmse.items()):
        for i, loss in enumerate(LOSSES):
            v = r[loss]
            bx.scatter(
                np.full(len(v), i + offset),
                v,
                s=12,
                label=m if i == 0 else None,
                c="C0" if m == "mlp" else "C1",
            )
    bx.set_xticks(positions, LOSSES)
    bx.set_yscale("log")
    bx.set_ylabel("RMSE to the clean line on test inputs")
    bx.set_title("every data seed")
    bx.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
