"""The cost over examples: the per-example losses ``l_i`` reduced to E, ``sum`` (the seeds'
E = sum_i l_i) or ``mean``, optionally weighted per example (sample weights; 0 for the rows
that pad a short last batch), and the factor each per-example derivative takes from it.

A row of weight 0 contributes nothing, also where its loss or derivative is not finite (an
outlier's squared error past the dtype's largest number, left out by its weight): 0 there,
not 0 * inf = NaN (``weighed``)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.numeric import dtype_range, outside


def reduce(per_example_losses, reduction: str, sample_weight=None):
    """The cost: ``sum`` over examples (the seeds' E) or their ``mean``; with per-example
    weights s (n,), E = sum_i s_i l_i, divided by S = sum_i s_i for ``mean`` (see ``reduced``).
    Summed in at least float32 (``sum_dtype``), rounded once to the losses' dtype."""
    dtype = per_example_losses.dtype
    losses = per_example_losses.astype(sum_dtype(dtype))
    if sample_weight is None:
        total = jnp.sum(losses)
        cost = total / losses.shape[0] if reduction == "mean" else total
        return cost.astype(dtype)
    s = check_weights(sample_weight, losses.shape[0], losses.dtype).astype(losses.dtype)
    if reduction != "mean":
        return jnp.sum(weighed(losses, s)).astype(dtype)
    s = _normalized(s)
    return (jnp.sum(weighed(losses, s)) / _weight_total(s)).astype(dtype)


def sum_dtype(dtype):
    """The dtype a reduction over examples sums in: ``dtype``, float32 for half precision
    (1000 float16 losses of 112.5 sum past its 65504, though their mean does not)."""
    return jnp.promote_types(dtype, jnp.float32)


def check_weights(sample_weight, n: int, dtype=None):
    """``sample_weight`` as an array (a list: NumPy's; None stays None); ValueError unless it is
    one real weight per example, ``(n,)`` (a (1,) or (n, 1) array would broadcast over the
    examples), and, where its values are concrete, finite and >= 0, and with ``dtype`` (the
    losses') each weight and their total held by the dtype they are summed in (``sum_dtype``,
    ``numeric.outside``: 1e300 is inf in float32, the cost NaN). The shape and dtype are
    checked inside ``jit`` too; the values only outside it."""
    if sample_weight is None:
        return None
    s = sample_weight if hasattr(sample_weight, "dtype") else np.asarray(sample_weight)
    if s.shape != (n,):
        raise ValueError(
            f"sample_weight must have shape ({n},), one weight per example; got {s.shape}."
        )
    real = jnp.issubdtype(s.dtype, jnp.integer) or jnp.issubdtype(s.dtype, jnp.floating)
    if not real and s.dtype != bool:
        raise ValueError(f"sample_weight must be real numbers, got dtype {s.dtype}.")
    if isinstance(s, jax.core.Tracer):
        return s
    host = np.asarray(s)
    if not np.isfinite(host).all():
        raise ValueError("sample_weight contains NaN or Inf; weights must be finite.")
    if (host < 0).any():
        first = float(host[host < 0][0])
        raise ValueError(f"sample_weight must be >= 0, got {first!r} (and maybe more).")
    summed = () if dtype is None else (sum_dtype(dtype),) * 2
    for what, bad, d in zip(("holds", "sums to"), (host, np.sum(host, dtype=np.float64)), summed):
        if (bad := outside(bad, d)).size:
            raise ValueError(
                f"sample_weight {what} {float(bad[0])!r}, outside the range of "
                f"{dtype_range(d)}: rescale the weights (a common factor leaves a mean "
                "reduction's cost as it is)."
            )
    return s


def weighed(v, s):
    """``v * s`` per example (``v (n,)`` or ``(n, K)``, ``s (n,)``), 0 where a row of weight 0
    holds a value that is not finite: 0 * inf is NaN, and the row would make the whole cost or
    gradient NaN. Every other product is left as it is (bit for bit, and ``jax.grad`` in s)."""
    s = s if v.ndim == 1 else s[:, None]
    return jnp.where((s == 0) & ~jnp.isfinite(v), jnp.zeros_like(v), v * s)


def _normalized(s):
    """``s`` times the power of two that puts its largest in [0.5, 1) (``jnp.ldexp``: exact),
    for a mean to divide by its total S: the same ratios s_i / S, bit for bit. XLA:CPU divides
    by S as a product with 1 / S, which is 0 where S passes 1 / (the smallest normal number):
    float32 weights of 2^123 in a batch of 8 trained nothing, every gradient 0."""
    return jnp.ldexp(s, -jnp.frexp(jnp.max(s))[1])


def _weight_total(sample_weight):
    """S = sum_i s_i, and 1 where S = 0: a batch without weight costs 0 and its gradient is 0
    (an optimizer with momentum, Adam's moments or weight decay still takes its step)."""
    total = jnp.sum(sample_weight)
    return jnp.where(total > 0, total, jnp.ones_like(total))


def reduced(g, reduction: str, sample_weight=None):
    """The factor of the reduction, applied per example to ``g`` (n, K).

    Weighted cost (one rule for sample weights and for the rows that pad a short last batch,
    which weigh 0): E = sum_i s_i l_i / S, S = sum_i s_i for ``mean`` (scikit-learn's
    ``np.average(l, weights=s)``), S = 1 for ``sum``. S is data, not a function of z, so
    dE/dz_i = (s_i / S) dl_i/dz_i and d2E/dz_i2 = (s_i / S) d2l_i/dz_i2: every per-example
    derivative is scaled by s_i / S. s = 1 gives back 1/n and 1."""
    if sample_weight is None:
        return g / g.shape[0] if reduction == "mean" else g
    s = check_weights(sample_weight, g.shape[0], g.dtype)
    s = s.astype(sum_dtype(s.dtype))  # S of float16 weights overflows
    if reduction == "mean":
        s = _normalized(s)
        s = s / _weight_total(s)
    return weighed(g, s.astype(g.dtype))
