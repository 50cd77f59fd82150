"""``MLPClassifier`` and ``MLPRegressor``: what scikit-learn's targets ask of the network."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._available_if import available_if
from sklearn.utils._missing import is_pandas_na
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d, validate_data

from jaxmlp import losses, outputs
from jaxmlp.sklearn import _params
from jaxmlp.sklearn._base import BaseMLP


def _stochastic(est) -> bool:
    """scikit-learn's rule for ``partial_fit``: only with a stochastic solver."""
    if est.solver not in _params.STOCHASTIC_SOLVERS:
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            f"{est.solver} is not stochastic."
        )
    return True


def _validate(est, X, y, reset, **kwargs):
    _refuse_none(y)
    X, y = validate_data(
        est,
        X,
        y,
        accept_sparse=["csr", "csc"],
        multi_output=True,
        dtype=(np.float64, np.float32),
        reset=reset,
        **kwargs,
    )
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    return X, y


def _refuse_none(y) -> None:
    """A ValueError naming the rows of ``y`` that hold None or ``pd.NA`` (an object or pandas
    ``string`` column): scikit-learn's checks pass None, then a regressor reads it as NaN (and
    diverges) and a classifier calls its labels unknown; pd.NA fails them with pandas'
    TypeError "boolean value of NA is ambiguous"."""
    y = y if sp.issparse(y) else np.asarray(y)
    if y.dtype != object or y.ndim not in (1, 2):
        return
    kinds = _missing(y).reshape(len(y), -1)
    rows = np.flatnonzero((kinds != "").any(axis=1))
    if len(rows):
        first = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        what = ", ".join(k for k in ("None", "pd.NA") if (kinds == k).any())
        raise ValueError(
            f"y has missing values ({what}) in {len(rows)} row(s), rows [{first}]: every row of "
            "X needs a target (a number, or a label for a classifier); drop those rows or fill "
            "them in."
        )


_missing = np.frompyfunc(
    lambda v: "None" if v is None else "pd.NA" if is_pandas_na(v) else "", 1, 1
)


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multilayer perceptron classifier: softmax and cross-entropy for multiclass labels,
    sigmoid and binary cross-entropy for two classes and for multilabel indicators ``(n, K)``.

    Parameters as ``sklearn.neural_network.MLPClassifier`` (README.md lists what differs), plus
    ``backprop="hand" | "autodiff"``, the gradient source. ``activation`` is any activation
    spec ``jaxmlp.MLP`` takes (a name of ``jaxmlp.activations.names()``, ``"leaky_relu:0.2"``,
    ``"tanh*3+relu*5"``...), or one per hidden layer, with ``"logistic"`` for sigmoid;
    ``solver`` is ``"lbfgs"``, ``"sgd"``, ``"adam"``, or jaxmlp's ``"momentum"``,
    ``"nesterov"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``.
    """

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X, y`` (weighted by ``sample_weight``), continuing the parameters
        and optimizer state (cast to X's dtype when it differs from the weights': scikit-learn
        keeps theirs). The first call needs ``classes``, every label that any call will see."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _targets(self, X, y, incremental, reset):
        X, y = _validate(self, X, y, reset)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(X.dtype), y

    def _output_loss(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "bce"

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _labels_from(self, y) -> np.ndarray:
        return self._label_binarizer.inverse_transform(y.ravel() if y.shape[1] == 1 else y)

    def _score_labels(self, labels, predicted, sample_weight=None) -> float:
        return accuracy_score(labels, predicted, sample_weight=sample_weight)

    def predict(self, X):
        """Class labels ``(n,)``, or a label indicator ``(n, K)`` for multilabel ``y``. A
        ValueError for rows whose outputs are not finite (``outputs.check_decided``)."""
        y = self._forward(X)
        outputs.check_decided(y)
        return self._labels_from(y)

    def predict_proba(self, X):
        """Class probabilities ``(n, n_classes)`` in the order of ``classes_`` (per-label
        probabilities ``(n, K)`` for multilabel ``y``), in the dtype of X and the weights. A
        fit on one class gives ``(n, 2)``, as scikit-learn's: ``1 - y``, that class's
        probability, and the output ``y`` that its targets of 0 drive down
        (tests/test_sklearn_targets.py). A ValueError for rows whose outputs are not finite, as
        ``predict``."""
        y = self._forward(X)
        outputs.check_decided(y)
        return np.hstack([1 - y, y]) if self.n_outputs_ == 1 else y

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multilayer perceptron regressor: identity output, ``loss`` one of ``"squared_error"``
    (1/2 sum_k (y_k - t_k)^2, the cost scikit-learn descends; ``loss_`` is 1/K of it, as
    scikit-learn reports it), ``"absolute_error"``
    (mean_k |y_k - t_k|) or ``"huber"`` (mean_k huber_1), averaged over examples; or
    ``"poisson"``, scikit-learn's half Poisson deviance sum_k (y_k - t_k log y_k + t_k log t_k -
    t_k) with the exp output y = e^z, for counts ``y >= 0``.

    Other parameters as ``MLPClassifier``; ``y`` may be ``(n,)`` or ``(n, K)``, dense or
    scipy.sparse (densified).
    """

    _parameter_constraints = _params.REGRESSOR_CONSTRAINTS

    def __init__(
        self,
        loss="squared_error",
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
        kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__", "loss")}
        super().__init__(**kwargs)
        self.loss = loss

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X, y`` (weighted by ``sample_weight``), continuing the parameters
        and optimizer state (cast to X's dtype when it differs from the weights': scikit-learn
        keeps theirs)."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _targets(self, X, y, incremental, reset):
        del incremental
        y = y.toarray() if sp.issparse(y) else y  # targets (n, K) as their values
        X, y = _validate(self, X, y, reset, y_numeric=True)  # an object y: float64
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"MLPRegressor needs numeric y (bool, integer or float), got dtype {y.dtype}: "
                "convert it explicitly, y.astype(float) for numbers written as strings."
            )
        losses.check_targets(self._output_loss()[1], y)  # poisson: counts >= 0
        return X, y.reshape(len(y), -1).astype(X.dtype), y

    def _output_loss(self):
        return _params.REGRESSION_LOSSES[self.loss]

    def _out_activation(self):
        return _params.REGRESSION_LOSSES[self.loss][0]  # scikit-learn's names: identity, exp

    def _labels_from(self, y) -> np.ndarray:
        return y.ravel() if y.shape[1] == 1 else y

    def _score_labels(self, targets, predicted, sample_weight=None) -> float:
        return r2_score(targets, predicted, sample_weight=sample_weight)

    def predict(self, X):
        """Predictions ``(n,)`` for one output, ``(n, K)`` for K, in the dtype of X and the
        weights. A ValueError for rows whose outputs are not finite (an output past the
        dtype's largest number, or NaN), as the classifier's ``predict``."""
        y = self._forward(X)
        outputs.check_decided(y)
        return self._labels_from(y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags
