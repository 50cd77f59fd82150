"""Probe (issue 17, removed by the next commit): a hand-written 2-layer sigmoid step (SGD, a
lax.scan of steps) with its products as ``a @ w`` against the products of at most T
multiplications as broadcast multiply-and-sum, T in 32..1024; vmapped over members or solo,
compiled with the tiny-member XLA:CPU options when the member step is below 1e5 flops (as
populations are; ``--defaults``: always XLA's defaults). Prints dots-time / sums-time per T."""

import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

TINY = {"xla_cpu_experimental_ynn_fusion_type": "", "xla_cpu_use_fusion_emitters": False}
DEFAULTS = "--defaults" in sys.argv


def product(limit):
    def dot(a, w):
        if a.shape[0] * a.shape[1] * w.shape[1] <= limit:
            return jnp.sum(a[:, :, None] * w[None, :, :], axis=1)
        return a @ w

    return dot


def train(dot, x, t, steps):
    def one(p):
        def step(p, _):
            (l1, l2) = p
            h = jax.nn.sigmoid(dot(x, l1["w"]) + l1["b"])
            y = jax.nn.sigmoid(dot(h, l2["w"]) + l2["b"])
            d2 = (y - t) * y * (1 - y)
            d1 = dot(d2, l2["w"].T) * h * (1 - h)
            g = [{"w": dot(x.T, d1), "b": jnp.sum(d1, 0)}, {"w": dot(h.T, d2), "b": jnp.sum(d2, 0)}]
            return jax.tree.map(lambda a, b: a - 0.1 * b, p, g), None

        return lax.scan(step, p, None, length=steps)[0]

    return one


SHAPES = [  # (n, d, h, k, members; 1: solo)
    (4, 2, 3, 1, 1000), (4, 2, 8, 1, 1000), (4, 2, 16, 1, 1000), (8, 2, 4, 1, 1000),
    (16, 2, 3, 1, 1000), (4, 4, 4, 4, 1000), (16, 8, 8, 1, 1000), (8, 4, 8, 2, 1000),
    (32, 8, 8, 1, 1000), (16, 16, 16, 1, 64), (4, 512, 64, 1, 16), (4, 256, 64, 1, 64),
    (4, 2, 3, 1, 1), (4, 4, 4, 4, 1), (8, 4, 8, 2, 1), (16, 16, 16, 1, 1), (4, 512, 64, 1, 1),
]  # fmt: skip
for n, d, h, k, members in SHAPES:
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
    t = jnp.asarray(rng.uniform(size=(n, k)), jnp.float32)
    p = [
        {"w": jnp.asarray(0.5 * rng.normal(size=(members, d, h)), jnp.float32),
         "b": jnp.zeros((members, h))},
        {"w": jnp.asarray(0.5 * rng.normal(size=(members, h, k)), jnp.float32),
         "b": jnp.zeros((members, k))},
    ]  # fmt: skip
    flops = 6 * n * (d * h + h * k)
    steps = max(50, int(2e8 / (members * flops)))
    options = TINY if flops < 1e5 and members > 1 and not DEFAULTS else {}
    programs = {
        limit: jax.jit(jax.vmap(train(product(limit), x, t, steps)), compiler_options=options)
        for limit in (0, 32, 64, 128, 256, 1024)
    }
    for f in programs.values():
        jax.block_until_ready(f(p))
    times = {limit: [] for limit in programs}
    for _ in range(5):
        for limit, f in programs.items():
            start = time.perf_counter()
            jax.block_until_ready(f(p))
            times[limit].append(time.perf_counter() - start)
    base = statistics.median(times[0])
    ratios = " ".join(
        f"T{lim}:{base / statistics.median(v):.2f}" for lim, v in times.items() if lim
    )
    print(
        f"n={n} {d}-{h}-{k} x{members} ({'tiny options' if options else 'defaults'}, "
        f"{steps} steps, dots {1e3 * base:.1f} ms): {ratios}",
        flush=True,
    )
