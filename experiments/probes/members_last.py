"""Probe (issue 17): 1000 XOR 2-3-1 nets x 5000 full-batch SGD steps with the members' axis last.

Contenders, each one compiled program (default XLA options unless named), medians of 5 rounds:
  plain          the benchmark's reference: jax.jit(jax.vmap(train)), train a lax.scan of
                 jax.grad steps (members' axis first: XLA lays every array out (P, ...)).
  first          the hand step (products as unrolled multiply-adds) under jax.vmap.
  first_tiny     the same compiled with jaxmlp's tiny-member options (member_epochs).
  last           the same hand step written for arrays (..., P): every slice, broadcast and sum
                 runs along contiguous P-vectors. No vmap.
  last_in_vmap   jax.vmap(step, in_axes=-1, out_axes=-1) of the per-member update, its
                 gradient a jax.custom_batching.custom_vmap whose rule is `last`'s code: the
                 batching rules move the axis back only at the rule's edges, which XLA cancels.
  cv_first       the same custom_vmap gradient under a plain vmap (axis first): transposes at
                 every step.
Also: member k of `last` against the solo hand step of member k (XLA vectorises along P, and
rounds otherwise from the first step), and every contender against `last`.
"""

import statistics
import time

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_batching import custom_vmap

P, STEPS, ETA = 1000, 5000, 0.1
X = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
T = jnp.array([[0], [1], [1], [0]], jnp.float32)
TINY = {"xla_cpu_experimental_ynn_fusion_type": "", "xla_cpu_use_fusion_emitters": False}


def product(a, b):  # a (n, k, ...) @ b (k, m, ...), trailing axes elementwise
    out = a[:, 0, None] * b[None, 0, :]
    for i in range(1, a.shape[1]):
        out = out + a[:, i, None] * b[None, i, :]
    return out


def grads_of(p, x, t, swap):
    w1, b1, w2, b2 = p
    h = jax.nn.sigmoid(product(x, w1) + b1)
    y = jax.nn.sigmoid(product(h, w2) + b2)
    d2 = (y - t) * y * (1 - y)
    d1 = product(d2, swap(w2)) * h * (1 - h)
    return product(swap(x), d1), jnp.sum(d1, 0), product(swap(h), d2), jnp.sum(d2, 0)


def swap(a):
    return jnp.swapaxes(a, 0, 1)


def sgd(p, g):
    return tuple(a - ETA * b for a, b in zip(p, g, strict=True))


def step_first(p):  # one member, plain arrays
    return sgd(p, grads_of(p, X, T, lambda a: a.T))


def step_last(p):  # all members, (..., P)
    return sgd(p, grads_of(p, X[..., None], T[..., None], swap))


@custom_vmap
def grads(p, x, t):
    return grads_of(p, x, t, lambda a: a.T)


@grads.def_vmap
def _grads_last(axis_size, in_batched, p, x, t):
    def last(a, batched):
        return jnp.moveaxis(a, 0, -1) if batched else a[..., None]

    p = tuple(last(a, b) for a, b in zip(p, in_batched[0], strict=True))
    g = grads_of(p, last(x, in_batched[1]), last(t, in_batched[2]), swap)
    return tuple(jnp.moveaxis(a, -1, 0) for a in g), (True,) * 4


def step_cv(p):
    return sgd(p, grads(p, X, T))


def loss(p, x, t):
    w1, b1, w2, b2 = p
    y = jax.nn.sigmoid(jax.nn.sigmoid(x @ w1 + b1) @ w2 + b2)
    return 0.5 * jnp.sum((y - t) ** 2)


def loop(step, **options):
    run = lambda p: lax.scan(lambda q, _: (step(q), None), p, None, length=STEPS)[0]  # noqa: E731
    return jax.jit(run, compiler_options=options or None)


def main():
    keys = jax.random.split(jax.random.key(0), 4)
    shapes = [(P, 2, 3), (P, 3), (P, 3, 1), (P, 1)]
    first = tuple(jax.random.uniform(k, s) for k, s in zip(keys, shapes, strict=True))
    last = tuple(jnp.moveaxis(a, 0, -1) for a in first)
    plain_step = lambda p: sgd(p, jax.grad(loss)(p, X, T))  # noqa: E731
    contenders = {
        "plain": (loop(jax.vmap(plain_step)), first),
        "first": (loop(jax.vmap(step_first)), first),
        "first_tiny": (loop(jax.vmap(step_first), **TINY), first),
        "last": (loop(step_last), last),
        "last_in_vmap": (loop(jax.vmap(step_cv, in_axes=-1, out_axes=-1)), last),
        "cv_first": (loop(jax.vmap(step_cv)), first),
    }
    out = {k: f(p) for k, (f, p) in contenders.items()}
    ref = out["last"]
    for k, o in out.items():
        o = o if k in ("last", "last_in_vmap") else tuple(jnp.moveaxis(a, 0, -1) for a in o)
        gap = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(o, ref, strict=True))
        print(f"{k:13s} max |params - last's| {gap:.3g}")
    solo = loop(step_first)
    for k in (0, 1, 7):
        s = solo(tuple(a[k] for a in first))
        gap = max(float(jnp.max(jnp.abs(a - b[..., k]))) for a, b in zip(s, ref, strict=True))
        print(f"member {k}: solo hand step against last's member {gap:.3g}")
    times = {k: [] for k in contenders}
    for _ in range(5):
        for k, (f, p) in contenders.items():
            start = time.perf_counter()
            jax.block_until_ready(f(p))
            times[k].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:13s} {v * 1e3:7.1f} ms  plain / this {med['plain'] / v:5.2f}")


if __name__ == "__main__":
    main()
