"""Host-side time of fit_population (XOR 1000 x 5000): wall time minus time blocked in device_get."""
import time, statistics, sys
import jax, jax.numpy as jnp, numpy as np
from jax._src import array as jarray
from jaxmlp import MLP, Optimizer, TrainConfig, fit_population
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32); t = jnp.array([[0], [1], [1], [0]], np.float32)
cfg = TrainConfig(epochs=5000, batch_size="full"); seeds = list(range(1000))
f = lambda: fit_population(XOR, x, t, Optimizer("sgd", lr=0.1), cfg, seeds=seeds)
f()
waited = [0.0]
orig = jarray.ArrayImpl._value.fget
def timed(self):
    s = time.perf_counter(); v = orig(self); waited[0] += time.perf_counter() - s; return v
jarray.ArrayImpl._value = property(timed)
host, tot = [], []
for _ in range(7):
    waited[0] = 0.0
    s = time.perf_counter(); r = f(); jax.block_until_ready(r.params); w = time.perf_counter() - s
    tot.append(w); host.append(w - waited[0])
print(sys.argv[1], "total %.3f s, host (not waiting on the device) median %.1f ms, min %.1f" % (statistics.median(tot), statistics.median(host) * 1e3, min(host) * 1e3))
