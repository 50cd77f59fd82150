"""The cost of one gradient: backprop O(|w|) against finite differences O(|w|^2).

Claim (seed 000): "A single evaluation of error function derivatives requires O(|w|) steps"
with backpropagation, while central finite differences, perturbing each weight in turn, need
"O(|w|) steps for each weight, hence O(|w|^2) steps overall".

Setup: 32-h-h-10 ReLU MLPs (softmax + cross-entropy) on n = 256 random examples, hidden widths
h = 32 to 128, so |w| = 2,442 to 22,026 (--quick: n = 128, h = 32 to 64). Both gradients are
compiled (the finite differences ahead of time) and timed on one CPU thread (XLA_FLAGS set here)
in process CPU time, which other jobs on the shared cores inflate far less than wall time (wall
times are recorded too).
  * Backprop is ``net.backprop``, run R times inside one compiled loop (each step moves the
    weights by 1e-30 x the gradient, so no step can be skipped), divided by R; the median of 5
    such calls (3 with --quick) after a warm-up call.
  * Finite differences are ``lax.map`` over the weights, 8 at a time (a vmap, which amortises
    XLA's per-operation overhead), of (E(w + eps e_i) - E(w - eps e_i)) / (2 eps): one call,
    itself 2 |w| cost evaluations, timed once.
The slope of the ratio of the two times is reported as well: it needs no assumption about how
the machine's efficiency changes with size, which shifts both slopes alike.

Criterion: the log-log slope of CPU time against |w| (least squares over the widths) is within
[0.7, 1.3] for backprop and within [1.7, 2.3] for finite differences.
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

from jaxmlp import MLP  # noqa: E402

NAME = "backprop_cost"
CLAIM = (
    "seed 000: one backprop gradient costs O(|w|), central finite differences O(|w|^2): "
    "log-log slopes of time against |w| near 1 and 2"
)
CRITERION = (
    "log-log least-squares slope of median CPU time against |w|: backprop in [0.7, 1.3], "
    "finite differences in [1.7, 2.3]"
)
D, K = 32, 10
EPS = 1e-3
CHUNK = 8  # perturbations evaluated together (vmap) by lax.map: amortises per-operation overhead


def median_seconds(fn, *args, repeats=5, warmup=True):
    """``(cpu, wall)``: median seconds of ``fn(*args)`` over ``repeats`` calls, after one warm-up
    call (pass an ahead-of-time compiled ``fn`` and ``warmup=False`` to skip it for slow ones).

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


def backprop_seconds(net, params, x, t, repeats):
    """``(cpu, wall)`` seconds per ``net.backprop``, from R gradients in one compiled loop."""
    r = max(1, int(3e8 / (6 * x.shape[0] * net.n_params)))  # about 0.05-0.1 s of work per call

    @jax.jit
    def loop(p):
        def body(_, p):
            grads = net.backprop(p, x, t)
            return jax.tree.map(lambda w, g: w - 1e-30 * g, p, grads)

        return lax.fori_loop(0, r, body, p)

    cpu, wall = median_seconds(loop, params, repeats=repeats)
    return cpu / r, wall / r


def finite_differences(net, params, x, t):
    """The compiled central-difference gradient: (E(w + eps e_i) - E(w - eps e_i)) / 2 eps for
    every weight i, ``CHUNK`` weights at a time."""
    flat, unravel = ravel_pytree(params)
    cost = lambda f: net.cost(unravel(f), x, t)  # noqa: E731

    def fd(flat):  # compiled ahead of time: no warm-up run needed to time it
        def one(i):
            e = jnp.zeros_like(flat).at[i].set(EPS)
            return (cost(flat + e) - cost(flat - e)) / (2 * EPS)

        return lax.map(one, jnp.arange(flat.size), batch_size=CHUNK)

    return jax.jit(fd).lower(flat).compile(), flat


def log_slope(sizes, seconds) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    widths = [32, 48, 64] if args.quick else [32, 48, 64, 96, 128]
    n = 128 if args.quick else 256
    repeats = 3 if args.quick else 5
    rows = []
    for h in widths:
        net, params, x, t = problem(h, n, args.seed)
        fd, flat = finite_differences(net, params, x, t)
        bp_grad, _ = ravel_pytree(jax.jit(net.backprop)(params, x, t))
        bp_cpu, bp_wall = backprop_seconds(net, params, x, t, repeats)
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        fd_grad = jax.block_until_ready(fd(flat))  # one call: itself 2 |w| cost evaluations
        fd_cpu, fd_wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
        row = {
            "width": h,
            "n_params": net.n_params,
            "backprop_s": bp_cpu,
            "finite_differences_s": fd_cpu,
            "backprop_wall_s": bp_wall,
            "finite_differences_wall_s": fd_wall,
            "fd_vs_backprop_max_abs_diff": float(jnp.max(jnp.abs(fd_grad - bp_grad))),
        }
        row["ratio"] = row["finite_differences_s"] / row["backprop_s"]
        rows.append(row)
        print(row, flush=True)
    sizes = [r["n_params"] for r in rows]
    bp_slope = log_slope(sizes, [r["backprop_s"] for r in rows])
    fd_slope = log_slope(sizes, [r["finite_differences_s"] for r in rows])
    ratio_slope = log_slope(sizes, [r["ratio"] for r in rows])
    reproduced = 0.7 <= bp_slope <= 1.3 and 1.7 <= fd_slope <= 2.3
    plot(args, rows, bp_slope, fd_slope)
    metrics = {
        "finite_differences_slope": fd_slope,
        "backprop_slope": bp_slope,
        "ratio_slope": ratio_slope,
        "rows": rows,
        "setup": {
            "net": f"{D}-h-h-{K} relu, softmax + cross_entropy, float32",
            "n_examples": n,
            "eps": EPS,
            "timing": "process CPU time on one XLA thread; backprop: median of calls of a "
            "compiled loop of R gradients, divided by R; finite differences: one call of the "
            "ahead-of-time compiled lax.map over the weights (8 per vmap)",
            "machine_load": "shared 2-core CPU with other jobs running (wall times noisier)",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, rows, bp_slope, fd_slope):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    sizes = np.array([r["n_params"] for r in rows], float)
    for key, label, fitted, power in (
        ("finite_differences_s", "central finite differences", fd_slope, 2),
        ("backprop_s", "backprop (net.backprop)", bp_slope, 1),
    ):
        seconds = np.array([r[key] for r in rows])
        line = ax.loglog(sizes, seconds, "o-", label=f"{label}: slope {fitted:.2f}")[0]
        ref = seconds[0] * (sizes / sizes[0]) ** power
        ax.loglog(sizes, ref, ":", color=line.get_color(), lw=1)
    ax.set_xlabel("number of weights |w|")
    ax.set_ylabel("CPU seconds per gradient (median, one thread)")
    ax.set_title("cost of one gradient (dotted: |w| and |w|^2 from the first point)")
    ax.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
