"""Kinks of the cost: where its derivative jumps, as the records define them, and the examples
that sit close enough to one that a derivative check there carries no verdict.

A unit of an activation or output that is not ``smooth`` has its kink at z = 0 (relu, prelu,
elu's h'', ...); a loss with ``Loss.kink_distance`` at its own (mae at y = t, huber at |y - t| =
1). At a kink the cost has no derivative: the hand rule and ``jax.grad`` may take different
one-sided derivatives (mae's hand sign(0) = 0 against jax's |r|' = 1 at 0), and a central
difference whose step crosses it measures neither side. An example is *near* a kink where one
of its distances is within the reach of a parameter step of length ``step``: ``d <= 2 step
|grad_w d|`` (first order, doubled for the rest), or ``d = 0``.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations, backprop, losses, outputs

CHUNK = 64  # distances differentiated at once (each a gradient over every parameter)


class AtKinks(ValueError):
    """Every example of the data sits near a kink: no derivative to check (``gradcheck``)."""

    @classmethod
    def every(cls, n: int, net: str) -> "AtKinks":
        return cls(
            f"Every example ({n}) sits at a kink of the cost ({net}): within a central "
            "difference's step of one, where the cost has no derivative to check (mae at y = t, "
            "huber at |y - t| = 1, a relu-like unit at z = 0). Check at a point clear of the "
            "kinks (outputs away from the targets for mae)."
        )


def distances(net, params, x, t) -> jax.Array:
    """``(n, m)``: each example's distance from every kink (``m = 0`` for a smooth cost): ``|z|``
    of each unit of a non-smooth activation or output, then ``Loss.kink_distance`` of each
    output unit (``t``: ``(n, K)`` targets)."""
    records = [activations.get(a) for a in net.hidden_activations] + [outputs.get(net.output)]
    loss = losses.get(net.loss)
    trace = backprop.forward(net, params, x)
    parts = [jnp.abs(z) for z, record in zip(trace.zs, records) if not record.smooth]
    if loss.kink_distance is not None:
        parts.append(loss.kink_distance(trace.as_[-1], outputs.get(net.output).loss_targets(t)))
    return jnp.concatenate(parts, 1) if parts else jnp.zeros((x.shape[0], 0), x.dtype)


def kink_distance(net, params, x, t) -> float:
    """How far the data sit from the kinks: the least of ``distances`` (inf: none)."""
    return float(np.min(np.asarray(distances(net, params, x, t)), initial=math.inf))


def near(net, params, x, t, step: float, margin: float) -> np.ndarray:
    """``(n,)`` bool: the examples near a kink (module docstring) for parameter steps of length
    at most ``step``. Only the distances up to ``margin`` are differentiated (a step that moves
    the units farther is not one a derivative check takes)."""
    d = np.asarray(distances(net, params, x, t))
    rows, cols = np.nonzero(d <= margin)
    out = np.zeros(d.shape[0], bool)
    out[rows[d[rows, cols] == 0]] = True

    def norm(xi, ti, col):
        g = jax.grad(lambda p: distances(net, p, xi[None], ti[None])[0, col])(params)
        return jnp.sqrt(sum(jnp.sum(leaf * leaf) for leaf in jax.tree.leaves(g)))

    norms = jax.jit(jax.vmap(norm))
    for i in range(0, len(rows), CHUNK):
        r, c = rows[i : i + CHUNK], cols[i : i + CHUNK]
        reach = 2 * step * np.asarray(norms(x[r], t[r], jnp.asarray(c)))
        out[r[d[r, c] <= reach]] = True
    return out
