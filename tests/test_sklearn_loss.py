"""The loss the estimators report and stop on is scikit-learn 1.9's: for K squared-error
outputs its ``squared_loss`` averages over the K outputs as well as the rows, 1/K of the cost
both libraries descend (1/2 sum_k (y_k - t_k)^2), and ``tol`` compares against that number."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

from jaxmlp.sklearn import MLPRegressor

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
