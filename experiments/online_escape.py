"""On-line gradient descent escapes the local minima that batch gradient descent falls into.

Claim (seed 000): on-line gradient descent, "only one training set element is used at each
step", "makes it possible to escape from local minima" (which batch descent, following the exact
gradient of the whole error, cannot leave).

Setup: XOR with the smallest network that can solve it, ``(2, 2, 1)`` sigmoid units, E = 1/2 SSE
summed over the four patterns, weights and biases uniform on [-1, 1], eta = 0.5, on the library's
hand ``net.backprop``; 1,000 starts at once (vmap; --quick: 300).
  1. Batch gradient descent for 20,000 epochs (--quick: 5,000). A run is stuck where it has not
     solved XOR (all four patterns on the right side of 0.5) and its gradient norm is below 1e-3:
     batch descent has come to rest. A stuck point is a local minimum when the quadratic model
     of E there (gradient g and Hessian H, float64, ``jax.hessian``) has one close by: H
     positive definite and its stationary point -H^-1 g closer than 0.01. A small gradient alone
     certifies nothing where the curvature is smaller still: on a plateau that falls towards
     infinite weights, where XOR's stuck runs sit (E still falls under more batch descent while
     the weights grow; both recorded).
  2. From every stuck point, 20,000 more epochs (--quick: 5,000) of (a) batch gradient descent
     and (b) on-line gradient descent, one pattern per step in a fresh random order each epoch,
     same eta. A run escapes when it solves XOR.

Criterion: at least 10 runs get stuck; on-line descent escapes from a larger share of them than
batch descent, with the two Wilson 95 % intervals apart, and from at least half of the stuck
points that are local minima by that test (when there are any; if none, from at least half of
all stuck points).
"""

import jax
import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, quadratic_minimum, save, wilson
from jax.flatten_util import ravel_pytree

from jaxmlp import MLP

X = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = jnp.array([[0.0], [1.0], [1.0], [0.0]])
ETA = 0.5
STEP_TOLERANCE = 0.01  # how far the quadratic model's stationary point may be from a minimum
NET = MLP((2, 2, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:-1,1")


def solved(params):
    return jnp.all((NET.apply(params, X) > 0.5) == (T > 0.5))


def grad_norm(params):
    return jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(NET.backprop(params, X, T))))


def batch(params, epochs):
    def step(p, _):
        return jax.tree.map(lambda w, g: w - ETA * g, p, NET.backprop(p, X, T)), None

    return jax.lax.scan(step, params, None, length=epochs)[0]


def online(params, key, epochs):
    def epoch(p, k):
        def step(p, i):
            grads = NET.backprop(p, X[i][None], T[i][None])
            return jax.tree.map(lambda w, g: w - ETA * g, p, grads), None

        return jax.lax.scan(step, p, jax.random.permutation(k, 4))[0], None

    return jax.lax.scan(epoch, params, jax.random.split(key, epochs))[0]


def finite(value):
    """A number for the JSON: None for an infinite Newton step (a singular Hessian)."""
    return float(value) if np.isfinite(value) else None


def local_minimum(g, h) -> dict:
    """The local-minimum test of a rest point with gradient ``g`` and Hessian ``h``
    (``common.quadratic_minimum``): ``h`` positive definite and the quadratic model's minimum
    -H^-1 g closer than ``STEP_TOLERANCE``."""
    return quadratic_minimum(g, h, step=STEP_TOLERANCE)


def main():
    jax.config.update("jax_enable_x64", True)  # the Hessians; this script is its own process
    args = parse_args(__doc__)
    n, epochs = (300, 5000) if args.quick else (1000, 20000)
    keys = jax.random.split(jax.random.key(args.seed), n)
    starts = jax.vmap(lambda k: NET.init(k, jnp.float64))(keys)
    ends = jax.jit(jax.vmap(lambda p: batch(p, epochs)))(starts)
    ok = np.asarray(jax.vmap(solved)(ends))
    norms = np.asarray(jax.vmap(grad_norm)(ends))
    stuck = np.flatnonzero(~ok & (norms < 1e-3))
    stuck_params = jax.tree.map(lambda a: a[stuck], ends)
    flat0, unravel = ravel_pytree(jax.tree.map(lambda a: a[0], ends))
    cost = lambda f: NET.cost(unravel(f), X, T)  # noqa: E731
    flats = jax.vmap(lambda p: ravel_pytree(p)[0])(stuck_params)
    hessians = np.asarray(jax.jit(jax.vmap(jax.hessian(cost)))(flats))
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(cost)))(flats))
    test = jax.vmap(local_minimum)(grads, hessians)
    min_eigen, steps = np.asarray(test["eig"][:, 0]), np.asarray(test["newton_step"])
    is_minimum = np.asarray(test["minimum"])
    more_batch = jax.jit(jax.vmap(lambda p: batch(p, epochs)))(stuck_params)
    later = jax.vmap(lambda p: ravel_pytree(p)[0])(more_batch)
    fall = np.asarray(jax.vmap(cost)(flats) - jax.vmap(cost)(later))
    growth = np.asarray(jnp.linalg.norm(later, axis=1) - jnp.linalg.norm(flats, axis=1))
    keys2 = jax.random.split(jax.random.key(args.seed + 1), len(stuck))
    more_online = jax.jit(jax.vmap(lambda p, k: online(p, k, epochs)))(stuck_params, keys2)
    esc_batch = np.asarray(jax.vmap(solved)(more_batch))
    esc_online = np.asarray(jax.vmap(solved)(more_online))
    losses = np.asarray(jax.vmap(lambda p: NET.cost(p, X, T))(stuck_params))
    m = len(stuck)
    summary = {
        "runs": n,
        "solved_by_batch": int(ok.sum()),
        "stuck": m,
        "stuck_that_are_minima": int(is_minimum.sum()),
        "stuck_with_positive_definite_hessian": int((min_eigen > 0).sum()),
        "stuck_where_more_batch_descent_lowers_E": int((fall > 0).sum()),
        "median_newton_step": finite(np.median(steps)) if m else None,
        "median_weight_norm_growth_more_batch": float(np.median(growth)) if m else None,
        "stuck_losses": sorted(set(np.round(losses, 4).tolist())),
        "escaped_batch": int(esc_batch.sum()),
        "escaped_online": int(esc_online.sum()),
        "escaped_online_from_minima": int((esc_online & is_minimum).sum()),
    }
    print(summary)
    if m:
        batch_ci, online_ci = wilson(int(esc_batch.sum()), m), wilson(int(esc_online.sum()), m)
        pool = is_minimum if is_minimum.any() else np.ones(m, bool)
        from_pool = float(esc_online[pool].mean())
    else:
        batch_ci = online_ci = (0.0, 1.0)
        from_pool = 0.0
    checks = {
        "at least 10 runs stuck": m >= 10,
        "on-line escapes more often, Wilson intervals apart": online_ci[0] > batch_ci[1],
        "on-line escapes from >= half of the minima (or of all stuck points)": from_pool >= 0.5,
    }
    plot(args, losses, steps, esc_online, esc_batch)
    save(
        args, "online_escape",
        claim="seed 000: on-line gradient descent can escape the local minima that batch "
        "gradient descent falls into (XOR, 2-2-1 sigmoid net)",
        criterion=">= 10 batch runs at rest unsolved (gradient norm < 1e-3); continued on-line "
        "descent escapes from a larger share than continued batch descent (95 % Wilson "
        "intervals apart) and from >= half of the stuck points that are local minima (Hessian "
        "positive definite, |H^-1 g| < 0.01), or of all stuck points if none is",
        reproduced=all(checks.values()),
        metrics={"online_escape_rate": float(esc_online.mean()) if m else 0.0,
                 "checks": checks, "batch_escape_rate": float(esc_batch.mean()) if m else 0.0,
                 "online_ci95": online_ci, "batch_ci95": batch_ci, "summary": summary,
                 "min_hessian_eigenvalues": min_eigen.tolist(),
                 "newton_steps": [finite(v) for v in steps],
                 "E_fall_under_more_batch_descent": fall.tolist(), "epochs": epochs,
                 "eta": ETA},
    )  # fmt: skip


def plot(args, losses, steps, esc_online, esc_batch):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.6))
    labels = ["escaped on-line" if o else "stayed (on-line)" for o in esc_online]
    for label, colour in (("escaped on-line", "C2"), ("stayed (on-line)", "C3")):
        pick = np.array([lab == label for lab in labels], bool)
        if pick.any():
            ax.scatter(steps[pick], losses[pick], c=colour, s=14, label=label)
    ax.axvline(STEP_TOLERANCE, color="k", ls=":", lw=1, label="minima: left of the line")
    ax.set(xscale="log", xlabel="|H^-1 g|: how far the quadratic model's stationary point is",
           ylabel="E (1/2 SSE) there", title="where batch descent came to rest")  # fmt: skip
    ax.legend()
    bx.bar(["batch, continued", "on-line, continued"], [esc_batch.mean(), esc_online.mean()]
           if len(esc_online) else [0, 0], color=["C0", "C1"])  # fmt: skip
    bx.set(ylabel="share of stuck runs that then solve XOR", ylim=(0, 1),
           title=f"{len(esc_online)} stuck runs, same number of epochs")  # fmt: skip
    fig.tight_layout()
    figure(args, "online_escape", fig)


if __name__ == "__main__":
    main()
