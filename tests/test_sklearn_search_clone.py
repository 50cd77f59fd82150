"""PopulationSearchCV clones each grid value per fit, as GridSearchCV does
(``clone(params, safe=False)``): a ``RandomState`` in the grid was shared by the folds and the
refit, and advanced in the user's hands, so the scores were not GridSearchCV's."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV

from jaxmlp.sklearn import MLPClassifier, PopulationSearchCV


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short on purpose
def test_a_random_state_object_in_the_grid_scores_as_grid_search_cv_and_is_left_untouched():
    x, y = load_iris(return_X_y=True)
    clf = MLPClassifier((4,), max_iter=10, learning_rate_init=0.05)
    fresh = np.random.RandomState(0).get_state()
    searches, states = [], []
    for search in (PopulationSearchCV, GridSearchCV):
        state = np.random.RandomState(0)
        searches.append(search(clf, {"random_state": [state]}, cv=3).fit(x, y))
        states.append(state)
    ours, theirs = searches
    for key in ("split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], key)
    for a, b in zip(ours.best_estimator_.coefs_, theirs.best_estimator_.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    for state in states:  # the user's object: never drawn from
        assert all(np.array_equal(a, b) for a, b in zip(state.get_state(), fresh, strict=True))
