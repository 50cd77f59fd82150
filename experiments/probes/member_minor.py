"""Probe (issue 17): does a population run faster with the members on the minor (last) axis?

1000 XOR 2-3-1 members x 5000 full-batch SGD steps, medians of 5 interleaved rounds:
  population         fit_population (members first, under jax.vmap; tiny-member options)
  plain_vmap         population_bench's jax.jit(jax.vmap(scan)) (dots, XLA's defaults)
  vmap_first_tiny    jax.vmap of a jax.grad SGD step inside the scan, members first, tiny options
  vmap_minor_tiny    the same step under jax.vmap(in_axes=-1, out_axes=-1), the carry members-last
  minor_tiny         the step written by hand on members-last arrays (products as broadcast
                     sums over the shared axis), tiny options
  minor_default      the same, XLA's default options
Run from experiments/: ``python probes/member_minor.py``.
"""

import functools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import population_bench as pb  # noqa: E402

from jaxmlp import Optimizer, TrainConfig, fit_population  # noqa: E402
from jaxmlp.epochs import _TINY_MEMBER_OPTIONS as TINY  # noqa: E402

P, STEPS, ETA = 1000, 5000, pb.ETA
X, T = jnp.asarray(pb.XOR_X), jnp.asarray(pb.XOR_T)


def sgd(p):
    g = jax.grad(pb.xor_loss)(p, X, T)
    return jax.tree.map(lambda a, b: a - ETA * b, p, g)


def scanned(body, options):
    run = lambda p: lax.scan(lambda p, _: (body(p), None), p, None, length=STEPS)[0]  # noqa: E731
    return jax.jit(run, compiler_options=options)


def minor_step(p):
    """SGD on members-last arrays: w1 (2, 3, P), b1 (3, P), w2 (3, 1, P), b2 (1, P)."""
    w1, b1, w2, b2 = p
    mm = lambda a, w: jnp.sum(a[:, :, None, :] * w[None], axis=1)  # noqa: E731  (n,k,P)(k,m,P)
    a1 = jax.nn.sigmoid(mm(jnp.broadcast_to(X[:, :, None], (4, 2, P)), w1) + b1[None])
    y = jax.nn.sigmoid(mm(a1, w2) + b2[None])
    g2 = (y - T[:, :, None]) * y * (1 - y)
    d1 = jnp.sum(g2[:, None] * w2[None], axis=2) * a1 * (1 - a1)
    grads = (
        jnp.sum(X[:, :, None, None] * d1[:, None], 0),
        jnp.sum(d1, 0),
        jnp.sum(a1[:, :, None] * g2[:, None], 0),
        jnp.sum(g2, 0),
    )
    return tuple(a - ETA * g for a, g in zip(p, grads, strict=True))


def main():
    params = pb.initial(pb.XOR, range(P))
    last = jax.tree.map(lambda a: jnp.moveaxis(a, 0, -1), params)
    flat = (last[0]["w"], last[0]["b"], last[1]["w"], last[1]["b"])
    config = TrainConfig(epochs=STEPS, batch_size="full")
    runs = {
        "population": lambda: fit_population(
            pb.XOR, X, T, Optimizer("sgd", lr=ETA), config, seeds=list(range(P))
        ).params,
        "plain_vmap": lambda: pb.plain_population(params, X, T, STEPS),
        "vmap_first_tiny": functools.partial(scanned(jax.vmap(sgd), TINY), params),
        "vmap_minor_tiny": functools.partial(
            scanned(jax.vmap(sgd, in_axes=-1, out_axes=-1), TINY), last
        ),
        "minor_tiny": functools.partial(scanned(minor_step, TINY), flat),
    }
    for run in runs.values():
        jax.block_until_ready(run())
    gap = np.max(np.abs(np.moveaxis(runs["minor_tiny"]()[0], -1, 0) - runs["plain_vmap"]()[0]["w"]))
    for name, ts in pb.rounds(runs, 5).items():
        print(f"{name:16s} {np.median(ts) * 1e3:7.0f} ms")
    # Apart: in the same rounds, the population ran ~2x slower once this program had run.
    default = {"minor_default": functools.partial(scanned(minor_step, {}), flat)}
    jax.block_until_ready(default["minor_default"]())
    for name, ts in pb.rounds(default, 3).items():
        print(f"{name:16s} {np.median(ts) * 1e3:7.0f} ms")
    print(f"minor_tiny's first-layer weights vs plain_vmap's: max |gap| {gap:.1e}")


if __name__ == "__main__":
    main()
