"""Linear networks collapse to linear models; single layers are linear and logistic regression.

Claims: seed 003: without a nonlinear activation, stacked layers compose to one linear map
(W1 W2 W3 is a single matrix), so a deep linear network is no more than a linear least-squares
model. Seed 001: a single layer with identity output and squared error is linear regression, and
a single layer with a sigmoid output and cross-entropy is logistic regression.

Setup (float64, full-batch Adam with cosine decay, 20,000 epochs; --quick: 4,000):
  * regression data: 500 points, 5 standardised inputs, t = x w + 1 + sin(2 x_1) + noise (a
    nonlinear part, so a linear model must fall short). A ``(5, 16, 16, 1)`` network with
    identity activations everywhere: its function is checked to be x W + b with the product
    W = W1 W2 W3 (and b collapsed alike) at the trained weights, and its training error set
    beside the least-squares fit (``numpy.linalg.lstsq``) and a tanh network of the same shape.
  * ``(5, 1)`` identity + sse against scikit-learn's ``LinearRegression``; with weight decay
    lambda on the weights only (``Optimizer(weight_decay=...)``) against ``Ridge(alpha)``, whose
    objective sum (t - y)^2 + alpha |w|^2 matches mean 1/2 (t - y)^2 + lambda/2 |w|^2 at
    alpha = n lambda.
  * ``(2, 1)`` sigmoid + bce on the overlapping ``gaussians`` classes against
    ``LogisticRegression(C=inf)`` (no penalty), and with weight decay lambda against
    ``LogisticRegression(C=1 / (n lambda))``, whose objective C sum(loss) + |w|^2 / 2 matches.

Criterion: the deep linear network's output equals x W + b to 1e-10; its training error is
within 1e-4 (relative) of least squares' and not below it; the tanh network's is lower; each
single layer's weights and bias match scikit-learn's to 1e-4 relative to the largest.
"""

import jax

jax.config.update("jax_enable_x64", True)  # this script runs in its own process

import numpy as np  # noqa: E402
from common import figure, parse_args, pyplot, save  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge  # noqa: E402

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit  # noqa: E402

LAMBDA = 0.01


def regression_data(seed, n=500, d=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w = rng.standard_normal((d, 1))
    t = x @ w + 1 + np.sin(2 * x[:, :1]) + 0.1 * rng.standard_normal((n, 1))
    return x, t


def train(net, x, t, epochs, seed, weight_decay=0.0, history=False):
    result = fit(
        net, x, t, Optimizer("adam", lr=0.01, schedule="cosine", weight_decay=weight_decay),
        TrainConfig(epochs, batch_size="full", seed=seed, dtype="float64"),
    )  # fmt: skip
    params = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in result.params]
    return (params, [r["train_loss"] for r in result.history]) if history else params


def collapse(params):
    """The single linear map (W, b) that a stack of identity layers computes."""
    w, b = np.eye(params[0]["w"].shape[0]), np.zeros(params[0]["w"].shape[0])
    for layer in params:
        w, b = w @ layer["w"], b @ layer["w"] + layer["b"]
    return w, b


def mismatch(w, b, w_ref, b_ref):
    """max |difference| of (weights, bias) relative to the reference's largest entry."""
    ours, ref = np.append(np.ravel(w), b), np.append(np.ravel(w_ref), b_ref)
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def main():
    args = parse_args(__doc__)
    epochs = 4000 if args.quick else 20000
    x, t = regression_data(args.seed)
    n = len(x)
    mse = lambda y: float(np.mean((y - t) ** 2))  # noqa: E731

    deep = MLP((5, 16, 16, 1), "identity", "identity", "sse", init="glorot_normal")
    deep_params, deep_curve = train(deep, x, t, epochs, args.seed, history=True)
    w_eff, b_eff = collapse(deep_params)
    y_deep = np.asarray(deep.apply(deep_params, x))
    collapse_error = float(np.max(np.abs(y_deep - (x @ w_eff + b_eff))))
    design = np.hstack([x, np.ones((n, 1))])
    least_squares = np.linalg.lstsq(design, t, rcond=None)[0]
    ls_mse, deep_mse = mse(design @ least_squares), mse(y_deep)
    tanh_net = MLP((5, 16, 16, 1), "tanh", "identity", "sse")
    tanh_params, tanh_curve = train(tanh_net, x, t, epochs, args.seed, history=True)
    tanh_mse = mse(np.asarray(tanh_net.apply(tanh_params, x)))

    single = MLP((5, 1), "identity", "identity", "sse")
    p = train(single, x, t, epochs, args.seed)[0]
    lin = LinearRegression().fit(x, t)
    p_ridge = train(single, x, t, epochs, args.seed, weight_decay=LAMBDA)[0]
    ridge = Ridge(alpha=n * LAMBDA).fit(x, t)

    ds = datasets.load("gaussians", seed=args.seed)
    xg, tg = np.asarray(ds.x_train, np.float64), np.asarray(ds.t_train, np.float64)
    logistic = MLP((2, 1), "identity", "sigmoid", "bce")
    q = train(logistic, xg, tg, epochs, args.seed)[0]
    logreg = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100_000).fit(xg, tg[:, 0])
    q_l2 = train(logistic, xg, tg, epochs, args.seed, weight_decay=LAMBDA)[0]
    logreg_l2 = LogisticRegression(C=1 / (len(xg) * LAMBDA), tol=1e-12, max_iter=100_000)
    logreg_l2.fit(xg, tg[:, 0])

    matches = {
        "identity layer vs LinearRegression": mismatch(p["w"], p["b"], lin.coef_.T, lin.intercept_),
        "identity layer + weight decay vs Ridge": mismatch(
            p_ridge["w"], p_ridge["b"], ridge.coef_.T, ridge.intercept_
        ),
        "sigmoid layer + bce vs LogisticRegression(C=inf)": mismatch(
            q["w"], q["b"], logreg.coef_.T, logreg.intercept_
        ),
        "sigmoid layer + bce + weight decay vs LogisticRegression(C=1/(n lambda))": mismatch(
            q_l2["w"], q_l2["b"], logreg_l2.coef_.T, logreg_l2.intercept_
        ),
    }
    deep_gap = (deep_mse - ls_mse) / ls_mse
    checks = {
        "deep linear net computes x W + b (1e-10)": collapse_error <= 1e-10,
        "deep linear training error = least squares' (1e-4 relative, not below)": (
            -1e-10 <= deep_gap <= 1e-4
        ),
        "tanh net of the same shape fits better": tanh_mse < ls_mse,
        "single layers match scikit-learn (1e-4)": max(matches.values()) <= 1e-4,
    }
    print({"collapse_error": collapse_error, "deep_gap": deep_gap, "tanh_mse": tanh_mse,
           "ls_mse": ls_mse, **matches})  # fmt: skip
    plot(args, deep_curve, tanh_curve, ls_mse, w_eff, least_squares, matches)
    save(
        args, "linear_collapse",
        claim="seeds 001/003: identity layers stacked collapse to one linear least-squares model; "
        "an identity single layer is linear regression, a sigmoid single layer with "
        "cross-entropy is logistic regression (scikit-learn, matching regularisation)",
        criterion="deep linear net = x W1W2W3 + b to 1e-10 and its training MSE within 1e-4 of "
        "least squares (tanh net below); single layers' weights match LinearRegression, Ridge, "
        "LogisticRegression (C=inf and C=1/(n lambda)) to 1e-4",
        reproduced=all(checks.values()),
        metrics={
            "worst_single_layer_mismatch": max(matches.values()),
            "checks": checks,
            "single_layer_mismatch": matches,
            "deep_linear_collapse_error": collapse_error,
            "deep_linear_train_mse": deep_mse,
            "least_squares_train_mse": ls_mse,
            "tanh_train_mse": tanh_mse,
            "weight_decay_lambda": LAMBDA,
            "epochs": epochs,
        },
    )  # fmt: skip


def plot(args, deep_curve, tanh_curve, ls_mse, w_eff, least_squares, matches):
    plt = pyplot()
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(17, 4.6))
    epochs = np.arange(1, len(deep_curve) + 1)
    ax.loglog(epochs, 2 * np.asarray(deep_curve), label="(5, 16, 16, 1) identity activations")
    ax.loglog(epochs, 2 * np.asarray(tanh_curve), label="(5, 16, 16, 1) tanh")
    ax.axhline(ls_mse, color="k", ls="--", label="least squares (lstsq)")
    ax.set(xlabel="epoch", ylabel="training MSE", title="a deep linear net is a linear model")
    ax.legend()
    bx.plot(least_squares[:-1, 0], "ko", ms=10, mfc="none", label="least squares weights")
    bx.plot(w_eff[:, 0], "C0x", ms=8, label="W1 W2 W3 of the trained deep linear net")
    bx.set(xlabel="input", ylabel="weight", title="the collapsed weights")
    bx.legend()
    names = [k.replace(" vs ", "\nvs ") for k in matches]
    cx.barh(names, [max(v, 1e-17) for v in matches.values()])
    cx.axvline(1e-4, color="r", ls=":", label="criterion 1e-4")
    cx.set(xscale="log", xlabel="max |ours - scikit-learn| / max |scikit-learn|",
           title="single layers against scikit-learn")  # fmt: skip
    cx.tick_params(axis="y", labelsize=7)
    cx.legend()
    fig.tight_layout()
    figure(args, "linear_collapse", fig)


if __name__ == "__main__":
    main()
