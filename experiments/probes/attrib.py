"""Attribute the population step's time: variants of the member program (NOT bit-safe; timing only)."""
import sys, time, statistics, functools
import jax, jax.numpy as jnp, numpy as np, optax
from jax import lax
from jaxmlp import MLP, Optimizer, TrainConfig, train
from jaxmlp import epochs as ep, population as pop
from jaxmlp.step import step_halves, correct
sys.path.insert(0, "/work/wt/xorpop/experiments")
from population_bench import plain_population, initial
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); t = jnp.array([[0], [1], [1], [0]], np.float32)
P, E = 1000, 640
params = initial(XOR, range(P))

def make(variant):
    opt = Optimizer("sgd", lr=0.1)
    spec, numbers = train.step_spec(opt, TrainConfig(epochs=5000, batch_size="full"), 1)
    def member(params, opt_state, bad, lr, epochs):
        hyper = {"lr": lr}
        if "nocount" in variant:
            tx = optax.sgd(lr)
        else:
            tx = spec.optimizer.build(spec.total_steps, hyper)
        g_and_m, update = step_halves(XOR, tx, "hand", "float32")
        def one(c, e):
            params, opt_state, bad = c
            grads, m = g_and_m(params, x, t)
            if "noguard" in variant:
                params, opt_state = update(grads, opt_state, params)
                return (params, opt_state, bad), (jnp.stack([m["loss"], m["correct"]]) if "nohist" not in variant else None)
            live = bad < 0
            finite = jnp.isfinite(m["loss"]) & (jnp.isfinite(m["grad_norm"]) if "nonorm" not in variant else True)
            bad = jnp.where(live & ~finite, e, bad)
            params, opt_state = lax.cond(live & finite, update, lambda g, o, p: (p, o), grads, opt_state, params)
            return (params, opt_state, bad), (jnp.stack([m["loss"], m["correct"]]) if "nohist" not in variant else None)
        return lax.scan(one, (params, opt_state, bad), epochs)
    return jax.jit(jax.vmap(member, in_axes=(0, 0, 0, 0, None)))

variants = sys.argv[1:] or ["today", "nocount", "nonorm", "nohist", "noguard", "noguard-nohist", "nocount-nonorm-nohist"]
runs = {}
for v in variants:
    f = make(v)
    tx = optax.sgd(0.1) if "nocount" in v else Optimizer("sgd", lr=0.1).build(5000)
    st = jax.vmap(tx.init)(params)
    args = (params, st, jnp.full(P, -1, jnp.int32), jnp.full(P, 0.1, jnp.float32), jnp.arange(E, dtype=jnp.int32))
    jax.block_until_ready(f(*args))
    runs[v] = (f, args)
runs["plain"] = (lambda *a: plain_population(params, x, t, E), ())
jax.block_until_ready(plain_population(params, x, t, E))
times = {k: [] for k in runs}
for r in range(7):
    for k, (f, a) in runs.items():
        s = time.perf_counter(); jax.block_until_ready(f(*a)); times[k].append(time.perf_counter() - s)
for k, v in times.items():
    print(f"{k:28s} {statistics.median(v)*1e6/E:7.1f} us/step")
