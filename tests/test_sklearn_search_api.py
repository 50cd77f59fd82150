"""PopulationSearchCV answers as GridSearchCV does where a caller reads it: the dtypes of the
``param_*`` columns, the best estimator's ``predict_log_proba``, ``n_features_in_`` and
``feature_names_in_``, its estimator's tags and methods before it is fitted, and the errors of a
search with no candidates and of a splitter that miscounts its splits."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid, cross_val_score
from sklearn.utils import get_tags

from jaxmlp.sklearn import MLPClassifier, MLPRegressor, PopulationSearchCV
from jaxmlp.sklearn._cv_results import param_columns, score

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CLF = MLPClassifier((2,), solver="sgd", max_iter=1, batch_size=10, random_state=0)
ROW = np.zeros((1, 3)), np.zeros(1)  # rows a scorer is handed


def _frame(n=30):
    x = pd.DataFrame(np.random.default_rng(0).normal(size=(n, 3)), columns=["a", "b", "c"])
    return x, np.arange(n) % 2


@pytest.fixture(scope="module")
def searches():
    """``(ours, theirs)`` over one float parameter on a DataFrame; ~3 s (a population's
    compile), shared by the tests that read them."""
    x, y = _frame()
    grid = {"learning_rate_init": [0.01, 0.1]}
    return [make(CLF, grid, cv=2).fit(x, y) for make in (PopulationSearchCV, GridSearchCV)]


def test_param_columns_have_grid_search_cv_s_dtypes():
    """scikit-learn >= 1.5 gives a column whose values are all numbers (or all bools) their
    NumPy dtype, masked where a candidate lacks the parameter; before: every column object.
    GridSearchCV's columns from a quick estimator with the same parameter names."""
    grid = [{"alpha": [0.01, 0.1], "max_iter": [1, 2]}, {"shuffle": [False], "penalty": ["l1"]}]
    theirs = GridSearchCV(SGDClassifier(), grid, cv=2).fit(*_frame()).cv_results_
    ours = param_columns(list(ParameterGrid(grid)))
    assert list(ours) == [k for k in theirs if k.startswith("param_")]
    for name, column in ours.items():
        assert column.dtype == theirs[name].dtype, name
        np.testing.assert_array_equal(column.mask, theirs[name].mask, name)
        assert list(column.compressed()) == list(theirs[name].compressed()), name
    assert [c.dtype.kind for c in ours.values()] == ["f", "i", "O", "b"]


@pytest.mark.slow  # the searches fixture: a population's compile, ~3 s on 2 cores
def test_a_search_s_param_column_is_grid_search_cv_s_float64(searches):
    """Before: object (``np.ma.masked_all(n, object)``) where GridSearchCV's is float64."""
    ours, theirs = searches
    column = "param_learning_rate_init"
    assert ours.cv_results_[column].dtype == theirs.cv_results_[column].dtype == np.float64


@pytest.mark.slow  # the searches fixture: a population's compile, ~3 s on 2 cores
def test_a_search_has_every_fitted_attribute_of_grid_search_cv(searches):
    """Before: no ``multimetric_`` (GridSearchCV's: whether the scorers give several metrics),
    an AttributeError for a caller that reads it."""
    ours, theirs = searches
    fitted = {k for k in vars(theirs) if k.endswith("_") and not k.startswith("_")}
    assert {k for k in fitted if not hasattr(ours, k)} == set()
    assert ours.multimetric_ is theirs.multimetric_ is False


@pytest.mark.slow  # the searches fixture: a population's compile, ~3 s on 2 cores
def test_the_best_estimator_s_log_proba_and_columns_are_delegated(searches):
    """Before: AttributeError for predict_log_proba, n_features_in_ and feature_names_in_."""
    ours, theirs = searches
    x, y = _frame()
    np.testing.assert_allclose(ours.predict_log_proba(x), theirs.predict_log_proba(x))
    assert ours.n_features_in_ == theirs.n_features_in_ == 3
    assert list(ours.feature_names_in_) == list(theirs.feature_names_in_) == ["a", "b", "c"]
    unfitted = PopulationSearchCV(CLF, {"alpha": [0.1]})
    not_refitted = PopulationSearchCV(CLF, {"alpha": [0.1]}, cv=2, refit=False).fit(x, y)
    for search in (unfitted, not_refitted):  # no best estimator: none of them, as GridSearchCV
        for name in ("n_features_in_", "feature_names_in_"):
            assert not hasattr(search, name), name
    assert not hasattr(not_refitted, "predict_log_proba")


@pytest.mark.parametrize("estimator", [CLF, MLPRegressor((2,), max_iter=1)], ids=type)
def test_a_search_has_its_estimator_s_tags_as_grid_search_cv(estimator):
    """Before: the tags of no kind of estimator: ``is_classifier`` was False for a classifier's
    search (``is_regressor`` for a regressor's), so ``cross_val_score`` split it with KFold, not
    StratifiedKFold (test_nested_cross_validation_scores_as_grid_search_cv's)."""
    grid = {"alpha": [0.1]}
    ours, theirs = (make(estimator, grid) for make in (PopulationSearchCV, GridSearchCV))
    assert get_tags(ours) == get_tags(theirs)
    kind = is_classifier if estimator is CLF else is_regressor
    assert kind(ours) and kind(theirs)


@pytest.mark.parametrize("refit", [True, False])
def test_an_unfitted_search_has_grid_search_cv_s_methods(refit):
    """Before: none of them before fit (hasattr False, as if the estimator lacked them), so
    ``cross_val_score(search, x, y)`` raised check_scoring's TypeError ("should have a 'score'
    method"). GridSearchCV's: those of the estimator where refit; without it no predictions,
    and a ``score`` that says refit=False."""
    grid = {"alpha": [0.1]}
    ours, theirs = (make(CLF, grid, refit=refit) for make in (PopulationSearchCV, GridSearchCV))
    for name in ("predict", "predict_proba", "predict_log_proba"):
        assert hasattr(ours, name) == hasattr(theirs, name) == refit, name
    for search in (ours, theirs):  # not fitted (NotFittedError), or not refitted
        with pytest.raises(AttributeError, match="not fitted yet" if refit else "refit=False"):
            search.score(np.zeros((2, 3)), [0, 1])


@pytest.mark.slow  # six searches, each a population's compile and a refit: ~8 s on 2 cores
def test_nested_cross_validation_scores_as_grid_search_cv():
    """A search scored by ``cross_val_score``: three classes in sorted rows, whose unshuffled
    KFold leaves each test fold's class out of its training rows. Before: the search was no
    classifier (KFold: accuracy 0.0 on every fold, silently) and without ``scoring`` a
    TypeError; now StratifiedKFold's folds, and GridSearchCV's scores."""
    x = np.random.default_rng(0).normal(size=(30, 3))
    y = np.repeat([0, 1, 2], 10)
    x[:, 0] += y
    for scoring in (None, "accuracy"):
        ours, theirs = (
            cross_val_score(make(CLF, {"alpha": [0.1]}, cv=2), x, y, cv=3, scoring=scoring)
            for make in (PopulationSearchCV, GridSearchCV)
        )
        np.testing.assert_allclose(ours, theirs)
        assert ours.min() > 0, ours


def test_a_grid_without_candidates_is_grid_search_cv_s_value_error():
    """Before: NumPy's "attempt to get argmin of an empty sequence"."""
    x, y = _frame()
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="No fits were performed.*no candidates"):
            make(CLF, [], cv=2).fit(x, y)


class _MiscountedKFold(KFold):
    """A splitter whose ``get_n_splits`` says one split more than ``split`` gives."""

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits + 1


def test_a_splitter_that_miscounts_its_splits_is_grid_search_cv_s_value_error():
    """GridSearchCV refuses a cv whose ``split`` and ``get_n_splits`` disagree. Before: the
    population search trained and scored the splits it got, silently."""
    x, y = _frame()
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="inconsistent results. Expected 3 splits, got 2"):
            make(CLF, {"alpha": [1e-4]}, cv=_MiscountedKFold(2)).fit(x, y)


@pytest.mark.parametrize("returned", [None, "0.5", [0.5, 0.5]], ids=["None", "str", "list"])
def test_a_scorer_that_returns_no_number_is_grid_search_cv_s_value_error(returned):
    """Before: None stored as a NaN score (silently: every point ranked 1), the others NumPy's
    errors from storing them. GridSearchCV's ValueError, with error_score or without."""
    for error_score in (np.nan, "raise"):
        with pytest.raises(ValueError, match="scoring must return a number, got"):
            score(lambda est, x, y: returned, CLF, *ROW, error_score)


def test_a_scorer_that_returns_several_metrics_is_refused_by_name():
    """A callable may return a dict of metrics to GridSearchCV (several metrics); the
    population search scores one. Before: float()'s TypeError "not 'dict'"."""
    with pytest.raises(ValueError, match=r"one metric.*returned 2: \['a', 'b'\]"):
        score(lambda est, x, y: {"a": 0.5, "b": np.float64(1.0)}, CLF, *ROW, np.nan)
    assert score(lambda est, x, y: np.array(0.5), CLF, *ROW, np.nan) == 0.5
