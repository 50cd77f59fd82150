"""A population's compiled program: the solo epoch (``epochs.make_epoch``) under ``jax.vmap``
over the members, with early stopping, restore-best and divergence tracked per member inside
the scan (``population.fit_population`` drives it)."""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxmlp import backprop as bp
from jaxmlp import second_order
from jaxmlp.epochs import (
    StepSpec,
    epochs_per_call,
    few_epochs,
    inner_epochs,
    make_epoch,
    steps_per_epoch,
    tree_bytes,
)
from jaxmlp.optim import FIRST_ORDER
from jaxmlp.step import all_finite

# Populations of tiny members (``backprop.is_tiny``) compile with these (``_tiny_member_options``).
_TINY_MEMBER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "",
    "xla_cpu_use_fusion_emitters": False,
}


class Member(NamedTuple):
    """One member's carry through the fused epochs (a population stacks them on axis 0).
    Epoch counts are 1-based, 0 while nothing happened. ``best_params`` is None without
    early stopping."""

    params: list
    opt_state: object
    stopped: jax.Array  # frozen: diverged, out of patience or stalled
    best_params: list | None
    best_val_loss: jax.Array
    bad_epochs: jax.Array
    stop_epoch: jax.Array  # the epoch after which patience ran out or the damping stalled
    diverged_epoch: jax.Array
    diverged_step: jax.Array
    bad: jax.Array  # the first non-finite step's index in the run (-1: none), as in make_epoch


@functools.lru_cache(maxsize=32)
def make_member_epochs(
    net,
    spec: StepSpec,
    n: int,
    batch_size: int,
    mesh,
    has_val: bool,
    patience,
    rows: bool,
    drop_last: bool,
):
    """``run(members, x, t, x_val, t_val, rows, val_rows, keys, hyper, epochs) -> (members,
    out)``: the solo epoch under ``jax.vmap`` over the members' axis of ``members``, ``keys``,
    ``hyper`` (and of ``rows``/``val_rows``, each member's training and validation rows of the
    shared ``x``, when ``rows``), with early stopping after ``patience`` epochs without a better
    validation loss, a curvature solver's stall (``second_order.stuck``, as ``stalled``'s:
    the epoch that reached it is the member's last, as its solo fit's) and divergence tracked
    per member. ``out (groups, P, c, k)``: each epoch's
    ``member_outputs(has_val)`` (an epoch writes its history once), per group of ``c`` epochs
    the call ran; the host puts them in place (no transposing copy on the device).

    The epochs run a few at a time. Under ``vmap`` a guarded step (``update_if``) selects
    between both branches, every parameter and optimizer state every step (~15 % of a Fashion
    Adam population's time), and checks every gradient (~25 % of XOR's). So while no member is
    frozen, first-order members run unguarded, checking losses: their update carries a NaN or
    inf gradient into the parameters, where it stays (tests/test_optim.py). If a member went
    bad or out of patience, or a parameter or its state is not finite after them (an overflowing
    square in Adam's moment leaves the parameters finite), the epochs rerun guarded
    from the same carry: the same run up to float rounding, not bit for bit (XLA fuses the two
    steps' multiply-adds differently: a population of one XOR SGD member 1.4e-6 apart after 5000
    epochs, four 4-8-3 SGD or Adam members 2.4e-7 after 30 mini-batch epochs), within the
    population's bound (tests/test_population.py).
    """
    steps = steps_per_epoch(n, batch_size, drop_last)
    curvature = spec.optimizer.name in second_order.NAMES  # they stall

    def member(m, x, t, x_val, t_val, rows_, val_rows, key, hyper, epochs, guard):
        if rows:
            x, t, x_val, t_val = x[rows_], t[rows_], x[val_rows], t[val_rows]
        halves = spec.halves(net, hyper)
        epoch = make_epoch(net, halves, n, batch_size, mesh, has_val, drop_last, guard)

        def one(m, e):
            carry = (m.params, m.opt_state, m.stopped, m.bad)
            (params, opt_state, _, bad), out = epoch(carry, e, x, t, None, x_val, t_val, None, key)
            live = ~m.stopped & (bad < 0)
            m = m._replace(params=params, opt_state=opt_state, bad=bad)
            if patience:  # the rule of fit's early stopping, per member
                better = live & (out["val_loss"] < m.best_val_loss)
                bad_epochs = jnp.where(better, 0, m.bad_epochs + live)
                out_of_patience = live & (bad_epochs >= patience)
                m = m._replace(
                    best_params=jax.tree.map(
                        lambda a, b: jnp.where(better, a, b), params, m.best_params
                    ),
                    best_val_loss=jnp.where(better, out["val_loss"], m.best_val_loss),
                    bad_epochs=bad_epochs,
                    stopped=m.stopped | out_of_patience,
                    stop_epoch=jnp.where(out_of_patience, e + 1, m.stop_epoch),
                )
            if curvature:  # fit's stall (second_order.stalled), per member
                stall = live & second_order.stuck(opt_state)
                m = m._replace(
                    stopped=m.stopped | stall, stop_epoch=jnp.where(stall, e + 1, m.stop_epoch)
                )
            return m, jnp.stack([out[name] for name in member_outputs(has_val)])

        return lax.scan(one, m, epochs)

    data = 0 if rows else None
    axes = (0, None, None, None, None, data, data, 0, 0, None)
    fast, guarded = (
        jax.vmap(functools.partial(member, guard=g), in_axes=axes) for g in (False, True)
    )
    frozen = lambda m: jnp.any(m.stopped | (m.bad >= 0))  # noqa: E731
    # after unguarded epochs: a non-finite parameter, or a state an overflowing square made inf
    unsure = lambda m: frozen(m) | ~all_finite((m.params, m.opt_state))  # noqa: E731
    first_order = spec.optimizer.name in FIRST_ORDER  # curvature solvers always run guarded

    def run(m, *args):
        *args, epochs = args

        def some(m, es):  # a few epochs: fast while nobody is frozen, else guarded
            def fast_then_check(m):
                done = fast(m, *args, es)
                return lax.cond(unsure(done[0]), lambda: guarded(m, *args, es), lambda: done)

            if not first_order:
                return guarded(m, *args, es)
            return lax.cond(frozen(m), lambda m: guarded(m, *args, es), fast_then_check, m)

        c = inner_epochs(len(epochs), member_epoch_outputs(has_val, m.best_val_loss.dtype))
        m, out = lax.scan(some, m, epochs.reshape(-1, c))
        # Divergence is bookkept once per call, not per epoch: ``bad`` holds its step.
        diverged = m.bad >= 0
        return m._replace(
            stopped=m.stopped | diverged,
            diverged_epoch=jnp.where(diverged, m.bad // steps + 1, 0),
            diverged_step=jnp.where(diverged, m.bad % steps + 1, 0),
        ), out

    options = _tiny_member_options() if bp.is_tiny(net, batch_size) else {}
    return jax.jit(run, donate_argnums=(0,), compiler_options=options)


@functools.cache
def _tiny_member_options() -> dict:
    """``_TINY_MEMBER_OPTIONS`` this XLA accepts (each probed once). XLA:CPU sends tiny members'
    batched sums to YNNPACK, a library call each on a few thousand numbers, and fuses loops with
    emitters that cost more than such work: with both options the 1000-member XOR population
    takes ~1/8 of its time with the defaults; larger members run faster with the defaults."""
    if jax.default_backend() != "cpu":
        return {}
    options = {}
    for name, value in _TINY_MEMBER_OPTIONS.items():
        try:
            jax.jit(lambda a: a + 1, compiler_options={name: value}).lower(jnp.zeros(())).compile()
        except RuntimeError:  # no such option in this XLA
            continue
        options[name] = value
    return options


def member_outputs(has_val: bool) -> tuple:
    """The names of a population's per-epoch outputs, in the order of ``out``'s last axis."""
    return ("train_loss", "train_correct", "val_loss", "val_correct")[: 4 if has_val else 2]


def member_epoch_outputs(has_val: bool, dtype=jnp.float32) -> jax.ShapeDtypeStruct:
    """One member's outputs of one epoch, in the run's ``step.metric_dtype``."""
    return jax.ShapeDtypeStruct((len(member_outputs(has_val)),), dtype)


def member_epochs_per_call(
    net, n: int, epochs: int, members: int, has_val: bool, dtype=jnp.float32
) -> int:
    """``epochs_per_call`` for a population, a multiple of its few epochs at a time
    (``make_member_epochs``) when it is more than them and the run takes more than one call:
    no call of a prime number of epochs runs them one by one."""
    outputs = member_epoch_outputs(has_val, dtype)
    k = epochs_per_call(net, n, epochs, tree_bytes(outputs) * members, members)
    few = few_epochs(outputs)
    return k if k == epochs or k < few or inner_epochs(k, outputs) == k else k - k % few
