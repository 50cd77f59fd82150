"""Softmax + bce from the logits: the cost, the delta dl/ds, the curvature (d2l/ds2) u and the
(1 - t) / (1 - y)^2 part of the outer product J^T (d2l/dy2) J u, of s = beta z (``losses``
scales them by beta and beta^2). Finite and exact where y_k rounds to 1 or to 0, a confident
prediction right or wrong: computed from y as ``bce`` writes it, log(1 - y) was log 0 = -inf
(cost inf, delta and curvature NaN) from a logit gap of ~37 in float64 and ~17 in float32,
where the true cost is ~ the gap.

With y = softmax(s), L = logsumexp(s) and L_k = logsumexp of s without unit k: log y_k = s_k - L
and log(1 - y_k) = L_k - L, so

    l = -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)] = K L - <t, s> - sum_k (1 - t_k) L_k,
    dl/ds = K y - t - sum_k (1 - t_k) p^k,   d2l/ds2 = K C(y) - sum_k (1 - t_k) C(p^k),

p^k the softmax of s without unit k (p^k_j = y_j / (1 - y_k), p^k_k = 0), C(p) = diag(p) - p p^T.
Only the largest unit m can round 1 - y_m off (every other y_k <= 1/2, so 1 - y_k >= 1/2 is
exact): its log(1 - y_m) = L_m - L and p^m = e, the softmax of the rest, come from the logits;
the others take 1 - y_k. O(K) per example. The outer part, J = C(y) (times beta):
J^T diag((1 - t) / (1 - y)^2) J u = G((1 - t) F(u)), F(u) = diag(1 / (1 - y)) C(y) u and
G = F^T, with F(u)_m = y_m (u_m - <e, u>) and G(w) = y (r - <y, r>) + y_m w_m (1_m - e),
r = w / (1 - y) off m, 0 at m.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class _Row(NamedTuple):
    """Per example, from s (n, K): ``y``, ``log_y``, ``log_1m`` = log(1 - y), ``c`` = 1 - y, ``top``
    the largest unit (one-hot, bool) and ``e`` the softmax of the others (0 at top)."""

    y: jax.Array
    log_y: jax.Array
    log_1m: jax.Array
    c: jax.Array
    top: jax.Array
    e: jax.Array


def _row(s) -> _Row:
    # L_m - L is taken as (s_2 - s_1) + log sum_{k != m} e^(s_k - s_2) - log sum_k e^(s_k - s_1),
    # s_1 the largest logit and s_2 the largest of the rest: logsumexp adds its max back, and
    # L_m - L of two such numbers kept their rounding (1e-3 at logits of 1e4 in float32).
    top, d, lse = gaps(s)  # s - s_1 and L - s_1: log_softmax's log(1 + tiny) is 0, y_top's cost 0
    log_y = d - lse
    y = jnp.exp(log_y)
    rest = jnp.where(top, -jnp.inf, d)
    second = jnp.max(rest, -1, keepdims=True)
    second = jnp.where(jnp.isfinite(second), second, 0)  # one unit: no rest
    log_rest = jnp.log(_sum(jnp.exp(rest - second)))  # L_m - s_2
    log_1m_top = second + log_rest - lse
    off = jnp.where(top, 0, y)  # y_k <= 1/2 off the top
    log_1m = jnp.where(top, log_1m_top, jnp.log1p(-off))
    c = jnp.where(top, jnp.exp(log_1m_top), 1 - off)
    return _Row(y, log_y, log_1m, c, top, jnp.exp(rest - second - log_rest))


def _sum(v):
    return jnp.sum(v, -1, keepdims=True)


def gaps(s):
    """``(top, d, lse)`` per row of logits s (n, K): the largest logit s_1's place (one-hot,
    bool), the gaps d = s - s_1 to it and lse = log sum_k e^(d_k) = logsumexp(s) - s_1 (n, 1),
    as log1p of the other units' terms.
    A softmax loss written with logsumexp(s) subtracts numbers of the logits' size (which keep
    their rounding: 1e-3 at 1e4 in float32), and its log(1 + tiny) is 0: a confident right
    answer cost 0, not ~tiny."""
    top = jax.nn.one_hot(jnp.argmax(s, -1), s.shape[-1], dtype=bool)
    d = s - jnp.max(s, -1, keepdims=True)
    return top, d, jnp.log1p(_sum(jnp.where(top, 0, jnp.exp(d))))


def cross_entropy_cost(s, t):
    """Softmax + cross_entropy's l (n,) = logsumexp(s) sum_k t_k - <t, s>, from the ``gaps``:
    its canonical cost (``losses``), which this module's bce shares the logits' rules with."""
    _, d, lse = gaps(s)
    return lse[..., 0] * jnp.sum(t, -1) - jnp.sum(t * d, -1)


def cost(s, t):
    """l (n,): -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)]."""
    r = _row(s)
    return -jnp.sum(t * r.log_y + (1 - t) * r.log_1m, -1)


def _weights(r, t):
    """w_k = (1 - t_k) / (1 - y_k) off the top, 0 at it; and the top's 1 - t_m (n, 1)."""
    return jnp.where(r.top, 0, (1 - t) / r.c), _sum(jnp.where(r.top, 1 - t, 0))


def delta(s, t):
    """dl/ds (n, K): K y - t - sum_k (1 - t_k) p^k, whose sum is y (D - w) + (1 - t_m) e with
    D = sum_k w_k (p^k_j = y_j / (1 - y_k) for k != m, j != k)."""
    r = _row(s)
    y = r.y
    w, tc_top = _weights(r, t)
    return s.shape[-1] * y - t - y * (_sum(w) - w) - tc_top * r.e


def hvp(s, t, u):
    """(d2l/ds2) u (n, K): K C(y) u - sum_k (1 - t_k) C(p^k) u, where C(p^k) u = p^k (u - a_k),
    a_k = <p^k, u> = (<y, u> - y_k u_k) / (1 - y_k) off the top; summed over k != m, j:
    y_j [u_j (D - w_j) - (Q - w_j a_j)], Q = sum_k w_k a_k."""
    r = _row(s)
    y = r.y
    w, tc_top = _weights(r, t)
    yu = _sum(y * u)
    a = jnp.where(r.top, 0, (yu - y * u) / r.c)  # 1 - y_m may be 0
    own = s.shape[-1] * y * (u - yu)
    others = y * (u * (_sum(w) - w) - (_sum(w * a) - w * a))
    return own - others - tc_top * r.e * (u - _sum(r.e * u))


def outer_rest(s, t, u):
    """J^T diag((1 - t) / (1 - y)^2) J u over beta^2 (n, K): G((1 - t) F(u)) (module
    docstring); bce's t / y^2 part is cross_entropy's (``losses``)."""
    r = _row(s)
    y = r.y
    f = jnp.where(r.top, y * (u - _sum(r.e * u)), y * (u - _sum(y * u)) / r.c)  # F(u)
    v = (1 - t) * f
    q = jnp.where(r.top, 0, v / r.c)
    return y * (q - _sum(y * q)) + _sum(jnp.where(r.top, y * v, 0)) * (r.top - r.e)
