"""The compiled epoch program, written once and shared by ``fit`` and ``fit_population``.

An epoch shuffles with ``jax.random`` on the device and scans the steps over data already there;
several epochs are fused into one ``lax.scan`` call, so a small net pays no per-step dispatch.
Epoch e's randomness is ``fold_in(key, e)``. The optimizer's numbers (``Optimizer.build``'s
``hyper``: learning rate, momentum...) are arguments of the program, not constants, so another
value never recompiles. A population runs the same epoch under ``jax.vmap`` over members
(``member_epochs``).
"""

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxmlp import backprop as bp
from jaxmlp import line_search, second_order, sharding
from jaxmlp.optim import DEFAULT_MOMENTUM, FIRST_ORDER, HYPERPARAMETERS, Optimizer, step_checks
from jaxmlp.step import correct, metric_dtype, step_halves, update_if

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
# Placeholders for the numbers passed as arguments: programs cache on the optimizer's structure.
_PLACEHOLDERS = {"lr": 1.0, "momentum": 0.5, "weight_decay": 1.0, "clip_norm": 1.0}


class StepSpec(NamedTuple):
    """What the compiled step depends on, hashable: the optimizer's structure (its numbers are
    ``hyper`` arguments), the run length, the gradient source and the compute dtype."""

    optimizer: Optimizer
    total_steps: int
    backprop: str
    dtype: str

    def halves(self, net, hyper: dict):
        squares, clips, sums = step_checks(self.optimizer)
        tx = self.optimizer.build(self.total_steps, hyper)
        return step_halves(net, tx, *self[2:], squares=squares, clips=clips, sums=sums)


def split_numbers(optimizer: Optimizer, names=()) -> tuple[Optimizer, dict]:
    """``(structure, numbers)``: the optimizer with placeholders for the numbers it uses (and
    for ``names``), and those numbers as a dict: ``structure.build(steps, numbers)`` is
    ``optimizer.build(steps)``."""
    if optimizer.name in second_order.NAMES:  # full-batch solvers: their numbers are compiled in
        if names:
            raise ValueError(
                f"Optimizer {optimizer.name!r} compiles its numbers (lr, ...) into its program: "
                f"a population's members cannot differ in {sorted(names)} (they can in seed, "
                f"rows and init_scale); a first-order optimizer takes them per member: "
                f"{', '.join(FIRST_ORDER)}."
            )
        return optimizer, {}
    used = {
        "lr": True,
        "momentum": optimizer.name in ("momentum", "nesterov") or bool(optimizer.momentum),
        "weight_decay": bool(optimizer.weight_decay),
        "clip_norm": optimizer.clip_norm is not None,
    }
    numbers = {n: getattr(optimizer, n) for n in HYPERPARAMETERS if used[n] or n in names}
    if "momentum" in numbers and numbers["momentum"] is None:
        numbers["momentum"] = DEFAULT_MOMENTUM  # momentum and nesterov's
    return dataclasses.replace(optimizer, **{n: _PLACEHOLDERS[n] for n in numbers}), numbers


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    """Steps an epoch takes: ``ceil(n / batch_size)``, the last batch short (padded), or
    ``n // batch_size`` with ``drop_last``, the last ``n mod batch_size`` examples left out."""
    return n // batch_size if drop_last else -(-n // batch_size)


def examples_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    """Examples an epoch trains on: all ``n``, or with ``drop_last`` those of its whole batches."""
    return n // batch_size * batch_size if drop_last else n


def batches(perm_key, n: int, batch_size: int, drop_last: bool, sample_weight=None):
    """An epoch's batches: ``(order (steps, batch_size), weights (steps, batch_size) or None)``.

    ``order`` is a permutation of the rows drawn from ``perm_key`` (``arange`` for a full
    batch), cut into batches. The one rule for a short last batch and for sample weights: it
    is padded with row 0 at weight 0, and every row carries its weight (1 without
    ``sample_weight``), so the padded step's weighted mean is over its real rows only
    (``reduction.reduce``). ``weights`` is None when there is neither padding nor weights: that
    epoch is the unweighted one, bit for bit.
    """
    steps = steps_per_epoch(n, batch_size, drop_last)
    if batch_size == n:
        order = jnp.arange(n)
    else:
        order = jax.random.permutation(perm_key, n)[: steps * batch_size]
    pad = steps * batch_size - n
    if pad <= 0 and sample_weight is None:
        return order.reshape(steps, batch_size), None
    w = jnp.ones(n) if sample_weight is None else jnp.asarray(sample_weight)
    weights = jnp.concatenate([w[order], jnp.zeros(max(pad, 0), w.dtype)])
    order = jnp.concatenate([order, jnp.zeros(max(pad, 0), order.dtype)])
    return order.reshape(steps, batch_size), weights.reshape(steps, batch_size)


def epoch_loss(net, losses, weights):
    """An epoch's ``train_loss`` from its steps' costs ``losses (steps,)``, in the net's
    reduction over the epoch's examples. A sum reduction: their sum, the total of the epoch's
    (weighted) per-example losses, as ``evaluate`` sums over a data set (a full batch's one
    step as it was; the mean of the batches' sums was n / batch_size times smaller than the
    initial loss the CLI's divergence rule compares it with). A mean reduction: their mean,
    or with per-row ``weights (steps, batch)`` each step's cost weighted by its total weight:
    the epoch's weighted mean over its examples. Without sample weights that is scikit-learn's
    epoch loss (a short batch counts for its examples); with them scikit-learn still counts
    examples, not weight."""
    if net.reduction == "sum":
        return jnp.sum(losses)
    if weights is None:
        return jnp.mean(losses)
    w = jnp.sum(weights, axis=1).astype(losses.dtype)
    return jnp.sum(w * losses) / jnp.maximum(jnp.sum(w), jnp.finfo(losses.dtype).tiny)


def epoch_outputs(net, losses, corrects, weights, weighted: bool) -> dict:
    """An epoch's training outputs from its steps' ``losses`` and ``corrects (steps,)`` and the
    rows' ``weights`` (``batches``): ``train_loss`` (``epoch_loss``), ``train_correct`` and,
    ``weighted``, ``train_weight``, the epoch's total weight (the denominator of its accuracy).
    The on-device epoch and the streamed one (``stream.streamed_epoch``) both take them here."""
    out = {"train_loss": epoch_loss(net, losses, weights), "train_correct": jnp.sum(corrects)}
    if weighted:
        out["train_weight"] = jnp.sum(weights).astype(losses.dtype)
    return out


def val_outputs(net, params, x_val, t_val, s_val=None) -> dict:
    """An epoch's validation outputs at ``params``, in ``step.metric_dtype``: ``val_loss`` (the
    net's reduction over the whole validation set at once, weighted by ``s_val`` or not) and
    ``val_correct`` (the weight of the correct predictions). Both paths take them here."""
    trace, dtype = bp.forward(net, params, x_val), metric_dtype(params)
    return {
        "val_loss": bp.cost_of(net, trace, t_val, s_val).astype(dtype),
        "val_correct": correct(net, trace.as_[-1], t_val, s_val).astype(dtype),
    }


def make_epoch(
    net, halves, n: int, batch_size: int, mesh, has_val: bool, drop_last: bool, guard: bool = True
):
    """``epoch((params, opt_state, stopped, bad), e, x, t, s, x_val, t_val, s_val, key) ->
    (carry, out)``: one pass over the training set in ``batches`` (``s``, ``s_val``: sample
    weights or None); the run's first non-finite step and every step after it leave the
    parameters as they were, as does ``stopped``. ``bad`` is that step's index in the run,
    ``e * steps + i`` (-1: none yet), carried from epoch to epoch so that a frozen member costs
    no bookkeeping per epoch. ``out``: ``epoch_outputs`` and ``val_outputs``. Without
    ``guard`` every step updates and ``bad`` notes the steps ``quick_finite`` calls non-finite
    only (``step.step_halves``), for a caller that finds non-finite gradients in the
    parameters or their state and then redoes the epochs guarded
    (``member_epochs.make_member_epochs``)."""
    grads_and_metrics, update = halves
    steps = steps_per_epoch(n, batch_size, drop_last)
    dropout = net.dropout > 0
    constrain = sharding.batch_constraint(mesh)

    def epoch(carry, e, x, t, s, x_val, t_val, s_val, key):
        params, opt_state, stopped, bad = carry
        perm_key, drop_key = jax.random.split(jax.random.fold_in(key, e))
        order, weights = batches(perm_key, n, batch_size, drop_last, s)

        def body(c, batch):
            params, opt_state, bad = c
            i, idx, sw = batch
            xb, tb = (
                (constrain(x), constrain(t))
                if batch_size == n
                else (constrain(x[idx]), constrain(t[idx]))
            )
            k = jax.random.fold_in(drop_key, i) if dropout else None
            grads, m = grads_and_metrics(params, xb, tb, k, sw, opt_state if guard else None)
            live = (bad < 0) & ~stopped
            finite = m["finite"] if guard else m["quick_finite"]
            bad = jnp.where(live & ~finite, e * steps + i, bad)
            on_batch = functools.partial(update, x=xb, t=tb)
            if guard:
                go, held, rest = live & finite, None, second_order.stuck(opt_state)
                if rest is not None:  # a stalled curvature solver: no step moves it, none runs
                    go, held = go & ~rest, functools.partial(line_search.held, counted=go)
                params, opt_state = update_if(go, on_batch, grads, opt_state, params, held)
            else:
                params, opt_state = on_batch(grads, opt_state, params)
            return (params, opt_state, bad), {"loss": m["loss"], "correct": m["correct"]}

        (params, opt_state, bad), m = lax.scan(
            body,
            (params, opt_state, bad),
            (jnp.arange(len(order), dtype=np.int32), order, weights),
        )
        out = epoch_outputs(net, m["loss"], m["correct"], weights, s is not None)
        if has_val:
            out |= val_outputs(net, params, x_val, t_val, s_val)
        return (params, opt_state, stopped, bad), out

    return epoch


def _scan_epochs(one, carry, epochs):
    """``lax.scan(one, carry, epochs)`` as scans of a few epochs each (see
    ``_SMALL_LOOP_BYTES``); the same bits as one flat scan."""
    c = inner_epochs(len(epochs), jax.eval_shape(one, carry, epochs[0])[1])
    carry, out = lax.scan(lambda c_, es: lax.scan(one, c_, es), carry, epochs.reshape(-1, c))
    return carry, jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)


@functools.lru_cache(maxsize=32)
def make_epochs(
    net, spec: StepSpec, n: int, batch_size: int, mesh, has_val: bool, keep: bool, drop_last: bool
):
    """``run(params, opt_state, x, t, x_val, t_val, key, hyper, epochs, s=None, s_val=None)``:
    a scan over ``epochs`` (indices), compiled once per number of epochs (``s``, ``s_val``:
    sample weights or None). The outputs: each epoch's ``train_loss`` ..., and ``bad``, the index in
    the run of the first non-finite step (-1: none; the parameters are those before it).
    ``keep``: the outputs also hold every epoch's ``(params, opt_state)`` under ``"states"``."""

    def run(params, opt_state, x, t, x_val, t_val, key, hyper, epochs, s=None, s_val=None):
        epoch = make_epoch(net, spec.halves(net, hyper), n, batch_size, mesh, has_val, drop_last)

        def one(carry, e):
            carry, out = epoch(carry, e, x, t, s, x_val, t_val, s_val, key)
            return carry, (out | {"states": carry[:2]} if keep else out)

        (params, opt_state, _, bad), out = _scan_epochs(
            one, (params, opt_state, jnp.bool_(False), jnp.int32(-1)), epochs
        )
        return params, opt_state, out | {"bad": bad}

    return jax.jit(run, donate_argnums=(0, 1))


def few_epochs(outputs) -> int:
    """How many epochs' ``outputs`` fit in ``_SMALL_LOOP_BYTES`` (at least 1)."""
    return max(1, _SMALL_LOOP_BYTES // max(tree_bytes(outputs), 1))


def inner_epochs(k: int, outputs) -> int:
    """The largest divisor of ``k`` of at most ``few_epochs(outputs)``."""
    return max(c for c in range(1, min(k, few_epochs(outputs)) + 1) if k % c == 0)


def epochs_per_call(net, n: int, epochs: int, state_bytes: int = 0, members: int = 1) -> int:
    """Epochs fused into one call: enough to do about ``_FLOPS_PER_CALL`` of work (XOR's 5000
    full-batch epochs are one call), and no more than ``_STATE_BYTES_PER_CALL`` of per-epoch
    states or outputs (``state_bytes`` an epoch) when they are kept."""
    flops = 6 * net.n_params * n * members
    k = int(_FLOPS_PER_CALL // max(flops, 1))
    if state_bytes:
        k = min(k, _STATE_BYTES_PER_CALL // state_bytes)
    return max(1, min(epochs, k))


def tree_bytes(tree) -> int:
    """Bytes of a pytree of arrays or ``jax.ShapeDtypeStruct``s."""
    return sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))
