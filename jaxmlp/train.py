"""Training: gradient descent with optax, whole epochs fused into one compiled ``lax.scan``.

A run flows: settings (``TrainConfig``, ``Optimizer``) -> data on the devices -> the compiled
epochs (``jaxmlp.epochs``, the step of ``jaxmlp.step``) called a few fused epochs at a time ->
``Result``. Epoch e's randomness is ``fold_in(key(seed), e)``: runs are deterministic and resume
exactly. Every epoch trains on every example: the last mini-batch holds the ``n mod
batch_size`` left over, padded to the batch's shape with rows of weight 0 (``epochs.batches``),
so its step is the mean over its real examples, as scikit-learn's smaller last batch;
``TrainConfig(drop_last=True)`` drops them instead (a different few each epoch).
``fit(..., sample_weight=s)`` weighs the examples by the same rule (``reduction.reduce``).
``jaxmlp.population`` trains many such runs at once with the same epochs.

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
import numpy as np
import optax

from jaxmlp import epochs as ep
from jaxmlp import line_search, probe, second_order, sharding, stream
from jaxmlp.arrays import (
    Data,
    prepare,
    run_precision,
    sample_weight_sha256,
    storage_dtype,
    stored,
    stored_params,
)
from jaxmlp.datasets import check_seed
from jaxmlp.evaluation import evaluate
from jaxmlp.history import epoch_records
from jaxmlp.numeric import check_int, is_real, not_one_of, store_as
from jaxmlp.optim import Optimizer, check_schedule, initial_state
from jaxmlp.progress import callback as show_progress
from jaxmlp.resume import check_kind, check_resume, copied, finished
from jaxmlp.step import BACKPROPS, correct, gradient_source, is_classifier, make_step
from jaxmlp.stopping import Diverged, advance, final_params, patience_ran_out, warn_non_finite_val

__all__ = ["Diverged", "Result", "TrainConfig", "TrainState", "evaluate", "fit", "make_step"]
__all__ += ["BACKPROPS", "correct", "gradient_source", "is_classifier", "prepare", "storage_dtype"]

DTYPES = ("float32", "float64", "bfloat16")
# Epoch e draws from fold_in(key(seed), e); the initial parameters from this stream.
_INIT_STREAM = 2**31 - 1


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
      val_fraction: held out from the training set (stratified for labels); 0 where ``fit`` is
        given a validation set (both are refused).
      early_stopping: patience in epochs on the validation loss; None trains all epochs. An
        epoch of lm or newton-cg whose damped step was refused leaves the loss as it was and
        counts as one without a better loss: give those solvers a patience of a few epochs.
      restore_best: with early stopping, return the parameters of the best validation loss,
        whatever ends the run (patience, the last epoch, a callback's True).
      devices: data-parallel over this many devices; None: all of them when the batch divides
        over them, else as ``sharding.devices_for`` says (with a warning).
      chunk_steps: stream host data to the device in chunks of this many steps (data too large
        for the device); None keeps the whole training set on the device.
      drop_last: mini-batch epochs leave out the last ``n mod batch_size`` examples (a
        different few each epoch; what a checkpoint without the setting resumes with). False
        (the default): the last, smaller batch is trained on.
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
    drop_last: bool = False

    def __post_init__(self):
        check_int("epochs", self.epochs, 1)
        if self.batch_size != "full":
            check_int("batch_size", self.batch_size, 1, "or 'full'")
        if self.backprop not in BACKPROPS:
            raise not_one_of("backprop", self.backprop, BACKPROPS)
        if self.dtype not in DTYPES:
            raise not_one_of("dtype", self.dtype, DTYPES)
        check_seed(self.seed)
        if not (is_real(self.val_fraction) and 0 <= self.val_fraction < 1):
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}.")
        if self.early_stopping is not None:
            check_int("early_stopping", self.early_stopping, 1)
        if self.devices is not None:
            check_int("devices", self.devices, 1)
        if self.chunk_steps is not None:
            check_int("chunk_steps", self.chunk_steps, 1)
        for name in ("restore_best", "drop_last"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        # numpy numbers become Python's: a checkpoint's JSON metadata holds them
        for name in ("epochs", "seed", "early_stopping", "devices", "chunk_steps"):
            store_as(self, name, int)
        if self.batch_size != "full":
            store_as(self, "batch_size", int)
        store_as(self, "val_fraction", float)
        store_as(self, "restore_best", bool)
        store_as(self, "drop_last", bool)

    def batch(self, n: int) -> int:
        """Examples per step on ``n`` training examples: all of them for ``"full"``."""
        return n if self.batch_size == "full" else min(self.batch_size, n)


class TrainState(NamedTuple):
    """Everything a run needs to continue exactly: arrays, the epoch count and the early-
    stopping bookkeeping (``best_params`` None without early stopping). Not leaves of the
    pytree: ``sample_weight_sha256``, of ``fit``'s sample weights (None without; a resume
    with others is refused), and ``run_epochs``, ``run_steps``, the run's length (set by
    ``fit``; None: unknown), which a schedule spanning the run (cosine) resumes only on
    (``optim.length_fixed``)."""

    params: list
    opt_state: optax.OptState
    epoch: int = 0
    best_params: list | None = None
    best_val_loss: float = math.inf
    bad_epochs: int = 0
    sample_weight_sha256: str | None = None
    run_epochs: int | None = None
    run_steps: int | None = None


jax.tree_util.register_pytree_node(
    TrainState,
    lambda state: (tuple(state[:-3]), tuple(state[-3:])),
    lambda static, children: TrainState(*children, *static),
)


class Result(NamedTuple):
    params: list
    history: list
    state: TrainState


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
    progress: bool | str = False,
    sample_weight=None,
) -> Result:
    """Train ``net`` on ``x (n, d)``, ``t`` (``(n, K)`` or integer labels ``(n,)``).

    Args:
      optimizer: an ``Optimizer`` (Adam at 1e-3 by default).
      config: a ``TrainConfig``.
      params: initial parameters (a warm start; not with ``state``); by default
        ``net.init(jax.random.fold_in(jax.random.key(config.seed), 2**31 - 1), dtype)``, the
        seed's init stream apart from the epochs' ``fold_in(key(seed), e)`` (not
        ``net.init(key(seed))``); dtype float32, float64 for ``config.dtype="float64"``.
      x_val, t_val: a validation set; otherwise ``config.val_fraction`` of the training set.
      state: a ``TrainState`` to resume from (``result.state``, or as saved by a callback), of
        the run's dtype, at an epoch up to ``config.epochs`` (a finished run's, or one whose
        patience ran out, returns at once with no history), a schedule spanning the run (cosine)
        on the length it was trained for. The caller's arrays are copied, never donated.
      callback: ``callback(record, state)`` after every epoch with its history record (in
        the run's precision, as all of fit: x64 off for a float32 run, ``arrays.run_precision``);
        returning True stops training after that epoch, as running out of patience does:
        ``result.state`` is that epoch's, and ``result.params`` follow ``restore_best`` at any
        stop (with early stopping, the best epoch's; else that epoch's). ``state`` is the
        state after that epoch, on the devices; the next compiled call may take its arrays
        (donated): save or copy what you keep during the callback.
      progress: show each epoch as ``jaxmlp train`` does (``jaxmlp.progress``): True, a bar
        on a terminal and periodic lines elsewhere; "bar" or "lines" to choose.
      sample_weight: ``(n,)`` non-negative finite weights of the training examples, not all
        zero: each step's cost is ``sum_i s_i l_i``, divided by ``sum_i s_i`` for a mean
        reduction (scikit-learn's weighted mean). They travel with their rows through the
        shuffle and ``val_fraction``'s split, whose validation loss and accuracy they weigh
        too (an ``x_val`` given is unweighted). ``train_accuracy``/``val_accuracy`` are then the
        weighted share of correct predictions. A resumed ``state`` must have been trained on
        the same weights (``TrainState.sample_weight_sha256``); other ones, or None, are refused.

    Returns ``Result(params, history, state)``; history holds one dict per epoch: ``epoch``,
    ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` (None where they do not
    apply), ``seconds``, ``fused``: the ``fused`` epochs of one compiled call share its time
    evenly (``seconds`` is the call's time / ``fused``; 1: an epoch timed alone). An epoch's
    train_loss/train_accuracy are running values over its steps, each batch's taken before its
    update (as Keras's and scikit-learn's ``loss_curve_``): the last epoch's describe the
    network one update before ``params`` (``evaluate`` gives theirs; the validation values are
    of the epoch's end). With ``reduction="sum"`` train_loss is the epoch's total over its
    batches, as ``evaluate``'s over a set. Raises ``Diverged`` at the first step that is not
    finite (``step.finite``, which says what that covers beyond the loss and gradient), and at
    the last step where the parameters it ends with give a non-finite loss (``jaxmlp.probe``:
    finite but huge weights; a finished ``state`` given is probed too)."""
    check_kind("optimizer", optimizer, Optimizer)
    check_kind("config", config, TrainConfig)
    check_kind("state", state, TrainState, ": pass result.state" * isinstance(state, Result))
    if params is not None and state is not None:
        raise ValueError(
            "fit was given params and state: give one of them (a warm start or a resume; a "
            "state carries its own parameters)."
        )
    optimizer, config = optimizer or Optimizer(), config or TrainConfig()
    with run_precision(config.dtype):  # (a with, not a wrapper: warnings name the caller)
        callback = show_progress(config, state.epoch if state else 0, progress, callback)
        data = prepare(net, x, t, x_val, t_val, config, sample_weight=sample_weight)
        second_order.check(optimizer, net, data.batch_size, data.n)
        if data.s is not None and optimizer.name in second_order.NAMES:
            raise ValueError(
                f"sample_weight is not supported with the curvature optimizer {optimizer.name!r}; "
                f"use one of the first-order optimizers or drop sample_weight."
            )
        keep = callback is not None or bool(config.early_stopping)  # every epoch's state is seen
        spec, numbers = step_spec(optimizer, config, data.steps)
        call = _program(net, data, spec, numbers, config, keep)
        weights = sample_weight_sha256(sample_weight)
        state, params_, opt_state = _start(net, data, spec, config, params, state, weights)
        state_bytes = ep.tree_bytes((state.params, state.opt_state)) if keep else 0  # an epoch's
        per_call = _epochs_per_call(net, data.n, config, state_bytes)
        history = []
        while not finished(state, config):
            first, k = state.epoch, min(per_call, config.epochs - state.epoch)
            start = time.perf_counter()
            params_, opt_state, out = call(params_, opt_state, first, k)
            states = out.pop("states", None)  # with keep: on the devices, sharded like the state
            out = jax.device_get(out)
            seconds = (time.perf_counter() - start) / k
            seen = (data.n_seen, data.x_val, data.val_seen)
            records = epoch_records(net, out, first, seconds, *seen)
            bad = int(out["bad"])  # the run's first non-finite step, -1: none
            if not keep and bad < 0:  # no one looks between the calls' ends
                stall = second_order.stall_epoch(optimizer, opt_state, first + k)
                if stall is not None:  # the epochs after moved nothing; one, if it started there
                    stop, opt_state = stall
                    records = records[: max(stop - first, 1)]
                history += records
                state = advance(state, records[-1], params_, opt_state, config)
                if stall is not None:
                    second_order.warn_stuck(optimizer, state, history, config.epochs)
                    break
                continue
            for j, record in enumerate(records):
                if bad >= 0 and bad // data.steps == first + j:
                    good = state._replace(params=params_, opt_state=opt_state, epoch=first + j)
                    why = None if bad else probe.start_reason(net, params_, data.x, data.t, data.s)
                    args = (first + j + 1, bad % data.steps + 1, good, history, optimizer)
                    raise Diverged(*args, start=why)
                history.append(record)
                if j == k - 1:  # on the device: the state after the last epoch of the call
                    state = advance(state, record, params_, opt_state, config)
                elif keep:
                    state = advance(state, record, *_epoch_state(states, j), config)
                if (callback and callback(record, state)) or patience_ran_out(state, config):
                    return _finish(net, data, state, history, config, optimizer)
                if second_order.stalled(optimizer, state, history, config.epochs):
                    return _finish(net, data, state, history, config, optimizer)
        return _finish(net, data, state, history, config, optimizer)


def step_spec(optimizer, config, steps_per_epoch: int, names=()):
    """``(StepSpec, numbers)``: what the compiled epochs are cached on, and the optimizer's
    numbers that travel as their arguments (another learning rate never recompiles)."""
    total = steps_per_epoch * config.epochs
    if total >= 2**31:  # the step counters (the run's step index, optax's count) are int32
        raise ValueError(f"epochs x steps per epoch must be < 2**31, got {total}.")
    structure, numbers = ep.split_numbers(optimizer, names)
    spec = ep.StepSpec(structure, total, config.backprop, config.dtype)
    return spec, numbers


def _program(net, data: Data, spec, numbers: dict, config, keep: bool):
    """``call(params, opt_state, first, k) -> (params, opt_state, out)``: epochs
    ``first .. first + k - 1`` on the devices, or streamed from the host; ``spec, numbers``:
    ``step_spec``'s. The numbers and epoch indices travel as NumPy arrays (the same values as
    ``jnp.asarray``'s, without an op each on the device)."""
    hyper = stored(numbers, storage_dtype(config.dtype))
    key = run_key(config.seed)
    x, t, x_val, t_val = data[:4]
    if config.chunk_steps is None:
        has_val = x_val is not None
        args = (data.n, data.batch_size, data.mesh, has_val, keep, config.drop_last)
        run = ep.make_epochs(net, spec, *args)

        def call(params, opt_state, first, k):
            epochs = np.arange(first, first + k, dtype=np.int32)
            weights = {} if data.s is None else {"s": data.s, "s_val": data.s_val}
            return run(params, opt_state, x, t, x_val, t_val, key, hyper, epochs, **weights)

        return call
    run = stream.make_streamed(net, spec, data.mesh)

    def call(params, opt_state, first, k):
        args = (key, hyper, first, data.batch_size, config.chunk_steps, config.drop_last, data.s)
        params, opt_state, out = stream.streamed_epoch(run, net, params, opt_state, x, t, *args)
        bad = out.pop("bad_step")[0]  # in the epoch; the on-device outputs count in the run
        out["bad"] = first * data.steps + bad if bad >= 0 else -1
        val = {} if x_val is None else stream.val_outputs(net, params, x_val, t_val, data.s_val)
        return params, opt_state, out | val

    return call


def _start(net, data, spec, config, params, state, weights: str | None):
    """``(state, params, opt_state)``: the state to start from (fresh or resumed: checked,
    ``resume.check_resume``) and its arrays on the mesh: the run donates them, so copies of the
    caller's (``resume.copied``); a fresh state's own arrays (drawn here, never seen by the
    caller) travel uncopied. ``weights``: the sample weights' ``sample_weight_sha256``."""
    if state is None:  # a run begins: its schedule must act (a resumed one goes on as it began)
        check_schedule(spec.optimizer, spec.total_steps)
        p = initial_params(net, config, params)
        opt_state = initial_state(spec.optimizer, spec.total_steps, p)
        state = TrainState(p, opt_state, 0, sample_weight_sha256=weights)
        copy = params is not None
    else:
        check_resume(net, spec.optimizer, spec.total_steps, config, state, weights)
        opt_state = line_search.uncached(spec.optimizer, state.opt_state)  # (a fresh one is)
        copy = True
    state = state._replace(run_epochs=config.epochs, run_steps=spec.total_steps)
    arrays = (state.params, opt_state)
    if copy:
        return state, *copied(arrays, data.mesh)
    return state, *sharding.place_replicated(arrays, data.mesh)


def initial_params(net, config: TrainConfig, params=None):
    """The parameters a run of ``config`` starts from: ``params`` (``arrays.stored_params``:
    checked, finite, in the storage dtype: the master weights), or ``net.init`` in that dtype
    on the seed's init stream."""
    dtype = storage_dtype(config.dtype)
    if params is None:
        return net.init(run_key(config.seed, _INIT_STREAM), dtype)
    return stored_params(net, params, dtype)


@functools.lru_cache(maxsize=256)
def _run_key(seed: int, stream, impl: str):
    key = jax.random.key(seed)
    return key if stream is None else jax.random.fold_in(key, stream)


def run_key(seed: int, stream=None):
    """``jax.random.key(seed)``, folded with ``stream`` when given; cached (a key is immutable;
    op by op the two took ~0.2 ms of a fit)."""
    return _run_key(seed, stream, jax.config.jax_default_prng_impl)


@jax.jit
def _epoch_state(states, j):
    """Epoch ``j``'s ``(params, opt_state)`` from a fused call's stacked states."""
    return jax.tree.map(lambda a: a[j], states)


def _finish(net, data, state, history, config, optimizer):
    if not probe.evaluable(net, state.params, data.x, data.t, data.s):  # (a finished state too)
        raise Diverged(state.epoch, data.steps, state, history, optimizer, min(data.n, probe.PROBE))
    warn_non_finite_val(history)
    second_order.warn_unmoved(optimizer, history, state)
    return Result(final_params(state, config), history, state)


def _epochs_per_call(net, n: int, config, state_bytes: int = 0) -> int:
    """Epochs fused into one call (``epochs.epochs_per_call``); 1 when streaming."""
    if config.chunk_steps is not None:
        return 1
    return ep.epochs_per_call(net, n, config.epochs, state_bytes)
