"""Probe (issue 17, removed by the next commit): populations and solo fits of tiny nets, each
timed in one process; run once per tree, ``PYTHONPATH=<tree> python tiny_shapes.py``. Prints,
per shape, the population's and one solo fit's median time (5 rounds, interleaved) and member
3's largest parameter difference from its solo fit."""

import statistics
import time

import jax
import numpy as np

from jaxmlp import MLP, Optimizer, TrainConfig, fit, fit_population

rng = np.random.default_rng(0)
SHAPES = [  # (n, sizes, members, epochs)
    (8, (4, 8, 2), 1000, 1000),
    (4, (2, 16, 1), 1000, 2000),
    (16, (8, 8, 1), 500, 500),
    (4, (4, 4, 4), 1000, 1000),
    (4, (2, 3, 1), 1000, 2000),
]


def measure(n, sizes, members, epochs):
    net = MLP(sizes, "tanh", "sigmoid", "bce")
    x = rng.normal(size=(n, sizes[0])).astype(np.float32)
    t = (rng.uniform(size=(n, sizes[-1])) > 0.5).astype(np.float32)
    sgd = Optimizer("sgd", lr=0.1)

    def population():
        return fit_population(net, x, t, sgd, TrainConfig(epochs, "full"), seeds=range(members))

    def solo():
        return fit(net, x, t, sgd, TrainConfig(epochs, "full", seed=3))

    a, b = population().params, solo().params
    gap = max(
        float(np.max(np.abs(np.asarray(u)[3] - np.asarray(v))))
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )
    times = {"population": [], "solo": []}
    for _ in range(5):
        for name, f in (("population", population), ("solo", solo)):
            start = time.perf_counter()
            jax.block_until_ready(f().params)
            times[name].append(time.perf_counter() - start)
    p, s = (1e3 * statistics.median(times[k]) for k in ("population", "solo"))
    print(
        f"n={n} {sizes} {members} members x {epochs}: population {p:.1f} ms, solo {s:.2f} ms, "
        f"member 3 - solo {gap:.1e}",
        flush=True,
    )


for shape in SHAPES:
    measure(*shape)
