"""A population's start: each member's key, its initial parameters (drawn as ``fit`` draws
them for its seed, or given) and optimizer state, and nothing stopped: the carry the fused
epochs begin from (``member_epochs.Member``)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import train
from jaxmlp.epochs import tree_bytes
from jaxmlp.member_epochs import Member
from jaxmlp.optim import initial_state
from jaxmlp.population_checks import scaled

# On the CPU a chunk holds the members whose step's working set (parameters, gradients,
# optimizer state, best parameters) fits in this many bytes: past it the members' elementwise
# passes (the update, the checks) stream through memory. 16 Fashion-MNIST-shaped
# 784-256-128-10 members (~3.8 MB each with Adam, ~1.9 MB with SGD) ran 5-14 % faster in
# chunks of 2-4 than in one of 16 on one thread or in two of 8 on two, and slower one by one
# (experiments/BENCHMARKS.md). An accelerator takes every member at once.
CPU_CHUNK_BYTES = 2**23


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


def chunk_size(net, spec, config, p: int, workers: int, devices, dtype) -> int:
    """The default chunk of ``fit_population``: ``ceil(P / workers)`` members, and on the CPU
    at most those whose working set fits in ``CPU_CHUNK_BYTES`` per device, in chunks of equal
    size (one compiled program), a multiple of ``devices``. Members past that size are then
    chunked the same on any number of ``workers`` up to the number of chunks, and train the
    same to the last bit."""
    parts = workers
    if jax.default_backend() == "cpu":
        member = _working_bytes(net, spec, config.early_stopping is not None, dtype)
        parts = max(parts, -(-p * member // (CPU_CHUNK_BYTES * (devices or 1))))
    chunk = -(-p // min(parts, p))
    return min(-(-chunk // (devices or 1)) * (devices or 1), p)


@functools.lru_cache(maxsize=32)
def _working_bytes(net, spec, best: bool, dtype) -> int:
    """A member's parameters, gradients, optimizer state (and best parameters), in bytes."""
    params = jax.eval_shape(lambda: net.init(jax.random.key(0), dtype))
    state = jax.eval_shape(
        functools.partial(initial_state, spec.optimizer, spec.total_steps), params
    )
    return (2 + best) * tree_bytes(params) + tree_bytes(state)
