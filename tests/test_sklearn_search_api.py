"""PopulationSearchCV answers as GridSearchCV does where a caller reads it: the dtypes of the
``param_*`` columns, the best estimator's ``predict_log_proba``, ``n_features_in_`` and
``feature_names_in_``, and the error of a search with no candidates."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV, ParameterGrid

from jaxmlp.sklearn import MLPClassifier, PopulationSearchCV
from jaxmlp.sklearn._cv_results import param_columns

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CLF = MLPClassifier((2,), solver="sgd", max_iter=1, batch_size=10, random_state=0)


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
        for name in ("predict_log_proba", "n_features_in_", "feature_names_in_"):
            assert not hasattr(search, name), name


def test_a_grid_without_candidates_is_grid_search_cv_s_value_error():
    """Before: NumPy's "attempt to get argmin of an empty sequence"."""
    x, y = _frame()
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="No fits were performed.*no candidates"):
            make(CLF, [], cv=2).fit(x, y)
