"""A population's start: each member's key, its initial parameters (drawn as ``fit`` draws
them for its seed, or given) and optimizer state, and nothing stopped: the carry the fused
epochs begin from (``member_epochs.Member``)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import train
from jaxmlp.member_epochs import Member
from jaxmlp.optim import initial_state
from jaxmlp.population_checks import scaled


@functools.partial(jax.jit, static_argnums=1)
def _stacked_keys(seeds, impl: str):
    return jax.vmap(lambda s: jax.random.key(s, impl=impl))(seeds)


def keys(seeds):
    """``jax.random.key(seed)`` per member, stacked, under the PRNG in use (compiled once per
    PRNG: op by op ~1.4 ms)."""
    if max(seeds) < 2**31:
        return _stacked_keys(np.asarray(seeds, np.int32), jax.config.jax_default_prng_impl)
    return jax.random.wrap_key_data(
        jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    )


def carry(net, spec, config, keys, scale, params, pick, dtype) -> Member:
    """The members' starting carry: parameters (drawn as ``fit`` draws them, or given, their
    weights and biases times ``init_scale``: ``population_checks.scaled``), optimizer states,
    and nothing stopped."""
    if params is None:
        params = jax.vmap(lambda k: net.init(jax.random.fold_in(k, train._INIT_STREAM), dtype))(
            keys
        )
    else:
        # A copy: the run donates its carry (a whole slice of a jax array is that array).
        params = jax.tree.map(lambda a: jnp.array(a[pick], dtype), params)  # checked
    params = scaled(params, scale, dtype)
    p = len(keys)
    zeros = lambda: jnp.zeros(p, jnp.int32)  # noqa: E731  (one buffer each: all are donated)
    return Member(
        params=params,
        opt_state=_initial_states(spec.optimizer, spec.total_steps, params),
        stopped=jnp.zeros(p, bool),
        best_params=jax.tree.map(jnp.copy, params) if config.early_stopping else None,
        best_val_loss=jnp.full(p, jnp.inf, dtype),  # step.metric_dtype, as the losses
        bad_epochs=zeros(),
        stop_epoch=zeros(),
        diverged_epoch=zeros(),
        diverged_step=zeros(),
        bad=jnp.full(p, -1, jnp.int32),
    )


@functools.partial(jax.jit, static_argnums=(0, 1))
def _initial_states(structure, total_steps: int, params):
    """``optim.initial_state`` of every member, compiled once per optimizer structure (op by
    op, ``vmap`` traced it again every population)."""
    return jax.vmap(functools.partial(initial_state, structure, total_steps))(params)
