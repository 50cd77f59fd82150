"""Weight initialisation schemes, and their string form for the command line.

A scheme is ``Scheme(name, args)``: ``parse("uniform:0,1")`` is ``Scheme("uniform", (0.0, 1.0))``.
``layer(scheme, key, fan_in, fan_out, dtype)`` draws one layer's ``{"w": (fan_in, fan_out),
"b": (fan_out,)}``. The variance-scaling schemes come from ``jax.nn.initializers`` and leave the
biases at zero; ``uniform:low,high`` and ``normal:std`` draw the biases from the same
distribution, as seed 003's XOR listing does. ``constant:c`` sets every weight and bias to c:
all hidden units of a layer start identical, the symmetry seed 003 says backprop cannot break.

``network(layers, key, dtype)`` draws a whole network in one compiled program, cached per
architecture and dtype: ``MLP.init`` and so every run (``fit``, the command line, populations)
draw through it, the same bits on every path. Compiled, ``normal:std`` rounds ``std *
normal`` differently from op-by-op execution, at most 1 ulp in a few entries: networks with
that scheme start 1 ulp apart from those of jaxmlp before the init was compiled (checkpoints,
and so resumed runs, are unaffected); every other scheme draws the same bits either way.

>>> parse("normal:0.01")
Scheme(name='normal', args=(0.01,))
>>> str(parse("uniform:1,1.0000001"))  # the user's numbers, kept exactly
'uniform:1,1.0000001'
"""

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations
from jaxmlp.numeric import check_holds, from_text, not_one_of

_VARIANCE_SCALING = {
    "glorot_uniform": jax.nn.initializers.glorot_uniform,
    "glorot_normal": jax.nn.initializers.glorot_normal,
    "he_uniform": jax.nn.initializers.he_uniform,
    "he_normal": jax.nn.initializers.he_normal,
    "lecun_normal": jax.nn.initializers.lecun_normal,
}
_ARITY = {"uniform": 2, "normal": 1, "constant": 1, **{name: 0 for name in _VARIANCE_SCALING}}
NAMES = tuple(_ARITY)
_SYMBOLS = {"uniform": ("low", "high"), "normal": ("std",), "constant": ("c",)} | {
    name: () for name in _VARIANCE_SCALING
}

# The default per hidden activation: He for the rectifier family, LeCun for SELU (self-normalising),
# Glorot for the saturating ones and the output layer.
_DEFAULTS = {
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "prelu": "he_normal",
    "elu": "he_normal",
    "elu_learnable": "he_normal",
    "selu": "lecun_normal",
}


class Scheme(NamedTuple):
    name: str
    args: tuple[float, ...] = ()

    def __str__(self):
        """The spec ``parse`` reads back to this scheme: every number in its shortest exact
        form (``repr``), so nothing is rounded."""
        return self.name + (":" + ",".join(map(_exact, self.args)) if self.args else "")


def _exact(a: float) -> str:
    text = repr(float(a))
    return text[:-2] if text.endswith(".0") else text


def parse(spec) -> Scheme:
    """``"he_normal"``, ``"uniform:low,high"``, ``"normal:std"`` (or a Scheme) -> Scheme."""
    if isinstance(spec, Scheme):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ValueError(f"An init scheme must be a string such as 'he_normal', got {spec!r}.")
    name, colon, rest = spec.partition(":")
    if name not in _ARITY:
        raise not_one_of("init scheme", name, NAMES)
    if colon and not _ARITY[name]:
        raise ValueError(f"Init {spec!r}: {name} takes no arguments; write {name!r}.")
    try:
        args = tuple(from_text(a) for a in rest.split(",")) if rest else ()
    except ValueError:
        raise ValueError(
            f"Init {spec!r}: arguments must be numbers, as in 'uniform:0,1'."
        ) from None
    if not all(math.isfinite(a) for a in args):
        raise ValueError(f"Init {spec!r}: arguments must be finite numbers.")
    if len(args) != _ARITY[name]:
        example = {
            "uniform": "'uniform:-1,1'",
            "normal": "'normal:0.01'",
            "constant": "'constant:0.5'",
        }
        example = example.get(name, repr(name))
        raise ValueError(f"Init {spec!r} takes {_ARITY[name]} argument(s), e.g. {example}.")
    if name == "uniform" and not args[0] < args[1]:
        raise ValueError(f"Init {spec!r}: uniform needs low < high.")
    if name == "normal" and not args[0] > 0:
        raise ValueError(f"Init {spec!r}: normal needs std > 0.")
    return Scheme(name, args)


def default_for(activation: str) -> Scheme:
    """The default scheme for a layer followed by ``activation``."""
    return Scheme(_DEFAULTS.get(activation, "glorot_uniform"))


def layer_schemes(init, hidden: tuple, output: str) -> list:
    """Each layer's init scheme as ``MLP.init`` draws it: ``init`` (a spec) for every layer when
    given, else the default for the activation that follows the layer (a hidden spec's family,
    then the output's)."""
    if init:
        return [parse(init)] * (len(hidden) + 1)
    follow = [(a.family or a.name) for a in map(activations.get, hidden)]
    return [default_for(a) for a in (*follow, output)]


class Layer(NamedTuple):
    """What draws one layer: its scheme and widths, and the starting slope ``alpha`` of a
    learnable activation (None: the layer has none)."""

    scheme: Scheme
    fan_in: int
    fan_out: int
    alpha: float | None = None


def network(layers: tuple[Layer, ...], key, dtype) -> list[dict]:
    """One parameter dict per ``Layer``, drawn from ``key`` split per layer, by one compiled
    program per ``(layers, dtype)``; ValueError if ``dtype`` cannot hold a scheme's numbers or an
    ``alpha`` (``layer``'s check, raised while the program is traced: a failing trace is never
    cached)."""
    dtype = jnp.dtype(dtype)
    # The compiled programs are cached on the numbers' exact text: -0.0 == 0.0 as a key
    exact = tuple((str(s), i, o, None if a is None else repr(float(a))) for s, i, o, a in layers)
    return _network(exact, dtype, key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _network(layers, dtype, key) -> list[dict]:
    params = []
    for key_l, (scheme, fan_in, fan_out, alpha) in zip(
        jax.random.split(key, len(layers)), layers, strict=True
    ):
        params.append(layer(parse(scheme), key_l, fan_in, fan_out, dtype))
        if alpha is not None:
            check_holds(f"A learnable alpha of layer {len(params)}", float(alpha), dtype)
            params[-1]["alpha"] = jnp.full((fan_out,), float(alpha), dtype)
    return params


def _check_range(scheme: Scheme, dtype) -> None:
    """A ValueError for a number of ``scheme`` that ``dtype`` cannot hold (the shared rule,
    ``numeric.outside``: normal:1e-50 drew all-zero weights in float32), the width high - low
    of uniform bounds included (a draw is low + (high - low) u: uniform:-3e38,3e38 drew Inf in
    float32) and a normal std times its largest draw (``largest_normal``: normal:3e38 drew
    Inf), for bounds that are one value there (uniform:1,1.00000001), and for a scheme that
    draws over ``FLUSHED_MAX`` of its numbers below the smallest normal number, 0 there."""
    for symbol, a in zip(_SYMBOLS[scheme.name], scheme.args, strict=True):
        check_holds(f"Init {str(scheme)!r}: {symbol}", a, dtype)
    if scheme.name == "uniform":
        check_holds(f"Init {str(scheme)!r}: high - low", scheme.args[1] - scheme.args[0], dtype)
    if scheme.name == "normal":
        z = largest_normal(dtype)
        what = f"std * {z:.4g}, the largest normal draw in {dtype.name},"
        check_holds(f"Init {str(scheme)!r}: {what}", scheme.args[0] * z, dtype)
    flushed = _share_below_normal(scheme, dtype)
    if flushed > FLUSHED_MAX:
        raise ValueError(
            f"Init {str(scheme)!r} would draw {flushed:.3g} of its numbers (more than "
            f"{FLUSHED_MAX:g}) below {np.finfo(dtype).tiny:.4g}, the smallest normal "
            f"{dtype.name}, where they are 0 (XLA:CPU flushes subnormals): a start of zeros, "
            f"not the scheme's; draw larger numbers, or in float64."
        )
    if scheme.name == "uniform" and not np.asarray(scheme.args[0], dtype) < np.asarray(
        scheme.args[1], dtype
    ):
        raise ValueError(
            f"Init {str(scheme)!r}: uniform needs low < high in {dtype.name}, the dtype drawn, "
            "where these bounds are one value."
        )


# The largest share of an init's draws that may fall below the dtype's smallest normal number
# (0 once flushed): normal:2e-38 draws 44 % of a float32 net's weights 0.
FLUSHED_MAX = 0.01


def _share_below_normal(scheme: Scheme, dtype) -> float:
    """The probability that a draw of ``scheme`` (normal or uniform) lies below ``dtype``'s
    smallest normal number in magnitude: erf(tiny / (std sqrt 2)), or the share of
    [low, high] inside (-tiny, tiny)."""
    tiny = float(np.finfo(dtype).tiny)
    if scheme.name == "normal":
        return math.erf(tiny / (scheme.args[0] * math.sqrt(2)))
    if scheme.name == "uniform":
        low, high = scheme.args
        return max(0.0, min(high, tiny) - max(low, -tiny)) / (high - low)
    return 0.0


@functools.cache
def largest_normal(dtype) -> float:
    """The largest magnitude ``jax.random.normal`` draws in ``dtype``: sqrt(2) erfinv(u) at the
    lowest u of its uniform, the float after -1 (5.42 in float32, 3.49 in float16)."""
    with jax.ensure_compile_time_eval():  # called while ``_network`` is traced
        u = jnp.nextafter(jnp.asarray(-1, dtype), jnp.asarray(0, dtype))
        return -float(jnp.asarray(math.sqrt(2), dtype) * jax.scipy.special.erfinv(u))


def layer(scheme: Scheme, key, fan_in: int, fan_out: int, dtype) -> dict:
    """One layer's ``{"w": (fan_in, fan_out), "b": (fan_out,)}`` drawn by ``scheme``; ValueError
    if ``dtype`` cannot hold the scheme's numbers (``_check_range``)."""
    _check_range(scheme, jnp.dtype(dtype))
    w_key, b_key = jax.random.split(key)
    if scheme.name == "uniform":
        low, high = scheme.args
        draw = lambda k, shape: jax.random.uniform(k, shape, dtype, low, high)  # noqa: E731
    elif scheme.name == "constant":
        (value,) = scheme.args
        draw = lambda k, shape: jnp.full(shape, value, dtype)  # noqa: E731
    elif scheme.name == "normal":
        (std,) = scheme.args
        draw = lambda k, shape: std * jax.random.normal(k, shape, dtype)  # noqa: E731
    else:
        w = _VARIANCE_SCALING[scheme.name]()(w_key, (fan_in, fan_out), dtype)
        return {"w": w, "b": jnp.zeros((fan_out,), dtype)}
    return {"w": draw(w_key, (fan_in, fan_out)), "b": draw(b_key, (fan_out,))}
