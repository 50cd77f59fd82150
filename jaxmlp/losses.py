"""Per-example losses l(y, t) with their hand-derived derivatives, and the output delta dE/dz_L.

Protocol: ``fn(y, t) -> (n,)``, one loss per example summed or averaged over the K outputs as the
formula says; ``grad(y, t) -> dl/dy (n, K)``. The cost is the reduction of ``fn`` over examples:
``sum`` gives the seeds' E = sum_i E_i, ``mean`` divides by n. ``delta`` applies the same factor.

Canonical pairs (seeds 000 and 001): with identity+sse, sigmoid+bce and softmax+cross_entropy the
output derivative cancels the loss derivative and dl/dz = y - t. Softmax+cross_entropy gives
y sum_k t_k - t, which is y - t for targets that sum to one. The two classification pairs are
computed from the logits z with log-sum-exp, so they stay finite and exact for |z| = 1e4.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmlp import outputs


class Loss(NamedTuple):
    name: str
    fn: Callable
    grad: Callable


def _huber(r):
    return jnp.where(jnp.abs(r) <= 1, 0.5 * r * r, jnp.abs(r) - 0.5)  # huber_1


_LOSSES = {
    "sse": Loss("sse", lambda y, t: 0.5 * jnp.sum((y - t) ** 2, -1), lambda y, t: y - t),
    "mse": Loss(
        "mse", lambda y, t: jnp.mean((y - t) ** 2, -1), lambda y, t: 2 * (y - t) / y.shape[-1]
    ),
    "mae": Loss(
        "mae", lambda y, t: jnp.mean(jnp.abs(y - t), -1), lambda y, t: jnp.sign(y - t) / y.shape[-1]
    ),
    "huber": Loss(
        "huber",
        lambda y, t: jnp.mean(_huber(y - t), -1),
        lambda y, t: jnp.clip(y - t, -1, 1) / y.shape[-1],
    ),
    "bce": Loss(
        "bce",
        lambda y, t: -jnp.sum(t * jnp.log(y) + (1 - t) * jnp.log1p(-y), -1),
        lambda y, t: (y - t) / (y * (1 - y)),
    ),
    "cross_entropy": Loss(
        "cross_entropy", lambda y, t: -jnp.sum(t * jnp.log(y), -1), lambda y, t: -t / y
    ),
}
NAMES = tuple(_LOSSES)

# Losses that take logs of y need outputs in (0, 1).
PROBABILISTIC = {"bce": ("sigmoid", "softmax"), "cross_entropy": ("softmax", "sigmoid")}

# (output, loss) -> per-example loss computed from the logits z.
_FROM_LOGITS = {
    ("identity", "sse"): lambda z, t: 0.5 * jnp.sum((z - t) ** 2, -1),
    ("sigmoid", "bce"): lambda z, t: jnp.sum(jnp.logaddexp(0.0, z) - t * z, -1),
    ("softmax", "cross_entropy"): lambda z, t: (
        jax.nn.logsumexp(z, -1) * jnp.sum(t, -1) - jnp.sum(t * z, -1)
    ),
}
CANONICAL = tuple(_FROM_LOGITS)


def get(name: str) -> Loss:
    """The loss record called ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in _LOSSES:
        raise ValueError(f"Unknown loss: {name!r}. It needs to be one of {list(NAMES)}.")
    return _LOSSES[name]


def check_pair(output: str, loss: str) -> None:
    """ValueError if ``loss`` needs probabilities that ``output`` does not produce."""
    allowed = PROBABILISTIC.get(loss)
    if allowed and output not in allowed:
        raise ValueError(
            f"Loss {loss!r} needs outputs in (0, 1): output must be one of {list(allowed)}, "
            f"got {output!r}."
        )


def per_example(output: str, loss: str, z, y, t):
    """l(y, t) for each example, (n,): from the logits z for the canonical pairs."""
    if (output, loss) in _FROM_LOGITS:
        return _FROM_LOGITS[output, loss](z, t)
    return get(loss).fn(y, t)


def reduce(per_example_losses, reduction: str):
    """The cost: ``sum`` over examples (the seeds' E) or their ``mean``."""
    total = jnp.sum(per_example_losses)
    return total / per_example_losses.shape[0] if reduction == "mean" else total


def delta(output: str, loss: str, reduction: str, z, y, t):
    """Output delta G_L = dE/dz_L, (n, K), for the reduced cost."""
    if (output, loss) == ("softmax", "cross_entropy"):
        g = y * jnp.sum(t, -1, keepdims=True) - t
    elif (output, loss) in _FROM_LOGITS:
        g = y - t
    else:  # general chain: dl/dy, then through the output's Jacobian
        g = outputs.get(output).vjp(z, y, get(loss).grad(y, t))
    return g / z.shape[0] if reduction == "mean" else g
