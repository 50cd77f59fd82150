"""Central differences of the cost in float64, many parameter points to one compiled program.

    central_differences(key, params, x, t, eps)     (E(w + h_i e_i) - E(w - h_i e_i)) / 2 h_i,
                                                    every element, per leaf
    along_directions(key, params, x, t, g, ...)     per leaf, <g, d_k> and the central difference
                                                    along random unit directions d_k

``key`` is ``gradient_check._static(net)``: the net and its activation records, a static
argument, so each net compiles one program (and re-registering an activation name recompiles).
``costs`` evaluates E at rows of flat parameters (``flatten``, leaves in ``named_leaves`` order),
for these and for ``jaxmlp.taylor``. The caller (``gradcheck``) switches float64 on.

    roundoff_rows(w, directions), roundoff(e0, e)
                                                    the round-off of E near w, measured

The round-off of E is not ``u |E|``: a cross-entropy of 1.5e-5 computed as ``logsumexp(z) -
z_t`` from logits ~11 carries ~1e-15 (``u |z|``), 3e5 times ``u |E|``, and a correct gradient
failed every check that sized its noise from |E|. So the checks measure it, from E's second
differences at steps too small for curvature to show.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

ROUNDOFF_STEPS = 1e-10 * 2.0 ** -np.arange(8)  # h^2 <d, H d> ~ 1e-20 |H|: below any round-off
ROUNDOFF_SAFETY = 10.0  # the largest of 8 samples per direction, to a bound on them all


def named_leaves(params):
    """``(layer, leaf name, array)`` in layer order, "w", "b", then "alpha"."""
    order = ("w", "b", "alpha")
    return [(l, k, layer[k]) for l, layer in enumerate(params) for k in order if k in layer]


def flatten(params):
    """``(named_leaves(params), w)``: the leaves in order and their elements in one vector
    ``(|w|,)``."""
    named = named_leaves(params)
    return named, np.concatenate([np.asarray(leaf).ravel() for _, _, leaf in named])


def unflatten(rows, named) -> list:
    """Rows ``(batch, |w|)`` -> params pytree with a leading batch axis on every leaf."""
    out, start = [{} for _ in range(named[-1][0] + 1)], 0
    for l, k, leaf in named:
        out[l][k] = rows[:, start : start + leaf.size].reshape(len(rows), *leaf.shape)
        start += leaf.size
    return out


@partial(jax.jit, static_argnums=0)
def _batch_costs(key, batch, x, t):
    """E for each params in ``batch`` (a leading axis on every leaf)."""
    return jax.vmap(key[0].cost, in_axes=(0, None, None))(batch, x, t)


@partial(jax.jit, static_argnums=(0, 1, 2))
def _leaf_costs(key, l: int, k: str, params, values, x, t):
    """E for each value of the one leaf ``params[l][k]`` in ``values`` (a leading axis)."""

    def at(v):
        p = [dict(layer) for layer in params]
        p[l][k] = v
        return key[0].cost(p, x, t)

    return jax.vmap(at)(values)


def costs(key, named, rows, x, t) -> np.ndarray:
    """E at each row ``(|w|,)`` of flat parameters: chunks of one size, one compiled program."""
    chunk = min(len(rows), max(1, 2**22 // rows.shape[1]))
    padded = np.concatenate([rows, np.repeat(rows[-1:], -len(rows) % chunk, axis=0)])
    e = [
        np.asarray(_batch_costs(key, unflatten(jnp.asarray(padded[i : i + chunk]), named), x, t))
        for i in range(0, len(padded), chunk)
    ]
    return np.concatenate(e)[: len(rows)].astype(np.float64)


def central_differences(key, params, x, t, eps: float) -> list[np.ndarray]:
    """``(E(w + h_i e_i) - E(w - h_i e_i)) / (actual step)`` for every element, per leaf."""
    named, w = flatten(params)
    h = eps * np.maximum(1.0, np.abs(w))
    plus, minus = w + h, w - h
    idx = np.arange(w.size)
    rows = np.broadcast_to(w, (2 * w.size, w.size)).copy()
    rows[idx, idx], rows[w.size + idx, idx] = plus, minus
    e = costs(key, named, rows, x, t)
    fd = (e[: w.size] - e[w.size :]) / (plus - minus)  # the step actually taken
    ends = np.cumsum([leaf.size for _, _, leaf in named])
    return [f.reshape(leaf.shape) for f, (_, _, leaf) in zip(np.split(fd, ends[:-1]), named)]


def along_directions(key, params, x, t, g, eps: float, n_directions: int, seed: int):
    """Per leaf, ``(<g, d_k>, central difference along d_k)`` for random unit ``d_k``."""
    rng = np.random.default_rng(seed)
    out = []
    for (l, k, leaf), gi in zip(named_leaves(params), g):
        d = rng.standard_normal((n_directions, leaf.size))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        h = eps * max(1.0, float(np.max(np.abs(leaf), initial=0.0)))
        values = np.concatenate([leaf.ravel() + h * d, leaf.ravel() - h * d])
        values = values.reshape(-1, *leaf.shape)
        e = np.asarray(_leaf_costs(key, l, k, params, values, x, t), np.float64)
        out.append((d @ gi.ravel(), (e[:n_directions] - e[n_directions:]) / (2 * h)))
    return out


def roundoff_rows(w: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Rows ``w + h d`` and ``w + 2 h d`` for each unit direction d ``(k, |w|)`` and each h of
    ``ROUNDOFF_STEPS``, for ``roundoff``: ``(2 k len(ROUNDOFF_STEPS), |w|)``."""
    steps = np.concatenate([ROUNDOFF_STEPS, 2 * ROUNDOFF_STEPS])
    return (w + np.asarray(directions)[:, None, :] * steps[None, :, None]).reshape(-1, w.size)


def roundoff(e0: float, e: np.ndarray) -> float:
    """The round-off of E near w, measured: ``ROUNDOFF_SAFETY`` times the largest second
    difference ``|E(w + 2h d) - 2 E(w + h d) + E(w)|`` over E at ``roundoff_rows`` (``e``) and
    at w (``e0``). Their true value, ``h^2 <d, H d>``, is ~1e-20 |H|: what is left is
    round-off, a bound on the difference of E's round-offs at two nearby points (NaN if E is).
    One-sided: the central ``E(w + h d) + E(w - h d) - 2 E(w)`` cancels to 0 where E's
    rounding is odd about w (logits rounded to the same grid either side), measuring nothing.
    """
    e = np.asarray(e, np.float64).reshape(-1, 2, len(ROUNDOFF_STEPS))
    return ROUNDOFF_SAFETY * float(np.max(np.abs(e[:, 1] - 2 * e[:, 0] + e0)))


def noise_of_e(e0: float, e: np.ndarray) -> float:
    """The Taylor tests' noise floor for remainders of E: the larger of ``roundoff(e0, e)`` and
    1000 float64 round-offs of ``|E(w)|`` (``e0``; the floor they guessed before measuring,
    kept as its least). NaN if E is."""
    guess = 1e3 * np.finfo(np.float64).eps * abs(e0)
    return float(np.max([guess, np.finfo(np.float64).tiny, roundoff(e0, e)]))


def measured_roundoff(key, params, x, t, seed: int, n_directions: int = 2) -> float:
    """``roundoff`` at the point of params, along ``n_directions`` random unit directions."""
    named, w = flatten(params)
    d = np.random.default_rng(seed).standard_normal((n_directions, w.size))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    e = costs(key, named, np.concatenate([w[None], roundoff_rows(w, d)]), x, t)
    return roundoff(e[0], e[1:])
