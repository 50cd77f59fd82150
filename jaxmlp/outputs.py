"""Output activations y = h_L(z_L), each with the products that backprop and curvature need.

Protocol: ``fn(z) -> y`` on a batch ``z (n, K)``; ``vjp(z, y, g) -> g J`` maps ``g = dE/dy (n, K)``
to ``dE/dz (n, K)``. Every output here has a symmetric Jacobian ``J = dy/dz``, so ``vjp(z, y, u)``
is also the forward product ``J u``. ``curvature(z, y, g, u) -> sum_k g_k (d2 y_k / dz2) u``, the
second-order term of the chain rule d2E/dz2 = J^T (d2E/dy2) J + sum_k g_k d2y_k/dz2. ``smooth``:
no kinks (a record that is not smooth has them at z = 0).

Elementwise outputs multiply by their activation record's hand derivatives: ``J = diag(h')``,
``sum_k g_k d2y_k/dz2 = diag(g h'')``. ``exp`` (y = e^z, the Poisson model's mean) is its own
record: J = diag(y), sum_k g_k d2y_k/dz2 = diag(g y). Softmax with temperature beta (seed 003,
``"softmax:beta"``; plain ``"softmax"`` is beta = 1) couples its units: y = softmax(beta z),
``J = beta (diag(y) - y y^T)``, so ``J u = beta y * (u - <u, y>)``; differentiating ``<g, y(z)>``
twice along u gives ``(J u) * beta (g - <g, y>) - beta y <g, J u>``.

What a record decides: ``base`` names the record whose (output, loss) pairs it shares (a tempered
softmax the softmax's, with its beta; ``threshold`` the sigmoid's), ``decides`` how ``predict``
reads y (``"argmax"``, ``"threshold"`` per unit at y > 0.5, None: y itself) and ``labels`` the
(negative, positive) label values of a thresholded output: 0/1 for sigmoid, -1/+1 for seed 003's
threshold unit, whose forward is the sigmoid and whose targets -1/+1 enter the loss as 0/1
(``loss_targets``; ``losses.pair`` applies it, so every pass sees the same loss). The outputs
of a deciding record are probabilities (``probabilities``), and only theirs.

A row with a non-finite output decides no label (``decide``, ``check_decided``): argmax of a NaN
row is 0 and NaN > 0.5 is false, so it would silently read as class 0 or the negative label; nor
is it a regression's prediction (an inf there is an output that overflowed the run's dtype). A
deciding output is a probability in [0, 1]; its forward gives NaN, never inf, when it breaks
(finite inputs that overflow a hidden layer, non-finite parameters), so an inf there (only in
outputs made elsewhere) is no probability either, and the rule is "any output not finite".

>>> get("softmax:2.0").name, get("softmax:2.0").beta, get("threshold").labels
('softmax:2', 2.0, (-1, 1))
"""

import functools
import math
import sys
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations
from jaxmlp.initializers import _exact  # the shortest exact form of a number, as specs write it
from jaxmlp.numeric import from_text, not_one_of


class Output(NamedTuple):
    name: str
    fn: Callable
    vjp: Callable
    curvature: Callable
    smooth: bool
    base: str = ""  # the record whose loss pairs this one shares (itself when empty)
    beta: float = 1.0  # the softmax temperature
    decides: str | None = None  # "argmax", "threshold" (per unit, y > 0.5) or None (y itself)
    labels: tuple = (0, 1)  # a thresholded output's (negative, positive) labels and targets
    no_label: int = -1  # the label of a row that decides none (scikit-learn's -1), not in labels

    @property
    def probabilities(self) -> bool:
        """Whether the outputs y are probabilities, in [0, 1] (a softmax's rows sum to 1): those
        of an output that decides (sigmoid, threshold, softmax, softmax:beta); identity, tanh,
        softplus, relu and exp give values that are not (``predict_proba`` refuses them)."""
        return self.decides is not None

    def loss_targets(self, t):
        """Targets as the loss takes them: a thresholded output's labels mapped to 0/1."""
        negative, positive = self.labels
        return t if (negative, positive) == (0, 1) else (t - negative) / (positive - negative)

    def decide(self, y):
        """Labels from outputs ``y (n, K)``: argmax ``(n,)`` for softmax, ``y > 0.5`` per unit
        for a thresholded output (``labels``; ``(n,)`` for one unit), ``y`` itself otherwise.
        A row with any non-finite output is refused (``check_decided``) when ``y`` is concrete,
        a regression's too; traced (under ``jit``), where nothing can raise, it gets
        ``no_label``: -1, or 0 for the threshold unit's -1/+1, in every unit of a multilabel row
        (one broken unit means the forward pass broke for that example: none of its units is
        trusted), and a regression's y stays as it is."""
        if not isinstance(y, jax.core.Tracer):
            check_decided(y)
        if self.decides is None:
            return y
        if self.decides == "argmax":
            return jnp.where(undecided(y), self.no_label, jnp.argmax(y, axis=-1))
        negative, positive = self.labels
        labels = jnp.where(y > 0.5, positive, negative)
        labels = jnp.where(undecided(y)[:, None], self.no_label, labels).astype(jnp.int32)
        return labels[:, 0] if y.shape[-1] == 1 else labels


def undecided(y, xp=jnp):
    """``(n,)`` True where a row of outputs ``y (n, K)`` is not all finite: it decides no
    label. ``xp``: ``jnp`` (jit-able) or ``np`` (a host array in its own dtype)."""
    return ~xp.isfinite(y).all(axis=-1)


def check_decided(y) -> None:
    """A ValueError naming the rows of concrete outputs ``y (n, K)`` that decide no label and
    are no prediction (an output NaN or inf: a regression's too, whose inf is an output past
    the largest number of its dtype), their count and the likely cause."""
    y = np.asarray(y)
    rows = np.flatnonzero(undecided(y, np))
    if len(rows):
        first = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        dtype = y.dtype if np.issubdtype(y.dtype, np.floating) else np.dtype(np.float32)
        raise ValueError(
            f"{len(rows)} of {len(y)} rows have outputs that are not finite (NaN or inf), rows "
            f"[{first}]: they are no prediction (no value, label or probability). The likely "
            "cause: inputs far outside the range the network was trained on (finite, but they "
            f"overflow it: an output past {dtype.name}'s largest, {np.finfo(dtype).max:.3g}, is "
            "inf), or non-finite parameters."
        )


def _elementwise(name: str, act: str | None = None, **decision) -> Output:
    """The output ``name`` from the activation record ``act`` (default: ``name``)."""
    act = activations.get(act or name)
    return Output(
        name,
        act.fn,
        lambda z, y, g: g * act.grad(z),
        lambda z, y, g, u: g * act.grad2(z) * u,
        act.smooth,
        **decision,
    )


def _softmax(beta: float, name: str) -> Output:
    def fn(z):
        return jax.nn.softmax(z if beta == 1 else beta * z, axis=-1)

    def vjp(z, y, g):
        del z
        ju = y * (g - jnp.sum(g * y, axis=-1, keepdims=True))  # (diag(y) - y y^T) g
        return ju if beta == 1 else beta * ju

    def curvature(z, y, g, u):
        ju = vjp(z, y, u)  # J u
        c = ju * (g - jnp.sum(g * y, -1, keepdims=True)) - y * jnp.sum(g * ju, -1, keepdims=True)
        return c if beta == 1 else beta * c

    return Output(name, fn, vjp, curvature, True, "softmax", beta, "argmax")


_OUTPUTS = {
    "identity": _elementwise("identity"),
    "sigmoid": _elementwise("sigmoid", decides="threshold"),
    **{name: _elementwise(name) for name in ("tanh", "softplus", "relu")},
    "softmax": _softmax(1.0, "softmax"),
    "exp": Output("exp", jnp.exp, lambda z, y, g: g * y, lambda z, y, g, u: g * y * u, True),
    "threshold": _elementwise(
        "threshold", "sigmoid", base="sigmoid", decides="threshold", labels=(-1, 1), no_label=0
    ),
}
NAMES = tuple(_OUTPUTS)
TEMPERED = ("softmax",)  # the outputs that take a number: "softmax:beta"
EXAMPLES = ("softmax:2.5",)  # specs with a number that the gradient and curvature matrices check
BETA_MAX = math.sqrt(sys.float_info.max)  # 1.34e154: the largest beta whose beta**2 is a float


def specs_where(test: Callable[[Output], bool]) -> list[str]:
    """The specs of the outputs whose record passes ``test`` (a tempered one as
    ``"softmax:beta"`` too), for an error that names the allowed outputs."""
    names = [name for name in NAMES if test(_OUTPUTS[name])]
    return names + [f"{name}:beta" for name in TEMPERED if name in names]


def get(spec: str) -> Output:
    """The output record of ``spec``: a name of ``NAMES``, or ``"softmax:beta"`` with a
    temperature beta in (0, ``BETA_MAX``] (``"softmax:1"`` is ``"softmax"``). ValueError naming
    the allowed values otherwise."""
    if not isinstance(spec, str):
        raise not_one_of("output", spec, NAMES)
    return _parse(spec)


@functools.lru_cache(maxsize=64)
def _parse(spec: str) -> Output:
    name, colon, number = spec.partition(":")
    if name not in _OUTPUTS:
        raise not_one_of("output", spec, NAMES, ", or 'softmax:beta' with a temperature beta > 0")
    if not colon:
        return _OUTPUTS[name]
    if name not in TEMPERED:
        raise ValueError(
            f"Output {spec!r}: {name!r} takes no number; the outputs that take one are "
            f"{list(TEMPERED)}, as in 'softmax:2.0' (the temperature beta)."
        )
    try:
        beta = from_text(number)
    except ValueError:
        beta = math.nan
    if not (math.isfinite(beta) and 0 < beta <= BETA_MAX):
        raise ValueError(
            f"Output {spec!r}: the softmax temperature beta must be a finite number > 0, as in "
            f"'softmax:2.0', and at most {BETA_MAX:.3g} (the curvature's beta**2 must be a "
            f"float), got {number!r}."
        )
    if beta == 1:
        return _OUTPUTS[name]
    return _softmax(beta, f"{name}:{_exact(beta)}")
