"""Whole steps (a fixed batch of 128), 32 steps: 16 Fashion-sized members under vmap vs 16 solo, SGD vs Adam."""
import time, statistics, jax, jax.numpy as jnp, optax, numpy as np
from jax import lax
from jaxmlp import MLP, Optimizer
from jaxmlp.step import step_halves, update_if
net = MLP((784, 256, 128, 10), "relu", "softmax", "cross_entropy")
P, S = 16, 32
rng = np.random.default_rng(0); x = jnp.asarray(rng.random((128, 784)), jnp.float32); t = jax.nn.one_hot(rng.integers(0, 10, 128), 10)
params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), P))
one = [jax.tree.map(lambda a: a[k], params) for k in range(P)]
c = {}
for name in ("sgd", "adam"):
    tx = Optimizer(name, lr=1e-3).build(S)
    gm, upd = step_halves(net, tx, "hand", "float32")
    def train(p, barrier=False, tx=tx, gm=gm, upd=upd):
        def body(c, i):
            p, s = c
            g, m = gm(p, x, t)
            if barrier: g = lax.optimization_barrier(g)
            ok = jnp.isfinite(m["loss"]) & jnp.isfinite(m["grad_norm"])
            return update_if(ok, upd, g, s, p), m["loss"]
        return lax.scan(body, (p, tx.init(p)), jnp.arange(S))
    pop = jax.jit(jax.vmap(train)); popb = jax.jit(jax.vmap(lambda p: train(p, True))); solo = jax.jit(train)
    c[name + "_pop"] = lambda pop=pop: pop(params)
    c[name + "_pop_barrier"] = lambda popb=popb: popb(params)
    c[name + "_solo_x16"] = lambda solo=solo: [solo(p) for p in one]
for f in c.values(): jax.block_until_ready(f())
tm = {k: [] for k in c}; names = list(c)
for r in range(5):
    for k in names[r % len(names):] + names[:r % len(names)]:
        s = time.perf_counter(); jax.block_until_ready(c[k]()); tm[k].append(time.perf_counter() - s)
print({k: round(statistics.median(v) * 1e3) for k, v in tm.items()}, "ms, 32 steps x 16 members")
