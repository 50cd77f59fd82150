"""A run's arrays: split, cast, checked finite and placed on the data mesh, with the batch size.

``prepare`` is the one place ``fit`` and ``fit_population`` turn the user's ``x, t`` (and
``x_val, t_val``, or ``TrainConfig.val_fraction``) into the arrays the compiled epochs read.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import sharding


class Data(NamedTuple):
    """A run's training and validation arrays, checked and on the devices (on the host when
    streamed), with the batch size and the data mesh."""

    x: object
    t: object
    x_val: object
    t_val: object
    batch_size: int
    mesh: object

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        """Steps an epoch takes."""
        return self.n // self.batch_size

    @property
    def n_seen(self) -> int:
        """Examples an epoch trains on: the last ``n mod batch_size`` are dropped."""
        return self.n // self.batch_size * self.batch_size


def prepare(net, x, t, x_val, t_val, config, place: bool = True) -> Data:
    """The checked arrays of a run (split, cast, finite) and its batch size; ``place`` puts them
    on the data mesh (or, streamed, keeps ``x``, ``t`` on the host)."""
    dtype = storage_dtype(config.dtype)
    needs_local = (config.val_fraction and x_val is None) or config.chunk_steps is not None
    if needs_local and isinstance(x, jax.Array) and not x.is_fully_addressable:
        raise ValueError(  # each process holds only its shard of x
            "x spans several processes: val_fraction and chunk_steps need the whole training "
            "set in this process; pass x_val and t_val, and leave chunk_steps None."
        )
    x, t, x_val, t_val = split(net, x, t, x_val, t_val, config)
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
        devices = sharding.devices_for(batch_size)  # data in this process: choose the devices
    mesh = sharding.data_mesh(devices) if place else sharding.data_mesh(1)
    sharding.check_batch(batch_size, mesh, n)
    if place and config.chunk_steps is None:  # data is never donated: no copies
        x, t = sharding.place_data((x, t), mesh)
        if x_val is not None:
            x_val, t_val = sharding.place_data((x_val, t_val), mesh)
    elif place:  # the training set stays on the host; chunks of steps travel
        x, t = np.asarray(x), np.asarray(t)
    return Data(x, t, x_val, t_val, batch_size, mesh)


def split(net, x, t, x_val, t_val, config):
    if x_val is not None or not config.val_fraction:
        return x, t, x_val, t_val
    from jaxmlp import datasets

    return datasets.validation_split(np.asarray(x), np.asarray(t), config.val_fraction, config.seed)


def as_arrays(net, x, t, dtype, names=("x", "t")):
    x = net.inputs(x, dtype)
    if x.shape[0] == 0:
        raise ValueError(f"{names[0]} is empty: training needs at least one example.")
    t = net.targets(t, x.shape[0], dtype)
    for name, a in zip(names, (x, t), strict=True):  # one reduction each; no per-step syncs
        if jnp.issubdtype(a.dtype, jnp.inexact) and not bool(jnp.isfinite(a).all()):
            raise ValueError(f"{name} contains NaN or Inf; remove or impute them first.")
    return x, t


def storage_dtype(name: str):
    if name == "float64":
        if not jax.config.jax_enable_x64:
            raise ValueError(
                'dtype "float64" needs jax.config.update("jax_enable_x64", True) first.'
            )
        return jnp.float64
    return jnp.float32
