"""What a run may start from: ``fit``'s arguments of the right kinds, and a resumed ``state``
that belongs to the run it continues (its sample weights, dtype, optimizer, length and
schedule); the rules a run's end (``finished``) and a checkpoint's epoch (``past_the_run``)
share with the command line and ``checkpoint``. The arrays a run starts from are the caller's
copies (``copied``): the run donates them. Each refusal names the problem and the way on."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import optim, second_order, sharding
from jaxmlp.arrays import params_dtype
from jaxmlp.stopping import patience_ran_out


def check_kind(name: str, value, kind: type, way_on: str = "") -> None:
    """A TypeError unless ``value`` is None or a ``kind``, naming ``name``, what it got and
    ``way_on`` (a string: the ``kind`` it names, as ``Optimizer("sgd")``)."""
    if value is None or isinstance(value, kind):
        return
    got = repr(value) if isinstance(value, str | int | float) else _a(type(value).__name__)
    if isinstance(value, str) and not way_on:
        way_on = f": pass {kind.__name__}({value!r})"
    raise TypeError(f"{name} must be {_a(kind.__name__)} or None, got {got}{way_on}.")


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def check_resume(net, structure, total_steps: int, config, state, weights) -> None:
    """A ValueError unless ``state`` continues the run of ``config``: finite parameters of
    ``net`` in the run's dtype, trained on the sample weights of digest ``weights``, at an
    epoch not past the run, with ``structure``'s optimizer state (``optim.check_state``) and,
    for a schedule spanning the run (``optim.length_fixed``), the length it was trained for,
    in epochs and in steps (``TrainState.run_epochs``, ``run_steps``: another batch size or
    training set makes the same epochs other steps; None, a state made by hand: unchecked)."""
    net.check_params(state.params, finite=True)
    if state.sample_weight_sha256 != weights:
        name = lambda d: "none" if d is None else f"SHA-256 {d[:16]}..."  # noqa: E731
        raise ValueError(
            f"The sample_weight of this resume ({name(weights)}) differ from those the "
            f"state was trained on ({name(state.sample_weight_sha256)}): resume with the "
            "same sample_weight (None and all ones are different runs)."
        )
    got, want = (
        {jnp.dtype(a.dtype) for a in jax.tree.leaves(state.params)},
        params_dtype(config.dtype),
    )
    if got != {want}:
        fits = "'float64'" if got == {np.dtype(np.float64)} else "'float32' or 'bfloat16'"
        raise ValueError(
            f"state.params are {', '.join(sorted(d.name for d in got))}, but parameters of a "
            f"{config.dtype} run are {want.name}: resume with the TrainConfig(dtype=...) the "
            f"state was trained with ({fits}), or start a new run from its parameters "
            "(params=state.params, cast to the run's dtype)."
        )
    past = past_the_run(state.epoch, config.epochs)
    if past:
        raise ValueError(
            f"state: {past}: resume with TrainConfig(epochs=...) of at least {state.epoch}."
        )
    fixed = optim.length_fixed(structure.schedule, state.run_epochs, config.epochs)
    if fixed:
        raise ValueError(
            f"state: {fixed}, not {config.epochs}: resume with TrainConfig(epochs="
            f"{state.run_epochs}), or start a new run from its parameters (params=state.params)."
        )
    fixed = optim.length_fixed(structure.schedule, state.run_steps, total_steps, "steps")
    if fixed:  # the same epochs, of another batch size, drop_last or training set
        raise ValueError(
            f"state: {fixed}, not {total_steps} ({config.epochs} epochs of "
            f"{total_steps // config.epochs} steps): resume with the batch_size, drop_last and "
            "training set it was trained on, or start a new run from its parameters "
            "(params=state.params)."
        )
    optim.check_state(structure, total_steps, state.params, state.opt_state)


def past_the_run(epoch: int, epochs: int) -> str | None:
    """Why a state at ``epoch`` is not one of a run of ``epochs`` epochs (None where it is):
    the one rule of ``fit``'s resume and ``checkpoint.load``."""
    if epoch > epochs:
        return f"epoch {epoch} is past the run's length of {epochs} epochs"
    return None


def finished(state, config) -> bool:
    """Whether the run of ``config`` is over at ``state``: all epochs, patience ran out, or a
    damped solver stalled (``second_order.at_rest``). ``fit`` returns such a state at once;
    ``jaxmlp train`` does not call ``fit`` for it, and a run folder's readers call it finished."""
    return (
        state.epoch >= config.epochs
        or patience_ran_out(state, config)
        or second_order.at_rest(state)
    )


def copied(tree, mesh):
    """The arrays of ``tree`` replicated over ``mesh``, in buffers of their own: copied, then
    placed. ``jax.device_put(..., may_alias=False)`` onto other devices reused an array's
    buffer as one of the shards, and the run, which donates what it starts from, deleted the
    caller's array."""
    return sharding.place_replicated(jax.tree.map(jnp.copy, tree), mesh)
