"""Training with curvature: full-batch solvers for ``fit``, named in ``optim.OPTIMIZERS``.

    lbfgs      optax.lbfgs: two-loop recursion over 10 pairs, zoom line search (Wolfe)
    cg         nonlinear conjugate gradient (seed 001), Polak-Ribiere+ with restarts:
               d <- -g + max(0, <g, g - g_prev> / <g_prev, g_prev>) d, then optax's zoom line search
    newton-cg  Hessian-free (Martens 2010): (G + lambda I) p = -g by truncated conjugate gradient
               (jax.scipy.sparse.linalg.cg) on the hand Gauss-Newton products ``curvature.gnvp``,
               positive semi-definite for every (output, loss) pair
    lm         Levenberg-Marquardt (Marquardt 1963; MATLAB's trainlm): (J^T J + lambda I) p = -g on
               the hand outer-product products ``curvature.outer_product_vp``, for sse and mse

Damped solvers adapt lambda from the ratio rho of the actual to the predicted decrease
``q(p) = <g, p> + p^T (G + lambda I) p / 2``: a step is taken only if E decreases; lambda shrinks
(x 2/3 newton-cg, / 10 lm) when rho > 3/4 and grows (x 3/2, x 10) when rho < 1/4, the step was
refused or q(p) >= 0 (no decrease predicted: round-off, or an indefinite product). Their inner
CG stops at a residual of 1e-5 times |g| or after 50 iterations (``CG_TOLERANCE``,
``CG_ITERATIONS``), fixed as scipy's Newton-CG fixes its own: no setting, since
rho judges each step, so an inexact solve costs a refused step and more damping, never a wrong
one. At lambda's ceiling (``DAMPING_RANGE``) no step moves the weights: ``fit`` stops there
(``stalled``), with a warning where the loss never fell. ``lr`` is the initial lambda of
newton-cg and lm; lbfgs and cg step by line search and refuse any other ``lr`` than the default.
A line search (lbfgs, cg) that finds no decrease moves nothing and restarts its solver
(``_with_value``), and ``fit`` warns where no step moved (``warn_unmoved``); a resumed state
searches from the cost and gradient of the data it is given (``uncached``). Each is an
optax-style transformation whose ``update`` takes ``net``, ``x`` and ``t`` as extra arguments
(``step.step_halves`` passes them); its state is a pytree of arrays, saved and resumed like any
optimizer state (lm's and newton-cg's are of distinct classes: neither resumes the other's).
"""

import functools
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jax.scipy.sparse.linalg import cg as _cg

from jaxmlp import backprop, curvature

NAMES = ("lbfgs", "cg", "newton-cg", "lm")
LEAST_SQUARES = ("sse", "mse")
CG_TOLERANCE, CG_ITERATIONS = 1e-5, 50  # truncated CG per step: the module docstring
LINESEARCH_STEPS = 20
# The rise of E a line search admits (Hager and Zhang's approximate decrease, optax's
# approx_dec_rtol): a step to E above E(w) (1 + DECREASE_RTOL) is refused (``_with_value``).
DECREASE_RTOL = 1e-6


class Transformation(NamedTuple):
    """``init(params) -> state``, ``update(grads, state, params, *, net, x, t)``."""

    init: object
    update: object


def check(optimizer, net, batch_size: int, n: int) -> None:
    """ValueError for a setup a curvature solver cannot run: mini-batches, dropout, lm on a loss
    that is not a sum of squares, settings it does not use."""
    if optimizer.name not in NAMES:
        return
    if batch_size != n:
        raise ValueError(
            f"Optimizer {optimizer.name!r} is a full-batch method: use batch_size='full' "
            f"(got {batch_size} of {n} examples)."
        )
    if net.dropout:
        raise ValueError(f"Optimizer {optimizer.name!r} needs dropout=0, got {net.dropout}.")
    if optimizer.name == "lm" and net.loss not in LEAST_SQUARES:
        raise ValueError(f"Optimizer 'lm' needs loss in {list(LEAST_SQUARES)}, got {net.loss!r}.")


def check_settings(optimizer) -> None:
    """ValueError for settings of ``Optimizer`` that a curvature solver would ignore."""
    if optimizer.name not in NAMES:
        return
    ignored = {
        "momentum": optimizer.momentum is not None,
        "weight_decay": optimizer.weight_decay != 0,
        "schedule": optimizer.schedule != "constant",
        "warmup_steps": optimizer.warmup_steps != 0,
        "clip_norm": optimizer.clip_norm is not None,
        "lr": optimizer.name in ("lbfgs", "cg") and optimizer.lr != 1e-3,
    }
    bad = [name for name, set_ in ignored.items() if set_]
    if bad:
        raise ValueError(
            f"Optimizer {optimizer.name!r} does not use {bad}: leave them at their defaults "
            "(lbfgs and cg step by line search; newton-cg and lm take lr as the initial damping)."
        )
    low, high = DAMPING_RANGE
    if optimizer.name in STATES and not low <= optimizer.lr <= high:
        raise ValueError(
            f"lr of {optimizer.name!r} is its initial damping, which stays in [{low:g}, {high:g}] "
            f"(at the ceiling {high:g} no step moves the weights), got {optimizer.lr:g}."
        )


@functools.lru_cache(maxsize=32)
def build(optimizer) -> Transformation:
    """The transformation for ``optimizer.name`` in ``NAMES``, one per optimizer: its ``init``
    is compiled once (optax.lbfgs's state built op by op took ~1 ms of every ``fit`` call, a
    third of a short run's wall time on XOR)."""
    if optimizer.name == "lbfgs":
        tx = _with_value(optax.lbfgs())
    elif optimizer.name == "cg":
        tx = _with_value(optax.chain(_polak_ribiere(), _linesearch()))
    else:
        product = curvature.gnvp if optimizer.name == "newton-cg" else curvature.outer_product_vp
        shrink, grow = (2 / 3, 3 / 2) if optimizer.name == "newton-cg" else (0.1, 10.0)
        tx = _damped(product, optimizer.lr, shrink, grow, STATES[optimizer.name])
    return tx._replace(init=jax.jit(tx.init))


def _cost(net, params, x, t):
    return backprop.cost_of(net, backprop.forward(net, params, x), t)


def _with_value(tx) -> Transformation:
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
    and Wright restart L-BFGS where its direction fails); where the restarted step fails too,
    every later epoch refuses it again and the loss stays flat."""

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
        take = reached <= value + DECREASE_RTOL * jnp.abs(value)  # False for NaN
        updates = jnp.where(take, updates, jnp.zeros_like(updates))
        return unravel(updates), optax.tree.where(take, after, tx.init(flat))

    return Transformation(init, update)


def uncached(optimizer, opt_state):
    """``opt_state`` as a resume starts from it: for lbfgs and cg, without the cost and gradient
    their last line search evaluated at the weights (``_with_value``), so that the first step
    evaluates them afresh on the data it is given (optax's mark of no cache, an infinite
    value), not on the data the state was trained on; the same bits on that data. Their memory
    of the steps before (lbfgs's pairs, cg's direction) goes on, as a first-order optimizer's
    moments do. Any other state as it is."""
    if optimizer.name not in ("lbfgs", "cg"):
        return opt_state
    value = optax.tree.get(opt_state, "value")
    return optax.tree.set(opt_state, value=jnp.full_like(value, jnp.inf))


def _linesearch():
    return optax.scale_by_zoom_linesearch(
        LINESEARCH_STEPS, approx_dec_rtol=DECREASE_RTOL, initial_guess_strategy="one"
    )


class CGState(NamedTuple):
    last_grad: optax.Updates  # not "grad": the line search keeps its own
    direction: optax.Updates


def _polak_ribiere() -> optax.GradientTransformation:
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


class DampedState(NamedTuple):
    """The damping lambda and the step count of a damped solver. Each solver's state is its own
    subclass (``STATES``): the tree's structure names the class, so that a state of one is not
    resumed by the other (``optim.check_state``)."""

    damping: jax.Array
    count: jax.Array


class NewtonCGState(DampedState):
    __slots__ = ()


class LMState(DampedState):
    __slots__ = ()


STATES = {"newton-cg": NewtonCGState, "lm": LMState}
DAMPING_RANGE = (1e-12, 1e12)  # lambda stays within; at the ceiling no step moves the weights


def solver_of(opt_state) -> str | None:
    """The damped solver whose state ``opt_state`` is; None for any other state."""
    return next((name for name, kind in STATES.items() if type(opt_state) is kind), None)


def at_ceiling(damping) -> jax.Array:
    """Whether a damped solver's ``damping`` (one, or a population's (P,)) is at its ceiling,
    where no step moves the weights: the one rule of a stall (``_damped``, ``stalled``,
    ``stall_epoch``, and a population's members, ``member_epochs``), traceable."""
    return damping >= jnp.asarray(DAMPING_RANGE[1], damping.dtype)


def stalled(optimizer, state, history: list, epochs: int) -> bool:
    """Whether the damped ``optimizer`` can go no further from ``state`` (a ``TrainState``):
    its damping at the ceiling, where every step is refused or too small to move the weights
    (the loss cannot decrease at this precision). ``fit`` then stops, as early stopping does;
    where the loss of its epochs (``history``) never fell, a warning says so (``warn_stuck``).
    ``fit`` asks after each epoch that a callback or early stopping sees; a call of fused epochs
    it cuts at ``stall_epoch`` instead, which has read the damping already."""
    if optimizer.name not in STATES or not at_rest(state):
        return False
    warn_stuck(optimizer, state, history, epochs, stacklevel=5)
    return True


def at_rest(state) -> bool:
    """Whether the run at ``state`` (a ``TrainState``) has stalled: a damped solver's state
    after an epoch, its damping at the ceiling, where no step moves the weights again (``fit``
    stops there: ``stalled``). The initial state is not: ``fit`` runs its first epoch (at the
    ceiling from ``lr`` 1e12, one epoch that counts no step). ``resume.finished`` holds such a
    run over, as ``fit`` left it: a resume adds no epoch."""
    if state.epoch == 0 or solver_of(state.opt_state) is None:
        return False
    return bool(jax.device_get(at_ceiling(state.opt_state.damping)))


def warn_stuck(optimizer, state, history: list, epochs: int, stacklevel: int = 4) -> None:
    """A stall's word: the warning of ``stalled`` where the loss of the epochs (``history``)
    never fell; none where it did (converged: the run stops quietly). ``stacklevel`` as
    ``warnings.warn``'s, counted from here (4: the caller of ``fit``, which calls this)."""
    if history[-1]["train_loss"] >= history[0]["train_loss"]:
        _warn_stalled(optimizer.name, state.epoch, epochs, stacklevel=stacklevel)


def warn_unmoved(optimizer, history: list) -> None:
    """A warning where a line search (lbfgs, cg) moved nothing in any epoch of ``history``
    (``fit``'s): its loss flat from the first epoch on, every step refused (``_with_value``:
    no decrease found from where it started, inputs or targets badly scaled) or at a minimum.
    None for one epoch (nothing to compare) or a loss that fell."""
    if optimizer.name not in ("lbfgs", "cg") or len(history) < 2:
        return
    if any(h["train_loss"] != history[0]["train_loss"] for h in history):
        return
    warnings.warn(
        f"{optimizer.name} moved nothing in {len(history)} epochs: its line search found no "
        "decrease from the weights it started at (inputs or targets badly scaled: standardise "
        "them), or they are at a minimum.",
        UserWarning,
        stacklevel=4,
    )


def warn_stalled_members(optimizer, opt_state, ends, train_loss, epochs: int, other) -> None:
    """``stalled``'s warning for a population, whose members stop at the ceiling inside the
    compiled epochs (``member_epochs``): once, naming the first member that stopped there with
    the loss where it started, and all such members. ``opt_state``: the members' stacked;
    ``ends (P,)``: the epochs each ran; ``train_loss (P, epochs)``; ``other (P,)``: the members
    that something else stopped (diverged, out of patience), which ``fit`` stops unasked."""
    if optimizer.name not in STATES:
        return
    ends = np.asarray(ends)
    last = np.asarray(train_loss)[np.arange(len(ends)), np.maximum(ends - 1, 0)]
    flat = last >= np.asarray(train_loss)[:, 0]
    stopped = np.asarray(jax.device_get(at_ceiling(opt_state.damping))) & (ends > 0) & ~other
    members = np.flatnonzero(stopped & flat).tolist()
    if members:
        k = members[0]
        who, where = f"member {k} (of members {members}): ", "the member stopped there"
        _warn_stalled(optimizer.name, int(ends[k]), epochs, who, where, stacklevel=5)


def _warn_stalled(name, epoch, epochs, who="", where="fit stopped there", *, stacklevel):
    warnings.warn(
        f"{who}{name} refused every step: its damping reached its ceiling "
        f"{DAMPING_RANGE[1]:g} by epoch {epoch} of {epochs} with the loss where it "
        "started (lr, the initial damping, too large: lower it; or the state had already "
        f"converged); {where}.",
        UserWarning,
        stacklevel=stacklevel,
    )


def stall_epoch(optimizer, opt_state) -> int | None:
    """The epoch whose step brought the damped ``optimizer``'s damping to its ceiling, None
    below it: its step ``count`` (one full-batch step an epoch; a step that starts at the
    ceiling moves nothing and counts nothing, ``_damped``), so that ``fit`` cuts a call of
    fused epochs there, as it stops after that epoch with a callback (after the call's first
    epoch where it started at the ceiling: ``lr`` 1e12, or a state resumed there)."""
    if optimizer.name not in STATES:
        return None
    damping, count = jax.device_get((opt_state.damping, opt_state.count))
    if not at_ceiling(damping):
        return None
    return int(count)


def _damped(product, damping0: float, shrink: float, grow: float, kind) -> Transformation:
    """Solve (C + lambda I) p = -g with ``C v = product(net, params, x, t, v)`` by truncated CG,
    take p if E decreases, adapt lambda from the reduction ratio; the state is a ``kind``. A
    step that starts at the damping's ceiling is no step: the weights and the state stay as
    they are (``stall_epoch`` reads the count of the steps before it)."""

    def init(params):
        dtype = jax.tree.leaves(params)[0].dtype
        return kind(jnp.asarray(damping0, dtype), jnp.zeros((), jnp.int32))

    def update(grads, state, params, *, net, x, t):
        lam = state.damping
        p, _, rho, accept = _trial(product, lam, grads, params, net=net, x=x, t=t)
        keep = jnp.where(accept & (rho >= 0.25), 1.0, grow)
        factor = jnp.where(accept & (rho > 0.75), shrink, keep)
        stalled = at_ceiling(state.damping)
        move = accept & ~stalled
        updates = jax.tree.map(lambda a: jnp.where(move, a, jnp.zeros_like(a)), p)
        lam = jnp.where(stalled, state.damping, jnp.clip(lam * factor, *DAMPING_RANGE))
        return updates, kind(lam.astype(state.damping.dtype), state.count + ~stalled)

    return Transformation(init, update)


def _trial(product, lam, grads, params, *, net, x, t):
    """A damped solver's trial step ``(p, q, rho, accept)``: p solves (C + lambda I) p = -g by
    truncated CG (``C v = product(net, params, x, t, v)``); q(p) = <g, p> + p^T (C + lambda I)
    p / 2 is the change of E that the damped quadratic model predicts, rho = (E(w + p) - E(w)) /
    q(p) the reduction ratio, 0 where q >= 0 (a model that predicts no decrease, as an
    indefinite product can: lambda grows, never shrinks on it); ``accept``: E(w + p) finite and
    below E(w)."""

    def damped(v):
        return optax.tree.add_scale(product(net, params, x, t, v), lam, v)

    minus_g = optax.tree.scale(-1.0, grads)
    p, _ = _cg(damped, minus_g, tol=CG_TOLERANCE, atol=0.0, maxiter=CG_ITERATIONS)
    predicted = optax.tree.vdot(grads, p) + 0.5 * optax.tree.vdot(p, damped(p))
    e0 = _cost(net, params, x, t)
    e1 = _cost(net, optax.apply_updates(params, p), x, t)
    rho = jnp.where(predicted < 0, (e1 - e0) / jnp.where(predicted < 0, predicted, -1.0), 0.0)
    return p, predicted, rho, jnp.isfinite(e1) & (e1 < e0)
