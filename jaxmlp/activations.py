"""Activation functions h(z), one record each: forward rule and hand derivative side by side.

Protocol: ``fn(z) -> a``, ``grad(z) -> h'(z)`` and ``grad2(z) -> h''(z)``, all elementwise on the
pre-activation z. The derivatives consume z (not a), are written out by hand, and are never
obtained from jax. ``smooth`` says h has derivatives of every order everywhere; a record that is
not smooth has its kinks at z = 0 (finite differences must keep away from there). A record with
``learnable=True`` (PReLU) takes its per-unit slope as a second argument, ``fn(z, alpha)``,
``grad(z, alpha)``, ``grad2(z, alpha)``, and gives ``grad_alpha = dh/dalpha``,
``grad_z_alpha = d2h/dz dalpha`` and ``grad2_alpha = d2h/dalpha2``; ``slope(layer)`` is the
extra argument a layer's parameters supply, so generic loops never name the activation.

Kinks follow what ``jax.grad`` gives for the same forward definition: relu'(0) = 0,
leaky_relu'(0) = 0.01, elu'(0) = 1, elu''(0) = 1, softsign''(0) = -2 (jax's |z|' is 1 at 0); step
and sign have derivatives 0 everywhere (their true derivative is a Dirac delta at 0, which gradient
descent cannot use).

>>> import jax.numpy as jnp
>>> tanh = get("tanh")
>>> float(tanh.grad(jnp.asarray(0.0)))
1.0
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
LEAKY_SLOPE = 0.01
PRELU_INIT = 0.25


class Activation(NamedTuple):
    """One activation: ``name``, forward ``fn``, hand-derived derivatives ``grad`` (h') and
    ``grad2`` (h'', None if a user did not give it), ``smooth`` (no kinks), and for a learnable
    slope its derivatives in alpha."""

    name: str
    fn: Callable
    grad: Callable
    grad2: Callable | None = None
    smooth: bool = False
    learnable: bool = False
    grad_alpha: Callable | None = None
    grad_z_alpha: Callable | None = None
    grad2_alpha: Callable | None = None

    def slope(self, layer: dict) -> tuple:
        """The extra arguments of ``fn`` and its derivatives that ``layer``'s parameters hold:
        ``(layer["alpha"],)`` for a learnable slope, ``()`` otherwise."""
        return (layer["alpha"],) if self.learnable else ()


def _sigmoid(z):
    return jax.nn.sigmoid(z)  # lax.logistic: no overflow for large |z|


def _sigmoid_grad(z):
    s = jax.nn.sigmoid(z)
    return s * (1 - s)  # sigma' = sigma (1 - sigma)


def _sigmoid_grad2(z):
    s = jax.nn.sigmoid(z)
    return s * (1 - s) * (1 - 2 * s)  # sigma'' = sigma' (1 - 2 sigma)


def _tanh_grad(z):
    a = jnp.tanh(z)
    return 1 - a * a  # tanh' = 1 - tanh^2


def _tanh_grad2(z):
    a = jnp.tanh(z)
    return -2 * a * (1 - a * a)  # tanh'' = -2 tanh tanh'


def _negative_part(z):
    # where, not minimum: jax.grad(minimum) splits 0.5/0.5 at the tie z = 0, making elu'(0) = 0.5.
    return jnp.where(z > 0, 0.0, z).astype(z.dtype)


def _elu(z, alpha=1.0):
    return jnp.where(z > 0, z, alpha * jnp.expm1(_negative_part(z)))  # no overflow for z >> 0


def _elu_grad(z, alpha=1.0):
    return jnp.where(z > 0, 1.0, alpha * jnp.exp(_negative_part(z))).astype(z.dtype)


def _elu_grad2(z, alpha=1.0):
    return jnp.where(z > 0, 0.0, alpha * jnp.exp(_negative_part(z))).astype(z.dtype)


def _zero(z, *slope):
    del slope
    return jnp.zeros_like(z)


def _one(z, *slope):
    del slope
    return jnp.ones_like(z)


_BUILTIN = (
    Activation("identity", lambda z: z, _one, _zero, smooth=True),
    Activation("step", lambda z: jnp.where(z > 0, 1.0, 0.0).astype(z.dtype), _zero, _zero),
    Activation("sign", lambda z: jnp.where(z > 0, 1.0, -1.0).astype(z.dtype), _zero, _zero),
    Activation("sigmoid", _sigmoid, _sigmoid_grad, _sigmoid_grad2, smooth=True),
    Activation("tanh", jnp.tanh, _tanh_grad, _tanh_grad2, smooth=True),
    Activation(
        "arctan",
        jnp.arctan,
        lambda z: 1 / (1 + z * z),
        lambda z: -2 * z / (1 + z * z) ** 2,  # d/dz (1 + z^2)^-1
        smooth=True,
    ),
    Activation(
        "softsign",
        lambda z: z / (1 + jnp.abs(z)),
        lambda z: 1 / (1 + jnp.abs(z)) ** 2,
        # d/dz (1 + |z|)^-2 = -2 sign(z) (1 + |z|)^-3, with jax's |z|' = 1 at z = 0
        lambda z: jnp.where(z >= 0, -2.0, 2.0).astype(z.dtype) / (1 + jnp.abs(z)) ** 3,
    ),
    Activation(
        "isru",
        lambda z: z * jax.lax.rsqrt(1 + z * z),
        lambda z: jax.lax.rsqrt(1 + z * z) ** 3,
        lambda z: -3 * z * jax.lax.rsqrt(1 + z * z) ** 5,  # d/dz (1 + z^2)^-3/2
        smooth=True,
    ),
    Activation(
        "relu",
        lambda z: jnp.where(z > 0, z, 0.0).astype(z.dtype),
        lambda z: jnp.where(z > 0, 1.0, 0.0).astype(z.dtype),
        _zero,
    ),
    Activation(
        "leaky_relu",
        lambda z: jnp.where(z > 0, z, LEAKY_SLOPE * z),
        lambda z: jnp.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
        _zero,
    ),
    Activation(
        "prelu",
        lambda z, alpha=PRELU_INIT: jnp.where(z > 0, z, alpha * z),
        lambda z, alpha=PRELU_INIT: jnp.where(z > 0, jnp.ones_like(z), alpha * jnp.ones_like(z)),
        _zero,
        learnable=True,
        # h = alpha z for z <= 0: dh/dalpha = z, d2h/dz dalpha = 1, d2h/dalpha2 = 0
        grad_alpha=lambda z, alpha=None: jnp.where(z > 0, 0.0, z).astype(z.dtype),
        grad_z_alpha=lambda z, alpha=None: jnp.where(z > 0, 0.0, 1.0).astype(z.dtype),
        grad2_alpha=_zero,
    ),
    # ELU with alpha = 1 (seed 002 prints alpha = 1.67326, which is SELU's constant).
    Activation("elu", _elu, _elu_grad, _elu_grad2),
    Activation(
        "selu",
        lambda z: SELU_LAMBDA * _elu(z, SELU_ALPHA),
        lambda z: SELU_LAMBDA * _elu_grad(z, SELU_ALPHA),
        lambda z: SELU_LAMBDA * _elu_grad2(z, SELU_ALPHA),
    ),
    # softplus(z) = ln(1 + e^z) = logaddexp(z, 0), exact for large |z|; its derivative is sigma.
    Activation("softplus", lambda z: jnp.logaddexp(z, 0.0), _sigmoid, _sigmoid_grad, smooth=True),
)

_REGISTRY: dict[str, Activation] = {act.name: act for act in _BUILTIN}


def names() -> tuple[str, ...]:
    """Names of every registered activation, built-in and user-registered."""
    return tuple(_REGISTRY)


def get(name: str) -> Activation:
    """The activation record called ``name``; ValueError listing the known names otherwise."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"Unknown activation: {name!r}. It needs to be one of {list(_REGISTRY)}.")
    return _REGISTRY[name]


def register(
    name: str, fn: Callable, grad: Callable, grad2: Callable | None = None, *, smooth=False
) -> Activation:
    """Add a user activation: ``fn(z)``, its hand-derived derivative ``grad(z)`` and, for the
    curvature (``net.hvp`` and friends), its second derivative ``grad2(z)``, all elementwise.
    ``smooth=True`` declares no kinks (finite differences then need no distance from z = 0).

    Everything downstream (``MLP``, backprop, ``gradcheck``) then accepts ``name``.

    >>> import jax.numpy as jnp
    >>> _ = register("cube", lambda z: z**3, lambda z: 3 * z**2)
    >>> float(get("cube").grad(jnp.asarray(2.0)))
    12.0
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"An activation name must be a non-empty string, got {name!r}.")
    if not (callable(fn) and callable(grad)) or not (grad2 is None or callable(grad2)):
        raise TypeError(
            f"fn, grad (and grad2 if given) must be callables, got {type(fn).__name__}, "
            f"{type(grad).__name__}, {type(grad2).__name__}."
        )
    if name in _REGISTRY and _REGISTRY[name] in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in activation and cannot be replaced.")
    act = Activation(name, fn, grad, grad2, smooth=bool(smooth))
    _REGISTRY[name] = act
    return act


def unregister(name: str) -> None:
    """Remove a user-registered activation (built-ins stay)."""
    if name in _REGISTRY and _REGISTRY[name] not in _BUILTIN:
        del _REGISTRY[name]
