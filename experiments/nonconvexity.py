"""The error surface of a multilayer perceptron is not convex.

Claim (seeds 003/004): "since we are introducing nonlinearities in the network the error surface
of the Multilayer Perceptron is non-convex" (003); "the likelihood function is no longer a convex
function of the model parameters" (004).

A convex E satisfies E((u + v) / 2) <= (E(u) + E(v)) / 2 for every pair u, v: one pair with the
midpoint above the chord disproves convexity. The weight-space symmetries give such pairs:
``weight_symmetries``'s transforms T (permute the hidden units, flip the signs of a tanh unit's
weights) keep the network function, so E(T w) = E(w), and a minimum w has equally low copies
T w with the straight line between them leaving the valley.

Setup (float64): ``(2, 4, 1)`` tanh nets, sigmoid output and binary cross-entropy, trained by
Adam on two moons (``weight_symmetries.trained_minimum``), seeds 0-2 (--quick: seed 0). For each
of the 383 transforms other than the identity: |E(T w) - E(w)|, and the midpoint's excess over
the chord, E((w + T w) / 2) - (E(w) + E(T w)) / 2. Control, to show the test can say "convex":
logistic regression (a ``(2, 1)`` sigmoid net with binary cross-entropy, convex in w) on the same
data, the same midpoint test on 383 pairs of random weight vectors N(0, 2^2).

Criterion (fixed before the run): for every seed, every transform keeps E to 1e-12 and at least
one midpoint exceeds its chord by more than 1e-3; in the control no midpoint exceeds its chord by
more than 1e-12.
"""

import jax
import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, save
from jax.flatten_util import ravel_pytree
from weight_symmetries import trained_minimum, transform, transforms  # float64 on import

from jaxmlp import MLP

SAME, VIOLATION, CONTROL = 1e-12, 1e-3, 1e-12


def excesses(cost, pairs_u, pairs_v):
    """Per pair: ``(|E(u) - E(v)|, E((u + v) / 2) - (E(u) + E(v)) / 2)``."""

    def one(u, v):
        eu, ev = cost(u), cost(v)
        return jnp.abs(eu - ev), cost((u + v) / 2) - (eu + ev) / 2

    return jax.vmap(one)(pairs_u, pairs_v)


def symmetric_pairs(seed, quick):
    """The trained minimum against each of its non-identity transforms: ``(same, excess)``."""
    net, ds, params = trained_minimum(seed, quick)
    x, t = (jnp.asarray(a, jnp.float64) for a in (ds.x_train, ds.t_train))
    flat, unravel = ravel_pytree(params)
    perms, signs = transforms(4)
    copies = jax.vmap(lambda p, s: ravel_pytree(transform(params, p, s))[0])(perms, signs)
    keep = np.any(np.asarray(copies) != np.asarray(flat), axis=1)  # drop the identity
    copies = copies[keep]
    us = jnp.broadcast_to(flat, copies.shape)
    return excesses(lambda w: net.cost(unravel(w), x, t), us, copies)


def control(seed, pairs):
    """Logistic regression, convex in w: the largest midpoint excess over random pairs."""
    from jaxmlp import datasets

    ds = datasets.load("moons", seed=seed)
    x, t = (jnp.asarray(a, jnp.float64) for a in (ds.x_train, ds.t_train))
    net = MLP((2, 1), "identity", "sigmoid", "bce")
    _, unravel = ravel_pytree(net.init(jax.random.key(seed), jnp.float64))
    u, v = 2.0 * jax.random.normal(jax.random.key(seed + 1), (2, pairs, net.n_params), jnp.float64)
    return excesses(lambda w: net.cost(unravel(w), x, t), u, v)[1]


def main():
    args = parse_args(__doc__)
    seeds = [args.seed] if args.quick else [args.seed + i for i in range(3)]
    rows = []
    for seed in seeds:
        same, excess = symmetric_pairs(seed, args.quick)
        rows.append({
            "seed": seed,
            "pairs": int(excess.size),
            "max_cost_change_under_T": float(same.max()),
            "max_midpoint_excess": float(excess.max()),
            "pairs_violating_convexity_by_1e-3": int(jnp.sum(excess > VIOLATION)),
            "excesses": np.sort(np.asarray(excess)),
        })  # fmt: skip
        print({k: v for k, v in rows[-1].items() if k != "excesses"}, flush=True)
    control_excess = control(args.seed, rows[0]["pairs"])
    checks = {
        "E(T w) = E(w) to 1e-12 for every transform": all(
            r["max_cost_change_under_T"] <= SAME for r in rows
        ),
        "every seed: a midpoint above its chord by > 1e-3": all(
            r["max_midpoint_excess"] > VIOLATION for r in rows
        ),
        "control (logistic regression): no midpoint above its chord by > 1e-12": float(
            control_excess.max()
        )
        <= CONTROL,
    }
    plot(args, rows, control_excess)
    for r in rows:
        r["excesses"] = r["excesses"][[0, len(r["excesses"]) // 2, -1]]  # min, median, max
    save(
        args, "nonconvexity",
        claim="seeds 003/004: the MLP's error surface is not convex: the midpoint between a "
        "trained minimum w and an equivalent copy T w (units permuted, signs flipped) lies above "
        "the chord, E((w + Tw)/2) > (E(w) + E(Tw))/2",
        criterion="(2, 4, 1) tanh nets on two moons, 3 seeds, 383 transforms each, float64: "
        "E(Tw) = E(w) to 1e-12 and some midpoint exceeds the chord by > 1e-3 for every seed; "
        "control: logistic regression's midpoints never exceed the chord by > 1e-12",
        reproduced=all(checks.values()),
        metrics={
            "smallest_max_midpoint_excess": min(r["max_midpoint_excess"] for r in rows),
            "checks": checks,
            "rows": rows,
            "control_max_midpoint_excess": float(control_excess.max()),
        },
    )  # fmt: skip


def plot(args, rows, control_excess):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        ax.plot(r["excesses"], ".", ms=3, label=f"(2, 4, 1) tanh, seed {r['seed']}")
    ax.plot(np.sort(np.asarray(control_excess)), ".", ms=3, color="k",
            label="control: logistic regression, random pairs")  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="pair (sorted)", ylabel="E(midpoint) - mean of E at the ends",
           title="midpoint above the chord (> 0) violates convexity")  # fmt: skip
    ax.legend(fontsize=8)
    figure(args, "nonconvexity", fig)


if __name__ == "__main__":
    main()
