"""How the estimators move their weights: scikit-learn's solvers built from optax.

    sgd    v <- mu v - eta g;  w <- w + v   (nesterov: w <- w + mu v - eta g)
           optax: scale_by_learning_rate(eta), then trace(mu, nesterov), on the scaled update
    adam   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  w <- w - eta_t m / (sqrt(v) + eps)
           eta_t = eta sqrt(1 - b2^t) / (1 - b1^t), eta constant (``scale_by_sklearn_adam``:
           optax.adam adds eps to sqrt(v_hat), which parts from it where v is small)
    lbfgs  optax.lbfgs with its zoom line search, on the whole training set (``_lbfgs``)

The L2 term alpha / (2 n_b) sum_l |w_l|^2 of a batch of n_b examples enters each as
``optax.add_decayed_weights(alpha / n_b)`` on the weights only (adamw: as optax.adamw's
``weight_decay``, decoupled, eta alpha / n_b w added to the step after adam's scaling).
scikit-learn's sgd keeps each past gradient at the eta it was taken with (the velocity holds
-eta g), which matters once ``learning_rate`` changes eta between epochs: scaling before
``trace`` does the same. jaxmlp's own "momentum" and "nesterov" are ``optax.sgd``'s convention
instead (see ``jaxmlp.optim``).

Hyperparameters sit in the optimizer state (``optax.inject_hyperparams``): eta changes between
epochs and alpha / n_b for the last, smaller batch without a recompile.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.sparse as sp
from jax import lax
from jax.scipy.special import xlogy

from jaxmlp import reduction
from jaxmlp.numeric import check_holds
from jaxmlp.optim import weights_only
from jaxmlp.train import gradient_source

# A sparse training set is densified this many elements (rows x features) at a time, and a
# dense one of more than ``_DEVICE_ELEMENTS`` travels to the device as many at a time (on the
# device, an epoch gathers a shuffled copy of it: twice its size there, ~2.4x X in a CPU
# process's memory).
_DENSE_ELEMENTS = 2**22
_DEVICE_ELEMENTS = 2**26


def _factory(solver: str, nesterov: bool):
    def make(learning_rate, weight_decay, momentum, beta_1, beta_2, epsilon):
        decay = optax.add_decayed_weights(weight_decay, mask=weights_only)
        if solver == "sgd":
            scaled = optax.scale_by_learning_rate(learning_rate)
            return optax.chain(decay, scaled, optax.trace(momentum, nesterov=nesterov))
        adam = dict(b1=beta_1, b2=beta_2, eps=epsilon)
        if solver == "adamw":
            return optax.adamw(learning_rate, **adam, weight_decay=weight_decay, mask=weights_only)
        base = {
            "adam": lambda: scale_by_sklearn_adam(learning_rate, beta_1, beta_2, epsilon),
            "momentum": lambda: optax.sgd(learning_rate, momentum),
            "nesterov": lambda: optax.sgd(learning_rate, momentum, nesterov=True),
            "rmsprop": lambda: optax.rmsprop(learning_rate),
            "adagrad": lambda: optax.adagrad(learning_rate),
        }[solver]()
        return optax.chain(decay, base)

    return make


def scale_by_sklearn_adam(learning_rate, b1, b2, eps) -> optax.GradientTransformation:
    """scikit-learn's Adam step (its ``AdamOptimizer``) in its float operations and their order:
    ``-eta_t * m / (sqrt(v) + eps)`` with ``eta_t = eta * sqrt(1 - b2^t) / (1 - b1^t)``. Its
    state is optax's ``ScaleByAdamState`` (count, mu = m, nu = v)."""

    def init(params):
        zeros = optax.tree.zeros_like(params)
        return optax.ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update(grads, state, params=None):
        del params
        mu = optax.tree.update_moment(grads, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(grads, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        eta_t = learning_rate * jnp.sqrt(1 - b2**count) / (1 - b1**count)
        steps = jax.tree.map(lambda m, v: -eta_t * m / (jnp.sqrt(v) + eps), mu, nu)
        return steps, optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)


@functools.lru_cache(maxsize=16)
def transformation(solver: str, nesterov: bool) -> optax.GradientTransformation:
    """The optax transformation of a stochastic solver, hyperparameters in its state (set them
    with ``set_hyperparams`` after ``init``)."""
    zero = dict(learning_rate=0.0, weight_decay=0.0, momentum=0.0)
    return optax.inject_hyperparams(_factory(solver, nesterov))(
        **zero, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    )


class Settings(NamedTuple):
    """What scikit-learn's optimizer object fixes when it is built (by ``fit``, or by the first
    ``partial_fit``) and ``partial_fit`` keeps, whatever ``set_params`` changes later: the
    solver, nesterov, the learning-rate rule and its eta_0 and power_t. (momentum, the betas,
    epsilon and the current eta are kept in the optimizer state's hyperparams.)"""

    solver: str
    nesterov: bool
    learning_rate: str  # "constant", "invscaling" or "adaptive" (sgd's rules)
    learning_rate_init: float
    power_t: float

    @classmethod
    def of(cls, est) -> "Settings":
        return cls(
            est.solver,
            bool(est.nesterovs_momentum),
            est.learning_rate,
            est.learning_rate_init,
            est.power_t,
        )


# The hyperparameters each stochastic solver reads (the others sit unused in its state), and
# the estimator's names of those that differ.
USES = {
    **dict.fromkeys(("sgd", "momentum", "nesterov"), ("learning_rate", "momentum")),
    **dict.fromkeys(("adam", "adamw"), ("learning_rate", "beta_1", "beta_2", "epsilon")),
    **dict.fromkeys(("rmsprop", "adagrad"), ("learning_rate",)),
}
_SHOWN = {"learning_rate": "learning_rate_init", "weight_decay": "alpha / batch_size"}


def check_held(solver: str, dtype, **values) -> None:
    """A ValueError for a hyperparameter of ``values`` that ``solver`` reads (``USES``, and
    weight_decay, the L2 term, always) and ``dtype`` (X's, which the solver computes in) cannot
    hold: outside it (``numeric.check_holds``: 1e-50 is 0 in float32, 1e39 inf), or a beta that
    is 1.0 there, outside scikit-learn's [0, 1) (1 - beta^t = 0: beta_2's steps are 0, beta_1's
    NaN)."""
    for name, value in values.items():
        if name in USES[solver] or name == "weight_decay":
            check_holds(_SHOWN.get(name, name), value, dtype)
            if name.startswith("beta") and np.asarray(value, dtype) >= 1:
                raise ValueError(
                    f"{name} = {value!r} is 1.0 in {np.dtype(dtype).name}, the dtype of X, "
                    f"which the solver computes in ({name} must be in [0, 1)): use at most "
                    f"{np.nextafter(np.asarray(1, dtype), 0)}, or float64 X."
                )


def set_hyperparams(opt_state, dtype, **values):
    """The optimizer state with ``values`` (learning_rate, weight_decay...) replaced."""
    hyper = dict(opt_state.hyperparams)
    hyper.update({k: jnp.asarray(v, dtype) for k, v in values.items()})
    return opt_state._replace(hyperparams=hyper)


def hyperparam(opt_state, name: str) -> float:
    return float(opt_state.hyperparams[name])


def reported_scale(net) -> float:
    """The factor from the cost a solver descends to the loss scikit-learn reports (``loss_``,
    ``loss_curve_``) and stops on (``tol``): 1 / K for squared error over K outputs, whose
    ``squared_loss`` is ``((t - y) ** 2).mean() / 2`` over every element while its gradient is
    that of jaxmlp's "sse", 1/2 sum_k (y_k - t_k)^2 (its issue #8349); 1 for every other loss.
    The L2 term alpha / (2 n) sum |w|^2 is added unscaled."""
    return 1.0 / net.sizes[-1] if net.loss == "sse" else 1.0


def clipped(net) -> bool:
    """Whether scikit-learn reports ``net``'s loss from clipped probabilities (``reported``)."""
    return net.loss in ("bce", "cross_entropy")


def reported(net, cost, y, t, w=None):
    """The loss scikit-learn reports (``loss_``, ``loss_curve_``) and stops on (``tol``) for
    ``cost``, the one a solver descends, at outputs ``y (n, K)`` for targets ``t (n, K)``
    (weights ``w (n,)`` or None), L2 term not included: ``reported_scale`` times the cost, but
    for the log losses (sigmoid + bce, softmax + cross_entropy) its ``log_loss`` and
    ``binary_log_loss``, -mean_i sum_k [t log p + (1 - t) log(1 - p)] (bce; cross_entropy
    without the second term) of the probabilities clipped to p in [eps, 1 - eps] of their dtype.
    A confidently wrong example adds at most -log(eps) there (36 in float64, 16 in float32),
    while the gradient of both libraries is the unclipped y - t."""
    if not clipped(net):
        return reported_scale(net) * cost
    eps = jnp.finfo(y.dtype).eps
    p = jnp.clip(y, eps, 1 - eps)
    per_row = xlogy(t, p) + (xlogy(1 - t, 1 - p) if net.loss == "bce" else 0)
    return -reduction.reduce(jnp.sum(per_row, axis=-1), "mean", w)


@functools.lru_cache(maxsize=32)
def runners(net, solver: str, nesterov: bool, backprop: str):
    """``(run, gather_run)``: ``run(params, opt_state, xs, ts, ws, decays)`` scans the steps
    over batches ``xs (steps, n_b, d)``, ``ts (steps, n_b, K)``; ``gather_run(params,
    opt_state, x, t, order, ws, decays)`` takes them as ``x[order]`` from data on the device.
    With sample weights, ``ws (steps, n_b)`` weigh each batch's rows and ``decays (steps,)``
    set each step's alpha / sum(w) (else both None). Both return the params, the state and
    each step's loss (scikit-learn's, ``reported``, before the step)."""
    tx = transformation(solver, nesterov)
    grads_of = gradient_source(net, backprop)

    def step(carry, batch):
        params, opt_state = carry
        x, t, w, decay = batch
        if decay is not None:  # the weighted batch's L2 factor, alpha / sum(w)
            opt_state = opt_state._replace(
                hyperparams=opt_state.hyperparams | {"weight_decay": decay}
            )
        cost, y, grads = grads_of(params, x, t, None, w)
        half_sq = 0.5 * sum(jnp.sum(jnp.square(layer["w"])) for layer in params)
        loss = reported(net, cost, y, t, w) + opt_state.hyperparams["weight_decay"] * half_sq
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def run(params, opt_state, xs, ts, ws=None, decays=None):
        batches = (xs, ts, ws, decays)
        (params, opt_state), step_losses = lax.scan(step, (params, opt_state), batches)
        return params, opt_state, step_losses

    def gather_run(params, opt_state, x, t, order, ws=None, decays=None):
        return run(params, opt_state, x[order], t[order], ws, decays)

    return jax.jit(run), jax.jit(gather_run)


def blocks(order, batch_size: int) -> list:
    """An epoch's batches: ``[(rows (..., steps, batch_size), batch_size)]`` from ``order``'s
    last axis, then ``(rows (..., 1, n mod batch_size), n mod batch_size)`` when it is > 0."""
    n = order.shape[-1]
    steps, rest = divmod(n, batch_size)
    out = [
        (order[..., : steps * batch_size].reshape(*order.shape[:-1], steps, batch_size), batch_size)
    ]
    if rest:
        out.append((order[..., steps * batch_size :][..., None, :], rest))
    return out


def training_data(X, t, dtype):
    """``epoch``'s ``data``: ``(x, t)`` on the device, or on the host where X is sparse (CSR) or
    has more than ``_DEVICE_ELEMENTS`` elements (it then travels a few batches at a time)."""
    if sp.issparse(X):
        return X.tocsr(), np.asarray(t, dtype)
    if np.size(X) > _DEVICE_ELEMENTS:
        return np.asarray(X, dtype), np.asarray(t, dtype)
    return jnp.asarray(X, dtype), jnp.asarray(t, dtype)


def epoch(est, net, params, opt_state, data, order, batch_size, dtype, s=None):
    """One epoch of the solver of ``est._opt_settings`` (``Settings``: the optimizer it keeps)
    over ``order`` (a permutation of the
    rows, or ``arange`` without shuffling) in batches of ``batch_size``, the last one smaller
    when ``n mod batch_size`` > 0. ``data`` is ``(x, t)`` on the device, or on the host
    (``training_data``): then batches travel (densified) a few at a time, the same weights bit
    for bit while an epoch's batches are one such chunk (XLA may round a scan of fewer steps
    differently in the last bit). ``s``: sample weights (NumPy, ``(n,)``) or None. Returns
    ``(params, opt_state, loss)``, loss the epoch's mean over examples of the batch losses
    (each batch counted by its size, as scikit-learn does)."""
    kept = est._opt_settings
    run, gather_run = runners(net, kept.solver, kept.nesterov, est.backprop)
    sums = []  # fetched once, at the end of the epoch
    for idx, n_b in blocks(order, batch_size):
        if n_b != batch_size:  # the L2 term of a smaller batch weighs more
            opt_state = set_hyperparams(opt_state, dtype, weight_decay=est.alpha / n_b)
        x, t = data
        ws, decays = (None, None) if s is None else batch_weights(est.alpha, s, idx, dtype)
        if isinstance(x, jax.Array):
            idx_ = jnp.asarray(idx)
            params, opt_state, losses = gather_run(params, opt_state, x, t, idx_, ws, decays)
            sums.append(n_b * jnp.sum(losses))
        else:
            chunk, parts = max(1, _DENSE_ELEMENTS // max(n_b * x.shape[1], 1)), []
            for i in range(0, len(idx), chunk):
                part, cut = idx[i : i + chunk], slice(i, i + chunk)
                xs = x[part.ravel()]
                xs = (xs.toarray() if sp.issparse(xs) else xs).astype(dtype)
                xs = xs.reshape(*part.shape, -1)
                w_d = (None, None) if s is None else (ws[cut], decays[cut])
                params, opt_state, losses = run(params, opt_state, xs, t[part], *w_d)
                parts.append(losses)
            sums.append(n_b * jnp.sum(jnp.concatenate(parts)))  # as the on-device sum
        if n_b != batch_size:
            opt_state = set_hyperparams(opt_state, dtype, weight_decay=est.alpha / batch_size)
    return params, opt_state, float(sum(jax.device_get(sums))) / len(order)


def batch_weights(alpha: float, s, idx, dtype):
    """``(ws (steps, n_b), decays (steps,))``: the sample weights ``s (n,)`` of each batch of
    rows ``idx (steps, n_b)`` and its L2 factor alpha / sum(w) (scikit-learn's ``sw_sum``); 0 for
    a batch without weight, whose gradient is 0 (``reduction.reduce``: its cost is 0). The one
    rule of a weighted batch, for ``epoch`` and the population search's epochs."""
    ws = s[idx]
    total = ws.sum(axis=1)
    decays = np.where(total > 0, alpha / np.where(total > 0, total, 1.0), 0.0)
    return jnp.asarray(ws, dtype), jnp.asarray(decays, dtype)
