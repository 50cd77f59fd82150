"""The gradient by backprop costs a small constant factor times one evaluation of the cost.

Claim (seed 004): automatic differentiation evaluates derivatives "with ideal asymptotic
efficiency and only a small constant factor of overhead": the whole gradient (reverse mode,
here the library's hand ``net.backprop``) costs a bounded multiple of one evaluation of the cost
E(w), whatever the network's width or depth.

Measured in XLA's own operation count (``cost_analysis()["flops"]`` of the compiled program, as
in ``backprop_cost``), which is deterministic, unlike CPU time: nothing runs but the compiler.
Setup: 32-h-...-h-10 ReLU networks (softmax + cross-entropy, float32) on n = 256 examples, two
series: width h = 32 to 1024 at depth 2 (|w| = 2,442 to 1,093,642), and depth 1 to 8 hidden
layers at h = 128 (--quick: h = 32 to 256, depth 1 to 4). Per network, the ratio
flops(net.backprop) / flops(net.cost). ``backprop_cost``'s rows hold the same comparison in CPU
time (gradient 2.0-3.7x one cost evaluation): reported there, not judged here.

Criterion (fixed before the run): in each series every ratio is at most 5 and the log-log slope
of the ratio against |w| lies in [-0.1, 0.1] (a constant factor, not one that grows with the
network; finite differences' ratio grows with slope 1, forward mode's too).
"""

import common
import jax
import jax.numpy as jnp
import numpy as np
from backprop_cost import D, K, flops, log_slope

from jaxmlp import MLP

NAME = "gradient_factor"
CLAIM = (
    "seed 004: automatic differentiation (backprop) gives the gradient for a small constant "
    "factor over one evaluation of the cost, independent of the network's width and depth"
)
BOUND, SLOPE = 5.0, 0.1
CRITERION = (
    f"XLA flops of net.backprop over net.cost, 32-h-h-10 ReLU nets: in the width series "
    f"(h = 32..1024) and the depth series (1..8 hidden layers of 128) every ratio <= {BOUND:g} "
    f"and the log-log slope of the ratio against |w| in [-{SLOPE}, {SLOPE}]"
)
N = 256


def row(hidden, seed):
    """One network's flops of the cost and of the gradient."""
    net = MLP((D, *hidden, K), "relu", "softmax", "cross_entropy")
    params = net.init(jax.random.key(seed))
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((N, D), np.float32))
    t = jnp.asarray(rng.integers(0, K, N, dtype=np.int32))
    cost = flops(lambda p: net.cost(p, x, t), params)
    gradient = flops(lambda p: net.backprop(p, x, t), params)
    return {
        "hidden": list(hidden),
        "n_params": net.n_params,
        "cost_flops": cost,
        "backprop_flops": gradient,
        "ratio": gradient / cost,
    }


def verdict(series: dict) -> dict:
    """The criterion's checks for ``{series name: rows}``: the worst ratio, and the slope."""
    checks = {}
    for name, rows in series.items():
        ratios = [r["ratio"] for r in rows]
        slope = log_slope([r["n_params"] for r in rows], ratios)
        checks[f"{name}: every ratio <= {BOUND:g}"] = max(ratios) <= BOUND
        checks[f"{name}: |slope of ratio vs |w|| <= {SLOPE}"] = abs(slope) <= SLOPE
    return checks


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    widths = (32, 64, 128, 256) if args.quick else (32, 64, 128, 256, 512, 1024)
    depths = range(1, 5) if args.quick else range(1, 9)
    series = {
        "width": [row((h, h), args.seed) for h in widths],
        "depth": [row((128,) * d, args.seed) for d in depths],
    }
    for name, rows in series.items():
        for r in rows:
            print(name, {k: v for k, v in r.items() if k != "hidden"}, flush=True)
    checks = verdict(series)
    slopes = {
        name: log_slope([r["n_params"] for r in rows], [r["ratio"] for r in rows])
        for name, rows in series.items()
    }
    plot(args, series, slopes)
    ratios = [r["ratio"] for rows in series.values() for r in rows]
    metrics = {
        "largest_backprop_over_cost_flops": max(ratios),
        "smallest_backprop_over_cost_flops": min(ratios),
        "checks": checks,
        "ratio_slopes": slopes,
        "series": series,
        "setup": {"net": f"{D}-h-..-h-{K} relu, softmax + cross_entropy, float32", "n": N},
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=all(checks.values()),
        metrics=metrics,
    )  # fmt: skip


def plot(args, series, slopes):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, rows in series.items():
        ax.semilogx([r["n_params"] for r in rows], [r["ratio"] for r in rows], "o-",
                    label=f"{name} series: slope {slopes[name]:+.3f}")  # fmt: skip
    ax.axhline(BOUND, color="k", ls=":", label=f"criterion's bound {BOUND:g}")
    ax.set(xlabel="number of weights |w|", ylabel="flops(gradient) / flops(cost)", ylim=(0, 6),
           title="seed 004: the gradient costs a constant factor over one cost evaluation\n"
           "(XLA operation counts, backprop against the cost alone)")  # fmt: skip
    ax.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
