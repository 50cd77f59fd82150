"""What the classifier and the regressor share: parameters, the training loop of scikit-learn's
solvers (its epochs, stopping rules and bookkeeping, on jaxmlp's gradient and optax's steps),
and the forward pass.

settings -> (X, t) -> net -> initial weights -> solver -> coefs_, intercepts_ (the truth,
NumPy arrays in the dtype of X; ``params_`` is the pytree view of them).
"""

import contextlib
import functools
import warnings

import jax
import numpy as np
import scipy.sparse as sp
from jax import lax
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, shuffle
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxmlp import activations
from jaxmlp.mlp import MLP
from jaxmlp.sklearn import _params, _solvers

# Prediction runs on blocks of this many rows (zero-padded), a power-of-two count of them: one
# compiled program per block count, and a row's output never depends on the rows beside it.
_BLOCK = 1024


def precision(dtype):
    """float64 work runs inside ``jax.enable_x64``, for this call only; float32 as it is."""
    return jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()


@functools.partial(jax.jit, static_argnums=0)
def _apply_blocks(net, params, x_blocks):
    return lax.map(lambda x: net.apply(params, x), x_blocks)


def apply(net, params, x, dtype) -> np.ndarray:
    """Outputs ``(n, K)`` of ``dtype`` for ``x (n, d)`` (dense, or sparse: densified a block
    at a time), block by block."""
    n, d = x.shape
    if sp.issparse(x):
        x = x.tocsr()
        parts = [
            apply(net, params, x[s : s + _BLOCK].toarray(), dtype) for s in range(0, n, _BLOCK)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, net.sizes[-1]), dtype)
    blocks = 1 << (max(-(-n // _BLOCK), 1) - 1).bit_length()
    padded = np.zeros((blocks * _BLOCK, d), dtype)
    padded[:n] = x
    y = _apply_blocks(net, params, padded.reshape(blocks, _BLOCK, d))
    return np.asarray(y, dtype).reshape(blocks * _BLOCK, -1)[:n]


class BaseMLP(BaseEstimator):
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
        slopes = getattr(self, "_slopes", None) or [None] * len(self.coefs_)
        return [
            {"w": w, "b": b} | ({} if a is None else {"alpha": a})
            for w, b, a in zip(self.coefs_, self.intercepts_, slopes, strict=True)
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
        if sample_weight is not None:  # finite, one per row, >= 0, not all zero
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=dtype, ensure_non_negative=True
            )
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
        return *self._targets(X, y, incremental, reset=first), first

    def _starting_point(self, X, t, first: bool, dtype):
        """``(rng, params)``: the network ``net_`` for ``X (n, d)`` and ``t (n, K)``, the
        random state every later draw comes from, and the starting weights (drawn from it when
        ``first``)."""
        hidden = _params.hidden_sizes(self)
        act = _params.hidden_activation(self, len(hidden))
        self.net_ = MLP((X.shape[1], *hidden, t.shape[1]), act, *self._output_loss())
        rng = check_random_state(self.random_state)
        if first:
            self._initialize(rng, dtype)
        elif not hasattr(self, "t_"):  # weights set by hand on an estimator never fitted
            self._start_counts()
        return rng, self._checked_params(dtype)

    def _check_finite(self) -> None:
        if not all(np.isfinite(a).all() for a in jax.tree.leaves(self.params_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed. (The training diverged: lower "
                f"learning_rate_init, now {self.learning_rate_init!r}, or scale the inputs.)"
            )

    def _initialize(self, rng, dtype) -> None:
        """scikit-learn's starting point, drawn from ``rng`` in its order (weights, then biases,
        layer by layer): uniform in +-sqrt(6 / (fan_in + fan_out)), +-sqrt(2 / ...) for the
        logistic sigmoid; a learnable alpha starts at its record's ``alpha_init`` (PReLU's 0.25)."""
        net = self.net_
        factor = 2.0 if net.activation == "sigmoid" else 6.0
        self.coefs_, self.intercepts_, self._slopes = [], [], []
        for l, (fan_in, fan_out) in enumerate(zip(net.sizes, net.sizes[1:])):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            self.intercepts_.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
            hidden = l < len(net.sizes) - 2
            act = activations.get(net.hidden_activations[l]) if hidden else None
            self._slopes.append(
                np.full(fan_out, act.alpha_init, dtype) if act and act.learnable else None
            )
        self._start_counts()

    def _start_counts(self) -> None:
        self.n_outputs_ = self.net_.sizes[-1]
        self.n_layers_ = len(self.net_.sizes)
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self._opt_state = None
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._reset_stopping()

    def _checked_params(self, dtype) -> list[dict]:
        """``params_`` checked against the network (weights a user set must fit it), as jax
        arrays of ``dtype``."""
        if len(getattr(self, "_slopes", [])) != len(self.coefs_):
            self._slopes = [None] * len(self.coefs_)
        params = self.params_
        self.net_.check_params(params)
        return jax.tree.map(lambda a: jax.numpy.asarray(a, dtype), params)

    def _set_weights(self, params, dtype) -> None:
        host = [{k: np.array(v, dtype) for k, v in layer.items()} for layer in params]
        self.coefs_ = [layer["w"] for layer in host]
        self.intercepts_ = [layer["b"] for layer in host]
        self._slopes = [layer.get("alpha") for layer in host]

    def _reset_stopping(self) -> None:
        """scikit-learn's bookkeeping for its stopping rule, on the loss or, with early
        stopping, on the validation score; warm starts keep it (unless that choice changed)."""
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
            self._best_params = self.params_
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _fit_lbfgs(self, params, X, t, dtype, sample_weight=None):
        x = X.toarray() if sp.issparse(X) else X  # full batch: lbfgs sees all of X at once
        x, t = jax.numpy.asarray(x, dtype), jax.numpy.asarray(t, dtype)
        s = None if sample_weight is None else jax.numpy.asarray(sample_weight, dtype)
        params, self.loss_, n_iter, converged = _solvers.lbfgs(
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
        if sp.issparse(X):
            data = (X.tocsr(), np.asarray(t, dtype))
        else:
            data = (jax.numpy.asarray(X, dtype), jax.numpy.asarray(t, dtype))
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
        self._opt_state = opt_state
        return self._best_params if self.early_stopping else params

    def _stochastic_setup(self, X, t, labels, rng, s=None):
        """Before the first epoch: the loss curve and stopping rule (kept by warm starts),
        ``n_iter_`` = 0, and with early stopping the held-out split drawn from ``rng``.
        Returns ``(X, t, labels, x_val, labels_val, s, s_val)`` (the validation
        ones None without early stopping), the sample weights ``s`` split with their rows."""
        if not hasattr(self, "loss_curve_"):  # a warm start from lbfgs
            self.loss_curve_ = []
        stopping = getattr(self, "validation_scores_", False)  # False: never set
        if stopping is False or self.early_stopping != (stopping is not None):
            self._reset_stopping()  # first, or a warm start that switched early stopping
        self.n_iter_ = 0
        if not self.early_stopping:
            return X, t, labels, None, None, s, None
        X, x_val, t, labels, labels_val, s, s_val = self._split(X, t, labels, rng, s)
        return X, t, labels, x_val, labels_val, s, s_val

    def _optimizer_state(self, params, batch_size: int, dtype, incremental: bool = False):
        """The solver's state for ``params``: fresh, with this estimator's hyperparameters
        (``partial_fit`` continues its own), L2 weight ``alpha / batch_size``."""
        fresh = _solvers.transformation(self.solver, bool(self.nesterovs_momentum)).init(params)
        opt_state = self._opt_state if incremental else None
        if opt_state is None or jax.tree.structure(opt_state) != jax.tree.structure(fresh):
            opt_state = _solvers.set_hyperparams(
                fresh,
                dtype,
                learning_rate=self.learning_rate_init,
                momentum=self.momentum,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
            )
        return _solvers.set_hyperparams(opt_state, dtype, weight_decay=self.alpha / batch_size)

    def _epoch_done(
        self, params, opt_state, loss: float, n: int, x_val, labels_val, dtype, s_val=None
    ):
        """The bookkeeping after an epoch over ``n`` examples with mean loss ``loss``: the
        counters, the loss curve, the stopping rule and the learning-rate rules
        (``_epoch_end``). Returns ``(opt_state, stop)``."""
        self.n_iter_ += 1
        self.t_ += n
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        self._count_no_improvement(params, x_val, labels_val, dtype, s_val)
        return self._epoch_end(opt_state, dtype)

    def _warn_at_max_iter(self) -> None:
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
            )

    def _epoch_end(self, opt_state, dtype):
        """scikit-learn's learning-rate rules for sgd (invscaling: eta_init / (t_ + 1)^power_t;
        adaptive: eta / 5 when the stopping rule fires, until eta <= 1e-6) and its stop.
        Returns ``(opt_state, stop)``."""
        sgd = self.solver == "sgd"
        if sgd and self.learning_rate == "invscaling":
            eta = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            opt_state = _solvers.set_hyperparams(opt_state, dtype, learning_rate=eta)
        if self._no_improvement_count <= self.n_iter_no_change:
            return opt_state, False
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (
            f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
            "consecutive epochs."
        )
        eta = _solvers.hyperparam(opt_state, "learning_rate")
        if not (sgd and self.learning_rate == "adaptive"):
            stop, msg = True, msg + " Stopping."
        elif eta <= 1e-6:
            stop, msg = True, msg + " Learning rate too small. Stopping."
        else:
            opt_state = _solvers.set_hyperparams(opt_state, dtype, learning_rate=eta / 5.0)
            stop, msg = False, msg + f" Setting learning rate to {eta / 5.0:f}"
            self._no_improvement_count = 0
        if self.verbose:
            print(msg)
        return opt_state, stop

    def _count_no_improvement(self, params, x_val, labels_val, dtype, s_val=None) -> None:
        """scikit-learn's comparisons as it writes them, so that a NaN loss or score counts as
        it does there (as an improvement: ``nan > best - tol`` is False)."""
        if x_val is None:
            loss = self.loss_curve_[-1]
            self._no_improvement_count = (
                self._no_improvement_count + 1 if loss > self.best_loss_ - self.tol else 0
            )
            self.best_loss_ = loss if loss < self.best_loss_ else self.best_loss_
            return
        y = apply(self.net_, params, x_val, dtype)
        score = (
            self._score_labels(labels_val, self._labels_from(y), s_val)
            if np.isfinite(y).all()
            else np.nan
        )
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        self._no_improvement_count = (
            self._no_improvement_count + 1 if score < self.best_validation_score_ + self.tol else 0
        )
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_params = jax.device_get(params)

    def _split(self, X, t, labels, rng, s=None):
        """scikit-learn's held-out set: ``validation_fraction`` of the data, stratified for a
        classifier with one output (binary labels); the weights ``s`` split with their rows.
        Returns ``(X, x_val, t, labels, labels_val, s, s_val)``."""
        stratify = t if is_classifier(self) and t.shape[1] == 1 else None
        arrays = (X, t, labels) if s is None else (X, t, labels, s)
        parts = train_test_split(
            *arrays, test_size=self.validation_fraction, random_state=rng, stratify=stratify
        )
        X, x_val, t, _, labels, labels_val = parts[:6]
        s, s_val = parts[6:] or (None, None)
        if x_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of "
                "your dataset."
            )
        return X, x_val, t, labels, labels_val, s, s_val

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
        """Network outputs ``(n, K)`` in the dtype of X and the weights (float32 for float32
        both, else float64)."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32)
        )
        dtype = np.result_type(X.dtype, self.coefs_[0].dtype)
        with precision(dtype):
            params = jax.tree.map(lambda a: jax.numpy.asarray(a, dtype), self.params_)
            return apply(self.net_, params, X, dtype)
