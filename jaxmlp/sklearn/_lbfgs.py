"""scikit-learn's lbfgs on optax: ``optax.lbfgs`` with its zoom line search on the whole
training set, stopped by scipy's L-BFGS-B rules (``lbfgs``)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp.numeric import check_holds
from jaxmlp.sklearn._solvers import clipped, reported, reported_scale

# scipy's L-BFGS-B stops once an iteration lowers the cost by less than this, relatively
# (its factr 1e7 times the float64 machine epsilon).
_FTOL = 1e7 * np.finfo(np.float64).eps


def _l2(params, half_decay):
    """lbfgs's L2 term, half_decay sum_l |w_l|^2 over the weights (not the biases)."""
    return half_decay * sum(jnp.sum(jnp.square(layer["w"])) for layer in params)


@functools.lru_cache(maxsize=16)
def _step(net, backprop: str):
    """``step(params, state, x, t, half_decay, s) -> (params, state, value, grad,
    evaluations)``: one L-BFGS iteration on cost(params) + half_decay sum |w|^2 over all of x
    (weighted by ``s`` or None); at ``params``, ``value`` that objective (its data term times
    ``reported_scale``: what the stopping rules compare, and the reported loss but for the log
    losses: ``_loss``) and ``grad`` the objective's gradient. Its line search
    differentiates the cost with ``jax.grad``: through the hand backward pass
    (``net.hand_cost``, a ``jax.custom_vjp``) for backprop="hand". After the first iteration
    the value and gradient at ``params`` are the ones the line search left in ``state``."""
    solver = _solver()
    cost = net.hand_cost if backprop == "hand" else net.cost

    def step(params, state, x, t, half_decay, s=None):
        def value_fn(p):
            return cost(p, x, t, sample_weight=s) + _l2(p, half_decay)

        value, grad = optax.value_and_grad_from_state(value_fn)(params, state=state)
        updates, state = solver.update(
            grad, state, params, value=value, grad=grad, value_fn=value_fn
        )
        evaluations = optax.tree.get(state, "num_linesearch_steps")
        value = _scaled_value(net, params, value, half_decay)
        return optax.apply_updates(params, updates), state, value, grad, evaluations

    return jax.jit(step)


def _scaled_value(net, params, value, half_decay):
    """The objective ``value`` at ``params`` with its data term times ``reported_scale``."""
    l2 = _l2(params, half_decay)
    return reported_scale(net) * (value - l2) + l2


@functools.lru_cache(maxsize=16)
def _value(net):
    """``value(params, state, half_decay)``: ``_step``'s value at ``params``, the iterate
    of ``state``'s last update, from the objective the line search left in it (nothing run)."""
    return jax.jit(lambda p, state, h: _scaled_value(net, p, optax.tree.get(state, "value"), h))


@functools.lru_cache(maxsize=16)
def _loss(net):
    """``loss(params, x, t, half_decay, s)``: scikit-learn's reported loss (``reported``) of
    a log loss at ``params``, L2 term included: one forward pass, run once per fit, at the
    iterate returned (the line search descends the unclipped cost)."""

    def loss(params, x, t, half_decay, s=None):
        l2 = _l2(params, half_decay)
        return reported(net, None, net.apply(params, x), t, s) + l2

    return jax.jit(loss)


def _solver():
    """scipy's L-BFGS-B defaults as scikit-learn calls it: 10 correction pairs, at most 20
    line-search evaluations per iteration."""
    return optax.lbfgs(
        memory_size=10, linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=20)
    )


def lbfgs(est, net, params, x, t, dtype, s=None):
    """scikit-learn's lbfgs: full-batch L-BFGS on the cost plus alpha / (2 n) sum |w|^2 (n: the
    total weight ``sum(s)`` with sample weights ``s``) until max |grad| <= tol (scipy's gtol),
    a relative decrease of the reported loss under ``_FTOL`` (its value before the clip of the
    log losses, ``reported``: the line search here descends the unclipped cost, where scipy's
    sees scikit-learn's clipped one), ``max_iter`` iterations or, after the iteration that
    takes them past ``max_fun``, evaluations of the cost (scipy's count: the first, then each
    line search's). Returns ``(params, loss, n_iter, converged)``, loss
    scikit-learn's reported one at the returned params, the iterate of ``n_iter`` iterations.
    optax's zoom line search, where it fails (round-off near a minimum), may step uphill,
    which scipy's never does: the loss rising stops it (a decrease under ``_FTOL``) with the
    iterate before, the better one.

    For K squared-error outputs scikit-learn hands scipy its reported loss, the data term 1/K
    of this cost's (``reported_scale``), with the gradient of this cost: scipy's gtol and this
    one test the same gradient and its ftol and this one the same number, while the line search
    here sees a value and a gradient that agree."""
    step = _step(net, est.backprop)
    state = _solver().init(params)
    n = x.shape[0] if s is None else float(np.sum(np.asarray(s, np.float64)))
    check_holds("alpha / (2 n)", 0.5 * est.alpha / n, dtype)  # as the stochastic solvers'
    half_decay = jnp.asarray(0.5 * est.alpha / n, dtype)
    s = None if s is None else jnp.asarray(s, dtype)

    def done(params, value, n_iter, converged):
        """The return, with the reported loss at ``params``: its ``value`` but for log losses."""
        if clipped(net):
            value = _loss(net)(params, x, t, half_decay, s)
        return params, float(value), n_iter, converged

    # scipy's count: the cost at the starting weights, then each line search's (the cost at
    # an iterate is its search's last, not evaluated again); past max_fun after an iteration,
    # it stops there
    evaluations, n_iter, last, previous = 1, 0, np.inf, params
    while n_iter < est.max_iter and evaluations <= est.max_fun:
        new, state, value, grad, used = step(params, state, x, t, half_decay, s)
        value, evaluations = float(value), evaluations + int(used)
        if value > last:  # a failed line search stepped uphill: the iterate before is better
            return done(previous, last, n_iter - 1, True)
        g = [np.asarray(a, np.float64) for a in jax.device_get(jax.tree.leaves(grad))]
        small_grad = max(float(np.max(np.abs(a))) for a in g) <= est.tol
        if not small_grad:
            _check_slope(g, dtype)
        stalled = n_iter > 0 and last - value <= _FTOL * max(abs(last), abs(value), 1.0)
        if small_grad or stalled:
            return done(params, value, n_iter, True)
        previous, params, n_iter, last = params, new, n_iter + 1, value
    value = float(_value(net)(params, state, half_decay))
    if value > last:
        return done(previous, last, n_iter - 1, False)
    return done(params, value, n_iter, False)


def _check_slope(grad: list, dtype) -> None:
    """A ValueError where the squared norm of the gradient (``grad``: its leaves, float64)
    overflows ``dtype``, X's: optax's line search takes its slope <g, d> there, -inf, and
    fails with a step of 0, which would stop lbfgs as converged on the weights it started
    from (scipy's, in float64, goes on)."""
    squared = sum(float(np.sum(np.square(a))) for a in grad)
    if squared > float(np.finfo(dtype).max):
        raise ValueError(
            f"lbfgs cannot step: the squared norm of the gradient ({squared:.3g}) overflows "
            f"{np.dtype(dtype).name}, the dtype of X, in which its line search computes the "
            "slope: scale the inputs or targets, lower alpha, or fit float64 X."
        )
