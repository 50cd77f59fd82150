import jax
import optax, jax.numpy as jnp, numpy as np, sys
from jax import lax
from jaxmlp import MLP, Optimizer
from jaxmlp.step import step_halves, update_if
net = MLP((4, 8, 3), "tanh", "softmax", "cross_entropy")
rng = np.random.default_rng(0); x = jnp.asarray(rng.normal(size=(16, 4)), jnp.float32); t = jax.nn.one_hot(rng.integers(0, 3, 16), 3)
P = 4
for opt in [Optimizer("adam"), Optimizer("adam", weight_decay=1e-2, clip_norm=1.0), Optimizer("adam", lr=0.05)]:
    tx = opt.build(100)
    gm, upd = step_halves(net, tx, "hand", "float32")
    params = jax.vmap(lambda k: net.init(k))(jax.random.split(jax.random.key(0), P))
    st = jax.vmap(tx.init)(params)
    def run(mode):
        def member(p, s):
            def body(c, _):
                p, s = c
                g, m = gm(p, x, t)
                ok = jnp.isfinite(m["loss"])
                if mode == "guard": p, s = update_if(ok, upd, g, s, p)
                elif mode == "free": p, s = upd(g, s, p)
                elif mode == "updates_only":
                    u, s2 = tx.update(g, s, p)
                    p = optax.apply_updates(p, jax.tree.map(lambda a: jnp.where(ok, a, 0), u))
                    s = jax.tree.map(lambda a, b: jnp.where(ok, a, b), s2, s)
                elif mode == "barrier_g": p, s = upd(lax.optimization_barrier(g), s, p)
                elif mode == "barrier_all": p, s = lax.optimization_barrier(upd(*lax.optimization_barrier((g, s, p))))
                elif mode == "condfree":
                    n = lax.psum((~ok).astype(jnp.int32), "m")
                    p, s = lax.cond(n == 0, upd, lambda g, s, p: update_if(ok, upd, g, s, p), g, s, p)
                return (p, s), None
            return jax.lax.scan(body, (p, s), None, length=int(sys.argv[1]))[0]
        return jax.jit(jax.vmap(member, axis_name="m"))(params, st)
    a = run("guard")
    for mode in ["free", "condfree", "updates_only"]:
        b = run(mode)
        eq = [np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
        print(opt.name, opt.weight_decay, opt.clip_norm, mode, [jax.tree_util.keystr(k) for (k,_),e in zip(jax.tree_util.tree_leaves_with_path(a), eq) if not e])
