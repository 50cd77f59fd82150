"""A run's arrays: split, cast, checked finite and placed on the data mesh, with the batch size.

``prepare`` is the one place ``fit`` and ``fit_population`` turn the user's ``x, t`` (and
``x_val, t_val``, or ``TrainConfig.val_fraction``) into the arrays the compiled epochs read.
"""

import hashlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import outputs, reduction, sharding
from jaxmlp.array_checks import check_nonempty
from jaxmlp.epochs import examples_per_epoch, steps_per_epoch
from jaxmlp.numeric import (
    check_holds,
    check_unmasked,
    dtype_range,
    first_not_number,
    outside,
)


class Data(NamedTuple):
    """A run's training and validation arrays, checked and on the devices (on the host when
    streamed), with the batch size, the data mesh, whether epochs drop the last ``n mod
    batch_size`` examples, and the sample weights ``s``, ``s_val`` (None: unweighted)."""

    x: object
    t: object
    x_val: object
    t_val: object
    batch_size: int
    mesh: object
    drop_last: bool
    s: object = None
    s_val: object = None

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        """Steps an epoch takes (``epochs.steps_per_epoch``)."""
        return steps_per_epoch(self.n, self.batch_size, self.drop_last)

    @property
    def n_seen(self) -> int:
        """Examples an epoch trains on: all, or without the last ``n mod batch_size``."""
        return examples_per_epoch(self.n, self.batch_size, self.drop_last)

    @property
    def val_seen(self):
        """The validation accuracy's denominator: the validation weight (None: its size)."""
        return None if self.s_val is None else float(np.sum(np.asarray(self.s_val), dtype=float))


def prepare(net, x, t, x_val, t_val, config, place: bool = True, sample_weight=None) -> Data:
    """The checked arrays of a run (split, cast, finite) and its batch size; ``place`` puts them
    on the data mesh (or, streamed, keeps ``x``, ``t`` on the host). ``sample_weight``
    (checked: ``check_sample_weight``) follows its rows through the validation split."""
    check_given(x, t, x_val, t_val)
    dtype = storage_dtype(config.dtype)
    needs_local = (config.val_fraction and x_val is None) or config.chunk_steps is not None
    if needs_local and isinstance(x, jax.Array) and not x.is_fully_addressable:
        raise ValueError(  # each process holds only its shard of x
            "x spans several processes: val_fraction and chunk_steps need the whole training "
            "set in this process; pass x_val and t_val, and leave chunk_steps None."
        )
    s = None
    if sample_weight is not None:
        s = check_sample_weight(sample_weight, len(x), dtype)
    x, t, x_val, t_val, s, s_val = split(net, x, t, x_val, t_val, config, s)
    check_dropped_weight(s, config)
    if s is not None:
        s, s_val = (None if a is None else jnp.asarray(a, dtype) for a in (s, s_val))
    streamed = place and config.chunk_steps is not None  # x, t stay on the host
    if streamed:
        x, t = host_arrays(net, x, t, dtype, config.chunk_steps * config.batch(len(x)))
    else:
        x, t = as_arrays(net, x, t, dtype)
    if x_val is not None:
        x_val, t_val = as_arrays(net, x_val, t_val, dtype, ("x_val", "t_val"))
    elif config.early_stopping:
        raise ValueError(
            f"early_stopping={config.early_stopping} watches the validation loss: pass x_val and "
            "t_val, or set val_fraction > 0."
        )
    n = x.shape[0]
    batch_size = config.batch(n)
    devices = config.devices
    if devices is None and place and getattr(x, "is_fully_addressable", True):
        devices = sharding.devices_for(batch_size, n)  # data in this process: choose the devices
    mesh = sharding.data_mesh(devices) if place else sharding.data_mesh(1)
    sharding.check_batch(batch_size, mesh, n)
    if place and not streamed:
        sharding.check_split({"x": x, "t": t, "x_val": x_val, "t_val": t_val}, batch_size, mesh)
    if place and not streamed:  # data is never donated: no copies
        x, t, s = sharding.place_data((x, t, s), mesh)
        if x_val is not None:
            x_val, t_val, s_val = sharding.place_data((x_val, t_val, s_val), mesh)
    elif streamed:  # the training set stays on the host; chunks of steps travel
        s = None if s is None else np.asarray(s)
    return Data(x, t, x_val, t_val, batch_size, mesh, config.drop_last, s, s_val)


def check_dropped_weight(s, config) -> None:
    """A ValueError where ``drop_last`` could leave out every example of weight > 0 of the
    training weights ``s``: an epoch would train on none (its loss and accuracy 0 / 0)."""
    if s is None or not config.drop_last:
        return
    n = len(s)
    left_out, weighted = n % config.batch(n), int(np.count_nonzero(s))
    if weighted <= left_out:
        raise ValueError(
            f"sample_weight: {weighted} training example(s) have weight > 0 and drop_last leaves "
            f"out {left_out} ({n} mod batch_size {config.batch(n)}), a different few each "
            "epoch: an epoch could train on none of them. Set drop_last=False, or weigh more "
            "examples."
        )


def check_given(x, t, x_val, t_val) -> None:
    """What ``fit`` and ``fit_population`` refuse of the data given before anything reads it
    (``val_fraction``'s split included): a masked array (``numeric.check_unmasked``), and half
    a validation set (``t_val`` alone was ignored)."""
    for name, a in (("x", x), ("t", t), ("x_val", x_val), ("t_val", t_val)):
        check_unmasked(name, a)
    if (x_val is None) != (t_val is None):
        given, missing = ("x_val", "t_val") if t_val is None else ("t_val", "x_val")
        raise ValueError(
            f"{given} without {missing}: a validation set is x_val and t_val together; pass "
            f"{missing} too, or neither."
        )


def split(net, x, t, x_val, t_val, config, s=None):
    """``(x, t, x_val, t_val, s, s_val)``: ``val_fraction`` held out by
    ``datasets.validation_split`` when no validation set is given (a ValueError for both), the
    weights ``s`` with their rows (an ``x_val`` given is unweighted: ``s_val`` None)."""
    if x_val is not None and config.val_fraction:
        raise ValueError(
            f"val_fraction={config.val_fraction} holds out part of x, and x_val and t_val were "
            "given too: give x_val and t_val or val_fraction, not both (val_fraction=0 with a "
            "validation set)."
        )
    if x_val is not None or not config.val_fraction:
        return x, t, x_val, t_val, s, None
    from jaxmlp import datasets

    rows, t = np.arange(len(x)), np.asarray(t)
    train, _, val, _ = datasets.validation_split(
        rows, strata(net, t), config.val_fraction, config.seed
    )
    x = np.asarray(x)
    s_train, s_val = (None, None) if s is None else (s[train], s[val])
    for side, w in (("training", s_train), ("validation", s_val)):
        if w is not None and not w.any():  # its cost would be 0, its accuracy 0 / 0
            raise ValueError(
                f"sample_weight: the {side} split of val_fraction={config.val_fraction} holds "
                "only examples of weight 0; pass x_val and t_val, or another seed or fraction."
            )
    return x[train], t[train], x[val], t[val], s_train, s_val


def strata(net, t) -> np.ndarray:
    """``t`` as the data path splits it (``datasets.validation_split`` in ``run.data`` and
    ``datasets.from_arrays``, on the task's labels before ``run.data.targets`` encodes them for
    the net), so that one seed holds out the same rows in ``fit``: a thresholded output's own
    labels (threshold: -1/+1) as their 0/1 classes, stratified; a regression net's targets as
    numbers (integer counts are no classes), split at random."""
    out = outputs.get(net.output)
    if out.decides is None and (np.issubdtype(t.dtype, np.integer) or t.dtype == bool):
        return t.astype(np.float64)
    if out.decides == "threshold" and out.labels != (0, 1):
        return (t == out.labels[1]).astype(np.int32)
    return t


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray:
    """``sample_weight`` as a float64 NumPy array ``(n,)``; ValueError naming the problem
    unless it has one finite, non-negative weight per example, they are not all zero, and
    ``dtype`` (the run's storage dtype) holds each weight and their total (``outside``): a
    weight of 1e-39 is 0 in float32, a total of 1e39 overflows a step's."""
    check_unmasked("sample_weight", sample_weight)
    odd = first_not_number(np.asarray(sample_weight))
    if odd is not None:
        raise ValueError(
            f"sample_weight must be an array of n = {n} numbers, got {odd[1]!r} at index "
            f"{odd[0]} (text is not read as a number here)."
        )
    try:
        s = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"sample_weight must be an array of n = {n} numbers, got {type(sample_weight)}."
        ) from None
    reduction.check_weights(s, n)  # one per example, finite, >= 0
    if not s.any():
        raise ValueError("sample_weight is all zero: at least one example must weigh > 0.")
    for what, bad in (("holds", outside(s, dtype)), ("sums to", outside(np.sum(s), dtype))):
        if bad.size:
            raise ValueError(
                f"sample_weight {what} {float(bad[0])!r}, outside the range of "
                f"{dtype_range(dtype)}: rescale the weights (a common factor leaves a mean "
                "reduction's cost as it is)."
            )
    return s


def sample_weight_sha256(sample_weight) -> str | None:
    """SHA-256 of the training set's sample weights as float64 (``check_sample_weight``), None
    without them. All-ones weights are not None: a mean reduction over them gives other bits."""
    if sample_weight is None:
        return None
    s = np.ascontiguousarray(np.asarray(sample_weight, dtype=np.float64))
    return hashlib.sha256(s.tobytes()).hexdigest()


def as_arrays(net, x, t, dtype, names=("x", "t"), needs="training"):
    """``x``, ``t`` as the net's inputs and targets in ``dtype``; a ValueError naming ``names``
    for an empty or non-finite one (``needs``: what needs an example, in that message)."""
    x = net.inputs(x, dtype, name=names[0])
    check_nonempty(x, names[0], needs)
    return x, net.targets(t, x.shape[0], dtype, name=names[1])  # both checked finite there


def host_arrays(net, x, t, dtype, rows: int):
    """``as_arrays`` of a streamed training set, as NumPy arrays on the host (``in_blocks``:
    the device never holds more than ``rows`` examples of it)."""
    parts = list(in_blocks(net, x, t, dtype, rows)[1])
    return tuple(np.concatenate([np.asarray(part[j]) for part in parts]) for j in (0, 1))


def in_blocks(net, x, t, dtype, rows: int, needs="training"):
    """``(n, blocks)``: ``as_arrays`` of ``x``, ``t`` ``rows`` examples at a time (``blocks``
    yields them), so that the device holds one block at a time; its checks of the shapes are
    made on the whole at once, abstractly (no data moves: messages name all n rows)."""
    x, t = (a if isinstance(a, jax.Array | np.ndarray) else np.asarray(a) for a in (x, t))
    with jax.enable_x64(True):  # the abstract arrays keep their dtypes: a float64 t is named so
        shapes = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (x, t)]
        jax.eval_shape(lambda x, t: as_arrays(net, x, t, dtype, needs=needs), *shapes)
    parts = (slice(i, i + rows) for i in range(0, len(x), rows))
    return len(x), (as_arrays(net, x[b], t[b], dtype, needs=needs) for b in parts)


def stored(numbers: dict, dtype) -> dict:
    """``{name: value or values}`` as NumPy arrays of ``dtype``; a ValueError for a number
    ``outside`` it (an lr of 1e-320 trained with lr 0 in float32), and for a ``momentum`` that
    is 1 there (0.99999999 in float32: an undamped velocity, which ``Optimizer`` refuses)."""
    stored_ = {}
    for name, value in numbers.items():
        check_holds(name, value, dtype)
        stored_[name] = np.asarray(value, dtype)
        if name == "momentum" and (stored_[name] >= 1).any():
            v = np.asarray(value, np.float64)[stored_[name] >= 1].flat[0]
            below = np.nextafter(np.asarray(1, dtype), 0)
            raise ValueError(
                f"momentum = {v} is 1.0 in {np.dtype(dtype).name}, where it is stored "
                f"(momentum must be in [0, 1)): use at most {below}."
            )
    return stored_


def stored_params(net, params, dtype):
    """``params`` as arrays of ``dtype`` (the run's storage dtype, its master weights), checked:
    the architecture's shapes, then every value finite once stored (``net.check_params``; a
    float64 value past float32's range is Inf there). A run from NaN or Inf diverges at its
    first step, which then blamed the learning rate."""
    net.check_params(params)
    with np.errstate(over="ignore"):  # an overflow is the Inf refused below
        params = jax.tree.map(lambda a: jnp.asarray(a, dtype), params)
    net.check_params(params, finite=True)
    return params


def params_dtype(name: str) -> np.dtype:
    """The dtype of the parameters (the master weights) of a run of ``TrainConfig.dtype``
    ``name``: float64 for float64, else float32 (bfloat16 computes on float32 weights). The one
    rule of ``storage_dtype``, of a resumed state's (``resume.check_resume``) and of a
    checkpoint's (``checkpoint_checks.verify``)."""
    return np.dtype(np.float64 if name == "float64" else np.float32)


def precision(dtype):
    """The x64 mode a run of ``dtype`` (a name, or a NumPy dtype) computes in, as a context:
    on for float64, off for every other, whatever the process's default (``JAX_ENABLE_X64``),
    so that a float32 run's bits do not depend on it (with it on, the same XOR train command
    gave other parameters: a float32 ``fit`` there ends 6e-8 from one with it off)."""
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    return jax.enable_x64(name == "float64")


def run_precision(name: str):
    """``precision(name)`` for a run (``fit``, ``fit_population``), as ``jaxmlp train`` and the
    estimators run theirs: a float32 fit under a global ``jax_enable_x64`` computed optax's Adam
    bias correction 1 - b1**count and the cosine schedule in float64 (a Python float times an
    int32 count), and ended up to 1 ulp apart per step from the same fit without it. A float64
    run still needs x64 on: ``storage_dtype`` refuses it first."""
    storage_dtype(name)
    return precision(name)


def storage_dtype(name: str):
    """``params_dtype`` as a jax dtype; a ValueError for float64 outside x64."""
    if params_dtype(name) == np.float64:
        if not jax.config.jax_enable_x64:
            raise ValueError(
                'dtype "float64" needs jax.config.update("jax_enable_x64", True) first.'
            )
        return jnp.float64
    return jnp.float32
