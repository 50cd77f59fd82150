"""Unroll probe: the population's epoch scan unrolled u times (kernels, bits, time)."""
import sys, time, statistics, re
import jax, jax.numpy as jnp, numpy as np
from jax import lax
from jaxmlp import MLP, Optimizer, TrainConfig, train, sharding
from jaxmlp import epochs as ep, population as pop
sys.path.insert(0, "/tmp/xp")
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); t = jnp.array([[0], [1], [1], [0]], np.float32)
P, E = 1000, 641
opt = Optimizer("sgd", lr=0.1); config = TrainConfig(epochs=5000, batch_size="full")
spec, numbers = train.step_spec(opt, config, 1)
hyper = {"lr": jnp.full(P, 0.1, jnp.float32)}
keys = pop._keys(list(range(P)))
carry0 = pop._init(XOR, spec, config, keys, None, None, None, np.float32)
epochs = jnp.arange(0, E, dtype=jnp.int32)
args = (x, t, None, None, None, None, keys, hyper, epochs)
def kernels(hlo):
    comps = {}
    for block in re.split(r"\n(?=\S)", hlo):
        m = re.match(r"(?:ENTRY )?(%?[\w.\-]+) ", block)
        if m: comps[m.group(1)] = block
    skip = ("parameter", "tuple", "get-tuple-element", "constant", "bitcast")
    return [sum(1 for l in comps.get(b, "").splitlines()[1:] if "=" in l and not any(f" {s}(" in l for s in skip)) for b in re.findall(r"body=(%?[\w.\-]+)", hlo)]
orig = ep._scan_epochs
runs = {}
for u in [int(a) for a in sys.argv[1:]] or [1, 2, 4, 8]:
    def flat(one, carry, es, u=u):
        return lax.scan(one, carry, es, unroll=u)
    ep._scan_epochs = flat
    ep.make_member_epochs.cache_clear()
    runs[u] = ep.make_member_epochs(XOR, spec, 4, 4, sharding.data_mesh(1), False, None, False, True)
    print("unroll", u, "kernels", kernels(runs[u].lower(carry0, *args).compile().as_text()))
ep._scan_epochs = orig; ep.make_member_epochs.cache_clear()
runs["today"] = ep.make_member_epochs(XOR, spec, 4, 4, sharding.data_mesh(1), False, None, False, True)
fresh = lambda: jax.tree.map(jnp.copy, carry0)
ref = runs["today"](fresh(), *args)
for k, f in runs.items():
    out = f(fresh(), *args)
    same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(out)))
    print(k, "bits equal:", same)
ts = {k: [] for k in runs}
for r in range(int(__import__('os').environ.get('ROUNDS', 7))):
    for k, f in runs.items():
        c = fresh(); jax.block_until_ready(c)
        s = time.perf_counter(); jax.block_until_ready(f(c, *args)); ts[k].append(time.perf_counter() - s)
for k, v in ts.items(): print(k, "%.1f us/step" % (statistics.median(v) * 1e6 / E), "min %.1f" % (min(v) * 1e6 / E))

for k, v in ts.items():
    print(k, "median ratio today/this %.3f" % statistics.median([a / b for a, b in zip(ts["today"], v)]))
