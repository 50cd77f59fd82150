"""scikit-learn's epoch bookkeeping for the stochastic solvers (sgd, adam), a mixin of
``BaseMLP``: after each epoch the counters and the loss curve, the stopping rule (on the training
loss, or with early stopping on the score of a held-out split) and sgd's learning-rate rules.
"""

import warnings

import jax
import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from jaxmlp.sklearn import _solvers
from jaxmlp.sklearn._forward import apply


class StoppingMixin:
    """The estimator's epochs as scikit-learn counts them. The estimator gives its parameters,
    ``net_``, ``params_``, ``loss_curve_``, ``_labels_from(y)`` and ``_score_labels(labels,
    predicted, sample_weight)``."""

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
        self._count_no_improvement(params, x_val, labels_val, s_val)
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
        adaptive: eta / 5 when the stopping rule fires, until eta <= 1e-6) and its stop, by the
        settings of the optimizer the fit keeps (``_opt_settings``, ``_solvers.Settings``).
        Returns ``(opt_state, stop)``."""
        kept = self._opt_settings
        sgd = kept.solver == "sgd"
        if sgd and kept.learning_rate == "invscaling":
            try:
                eta = kept.learning_rate_init / (self.t_ + 1) ** kept.power_t
            except OverflowError:  # (t_ + 1)^power_t past float64's largest: the quotient is 0
                eta = 0.0
            opt_state = _solvers.set_hyperparams(opt_state, dtype, learning_rate=eta)
        if self._no_improvement_count <= self.n_iter_no_change:
            return opt_state, False
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (
            f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
            "consecutive epochs."
        )
        eta = _solvers.hyperparam(opt_state, "learning_rate")
        if not (sgd and kept.learning_rate == "adaptive"):
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

    def _count_no_improvement(self, params, x_val, labels_val, s_val=None) -> None:
        """scikit-learn's comparisons as it writes them, so that a NaN loss or score counts as
        it does there (as an improvement: ``nan > best - tol`` is False). The score is NaN, as
        there, where predictions that are numbers are not finite (a regressor's); a classifier
        scores the labels its outputs give, finite or not."""
        if x_val is None:
            loss = self.loss_curve_[-1]
            self._no_improvement_count = (
                self._no_improvement_count + 1 if loss > self.best_loss_ - self.tol else 0
            )
            self.best_loss_ = loss if loss < self.best_loss_ else self.best_loss_
            return
        predicted = self._labels_from(apply(self.net_, params, x_val))
        floating = np.issubdtype(predicted.dtype, np.floating)  # a classifier's: its classes
        score = (
            np.nan
            if floating and not np.isfinite(predicted).all()
            else self._score_labels(labels_val, predicted, s_val)
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
