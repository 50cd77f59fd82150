"""The gradient by forward-mode against reverse-mode automatic differentiation.

Claim (seed 004, "Automatic differentiation"): forward accumulation carries derivatives from the
inputs to the output, one tangent direction per pass; reverse accumulation carries them from the
output back, one cotangent per pass. For a scalar cost of |w| parameters the gradient takes |w|
forward passes (one jvp per parameter), cost O(|w|^2), but a single reverse pass (one vjp), cost
O(|w|).

Setup: the networks and timing of ``backprop_cost.py``: 32-h-h-10 ReLU MLPs, softmax +
cross-entropy, n = 256 random examples, h = 32 to 128 (--quick: n = 128, h = 32 to 64), process
CPU time on one XLA thread. Forward mode is ``lax.map`` over the parameters, 8 at a time (vmap),
of ``jax.jvp`` of the cost along e_i: one compiled call, timed once. Reverse mode is ``jax.grad``
of the cost, R times inside one compiled loop, divided by R (median of 5 calls, 3 with --quick).
The two gradients are checked against each other and, at the smallest width, against
``jax.jacfwd``. The slope of the ratio of the two times is reported as well.

Criterion: the log-log slope of CPU time against |w| is within [1.7, 2.3] for forward mode and
within [0.7, 1.3] for reverse mode.
"""

import os
import time

# One XLA thread, as in backprop_cost.py: CPU times then count operations.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    " intra_op_parallelism_threads=1"
)

import common  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from backprop_cost import CHUNK, log_slope, median_seconds, problem  # noqa: E402
from jax import lax  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

NAME = "forward_vs_reverse"
CLAIM = (
    "seed 004: the gradient of a scalar cost by forward mode needs one jvp per parameter, "
    "O(|w|^2), by reverse mode one vjp, O(|w|): log-log slopes near 2 and 1"
)
CRITERION = (
    "log-log least-squares slope of median CPU time against |w|: forward mode (lax.map of jvp) "
    "in [1.7, 2.3], reverse mode (jax.grad) in [0.7, 1.3]"
)


def forward_mode(net, params, x, t):
    """The compiled gradient by one ``jax.jvp`` per parameter, dE/dw_i = J e_i, ``CHUNK``
    parameters at a time."""
    flat, unravel = ravel_pytree(params)
    cost = lambda f: net.cost(unravel(f), x, t)  # noqa: E731

    def grad(flat):  # compiled ahead of time: no warm-up run needed to time it
        def one(i):
            return jax.jvp(cost, (flat,), (jnp.zeros_like(flat).at[i].set(1.0),))[1]

        return lax.map(one, jnp.arange(flat.size), batch_size=CHUNK)

    return jax.jit(grad).lower(flat).compile(), flat, cost


def reverse_seconds(net, params, x, t, repeats):
    """``(cpu, wall)`` seconds per ``jax.grad`` of the cost, from R gradients in one compiled
    loop."""
    r = max(1, int(3e8 / (6 * x.shape[0] * net.n_params)))
    grad = jax.grad(net.cost)

    @jax.jit
    def loop(p):
        def body(_, p):
            return jax.tree.map(lambda w, g: w - 1e-30 * g, p, grad(p, x, t))

        return lax.fori_loop(0, r, body, p)

    cpu, wall = median_seconds(loop, params, repeats=repeats)
    return cpu / r, wall / r


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    widths = [32, 48, 64] if args.quick else [32, 48, 64, 96, 128]
    n = 128 if args.quick else 256
    repeats = 3 if args.quick else 5
    rows = []
    for h in widths:
        net, params, x, t = problem(h, n, args.seed)
        fwd, flat, cost = forward_mode(net, params, x, t)
        rev_cpu, rev_wall = reverse_seconds(net, params, x, t, repeats)
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        g_fwd = jax.block_until_ready(fwd(flat))  # one call: itself |w| jvps
        fwd_cpu, fwd_wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
        g_rev = jax.jit(jax.grad(cost))(flat)
        row = {
            "width": h,
            "n_params": net.n_params,
            "forward_s": fwd_cpu,
            "reverse_s": rev_cpu,
            "forward_wall_s": fwd_wall,
            "reverse_wall_s": rev_wall,
            "forward_vs_reverse_max_abs_diff": float(jnp.max(jnp.abs(g_fwd - g_rev))),
        }
        if h == widths[0]:
            row["forward_vs_jacfwd_max_abs_diff"] = float(
                jnp.max(jnp.abs(g_fwd - jax.jit(jax.jacfwd(cost))(flat)))
            )
        row["ratio"] = row["forward_s"] / row["reverse_s"]
        rows.append(row)
        print(row, flush=True)
    sizes = [r["n_params"] for r in rows]
    fwd_slope = log_slope(sizes, [r["forward_s"] for r in rows])
    rev_slope = log_slope(sizes, [r["reverse_s"] for r in rows])
    ratio_slope = log_slope(sizes, [r["ratio"] for r in rows])
    reproduced = 1.7 <= fwd_slope <= 2.3 and 0.7 <= rev_slope <= 1.3
    plot(args, rows, fwd_slope, rev_slope)
    metrics = {
        "forward_slope": fwd_slope,
        "reverse_slope": rev_slope,
        "ratio_slope": ratio_slope,
        "largest_forward_over_reverse": rows[-1]["ratio"],
        "rows": rows,
        "setup": {
            "net": "32-h-h-10 relu, softmax + cross_entropy, float32",
            "n_examples": n,
            "timing": "process CPU time on one XLA thread; reverse: median of calls of a "
            "compiled loop of R gradients, divided by R; forward: one call of the ahead-of-time "
            "compiled lax.map of jvp over the parameters (8 per vmap)",
            "machine_load": "shared 2-core CPU with other jobs running (wall times noisier)",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, rows, fwd_slope, rev_slope):
    plt = common.pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8))
    sizes = np.array([r["n_params"] for r in rows], float)
    for key, label, fitted, power in (
        ("forward_s", "forward mode, |w| jvps", fwd_slope, 2),
        ("reverse_s", "reverse mode, one vjp (jax.grad)", rev_slope, 1),
    ):
        seconds = np.array([r[key] for r in rows])
        line = ax.loglog(sizes, seconds, "o-", label=f"{label}: slope {fitted:.2f}")[0]
        ax.loglog(sizes, seconds[0] * (sizes / sizes[0]) ** power, ":", color=line.get_color())
    ax.set_xlabel("number of parameters |w|")
    ax.set_ylabel("CPU seconds per gradient (median, one thread)")
    ax.set_title("the gradient of a scalar cost (dotted: |w|^2 and |w|)")
    ax.legend()
    bx.loglog(sizes, [r["ratio"] for r in rows], "o-", label="forward / reverse time")
    bx.loglog(sizes, sizes, ":", color="k", label="|w|")
    bx.set_xlabel("number of parameters |w|")
    bx.set_title("how much reverse mode saves")
    bx.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
