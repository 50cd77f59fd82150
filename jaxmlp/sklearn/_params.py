"""The estimators' parameters: scikit-learn's constraints, checked by scikit-learn's own
validator (so a bad value gets scikit-learn's message), widened where jaxmlp offers more."""

import numbers
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

from jaxmlp import activations
from jaxmlp.optim import FIRST_ORDER
from jaxmlp.train import BACKPROPS

# scikit-learn's two first, then the rest of jaxmlp's first-order optimizer table
STOCHASTIC_SOLVERS = ("sgd", "adam", *(n for n in FIRST_ORDER if n not in ("sgd", "adam")))
SOLVERS = ("lbfgs", *STOCHASTIC_SOLVERS)
ACTIVATION_ALIASES = {"logistic": "sigmoid"}  # scikit-learn's name -> jaxmlp's
# scikit-learn's name -> jaxmlp's (output, loss); poisson is its half deviance with the exp output
REGRESSION_LOSSES = {
    "squared_error": ("identity", "sse"),
    "absolute_error": ("identity", "mae"),
    "huber": ("identity", "huber"),
    "poisson": ("exp", "poisson"),
}


class _ActivationSpec(StrOptions):
    """A string written as a jaxmlp activation spec, ``name:c`` or per-unit groups
    ``name*count+...``: ``hidden_activation`` reads it (``activations.get``, whose ValueError
    names what is wrong); a bare unknown name gets scikit-learn's message listing the names.
    A ``StrOptions`` because scikit-learn's validator takes no other constraint classes; its
    one option, "spec", only shapes the invalid value scikit-learn's checks generate."""

    def __init__(self):
        super().__init__({"spec"})

    def is_satisfied_by(self, val) -> bool:
        return isinstance(val, str) and (":" in val or "*" in val)

    def __str__(self) -> str:
        return "an activation spec such as 'leaky_relu:0.2', 'elu:1.67326' or 'tanh*3+relu*5'"


CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    # one name, or one per hidden layer (checked in hidden_activation)
    "activation": [
        StrOptions({*ACTIVATION_ALIASES, *activations.names()}),
        _ActivationSpec(),
        list,
        tuple,
    ],
    "solver": [StrOptions(set(SOLVERS))],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    # scikit-learn allows 1.0, where its velocity never decays
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "backprop": [StrOptions(set(BACKPROPS))],
}
REGRESSOR_CONSTRAINTS = CONSTRAINTS | {"loss": [StrOptions(set(REGRESSION_LOSSES))]}


def check(est) -> None:
    """scikit-learn's parameter checks (its ``InvalidParameterError``, a ``ValueError``, with its
    message), then what they cannot express."""
    params = est.get_params(deep=False)
    validate_parameter_constraints(est._parameter_constraints, params, type(est).__name__)
    if est.early_stopping and not est.validation_fraction > 0:
        raise ValueError(
            "early_stopping=True needs validation_fraction in (0, 1), got "
            f"{est.validation_fraction!r}."
        )


def hidden_sizes(est) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive integers: a width that is no integer (a
    float, a bool) is scikit-learn's ``InvalidParameterError``, a ``TypeError`` as scikit-learn's
    NumPy one for ``(3.0,)`` and a ``ValueError``; one < 1 is scikit-learn's ValueError."""
    sizes = est.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            whole = isinstance(s, numbers.Real) and not isinstance(s, bool) and float(s) % 1 == 0
            raise InvalidParameterError(
                f"hidden_layer_sizes must hold integers, one width per hidden layer, got "
                f"{sizes}: {s!r} is a {type(s).__name__}"
                + (f" (write {int(s)})." if whole else ".")
            )
    if not all(s > 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return tuple(int(s) for s in sizes)


def hidden_activation(est, n_hidden: int):
    """jaxmlp's spec for ``activation`` (a name or any spec ``jaxmlp.MLP`` takes, checked by
    ``activations.get``), or a tuple of them, one per hidden layer."""
    if isinstance(est.activation, str):
        return _spec(est.activation)
    names = list(est.activation)
    for name in names:
        if not isinstance(name, str):
            raise ValueError(
                f"activation must be one of {[*ACTIVATION_ALIASES, *activations.names()]} or "
                f"an activation spec ('leaky_relu:0.2', 'tanh*3+relu*5'), got {name!r}."
            )
        _spec(name)
    if len(names) != n_hidden:
        raise ValueError(
            f"activation lists one name per hidden layer: {n_hidden} for hidden_layer_sizes "
            f"{est.hidden_layer_sizes!r}, got {len(names)}: {est.activation!r}."
        )
    return tuple(_spec(name) for name in names)


def _spec(name: str) -> str:
    """scikit-learn's alias ("logistic") as jaxmlp's name; a spec as it is, once
    ``activations.get`` has read it (a ValueError naming the problem and the allowed forms)."""
    name = ACTIVATION_ALIASES.get(name, name)
    activations.get(name)
    return name
