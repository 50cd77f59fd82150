"""The last rule of divergence: the parameters a run ends with must give a finite loss on its
first ``PROBE`` training examples.

A step checks what it computes (``step.finite``): its loss and gradients, and the parameters
it leaves are finite, not their loss, which the next step's check sees. The last step has no
next one: finite but huge weights it leaves (~1e37 after a step at lr 1e37 in float32) can give
every output Inf or NaN while everything the step checked was finite. So ``fit`` probes the
parameters of the state it ends with, one small compiled forward per call (not per step), and
raises ``Diverged`` at the last step (its ``state``: the one it ends with, with those
parameters); ``fit_population`` marks such a member diverged as its solo fit would
(``mark_members``); ``jaxmlp train`` saves no checkpoint whose parameters fail it
(``run.record``). Each example's loss is checked, not their sum (which a few finite ~1e36
losses overflow in float32).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import backprop as bp
from jaxmlp import losses
from jaxmlp.step import all_finite

PROBE = 256  # the training examples whose loss the parameters a run ends with must give finite


def evaluable(net, params, x, t, s=None) -> bool:
    """Whether ``params`` are finite and give a finite loss on each of the first ``PROBE``
    examples of ``x (n, d)``, ``t (n, K)`` (``arrays.as_arrays``': the net's inputs and
    targets) that weigh: with sample weights ``s (n,)``, a row of weight 0 counts for nothing
    (``reduction.weighed``), its loss may be Inf."""
    if isinstance(x, np.ndarray):  # a streamed run's, on the host: only the probe travels
        x, t = x[:PROBE], t[:PROBE]
    return bool(_evaluable(net, params, x, t, None if s is None else s[:PROBE]))


def reason(n: int, step=None, otherwise: str = "") -> str:
    """Why a run whose parameters fail ``evaluable`` on ``n`` examples diverged (those that
    ``step`` left, where given); ``otherwise`` where ``n`` is 0 (they were not probed)."""
    if not n:
        return otherwise
    left = "the parameters" + ("" if step is None else f" step {step} left")
    return f"{left} give a non-finite loss on the first {n} training example" + "s" * (n > 1)


@functools.partial(jax.jit, static_argnums=0)
def _evaluable(net, params, x, t, s=None):
    x, t = x[:PROBE], t[:PROBE]
    trace = bp.forward(net, params, x)
    each = losses.per_example(net.output, net.loss, trace.zs[-1], trace.as_[-1], t)
    finite = jnp.isfinite(each) if s is None else jnp.isfinite(each) | (s == 0)
    return finite.all() & all_finite(params)


NO_LEARNING_RATE = "no learning rate helps"  # in a reason: the start's loss is not finite
_BLOCK = 8192  # rows per compiled call of ``start_reason``


def start_reason(net, params, x, t, s=None) -> str | None:
    """Why the loss at a run's starting ``params`` is not finite on some example of ``x (n, d)``,
    ``t (n, K)`` that weighs (sample weights ``s (n,)``), in words; None where it is finite on
    each. No step has moved the parameters: a lower learning rate cannot help (t = 1e20 squares
    past float32's largest number), so ``Diverged`` at a run's first step says this instead."""
    y_bad, loss_bad = 0, 0
    for i in range(0, x.shape[0], _BLOCK):
        block = (x[i : i + _BLOCK], t[i : i + _BLOCK], None if s is None else s[i : i + _BLOCK])
        y_ok, loss_ok = jax.device_get(_start_finite(net, params, *block))
        y_bad, loss_bad = y_bad + int((~y_ok).sum()), loss_bad + int((~loss_ok).sum())
    if not loss_bad:
        return None
    dtype = np.dtype(jax.tree.leaves(params)[0].dtype)
    what, k = ("outputs", y_bad) if y_bad else ("loss", loss_bad)
    span, fix = ("inputs", "standardise the inputs")
    if not y_bad:
        span, fix = "targets", "scale the targets (standardise them)"
    return (
        f"at the starting parameters, before any step, {k} training example{'s' * (k > 1)} "
        f"{'have' if k > 1 else 'has'} {what} not finite in {dtype.name} (largest "
        f"{np.finfo(dtype).max:.3g}; the {span} span {_span(x if y_bad else t)}): "
        f"{NO_LEARNING_RATE}; {fix} or train in float64"
    )


def _span(a) -> str:
    a = np.asarray(jax.device_get(a), np.float64)
    return f"[{a.min():.4g}, {a.max():.4g}]"


@functools.partial(jax.jit, static_argnums=0)
def _start_finite(net, params, x, t, s=None):
    """Per example: whether its outputs are finite, and whether its loss is (or it weighs 0)."""
    trace = bp.forward(net, params, x)
    each = losses.per_example(net.output, net.loss, trace.zs[-1], trace.as_[-1], t)
    y_ok = jnp.isfinite(trace.as_[-1]).all(-1)
    finite = jnp.isfinite(each)
    return (y_ok, finite) if s is None else (y_ok | (s == 0), finite | (s == 0))


def members_evaluable(net, params, x, t, rows=None) -> np.ndarray:
    """``evaluable`` of P members (``params`` stacked on a leading axis of P): each on the
    first ``PROBE`` of ``x``, ``t``, or of its rows ``rows[k]`` of them (``rows (P, m)``: a
    fold's training rows). A ``(P,)`` bool array."""
    if rows is None:
        return np.asarray(_members(net, params, x[:PROBE], t[:PROBE]))
    rows = jnp.asarray(rows)[:, :PROBE]
    return np.asarray(_members_rows(net, params, x, t, rows))


@functools.partial(jax.jit, static_argnums=0)
def _members(net, params, x, t):
    return jax.vmap(lambda p: _evaluable(net, p, x, t))(params)


@functools.partial(jax.jit, static_argnums=0)
def _members_rows(net, params, x, t, rows):
    return jax.vmap(lambda p, r: _evaluable(net, p, x[r], t[r]))(params, rows)


def mark_members(net, params, state, x, t, rows, ends, steps: int):
    """``(params, state)`` of a population (``population._assemble``) with the members that did
    not diverge but whose last parameters (``state.params``) fail ``members_evaluable`` marked
    as their solo fits end: diverged at the last step (``steps``) of their last epoch (``ends``,
    which stays theirs), not stopped, and their ``params`` those last ones (not a restored best:
    a diverged member keeps its last, as ``Diverged.state`` holds them)."""
    failed = (np.asarray(state.diverged_epoch) == 0) & ~members_evaluable(
        net, state.params, x, t, rows
    )
    if not failed.any():
        return params, state
    pick = lambda a, b: jnp.where(failed.reshape(-1, *[1] * (a.ndim - 1)), a, b)  # noqa: E731
    params = jax.tree.map(pick, state.params, params)
    state = state._replace(
        stop_epoch=pick(jnp.zeros_like(state.stop_epoch), state.stop_epoch),
        diverged_epoch=pick(jnp.asarray(ends, state.diverged_epoch.dtype), state.diverged_epoch),
        diverged_step=pick(jnp.full_like(state.diverged_step, steps), state.diverged_step),
    )
    return params, state
