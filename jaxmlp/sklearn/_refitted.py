"""A search as an estimator, as ``GridSearchCV`` is one: its estimator's tags (a classifier's
search is a classifier, so ``cross_val_score`` splits it with stratified folds), and the
methods and attributes of the best estimator it refits, available (``hasattr``) as
``GridSearchCV``'s are: before ``fit`` where the estimator has them and ``refit`` is set.
``GridSearchCV``'s own rules decide it (``_search_estimator_has``, ``_check_refit``)."""

from copy import deepcopy

from sklearn.model_selection._search import _check_refit, _search_estimator_has
from sklearn.utils import get_tags
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_is_fitted

from jaxmlp.sklearn import _routing


class RefittedMixin:
    """``predict``, ``predict_proba``, ``predict_log_proba``, ``score``, ``classes_``,
    ``n_features_in_``, ``feature_names_in_`` and the tags of a search with ``estimator``,
    ``refit``, and once fitted ``best_estimator_`` (with refit) and ``scorer_``."""

    def __sklearn_tags__(self):
        """``GridSearchCV``'s: its estimator's kind and the inputs it takes."""
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.input_tags.pairwise = inner.input_tags.pairwise
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.array_api_support = inner.array_api_support
        return tags

    @available_if(_search_estimator_has("predict"))
    def predict(self, X):
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_search_estimator_has("predict_proba"))
    def predict_proba(self, X):
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    def score(self, X, y, **params):
        """The best estimator's score by ``scoring`` (``scorer_``); an AttributeError without
        ``refit``, as ``GridSearchCV``'s. ``params`` go to the scorer with metadata routing
        (``_routing.for_score``; without it they are its ValueError)."""
        _check_refit(self, "score")
        check_is_fitted(self)
        return self.scorer_(self.best_estimator_, X, y, **_routing.for_score(self, params))

    @property
    def classes_(self):
        _search_estimator_has("classes_")(self)
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        return self.best_estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        return self.best_estimator_.feature_names_in_
