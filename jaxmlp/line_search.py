"""The line-search solvers of ``second_order`` (lbfgs, cg), fed from the net: the cost, its
hand gradient and the line search's cache (``with_value``), a refused step's restart and a
stall (``_stall``, which ``second_order.stuck`` reads: ``search_state``), a resume's fresh
cache (``uncached``) and cg's Polak-Ribiere+ direction (``polak_ribiere``)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxmlp import backprop

LINESEARCH_STEPS = 20
# The rise of E a line search admits (Hager and Zhang's approximate decrease, optax's
# approx_dec_rtol): a step to E above E(w) (1 + DECREASE_RTOL) is refused (``with_value``).
DECREASE_RTOL = 1e-6


def with_value(tx) -> optax.GradientTransformationExtraArgs:
    """An optax transformation that wants ``value, grad, value_fn`` (line searches), fed from
    the net: ``value_fn`` is the cost, differentiated by the hand backprop (``hand_cost``).
    ``value`` and ``grad`` at ``params`` are those the last line search evaluated there, kept in
    its state (``optax.value_and_grad_from_state``; computed at the first step only): no cost
    evaluated twice per step (sin(pi x)'s 1-10-1 net: 54 us an epoch instead of 78). The
    solver sees the weights as one flat vector (``ravel_pytree``): its state has one leaf per
    stored vector, not one per layer's array, so fewer operations per step and fewer arrays for
    ``fit`` to copy in (XOR's lbfgs state: 27 arrays as a tree). A line search that found no
    decrease (out of its ``LINESEARCH_STEPS``, optax takes its last trial step all the same:
    cg raised E from 5e7 to 1.6e31 on inputs ~1e4) moves nothing: a step to E above E(w) (1 +
    ``DECREASE_RTOL``), the most a point of sufficient decrease may reach, or to a NaN, leaves
    the weights as they were and restarts the solver (``init``: its memory dropped, as Nocedal
    and Wright restart L-BFGS where its direction fails). Where the restarted step fails too
    (or the first, from ``init``), every later one would fail alike (the same weights, the same
    state): the solver has stalled (``_stall``, ``stuck``), and refuses every later step,
    whatever its search finds (cg on inputs ~1e4 trained all its epochs at its initial loss)."""

    def init(params):
        return tx.init(ravel_pytree(params)[0])

    def update(grads, state, params, *, net, x, t):
        flat, unravel = ravel_pytree(params)

        def value_fn(w):
            return backprop.hand_cost(net, unravel(w), x, t)

        value, grad = optax.value_and_grad_from_state(value_fn)(flat, state=state)
        g = ravel_pytree(grads)[0]
        updates, after = tx.update(g, state, flat, value=value, grad=grad, value_fn=value_fn)
        reached = optax.tree.get(after, "value")  # E where the line search stepped
        stuck = search_state(state).learning_rate < 0  # stalled before: refused, whatever it finds
        take = (reached <= value + DECREASE_RTOL * jnp.abs(value)) & ~stuck  # False for NaN
        fresh = tx.init(flat)
        restarted = jnp.all(jnp.stack([jnp.array_equal(a, b) for a, b in _pairs(state, fresh)]))
        refused = optax.tree.where(restarted | stuck, _stall(fresh, state, stuck), fresh)
        updates = jnp.where(take, updates, jnp.zeros_like(updates))
        return unravel(updates), optax.tree.where(take, after, refused)

    return optax.GradientTransformationExtraArgs(init, update)


def _pairs(a, b):
    return zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)


def search_state(opt_state):
    """The zoom line search's state in a lbfgs or cg state (``with_value``); None in any other."""
    kind = optax.ScaleByZoomLinesearchState
    nodes = jax.tree.leaves(opt_state, is_leaf=lambda node: isinstance(node, kind))
    return next((node for node in nodes if isinstance(node, kind)), None)


def _stall(fresh, state, stuck):
    """A line search's stalled state: the restarted solver's (``fresh``), its step size (optax's
    ``learning_rate``, the step the last search took, never negative) -k: k steps refused since
    the stall, its own included (``stuck``: ``state`` had stalled already; ``stall_epoch``)."""
    lr = search_state(state).learning_rate
    return optax.tree.set(fresh, learning_rate=jnp.where(stuck, lr - 1, -1).astype(lr.dtype))


def held(opt_state, counted):
    """A stalled solver's state after a step that ``fit``'s epochs skip (``second_order.stuck``:
    no step moves it, and the search one would run, up to ``LINESEARCH_STEPS`` costs and
    gradients, is thrown away): a line search's with the step counted as refused where
    ``counted`` (the state its refused step leaves, ``_stall``: ``stall_epoch`` counts them),
    a damped solver's as it is (a step at its ceiling counts nothing)."""
    if search_state(opt_state) is None:
        return opt_state
    return optax.tree.where(counted, _stall(opt_state, opt_state, True), opt_state)


def uncached(optimizer, opt_state):
    """``opt_state`` as a resume starts from it: for lbfgs and cg, without the cost and gradient
    their last line search evaluated at the weights (``with_value``), so that the first step
    evaluates them afresh on the data it is given (optax's mark of no cache, an infinite
    value), not on the data the state was trained on; the same bits on that data. Their memory
    of the steps before (lbfgs's pairs, cg's direction) goes on, as a first-order optimizer's
    moments do. Any other state as it is."""
    if optimizer.name not in ("lbfgs", "cg"):
        return opt_state
    value = optax.tree.get(opt_state, "value")
    return optax.tree.set(opt_state, value=jnp.full_like(value, jnp.inf))


def linesearch():
    return optax.scale_by_zoom_linesearch(
        LINESEARCH_STEPS, approx_dec_rtol=DECREASE_RTOL, initial_guess_strategy="one"
    )


class CGState(NamedTuple):
    last_grad: optax.Updates  # not "grad": the line search keeps its own
    direction: optax.Updates


def polak_ribiere() -> optax.GradientTransformation:
    """The Polak-Ribiere+ direction, restarted at -g when it is not a descent direction."""

    def init(params):
        zeros = optax.tree.zeros_like(params)
        return CGState(zeros, zeros)

    def update(grads, state, params=None):
        del params
        old = optax.tree.vdot(state.last_grad, state.last_grad)
        beta = optax.tree.vdot(grads, optax.tree.sub(grads, state.last_grad))
        beta = jnp.where(old > 0, jnp.maximum(beta / jnp.where(old > 0, old, 1), 0.0), 0.0)
        d = optax.tree.add_scale(optax.tree.scale(-1.0, grads), beta, state.direction)
        descent = optax.tree.vdot(d, grads) < 0
        d = jax.tree.map(lambda a, g: jnp.where(descent, a, -g), d, grads)
        return d, CGState(grads, d)

    return optax.GradientTransformation(init, update)
