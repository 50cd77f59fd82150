import re, jax, jax.numpy as jnp, numpy as np
from jax import lax
from jaxmlp import MLP, Optimizer
from jaxmlp.step import step_halves, update_if
import sys
net = MLP((784, 256, 128, 10), "relu", "softmax", "cross_entropy")
P, S = 16, 32
rng = np.random.default_rng(0); x = jnp.asarray(rng.random((128, 784)), jnp.float32); t = jax.nn.one_hot(rng.integers(0, 10, 128), 10)
params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), P))
name = sys.argv[1]; solo = len(sys.argv) > 2
tx = Optimizer(name, lr=1e-3).build(S)
gm, upd = step_halves(net, tx, "hand", "float32")
def train(p):
    def body(c, i):
        p, s = c
        g, m = gm(p, x, t)
        ok = jnp.isfinite(m["loss"]) & jnp.isfinite(m["grad_norm"])
        return update_if(ok, upd, g, s, p), m["loss"]
    return lax.scan(body, (p, tx.init(p)), jnp.arange(S))
f = jax.jit(train) if solo else jax.jit(jax.vmap(train))
arg = jax.tree.map(lambda a: a[0], params) if solo else params
hlo = f.lower(arg).compile().as_text()
for l in hlo.splitlines():
    if re.search(r"f32\[16,784,256\]|f32\[784,256\]", l) and ("dot" in l or "copy" in l or "transpose" in l or "fusion" in l) and "ENTRY" not in l and "parameter" not in l:
        print(l.strip()[:220])
