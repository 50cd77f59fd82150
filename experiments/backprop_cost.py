"""The cost of one gradient: backprop O(|w|) against finite differences O(|w|^2).

Claim (seed 000): "A single evaluation of error function derivatives requires O(|w|) steps"
with backpropagation, while central finite differences, perturbing each weight in turn, need
"O(|w|) steps for each weight, hence O(|w|^2) steps overall".

The claim is asymptotic, so it is measured where the asymptotics hold and in two currencies:
  * operations: XLA's own count (``jax.jit(f).lower(...).compile().cost_analysis()["flops"]``) of
    the compiled gradient. XLA counts a loop body once, so the finite-difference count is that of
    one compiled chunk (``CHUNK`` perturbed cost evaluations, vmapped) times the number of chunks.
  * time: process CPU seconds on one XLA thread (XLA_FLAGS set here; other jobs on the shared
    cores inflate CPU time far less than wall time; wall times are recorded too). Every call has a
    fixed cost (dispatch, loop bookkeeping) that flattens a log-log slope at small sizes, so the
    exponent is fitted with that cost as an intercept: t = c + a |w|^k. For finite differences the
    fixed cost is paid per perturbed evaluation, so t / (2 |w|) = c + a |w|^p is fitted and the
    exponent of the whole gradient is k = 1 + p.

Setup: 32-h-h-10 ReLU MLPs (softmax + cross-entropy) on n = 256 random examples (--quick: 64),
h = 32 to 1024, so |w| = 2,442 to 1,093,642 (--quick: h = 32 to 256).
  * Backprop is ``net.backprop``, R times inside one compiled loop (each step moves the weights
    by 1e-30 x the gradient, so no step can be skipped), divided by R; median of 5 calls (3).
  * Finite differences, (E(w + eps e_i) - E(w - eps e_i)) / (2 eps), are ``lax.map`` over the
    weights, ``CHUNK`` at a time. At the large widths all |w| of them would take hours, so the
    time per evaluation is measured on the first m weights (about 4e9 flops of evaluations, m >=
    64; median of 3 calls after a warm-up); where |w| <= 8,000 the whole gradient is computed too,
    checked against backprop, and its time set beside the estimate 2 |w| x (time per evaluation).

Criterion: operation counts: log-log slope against |w| in [0.9, 1.1] for backprop and
[1.9, 2.1] for finite differences; CPU time: fitted exponent k (with the intercept) in
[0.7, 1.3] for backprop and [1.7, 2.3] for finite differences. All four must hold.
"""

import os
import time

# One XLA thread: on a shared 2-core machine, timings then count operations, not thread wake-ups.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    " intra_op_parallelism_threads=1"
)

import common  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

from jaxmlp import MLP  # noqa: E402

NAME = "backprop_cost"
CLAIM = (
    "seed 000: one backprop gradient costs O(|w|), central finite differences O(|w|^2): "
    "XLA operation counts and CPU time (fixed per-call cost fitted as an intercept) grow with "
    "exponents near 1 and 2"
)
CRITERION = (
    "flops log-log slope: backprop in [0.9, 1.1], finite differences in [1.9, 2.1]; CPU-time "
    "exponent k of t = c + a|w|^k: backprop in [0.7, 1.3], finite differences in [1.7, 2.3]"
)
D, K = 32, 10
EPS = 1e-3
CHUNK = 8  # perturbations evaluated together (vmap) by lax.map: amortises per-operation overhead
FULL_LIMIT = 8000  # whole finite-difference gradients only up to this |w|


def median_seconds(fn, *args, repeats=5, warmup=True):
    """``(cpu, wall)``: median seconds of ``fn(*args)`` over ``repeats`` calls, after one warm-up
    call (skip it with ``warmup=False`` for an ahead-of-time compiled ``fn``).

    cpu is the process time: with one XLA thread it counts the work done, and unlike wall time
    it does not grow when other jobs share the cores.
    """
    if warmup:
        jax.block_until_ready(fn(*args))
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        jax.block_until_ready(fn(*args))
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return float(np.median(cpu)), float(np.median(wall))


def problem(h, n, seed):
    """``(net, params, x (n, D), t (n,))``: a 32-h-h-10 ReLU network, N(0, 1/fan_in) weights, random
    data, drawn with numpy (no compilation: only the gradients are compiled here)."""
    net = MLP((D, h, h, K), "relu", "softmax", "cross_entropy")
    rng = np.random.default_rng(seed)
    params = [
        {
            "w": jnp.asarray(rng.standard_normal((i, o), np.float32) / np.sqrt(i)),
            "b": jnp.zeros(o, jnp.float32),
        }
        for i, o in zip(net.sizes, net.sizes[1:])
    ]
    net.check_params(params)
    x = jnp.asarray(rng.standard_normal((n, D), np.float32))
    return net, params, x, jnp.asarray(rng.integers(0, K, n, dtype=np.int32))


def flops(fn, *args) -> float:
    """XLA's operation count of the compiled ``fn(*args)`` (a loop body is counted once)."""
    return float(jax.jit(fn).lower(*args).compile().cost_analysis()["flops"])


def gradient_cost(grad, params, repeats):
    """``(cpu, wall, flops)`` of one ``grad(params)``: seconds from R gradients in one compiled
    loop, divided by R."""
    size = sum(p.size for p in jax.tree.leaves(params))
    r = max(1, int(3e8 / (6 * 256 * size)))  # about 0.05-0.3 s of work per call

    @jax.jit
    def loop(p):
        def body(_, p):
            return jax.tree.map(lambda w, g: w - 1e-30 * g, p, grad(p))

        return lax.fori_loop(0, r, body, p)

    cpu, wall = median_seconds(loop, params, repeats=repeats)
    return cpu / r, wall / r, flops(grad, params)


def per_weight_cost(one, flat, m, repeats):
    """``(cpu, wall, flops)`` per weight of the |w| one-weight computations ``one(flat, i)``:
    seconds from ``lax.map`` over the first ``m`` weights (``CHUNK`` per vmap; median of
    ``repeats`` calls after a warm-up call), flops from one compiled chunk divided by ``CHUNK``."""
    first = jax.jit(lambda f: lax.map(lambda i: one(f, i), jnp.arange(m), batch_size=CHUNK))
    cpu, wall = median_seconds(first, flat, repeats=repeats)
    chunk = flops(lambda f: jax.vmap(lambda i: one(f, i))(jnp.arange(CHUNK)), flat)
    return cpu / m, wall / m, chunk / CHUNK


def whole_gradient(one, flat):
    """All |w| one-weight computations: ``(values, cpu seconds of one call after a warm-up)``."""
    every = jax.jit(lambda f: lax.map(lambda i: one(f, i), jnp.arange(f.size), batch_size=CHUNK))
    values = jax.block_until_ready(every(flat))
    return values, median_seconds(every, flat, repeats=1, warmup=False)[0]


def log_slope(sizes, values) -> float:
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def power_fit(sizes, seconds) -> dict:
    """Least squares in log space of t = c + a s^k, c >= 0: ``{"c", "a", "k"}``."""
    s, t = np.asarray(sizes, float), np.asarray(seconds, float)
    k0 = log_slope(s, t)
    start = [np.log(t.min() / 10), np.log(t[-1]) - k0 * np.log(s[-1]), k0]

    def residuals(p):
        log_c, log_a, k = p
        return np.log(np.exp(log_c) + np.exp(log_a + k * np.log(s))) - np.log(t)

    log_c, log_a, k = least_squares(residuals, start).x
    return {"c": float(np.exp(log_c)), "a": float(np.exp(log_a)), "k": float(k)}


def settings(quick):
    """``(widths, n, repeats)``."""
    if quick:
        return [32, 64, 128, 256], 64, 3
    return [32, 64, 128, 256, 512, 1024], 256, 5


def weights_timed(n, size):
    """How many one-weight computations to time: about 4e9 flops of cost evaluations, a multiple
    of ``CHUNK`` between 64 and |w|."""
    return min(size, max(64, int(4e9 / (4 * n * size)) // CHUNK * CHUNK))


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    widths, n, repeats = settings(args.quick)
    rows = []
    for h in widths:
        net, params, x, t = problem(h, n, args.seed)
        flat, unravel = ravel_pytree(params)
        cost = lambda f, x=x, t=t, net=net, unravel=unravel: net.cost(unravel(f), x, t)  # noqa: E731

        def one(f, i, cost=cost):  # dE/dw_i by central differences: two cost evaluations
            e = jnp.zeros_like(f).at[i].set(EPS)
            return (cost(f + e) - cost(f - e)) / (2 * EPS)

        bp_cpu, bp_wall, bp_flops = gradient_cost(
            lambda p, net=net, x=x, t=t: net.backprop(p, x, t), params, repeats
        )
        m = weights_timed(n, flat.size)
        fd_cpu, fd_wall, fd_flops = per_weight_cost(one, flat, m, 3)
        row = {
            "width": h,
            "n_params": net.n_params,
            "backprop_s": bp_cpu,
            "backprop_wall_s": bp_wall,
            "backprop_flops": bp_flops,
            "fd_per_evaluation_s": fd_cpu / 2,
            "fd_per_evaluation_wall_s": fd_wall / 2,
            "finite_differences_s": fd_cpu * flat.size,
            "finite_differences_flops": fd_flops * flat.size,
            "fd_weights_timed": m,
        }
        if flat.size <= FULL_LIMIT:
            fd_grad, fd_whole = whole_gradient(one, flat)
            bp_grad, _ = ravel_pytree(jax.jit(net.backprop)(params, x, t))
            row["finite_differences_whole_s"] = fd_whole
            row["fd_vs_backprop_max_abs_diff"] = float(jnp.max(jnp.abs(fd_grad - bp_grad)))
        row["ratio"] = row["finite_differences_s"] / row["backprop_s"]
        rows.append(row)
        print({k: f"{v:.4g}" for k, v in row.items()}, flush=True)

    sizes = [r["n_params"] for r in rows]
    bp_fit = power_fit(sizes, [r["backprop_s"] for r in rows])
    eval_fit = power_fit(sizes, [r["fd_per_evaluation_s"] for r in rows])
    fd_k = 1 + eval_fit["k"]
    bp_flops_slope = log_slope(sizes, [r["backprop_flops"] for r in rows])
    fd_flops_slope = log_slope(sizes, [r["finite_differences_flops"] for r in rows])
    checks = {
        "backprop_flops_slope_in_0.9_1.1": 0.9 <= bp_flops_slope <= 1.1,
        "fd_flops_slope_in_1.9_2.1": 1.9 <= fd_flops_slope <= 2.1,
        "backprop_time_exponent_in_0.7_1.3": 0.7 <= bp_fit["k"] <= 1.3,
        "fd_time_exponent_in_1.7_2.3": 1.7 <= fd_k <= 2.3,
    }
    plot(args, rows, bp_fit, eval_fit, bp_flops_slope, fd_flops_slope)
    metrics = {
        "finite_differences_time_exponent": fd_k,
        "backprop_time_exponent": bp_fit["k"],
        "finite_differences_flops_slope": fd_flops_slope,
        "backprop_flops_slope": bp_flops_slope,
        "checks": checks,
        "backprop_fixed_cost_s": bp_fit["c"],
        "fd_fixed_cost_per_evaluation_s": eval_fit["c"],
        "plain_loglog_time_slopes": {
            "backprop": log_slope(sizes, [r["backprop_s"] for r in rows]),
            "finite_differences": log_slope(sizes, [r["finite_differences_s"] for r in rows]),
        },
        "largest_fd_over_backprop_time": rows[-1]["ratio"],
        "rows": rows,
        "setup": {
            "net": f"{D}-h-h-{K} relu, softmax + cross_entropy, float32",
            "n_examples": n,
            "eps": EPS,
            "timing": "process CPU time on one XLA thread; backprop: median of calls of a "
            "compiled loop of R gradients, divided by R; finite differences: one call of an "
            f"compiled lax.map ({CHUNK} per vmap) over the first m weights (median of 3), "
            "scaled by |w| (the whole gradient too where |w| <= 8000)",
            "flops": "cost_analysis()['flops'] of the compiled backprop; of one compiled chunk "
            f"of {CHUNK} perturbed weights, divided by {CHUNK}, times |w| for finite differences",
            "machine_load": "shared 2-core CPU with other jobs running (wall times noisier)",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=all(checks.values()),
        metrics=metrics,
    )  # fmt: skip


def fitted(fit, sizes, per_size_power=0):
    return (fit["c"] + fit["a"] * sizes ** fit["k"]) * sizes**per_size_power


def plot(args, rows, bp_fit, eval_fit, bp_flops_slope, fd_flops_slope):
    plt = common.pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8))
    sizes = np.array([r["n_params"] for r in rows], float)
    smooth = np.geomspace(sizes[0], sizes[-1], 100)
    bp = ax.loglog(sizes, [r["backprop_s"] for r in rows], "o", label="backprop")[0]
    ax.loglog(smooth, fitted(bp_fit, smooth), "-", color=bp.get_color(),
              label=f"fit c + a|w|^k: k = {bp_fit['k']:.2f}, "
              f"c = {bp_fit['c'] * 1e6:.0f} us")  # fmt: skip
    fd = ax.loglog(sizes, [r["finite_differences_s"] for r in rows], "s",
                   label="finite differences (2|w| x time per evaluation)")[0]  # fmt: skip
    ax.loglog(smooth, 2 * fitted(eval_fit, smooth, 1), "-", color=fd.get_color(),
              label=f"fit 2|w|(c + a|w|^p): k = 1 + p = {1 + eval_fit['k']:.2f}")  # fmt: skip
    whole = [(r["n_params"], r["finite_differences_whole_s"]) for r in rows
             if "finite_differences_whole_s" in r]  # fmt: skip
    if whole:
        ax.loglog(*zip(*whole), "kx", ms=9, label="finite differences, whole gradient timed")
    ax.set(xlabel="number of weights |w|", ylabel="CPU seconds per gradient (one thread)",
           title="time")  # fmt: skip
    ax.legend(fontsize=8)
    for key, label, slope in (
        ("backprop_flops", "backprop", bp_flops_slope),
        ("finite_differences_flops", "finite differences", fd_flops_slope),
    ):
        bx.loglog(sizes, [r[key] for r in rows], "o-", label=f"{label}: slope {slope:.3f}")
    bx.set(xlabel="number of weights |w|", ylabel="flops per gradient (XLA cost analysis)",
           title="operation count")  # fmt: skip
    bx.legend()
    fig.suptitle("seed 000: the cost of one gradient, O(|w|) by backprop, O(|w|^2) by finite "
                 "differences")  # fmt: skip
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
