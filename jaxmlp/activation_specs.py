"""Activation specs: the constants of ``name:c`` and the per-unit groups of one layer.

``activations.get`` reads every spec that is not a registered name here:

    "elu:1.67326"      ELU with alpha = 1.67326 (seed 002); "isru:0.5": z / sqrt(1 + 0.5 z^2)
    "leaky_relu:0.2"   slope 0.2 for z <= 0
    "step:1"           step(0) = 1, as seed 004 has it ("step" is seed 002's step(0) = 0)
    "prelu:0.1"        a learnable alpha starting at 0.1 (likewise elu_learnable, isru_learnable)
    "tanh*3+relu*5"    3 tanh units then 5 relu units in one layer (seed 002: "each neuron's output
                       can be subject to different activation functions"); the counts add up to the
                       layer's width, which ``MLP`` checks

A constant equal to the plain name's (``"elu:1"``) gives that name's record itself, and a record's
``name`` is the canonical spec (numbers in their shortest exact form), so a checkpoint, the
command line and ``MLP`` carry one string per function. A constant is 0 or within float32's
range (``numeric.outside``): in float32, elu:1e39 is Inf and leaky_relu:1e-50 is relu. A spec
names a function without a dtype, and float32 is the default dtype of nets and runs, so the rule
holds in bfloat16 and float64 too (a float64 net could take more: the simple, safe rule); float16
params, narrower, have the constants checked in their dtype (``check_dtype``, by ``MLP``).
Per-unit groups take fixed activations: a learnable alpha needs a layer of its own. A plain layer
never reaches this module, so it computes exactly what it did before specs existed.

>>> from jaxmlp import activations
>>> activations.get("isru:0.50").name, activations.get("tanh*03+relu*5").width
('isru:0.5', 8)
"""

import functools
import math
import re
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxmlp import activations
from jaxmlp.activations import Activation
from jaxmlp.initializers import _exact
from jaxmlp.numeric import check_holds, from_text, not_one_of


def _fixed(family: str, fn, grad, grad2, smooth=False) -> Activation:
    return Activation(family, fn, grad, grad2, smooth=smooth, family=family)


def _with_alpha(family: str, fn, grad, grad2, smooth=False) -> Callable[[float], Activation]:
    """``alpha -> record`` of a family whose h, h' and h'' take ``alpha`` as a keyword."""
    return lambda alpha: _fixed(
        family, *(functools.partial(f, alpha=alpha) for f in (fn, grad, grad2)), smooth=smooth
    )


_elu_with = _with_alpha("elu", activations._elu, activations._elu_grad, activations._elu_grad2)
_isru_with = _with_alpha(
    "isru", activations._isru, activations._isru_grad, activations._isru_grad2, smooth=True
)


def _leaky_relu_with(slope: float) -> Activation:
    return _fixed(
        "leaky_relu",
        lambda z: jnp.where(z > 0, z, slope * z),
        lambda z: jnp.where(z > 0, 1.0, slope).astype(z.dtype),
        activations._zero,
    )


def _step_with(at_zero: float) -> Activation:
    return _fixed(
        "step",
        lambda z: jnp.where(z > 0, 1.0, jnp.where(z < 0, 0.0, at_zero)).astype(z.dtype),
        activations._zero,
        activations._zero,
    )


def _learnable_from(name: str) -> Callable[[float], Activation]:
    return lambda alpha: activations._REGISTRY[name]._replace(alpha_init=alpha, family=name)


class Constant(NamedTuple):
    """The constant c of a spec ``name:c``: what the seeds call it, its ``default`` (the plain
    name's value), ``make(c) -> record``, the allowed range ``low..high`` (``low`` excluded when
    ``open_low``) and the ``example`` the gradient and curvature matrices check (None: the
    record's derivatives do not depend on c, as an initial alpha's do not)."""

    symbol: str
    default: float
    make: Callable[[float], Activation]
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    example: float | None = None

    def allowed(self) -> str:
        if self.low == -math.inf:
            return "a finite number"
        if self.high < math.inf:
            return f"a number in [{self.low:g}, {self.high:g}]"
        return f"a finite number {'>' if self.open_low else '>='} {self.low:g}"


CONSTANTS: dict[str, Constant] = {
    "elu": Constant("alpha", 1.0, _elu_with, low=0.0, example=1.67326),  # seed 002's alpha
    "isru": Constant("alpha", 1.0, _isru_with, low=0.0, open_low=True, example=0.5),
    "leaky_relu": Constant(
        "slope", activations.LEAKY_SLOPE, _leaky_relu_with, low=0.0, high=1.0, example=0.2
    ),
    "step": Constant("value at 0", 0.0, _step_with, low=0.0, high=1.0, example=1.0),  # seed 004
    "prelu": Constant("initial alpha", activations.PRELU_INIT, _learnable_from("prelu")),
    "elu_learnable": Constant("initial alpha", 1.0, _learnable_from("elu_learnable"), low=0.0),
    "isru_learnable": Constant(
        "initial alpha", 1.0, _learnable_from("isru_learnable"), low=0.0, open_low=True
    ),
}
# Per-unit groups of one layer: 'name*count+name*count'. A '+' splits groups only before a name,
# so a constant such as 1e+20 stays one number. The example covers the matrices' width 4.
_GROUP_SPLIT = re.compile(r"\+(?=[^\W\d])")
GROUP_EXAMPLE = "tanh*2+elu:1.67326*1+relu*1"


def parse(spec: str) -> Activation:
    """The record of a spec that is not a registered name: ``name:c`` or per-unit groups."""
    if "*" in spec:
        return _groups(spec)
    name, _, text = spec.partition(":")
    if name not in activations._REGISTRY:
        more = f", or a spec: 'name:c' for {list(CONSTANTS)}, or per-unit groups as in "
        raise not_one_of("activation", name, activations._REGISTRY, more + "'tanh*3+relu*5'")
    constant = CONSTANTS.get(name)
    if constant is None:
        raise ValueError(
            f"Activation {spec!r}: {name!r} takes no constant; the ones that do are "
            f"{list(CONSTANTS)}, as in 'elu:1.67326'."
        )
    try:
        c = from_text(text) + 0.0  # + 0.0: -0.0 is 0.0
    except ValueError:
        raise ValueError(
            f"Activation {spec!r}: {name}'s {constant.symbol} must be "
            f"{constant.allowed()}, got {text!r}."
        ) from None
    low, high = constant.low, constant.high
    if not math.isfinite(c) or c < low or c > high or (constant.open_low and c == low):
        # (NaN fails every comparison: it is caught by isfinite)
        raise ValueError(
            f"Activation {spec!r}: {name}'s {constant.symbol} must be {constant.allowed()}, "
            f"got {text!r}."
        )
    check_holds(f"Activation {spec!r}: {name}'s {constant.symbol}", c, np.float32)
    if c == constant.default:
        return activations._REGISTRY[name]
    return constant.make(c)._replace(name=f"{name}:{_exact(c)}")


@functools.lru_cache(maxsize=256)
def check_dtype(specs: tuple, dtype) -> None:
    """A ValueError where ``dtype`` (the params', whose range may be narrower than float32's, by
    which ``parse`` checks: float16's) cannot hold a constant of one of the hidden activation
    ``specs`` (``numeric.outside``): in float16 elu:1e-8 computed as relu, isru:1e6 as 0 (NaN
    at 0). A learnable alpha's initial value is no constant of the function: params hold alpha."""
    for spec in filter(lambda s: isinstance(s, str), specs):  # (a record passed: its own)
        for part in _GROUP_SPLIT.split(spec):
            name, colon, text = part.rpartition("*")[0 if "*" in part else 2].partition(":")
            if colon and not activations._REGISTRY[name].learnable:
                what = f"Activation {spec!r} in {jnp.dtype(dtype).name}: {name}'s"
                check_holds(f"{what} {CONSTANTS[name].symbol}", from_text(text), dtype)


def _groups(spec: str) -> Activation:
    """Per-unit groups: member k acts on its units, the slice ``[start_k, start_k + count_k)``
    of the last axis, and fn, h' and h'' are the members' concatenated (h'' None if any lacks
    it)."""
    members, bounds, start = [], [], 0
    for part in _GROUP_SPLIT.split(spec):
        member, star, count = part.rpartition("*")
        whole = count.isascii() and count.isdigit()
        if not star or not member or "*" in member or not whole or int(count) < 1:
            raise ValueError(
                f"Activation {spec!r}: per-unit groups read 'name*count+name*count', such as "
                f"'tanh*3+relu*5' (counts positive whole numbers), got {part!r}."
            )
        act = activations.get(member)
        if act.learnable:
            raise ValueError(
                f"Activation {spec!r}: {act.name!r} has a learnable alpha; per-unit groups take "
                "fixed activations only (give it a layer of its own)."
            )
        members.append(act)
        bounds.append((start, start + int(count)))
        start += int(count)

    def by_unit(method: str) -> Callable | None:
        rules = [getattr(act, method) for act in members]
        if any(rule is None for rule in rules):
            return None
        return lambda z: jnp.concatenate(
            [rule(z[..., lo:hi]) for rule, (lo, hi) in zip(rules, bounds)], axis=-1
        )

    name = "+".join(f"{act.name}*{hi - lo}" for act, (lo, hi) in zip(members, bounds))
    return Activation(
        name,
        by_unit("fn"),
        by_unit("grad"),
        by_unit("grad2"),
        smooth=all(act.smooth for act in members),
        family=name,
        width=start,
    )


def examples() -> tuple[str, ...]:
    """One spec per constant with an ``example``, and ``GROUP_EXAMPLE``."""
    specs = [f"{name}:{c.example}" for name, c in CONSTANTS.items() if c.example is not None]
    return tuple(activations.get(spec).name for spec in (*specs, GROUP_EXAMPLE))
