"""What the classifier and the regressor share: parameters, the training loop of scikit-learn's
solvers (on jaxmlp's gradient and optax's steps; its epochs' bookkeeping, stopping rules and
learning-rate rules are ``_stopping``'s) and prediction (``_forward``'s forward pass).

settings -> (X, t) -> net -> initial weights -> solver -> coefs_, intercepts_ (the truth,
NumPy arrays in the dtype of X; ``params_`` is the pytree view of them).
"""

import warnings

import jax
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import check_random_state, shuffle
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxmlp import activations
from jaxmlp.array_checks import real_array
from jaxmlp.arrays import precision
from jaxmlp.mlp import MLP
from jaxmlp.sklearn import _lbfgs, _params, _solvers
from jaxmlp.sklearn._forward import apply
from jaxmlp.sklearn._stopping import StoppingMixin


class BaseMLP(StoppingMixin, BaseEstimator):
    """Subclasses give ``_targets(X, y, incremental, reset) -> (X, t (n, K), labels)``,
    ``_output_loss() -> (output, loss)``, ``_out_activation()``, ``_labels_from(y)`` and
    ``_score_labels(labels, predicted)``."""

    _parameter_constraints = _params.CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        backprop="hand",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backprop = backprop

    @property
    def params_(self) -> list[dict]:
        """The weights as a jaxmlp params pytree: ``{"w": coefs_[l], "b": intercepts_[l]}``
        (plus a PReLU layer's slopes ``"alpha"``). Set ``coefs_``/``intercepts_`` to change it."""
        check_is_fitted(self, "coefs_")
        if not hasattr(self, "intercepts_"):  # coefs_ set by hand, alone
            raise ValueError(
                "coefs_ is set but intercepts_ is not: weights set by hand need both, "
                "intercepts_[l] of shape (coefs_[l].shape[1],) for each layer l."
            )
        n = len(self.coefs_)
        if len(self.intercepts_) != n:
            raise ValueError(
                f"coefs_ has {n} layers and intercepts_ {len(self.intercepts_)}: weights set by "
                "hand need intercepts_[l] of shape (coefs_[l].shape[1],) for each layer l."
            )
        slopes = getattr(self, "_slopes", None) or []
        slopes = slopes if len(slopes) == n else [None] * n  # a count of layers set by hand
        return [
            {"w": _hand_set("coefs_", l, w), "b": _hand_set("intercepts_", l, b)}
            | ({} if a is None else {"alpha": a})
            for l, (w, b, a) in enumerate(zip(self.coefs_, self.intercepts_, slopes))
        ]

    # -- training --------------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train on ``X (n, d)`` (dense, or scipy.sparse CSR/CSC) and ``y`` (labels ``(n,)``, an
        indicator ``(n, K)``, or targets ``(n,)``/``(n, K)``), each example weighted by
        ``sample_weight (n,)`` (scikit-learn's: every batch's loss, its gradient and its L2 term
        divide by the batch's total weight instead of its size; early stopping's validation
        score is weighted). Returns ``self``."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(self, X, y, incremental: bool, sample_weight=None):
        X, t, labels, first = self._checked_targets(X, y, incremental)
        dtype = X.dtype
        sample_weight = _checked_weights(sample_weight, X)
        with precision(dtype):
            rng, params = self._starting_point(X, t, first, dtype)
            if self.solver == "lbfgs":
                params = self._fit_lbfgs(params, X, t, dtype, sample_weight)
            else:
                params = self._fit_stochastic(
                    params, X, t, labels, rng, incremental, dtype, sample_weight
                )
            self._set_weights(params, dtype)
        self._check_finite()
        return self

    def _checked_targets(self, X, y, incremental: bool):
        """The parameters checked, then ``(X, t (n, K), labels, first)``: ``first`` when the
        fit starts from fresh weights (not a warm start or ``partial_fit``)."""
        _params.check(self)
        _params.hidden_activation(self, len(_params.hidden_sizes(self)))
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        # weights set by hand on an estimator never fitted: X's columns are read afresh too
        reset = first or not hasattr(self, "net_")
        return *self._targets(X, y, incremental, reset=reset), first

    def _starting_point(self, X, t, first: bool, dtype):
        """``(rng, params)``: the network ``net_`` for ``X (n, d)`` and ``t (n, K)``, the
        random state every later draw comes from, and the starting weights (drawn from it when
        ``first``). A warm start's weights are checked before anything is set: one refused
        leaves the fitted model as it was."""
        hidden = _params.hidden_sizes(self)
        act = _params.hidden_activation(self, len(hidden))
        net = MLP((X.shape[1], *hidden, t.shape[1]), act, *self._output_loss())
        rng = check_random_state(self.random_state)
        if first:
            self.net_ = net
            self._initialize(rng, dtype)
            return rng, self._checked_params(net, dtype)
        params = self._checked_params(net, dtype)
        self.net_ = net
        if not hasattr(self, "t_"):  # weights set by hand on an estimator never fitted
            self._start_counts()
        self.out_activation_ = self._out_activation()  # a regressor's loss may have changed it
        return rng, params

    def _check_finite(self) -> None:
        if not all(np.isfinite(a).all() for a in jax.tree.leaves(self.params_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed. (The training diverged: lower "
                f"learning_rate_init, now {self.learning_rate_init!r}, or scale the inputs.)"
            )

    def _initialize(self, rng, dtype) -> None:
        """scikit-learn's starting point, drawn from ``rng`` in its order (weights, then biases,
        layer by layer): uniform in +-sqrt(6 / (fan_in + fan_out)), +-sqrt(2 / ...) in every
        layer of a logistic net (one name for the net, as scikit-learn has it: a list of names
        all logistic too); a learnable alpha starts at its record's ``alpha_init`` (PReLU's
        0.25)."""
        net = self.net_
        names = {net.activation} if isinstance(net.activation, str) else set(net.activation)
        factor = 2.0 if names == {"sigmoid"} else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(net.sizes, net.sizes[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            self.intercepts_.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
        self._slopes = _starting_slopes(net, dtype)
        self._start_counts()

    def _start_counts(self) -> None:
        self.n_outputs_ = self.net_.sizes[-1]
        self.n_layers_ = len(self.net_.sizes)
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self._opt_state = self._opt_settings = None
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._reset_stopping()

    def _checked_params(self, net: MLP, dtype) -> list[dict]:
        """``params_`` checked against ``net`` (weights a user set must fit it; a warm start
        that switches to or from a learnable activation is named as such), as jax arrays of
        ``dtype``."""
        if len(getattr(self, "_slopes", [])) != len(self.coefs_):  # weights set by hand
            slopes = _starting_slopes(net, dtype)
            self._slopes = slopes if len(slopes) == len(self.coefs_) else [None] * len(self.coefs_)
        old = getattr(self, "net_", None)
        if old is not None and old.sizes == net.sizes and _learnable(old) != _learnable(net):
            raise ValueError(
                f"A warm start continues the fitted weights, but activation changed from "
                f"{old.activation!r} to {self.activation!r}, and only one of them has learnable "
                "per-unit slopes (alpha): set activation back, or fit afresh (warm_start=False, "
                "fit rather than partial_fit)."
            )
        params = self.params_
        net.check_params(params)
        return jax.tree.map(lambda a: jax.numpy.asarray(a, dtype), params)

    def _set_weights(self, params, dtype) -> None:
        host = [{k: np.array(v, dtype) for k, v in layer.items()} for layer in params]
        self.coefs_ = [layer["w"] for layer in host]
        self.intercepts_ = [layer["b"] for layer in host]
        self._slopes = [layer.get("alpha") for layer in host]

    def _fit_lbfgs(self, params, X, t, dtype, sample_weight=None):
        x = X.toarray() if sp.issparse(X) else X  # full batch: lbfgs sees all of X at once
        x, t = jax.numpy.asarray(x, dtype), jax.numpy.asarray(t, dtype)
        s = None if sample_weight is None else jax.numpy.asarray(sample_weight, dtype)
        params, self.loss_, n_iter, converged = _lbfgs.lbfgs(
            self, self.net_, params, x, t, dtype, s
        )
        self.n_iter_ = n_iter
        if not converged:
            warnings.warn(
                f"lbfgs failed to converge after {n_iter} iteration(s) (status=1):\nSTOP: "
                "TOTAL NO. OF ITERATIONS OR FUNCTION EVALUATIONS REACHED LIMIT\n\nIncrease the "
                f"number of iterations to improve the convergence (max_iter={self.max_iter}).",
                ConvergenceWarning,
                stacklevel=4,
            )
        return params

    def _fit_stochastic(self, params, X, t, labels, rng, incremental, dtype, sample_weight=None):
        X, t, labels, x_val, labels_val, s, s_val = self._stochastic_setup(
            X, t, labels, rng, sample_weight
        )
        n = X.shape[0]
        batch_size = self._batch_size(n)
        opt_state = self._optimizer_state(params, batch_size, dtype, incremental)
        data = _solvers.training_data(X, t, dtype)
        order = np.arange(n)
        for _ in range(self.max_iter):
            if self.shuffle:
                order = shuffle(order, random_state=rng)
            params, opt_state, loss = _solvers.epoch(
                self, self.net_, params, opt_state, data, order, batch_size, dtype, s
            )
            opt_state, stop = self._epoch_done(
                params, opt_state, loss, n, x_val, labels_val, dtype, s_val
            )
            if stop or incremental:
                break
            self._warn_at_max_iter()
        self._opt_state = jax.device_get(opt_state)  # NumPy, as coefs_: pickles exactly
        return self._best_params if self.early_stopping else params

    def _optimizer_state(self, params, batch_size: int, dtype, incremental: bool = False):
        """The solver's state for ``params``, L2 weight ``alpha / batch_size``: fresh, with this
        estimator's settings and hyperparameters; ``partial_fit`` continues the optimizer that
        ``fit`` or its first call built, as scikit-learn's does (its state, kept as NumPy
        arrays and cast to ``dtype``, X's, and its ``_solvers.Settings``, ``_opt_settings``),
        whatever ``set_params`` changed since."""
        kept = self._opt_state if incremental else None
        # None: pickled before the settings were kept (the state is then read with today's)
        settings = (kept is not None and getattr(self, "_opt_settings", None)) or (
            _solvers.Settings.of(self)
        )
        init = _solvers.transformation(settings.solver, settings.nesterov).init
        if kept is not None and _shapes(kept) == _shapes(jax.eval_shape(init, params)):
            opt_state = _cast_floats(kept, dtype)
        else:
            settings = _solvers.Settings.of(self)
            values = dict(learning_rate=self.learning_rate_init, momentum=self.momentum)
            values |= dict(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
            decay = self.alpha / batch_size
            _solvers.check_held(self.solver, dtype, **values, weight_decay=decay)
            fresh = _solvers.transformation(settings.solver, settings.nesterov).init(params)
            opt_state = _solvers.set_hyperparams(fresh, dtype, **values)
        self._opt_settings = settings
        return _solvers.set_hyperparams(opt_state, dtype, weight_decay=self.alpha / batch_size)

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped",
                UserWarning,
                stacklevel=5,
            )
        return int(np.clip(self.batch_size, 1, n))

    # -- prediction ------------------------------------------------------------------------------

    def _forward(self, X) -> np.ndarray:
        """Network outputs ``(n, K)`` in the dtype of X and every weight, by NumPy's promotion
        (float32 for float32 all, float64 where one is float64: a layer set by hand too)."""
        check_is_fitted(self)
        if not hasattr(self, "net_"):  # coefs_ set by hand: no output, no classes yet
            raise NotFittedError(
                f"This {type(self).__name__}'s weights were set by hand on an estimator never "
                "fitted: they know no output activation or classes until a fit; fit with "
                "warm_start=True (or partial_fit) to train from them, then predict."
            )
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32)
        )
        params = self.params_
        dtype = np.result_type(X.dtype, *(a.dtype for a in jax.tree.leaves(params)))
        with precision(dtype):
            params = jax.tree.map(lambda a: jax.numpy.asarray(a, dtype), params)
            return apply(self.net_, params, X)


def _checked_weights(sample_weight, X):
    """``sample_weight`` as NumPy ``(n,)`` in X's dtype (an array's; else float64), checked:
    finite, one per row of X, >= 0, not all zero (scikit-learn's ValueErrors); None stays
    None."""
    if sample_weight is None:
        return None
    dtype = getattr(X, "dtype", None)
    return _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)


def _hand_set(name: str, l: int, a) -> np.ndarray:
    """The weight ``name[l]`` as a NumPy array: weights set by hand may be nested lists, as
    scikit-learn reads them; a masked array with masked entries is a ValueError
    (``numeric.check_unmasked``: ``np.asarray`` would drop the mask and use the numbers under
    it), and so is one of no real numbers (complex: predict would cast every weight to it)."""
    return real_array(f"{name}[{l}]", a)


def _cast_floats(tree, dtype):
    """A host pytree on the device, its float leaves cast to ``dtype`` (step counts stay
    integers)."""
    floating = lambda a: np.issubdtype(np.asarray(a).dtype, np.floating)  # noqa: E731
    return jax.tree.map(lambda a: jax.numpy.asarray(a, dtype if floating(a) else None), tree)


def _starting_slopes(net: MLP, dtype) -> list:
    """Each layer's learnable alpha ``(fan_out,)`` where a fresh fit starts it (its record's
    ``alpha_init``, PReLU's 0.25), None for a layer without one (and the output layer)."""
    records = [activations.get(a) for a in net.hidden_activations]
    return [
        np.full(width, act.alpha_init, dtype) if act.learnable else None
        for act, width in zip(records, net.sizes[1:-1])
    ] + [None]


def _learnable(net: MLP) -> tuple[bool, ...]:
    """Which hidden layers of ``net`` have a learnable alpha (a weight ``"alpha"`` each)."""
    return tuple(activations.get(a).learnable for a in net.hidden_activations)


def _shapes(tree):
    """A pytree's structure and its leaves' shapes (not their dtypes); its leaves may be
    ``jax.ShapeDtypeStruct``s (``jax.eval_shape``)."""
    return jax.tree.structure(tree), [tuple(np.shape(a)) for a in jax.tree.leaves(tree)]
