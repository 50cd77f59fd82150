"""Weight-space symmetries: 2^M M! weight vectors give the same network function.

Claim (seed 000): permuting the M hidden units of a layer (with their incoming and outgoing
weights) leaves the network function unchanged, and so does flipping the sign of every weight
into and out of a tanh unit, since tanh(-a) = -tanh(a). A layer of M tanh units therefore has
2^M M! equivalent weight vectors.

Setup (float64): ``(2, M, 1)`` tanh networks with random Glorot weights and biases drawn
N(0, 1), M = 2 to 5 (--quick: 2 to 3). Every one of the 2^M M! transformations (each permutation
of the units, each subset of them sign-flipped) is applied, vmapped, and the outputs on 500
random inputs are compared with the original's; the transformed weight vectors are checked to be
pairwise distinct. Controls: the same sign flips on a logistic-sigmoid network, which is not odd,
and a tanh sign flip of the incoming weights alone, must change the function. The figure also
trains a ``(2, 4, 1)`` tanh net on two moons and draws the cost along the straight line from its
weights to a permuted, sign-flipped copy: two equal minima, with a barrier between.

Criterion: for every M, all 2^M M! transformed tanh networks agree with the original to 1e-12
and are pairwise distinct weight vectors (so exactly 2^M M! of them); every control changes the
output by more than 1e-3.
"""

import itertools
import math

import jax

jax.config.update("jax_enable_x64", True)  # this script runs in its own process

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import figure, parse_args, pyplot, save  # noqa: E402

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit  # noqa: E402


def transforms(m):
    """``(perms (T, m), signs (T, m))``: every permutation with every subset of sign flips."""
    perms, signs = [], []
    for perm in itertools.permutations(range(m)):
        for flips in itertools.product((1.0, -1.0), repeat=m):
            perms.append(perm)
            signs.append(flips)
    return jnp.asarray(perms), jnp.asarray(signs)


def transform(params, perm, sign, flip_outgoing=True):
    """Permute the hidden units and flip the signs of their incoming (and outgoing) weights."""
    first, second = params
    out_sign = sign if flip_outgoing else jnp.ones_like(sign)
    return [
        {"w": first["w"][:, perm] * sign, "b": first["b"][perm] * sign},
        {"w": second["w"][perm] * out_sign[:, None], "b": second["b"]},
    ]


def random_params(net, key):
    params = net.init(key, jnp.float64)
    params[0]["b"] = jax.random.normal(jax.random.fold_in(key, 1), params[0]["b"].shape)
    return params


def max_change(net, params, x, perms, signs, flip_outgoing=True):
    """Per transformation, max |f'(x) - f(x)|, and the flat transformed weight vectors."""
    y = net.apply(params, x)

    def one(perm, sign):
        p = transform(params, perm, sign, flip_outgoing)
        flat = jnp.concatenate([a.ravel() for a in jax.tree.leaves(p)])
        return jnp.max(jnp.abs(net.apply(p, x) - y)), flat

    return jax.vmap(one)(perms, signs)


def study(m, x, seed):
    perms, signs = transforms(m)
    tanh_net, sigmoid_net = MLP((2, m, 1), "tanh"), MLP((2, m, 1), "sigmoid")
    key = jax.random.key(seed + m)
    tanh_params, sigmoid_params = random_params(tanh_net, key), random_params(sigmoid_net, key)
    changes, flats = max_change(tanh_net, tanh_params, x, perms, signs)
    distinct = len(np.unique(np.asarray(flats).round(12), axis=0))
    flipped = signs.min(axis=1) < 0  # transformations that flip at least one unit
    sigmoid_changes, _ = max_change(sigmoid_net, sigmoid_params, x, perms, signs)
    inner_only, _ = max_change(tanh_net, tanh_params, x, perms, signs, flip_outgoing=False)
    return {
        "M": m,
        "transformations": int(len(perms)),
        "expected_2^M_M!": 2**m * math.factorial(m),
        "distinct_weight_vectors": distinct,
        "tanh_max_output_change": float(changes.max()),
        "sigmoid_sign_flip_min_output_change": float(sigmoid_changes[flipped].min()),
        "tanh_incoming_flip_only_min_output_change": float(inner_only[flipped].min()),
    }


def main():
    args = parse_args(__doc__)
    sizes = (2, 3) if args.quick else (2, 3, 4, 5)
    x = jax.random.normal(jax.random.key(args.seed), (500, 2), jnp.float64)
    rows = [study(m, x, args.seed) for m in sizes]
    for row in rows:
        print(row)
    checks = {
        "tanh: every transform gives the same function (1e-12)": all(
            r["tanh_max_output_change"] <= 1e-12 for r in rows
        ),
        "2^M M! distinct weight vectors": all(
            r["distinct_weight_vectors"] == r["transformations"] == r["expected_2^M_M!"]
            for r in rows
        ),
        "controls change the function (> 1e-3)": all(
            min(
                r["sigmoid_sign_flip_min_output_change"],
                r["tanh_incoming_flip_only_min_output_change"],
            )
            > 1e-3
            for r in rows
        ),  # fmt: skip
    }
    line = plot(args)
    save(
        args, "weight_symmetries",
        claim="seed 000: permuting hidden units and flipping the signs of a tanh unit's weights "
        "leave the network function unchanged: 2^M M! equivalent weight vectors per layer",
        criterion="all 2^M M! transforms of (2, M, 1) tanh nets (M = 2..5) agree to 1e-12 and are "
        "distinct; sigmoid sign flips and incoming-only flips change the output > 1e-3",
        reproduced=all(checks.values()),
        metrics={
            "worst_tanh_output_change": max(r["tanh_max_output_change"] for r in rows),
            "checks": checks,
            "rows": rows,
            "cost_along_line_to_equivalent_copy": line,
        },
    )  # fmt: skip


def trained_minimum(seed, quick):
    """``(net, dataset, params)``: a ``(2, 4, 1)`` tanh net trained by Adam on two moons, its
    parameters in float64."""
    ds = datasets.load("moons", seed=seed)
    net = MLP((2, 4, 1), "tanh", "sigmoid", "bce")
    params = fit(
        net, ds.x_train, ds.t_train, Optimizer("adam", lr=0.05),
        TrainConfig(300 if quick else 1000, batch_size="full", seed=seed),
    ).params  # fmt: skip
    return net, ds, jax.tree.map(lambda a: a.astype(jnp.float64), params)


def plot(args):
    """Train (2, 4, 1) on moons; cost along the line to a permuted, sign-flipped copy."""
    net, ds, params = trained_minimum(args.seed, args.quick)
    copy = transform(params, jnp.asarray([2, 0, 3, 1]), jnp.asarray([-1.0, 1.0, -1.0, 1.0]))
    alphas = np.linspace(-0.25, 1.25, 121)

    def cost_at(s):
        return float(net.cost(jax.tree.map(lambda a, b: (1 - s) * a + s * b, params, copy),
                              ds.x_train, ds.t_train))  # fmt: skip

    costs = [cost_at(s) for s in alphas]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(alphas, costs)
    ax.axvline(0, color="k", ls=":")
    ax.axvline(1, color="k", ls=":")
    ax.set(xlabel="alpha: w = (1 - alpha) w* + alpha T(w*)", ylabel="training cost (BCE)",
           title="two moons, (2, 4, 1) tanh: the cost along the line from a minimum w* to\n"
           "T(w*), its units permuted (3,1,4,2) and units 1, 3 sign-flipped")  # fmt: skip
    figure(args, "weight_symmetries", fig)
    return {"cost_at_0": costs[20], "cost_at_1": costs[100], "max_between": max(costs[20:101])}


if __name__ == "__main__":
    main()
