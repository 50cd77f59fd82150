"""The gradient by forward-mode against reverse-mode automatic differentiation.

Claim (seed 004, "Automatic differentiation"): forward accumulation carries derivatives from the
inputs to the output, one tangent direction per pass; reverse accumulation carries them from the
output back, one cotangent per pass. For a scalar cost of |w| parameters the gradient takes |w|
forward passes (one jvp per parameter), cost O(|w|^2), but a single reverse pass (one vjp), cost
O(|w|).

Measured as ``backprop_cost.py`` measures backprop against finite differences, where the
asymptotics hold and in two currencies: XLA's operation count (``cost_analysis()["flops"]`` of
the compiled reverse gradient; of one compiled chunk of ``CHUNK`` jvps, times |w| / ``CHUNK``,
for forward mode, since XLA counts a loop body once) and process CPU time on one XLA thread with
the fixed cost fitted as an intercept: t = c + a |w|^k for reverse mode, t / |w| = c + a |w|^p
(the fixed cost is paid per jvp) for forward mode, k = 1 + p.

Setup: 32-h-h-10 ReLU MLPs, softmax + cross-entropy, n = 256 random examples (--quick: 64),
h = 32 to 1024 (--quick: 32 to 256). Reverse mode is ``jax.grad`` of the cost, R times inside one
compiled loop, divided by R (median of 5 calls, 3 with --quick). Forward mode is ``lax.map`` of
``jax.jvp`` along e_i over the parameters, ``CHUNK`` at a time (vmap), timed on the first m
parameters (about 4e9 flops, median of 3 calls after a warm-up); where |w| <= 8,000 all |w| jvps
are computed too, checked against ``jax.grad`` and, at the smallest width, ``jax.jacfwd``.

Criterion: flops log-log slope in [1.9, 2.1] for forward mode and [0.9, 1.1] for reverse mode;
CPU-time exponent k (with the intercept) in [1.7, 2.3] for forward and [0.7, 1.3] for reverse.
"""

import os

# One XLA thread, as in backprop_cost.py: CPU times then count operations.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    " intra_op_parallelism_threads=1"
)

import common  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from backprop_cost import (  # noqa: E402
    FULL_LIMIT,
    fitted,
    gradient_cost,
    log_slope,
    per_weight_cost,
    power_fit,
    problem,
    settings,
    weights_timed,
    whole_gradient,
)
from jax.flatten_util import ravel_pytree  # noqa: E402

NAME = "forward_vs_reverse"
CLAIM = (
    "seed 004: the gradient of a scalar cost by forward mode needs one jvp per parameter, "
    "O(|w|^2), by reverse mode one vjp, O(|w|): XLA operation counts and CPU time (fixed cost "
    "fitted as an intercept) grow with exponents near 2 and 1"
)
CRITERION = (
    "flops log-log slope: forward (jvp per parameter) in [1.9, 2.1], reverse (jax.grad) in "
    "[0.9, 1.1]; CPU-time exponent k of t = c + a|w|^k: forward in [1.7, 2.3], reverse in "
    "[0.7, 1.3]"
)


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    widths, n, repeats = settings(args.quick)
    rows = []
    for h in widths:
        net, params, x, t = problem(h, n, args.seed)
        flat, unravel = ravel_pytree(params)
        cost = lambda f, x=x, t=t, net=net, unravel=unravel: net.cost(unravel(f), x, t)  # noqa: E731

        def one(f, i, cost=cost):  # dE/dw_i = J e_i: one jvp along the i-th parameter
            return jax.jvp(cost, (f,), (jnp.zeros_like(f).at[i].set(1.0),))[1]

        rev_cpu, rev_wall, rev_flops = gradient_cost(jax.grad(cost), flat, repeats)
        m = weights_timed(n, flat.size)
        fwd_cpu, fwd_wall, fwd_flops = per_weight_cost(one, flat, m, 3)
        row = {
            "width": h,
            "n_params": net.n_params,
            "reverse_s": rev_cpu,
            "reverse_wall_s": rev_wall,
            "reverse_flops": rev_flops,
            "forward_per_jvp_s": fwd_cpu,
            "forward_per_jvp_wall_s": fwd_wall,
            "forward_s": fwd_cpu * flat.size,
            "forward_flops": fwd_flops * flat.size,
            "jvps_timed": m,
        }
        if flat.size <= FULL_LIMIT:
            g_fwd, fwd_whole = whole_gradient(one, flat)
            g_rev = jax.jit(jax.grad(cost))(flat)
            row["forward_whole_s"] = fwd_whole
            row["forward_vs_reverse_max_abs_diff"] = float(jnp.max(jnp.abs(g_fwd - g_rev)))
            if h == widths[0]:
                g_jacfwd = jax.jit(jax.jacfwd(cost))(flat)
                row["forward_vs_jacfwd_max_abs_diff"] = float(jnp.max(jnp.abs(g_fwd - g_jacfwd)))
        row["ratio"] = row["forward_s"] / row["reverse_s"]
        rows.append(row)
        print({k: f"{v:.4g}" for k, v in row.items()}, flush=True)

    sizes = [r["n_params"] for r in rows]
    rev_fit = power_fit(sizes, [r["reverse_s"] for r in rows])
    jvp_fit = power_fit(sizes, [r["forward_per_jvp_s"] for r in rows])
    fwd_k = 1 + jvp_fit["k"]
    fwd_flops_slope = log_slope(sizes, [r["forward_flops"] for r in rows])
    rev_flops_slope = log_slope(sizes, [r["reverse_flops"] for r in rows])
    checks = {
        "forward_flops_slope_in_1.9_2.1": 1.9 <= fwd_flops_slope <= 2.1,
        "reverse_flops_slope_in_0.9_1.1": 0.9 <= rev_flops_slope <= 1.1,
        "forward_time_exponent_in_1.7_2.3": 1.7 <= fwd_k <= 2.3,
        "reverse_time_exponent_in_0.7_1.3": 0.7 <= rev_fit["k"] <= 1.3,
    }
    plot(args, rows, jvp_fit, rev_fit, fwd_flops_slope, rev_flops_slope)
    metrics = {
        "forward_time_exponent": fwd_k,
        "reverse_time_exponent": rev_fit["k"],
        "forward_flops_slope": fwd_flops_slope,
        "reverse_flops_slope": rev_flops_slope,
        "checks": checks,
        "reverse_fixed_cost_s": rev_fit["c"],
        "forward_fixed_cost_per_jvp_s": jvp_fit["c"],
        "plain_loglog_time_slopes": {
            "forward": log_slope(sizes, [r["forward_s"] for r in rows]),
            "reverse": log_slope(sizes, [r["reverse_s"] for r in rows]),
        },
        "largest_forward_over_reverse": rows[-1]["ratio"],
        "rows": rows,
        "setup": {
            "net": "32-h-h-10 relu, softmax + cross_entropy, float32",
            "n_examples": n,
            "timing": "process CPU time on one XLA thread; reverse: median of calls of a "
            "compiled loop of R gradients, divided by R; forward: median of 3 calls of a "
            "compiled lax.map of jvp (8 per vmap) over the first m parameters, scaled by |w|",
            "flops": "cost_analysis()['flops'] of the compiled jax.grad; of one compiled chunk "
            "of 8 jvps, divided by 8, times |w| for forward mode",
            "machine_load": "shared 2-core CPU with other jobs running (wall times noisier)",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=all(checks.values()),
        metrics=metrics,
    )  # fmt: skip


def plot(args, rows, jvp_fit, rev_fit, fwd_flops_slope, rev_flops_slope):
    plt = common.pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8))
    sizes = np.array([r["n_params"] for r in rows], float)
    smooth = np.geomspace(sizes[0], sizes[-1], 100)
    fwd = ax.loglog(sizes, [r["forward_s"] for r in rows], "s", label="forward: |w| jvps")[0]
    ax.loglog(smooth, fitted(jvp_fit, smooth, 1), "-", color=fwd.get_color(),
              label=f"fit |w|(c + a|w|^p): k = 1 + p = {1 + jvp_fit['k']:.2f}")  # fmt: skip
    rev = ax.loglog(sizes, [r["reverse_s"] for r in rows], "o", label="reverse: jax.grad")[0]
    ax.loglog(smooth, fitted(rev_fit, smooth), "-", color=rev.get_color(),
              label=f"fit c + a|w|^k: k = {rev_fit['k']:.2f}, "
              f"c = {rev_fit['c'] * 1e6:.0f} us")  # fmt: skip
    whole = [(r["n_params"], r["forward_whole_s"]) for r in rows if "forward_whole_s" in r]
    if whole:
        ax.loglog(*zip(*whole), "kx", ms=9, label="forward, all |w| jvps timed")
    ax.set(xlabel="number of parameters |w|", ylabel="CPU seconds per gradient (one thread)",
           title="time")  # fmt: skip
    ax.legend(fontsize=8)
    for key, label, slope in (
        ("forward_flops", "forward mode", fwd_flops_slope),
        ("reverse_flops", "reverse mode", rev_flops_slope),
    ):
        bx.loglog(sizes, [r[key] for r in rows], "o-", label=f"{label}: slope {slope:.3f}")
    bx.set(xlabel="number of parameters |w|", ylabel="flops per gradient (XLA cost analysis)",
           title="operation count")  # fmt: skip
    bx.legend()
    fig.suptitle("seed 004: the gradient of a scalar cost, forward mode O(|w|^2), reverse O(|w|)")
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
