"""PopulationSearchCV takes fit parameters as GridSearchCV does: ``fit(X, y, sample_weight=w)``
weighs each member's training rows by its fold's part of ``w``, scores each held-out fold with
its weights (where the scorer takes them), and refits the best point on all of ``w``; with
``enable_metadata_routing`` the weights go where the estimator and the scorer request them.
Before, any fit parameter was refused, and ``score(X, y, sample_weight=w)`` was a TypeError."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV, KFold

from jaxmlp.sklearn import MLPClassifier, MLPRegressor, PopulationSearchCV

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CLF = MLPClassifier((4,), solver="sgd", batch_size=16, max_iter=6, random_state=0)
REG = MLPRegressor(hidden_layer_sizes=(4,), batch_size=16, max_iter=6, random_state=0)
GRID = {"learning_rate_init": [0.02, 0.2]}


def _classification(n=60):
    x, y = make_classification(n, 3, n_informative=3, n_redundant=0, random_state=0)
    return x, y, np.random.default_rng(1).uniform(0.1, 3.0, n)


def _regression(n=60):
    x, y = make_regression(n, 3, noise=1.0, random_state=0)
    return x, y / y.std(), np.random.default_rng(1).uniform(0.1, 3.0, n)


def _same(ours, theirs, rtol):
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key], rtol, 0)
    assert ours.best_params_ == theirs.best_params_
    for a, b in zip(ours.best_estimator_.coefs_, theirs.best_estimator_.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.slow  # each trains populations and GridSearchCV's solo fits (compiles: ~15 s)
@pytest.mark.parametrize(
    "est, data, rtol", [(CLF, _classification, 0.0), (REG, _regression, 1e-10)], ids=["clf", "reg"]
)
def test_sample_weight_trains_scores_and_refits_as_grid_search_cv(est, data, rtol):
    x, y, w = data()
    ours = PopulationSearchCV(est, GRID, cv=2).fit(x, y, sample_weight=w)
    theirs = GridSearchCV(est, GRID, cv=2).fit(x, y, sample_weight=w)
    _same(ours, theirs, rtol)
    unweighted = GridSearchCV(est, GRID, cv=2).fit(x, y)
    assert not np.allclose(
        ours.cv_results_["mean_test_score"], unweighted.cv_results_["mean_test_score"]
    )


@pytest.mark.slow
def test_train_scores_are_weighted_as_grid_search_cv_s():
    x, y, w = _regression()
    runs = [
        make(REG, GRID, cv=2, return_train_score=True).fit(x, y, sample_weight=w)
        for make in (PopulationSearchCV, GridSearchCV)
    ]
    for key in ("split0_train_score", "split1_train_score"):
        np.testing.assert_allclose(runs[0].cv_results_[key], runs[1].cv_results_[key], 1e-10)


@pytest.mark.slow
def test_a_scorer_without_sample_weight_warns_and_scores_unweighted_as_grid_search_cv():
    x, y, w = _classification()
    plain = lambda est, x, y: float(np.mean(est.predict(x) == y))  # noqa: E731
    runs = []
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.warns(UserWarning, match="does not support sample_weight"):
            runs.append(make(CLF, GRID, cv=2, scoring=plain).fit(x, y, sample_weight=w))
    _same(*runs, 0.0)


def test_a_fit_parameter_the_estimator_does_not_take_is_named():
    x, y, _ = _classification()
    search = PopulationSearchCV(CLF, GRID, cv=2)
    with pytest.raises(ValueError, match=r"\['classes'\].*sample_weight"):
        search.fit(x, y, classes=[0, 1])


def test_bad_sample_weights_are_the_estimator_s_value_error():
    x, y, w = _classification()
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        PopulationSearchCV(CLF, GRID, cv=2).fit(x, y, sample_weight=-w)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(59,\), expected \(60,\)"):
        PopulationSearchCV(CLF, GRID, cv=2).fit(x, y, sample_weight=w[1:])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Scoring failed:UserWarning")  # the held-out folds of 0s
def test_a_split_whose_training_weights_are_all_0_scores_error_score_as_grid_search_cv():
    """GridSearchCV scores a fit that refuses its fold's weights (all 0) error_score, with its
    FitFailedWarning, and goes on; with error_score="raise" it raises the fit's ValueError.
    The population search stopped the whole search with that ValueError instead."""
    x, y, w = _classification()
    w[20:] = 0  # KFold(3)'s first split trains on rows 20-59 alone; the others score on 0s
    runs = []
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.warns(FitFailedWarning, match="2 fits failed out of a total of 6"):
            runs.append(make(CLF, GRID, cv=KFold(3), error_score=-1.0).fit(x, y, sample_weight=w))
    ours, theirs = runs
    for key in ("split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key])
    np.testing.assert_array_equal(ours.cv_results_["split0_test_score"], -1.0)
    assert ours.best_index_ == theirs.best_index_
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="at least one non-zero"):
            make(CLF, GRID, cv=KFold(3), error_score="raise").fit(x, y, sample_weight=w)


@pytest.mark.slow
def test_score_with_sample_weight_is_grid_search_cv_s_value_error_without_routing():
    x, y, w = _classification()
    for make in (PopulationSearchCV, GridSearchCV):
        search = make(CLF, GRID, cv=2).fit(x, y)
        with pytest.raises(ValueError, match="only supported if enable_metadata_routing=True"):
            search.score(x, y, sample_weight=w)


@pytest.mark.slow
def test_metadata_routing_sends_the_weights_where_they_are_requested_as_grid_search_cv():
    x, y, w = _classification()
    with sklearn.config_context(enable_metadata_routing=True):
        for make in (PopulationSearchCV, GridSearchCV):  # nothing requested: refused
            with pytest.raises(ValueError, match="sample_weight"):
                make(CLF, GRID, cv=2).fit(x, y, sample_weight=w)
        est = clone(CLF).set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        for scoring in (None, scorer):
            runs = [
                make(est, GRID, cv=2, scoring=scoring).fit(x, y, sample_weight=w)
                for make in (PopulationSearchCV, GridSearchCV)
            ]
            _same(*runs, 0.0)
            got, want = (r.score(x[:20], y[:20], sample_weight=w[:20]) for r in runs)
            assert got == want
