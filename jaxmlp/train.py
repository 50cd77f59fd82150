"""Training: gradient descent with optax, whole epochs fused into one compiled ``lax.scan``.

The step is pure, ``(params, opt_state, x, t, key) -> (params, opt_state, metrics)``. An epoch
shuffles with ``jax.random`` on the device and scans the steps over data already there; several
cheap epochs are fused into one call, so a small net pays no per-step dispatch. Epoch e's
randomness is ``fold_in(key(seed), e)``: runs are deterministic and resume exactly. Mini-batch
epochs drop the last ``n mod batch_size`` examples (a different few each epoch).

>>> import jax.numpy as jnp
>>> from jaxmlp import MLP, Optimizer, TrainConfig, fit
>>> x = jnp.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]); t = jnp.array([[0.0], [1], [1], [0]])
>>> net = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
>>> result = fit(net, x, t, Optimizer("sgd", lr=0.1), TrainConfig(epochs=5000, batch_size="full"))
>>> [int(v) for v in net.predict(result.params, x)]
[0, 1, 1, 0]
"""

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxmlp import backprop as bp
from jaxmlp import losses, sharding
from jaxmlp.optim import Optimizer, _check_int

BACKPROPS = ("hand", "autodiff")
DTYPES = ("float32", "float64", "bfloat16")
# Epoch e draws from fold_in(key(seed), e); the initial parameters from this stream.
_INIT_STREAM = 2**31 - 1
# Fuse epochs until one call does about this many flops: dispatch cost stays under ~1 %.
_FLOPS_PER_CALL = 2e8
# With a callback or early stopping, a fused call also returns every epoch's state, in at most
# this many bytes.
_STATE_BYTES_PER_CALL = 2**26
# XLA:CPU runs a loop body kernel by kernel unless one pass over the loop touches under 1 kB
# (xla_cpu_small_while_loop_byte_threshold): then the whole loop is one kernel (XOR's 5000
# epochs: 5.2 ms as one flat scan, 2.4 ms as scans of 40; experiments/BENCHMARKS.md). Fused
# epochs therefore run as scans of a few epochs each, whose per-epoch outputs take at most this
# many bytes, so that a tiny network's (XOR's) inner scan is one kernel.
_SMALL_LOOP_BYTES = 512


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long and on what.

    Args:
      epochs: passes over the training set.
      batch_size: examples per step; 1 is on-line, ``"full"`` the whole set (seed 000's modes).
      backprop: gradient source, ``"hand"`` (``net.backprop``) or ``"autodiff"`` (``jax.grad``).
      seed: drives shuffling, dropout and the validation split.
      dtype: compute dtype; ``"bfloat16"`` computes in bfloat16 on float32 master weights,
        ``"float64"`` needs ``jax.config.update("jax_enable_x64", True)``.
      val_fraction: held out from the training set (stratified for labels) when no validation
        set is given.
      early_stopping: patience in epochs on the validation loss; None trains all epochs.
      restore_best: with early stopping, return the parameters of the best validation loss.
      devices: data-parallel over this many devices (all local ones when None).
      chunk_steps: stream host data to the device in chunks of this many steps (data too large
        for the device); None keeps the whole training set on the device.
    """

    epochs: int = 10
    batch_size: int | str = 32
    backprop: str = "hand"
    seed: int = 0
    dtype: str = "float32"
    val_fraction: float = 0.0
    early_stopping: int | None = None
    restore_best: bool = True
    devices: int | None = None
    chunk_steps: int | None = None

    def __post_init__(self):
        _check_int("epochs", self.epochs, 1)
        if self.batch_size != "full":
            _check_int("batch_size", self.batch_size, 1, "or 'full'")
        if self.backprop not in BACKPROPS:
            raise ValueError(
                f"Unknown backprop: {self.backprop!r}. It needs to be one of {list(BACKPROPS)}."
            )
        if self.dtype not in DTYPES:
            raise ValueError(
                f"Unknown dtype: {self.dtype!r}. It needs to be one of {list(DTYPES)}."
            )
        _check_int("seed", self.seed, 0)
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}.")
        if self.early_stopping is not None:
            _check_int("early_stopping", self.early_stopping, 1)
        if self.devices is not None:
            _check_int("devices", self.devices, 1)
        if self.chunk_steps is not None:
            _check_int("chunk_steps", self.chunk_steps, 1)

    def batch(self, n: int) -> int:
        """Examples per step on ``n`` training examples: all of them for ``"full"``."""
        return n if self.batch_size == "full" else min(self.batch_size, n)


class TrainState(NamedTuple):
    """Everything a run needs to continue exactly: arrays, plus the epoch count and the
    early-stopping bookkeeping. ``best_params`` is None without early stopping."""

    params: list
    opt_state: optax.OptState
    epoch: int = 0
    best_params: list | None = None
    best_val_loss: float = math.inf
    bad_epochs: int = 0


class Result(NamedTuple):
    params: list
    history: list
    state: TrainState


class Diverged(ArithmeticError):
    """A non-finite loss or gradient. ``state`` holds the last good parameters (those before the
    failing step, inside epoch ``epoch``), ``history`` and ``state.epoch`` the finished epochs."""

    def __init__(self, epoch: int, step: int, state: TrainState, history: list):
        super().__init__(
            f"training diverged: non-finite loss or gradient at epoch {epoch}, step {step}; "
            "try a lower learning rate"
        )
        self.epoch, self.step, self.state, self.history = epoch, step, state, history


# -- the step ----------------------------------------------------------------------------------


def gradient_source(net, backprop: str = "hand") -> Callable:
    """``f(params, x, t, key) -> (cost, y, grads)`` by the hand recursion or by ``jax.grad``."""
    if backprop == "hand":

        def hand(params, x, t, key=None):
            trace = bp.forward(net, params, x, key)
            grads, _ = bp.backward(net, params, trace, t)
            return bp.cost_of(net, trace, t), trace.as_[-1], grads

        return hand
    if backprop == "autodiff":

        def autodiff(params, x, t, key=None):
            def cost(p):
                trace = bp.forward(net, p, x, key)
                return bp.cost_of(net, trace, t), trace.as_[-1]

            (c, y), grads = jax.value_and_grad(cost, has_aux=True)(params)
            return c, y, grads

        return autodiff
    raise ValueError(f"Unknown backprop: {backprop!r}. It needs to be one of {list(BACKPROPS)}.")


def correct(net, y, t):
    """Number of correct predictions in a batch (targets ``t (n, K)``); per unit for sigmoid."""
    if net.output == "softmax":
        return jnp.sum(jnp.argmax(y, -1) == jnp.argmax(t, -1))
    if net.output == "sigmoid":
        return jnp.sum((y > 0.5) == (t > 0.5)) / y.shape[-1]
    return jnp.zeros(())


def is_classifier(net) -> bool:
    return net.output in ("softmax", "sigmoid")


class _Transformation(NamedTuple):
    """An ``Optimizer`` and its run length: hashable, and an optax transformation when built."""

    optimizer: Optimizer
    total_steps: int

    def build(self):
        return self.optimizer.build(self.total_steps)


def make_step(
    net, tx: optax.GradientTransformation, backprop: str = "hand", dtype: str = "float32"
):
    """The pure training step ``(params, opt_state, x, t, key=None) -> (params, opt_state,
    metrics)``; wrap it in ``jax.jit``. metrics: ``loss``, ``correct``, ``grad_norm``."""
    grads_and_metrics, update = _step_halves(net, tx, backprop, dtype)

    def step(params, opt_state, x, t, key=None):
        grads, metrics = grads_and_metrics(params, x, t, key)
        return (*update(grads, opt_state, params), metrics)

    return step


def _step_halves(net, tx, backprop: str, dtype: str):
    """The step as ``grads_and_metrics(params, x, t, key) -> (grads, metrics)`` and
    ``update(grads, opt_state, params) -> (params, opt_state)``, so the fused loops can skip
    the update of a non-finite step (``_update_if``)."""
    if isinstance(tx, _Transformation):
        tx = tx.build()
    grads_of = gradient_source(net, backprop)
    compute = jnp.bfloat16 if dtype == "bfloat16" else None

    def grads_and_metrics(params, x, t, key=None):
        p = params
        if compute is not None:  # bfloat16 compute, float32 master weights
            p, x, t = jax.tree.map(lambda a: a.astype(compute), (params, x, t))
        cost, y, grads = grads_of(p, x, t, key)
        grads = jax.tree.map(lambda g, w: g.astype(w.dtype), grads, params)
        metrics = {
            "loss": cost.astype(jnp.float32),
            "correct": correct(net, y, t).astype(jnp.float32),
            "grad_norm": optax.tree.norm(grads).astype(jnp.float32),
        }
        return grads, metrics

    def update(grads, opt_state, params):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return grads_and_metrics, update


# -- fused epochs --------------------------------------------------------------------------------


def _update_if(ok, update, grads, opt_state, params):
    """``update(grads, opt_state, params)`` if ``ok``, else ``(params, opt_state)`` unchanged.
    A ``lax.cond``, not a select between both results: the select made XLA copy the optimizer
    state every step (experiments/BENCHMARKS.md); the cond updates in place."""
    return lax.cond(ok, update, lambda g, o, p: (p, o), grads, opt_state, params)


@functools.lru_cache(maxsize=32)
def _make_epochs(net, step_spec, n: int, batch_size: int, mesh, has_val: bool, keep: bool = False):
    """``run(params, opt_state, x, t, x_val, t_val, key, epochs)``: a scan over ``epochs``
    (indices), each a scan over its steps, compiled once per number of epochs. ``keep``: the
    outputs also hold every epoch's ``(params, opt_state)`` under ``"states"``."""
    grads_and_metrics, update = _step_halves(net, *step_spec)
    steps = n // batch_size
    dropout = net.dropout > 0
    constrain = (
        (lambda a: lax.with_sharding_constraint(a, sharding.batch_sharded(mesh)))
        if mesh.size > 1
        else (lambda a: a)
    )

    def epoch(carry, e, x, t, x_val, t_val, key):
        params, opt_state, stopped = carry
        perm_key, drop_key = jax.random.split(jax.random.fold_in(key, e))
        if batch_size == n:
            order = jnp.arange(n)[None]
        else:
            order = jax.random.permutation(perm_key, n)[: steps * batch_size].reshape(
                steps, batch_size
            )

        def body(c, i_idx):
            params, opt_state, bad = c
            i, idx = i_idx
            xb, tb = (
                (constrain(x), constrain(t))
                if batch_size == n
                else (constrain(x[idx]), constrain(t[idx]))
            )
            k = jax.random.fold_in(drop_key, i) if dropout else None
            grads, m = grads_and_metrics(params, xb, tb, k)
            ok = jnp.isfinite(m["loss"]) & jnp.isfinite(m["grad_norm"]) & (bad < 0) & ~stopped
            bad = jnp.where((bad < 0) & ~ok & ~stopped, i, bad)
            params, opt_state = _update_if(ok, update, grads, opt_state, params)
            return (params, opt_state, bad), m

        (params, opt_state, bad), m = lax.scan(
            body,
            (params, opt_state, jnp.int32(-1)),
            (jnp.arange(len(order), dtype=np.int32), order),
        )
        out = {
            "train_loss": jnp.mean(m["loss"]),
            "train_correct": jnp.sum(m["correct"]),
            "bad_step": bad,
        }
        if has_val:
            trace = bp.forward(net, params, x_val)
            out["val_loss"] = bp.cost_of(net, trace, t_val).astype(jnp.float32)
            out["val_correct"] = correct(net, trace.as_[-1], t_val).astype(jnp.float32)
        if keep:
            out["states"] = (params, opt_state)
        return (params, opt_state, stopped | (bad >= 0)), out

    def run(params, opt_state, x, t, x_val, t_val, key, epochs):
        def one(carry, e):
            return epoch(carry, e, x, t, x_val, t_val, key)

        def inner(carry, es):  # a few epochs; see _SMALL_LOOP_BYTES
            return lax.scan(one, carry, es)

        carry = (params, opt_state, jnp.bool_(False))
        c = _inner_epochs(len(epochs), jax.eval_shape(one, carry, epochs[0])[1])
        (params, opt_state, _), out = lax.scan(inner, carry, epochs.reshape(-1, c))
        return params, opt_state, jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)

    return jax.jit(run, donate_argnums=(0, 1))


def _inner_epochs(k: int, outputs) -> int:
    """The largest divisor of ``k`` whose epochs' ``outputs`` fit in ``_SMALL_LOOP_BYTES``."""
    most = max(1, _SMALL_LOOP_BYTES // max(_tree_bytes(outputs), 1))
    return max(c for c in range(1, min(k, most) + 1) if k % c == 0)


@functools.lru_cache(maxsize=32)
def _make_streamed(net, step_spec, mesh):
    """``run(params, opt_state, xs, ts, key)`` over ``xs (steps, batch, d)`` already gathered."""
    grads_and_metrics, update = _step_halves(net, *step_spec)
    place = (
        (lambda a: lax.with_sharding_constraint(a, sharding.batch_sharded(mesh)))
        if mesh.size > 1
        else (lambda a: a)
    )

    def run(params, opt_state, xs, ts, keys):
        def body(c, batch):
            params, opt_state, bad, i = c
            xb, tb, k = batch
            grads, m = grads_and_metrics(
                params, place(xb), place(tb), k if net.dropout > 0 else None
            )
            ok = jnp.isfinite(m["loss"]) & jnp.isfinite(m["grad_norm"]) & (bad < 0)
            bad = jnp.where((bad < 0) & ~ok, i, bad)
            params, opt_state = _update_if(ok, update, grads, opt_state, params)
            return (params, opt_state, bad, i + 1), m

        (params, opt_state, bad, _), m = lax.scan(
            body, (params, opt_state, jnp.int32(-1), jnp.int32(0)), (xs, ts, keys)
        )
        return params, opt_state, {"loss": m["loss"], "correct": m["correct"], "bad_step": bad}

    return jax.jit(run, donate_argnums=(0, 1))


# -- the run ---------------------------------------------------------------------------------


def fit(
    net,
    x,
    t,
    optimizer: Optimizer | None = None,
    config: TrainConfig | None = None,
    *,
    params=None,
    x_val=None,
    t_val=None,
    state: TrainState | None = None,
    callback: Callable | None = None,
) -> Result:
    """Train ``net`` on ``x (n, d)``, ``t`` (``(n, K)`` or integer labels ``(n,)``).

    Args:
      optimizer: an ``Optimizer`` (Adam at 1e-3 by default).
      config: a ``TrainConfig``.
      params: initial parameters (``net.init(key(seed))`` by default).
      x_val, t_val: a validation set; otherwise ``config.val_fraction`` of the training set.
      state: a ``TrainState`` to resume from (as saved by a callback).
      callback: ``callback(record, state)`` after every epoch with its history record;
        returning True stops training with the parameters of that epoch. ``state`` is the
        state after that epoch, on the devices; after the last epoch of a compiled call its
        arrays are donated to the next call, so save or copy what you keep during the
        callback.

    Returns ``Result(params, history, state)``; history holds one dict per epoch: ``epoch``,
    ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` (None where they do not
    apply), ``seconds``, ``fused``: the ``fused`` epochs of one compiled call share its time
    evenly (``seconds`` is the call's time / ``fused``; 1: an epoch timed alone). Raises
    ``Diverged`` on a non-finite loss or gradient.
    """
    optimizer = optimizer or Optimizer()
    config = config or TrainConfig()
    dtype = _storage_dtype(config.dtype)
    needs_local = (config.val_fraction and x_val is None) or config.chunk_steps is not None
    if needs_local and isinstance(x, jax.Array) and not x.is_fully_addressable:
        raise ValueError(  # each process holds only its shard of x
            "x spans several processes: val_fraction and chunk_steps need the whole training "
            "set in this process; pass x_val and t_val, and leave chunk_steps None."
        )
    x, t, x_val, t_val = _split(net, x, t, x_val, t_val, config)
    x, t = _as_arrays(net, x, t, dtype)
    has_val = x_val is not None
    if has_val:
        x_val, t_val = _as_arrays(net, x_val, t_val, dtype, ("x_val", "t_val"))
    elif config.early_stopping:
        raise ValueError(
            f"early_stopping={config.early_stopping} watches the validation loss: pass x_val and "
            "t_val, or set val_fraction > 0."
        )
    n = x.shape[0]
    batch_size = config.batch(n)
    mesh = sharding.data_mesh(config.devices)
    sharding.check_batch(batch_size, mesh)
    steps = n // batch_size
    tx = optimizer.build(steps * config.epochs)
    # Compiled runners are cached on these hashable settings, so a second fit does not recompile.
    step_spec = (_Transformation(optimizer, steps * config.epochs), config.backprop, config.dtype)
    key = jax.random.key(config.seed)

    if state is None:
        p = initial_params(net, config, params)
        state = TrainState(p, tx.init(p), 0)
    else:
        net.check_params(state.params)
    keep = callback is not None or bool(config.early_stopping)  # every epoch's state is seen
    # Copies (may_alias=False): the run donates its buffers, never the caller's arrays.
    put = lambda tree: jax.device_put(tree, sharding.replicated(mesh), may_alias=False)  # noqa: E731
    params_, opt_state = put((state.params, state.opt_state))
    if config.chunk_steps is None:  # data is never donated: no copies
        x, t = sharding.place_data((x, t), mesh)
        if has_val:
            x_val, t_val = sharding.place_data((x_val, t_val), mesh)
        run = _make_epochs(net, step_spec, n, batch_size, mesh, has_val, keep)
    else:  # the training set stays on the host; chunks of steps travel
        x, t = np.asarray(x), np.asarray(t)
        run = _make_streamed(net, step_spec, mesh)

    state_bytes = _tree_bytes((state.params, state.opt_state)) if keep else 0  # a kept epoch's
    per_call = _epochs_per_call(net, n, config, state_bytes)
    history = []
    while state.epoch < config.epochs:
        first = state.epoch
        k = min(per_call, config.epochs - first)
        start = time.perf_counter()
        if config.chunk_steps is None:
            epochs = jnp.arange(first, first + k, dtype=jnp.int32)
            params_, opt_state, out = run(params_, opt_state, x, t, x_val, t_val, key, epochs)
        else:
            params_, opt_state, out = _streamed_epoch(
                run, params_, opt_state, x, t, key, first, batch_size, config.chunk_steps
            )
            if has_val:
                out |= _val_out(net, params_, x_val, t_val)
        states = out.pop("states", None)  # with keep: on the devices, sharded like the state
        out = jax.tree.map(lambda a: np.asarray(a).tolist(), jax.device_get(out))  # floats
        seconds = (time.perf_counter() - start) / k
        records = _records(net, out, first, seconds, steps * batch_size, x_val)
        if not keep and max(out["bad_step"]) < 0:  # no one looks between the calls' ends
            history += records
            state = _advance(state, records[-1], params_, opt_state, config)
            continue
        for j, record in enumerate(records):
            if out["bad_step"][j] >= 0:
                good = state._replace(params=params_, opt_state=opt_state, epoch=first + j)
                raise Diverged(first + j + 1, int(out["bad_step"][j]) + 1, good, history)
            history.append(record)
            if j == k - 1:  # on the device: the state after the last epoch of the call
                state = _advance(state, record, params_, opt_state, config)
            elif keep:
                state = _advance(state, record, *_epoch_state(states, j), config)
            if (callback and callback(record, state)) or _patience_ran_out(state, config):
                return _finish(state, history, config)
    return _finish(state, history, config)


def initial_params(net, config: TrainConfig, params=None):
    """The parameters a run of ``config`` starts from: ``params``, or ``net.init`` on the seed's
    init stream, checked and in the storage dtype (the master weights)."""
    dtype = _storage_dtype(config.dtype)
    if params is None:
        params = net.init(jax.random.fold_in(jax.random.key(config.seed), _INIT_STREAM), dtype)
    net.check_params(params)
    return jax.tree.map(lambda a: jnp.asarray(a, dtype), params)


@jax.jit
def _epoch_state(states, j):
    """Epoch ``j``'s ``(params, opt_state)`` from a fused call's stacked states."""
    return jax.tree.map(lambda a: a[j], states)


def _advance(state, record, params, opt_state, config):
    """The state after the epoch of ``record``, and the early-stopping bookkeeping."""
    state = state._replace(params=params, opt_state=opt_state, epoch=record["epoch"])
    if config.early_stopping and record["val_loss"] is not None:
        if record["val_loss"] < state.best_val_loss:
            best = jax.tree.map(jnp.copy, params)
            state = state._replace(best_params=best, best_val_loss=record["val_loss"], bad_epochs=0)
        else:
            state = state._replace(bad_epochs=state.bad_epochs + 1)
    return state


def _patience_ran_out(state, config) -> bool:
    return bool(config.early_stopping) and state.bad_epochs >= config.early_stopping


def final_params(state: TrainState, config: TrainConfig):
    """The parameters a run returns at ``state``: the best ones when early stopping restores
    them, else the latest."""
    if config.early_stopping and config.restore_best and state.best_params is not None:
        return state.best_params
    return state.params


def _finish(state, history, config):
    return Result(final_params(state, config), history, state)


def _records(net, out, first, seconds, n_seen, x_val):
    """One history dict per epoch of a call, from its outputs as Python lists; ``seconds`` is
    the call's time split evenly among its ``k`` epochs."""
    k = len(out["train_loss"])
    classifier, val = is_classifier(net), x_val is not None
    none = [None] * k
    accuracy = [c / n_seen for c in out["train_correct"]] if classifier else none
    val_loss = out["val_loss"] if val else none
    val_accuracy = [c / x_val.shape[0] for c in out["val_correct"]] if val and classifier else none
    return [
        {
            "epoch": first + j + 1,
            "train_loss": loss,
            "train_accuracy": acc,
            "val_loss": v_loss,
            "val_accuracy": v_acc,
            "seconds": seconds,
            "fused": k,
        }
        for j, (loss, acc, v_loss, v_acc) in enumerate(
            zip(out["train_loss"], accuracy, val_loss, val_accuracy, strict=True)
        )
    ]


def _epochs_per_call(net, n: int, config, state_bytes: int = 0) -> int:
    """Epochs fused into one call: 1 when streaming, else enough to do about
    ``_FLOPS_PER_CALL`` of work (XOR's 5000 full-batch epochs are one call), and no more than
    ``_STATE_BYTES_PER_CALL`` of per-epoch states (``state_bytes`` each) when they are kept."""
    if config.chunk_steps is not None:
        return 1
    flops = 6 * net.n_params * n
    k = int(_FLOPS_PER_CALL // max(flops, 1))
    if state_bytes:
        k = min(k, _STATE_BYTES_PER_CALL // state_bytes)
    return max(1, min(config.epochs, k))


def _tree_bytes(tree) -> int:
    """Bytes of a pytree of arrays or ``jax.ShapeDtypeStruct``s."""
    return sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))


def _streamed_epoch(run, params, opt_state, x, t, key, epoch, batch_size, chunk_steps):
    """One epoch over host arrays, ``chunk_steps`` steps per transfer, in the same order as the
    on-device epoch."""
    n = x.shape[0]
    steps = n // batch_size
    perm_key, drop_key = jax.random.split(jax.random.fold_in(key, epoch))
    order = np.arange(n) if batch_size == n else np.asarray(jax.random.permutation(perm_key, n))
    order = order[: steps * batch_size].reshape(steps, batch_size)
    losses, corrects = [], []
    for s in range(0, steps, chunk_steps):
        idx = order[s : s + chunk_steps]
        keys = jax.vmap(lambda i: jax.random.fold_in(drop_key, i))(jnp.arange(s, s + len(idx)))
        params, opt_state, out = run(params, opt_state, x[idx], t[idx], keys)
        if out["bad_step"] >= 0:
            bad = {
                "train_loss": [np.nan],
                "train_correct": [0.0],
                "bad_step": [s + out["bad_step"]],
            }
            return params, opt_state, bad
        losses.append(np.asarray(out["loss"]))
        corrects.append(np.asarray(out["correct"]))
    out = {
        "train_loss": [np.concatenate(losses).mean()],
        "train_correct": [np.concatenate(corrects).sum()],
    }
    return params, opt_state, out | {"bad_step": [-1]}


def _val_out(net, params, x_val, t_val):
    val = evaluate(net, params, x_val, t_val)
    hits = (val["accuracy"] or 0.0) * x_val.shape[0]
    return {"val_loss": [val["loss"]], "val_correct": [hits]}


# -- evaluation and data ------------------------------------------------------------------------


def evaluate(net, params, x, t, batch_size: int = 8192) -> dict:
    """``{"loss": the cost over all of x (net's reduction), "accuracy": float or None}``."""
    x, t = _as_arrays(net, x, t, params[0]["w"].dtype)
    n = x.shape[0]
    total, hits = 0.0, 0.0
    for s in range(0, n, batch_size):
        c, h = _eval_batch(net, params, x[s : s + batch_size], t[s : s + batch_size])
        total, hits = total + float(c), hits + float(h)
    loss = total / n if net.reduction == "mean" else total
    return {"loss": loss, "accuracy": hits / n if is_classifier(net) else None}


@functools.partial(jax.jit, static_argnums=0)
def _eval_batch(net, params, x, t):
    trace = bp.forward(net, params, x)
    per_example = losses.per_example(net.output, net.loss, trace.zs[-1], trace.as_[-1], t)
    return jnp.sum(per_example), correct(net, trace.as_[-1], t)


def _split(net, x, t, x_val, t_val, config):
    if x_val is not None or not config.val_fraction:
        return x, t, x_val, t_val
    from jaxmlp import datasets

    return datasets.validation_split(np.asarray(x), np.asarray(t), config.val_fraction, config.seed)


def _as_arrays(net, x, t, dtype, names=("x", "t")):
    x = net.inputs(x, dtype)
    if x.shape[0] == 0:
        raise ValueError(f"{names[0]} is empty: training needs at least one example.")
    t = net.targets(t, x.shape[0], dtype)
    for name, a in zip(names, (x, t), strict=True):  # one reduction each; no per-step syncs
        if jnp.issubdtype(a.dtype, jnp.inexact) and not bool(jnp.isfinite(a).all()):
            raise ValueError(f"{name} contains NaN or Inf; remove or impute them first.")
    return x, t


def _storage_dtype(name: str):
    if name == "float64":
        if not jax.config.jax_enable_x64:
            raise ValueError(
                'dtype "float64" needs jax.config.update("jax_enable_x64", True) first.'
            )
        return jnp.float64
    return jnp.float32
