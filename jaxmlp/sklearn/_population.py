"""One population of ``PopulationSearchCV``: a group of members (same network, solver, batch
size and n) trained at once, each epoch the estimator's ``_solvers.epoch`` vmapped over them,
with each member's epoch-end rules applied on the host."""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.utils import shuffle

from jaxmlp.sklearn import _solvers


class _Hyper(NamedTuple):
    """One member's learning rate where the estimator's epoch-end rules read and set it (they
    see the solver state only through ``hyperparams`` and ``_replace``)."""

    hyperparams: dict


@functools.lru_cache(maxsize=16)
def _population_run(net, solver: str, nesterov: bool, backprop: str):
    """The estimator's ``gather_run`` vmapped over members: params, state, x, t and order all
    carry a leading member axis."""
    return jax.jit(jax.vmap(_solvers.runners(net, solver, nesterov, backprop)[1]))


def _weight_decay(opt_state, alphas, n_b: int, dtype):
    return _solvers.set_hyperparams(opt_state, dtype, weight_decay=alphas / n_b)


def train(members: list, dtype, check=None) -> list:
    """Train one group (same network, solver, batch size and n); each member's final weights
    (host arrays). Each epoch is the estimator's ``_solvers.epoch`` for all members at once;
    ``check`` runs before each, and what it raises ends the training."""
    first = members[0]
    est, n, batch_size = first.est, len(first.x), first.batch_size
    kept = est._opt_settings  # the group's: a member's fresh optimizer has its parameters
    run = _population_run(est.net_, kept.solver, kept.nesterov, est.backprop)
    stack = lambda *a: jnp.asarray(np.stack(a))  # noqa: E731  (on the host: no compile per P)
    params = jax.tree.map(stack, *[m.params for m in members])
    opt_state = jax.tree.map(stack, *[m.opt_state for m in members])
    x = jnp.asarray(np.stack([m.x for m in members]), dtype)
    t = jnp.asarray(np.stack([m.t for m in members]), dtype)
    alphas = np.array([m.est.alpha for m in members])
    orders = [np.arange(n)] * len(members)
    weighted = first.s is not None  # the group's members all are, or none
    live, final = set(range(len(members))), [None] * len(members)
    while live:
        if check is not None:  # (host_threads: another population failed)
            check()
        for k in live:
            if members[k].est.shuffle:
                orders[k] = shuffle(orders[k], random_state=members[k].rng)
        sums = []
        for idx, n_b in _solvers.blocks(np.stack(orders), batch_size):
            if n_b != batch_size:  # the L2 term of a smaller batch weighs more
                opt_state = _weight_decay(opt_state, alphas, n_b, dtype)
            ws = decays = None
            if weighted:  # each member's rows' weights and L2 factors, as its solo epoch's
                parts = [
                    _solvers.batch_weights(m.est.alpha, m.s, i, dtype) for m, i in zip(members, idx)
                ]
                ws, decays = (jnp.stack(a) for a in zip(*parts))
            params, opt_state, losses = run(params, opt_state, x, t, jnp.asarray(idx), ws, decays)
            sums.append(n_b * jnp.sum(losses, axis=1))
            if n_b != batch_size:
                opt_state = _weight_decay(opt_state, alphas, batch_size, dtype)
        losses = np.asarray(sum(jax.device_get(sums)), np.float64) / n  # as float(...) / n
        rates = np.array(jax.device_get(opt_state.hyperparams["learning_rate"]))
        host = None  # the weights on the host, fetched once an epoch where a member stops
        for k in sorted(live):
            m = members[k]
            hyper = _Hyper({"learning_rate": rates[k]})
            hyper, stop = m.est._epoch_done(None, hyper, float(losses[k]), n, None, None, dtype)
            rates[k] = hyper.hyperparams["learning_rate"]
            if not stop:
                m.est._warn_at_max_iter()
            if stop or m.est.n_iter_ == m.est.max_iter:
                live.discard(k)
                host = jax.device_get(params) if host is None else host
                final[k] = jax.tree.map(lambda a: a[k], host)  # noqa: B023
        opt_state = _solvers.set_hyperparams(opt_state, dtype, learning_rate=rates)
    return final
