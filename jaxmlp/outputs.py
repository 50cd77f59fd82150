"""Output activations y = h_L(z_L), each with the vector-Jacobian product that backprop needs.

Protocol: ``fn(z) -> y`` on a batch ``z (n, K)``; ``vjp(z, y, g) -> g J`` maps ``g = dE/dy (n, K)``
to ``dE/dz (n, K)``. Elementwise outputs multiply by their activation record's hand derivative;
softmax couples its units, ``J = diag(s) - s s^T``, so its product is ``s * (g - <g, s>)``.
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


def _elementwise(name: str) -> Output:
    act = activations.get(name)
    return Output(name, act.fn, lambda z, y, g: g * act.grad(z))


def _softmax_vjp(z, y, g):
    del z
    return y * (g - jnp.sum(g * y, axis=-1, keepdims=True))  # s * (g - <g, s>)


_OUTPUTS = {
    **{name: _elementwise(name) for name in ("identity", "sigmoid", "tanh", "softplus", "relu")},
    "softmax": Output("softmax", lambda z: jax.nn.softmax(z, axis=-1), _softmax_vjp),
}
NAMES = tuple(_OUTPUTS)


def get(name: str) -> Output:
    """The output record called ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in _OUTPUTS:
        raise ValueError(f"Unknown output: {name!r}. It needs to be one of {list(NAMES)}.")
    return _OUTPUTS[name]
