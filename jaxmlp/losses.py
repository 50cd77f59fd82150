"""Per-example losses l(y, t) with their hand-derived derivatives, and each (output, loss) pair's
output delta dE/dz_L and output curvature d2E/dz_L2.

Protocol: ``fn(y, t) -> (n,)``, one loss per example summed or averaged over the K outputs as the
formula says; ``grad(y, t) -> dl/dy (n, K)``; ``grad2(y, t) -> d2l/dy2 (n, K)``, its diagonal, which
is all of it: every loss here is a sum over units, so d2l/dy_j dy_k = 0 for j != k.
``kink_distance(y, t) -> (n, K)`` is how far each unit sits from a kink of l (None: no kinks).
The cost is the reduction of ``fn`` over examples: ``sum`` gives the seeds' E = sum_i E_i,
``mean`` divides by n. ``delta`` and ``curvature`` apply the same factor. Per-example weights
s_i (sample weights; 0 for the rows that pad a short last batch) make it E = sum_i s_i E_i,
``mean`` dividing by sum_i s_i (``reduction.reduced`` derives the deltas).

A ``Pair`` holds what backprop and the curvature passes ask at the output, from the logits z:
``cost(z, y, t)``, ``delta(z, y, t) = dl/dz`` and ``hvp(z, y, t, u) = (d2l/dz2) u``, both (n, K).
A general pair composes its output and loss records by the chain rule,

    dl/dz = J^T dl/dy,      (d2l/dz2) u = J^T (d2l/dy2 * J u) + sum_k dl/dy_k (d2y_k/dz2) u,

with ``J = dy/dz``. Canonical pairs (seeds 000 and 001): with identity+sse, sigmoid+bce and
softmax+cross_entropy the output derivative cancels the loss derivative and dl/dz = y - t, so
d2l/dz2 = dy/dz = J: I, diag(y (1 - y)), diag(y) - y y^T. Softmax+cross_entropy has
l = logsumexp(z) sum_k t_k - <t, z>, hence dl/dz = y sum_k t_k - t and d2l/dz2 = (diag(y) - y y^T)
sum_k t_k. The canonical pairs are computed from the logits with log-sum-exp, so they stay
finite and exact for |z| = 1e4. So is their ``outer``, ``J^T (d2l/dy2) J u`` (the chain rule's
first term), J cancelled against d2l/dy2's denominators: t (1 - y)^2 + (1 - t) y^2 for sigmoid+bce,
(I - y 1^T) diag(t) (I - 1 y^T) for softmax + cross_entropy, t for exp + poisson (inf * 0 = NaN
where y saturates, computed as written); softmax + bce, not canonical, is computed from the
logits too (``softmax_bce``: as bce writes it, log(1 - y) is log 0 where y rounds to 1).
Their ``fisher(z, y, u)`` is the covariance of the target under the model (Gaussian of unit
variance, Bernoulli, categorical, Poisson) times u, which is d2l/dz2 u for targets that sum to
one (for every target with exp+poisson).

Softmax with temperature beta (seed 003), y = softmax(beta z), with cross_entropy:
l = logsumexp(beta z) sum_k t_k - beta <t, z>, so dl/dz = beta (y sum_k t_k - t) and
d2l/dz2 = beta^2 (diag(y) - y y^T) sum_k t_k; the score of a class drawn from y is beta (y - e_c),
so the Fisher is beta^2 (diag(y) - y y^T). The threshold output shares the sigmoid's pairs: its
-1/+1 targets reach the loss as 0/1 (``Output.loss_targets``, applied by ``pair``).

Poisson regression (scikit-learn's ``MLPRegressor(loss="poisson")``): l is half the Poisson
deviance, l = sum_k (y_k - t_k log y_k + t_k log t_k - t_k) (0 log 0 = 0), which is 0 at y = t;
the last two terms do not depend on y and make ``fn`` equal scikit-learn's ``loss_``. dl/dy =
1 - t / y, d2l/dy2 = t / y^2. With its canonical output y = e^z: l = sum_k (e^z_k - t_k z_k + ...),
dl/dz = e^z - t = y - t and d2l/dz2 = diag(e^z) = diag(y), computed from the logits (no log of
an underflowed y); the Poisson variance of t is y, so the Fisher is diag(y) too.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

from jaxmlp import outputs, softmax_bce
from jaxmlp.numeric import not_one_of
from jaxmlp.reduction import reduced


class Loss(NamedTuple):
    name: str
    fn: Callable
    grad: Callable
    grad2: Callable
    kink_distance: Callable | None = None
    needs_outputs: tuple | None = None  # outputs that keep y where the loss is one (None: any)
    targets: tuple | None = None  # (low, high): the range the targets must lie in (None: any)
    needs: str = ""  # what those outputs give, for the message that refuses the others


def _huber(r):
    return jnp.where(jnp.abs(r) <= 1, 0.5 * r * r, jnp.abs(r) - 0.5)  # huber_1


# 0 log 0 = 0: a term whose coefficient c (t or 1 - t) is 0 contributes 0, and so do its
# derivatives, also where y has saturated to 0 or 1 (softmax + bce on a confident correct
# prediction in float32). The inner where keeps jax.grad finite there too.


def _c_log(c, y):
    """``c log(y)``, 0 where c = 0."""
    zero = c == 0
    return jnp.where(zero, 0, c * jnp.log(jnp.where(zero, 1, y)))


def _c_log1m(c, y):
    """``c log(1 - y)`` (as ``log1p(-y)``), 0 where c = 0."""
    zero = c == 0
    return jnp.where(zero, 0, c * jnp.log1p(-jnp.where(zero, 0, y)))


def _c_over(c, v):
    """``c / v``, 0 where c = 0."""
    zero = c == 0
    return jnp.where(zero, 0, c / jnp.where(zero, 1, v))


def _per_unit(value):
    """``(y, t) -> value / K`` broadcast to y's shape."""
    return lambda y, t: jnp.full_like(y, value / y.shape[-1])


_LOSSES = {
    "sse": Loss(
        "sse",
        lambda y, t: 0.5 * jnp.sum((y - t) ** 2, -1),
        lambda y, t: y - t,
        lambda y, t: jnp.ones_like(y),
    ),
    "mse": Loss(
        "mse",
        lambda y, t: jnp.mean((y - t) ** 2, -1),
        lambda y, t: 2 * (y - t) / y.shape[-1],
        _per_unit(2.0),
    ),
    "mae": Loss(
        "mae",
        lambda y, t: jnp.mean(jnp.abs(y - t), -1),
        lambda y, t: jnp.sign(y - t) / y.shape[-1],
        lambda y, t: jnp.zeros_like(y),
        kink_distance=lambda y, t: jnp.abs(y - t),  # |r| kinks at r = 0
    ),
    "huber": Loss(
        "huber",
        lambda y, t: jnp.mean(_huber(y - t), -1),
        lambda y, t: jnp.clip(y - t, -1, 1) / y.shape[-1],
        lambda y, t: jnp.where(jnp.abs(y - t) <= 1, 1.0, 0.0).astype(y.dtype) / y.shape[-1],
        kink_distance=lambda y, t: jnp.abs(jnp.abs(y - t) - 1),  # quadratic meets linear at |r| = 1
    ),
    "bce": Loss(
        "bce",
        lambda y, t: -jnp.sum(_c_log(t, y) + _c_log1m(1 - t, y), -1),
        lambda y, t: _c_over(1 - t, 1 - y) - _c_over(t, y),
        lambda y, t: _c_over(t, y * y) + _c_over(1 - t, (1 - y) * (1 - y)),
        needs_outputs=("sigmoid", "softmax"),
        targets=(0.0, 1.0),
        needs="outputs in (0, 1)",
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        lambda y, t: -jnp.sum(_c_log(t, y), -1),
        lambda y, t: -_c_over(t, y),
        lambda y, t: _c_over(t, y * y),
        # -sum_k t_k log y_k is a loss only for outputs that sum to 1: with sigmoid units a
        # unit of t = 0 costs nothing, so every y -> 1 would be optimal (bce is their loss)
        needs_outputs=("softmax",),
        targets=(0.0, 1.0),
        needs="outputs in (0, 1) that sum to 1",
    ),
    "poisson": Loss(
        "poisson",
        lambda y, t: jnp.sum(y - xlogy(t, y) + xlogy(t, t) - t, -1),  # half Poisson deviance
        lambda y, t: 1 - t / y,
        lambda y, t: t / (y * y),
        needs_outputs=("exp",),
        targets=(0.0, math.inf),
        needs="outputs in (0, inf)",
    ),
}
NAMES = tuple(_LOSSES)
PROBABILISTIC = {name: l.needs_outputs for name, l in _LOSSES.items() if l.targets == (0.0, 1.0)}


class Pair(NamedTuple):
    """An (output, loss) pair at the output, per example: ``cost (n,)``, ``delta = dl/dz``,
    ``hvp = (d2l/dz2) u`` and ``outer = J^T (d2l/dy2) J u`` (n, K); ``fisher`` (canonical pairs
    only) the model's target covariance times u."""

    cost: Callable
    delta: Callable
    hvp: Callable
    outer: Callable
    fisher: Callable | None = None


def _softmax_cov(y, u):
    return y * (u - jnp.sum(y * u, -1, keepdims=True))  # (diag(y) - y y^T) u


def _softmax_outer(y, t, u):
    """(I - y 1^T) diag(t) (I - 1 y^T) u: J^T diag(t / y^2) J u of softmax + cross_entropy over
    beta^2, as (diag(1 / y) J)^T diag(t) (diag(1 / y) J) u."""
    c = t * (u - jnp.sum(y * u, -1, keepdims=True))
    return c - y * jnp.sum(c, -1, keepdims=True)


_CANONICAL = {
    ("identity", "sse"): Pair(
        cost=lambda z, y, t: 0.5 * jnp.sum((z - t) ** 2, -1),
        delta=lambda z, y, t: y - t,
        hvp=lambda z, y, t, u: u,
        outer=lambda z, y, t, u: u,
        fisher=lambda z, y, u: u,
    ),
    ("sigmoid", "bce"): Pair(
        # log(1 + e^z) - t z; logaddexp(0, z) = z + log1p(e^-z) was z at z = 20 in float32
        cost=lambda z, y, t: jnp.sum(jnp.maximum(z, 0) - t * z + jax.nn.softplus(-jnp.abs(z)), -1),
        delta=lambda z, y, t: y - t,
        hvp=lambda z, y, t, u: y * (1 - y) * u,
        outer=lambda z, y, t, u: (t * (1 - y) ** 2 + (1 - t) * y**2) * u,
        fisher=lambda z, y, u: y * (1 - y) * u,
    ),
    ("softmax", "cross_entropy"): Pair(
        cost=lambda z, y, t: softmax_bce.cross_entropy_cost(z, t),
        delta=lambda z, y, t: y * jnp.sum(t, -1, keepdims=True) - t,
        hvp=lambda z, y, t, u: _softmax_cov(y, u) * jnp.sum(t, -1, keepdims=True),
        outer=lambda z, y, t, u: _softmax_outer(y, t, u),
        fisher=lambda z, y, u: _softmax_cov(y, u),
    ),
    ("exp", "poisson"): Pair(
        cost=lambda z, y, t: jnp.sum(y - t * z + xlogy(t, t) - t, -1),
        delta=lambda z, y, t: y - t,
        hvp=lambda z, y, t, u: y * u,
        outer=lambda z, y, t, u: t * u,
        fisher=lambda z, y, u: y * u,
    ),
}
CANONICAL = tuple(_CANONICAL)


@functools.lru_cache(maxsize=16)
def _tempered_softmax_cross_entropy(beta: float) -> Pair:
    """Softmax with temperature beta + cross_entropy, from the logits (module docstring)."""
    return Pair(
        cost=lambda z, y, t: softmax_bce.cross_entropy_cost(beta * z, t),
        delta=lambda z, y, t: beta * (y * jnp.sum(t, -1, keepdims=True) - t),
        hvp=lambda z, y, t, u: beta**2 * _softmax_cov(y, u) * jnp.sum(t, -1, keepdims=True),
        outer=lambda z, y, t, u: beta**2 * _softmax_outer(y, t, u),
        fisher=lambda z, y, u: beta**2 * _softmax_cov(y, u),
    )


@functools.lru_cache(maxsize=16)
def _softmax_bce(beta: float) -> Pair:
    """Softmax with temperature beta + bce, from the logits s = beta z (``softmax_bce``)."""
    return Pair(
        cost=lambda z, y, t: softmax_bce.cost(beta * z, t),
        delta=lambda z, y, t: beta * softmax_bce.delta(beta * z, t),
        hvp=lambda z, y, t, u: beta**2 * softmax_bce.hvp(beta * z, t, u),
        outer=lambda z, y, t, u: (
            beta**2 * (_softmax_outer(y, t, u) + softmax_bce.outer_rest(beta * z, t, u))
        ),
    )


_TEMPERED = {  # the softmax pairs computed from the logits, by beta
    ("softmax", "cross_entropy"): _tempered_softmax_cross_entropy,
    ("softmax", "bce"): _softmax_bce,
}


def chain_pair(output: str, loss: str) -> Pair:
    """The pair composed from its output and loss records by the chain rule (any pair)."""
    out, l = outputs.get(output), get(loss)

    def outer(z, y, t, u):
        return out.vjp(z, y, l.grad2(y, t) * out.vjp(z, y, u))  # J^T (d2l/dy2) J u; J symmetric

    return Pair(
        cost=lambda z, y, t: l.fn(y, t),
        delta=lambda z, y, t: out.vjp(z, y, l.grad(y, t)),
        hvp=lambda z, y, t, u: outer(z, y, t, u) + out.curvature(z, y, l.grad(y, t), u),
        outer=outer,
    )


def pair(output: str, loss: str) -> Pair:
    """The pair record: the canonical one computed from the logits, else the chain rule's. An
    output shares its ``base`` record's pairs (a tempered softmax with its beta). Built from the
    tables on each call (cheap), so a mutation test that patches a table sees its patch."""
    out = outputs.get(output)
    key = (out.base or out.name, loss)
    p = _CANONICAL.get(key) if out.beta == 1 else None
    p = p or (_TEMPERED[key](out.beta) if key in _TEMPERED else chain_pair(output, loss))
    if out.labels == (0, 1):
        return p
    m = out.loss_targets  # threshold: labels -1/+1 enter the sigmoid's loss as 0/1
    return p._replace(
        cost=lambda z, y, t: p.cost(z, y, m(t)),
        delta=lambda z, y, t: p.delta(z, y, m(t)),
        hvp=lambda z, y, t, u: p.hvp(z, y, m(t), u),
        outer=lambda z, y, t, u: p.outer(z, y, m(t), u),
    )


def get(name: str) -> Loss:
    """The loss record called ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in _LOSSES:
        raise not_one_of("loss", name, NAMES)
    return _LOSSES[name]


def check_pair(output: str, loss: str) -> None:
    """ValueError if ``output`` does not give what ``loss`` needs (``Loss.needs``), naming the
    losses that do take that output."""
    l, out = get(loss), outputs.get(output)
    base = out.base or out.name
    if l.needs_outputs and base not in l.needs_outputs:
        allowed = outputs.specs_where(
            lambda record: (record.base or record.name) in l.needs_outputs
        )
        instead = [name for name, other in _LOSSES.items() if base in (other.needs_outputs or ())]
        hint = f"; for output {output!r} use loss {' or '.join(map(repr, instead))}" * bool(instead)
        raise ValueError(
            f"Loss {loss!r} needs {l.needs}: output must be one of {allowed}, got {output!r}{hint}."
        )


def check_targets(loss: str, t, name: str = "t") -> None:
    """ValueError unless the finite values of the concrete targets ``t`` lie in the range
    ``loss`` needs (``Loss.targets``: [0, 1] for bce and cross_entropy, >= 0 for poisson), and,
    for cross_entropy's ``(n, K)``, unless every row names a class: sums to more than 0 (a row of
    zeros costs 0 whatever the outputs, and would count as a correct prediction). Soft labels
    are rows of probabilities; a row's sum scales its loss (module docstring). Messages call the
    targets ``name``."""
    allowed = get(loss).targets
    if allowed is None or isinstance(t, jax.core.Tracer) or t.size == 0:
        return
    xp = jnp if isinstance(t, jax.Array) else np
    with jax.ensure_compile_time_eval():  # a concrete array inside a trace: still concrete
        zero = xp.sum(t, -1) == 0 if loss == "cross_entropy" and t.ndim == 2 else None
        # scalars: a global array's reductions are replicated, readable on every process
        count, first = (0, 0) if zero is None else (int(xp.sum(zero)), int(xp.argmax(zero)))
        t = xp.where(xp.isfinite(t), t, 0)  # NaN and Inf are the finiteness check's to name
        low, high = float(xp.min(t)), float(xp.max(t))
    if low < allowed[0] or high > allowed[1]:
        if allowed == (0.0, 1.0):
            raise ValueError(
                f"Targets of loss {loss!r} must lie in [0, 1] (a probability or a 0/1 label), "
                f"got values in [{low:g}, {high:g}]; for classes 0..K-1 use a softmax output "
                "with K units and cross_entropy; for labels -1/+1 the output 'threshold'."
            )
        raise ValueError(
            f"Targets of loss {loss!r} must be >= {allowed[0]:g} (counts or rates), got values "
            f"in [{low:g}, {high:g}]."
        )
    if count:
        raise ValueError(
            f"Targets of loss 'cross_entropy': row {first} of {name} sums to 0: it names no "
            f"class (and would cost 0 and count as correct); {count} such row(s). Each row "
            "needs a class: one-hot, or class probabilities (soft labels) summing to 1."
        )


def refuser(loss: str) -> Callable:
    """``t (n, K) -> mask``: where ``check_targets`` would refuse the targets, elementwise
    (outside the range ``loss`` needs, or in a cross_entropy row that sums to 0; nowhere for a
    loss without a range). For traced targets, which that check cannot see
    (``array_checks.nan_where``)."""
    allowed = get(loss).targets

    def refused(t):
        if allowed is None:
            return jnp.zeros(jnp.shape(t), bool)
        bad = (t < allowed[0]) | (t > allowed[1])
        return bad | (jnp.sum(t, -1, keepdims=True) == 0) if loss == "cross_entropy" else bad

    return refused


def per_example(output: str, loss: str, z, y, t):
    """l(y, t) for each example, (n,): from the logits z for the canonical pairs."""
    return pair(output, loss).cost(z, y, t)


def delta(output: str, loss: str, reduction: str, z, y, t, sample_weight=None):
    """Output delta G_L = dE/dz_L, (n, K), for the reduced (optionally weighted) cost."""
    return reduced(pair(output, loss).delta(z, y, t), reduction, sample_weight)


def curvature(output: str, loss: str, reduction: str, z, y, t, u, sample_weight=None):
    """The output curvature times u, (d2E/dz_L2) u per example, (n, K), for the reduced
    (optionally weighted) cost."""
    return reduced(pair(output, loss).hvp(z, y, t, u), reduction, sample_weight)


def is_canonical(output: str, loss: str) -> bool:
    """Whether (output, loss) is a canonical pair (``CANONICAL``, a tempered softmax with
    cross_entropy, the threshold with bce): its loss is convex in the logits, its model a
    distribution over targets (``Pair.fisher``)."""
    return pair(output, loss).fisher is not None


def gauss_newton_curvature(output: str, loss: str, reduction: str, z, y, t, u):
    """The output factor of the Gauss-Newton matrix times u per example (n, K), for the reduced
    cost, positive semi-definite for every pair: the output curvature ``(d2E/dz_L2) u`` of a
    canonical pair (``is_canonical``: convex in the logits), else the outer product ``J^T
    (d2E/dy2) J u`` (``Pair.outer``; every loss is convex in y), which drops the output's own
    curvature ``sum_k dl/dy_k (d2y_k/dz2) u``: indefinite (sigmoid, softmax or tanh with mse)."""
    p = pair(output, loss)
    return reduced((p.hvp if is_canonical(output, loss) else p.outer)(z, y, t, u), reduction)


def outer_curvature(output: str, loss: str, reduction: str, z, y, t, u):
    """The outer-product approximation of the output curvature times u, ``J^T (d2E/dy2) J u``
    per example (n, K), for the reduced cost: finite where y saturates (``Pair.outer``)."""
    return reduced(pair(output, loss).outer(z, y, t, u), reduction)
