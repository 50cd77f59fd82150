"""scikit-learn estimators on the functional core: ``MLPClassifier`` and ``MLPRegressor``.

Imported explicitly, ``from jaxmlp.sklearn import MLPClassifier``; needs the optional extra
``pip install 'jaxmlp[sklearn]'``. Parameters mirror ``sklearn.neural_network``'s; training runs
through ``jaxmlp.fit`` (jit-compiled epochs), prediction through a jitted ``MLP.apply``. The
trained network is ``net_`` (an ``MLP``) with parameters ``params_``; ``coefs_[i] (fan_in,
fan_out)`` and ``intercepts_[i] (fan_out,)`` are read-only NumPy arrays read from them.

How scikit-learn's model maps onto jaxmlp's (cost = the mean over examples of the loss):

    targets     output    jaxmlp loss, per example                    out_activation_
    binary      sigmoid   bce  -t log y - (1 - t) log(1 - y)          "logistic"
    multiclass  softmax   cross_entropy  -sum_k t_k log y_k           "softmax"
    multilabel  sigmoid   bce, summed over the labels                 "logistic"
    regression  identity  squared_error  sse  1/2 sum_k (y_k - t_k)^2 "identity"
                          absolute_error mae  mean_k |y_k - t_k|
                          huber          huber mean_k huber_1(y_k - t_k)

squared_error sums over the K outputs: it is the cost whose gradient scikit-learn follows
(its output delta is y - t), while the loss it reports also averages over the outputs, K times
smaller than the cost it descends (its issue #8349). Here loss and gradient are the same cost.

alpha: scikit-learn adds alpha / (2 n_b) sum_l |w_l|^2 to the cost of a batch of n_b examples
(weights only), whose gradient is (alpha / n_b) w: here ``Optimizer(weight_decay=alpha /
batch_size)``, an L2 term in the gradient before Adam as in scikit-learn (``solver="adamw"``
applies the same coefficient decoupled). ``loss_curve_[e]`` is the mean batch cost of epoch e
plus alpha / (2 batch_size) sum_l |w_l|^2 at the start of the epoch (scikit-learn averages the
penalty over the batches; the two agree when an epoch is one batch).

Weights and biases start as scikit-learn's (Glorot uniform, drawn from ``random_state`` in its
order): the same ``random_state`` gives scikit-learn's starting point. Other differences: every
step takes ``batch_size`` examples, each epoch leaving out the last n mod batch_size of its
shuffled order (``t_`` counts the examples used); ``shuffle=False`` needs one batch to hold the
data; early stopping's held-out set is stratified for every single-label classification (not
only binary); Adam adds epsilon to sqrt(v_hat) (optax), scikit-learn to sqrt(v); compute is float32,
outputs are float64. Not provided: sample_weight, lbfgs, learning_rate schedules, power_t,
beta_1, beta_2, epsilon, max_fun.

>>> import numpy as np
>>> x = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]] * 25); y = np.array([0, 1, 1, 0] * 25)
>>> clf = MLPClassifier((16,), "tanh", learning_rate_init=0.05, random_state=0).fit(x, y)
>>> clf.predict([[0, 1], [1, 1]]).tolist(), clf.out_activation_
([1, 0], 'logistic')
"""

try:
    import sklearn  # noqa: F401  (first: a missing scikit-learn fails here, with the hint)
except ImportError as e:  # pragma: no cover - exercised by a test that hides sklearn
    raise ImportError("jaxmlp.sklearn needs scikit-learn: pip install 'jaxmlp[sklearn]'") from e

import functools
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from jaxmlp import activations, datasets
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.train import BACKPROPS, Diverged, TrainConfig, TrainState, fit

SOLVERS = ("sgd", "adam", "momentum", "nesterov", "adamw", "rmsprop", "adagrad")
ACTIVATION_ALIASES = {"logistic": "sigmoid"}  # scikit-learn's name -> jaxmlp's
REGRESSION_LOSSES = {"squared_error": "sse", "absolute_error": "mae", "huber": "huber"}
_SEED_MAX = 2**31 - 1


# Prediction runs on blocks of this many rows (zero-padded), a power-of-two count of them: one
# compiled program per block count, and a row's output never depends on the rows beside it.
_BLOCK = 1024


@functools.partial(jax.jit, static_argnums=0)
def _apply_blocks(net, params, x_blocks):
    return lax.map(lambda x: net.apply(params, x), x_blocks)


def _apply(net, params, x) -> np.ndarray:
    """``net.apply`` on ``x (n, d)`` float32, block by block: outputs ``(n, K)`` float64."""
    n, d = x.shape
    blocks = 1 << (max(-(-n // _BLOCK), 1) - 1).bit_length()
    padded = np.zeros((blocks * _BLOCK, d), np.float32)
    padded[:n] = x
    y = _apply_blocks(net, params, padded.reshape(blocks, _BLOCK, d))
    return np.asarray(y, np.float64).reshape(blocks * _BLOCK, -1)[:n]


@jax.jit
def _weights_sq(params):
    """sum_l |w_l|^2 over the weights (not the intercepts)."""
    return sum(jnp.sum(jnp.square(layer["w"])) for layer in params)


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, training and the forward pass.

    Subclasses give ``_targets(X, y, incremental, reset) -> (X, t (n, K) float32, labels)``,
    ``_output_loss() -> (output, loss)``, ``_out_activation()`` and ``_score_labels``.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
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
        n_iter_no_change=10,
        backprop="hand",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
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
        self.n_iter_no_change = n_iter_no_change
        self.backprop = backprop

    # -- fitted views ----------------------------------------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weights ``(fan_in, fan_out)`` per layer, read-only, from ``params_``."""
        return [_readonly(layer["w"]) for layer in self.params_]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Biases ``(fan_out,)`` per layer, read-only, from ``params_``."""
        return [_readonly(layer["b"]) for layer in self.params_]

    # -- settings, validated at fit time ---------------------------------------------------------

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(_is_int(s) and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a positive integer or a sequence of them like "
                f"(100,), got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _hidden_activation(self, n_hidden: int):
        allowed = [*ACTIVATION_ALIASES, *activations.names()]
        names = [self.activation] if isinstance(self.activation, str) else self.activation
        try:
            names = list(names)
        except TypeError:
            names = [self.activation]
        for name in names:
            if not isinstance(name, str) or name not in allowed:
                raise ValueError(f"activation must be one of {allowed}, got {name!r}.")
        names = [ACTIVATION_ALIASES.get(name, name) for name in names]
        if isinstance(self.activation, str):
            return names[0]
        if len(names) != n_hidden:
            raise ValueError(
                f"activation lists one name per hidden layer: {n_hidden} for hidden_layer_sizes "
                f"{self.hidden_layer_sizes!r}, got {len(names)}: {self.activation!r}."
            )
        return tuple(names)

    def _check_settings(self) -> None:
        _check_choice("solver", self.solver, SOLVERS)
        _check_choice("backprop", self.backprop, BACKPROPS)
        _check_real("alpha", self.alpha, low=0.0)
        _check_real("learning_rate_init", self.learning_rate_init, low=0.0, low_open=True)
        _check_real("tol", self.tol, low=0.0)
        _check_real("momentum", self.momentum, low=0.0, high=1.0)
        _check_real("validation_fraction", self.validation_fraction, low=0.0, high=1.0)
        if self.batch_size != "auto" and not (_is_int(self.batch_size) and self.batch_size >= 1):
            raise ValueError(
                f"batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}."
            )
        if not (_is_int(self.max_iter) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}.")
        if not (_is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1) and not (
            self.n_iter_no_change == np.inf
        ):
            raise ValueError(
                "n_iter_no_change must be an integer >= 1 or np.inf, got "
                f"{self.n_iter_no_change!r}."
            )
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if not (_is_int(self.verbose) or isinstance(self.verbose, bool | np.bool_)):
            raise ValueError(f"verbose must be a bool or an integer, got {self.verbose!r}.")
        if self.early_stopping and not self.validation_fraction > 0:
            raise ValueError(
                "early_stopping=True needs validation_fraction in (0, 1), got "
                f"{self.validation_fraction!r}."
            )

    def _optimizer(self, batch_size: int) -> Optimizer:
        """scikit-learn's sgd with momentum is jaxmlp's momentum or nesterov (same iteration at a
        constant learning rate); alpha / (2 n_b) |w|^2 per batch is weight_decay alpha / n_b."""
        name = self.solver
        if name == "sgd" and self.momentum > 0:
            name = "nesterov" if self.nesterovs_momentum else "momentum"
        momentum = float(self.momentum) if name in ("momentum", "nesterov") else None
        return Optimizer(
            name,
            lr=float(self.learning_rate_init),
            momentum=momentum,
            weight_decay=float(self.alpha) / batch_size,
        )

    # -- training --------------------------------------------------------------------------------

    def fit(self, X, y):
        """Train on ``X (n, d)`` and ``y`` (labels ``(n,)``, an indicator ``(n, K)``, or
        targets ``(n,)``/``(n, K)``) for up to ``max_iter`` epochs. Returns ``self``."""
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, incremental: bool):
        self._check_settings()
        hidden = self._hidden_sizes()
        act = self._hidden_activation(len(hidden))
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True.")
        first = not hasattr(self, "params_") or (not self.warm_start and not incremental)
        X, t, labels = self._targets(X, y, incremental, reset=first)
        net = MLP((X.shape[1], *hidden, t.shape[1]), act, *self._output_loss())
        rng = check_random_state(self.random_state)
        if first:
            self._initialize(net, t.shape[1], rng)
        else:
            net.check_params(self.params_)
        if first or self.early_stopping != (self.validation_scores_ is not None):
            self._reset_stopping()
        x_val = labels_val = None
        if self.early_stopping:
            X, x_val, t, labels, labels_val = self._split(X, t, labels, rng)
        batch_size = self._batch_size(X.shape[0])
        optimizer = self._optimizer(batch_size)
        config = TrainConfig(
            epochs=1 if incremental else self.max_iter,
            batch_size=batch_size,
            backprop=self.backprop,
            seed=int(rng.randint(_SEED_MAX)),
            devices=1,
        )
        state = TrainState(self.params_, self._continued_opt_state(optimizer, incremental))
        per_epoch = X.shape[0] // batch_size * batch_size
        stop = self._epoch_end(net, batch_size, per_epoch, x_val, labels_val)
        self.n_iter_ = 0
        try:
            result = fit(net, X, t, optimizer, config, state=state, callback=stop)
        except Diverged as e:
            raise ValueError(
                f"Training diverged at epoch {e.epoch}, step {e.step} (a non-finite loss or "
                f"gradient): lower learning_rate_init (got {self.learning_rate_init!r}) or scale "
                "the inputs."
            ) from e
        self.net_, self.params_, self._opt_state = net, result.params, result.state.opt_state
        if self.early_stopping:
            self.params_ = self._best_params
        if not incremental and not stop.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _initialize(self, net, n_outputs: int, rng) -> None:
        self.params_ = _glorot_uniform(net, rng)
        self.net_ = net
        self._opt_state = None
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(net.sizes)
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []

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

    def _split(self, X, t, labels, rng):
        """The held-out set: ``validation_fraction`` of the data by jaxmlp's one split rule
        (``datasets.validation_split``, stratified by class), seeded by ``random_state`` when it
        is an int (the examples ``fit`` and the CLI hold out with that seed), else by a draw."""
        seed = self.random_state if _is_int(self.random_state) else rng.randint(_SEED_MAX)
        index = np.arange(X.shape[0])
        stratify = t if is_classifier(self) else np.zeros(X.shape[0])  # regression: at random
        keep, _, held, _ = datasets.validation_split(
            index, stratify, self.validation_fraction, int(seed)
        )
        X, x_val, t, labels, labels_val = X[keep], X[held], t[keep], labels[keep], labels[held]
        if x_val.shape[0] < 2:
            raise ValueError(
                f"The validation set is too small ({x_val.shape[0]} example): increase "
                f"validation_fraction (got {self.validation_fraction!r}) or the data."
            )
        return X, x_val, t, labels, labels_val

    def _batch_size(self, n: int) -> int:
        size = min(200, n) if self.batch_size == "auto" else int(self.batch_size)
        if size > n:
            warnings.warn(
                f"batch_size={size} is larger than the {n} training examples: using {n}.",
                UserWarning,
                stacklevel=4,
            )
            size = n
        if not self.shuffle and size < n:
            raise ValueError(
                f"shuffle=False needs one batch to hold the data (batch_size >= {n} examples), "
                f"got batch_size={size}: jaxmlp shuffles mini-batches every epoch."
            )
        return size

    def _continued_opt_state(self, optimizer: Optimizer, incremental: bool):
        """partial_fit continues the optimizer's state (Adam's moments, the velocity) as
        scikit-learn does; fit and warm starts begin a fresh one."""
        fresh = optimizer.build(1).init(self.params_)
        old = self._opt_state
        same = old is not None and jax.tree.structure(old) == jax.tree.structure(fresh)
        return old if incremental and same else fresh

    def _epoch_end(self, net, batch_size: int, per_epoch: int, x_val, labels_val):
        """The ``jaxmlp.fit`` callback: scikit-learn's per-epoch bookkeeping and its stopping
        rule, True once the loss (or the validation score) has not improved by ``tol`` for more
        than ``n_iter_no_change`` epochs."""
        half_decay = float(self.alpha) / (2 * batch_size)
        start = sum(np.sum(np.square(np.asarray(layer["w"], np.float64))) for layer in self.params_)
        penalty = [half_decay * float(start)]  # at the start of the coming epoch

        def stop(record, state) -> bool:
            loss = record["train_loss"] + penalty[0]
            if half_decay:
                penalty[0] = half_decay * float(_weights_sq(state.params))
            self.n_iter_ += 1
            self.t_ += per_epoch
            self.loss_, self.loss_curve_ = loss, [*self.loss_curve_, loss]
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            if x_val is not None:
                improved = self._count_validation(net, state.params, x_val, labels_val)
            else:
                improved = loss <= self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, loss)
            self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
            stop.stopped = self._no_improvement_count > self.n_iter_no_change
            if stop.stopped and self.verbose:
                what = "Validation score" if x_val is not None else "Training loss"
                print(
                    f"{what} did not improve more than tol={self.tol:f} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping."
                )
            return stop.stopped

        stop.stopped = False
        return stop

    def _count_validation(self, net, params, x_val, labels_val) -> bool:
        score = self._score_labels(labels_val, self._labels_from(_apply(net, params, x_val)))
        self.validation_scores_ = [*self.validation_scores_, score]
        if self.verbose:
            print(f"Validation score: {score:f}")
        improved = score >= self.best_validation_score_ + self.tol
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_params = jax.tree.map(jnp.copy, params)  # params are donated next epoch
        return improved

    # -- prediction ------------------------------------------------------------------------------

    def _forward(self, X) -> np.ndarray:
        """Network outputs ``(n, K)`` as float64, from the jitted apply."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return _apply(self.net_, self.params_, X.astype(np.float32))


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier: softmax and cross-entropy for multiclass labels,
    sigmoid and binary cross-entropy for two classes and for multilabel indicators ``(n, K)``.

    Parameters as ``sklearn.neural_network.MLPClassifier`` (see the module docstring for what
    differs), plus ``backprop="hand" | "autodiff"``, the gradient source. ``activation`` is any
    of ``jaxmlp.activations.names()`` (or one per hidden layer), with ``"logistic"`` for sigmoid;
    ``solver`` is ``"sgd"`` (with ``momentum`` and ``nesterovs_momentum``), ``"adam"``, or
    jaxmlp's ``"momentum"``, ``"nesterov"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``.
    """

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X, y``, continuing the parameters and optimizer state. The first
        call needs ``classes``, every label that any call will see."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True)

    def _targets(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental and set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start needs y to have the classes of the previous fit "
                    f"{self.classes_.tolist()}, got {classes.tolist()}."
                )
            if len(np.setdiff1d(classes, self.classes_)):
                raise ValueError(
                    f"y has classes {np.setdiff1d(classes, self.classes_).tolist()} that are not "
                    f"in classes_ {self.classes_.tolist()}."
                )
        t = self._label_binarizer.transform(y).astype(np.float32)
        return X.astype(np.float32), t, y

    def _output_loss(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "bce"

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _labels_from(self, y) -> np.ndarray:
        return self._label_binarizer.inverse_transform(y.ravel() if y.shape[1] == 1 else y)

    def _score_labels(self, labels, predicted) -> float:
        return accuracy_score(labels, predicted)

    def predict(self, X):
        """Class labels ``(n,)``, or a label indicator ``(n, K)`` for multilabel ``y``."""
        return self._labels_from(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities ``(n, n_classes)`` in the order of ``classes_`` (per-label
        probabilities ``(n, K)`` for multilabel ``y``)."""
        y = self._forward(X)
        return np.hstack([1 - y, y]) if self.n_outputs_ == 1 else y

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor: identity output, ``loss`` one of ``"squared_error"``
    (1/2 sum_k (y_k - t_k)^2, the cost scikit-learn descends), ``"absolute_error"``
    (mean_k |y_k - t_k|) or ``"huber"`` (mean_k huber_1), averaged over examples.

    Other parameters as ``MLPClassifier``; ``y`` may be ``(n,)`` or ``(n, K)``.
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
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
        n_iter_no_change=10,
        backprop="hand",
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            backprop=backprop,
        )
        self.loss = loss

    def partial_fit(self, X, y):
        """One epoch over ``X, y``, continuing the parameters and optimizer state."""
        return self._fit(X, y, incremental=True)

    def _check_settings(self) -> None:
        _check_choice("loss", self.loss, tuple(REGRESSION_LOSSES))
        super()._check_settings()

    def _targets(self, X, y, incremental, reset):
        del incremental
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X.astype(np.float32), y.reshape(len(y), -1).astype(np.float32), y

    def _output_loss(self):
        return "identity", REGRESSION_LOSSES[self.loss]

    def _out_activation(self):
        return "identity"

    def _labels_from(self, y) -> np.ndarray:
        return y.ravel() if y.shape[1] == 1 else y

    def _score_labels(self, targets, predicted) -> float:
        return r2_score(targets, predicted)

    def predict(self, X):
        """Predictions ``(n,)`` for one output, ``(n, K)`` for K, as float64."""
        return self._labels_from(self._forward(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _glorot_uniform(net, rng) -> list[dict]:
    """scikit-learn's starting point, drawn from ``rng`` in its order (weights, then biases,
    layer by layer): both uniform in +-sqrt(6 / (fan_in + fan_out)), +-sqrt(2 / ...) when the
    hidden activation is the logistic sigmoid; a PReLU slope starts at its usual 0.25."""
    factor = 2.0 if net.activation == "sigmoid" else 6.0
    params = []
    for l, (fan_in, fan_out) in enumerate(zip(net.sizes, net.sizes[1:])):
        bound = np.sqrt(factor / (fan_in + fan_out))
        w = rng.uniform(-bound, bound, (fan_in, fan_out))
        b = rng.uniform(-bound, bound, fan_out)
        layer = {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}
        if l < len(net.sizes) - 2 and activations.get(net.hidden_activations[l]).learnable:
            layer["alpha"] = jnp.full(fan_out, activations.PRELU_INIT, jnp.float32)
        params.append(layer)
    return params


# -- validation helpers --------------------------------------------------------------------------


def _readonly(a) -> np.ndarray:
    a = np.asarray(a)
    a.flags.writeable = False
    return a


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _check_choice(name, value, allowed) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}.")


def _check_real(name, value, low, high=None, low_open=False) -> None:
    ok = _is_real(value) and (value > low if low_open else value >= low)
    ok = ok and (high is None or value < high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {'inf)' if high is None else f'{high})'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
