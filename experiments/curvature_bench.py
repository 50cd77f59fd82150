"""The cost of a Hessian-vector product: the hand R-operator against one gradient and against jax.

Claim (seed 000, with Pearlmutter 1994): backpropagation extends to the Hessian; the R-operator
gives Hv exactly "at about the cost of one gradient" -- one forward, one R-forward and one
R-backward pass, so a few gradients' worth of work, and, written by hand, no slower than autodiff's
forward-over-reverse ``jax.jvp(jax.grad(E))``.

Setup: 32-h-h-10 tanh MLPs (softmax + cross-entropy, float32) on n = 256 random examples, h = 32
to 256 (--quick: n = 128, h = 32 and 128). Four products, each compiled and run R times inside one
``lax.fori_loop`` (each iteration moves the weights by 1e-30 x the result, so none is skipped),
median process CPU time of 7 calls (5 with --quick) on one XLA thread, divided by R, the four
loops timed in turn (round robin) in the same process: the hand gradient ``net.backprop``, the
hand ``curvature.hvp``, ``jax.jvp(jax.grad(net.cost))`` and the hand Gauss-Newton product
``curvature.gnvp``.

Criterion: at every width, hand Hv costs at most 3 hand gradients, and at most 1.1 times jax's
forward-over-reverse Hv (not slower, within timing noise).
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

from jaxmlp import MLP, curvature  # noqa: E402

NAME = "curvature_bench"
CLAIM = (
    "seed 000 (Pearlmutter 1994): the R-operator gives Hv for a few gradients' cost, and the "
    "hand passes are no slower than jax.jvp(jax.grad)"
)
CRITERION = (
    "median CPU time per product, one thread, side by side: hand Hv <= 3 hand gradients and "
    "<= 1.1 x jax.jvp(jax.grad) at every width"
)
D, K = 32, 10


def loop_of(product, r):
    """A compiled loop of ``r`` calls of ``product(params)``."""

    @jax.jit
    def loop(p):
        def body(_, p):
            out = product(p)
            return jax.tree.map(lambda w, g: w - 1e-30 * g, p, out)

        return lax.fori_loop(0, r, body, p)

    return loop


def side_by_side(products: dict, params, r, repeats) -> dict:
    """Median CPU seconds per call of each product, the loops timed in turn (round robin), so
    that a change in the machine's load touches every product alike."""
    loops = {name: loop_of(f, r) for name, f in products.items()}
    for loop in loops.values():
        jax.block_until_ready(loop(params))  # compile and warm up
    cpu = {name: [] for name in loops}
    for _ in range(repeats):
        for name, loop in loops.items():
            start = time.process_time()
            jax.block_until_ready(loop(params))
            cpu[name].append(time.process_time() - start)
    return {name: float(np.median(c)) / r for name, c in cpu.items()}


def problem(h, n, seed):
    net = MLP((D, h, h, K), "tanh", "softmax", "cross_entropy")
    rng = np.random.default_rng(seed)
    params = [
        {
            "w": jnp.asarray(rng.standard_normal((i, o), np.float32) / np.sqrt(i)),
            "b": jnp.zeros(o, jnp.float32),
        }
        for i, o in zip(net.sizes, net.sizes[1:])
    ]
    x = jnp.asarray(rng.standard_normal((n, D), np.float32))
    t = jax.nn.one_hot(rng.integers(0, K, n), K, dtype=jnp.float32)
    v = jax.tree.map(lambda w: jnp.asarray(rng.standard_normal(w.shape), np.float32), params)
    return net, params, x, t, v


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    widths = [32, 128] if args.quick else [32, 64, 128, 256]
    n = 128 if args.quick else 256
    repeats = 5 if args.quick else 7
    rows = []
    for h in widths:
        net, params, x, t, v = problem(h, n, args.seed)
        products = {
            "gradient": lambda p, net=net, x=x, t=t: net.backprop(p, x, t),
            "hand_hvp": lambda p, net=net, x=x, t=t, v=v: curvature.hvp(net, p, x, t, v),
            "jax_hvp": lambda p, net=net, x=x, t=t, v=v: jax.jvp(
                jax.grad(lambda q: net.cost(q, x, t)), (p,), (v,)
            )[1],
            "hand_gnvp": lambda p, net=net, x=x, t=t, v=v: curvature.gnvp(net, p, x, t, v),
        }
        r = max(1, int((4e8 if args.quick else 1.5e9) / (6 * n * net.n_params)))
        row = {"width": h, "n_params": net.n_params, "loop_length": r}
        seconds = side_by_side(products, params, r, repeats)
        row |= {f"{name}_s": s for name, s in seconds.items()}
        hand, auto = (
            ravel_pytree(f(params))[0] for f in (products["hand_hvp"], products["jax_hvp"])
        )
        row["hvp_float32_rel_diff"] = float(jnp.max(jnp.abs(hand - auto)) / jnp.max(jnp.abs(auto)))
        row["hvp_over_gradient"] = row["hand_hvp_s"] / row["gradient_s"]
        row["hand_over_jax_hvp"] = row["hand_hvp_s"] / row["jax_hvp_s"]
        row["gnvp_over_gradient"] = row["hand_gnvp_s"] / row["gradient_s"]
        rows.append(row)
        print(row, flush=True)
    worst_cost = max(r["hvp_over_gradient"] for r in rows)
    worst_vs_jax = max(r["hand_over_jax_hvp"] for r in rows)
    reproduced = worst_cost <= 3.0 and worst_vs_jax <= 1.1
    plot(args, rows)
    metrics = {
        "worst_hvp_over_gradient": worst_cost,
        "worst_hand_over_jax_hvp": worst_vs_jax,
        "rows": rows,
        "setup": {
            "net": f"{D}-h-h-{K} tanh, softmax + cross_entropy, float32",
            "n_examples": n,
            "timing": "process CPU time on one XLA thread; median of calls of a compiled loop of "
            "R products, divided by R; the four products timed one after another in one process",
            "machine_load": "shared 2-core CPU with other jobs running",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, rows):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = np.array([r["n_params"] for r in rows], float)
    for key, label in (
        ("hvp_over_gradient", "hand Hv / hand gradient"),
        ("hand_over_jax_hvp", "hand Hv / jax.jvp(jax.grad)"),
        ("gnvp_over_gradient", "hand Gv / hand gradient"),
    ):
        ax.semilogx(sizes, [r[key] for r in rows], "o-", label=label)
    ax.axhline(3.0, color="grey", ls=":", lw=1)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel("number of weights |w|")
    ax.set_ylabel("ratio of CPU times (median, one thread)")
    ax.set_title("cost of curvature products, measured side by side")
    ax.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
