"""Members-last layout probe: the same member program under vmap with the members' axis last."""
import sys, time, statistics, re, collections
import jax, jax.numpy as jnp, numpy as np
from jaxmlp import MLP, Optimizer, TrainConfig, train
from jaxmlp import epochs as ep
sys.path.insert(0, "/work/wt/xorpop/experiments"); sys.path.insert(0, "/tmp/xp")
from population_bench import initial
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); t = jnp.array([[0], [1], [1], [0]], np.float32)
P, E = 1000, 641
params = initial(XOR, range(P))
opt = Optimizer("sgd", lr=0.1); config = TrainConfig(epochs=5000, batch_size="full")
spec, numbers = train.step_spec(opt, config, 1)
hyper = {"lr": jnp.full(P, 0.1, jnp.float32)}
import jaxmlp.population as pop
carry0 = pop._init(XOR, spec, config, pop._keys(list(range(P))), None, None, None, np.float32)
keys = pop._keys(list(range(P)))
run0 = ep.make_member_epochs(XOR, spec, 4, 4, __import__("jaxmlp").sharding.data_mesh(1), False, None, False, True)
epochs = jnp.arange(0, E, dtype=jnp.int32)
def kernels(hlo):
    comps = {}
    for block in re.split(r"\n(?=\S)", hlo):
        m = re.match(r"(?:ENTRY )?(%?[\w.\-]+) ", block)
        if m: comps[m.group(1)] = block
    skip = ("parameter", "tuple", "get-tuple-element", "constant", "bitcast")
    res = []
    for b in re.findall(r"body=(%?[\w.\-]+)", hlo):
        lines = [l for l in comps.get(b, "").splitlines()[1:] if "=" in l]
        res.append(sum(1 for l in lines if not any(f" {s}(" in l for s in skip)))
    return res
# members-last variant: move axis 0 -> last for params/opt_state leaves with ndim>1
import functools
def to_last(tree): return jax.tree.map(lambda a: jnp.moveaxis(a, 0, -1) if a.ndim > 1 else a, tree)
def to_first(tree): return jax.tree.map(lambda a: jnp.moveaxis(a, -1, 0) if a.ndim > 1 else a, tree)
member_fn = run0.__wrapped__ if hasattr(run0, "__wrapped__") else None
axes = jax.tree.map(lambda a: -1 if a.ndim > 1 else 0, carry0)
real_vmap = jax.vmap
def vmap_last(f, in_axes, **kw):
    return real_vmap(f, in_axes=(axes, *in_axes[1:]), out_axes=(axes, 0))
ep.make_member_epochs.cache_clear()
jax.vmap = vmap_last
run1 = ep.make_member_epochs(XOR, spec, 4, 4, __import__("jaxmlp").sharding.data_mesh(1), False, None, False, True)
jax.vmap = real_vmap
args = (x, t, None, None, None, None, keys, hyper, epochs)
h0 = run0.lower(carry0, *args).compile().as_text()
c1 = to_last(carry0)
h1 = run1.lower(c1, *args).compile().as_text()
print("kernels today", kernels(h0), "members-last", kernels(h1))
open("/tmp/xp/last.hlo", "w").write(h1)
fresh = lambda: jax.tree.map(jnp.copy, carry0)
m0, o0 = run0(fresh(), *args)
m1, o1 = run1(to_last(fresh()), *args)
m1 = to_first(m1)
same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(jax.tree.leaves(m0), jax.tree.leaves(m1)))
print("bits equal:", same, "history equal:", np.array_equal(np.asarray(o0), np.asarray(o1)))
ts = {"today": [], "last": []}
for r in range(5):
    for name, f, c in (("today", run0, lambda: fresh()), ("last", run1, lambda: to_last(fresh()))):
        cc = c(); jax.block_until_ready(cc)
        s = time.perf_counter(); jax.block_until_ready(f(cc, *args)); ts[name].append(time.perf_counter() - s)
for k, v in ts.items(): print(k, "%.1f us/step" % (statistics.median(v) * 1e6 / E))
