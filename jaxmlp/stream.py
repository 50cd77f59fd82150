"""Streamed training: the training set stays on the host and travels to the device in chunks of
``chunk_steps`` steps (``TrainConfig.chunk_steps``), for data larger than the device's memory.

Each chunk is one compiled scan over batches already gathered on the host, in the same order and
with the same dropout keys as the on-device epoch (``jaxmlp.epochs``), and its history by the
same compiled rules (``epochs.epoch_outputs``, ``epochs.val_outputs``), so a streamed run's
parameters equal an on-device one's bit for bit, and its history's ``train_loss`` to its last
bits: a chunk's per-step losses are computed in another compiled program (n = 61, batch 16,
``chunk_steps=2``, float32: 8 of 20 epochs up to 1.2e-7 apart, two ulps of 0.736; the
parameters and accuracies equal; tests/test_train.py states the bound).
Its validation set is on the device, as the on-device run's, and evaluated at once.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxmlp import epochs as ep
from jaxmlp import sharding
from jaxmlp.epochs import StepSpec, batches
from jaxmlp.step import update_if


@functools.lru_cache(maxsize=32)
def make_streamed(net, spec: StepSpec, mesh):
    """``run(params, opt_state, xs, ts, keys, hyper, ws)`` over ``xs (steps, batch, d)``, ``ws
    (steps, batch)`` the rows' weights or None (``epochs.batches``)."""
    place = sharding.batch_constraint(mesh)

    def run(params, opt_state, xs, ts, keys, hyper, ws=None):
        grads_and_metrics, update = spec.halves(net, hyper)

        def body(c, batch):
            params, opt_state, bad, i = c
            xb, tb, k, sw = batch
            xb, tb = place(xb), place(tb)
            key = k if net.dropout > 0 else None
            grads, m = grads_and_metrics(params, xb, tb, key, sw, opt_state)
            ok = m["finite"] & (bad < 0)
            bad = jnp.where((bad < 0) & ~ok, i, bad)
            on_batch = functools.partial(update, x=xb, t=tb)
            params, opt_state = update_if(ok, on_batch, grads, opt_state, params)
            return (params, opt_state, bad, i + 1), m

        (params, opt_state, bad, _), m = lax.scan(
            body, (params, opt_state, jnp.int32(-1), jnp.int32(0)), (xs, ts, keys, ws)
        )
        return params, opt_state, {"loss": m["loss"], "correct": m["correct"], "bad_step": bad}

    return jax.jit(run, donate_argnums=(0, 1))


def streamed_epoch(
    run, net, params, opt_state, x, t, key, hyper, epoch, batch_size, chunk_steps, drop_last, s
):
    """One epoch over host arrays ``x``, ``t`` (weights ``s`` or None), ``chunk_steps`` steps
    per transfer, in the on-device epoch's ``batches``; outputs as one fused epoch's (lists of
    one, by its ``epochs.epoch_outputs``)."""
    n = x.shape[0]
    perm_key, drop_key = jax.random.split(jax.random.fold_in(key, epoch))
    order, weights = jax.device_get(batches(perm_key, n, batch_size, drop_last, s))
    steps = len(order)
    losses, corrects = [], []
    for i in range(0, steps, chunk_steps):
        idx = order[i : i + chunk_steps]
        ws = None if weights is None else weights[i : i + chunk_steps]
        keys = jax.vmap(lambda j: jax.random.fold_in(drop_key, j))(jnp.arange(i, i + len(idx)))
        params, opt_state, out = run(params, opt_state, x[idx], t[idx], keys, hyper, ws)
        if out["bad_step"] >= 0:
            bad = {
                "train_loss": [np.nan],
                "train_correct": [0.0],
                "bad_step": [i + out["bad_step"]],
            }
            return params, opt_state, bad
        losses.append(np.asarray(out["loss"]))
        corrects.append(np.asarray(out["correct"]))
    args = (np.concatenate(losses), np.concatenate(corrects), weights, s is not None)
    out = {name: [v] for name, v in _epoch_outputs(net, *args).items()}
    return params, opt_state, out | {"bad_step": [-1]}


def val_outputs(net, params, x_val, t_val, s_val=None) -> dict:
    """The epoch's validation outputs, as lists of one: the on-device epoch's
    (``epochs.val_outputs``), the whole validation set at once."""
    return {name: [v] for name, v in _val_outputs(net, params, x_val, t_val, s_val).items()}


# The on-device epoch's rules for its outputs, compiled: the same operations give the same bits.
_epoch_outputs = jax.jit(ep.epoch_outputs, static_argnums=(0, 4))
_val_outputs = jax.jit(ep.val_outputs, static_argnums=0)
