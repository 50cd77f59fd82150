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
one. The truncated solve amplifies round-off: data-parallel devices, which sum in another order,
end apart beyond it (a 3-3-1 regression, 25 epochs, float64, 8 devices against one: 8e-6 (lm)
and 1.7e-4 (newton-cg) of the largest parameter; solved to 1e-13, 4e-13). At lambda's
ceiling (``DAMPING_RANGE``) no step moves the weights: ``fit`` stops there (``stalled``), with
a warning where the loss never fell. ``lr`` is the initial lambda of newton-cg and lm; lbfgs and
cg step by line search and refuse any other ``lr`` than the default.
A line search (lbfgs, cg: ``jaxmlp.line_search``) that finds no decrease moves nothing and
restarts its solver (``with_value``); one that finds none from a restarted solver has stalled
(every later step is refused alike): ``fit`` stops there, as at a damping's ceiling
(``stuck``; the fused epochs after a stall run no step: ``line_search.held``); where every
step was one of 0, it warns that none moved (``warn_unmoved``). A resumed state searches from
the cost and gradient of the data it is given (``uncached``).
Each is an optax-style transformation whose ``update`` takes ``net``, ``x`` and ``t`` as extra
arguments (``step.step_halves`` passes them); its state is a pytree of arrays, saved and
resumed like any optimizer state (lm's and newton-cg's are of distinct classes: neither resumes
the other's).
"""

import functools
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.sparse.linalg import cg as _cg

from jaxmlp import backprop, curvature
from jaxmlp.line_search import linesearch, polak_ribiere, search_state, with_value

NAMES = ("lbfgs", "cg", "newton-cg", "lm")
LEAST_SQUARES = ("sse", "mse")
CG_TOLERANCE, CG_ITERATIONS = 1e-5, 50  # truncated CG per step: the module docstring


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
        tx = Transformation(*with_value(optax.lbfgs()))
    elif optimizer.name == "cg":
        tx = Transformation(*with_value(optax.chain(polak_ribiere(), linesearch())))
    else:
        product = curvature.gnvp if optimizer.name == "newton-cg" else curvature.outer_product_vp
        shrink, grow = (2 / 3, 3 / 2) if optimizer.name == "newton-cg" else (0.1, 10.0)
        tx = _damped(product, optimizer.lr, shrink, grow, STATES[optimizer.name])
    return tx._replace(init=jax.jit(tx.init))


def _cost(net, params, x, t):
    return backprop.cost_of(net, backprop.forward(net, params, x), t)


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
    where no step moves the weights (``_damped``, ``stuck``), traceable."""
    return damping >= jnp.asarray(DAMPING_RANGE[1], damping.dtype)


def stuck(opt_state) -> jax.Array | None:
    """Whether a curvature solver at ``opt_state`` (one, or a population's stacked: (P,)) has
    stalled, where no step moves the weights again: a damped solver's damping at its ceiling, a
    line search's step refused from a restarted solver (``with_value``: the same weights and
    state refuse every later step). The one rule of a stall (``stalled``, ``stall_epoch``, and a
    population's members, ``member_epochs``), traceable; None for another optimizer's state."""
    if solver_of(opt_state) is not None:
        return at_ceiling(opt_state.damping)
    search = search_state(opt_state)
    return None if search is None else search.learning_rate < 0


def stalled(optimizer, state, history: list, epochs: int) -> bool:
    """Whether the curvature solver ``optimizer`` can go no further from ``state`` (a
    ``TrainState``, ``stuck``): a damped one's damping at the ceiling, where every step is refused
    or too small to move the weights (the loss cannot decrease at this precision), a line search
    that found no decrease from a restarted solver. ``fit`` then stops, as early stopping does;
    where the loss of its epochs (``history``) never fell, a warning says so (``warn_stuck``).
    ``fit`` asks after each epoch that a callback or early stopping sees; a call of fused epochs
    it cuts at ``stall_epoch`` instead, which has read the damping already."""
    if optimizer.name not in NAMES or not at_rest(state):
        return False
    warn_stuck(optimizer, state, history, epochs, stacklevel=5)
    return True


def at_rest(state) -> bool:
    """Whether the run at ``state`` (a ``TrainState``) has stalled: a curvature solver's state
    after an epoch, ``stuck``, where no step moves the weights again (``fit`` stops there:
    ``stalled``). The initial state is not: ``fit`` runs its first epoch (at the ceiling from
    ``lr`` 1e12, one epoch that counts no step). ``resume.finished`` holds such a run over, as
    ``fit`` left it: a resume adds no epoch."""
    rest = None if state.epoch == 0 else stuck(state.opt_state)
    return rest is not None and bool(jax.device_get(rest))


def warn_stuck(optimizer, state, history: list, epochs: int, stacklevel: int = 4) -> None:
    """A stall's word: the warning of ``stalled`` where the loss of the epochs (``history``)
    never fell; none where it did (converged: the run stops quietly). ``stacklevel`` as
    ``warnings.warn``'s, counted from here (4: the caller of ``fit``, which calls this)."""
    if history[-1]["train_loss"] >= history[0]["train_loss"]:
        _warn_stalled(optimizer.name, state.epoch, epochs, stacklevel=stacklevel)


def unmoved(train_loss, ends) -> np.ndarray:
    """Which runs' loss never moved: ``train_loss (P, epochs)``, each row's first ``ends (P,)``
    epochs (more than one) all equal to its first: every step of 0 (a line search's step too
    short to change the weights in their precision, ``with_value`` takes it), or at a minimum."""
    loss, ends = np.asarray(train_loss), np.asarray(ends)
    ran = np.arange(loss.shape[1]) < ends[:, None]
    return (ends > 1) & np.all((loss == loss[:, :1]) | ~ran, axis=1)


def warn_unmoved(optimizer, history: list, state=None, who="", stacklevel: int = 4) -> None:
    """A warning where a line search (lbfgs, cg) moved nothing in any epoch of ``history``
    (``fit``'s, whose ``state`` has not stalled: a stall says so itself, ``warn_stuck``; or a
    member's records, named by ``who``): its loss flat from the first epoch on (``unmoved``)."""
    if optimizer.name not in ("lbfgs", "cg") or len(history) < 2:
        return
    if state is not None and at_rest(state):
        return
    if not unmoved([[h["train_loss"] for h in history]], [len(history)])[0]:
        return
    warnings.warn(
        f"{who}{optimizer.name} moved nothing in {len(history)} epochs: its line search found "
        "no step that changes the weights from those it started at (inputs or targets badly "
        "scaled: standardise them), or they are at a minimum.",
        UserWarning,
        stacklevel=stacklevel,
    )


def warn_stalled_members(optimizer, opt_state, ends, train_loss, epochs: int, other) -> None:
    """``stalled``'s warning for a population, whose members stop at a stall inside the
    compiled epochs (``member_epochs``): once, naming the first member that stalled with the
    loss where it started, and all such members. ``opt_state``: the members' stacked;
    ``ends (P,)``: the epochs each ran; ``train_loss (P, epochs)``; ``other (P,)``: the members
    that something else stopped (diverged, out of patience), which ``fit`` stops unasked."""
    if optimizer.name not in NAMES:
        return
    ends = np.asarray(ends)
    last = np.asarray(train_loss)[np.arange(len(ends)), np.maximum(ends - 1, 0)]
    flat = last >= np.asarray(train_loss)[:, 0]
    stopped = np.asarray(jax.device_get(stuck(opt_state))) & (ends > 0) & ~other
    members = np.flatnonzero(stopped & flat).tolist()
    if members:
        k = members[0]
        who, where = f"member {k} (of members {members}): ", "the member stopped there"
        _warn_stalled(optimizer.name, int(ends[k]), epochs, who, where, stacklevel=5)
    members = np.flatnonzero(unmoved(train_loss, ends) & ~stopped & ~other).tolist()
    if members:
        k, loss = members[0], np.asarray(train_loss)[members[0], : ends[members[0]]]
        who = f"member {k} (of members {members}): "
        warn_unmoved(optimizer, [{"train_loss": v} for v in loss], None, who, stacklevel=5)


def _warn_stalled(name, epoch, epochs, who="", where="fit stopped there", *, stacklevel):
    if name in STATES:
        how = f"its damping reached its ceiling {DAMPING_RANGE[1]:g}"
        why = "lr, the initial damping, too large: lower it"
    else:
        how = "its line search found no decrease from a restarted solver"
        why = "inputs or targets badly scaled: standardise them"
    warnings.warn(
        f"{who}{name} refused every step: {how} by epoch {epoch} of {epochs} with the loss "
        f"where it started ({why}; or the state had already converged); {where}.",
        UserWarning,
        stacklevel=stacklevel,
    )


def stall_epoch(optimizer, opt_state, end: int) -> tuple | None:
    """``(epoch, state)``: the epoch whose step stalled the curvature solver ``optimizer``
    (``stuck``) and its state as that epoch left it; None where it has not stalled. ``end``:
    the epoch of ``opt_state``. So that ``fit`` cuts a call of fused epochs there, as it stops
    after that epoch with a callback. A damped solver's: its step ``count`` (one full-batch step
    an epoch; a step that starts at the ceiling moves nothing and counts nothing, ``_damped``;
    after the call's first epoch where it started at the ceiling: ``lr`` 1e12, or a state
    resumed there), its state as it is. A line search's: ``end`` less the steps refused after
    it, which changed its state in that count alone (``_stall``)."""
    rest = None if optimizer.name not in NAMES else stuck(opt_state)
    if rest is None or not jax.device_get(rest):
        return None
    if optimizer.name in STATES:
        return int(jax.device_get(opt_state.count)), opt_state
    lr = search_state(opt_state).learning_rate
    first = optax.tree.set(opt_state, learning_rate=jnp.full_like(lr, -1))
    return end + 1 + int(jax.device_get(lr)), first


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
