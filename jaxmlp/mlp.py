"""The network: an immutable description ``MLP`` whose methods are pure functions of ``params``.

``params`` is a plain list with one dict per layer, ``{"w": (fan_in, fan_out), "b": (fan_out,)}``
(plus ``"alpha": (fan_out,)`` for a hidden layer with a learnable alpha), so ``z = a w + b``
reads like the math.
An ``MLP`` is hashable and can be a static argument of ``jax.jit``.

Data are checked where their values are known. Called eagerly, ``cost``, ``backprop`` and the
other methods refuse integer labels outside 0..K-1, bce or cross_entropy targets outside [0, 1],
cross_entropy target rows of zeros (no class), poisson targets below 0, a threshold output's
labels other than -1/+1, and NaN or Inf; under ``jax.jit`` (t traced) nothing can raise: shapes
and dtypes are checked, as ``reduction.check_weights`` does for sample weights, and a target an
eager call refuses (a label K or -1, a bce target of 2, a threshold label 0) makes the cost, its
gradient and the step's loss NaN (``array_checks.nan_where``), where a label K once cost 0 and a
bce target 2 a finite, meaningless number. Check data eagerly (``net.targets(t, n)``) before a
jitted loop; ``fit`` does.

>>> import jax, jax.numpy as jnp
>>> net = MLP(sizes=(4, 8, 3), activation="tanh", output="softmax", loss="cross_entropy")
>>> params = net.init(jax.random.key(0))
>>> x = jnp.ones((5, 4)); t = jnp.array([0, 1, 2, 0, 1])
>>> net.apply(params, x).shape, net.cost(params, x, t).shape, net.predict(params, x).shape
((5, 3), (), (5,))
"""

import dataclasses
from collections.abc import Mapping, Set

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations, backprop, curvature, initializers, jacobian, losses, outputs
from jaxmlp import array_checks as checks
from jaxmlp.activation_specs import check_dtype as check_constants
from jaxmlp.numeric import as_int, check_holds, check_unmasked, not_one_of, store_as
from jaxmlp.reduction import check_weights

REDUCTIONS = ("mean", "sum")
# The dtypes params may hold (float8's few bits give NaN gradients); fit stores float32 or float64.
PARAM_DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclasses.dataclass(frozen=True, init=False)
class MLP:
    """A multilayer perceptron.

    Args:
      sizes: layer widths ``(d, p_1, ..., p_{L-1}, K)``, input first, at least two, each
        < 2**31.
      activation: one hidden activation spec, or one per hidden layer: a name
        (``activations.names()``), a name with its constant (``"elu:1.67326"``, ``"step:1"``) or
        per-unit groups (``"tanh*3+relu*5"``; the counts add up to the layer's width), kept in
        the canonical form ``activations.get(spec).name``.
      output: output activation (``outputs.NAMES``), or ``"softmax:beta"``, softmax with
        temperature beta > 0 (kept in its shortest form: ``"softmax:2.0"`` is ``"softmax:2"``).
        ``"threshold"`` is seed 003's binary unit: a sigmoid trained on targets -1/+1 (they enter
        the loss as 0/1) whose ``predict`` returns -1/+1.
      loss: per-example loss (``losses.NAMES``).
      reduction: ``"mean"`` over examples, or ``"sum"`` (the seeds' E = sum_i E_i).
      init: an init scheme string (``initializers.NAMES``: ``"he_normal"``, ``"uniform:0,1"``,
        ``"normal:0.01"``...); ``None`` picks a default per activation. Kept as ``init_scheme``
        (``init`` is the method that draws parameters).
      dropout: inverted-dropout rate of the hidden layers, 0 or in ``backprop.DROPOUT_RANGE``
        ([1.2e-5, 1 - 1.2e-5]: its float32 masks draw others > 1 % off); active given a key.
        Kept as a Python float, as ``sizes`` as Python ints: equal nets trace alike.
    """

    sizes: tuple[int, ...]
    activation: str | tuple[str, ...]
    output: str
    loss: str
    reduction: str
    init_scheme: str | None
    dropout: float

    def __init__(
        self,
        sizes,
        activation="tanh",
        output="identity",
        loss="sse",
        reduction="mean",
        init=None,
        dropout=0.0,
    ):
        sizes = _check_sizes(sizes)
        if not isinstance(activation, str):
            if not isinstance(activation, list | tuple):
                raise TypeError(
                    f"activation must be a name or a list of names, one per hidden layer, "
                    f"got {activation!r}."
                )
            activation = tuple(activation)
            if len(activation) != len(sizes) - 2:
                raise ValueError(
                    f"activation lists one name per hidden layer: {len(sizes) - 2} for sizes "
                    f"{sizes}, got {len(activation)}: {list(activation)}."
                )
        activation = _canonical(activation)
        fields = dict(
            sizes=sizes,
            activation=activation,
            output=outputs.get(output).name,
            loss=loss,
            reduction=reduction,
            init_scheme=None if init is None else str(initializers.parse(init)),
            dropout=dropout,
        )
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        for l, (name, width) in enumerate(zip(self.hidden_activations, sizes[1:-1])):
            act = activations.get(name)
            if act.width is not None and act.width != width:
                raise ValueError(
                    f"Activation {act.name!r} has per-unit groups for {act.width} units, but "
                    f"hidden layer {l + 1} has {width} (sizes {sizes}): the counts must add up "
                    "to the layer's width."
                )
        losses.get(loss)
        losses.check_pair(output, loss)
        if outputs.get(output).decides == "argmax" and sizes[-1] < 2:
            raise ValueError(
                f"A softmax output needs at least 2 units; use sigmoid for one. Got sizes {sizes}."
            )
        if reduction not in REDUCTIONS:
            raise not_one_of("reduction", reduction, REDUCTIONS)
        backprop.check_dropout(dropout)  # a rate the float32 masks draw within 1 %
        store_as(self, "dropout", float)  # np.float32(0.5) == 0.5 and hashes alike: same trace
        if dropout and "dropout" in unused(len(sizes) - 2):
            why = unused(len(sizes) - 2)["dropout"]
            raise ValueError(f"dropout={dropout!r} would be ignored: {why} (sizes {sizes}).")

    def replace(self, **changes) -> "MLP":
        """A copy with some settings changed (``init=`` for the scheme)."""
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        settings["init"] = settings.pop("init_scheme")
        return MLP(**(settings | changes))

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        """One activation name per hidden layer."""
        if isinstance(self.activation, str):
            return (self.activation,) * (len(self.sizes) - 2)
        return self.activation

    @property
    def n_params(self) -> int:
        """Number of scalar parameters |w|."""
        return sum(
            i * o + o + o * activations.get(a).learnable
            for i, o, a in zip(self.sizes, self.sizes[1:], (*self.hidden_activations, "identity"))
        )

    # -- parameters ----------------------------------------------------------------------------

    def init(self, key, dtype=jnp.float32) -> list[dict]:
        """Fresh parameters, keys split per layer, drawn compiled (``initializers.network``)."""
        if not isinstance(key, jax.Array | np.ndarray):  # an int would reach jax as bad key data
            raise ValueError(
                "init needs a jax.random.key, e.g. jax.random.key(0), got "
                f"{type(key).__name__} {key!r}."
            )
        if np.dtype(dtype).name not in PARAM_DTYPES:  # those check_params takes
            raise ValueError(f"dtype must be one of {list(PARAM_DTYPES)}, got {dtype!r}.")
        self._check_dtype(dtype)
        layers, hidden = [], self.hidden_activations
        schemes = initializers.layer_schemes(self.init_scheme, hidden, self.output)
        for l, (fan_in, fan_out) in enumerate(zip(self.sizes, self.sizes[1:])):
            act = activations.get(hidden[l]) if l < len(hidden) else None
            alpha = act.alpha_init if act and act.learnable else None
            layers.append(initializers.Layer(schemes[l], fan_in, fan_out, alpha))
        return initializers.network(tuple(layers), key, dtype)

    def check_params(self, params, *, finite: bool = False) -> None:
        """ValueError unless ``params`` matches this architecture, layer by layer, in a real
        floating dtype; with ``finite``, unless every value is finite too (parameters of a
        diverged run give NaN outputs, never predictions)."""
        if not isinstance(params, list | tuple) or len(params) != len(self.sizes) - 1:
            n = len(params) if isinstance(params, list | tuple) else type(params).__name__
            raise ValueError(
                f"params must be a list of {len(self.sizes) - 1} layer dicts for sizes "
                f"{self.sizes}, got {n}."
            )
        acts = (*self.hidden_activations, self.output)
        for l, (layer, fan_in, fan_out) in enumerate(zip(params, self.sizes, self.sizes[1:])):
            learnable = l < len(acts) - 1 and activations.get(acts[l]).learnable
            want = {"w": (fan_in, fan_out), "b": (fan_out,)} | (
                {"alpha": (fan_out,)} if learnable else {}
            )
            got = (
                {k: checks.param_shape(v, f"params[{l}][{k!r}]") for k, v in layer.items()}
                if isinstance(layer, dict)
                else type(layer).__name__
            )
            if got != want:
                raise ValueError(
                    f"params[{l}] does not match the architecture {self.sizes}: expected "
                    f"shapes {want}, got {got}."
                )
            for name, v in layer.items():
                if jnp.dtype(v.dtype).name not in PARAM_DTYPES:
                    raise ValueError(
                        f"params[{l}][{name!r}] has dtype {v.dtype}: parameters must be real "
                        f"floating arrays, one of {list(PARAM_DTYPES)}."
                    )
                if finite and not isinstance(v, jax.core.Tracer) and not checks.all_finite(v):
                    raise ValueError(
                        f"params[{l}][{name!r}] holds NaN or Inf values: parameters of a diverged "
                        "run cannot predict; train again from the last finite ones with a lower "
                        "learning rate."
                    )
        self._check_dtype(params[-1]["w"].dtype)  # the output layer's, that of its beta * z

    def _check_dtype(self, dtype) -> None:
        """A ValueError where ``dtype`` cannot hold a number of the net (``numeric.outside``)."""
        if (beta := outputs.get(self.output).beta) != 1:  # softmax:1e-50 is softmax:0 in float32
            check_holds(f"Output {self.output!r}: the temperature beta", beta, dtype)
        check_constants(self.hidden_activations, jnp.dtype(dtype))  # elu:1e-8 is relu in float16
        backprop.check_dropout(self.dropout, dtype)  # its kept fraction

    # -- the network function ------------------------------------------------------------------

    def apply(self, params, x, *, key=None):
        """Network outputs ``y (n, K)`` for ``x (n, d)``, after the output activation.

        Computed in the dtype of ``params``. ``key`` turns dropout on (training only).
        """
        x = self._check_x(params, x)
        return backprop.forward(self, params, x, key).as_[-1]

    def cost(self, params, x, t, *, key=None, sample_weight=None):
        """Scalar cost: the reduction over examples of the per-example loss l(y, t), weighted
        by ``sample_weight (n,)`` when given (``reduction.reduce``). The values of ``t`` are
        checked eagerly only: under ``jit`` a label out of range makes it NaN (module
        docstring)."""
        x, t = self._check_xt(params, x, t)
        return backprop.cost_of(self, backprop.forward(self, params, x, key), t, sample_weight)

    def predict(self, params, x):
        """Labels: argmax for softmax, ``y > 0.5`` per unit for sigmoid (0/1) and threshold
        (-1/+1; ``(n,)`` for one unit), ``y`` otherwise (``outputs.Output.decide``). A row
        whose outputs are not finite is a ValueError, or under ``jit`` the label -1 (threshold:
        0; a regression's y stays as it is)."""
        return outputs.get(self.output).decide(self.apply(params, x))

    # -- derivatives, by hand ------------------------------------------------------------------

    def backprop(self, params, x, t, *, key=None):
        """dE/dparams by the hand-derived backward recursion, shaped like ``params``."""
        return self.value_and_backprop(params, x, t, key=key)[1]

    def value_and_backprop(self, params, x, t, *, key=None):
        """``(E, dE/dparams)`` from one forward and one hand backward pass."""
        x, t = self._check_xt(params, x, t)
        return backprop.value_and_grad(self, params, x, t, key)

    def input_grad(self, params, x, t):
        """dE/dx ``(n, d)``: the backward recursion carried one layer further, to the inputs."""
        x, t = self._check_xt(params, x, t)
        return backprop.backward(self, params, backprop.forward(self, params, x), t)[1]

    def input_jacobian(self, params, x, *, mode="reverse"):
        """dy/dx ``(n, K, d)`` by hand, accumulated ``"forward"`` (input to output) or
        ``"reverse"`` (output to input) through the layers."""
        return jacobian.input_jacobian(self, params, x, mode)

    def hvp(self, params, x, t, v):
        """(d2E/dparams2) v, shaped like ``params``, by the hand R-operator passes
        (``curvature.hvp``; ``curvature`` has Gauss-Newton, Fisher, diagonal and more)."""
        x, t = self._check_xt(params, x, t)
        return curvature.hvp(self, params, x, t, v)

    def hessian(self, params, x, t):
        """d2E/dparams2 ``(|w|, |w|)`` by hand, in ``ravel_pytree(params)`` order (small nets)."""
        x, t = self._check_xt(params, x, t)
        return curvature.hessian(self, params, x, t)

    def input_hessian(self, params, x):
        """d2y/dx2 ``(n, K, d, d)`` by hand, the Jacobian's counterpart."""
        return curvature.input_hessian(self, params, self._check_x(params, x))

    def hand_cost(self, params, x, t, *, sample_weight=None):
        """``cost`` whose ``jax.grad`` runs the hand backprop (a ``jax.custom_vjp``), so it
        composes with jit, vmap and grad, in ``params`` and ``x``; differentiating it in ``t``
        or the weights is a ValueError (``cost``'s ``jax.grad`` differentiates them)."""
        x, t = self._check_xt(params, x, t)  # the weights, before the custom_vjp casts them:
        sample_weight = check_weights(sample_weight, x.shape[0], x.dtype)
        return backprop.hand_cost(self, params, x, t, sample_weight)

    # -- validation at the boundary ------------------------------------------------------------

    def _check_x(self, params, x):
        self.check_params(params)
        return self.inputs(x, checks.one_dtype(params))

    def inputs(self, x, dtype=jnp.float32, *, name: str = "x"):
        """``x`` checked to be ``(n, d)`` and numeric, as an array of ``dtype``; messages call
        it ``name`` (``x_val`` for a validation set)."""
        check_unmasked(name, x)
        if not hasattr(x, "dtype"):
            x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"{name} must have shape (n, {self.sizes[0]}) for sizes {self.sizes}, "
                f"got {x.shape}."
            )
        checks.check_real(name, x)
        checks.check_values(x, dtype, name)
        return checks.as_dtype(x, dtype)

    def _check_xt(self, params, x, t):
        x = self._check_x(params, x)
        checks.check_nonempty(x, "x", "the cost")
        return x, self.targets(t, x.shape[0], x.dtype)

    def targets(self, t, n: int, dtype=jnp.float32, *, name: str = "t"):
        """``t`` as an ``(n, K)`` array: integer labels ``(n,)`` become one-hot for
        cross_entropy, and ``(n,)`` is accepted for one output. A threshold output takes its
        labels -1/+1 only (the loss pair maps them to the 0/1 its sigmoid's loss takes).
        Values (label range, target range, finiteness) are checked when ``t`` is concrete;
        a traced ``t`` (under ``jit``) has its shape and dtype checked only, and a value refused
        eagerly is NaN there (``array_checks.nan_where``). Messages call it
        ``name`` (``t_val`` for a validation set)."""
        check_unmasked(name, t)
        if not hasattr(t, "dtype"):
            t = np.asarray(t)
        k = self.sizes[-1]
        labels = t.ndim == 1 and t.shape[0] == n and k > 1  # the shape of integer labels
        if labels and jnp.issubdtype(t.dtype, jnp.integer):
            if self.loss != "cross_entropy":
                raise ValueError(
                    f"Integer labels of shape (n,) need loss='cross_entropy'; for {self.loss!r} "
                    f"pass {name} of shape ({n}, {k})."
                )
            checks.check_label_range(t, k)
            return checks.one_hot(t, k, dtype)
        if labels and self.loss == "cross_entropy":
            raise ValueError(
                f"{name} of shape ({n},) must be integer labels 0..{k - 1}, got dtype "
                f"{t.dtype}: cast whole numbers with .astype(int), map class names to 0..{k - 1}, "
                f"or pass targets of shape ({n}, {k})."
            )
        if t.ndim == 1 and k == 1 and t.shape[0] == n:
            t = t[:, None]
        if t.shape != (n, k):
            allowed = f"({n}, {k})" + (f" or integer labels ({n},)" if k > 1 else f" or ({n},)")
            raise ValueError(f"{name} must have shape {allowed}, got {t.shape}.")
        checks.check_real(name, t)  # (None in t: dtype object, refused)
        out = outputs.get(self.output)
        if thresholded := out.labels != (0, 1):
            checks.check_labels(t, self.output, out.labels)
        else:
            losses.check_targets(self.loss, t, name)
        checks.check_values(t, dtype, name)
        refused = (lambda t: checks.not_labels(t, out.labels)) if thresholded else None
        return checks.nan_where(checks.as_dtype(t, dtype), refused or losses.refuser(self.loss))


def unused(n_hidden: int) -> dict:
    """The settings of ``MLP`` that a net of ``n_hidden`` hidden layers ignores, each with why:
    the one rule by which ``MLP`` refuses a dropout > 0 and the command line a given --dropout.
    (Its activation too; ``MLP`` cannot tell it given from its default, the command line can.)"""
    return {} if n_hidden else {"dropout": "dropout acts on hidden layers and the net has none"}


def without_unused(spec: dict) -> dict:
    """A saved architecture ``spec`` (``digests.architecture``'s, a checkpoint's) with the
    dropout of a net without hidden layers at 0: saved before ``MLP`` refused it, it never
    acted (``digests.config_sha256`` hashes it as saved)."""
    n_hidden = len(spec.get("sizes") or ()) - 2  # (no sizes: MLP names the problem)
    return spec | ({"dropout": 0.0} if "dropout" in unused(n_hidden) else {})


def _canonical(activation):
    """Each spec string in its canonical form (``activations.get(spec).name``), so that equal
    functions give equal, equally hashed nets; records a user passes stay as they are."""
    if isinstance(activation, str):
        return activations.get(activation).name
    return tuple(_canonical(a) if isinstance(a, str) else a for a in activation)


def _check_sizes(sizes) -> tuple[int, ...]:  # in order: a set or a dict has none
    if isinstance(sizes, str | bytes | Set | Mapping) or not hasattr(sizes, "__len__"):
        raise ValueError(f"sizes must be a sequence of layer widths like (4, 8, 3), got {sizes!r}.")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least two widths (inputs and outputs), got {sizes!r}.")
    widths = [as_int(s) for s in sizes]  # a 0-d integer array is its number (numeric's rule)
    for s, width in zip(sizes, widths, strict=True):
        if width is None or not 0 < width < 2**31:
            raise ValueError(  # JAX indexes in int32 without x64 (argmax labels, one_hot)
                f"Every width in sizes must be a positive integer < 2**31, got {s!r} in {sizes!r}."
            )
    return tuple(widths)
