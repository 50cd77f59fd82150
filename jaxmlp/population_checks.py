"""A population's settings, checked before any member trains (``population.fit_population``):
a bad one is a ValueError naming it and the values allowed, not an error from inside jax or
after the first chunks trained."""

import dataclasses
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.arrays import storage_dtype, stored, stored_params
from jaxmlp.datasets import check_seed
from jaxmlp.epochs import split_numbers
from jaxmlp.numeric import check_distinct, check_int, check_unmasked, is_real
from jaxmlp.optim import HYPERPARAMETERS
from jaxmlp.step import all_finite

SETTINGS = (*HYPERPARAMETERS, "init_scale")


def check_run(config, chunk, params, p: int, stop=None, workers=1) -> None:
    """What ``config`` does that a population does otherwise (its own validation rows and
    devices), ``chunk``, the given ``params``, stacked on a leading axis of ``p``, ``stop``
    (a callable or None) and ``workers``."""
    if stop is not None and not callable(stop):  # (else a TypeError once the first chunk ran)
        raise ValueError(f"stop must be a callable or None, got {stop!r}.")
    if config.val_fraction:
        raise ValueError(
            "val_fraction splits by config.seed: give a population x_val and t_val, or rows."
        )
    if config.chunk_steps is not None:
        raise ValueError("chunk_steps streams one run's data; a population keeps it on the device.")
    if config.devices is not None:
        raise ValueError(
            f"config.devices={config.devices} shards one run's data; a population shards its "
            "members: leave config.devices None and give fit_population(devices=...)."
        )
    if chunk is not None:
        check_int("chunk", chunk, 1, "or None")
    check_int("workers", workers, 1)
    axes = None if params is None else _leading_axes(params)
    if axes not in (None, [(p,)]):  # more would be left out, fewer a jax error
        raise ValueError(f"params must be stacked on a leading axis of P={p}, got {axes}.")


def stacked(net, params) -> int:
    """P, the members of ``params`` stacked on a leading axis (``evaluation.evaluate_members``);
    a ValueError unless every array has that axis, of P >= 1, and a member is ``net``'s (its
    values as they are: a diverged member's NaN is its results')."""
    axes = _leading_axes(params)
    if len(axes) != 1 or axes in ([()], [(0,)]):
        raise ValueError(f"params must be stacked on a leading axis of P >= 1 members, got {axes}.")
    net.check_params(jax.tree.map(lambda a: a[0], params))
    return axes[0][0]


def _leading_axes(params) -> list:
    """The distinct leading axes of the arrays of ``params``: ``[(P,)]`` for stacked members."""
    return sorted({np.shape(a)[:1] for a in jax.tree.leaves(params)})


def check_params(net, params, dtype, scale=None) -> None:
    """The members' given ``params`` (stacked, ``check_run``), before any member trains: the
    architecture's shapes, and every member's values finite in ``dtype`` (times its
    ``init_scale``), as ``fit`` checks its own (``arrays.stored_params``); a ValueError naming
    the first member that is not."""
    member = lambda tree, k: jax.tree.map(lambda a: a[k], tree)  # noqa: E731
    net.check_params(member(params, 0))
    with np.errstate(over="ignore"):  # an overflow is the Inf refused below
        params = jax.tree.map(lambda a: jnp.asarray(a, dtype), params)
    params = scaled(params, scale, dtype)
    finite = np.asarray(jax.vmap(all_finite)(params))
    for k in np.flatnonzero(~finite)[:1]:
        try:
            stored_params(net, member(params, k), dtype)
        except ValueError as error:
            raise ValueError(f"member {k}: {error}") from None


def scaled(params, scale, dtype):
    """The members' stacked ``params`` with each member's weights and biases (``"w"``, ``"b"``)
    times its ``init_scale`` (``scale`` (P,), None: as they are); a learnable activation's
    ``"alpha"`` stays where its spec puts it (PReLU's slope in [0, 1]: scaled, another
    activation)."""
    if scale is None:
        return params
    s = jnp.asarray(scale, dtype)
    by = lambda a: a * s.reshape(-1, *[1] * (a.ndim - 1))  # noqa: E731
    return [{k: by(a) if k in ("w", "b") else a for k, a in layer.items()} for layer in params]


def is_list(v) -> bool:
    """``v`` is a non-empty sequence or 1-D array, NumPy's or JAX's (a number, a string or a
    generator is not)."""
    if isinstance(v, np.ndarray | jax.Array):
        return v.ndim == 1 and v.size > 0
    return isinstance(v, Sequence) and not isinstance(v, str | bytes) and len(v) > 0


def items(v):
    """The items of a list ``v`` (``is_list``), a JAX array's as a NumPy array's: NumPy
    numbers, which the checks of numbers take (a JAX array's items are 0-d arrays)."""
    return np.asarray(v) if isinstance(v, jax.Array) else v


def members(seeds, hyper, optimizer, config):
    """``(seeds, values)``: P integer seeds and ``{name: (P,) float64}``, each member's
    settings checked by the rules of ``Optimizer`` (a member whose values it refuses is a
    ValueError naming the member), values that differ as given distinct in the members' dtype
    (``numeric.check_distinct``), and the optimizer able to take them per member
    (``epochs.split_numbers``)."""
    check_unmasked("seeds", seeds)
    if seeds is not None and not is_list(seeds):
        raise ValueError(
            f"seeds must be a non-empty sequence of integers in [0, 2**32 - 1], got {seeds!r}."
        )
    if hyper is not None and not isinstance(hyper, Mapping):  # dict() would take pairs
        raise ValueError(
            f"hyper must be a dict of setting name -> list of values, the names among "
            f"{list(SETTINGS)}, got {hyper!r}."
        )
    hyper = dict(hyper or {})
    unknown = sorted(set(hyper) - set(SETTINGS))
    if unknown:
        raise ValueError(f"Unknown hyper names: {unknown}. They need to be among {list(SETTINGS)}.")
    dtype, values = storage_dtype(config.dtype), {}
    for name, v in hyper.items():
        check_unmasked(f"hyper[{name!r}]", v)
        a = np.asarray(v, object)  # each value as it is: bools and strings are no numbers
        if a.ndim != 1 or a.size == 0 or not all(map(is_real, a)):
            raise ValueError(
                f"hyper[{name!r}] must be a non-empty list of finite numbers (not bools or "
                f"strings), got {v!r}."
            )
        check_distinct(f"hyper[{name!r}]", a, dtype)  # as given: 2**53 + 1 is no float64
        values[name] = a.astype(np.float64)
    sizes = {len(a) for a in values.values()} | ({len(seeds)} if seeds is not None else set())
    if len(sizes) != 1:
        raise ValueError(
            "seeds and every hyper list give one value per member and must have the same "
            f"length; got lengths {sorted(sizes) or 'none (give seeds or hyper)'}."
        )
    p = sizes.pop()
    seeds = [config.seed] * p if seeds is None else [check_seed(s) for s in items(seeds)]
    if "init_scale" in values:  # (the optimizer's numbers: population._numbers, as fit's)
        if (values["init_scale"] <= 0).any():
            raise ValueError(f"init_scale must be > 0, got {values['init_scale'].tolist()}.")
        stored({"init_scale": values["init_scale"]}, dtype)
    swept = [name for name in values if name != "init_scale"]
    _, numbers = split_numbers(optimizer, optimizer_numbers(values))  # a solver refuses them
    checked = set()  # each distinct combination of values is checked once
    for k in range(p):
        settings = dict(zip(swept, (float(values[name][k]) for name in swept), strict=True))
        if tuple(settings.values()) in checked:
            continue
        try:
            dataclasses.replace(optimizer, **settings)
        except ValueError as error:
            raise ValueError(f"member {k}: {error}") from None
        checked.add(tuple(settings.values()))
    _check_stored(numbers, {name: values[name] for name in swept}, p, dtype)
    return seeds, values


def _check_stored(numbers: dict, swept: dict, p: int, dtype) -> None:
    """Every member's optimizer ``numbers``, its ``swept`` ones ``(p,)`` among them, as the
    step stores them (``arrays.stored``): at once, then, where one is refused, member by member
    for the first it names."""
    try:
        stored(numbers | swept, dtype)
    except ValueError:
        for k in range(p):
            try:
                stored(numbers | {name: a[k] for name, a in swept.items()}, dtype)
            except ValueError as error:
                raise ValueError(f"member {k}: {error}") from None
        raise


def optimizer_numbers(values) -> tuple:
    """The names of ``values`` that are the optimizer's numbers, which travel to the compiled
    step (``init_scale`` is not one: it scales the initial parameters)."""
    return tuple(name for name in values if name != "init_scale")


def check_rows(rows, p, n, x_val):
    """``rows`` as two int32 arrays: each member's training and validation rows of ``x``'s
    ``n``, at least one of each."""
    if x_val is not None:
        raise ValueError("give either x_val and t_val or rows (each member's validation rows).")
    parts = zip(("train rows", "validation rows"), _pair(rows), strict=True)
    return tuple(jnp.asarray(member_rows(name, r, p, n), jnp.int32) for name, r in parts)


def member_rows(name: str, rows, p: int, n: int) -> np.ndarray:
    """``rows`` as an integer array ``(P, m)``: each member's ``m >= 1`` rows of ``x``'s ``n``
    (jax would read a row past the end as the last, -1 as the last too); ``name`` names it."""
    check_unmasked(name, rows)
    try:
        r = np.asarray(rows)
    except (TypeError, ValueError):  # NumPy's "inhomogeneous shape": members differ in m
        r = None
    if r is None or r.ndim != 2 or len(r) != p or not r.size or r.dtype.kind not in "iu":
        got = "a ragged list" if r is None else f"shape {r.shape} of {r.dtype}"
        raise ValueError(
            f"{name} must be integers of shape (P={p}, m >= 1), the same m for every "
            f"member, got {got}."
        )
    if r.min() < 0 or r.max() >= n:
        raise ValueError(f"{name} must index x's {n} rows, got values in [{r.min()}, {r.max()}].")
    return r


def _pair(rows) -> tuple:
    """``rows`` as its two parts, ``(train_rows, val_rows)``; a ValueError unless it has two."""
    if isinstance(rows, np.ndarray | jax.Array):
        if rows.ndim == 3 and len(rows) == 2:
            return tuple(rows)
        got = f"an array of shape {rows.shape}"
    elif isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
        if len(rows) == 2:
            return tuple(rows)
        got = f"{len(rows)} part{'' if len(rows) == 1 else 's'}"
    else:
        got = repr(rows)
    raise ValueError(
        f"rows must be a pair (train_rows, val_rows): each member's training rows (P, m) and "
        f"validation rows (P, v) of x, got {got}."
    )
