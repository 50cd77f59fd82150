"""The loss the estimators report and stop on is scikit-learn 1.9's: for K squared-error
outputs its ``squared_loss`` averages over the K outputs as well as the rows, 1/K of the cost
both libraries descend (1/2 sum_k (y_k - t_k)^2), and ``tol`` compares against that number."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

from jaxmlp.sklearn import MLPClassifier, MLPRegressor

SETTINGS = dict(hidden_layer_sizes=(16,), random_state=0, max_iter=500, learning_rate_init=0.01)


def _data():
    x, y = make_regression(200, 5, n_targets=4, noise=5, random_state=0)
    return x, y / 100


def _reported(est, x, y):
    """scikit-learn's definition: ((y - t)^2).mean() / 2 over every element, plus the L2 term
    alpha / (2 n) sum |w|^2."""
    penalty = est.alpha / (2 * len(x)) * sum(np.sum(w**2) for w in est.coefs_)
    return 0.5 * np.mean((est.predict(x) - y) ** 2) + penalty


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_multi_output_squared_error_stops_on_scikit_learn_s_iteration(solver):
    """Before: loss_curve_ was K = 4 times scikit-learn's and the tol stop fired at 214 (sgd)
    and 233 (adam) iterations instead of its 125 and 130, with other weights and scores."""
    x, y = _data()
    theirs = neural_network.MLPRegressor(solver=solver, **SETTINGS).fit(x, y)
    ours = MLPRegressor(solver=solver, **SETTINGS).fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_ < SETTINGS["max_iter"]  # the tol stop fired
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-12)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=1e-10)


@pytest.mark.slow  # optax's line search compiles for a while
def test_lbfgs_reports_scikit_learn_s_multi_output_loss():
    """lbfgs descends the cost whose gradient scikit-learn hands scipy and reports (and tests
    its relative decrease on) scikit-learn's number; before, loss_ was the cost, ~K times it."""
    x, y = _data()
    settings = SETTINGS | dict(solver="lbfgs", alpha=0.01, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = neural_network.MLPRegressor(**settings).fit(x, y)
        ours = MLPRegressor(**settings).fit(x, y)
    assert theirs.loss_ == pytest.approx(_reported(theirs, x, y), rel=1e-10)
    assert ours.loss_ == pytest.approx(_reported(ours, x, y), rel=1e-10)
    assert ours.loss_ < 2 * theirs.loss_
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=0.02)


def _unscaled(n=200, seed=0):
    """Features of scale 1000 (not standardised) and 6 flipped labels: the flipped rows end up
    confidently wrong, their probability of the true class below float64's eps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)) * 1000
    y = (x[:, 0] > 0).astype(int)
    y[:6] = 1 - y[:6]
    return x, y


def _clipped_log_loss(est, x, y):
    """scikit-learn's reported log loss: probabilities clipped to [eps, 1 - eps], plus the L2
    term alpha / (2 n) sum |w|^2."""
    eps = np.finfo(np.float64).eps
    p = np.clip(est.predict_proba(x), eps, 1 - eps)[np.arange(len(y)), y]
    penalty = est.alpha / (2 * len(x)) * sum(np.sum(w**2) for w in est.coefs_)
    return -np.mean(np.log(p)) + penalty


@pytest.mark.slow
@pytest.mark.parametrize("labels", [2, 3])
def test_a_confidently_wrong_example_adds_scikit_learn_s_clipped_log_loss(labels):
    """scikit-learn reports (and stops on) its log loss of probabilities clipped to [eps,
    1 - eps], while it steps with the unclipped gradient y - t. Before, loss_curve_ was the
    unclipped cross-entropy (5.76 against its 2.58 on the last epoch, binary): the tol stop
    fired at 53 iterations instead of 22, other weights (0.49 apart), another training score."""
    x, y = _unscaled()
    y = y if labels == 2 else np.where(x[:, 1] > 1000, 2, y)
    settings = dict(hidden_layer_sizes=(8,), learning_rate_init=0.1, max_iter=300, random_state=0)
    theirs = neural_network.MLPClassifier(**settings).fit(x, y)
    ours = MLPClassifier(**settings).fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_ < settings["max_iter"]  # the tol stop fired
    # inputs of 1000 grow the last bits of the steps' rounding: 3e-10 after 48 epochs
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)
    assert max(ours.loss_curve_) > 10  # some example's -log(p) met the clip at 36
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-7)


@pytest.mark.slow  # optax's line search compiles for a while
def test_lbfgs_reports_scikit_learn_s_clipped_log_loss():
    x, y = _unscaled()
    settings = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**settings).fit(x, y)
    assert ours.loss_ == pytest.approx(_clipped_log_loss(ours, x, y), rel=1e-10)
