"""The cost of a Hessian-vector product: the hand R-operator against one gradient and against jax.

Claim (seed 000, with Pearlmutter 1994): backpropagation extends to the Hessian; the R-operator
gives Hv exactly "at about the cost of one gradient" -- one forward, one R-forward and one
R-backward pass, so a few gradients' worth of work, and, written by hand, no slower than autodiff's
forward-over-reverse ``jax.jvp(jax.grad(E))``.

Setup: 32-h-h-10 tanh MLPs (softmax + cross-entropy, float32) on n = 256 random examples, h = 32
to 256 (--quick: n = 128, h = 32 and 128). Each product is compiled and run R times inside one
``lax.fori_loop`` (each iteration moves the weights by 1e-30 x the result, so none is skipped) and
timed in process CPU time on one XLA thread. A round times every product once, in an order that
rotates from round to round; 9 rounds (5 with --quick). A time is the median over rounds divided
by R; a ratio is the median over rounds of the two products' times in the same round (so that the
shared machine's drifting load touches both alike), with its min-max. The products: the hand
gradient ``net.backprop``, the hand ``curvature.hvp``, ``jax.jvp(jax.grad(net.cost))``, the hand
Gauss-Newton product ``curvature.gnvp``, and, as the before of the last change, the hand Hv with
every weight product as ``a^T G`` (``before_hvp``: XLA:CPU's matmul is slow when its output's last
dimension is the short one, the narrowing output layer's (h, 10)).

Criterion: at every width, hand Hv costs at most 3 hand gradients, and is not slower than jax's
forward-over-reverse Hv (median per-round ratio <= 1)."""

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
    "CPU time per product, one thread, median per-round ratio of products timed in the same "
    "round: hand Hv <= 3 hand gradients and <= 1.0 x jax.jvp(jax.grad) at every width"
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


def side_by_side(products: dict, params, r, rounds) -> dict:
    """CPU seconds per call of each product in every round, ``{name: array (rounds,)}``; the
    loops are timed in turn, in an order that rotates from round to round."""
    loops = {name: loop_of(f, r) for name, f in products.items()}
    for loop in loops.values():
        jax.block_until_ready(loop(params))  # compile and warm up
    names = list(loops)
    cpu = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.process_time()
            jax.block_until_ready(loops[name](params))
            cpu[name].append((time.process_time() - start) / r)
    return {name: np.asarray(c) for name, c in cpu.items()}


def ratio(cpu: dict, a: str, b: str) -> dict:
    """The median over rounds of a's time over b's in the same round, with its min-max."""
    q = cpu[a] / cpu[b]
    return {"median": float(np.median(q)), "min": float(q.min()), "max": float(q.max())}


def before_hvp(net, params, x, t, v):
    """``curvature.hvp`` as it was before the orientation rule: every weight product of the
    R-backward pass as ``sum a^T G`` (``curvature._sum_of_products`` swapped while tracing)."""
    kept = curvature._sum_of_products
    curvature._sum_of_products = lambda pairs: sum(a.T @ g for a, g in pairs)
    try:
        return curvature.hvp(net, params, x, t, v)
    finally:
        curvature._sum_of_products = kept


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
    rounds = 5 if args.quick else 9
    load_start = os.getloadavg()[0]
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
            "before_hvp": lambda p, net=net, x=x, t=t, v=v: before_hvp(net, p, x, t, v),
        }
        r = max(1, int((4e8 if args.quick else 1.5e9) / (6 * n * net.n_params)))
        row = {"width": h, "n_params": net.n_params, "loop_length": r}
        cpu = side_by_side(products, params, r, rounds)
        row |= {f"{name}_s": float(np.median(c)) for name, c in cpu.items()}
        hand, auto, before = (
            ravel_pytree(products[name](params))[0]
            for name in ("hand_hvp", "jax_hvp", "before_hvp")
        )
        scale = jnp.max(jnp.abs(auto))
        row["hvp_float32_rel_diff"] = float(jnp.max(jnp.abs(hand - auto)) / scale)
        row["before_float32_rel_diff"] = float(jnp.max(jnp.abs(before - auto)) / scale)
        row["hvp_over_gradient"] = ratio(cpu, "hand_hvp", "gradient")
        row["hand_over_jax_hvp"] = ratio(cpu, "hand_hvp", "jax_hvp")
        row["before_over_jax_hvp"] = ratio(cpu, "before_hvp", "jax_hvp")
        row["hand_over_before_hvp"] = ratio(cpu, "hand_hvp", "before_hvp")
        row["gnvp_over_gradient"] = ratio(cpu, "hand_gnvp", "gradient")
        rows.append(row)
        print(
            f"h={h}: hand Hv / jax Hv {row['hand_over_jax_hvp']['median']:.3f}, before / jax "
            f"{row['before_over_jax_hvp']['median']:.3f}, hand Hv / gradient "
            f"{row['hvp_over_gradient']['median']:.2f}, Gv / gradient "
            f"{row['gnvp_over_gradient']['median']:.2f}",
            flush=True,
        )
    worst_cost = max(r["hvp_over_gradient"]["median"] for r in rows)
    worst_vs_jax = max(r["hand_over_jax_hvp"]["median"] for r in rows)
    reproduced = worst_cost <= 3.0 and worst_vs_jax <= 1.0
    plot(args, rows)
    metrics = {
        "worst_hand_over_jax_hvp": worst_vs_jax,
        "worst_hvp_over_gradient": worst_cost,
        "rows": rows,
        "setup": {
            "net": f"{D}-h-h-{K} tanh, softmax + cross_entropy, float32",
            "n_examples": n,
            "rounds": rounds,
            "timing": "process CPU time on one XLA thread of a compiled loop of R products, "
            "divided by R; each round times every product once, in an order rotating from round "
            "to round; ratios are medians (min-max) over rounds of same-round ratios",
            "machine_load": "shared 2-core CPU with other jobs running; 1-minute load average "
            f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
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
        ("before_over_jax_hvp", "hand Hv before (all a^T G) / jax"),
        ("gnvp_over_gradient", "hand Gv / hand gradient"),
    ):
        ax.semilogx(sizes, [r[key]["median"] for r in rows], "o-", label=label)
    ax.axhline(3.0, color="grey", ls=":", lw=1)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel("number of weights |w|")
    ax.set_ylabel("ratio of CPU times (median over rounds, one thread)")
    ax.set_title("cost of curvature products, measured side by side")
    ax.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
