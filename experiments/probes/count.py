"""Probe: plain SGD with a constant learning rate given to optax as a number (no schedule, so no
step count in the state) against today's constant schedule: kernels, bits of params and history, time."""
import sys, time, statistics, re, os
import jax, jax.numpy as jnp, numpy as np
from jaxmlp import MLP, Optimizer, TrainConfig, train, sharding
from jaxmlp import epochs as ep, population as pop
from jaxmlp.optim import Optimizer as O
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); t = jnp.array([[0], [1], [1], [0]], np.float32)
P, E = 1000, 641
config = TrainConfig(epochs=5000, batch_size="full")
keys = pop._keys(list(range(P)))
hyper = {"lr": jnp.full(P, 0.1, jnp.float32)}
epochs = jnp.arange(0, E, dtype=jnp.int32)
args = (x, t, None, None, None, None, keys, hyper, epochs)
def kernels(hlo):
    comps = {}
    for block in re.split(r"\n(?=\S)", hlo):
        m = re.match(r"(?:ENTRY )?(%?[\w.\-]+) ", block)
        if m: comps[m.group(1)] = block
    skip = ("parameter", "tuple", "get-tuple-element", "constant", "bitcast")
    return [sum(1 for l in comps.get(b, "").splitlines()[1:] if "=" in l and not any(f" {s}(" in l for s in skip)) for b in re.findall(r"body=(%?[\w.\-]+)", hlo)]
def build():
    spec, _ = train.step_spec(Optimizer("sgd", lr=0.1), config, 1)
    ep.make_member_epochs.cache_clear()
    run = ep.make_member_epochs(XOR, spec, 4, 4, sharding.data_mesh(1), False, None, False, True)
    carry = pop._init(XOR, spec, config, keys, None, None, None, np.float32)
    return run, carry
flag = {"on": False}
orig = O.learning_rate
O.learning_rate = lambda self, total, lr=None: ((self.lr if lr is None else lr) if flag["on"] and self.schedule == "constant" and not self.warmup_steps else orig(self, total, lr))
fresh = lambda c: jax.tree.map(jnp.copy, c)
runs, res = {}, []
for name, on in (("today", False), ("nocount", True)):
    flag["on"] = on
    f, c = runs[name] = build()
    print(name, "kernels", kernels(f.lower(c, *args).compile().as_text()), "opt_state", jax.tree.structure(c.opt_state))
    res.append(f(fresh(c), *args))
flag["on"] = False
(m0, o0), (m1, o1) = res
print("params equal:", all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(m0.params), jax.tree.leaves(m1.params))), "history equal:", np.array_equal(o0, o1), "bad equal:", np.array_equal(m0.bad, m1.bad))
ts = {k: [] for k in runs}
for r in range(int(os.environ.get("ROUNDS", 15))):
    for k, (f, c) in runs.items():
        cc = fresh(c); jax.block_until_ready(cc)
        s = time.perf_counter(); jax.block_until_ready(f(cc, *args)); ts[k].append(time.perf_counter() - s)
for k, v in ts.items(): print(k, "median %.1f us/step, min %.1f, ratio today/this %.3f" % (statistics.median(v) * 1e6 / E, min(v) * 1e6 / E, statistics.median([a / b for a, b in zip(ts["today"], v)])))
