"""Activation functions h(z), one record each: forward rule and hand derivative side by side.

Protocol: ``fn(z) -> a``, ``grad(z) -> h'(z)`` and ``grad2(z) -> h''(z)``, all elementwise on the
pre-activation z. The derivatives consume z (not a), are written out by hand, and are never
obtained from jax. ``smooth`` says h has derivatives of every order everywhere; a record that is
not smooth has its kinks at z = 0 (finite differences must keep away from there). A record with
``learnable=True`` (prelu, elu_learnable, isru_learnable) takes its per-unit alpha as a second
argument, ``fn(z, alpha)``, ``grad(z, alpha)``, ``grad2(z, alpha)``, and gives ``grad_alpha =
dh/dalpha``, ``grad_z_alpha = d2h/dz dalpha`` and ``grad2_alpha = d2h/dalpha2``; ``alpha_init``
is its starting value and ``slope(layer)`` the extra argument a layer's parameters supply, so
generic loops never name the activation.

A spec names a record (``get``): a registered name; ``name:c`` for an activation that takes a
constant (``CONSTANTS``: ``"elu:1.67326"``, ``"isru:0.5"``, ``"leaky_relu:0.2"``, ``"step:1"``,
and for the learnable ones the initial alpha, ``"prelu:0.1"``); or per-unit groups of one layer,
``"tanh*3+relu*5"`` (3 tanh units, then 5 relu units: the counts add up to the layer's width).
A record's ``name`` is its canonical spec, the one checkpoints and the command line carry;
a constant equal to the default gives the plain name's record itself.

Kinks follow what ``jax.grad`` gives for the same forward definition: relu'(0) = 0,
leaky_relu'(0) = 0.01, elu'(0) = 1, elu''(0) = 1, softsign''(0) = -2 (jax's |z|' is 1 at 0); step
and sign have derivatives 0 everywhere (their true derivative is a Dirac delta at 0, which gradient
descent cannot use). step(0) = 0 as seed 002 defines it; ``"step:1"`` is seed 004's step(0) = 1.

>>> import jax.numpy as jnp
>>> tanh = get("tanh")
>>> float(tanh.grad(jnp.asarray(0.0)))
1.0
>>> get("elu:1.67326").name, get("elu:1.0").name, float(get("step:1").fn(jnp.asarray(0.0)))
('elu:1.67326', 'elu', 1.0)
"""

import re
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
LEAKY_SLOPE = 0.01
PRELU_INIT = 0.25


class Activation(NamedTuple):
    """One activation: ``name``, forward ``fn``, hand-derived derivatives ``grad`` (h') and
    ``grad2`` (h'', None if a user did not give it), ``smooth`` (no kinks), for a learnable
    alpha its derivatives in alpha and its initial value, ``family`` (the registered name whose
    rule a parametrised record uses, for the default init) and ``width`` (the units a per-unit
    group covers; None: any layer)."""

    name: str
    fn: Callable
    grad: Callable
    grad2: Callable | None = None
    smooth: bool = False
    learnable: bool = False
    grad_alpha: Callable | None = None
    grad_z_alpha: Callable | None = None
    grad2_alpha: Callable | None = None
    alpha_init: float | None = None
    family: str | None = None
    width: int | None = None

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


def _nan_kept(z, y):
    """``y`` in ``z``'s dtype, NaN where ``z`` is: a rule that compares z would map NaN to a
    number, hiding a NaN weight or an inf - inf pre-activation from every check downstream."""
    return jnp.where(jnp.isnan(z), z, y.astype(z.dtype))


def _zero(z, *slope):
    del slope
    return jnp.zeros_like(z)


def _one(z, *slope):
    del slope
    return jnp.ones_like(z)


def _isru(z, alpha=1.0):
    # z / sqrt(1 + alpha z^2); where alpha z^2 overflows (|z| > 1.8e19 in float32) z rsqrt(inf)
    # is 0, and h is +-1 / sqrt(alpha) to the last bit (1 / (alpha z^2) < 1e-38). Each branch
    # takes safe arguments where the other is chosen, so that jax.grad stays finite.
    over = jnp.isinf(alpha * z * z)
    inside = jnp.where(over, 0.0, z)
    limit = jnp.sign(z) * jax.lax.rsqrt(jnp.where(over, alpha, 1.0).astype(z.dtype))
    return jnp.where(over, limit, inside * jax.lax.rsqrt(1 + alpha * inside * inside))


def _isru_grad(z, alpha=1.0):
    return jax.lax.rsqrt(1 + alpha * z * z) ** 3  # (1 + alpha z^2)^-3/2


def _isru_grad2(z, alpha=1.0):
    # d/dz (1 + alpha z^2)^-3/2 = -3 alpha z r^5 with r = (1 + alpha z^2)^-1/2, written as
    # ((-3 alpha h) r^2) r^2 (h = z r, |alpha h| <= sqrt(alpha)): -3 alpha z overflows at large
    # |z| (|z| > 1.1e38 in float32, or 1e19 with alpha = 1e30), where inf * r^5 = inf * 0 was
    # NaN, and r^4 or r^5 alone underflows where the value does not (isru:1e30 at z = 1e-3).
    r2 = 1 / (1 + alpha * z * z)
    return -3 * alpha * _isru(z, alpha) * r2 * r2


# Learnable ISRU, with r = (1 + alpha z^2)^-1/2 and h = z r: dh/dalpha = -z^3 r^3 / 2 = -h^3 / 2,
# d2h/dz dalpha = d/dalpha r^3 = -3/2 z^2 r^5 = -3/2 h^2 r^3, d2h/dalpha2 = -3/2 h^2 dh/dalpha
# = 3/4 h^5 (powers of h: no overflow of z^5 at large |z|).
def _isru_grad_alpha(z, alpha=1.0):
    return -0.5 * _isru(z, alpha) ** 3


def _isru_grad_z_alpha(z, alpha=1.0):
    return -1.5 * _isru(z, alpha) ** 2 * jax.lax.rsqrt(1 + alpha * z * z) ** 3


def _isru_grad2_alpha(z, alpha=1.0):
    return 0.75 * _isru(z, alpha) ** 5


_BUILTIN = (
    Activation("identity", lambda z: z, _one, _zero, smooth=True),
    Activation("step", lambda z: _nan_kept(z, jnp.where(z > 0, 1.0, 0.0)), _zero, _zero),
    Activation("sign", lambda z: _nan_kept(z, jnp.where(z > 0, 1.0, -1.0)), _zero, _zero),
    Activation("sigmoid", _sigmoid, _sigmoid_grad, _sigmoid_grad2, smooth=True),
    Activation("tanh", jnp.tanh, _tanh_grad, _tanh_grad2, smooth=True),
    Activation(
        "arctan",
        jnp.arctan,
        lambda z: 1 / (1 + z * z),
        # d/dz (1 + z^2)^-1, with z / (1 + z^2) first: -2 z overflowed, -inf / inf = NaN
        lambda z: -2 * (z / (1 + z * z)) / (1 + z * z),
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
        _isru,
        _isru_grad,
        _isru_grad2,
        smooth=True,
    ),
    Activation(
        "relu",
        lambda z: jnp.where(z <= 0, 0.0, z).astype(z.dtype),  # a NaN stays NaN
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
        alpha_init=PRELU_INIT,
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
    Activation(
        "elu_learnable",
        _elu,
        _elu_grad,
        _elu_grad2,
        learnable=True,
        # h = alpha (e^z - 1) for z <= 0: dh/dalpha = e^z - 1, d2h/dz dalpha = e^z, d2h/dalpha2 = 0
        grad_alpha=lambda z, alpha=None: jnp.where(z > 0, 0.0, jnp.expm1(_negative_part(z))),
        grad_z_alpha=lambda z, alpha=None: jnp.where(z > 0, 0.0, jnp.exp(_negative_part(z))),
        grad2_alpha=_zero,
        alpha_init=1.0,
    ),
    # ISRU needs 1 + alpha z^2 > 0: an alpha that training drives below -1/z^2 gives NaN, which
    # the finiteness checks report as a diverged run (a lower learning rate keeps alpha > 0).
    Activation(
        "isru_learnable",
        _isru,
        _isru_grad,
        _isru_grad2,
        smooth=True,
        learnable=True,
        grad_alpha=_isru_grad_alpha,
        grad_z_alpha=_isru_grad_z_alpha,
        grad2_alpha=_isru_grad2_alpha,
        alpha_init=1.0,
    ),
)

_REGISTRY: dict[str, Activation] = {act.name: act for act in _BUILTIN}
_SPECS: dict[str, Activation] = {}  # specs read so far (cleared when the registry changes)
_DEFINED: dict[str, Activation] = {}  # each user name's last registration, kept by unregister


def names() -> tuple[str, ...]:
    """Names of every registered activation, built-in and user-registered."""
    return tuple(_REGISTRY)


def get(name: str) -> Activation:
    """The activation record of the spec ``name`` (the module docstring: a registered name,
    ``name:c``, or per-unit groups ``name*count+...``, read by ``activation_specs.parse``);
    ValueError naming the problem and the allowed values otherwise. Equal specs give the same
    record object (a jit cache key stays the same)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise ValueError(
            f"An activation must be a name or spec such as 'tanh' or 'elu:1.67326', got {name!r}."
        )
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _SPECS:
        from jaxmlp.activation_specs import parse  # built on this module's records

        record = parse(name)
        _SPECS[name] = _SPECS.setdefault(record.name, record)  # "isru:.5" is "isru:0.5"
    return _SPECS[name]


def specs() -> tuple[str, ...]:
    """Every registered name, then one spec per activation constant and one per-unit group
    (``activation_specs.examples``): the activations the gradient and curvature matrices check."""
    from jaxmlp.activation_specs import examples

    return names() + examples()


def register(
    name: str, fn: Callable, grad: Callable, grad2: Callable | None = None, *, smooth=False
) -> Activation:
    """Add a user activation: ``fn(z)``, its hand-derived derivative ``grad(z)`` and, for the
    curvature (``net.hvp`` and friends), its second derivative ``grad2(z)``, all elementwise.
    ``smooth=True`` declares no kinks (finite differences then need no distance from z = 0).

    Everything downstream (``MLP``, backprop, ``gradcheck``) then accepts ``name``.
    Registering a name again (also after ``unregister``) with other rules replaces them, and
    every compiled program is dropped (``jax.clear_caches``): programs are cached on the
    ``MLP``, which holds only the name, so one compiled for the old rules would otherwise run
    silently. Registering the same rules again drops nothing.

    >>> import jax.numpy as jnp
    >>> _ = register("cube", lambda z: z**3, lambda z: 3 * z**2)
    >>> float(get("cube").grad(jnp.asarray(2.0)))
    12.0
    """
    if not isinstance(name, str) or not name or re.search(r"[:*+,\s]", name):
        raise ValueError(
            f"An activation name must be a non-empty string without ':', '*', '+', ',' or "
            f"spaces (they write specs), got {name!r}."
        )
    if not (callable(fn) and callable(grad)) or not (grad2 is None or callable(grad2)):
        raise TypeError(
            f"fn, grad (and grad2 if given) must be callables, got {type(fn).__name__}, "
            f"{type(grad).__name__}, {type(grad2).__name__}."
        )
    if name in _REGISTRY and _REGISTRY[name] in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in activation and cannot be replaced.")
    _check_elementwise({"fn": fn, "grad": grad, "grad2": grad2})
    act = Activation(name, fn, grad, grad2, smooth=bool(smooth))
    if _DEFINED.get(name, act) != act:
        # Programs are compiled with the MLP, which holds the name, as their cache key: a new
        # rule under an old name would run the old rule's programs. Forget them all.
        jax.clear_caches()
    _DEFINED[name] = act
    _REGISTRY[name] = act
    _SPECS.clear()  # specs that name it are read afresh
    return act


def _check_elementwise(rules: dict) -> None:
    """Each rule, called on a sample z ``(2, 3)`` float32, must return an array of z's shape and
    a floating dtype: a Python float or an ``(n,)`` result passes backprop (it broadcasts) and
    fails later, deep inside the input Jacobian or the curvature passes."""
    z = jnp.linspace(-1.5, 1.5, 6, dtype=jnp.float32).reshape(2, 3)
    for rule, f in rules.items():
        out = None if f is None else f(z)
        if f is not None and not (
            isinstance(out, jax.Array | np.ndarray)
            and out.shape == z.shape
            and jnp.issubdtype(out.dtype, jnp.floating)
        ):
            got = (
                f"{type(out).__name__} of shape {np.shape(out)}, dtype {getattr(out, 'dtype', '-')}"
            )
            raise ValueError(
                f"{rule}(z) must return an array shaped like z with a floating dtype (elementwise: "
                f"z (2, 3) float32 gives (2, 3) float32), got {got}; use jnp.ones_like(z) * c "
                "for a constant."
            )


def unregister(name: str) -> None:
    """Remove a user-registered activation (built-ins stay)."""
    if name in _REGISTRY and _REGISTRY[name] not in _BUILTIN:
        del _REGISTRY[name]
        _SPECS.clear()
