"""Output activations y = h_L(z_L), each with the products that backprop and curvature need.

Protocol: ``fn(z) -> y`` on a batch ``z (n, K)``; ``vjp(z, y, g) -> g J`` maps ``g = dE/dy (n, K)``
to ``dE/dz (n, K)``. Every output here has a symmetric Jacobian ``J = dy/dz``, so ``vjp(z, y, u)``
is also the forward product ``J u``. ``curvature(z, y, g, u) -> sum_k g_k (d2 y_k / dz2) u``, the
second-order term of the chain rule d2E/dz2 = J^T (d2E/dy2) J + sum_k g_k d2y_k/dz2. ``smooth``:
no kinks (a record that is not smooth has them at z = 0).

Elementwise outputs multiply by their activation record's hand derivatives: ``J = diag(h')``,
``sum_k g_k d2y_k/dz2 = diag(g h'')``. Softmax couples its units, ``J = diag(s) - s s^T``, so
``J u = s * (u - <u, s>)``; differentiating ``<g, s(z)>`` twice along u gives
``(J u) * (g - <g, s>) - s <g, J u>``.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmlp import activations


class Output(NamedTuple):
    name: str
    fn: Callable
    vjp: Callable
    curvature: Callable
    smooth: bool


def _elementwise(name: str) -> Output:
    act = activations.get(name)
    return Output(
        name,
        act.fn,
        lambda z, y, g: g * act.grad(z),
        lambda z, y, g, u: g * act.grad2(z) * u,
        act.smooth,
    )


def _softmax_vjp(z, y, g):
    del z
    return y * (g - jnp.sum(g * y, axis=-1, keepdims=True))  # s * (g - <g, s>)


def _softmax_curvature(z, y, g, u):
    ju = _softmax_vjp(z, y, u)  # J u
    return ju * (g - jnp.sum(g * y, -1, keepdims=True)) - y * jnp.sum(g * ju, -1, keepdims=True)


_OUTPUTS = {
    **{name: _elementwise(name) for name in ("identity", "sigmoid", "tanh", "softplus", "relu")},
    "softmax": Output(
        "softmax", lambda z: jax.nn.softmax(z, axis=-1), _softmax_vjp, _softmax_curvature, True
    ),
}
NAMES = tuple(_OUTPUTS)


def get(name: str) -> Output:
    """The output record called ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in _OUTPUTS:
        raise ValueError(f"Unknown output: {name!r}. It needs to be one of {list(NAMES)}.")
    return _OUTPUTS[name]
