"""PopulationSearchCV: a grid search whose fits train as populations gives GridSearchCV's
results over the same estimator fitted one by one.

The members train in one vmapped program; XLA compiles it with other fusions and reduction
orders than the solo program, so a member's weights agree with its solo fit's to float rounding
grown over the epochs (the bounds below: ~4 float32 ulps of the weights' scale per 10 epochs),
while its epochs (the stopping rule) and the cross-validation scores are equal exactly here.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_classification, make_regression
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from jaxmlp.arrays import precision
from jaxmlp.sklearn import MLPClassifier, MLPRegressor, PopulationSearchCV
from jaxmlp.sklearn._population import train as _train

IGNORE_CONVERGENCE = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"  # short runs on purpose
)


def _digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


def _same_results(ours, theirs, n_splits, rtol=0.0):
    """The same scores: exactly (accuracy: counts), or to ``rtol`` (a continuous score of
    weights equal up to float rounding)."""
    for key in [f"split{f}_test_score" for f in range(n_splits)] + ["mean_test_score"]:
        np.testing.assert_allclose(
            ours.cv_results_[key], theirs.cv_results_[key], rtol, 0, True, key
        )
    for key in ("rank_test_score", "params"):
        assert list(ours.cv_results_[key]) == list(theirs.cv_results_[key]), key
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(ours.best_score_, theirs.best_score_, rtol)


@pytest.mark.slow  # 20 solo fits and 20 members, compiled for two fold sizes: ~30 s on 2 cores
@IGNORE_CONVERGENCE
def test_digits_five_folds_four_values_score_as_grid_search_cv_one_by_one():
    x, y = _digits()
    clf = MLPClassifier((32,), max_iter=25, random_state=0)
    grid = {"learning_rate_init": [1e-3, 3e-3, 1e-2, 3e-2]}
    ours = PopulationSearchCV(clf, grid, cv=5).fit(x, y)
    theirs = GridSearchCV(clf, grid, cv=5).fit(x, y)
    _same_results(ours, theirs, 5)
    assert ours.n_populations_ == 2  # folds of 1437 and 1438 training rows
    assert set(theirs.cv_results_) <= set(ours.cv_results_)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    assert ours.score(x, y) == theirs.score(x, y)


def _member_pairs(est, points, x, y, rows):
    """Each point trained as a population member and by ``est.fit`` alone on ``rows``."""
    members = [PopulationSearchCV._member(est, p, x, y, rows) for p in points]
    with precision(x.dtype):
        weights = _train(members, x.dtype)
    for p, m, w in zip(points, members, weights, strict=True):
        solo = clone(est).set_params(**p).fit(x[rows], y[rows])
        yield p, m.est, w, solo


# sgd's learning-rate rules, tol stopping at different epochs, shuffling on and off, seeds
SGD_POINTS = [
    {"learning_rate": "constant", "learning_rate_init": 0.3, "momentum": 0.9, "random_state": 0},
    {"learning_rate": "invscaling", "learning_rate_init": 0.5, "random_state": 1, "alpha": 0.1},
    {"learning_rate": "adaptive", "learning_rate_init": 0.2, "n_iter_no_change": 2, "tol": 1e-2},
    {"learning_rate": "constant", "learning_rate_init": 0.05, "shuffle": False, "tol": 1e-3},
]
SMALL = {"batch_size": 32, "random_state": 3}  # a point without random_state: 3
ADAM_POINTS = [
    {"learning_rate_init": 0.01, "beta_1": 0.8, "random_state": 0},
    {"learning_rate_init": 0.03, "alpha": 0.01, "epsilon": 1e-6, "random_state": 2},
    {"learning_rate_init": 0.003, "beta_2": 0.99, "n_iter_no_change": 3, "tol": 1e-2},
]


@pytest.mark.slow
@IGNORE_CONVERGENCE
@pytest.mark.parametrize(
    "est, points",
    [
        (MLPClassifier((6,), "tanh", solver="sgd", **SMALL, max_iter=60), SGD_POINTS),
        (MLPClassifier((6,), solver="adam", **SMALL, max_iter=40), ADAM_POINTS),
        (MLPClassifier((5,), solver="momentum", **SMALL, max_iter=30), ADAM_POINTS),
        (MLPClassifier((5,), solver="adamw", **SMALL, max_iter=30), ADAM_POINTS),
        (MLPRegressor(hidden_layer_sizes=(5,), **SMALL, max_iter=30), ADAM_POINTS),
    ],
    ids=["sgd", "adam", "momentum", "adamw", "regressor"],
)
def test_members_train_as_their_solo_fits(est, points):
    if isinstance(est, MLPRegressor):
        x, y = make_regression(150, 4, noise=1.0, random_state=0)
        y = y / y.std()
    else:
        x, y = make_classification(150, 4, n_informative=3, n_redundant=0, random_state=0)
    rows = np.arange(10, 150)  # 140 rows: the last batch is smaller
    n_iters = set()
    for dtype, bound in ((np.float64, 1e-12), (np.float32, 1e-5)):
        for p, member, w, solo in _member_pairs(est, points, x.astype(dtype), y, rows):
            assert member.n_iter_ == solo.n_iter_, p
            np.testing.assert_allclose(member.loss_curve_, solo.loss_curve_, rtol=bound)
            for got, want in zip(w, solo.params_, strict=True):
                for name in want:
                    assert got[name].dtype == want[name].dtype == dtype
                    np.testing.assert_allclose(got[name], want[name], rtol=0, atol=bound)
            n_iters.add(solo.n_iter_)
    assert len(n_iters) > 1  # members stopped at different epochs


@IGNORE_CONVERGENCE
def test_a_wrong_member_setting_is_caught():
    """The comparison above can fail: a member trained with another alpha than its solo fit."""
    x, y = make_classification(150, 4, n_informative=3, n_redundant=0, random_state=0)
    est = MLPClassifier((6,), **SMALL, max_iter=5, learning_rate_init=0.05)
    members = [PopulationSearchCV._member(est, {"alpha": 1e-3}, x, y, np.arange(140))]
    with precision(x.dtype):
        (w,) = _train(members, x.dtype)
    solo = clone(est).set_params(alpha=1.1e-3).fit(x[:140], y[:140])
    assert float(np.max(np.abs(w[0]["w"] - solo.params_[0]["w"]))) > 1e-6


@IGNORE_CONVERGENCE
@pytest.mark.slow
def test_members_equal_their_solo_fits_on_digits_to_float32_rounding():
    x, y = _digits()
    est = MLPClassifier((16,), max_iter=20, learning_rate_init=0.01)
    points = [{"alpha": a, "random_state": s} for a in (1e-4, 1e-1) for s in (0, 1)]
    for p, member, w, solo in _member_pairs(est, points, x, y, np.arange(1000)):
        gap = max(
            float(np.max(np.abs(got[k] - want[k])))
            for got, want in zip(w, solo.params_, strict=True)
            for k in want
        )
        assert gap <= 1e-5, (p, gap)  # 100 steps: measured ~1e-6
        assert member.n_iter_ == solo.n_iter_


@pytest.mark.slow
@IGNORE_CONVERGENCE
def test_structural_parameters_split_into_one_population_each():
    x, y = make_classification(120, 5, random_state=1)
    clf = MLPClassifier(max_iter=15, batch_size=40, random_state=0)
    grid = {"hidden_layer_sizes": [(3,), (6,)], "activation": ["tanh", "relu"], "alpha": [0, 1]}
    cv = KFold(3)  # 80 training rows in every fold
    ours = PopulationSearchCV(clf, grid, cv=cv, refit=False).fit(x, y)
    theirs = GridSearchCV(clf, grid, cv=cv, refit=False).fit(x, y)
    _same_results(ours, theirs, 3)
    assert ours.n_populations_ == 4  # hidden sizes x activations; alpha varies inside one
    assert not hasattr(ours, "best_estimator_")
    with pytest.raises(AttributeError):
        ours.predict(x)


@pytest.mark.slow
@IGNORE_CONVERGENCE
def test_scoring_names_score_as_grid_search_cv():
    x, y = make_regression(90, 3, noise=2.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=10, random_state=0, batch_size=20)
    grid = {"learning_rate_init": [0.01, 0.1]}
    for scoring in (None, "neg_mean_absolute_error"):
        ours = PopulationSearchCV(reg, grid, cv=3, scoring=scoring).fit(x, y)
        theirs = GridSearchCV(reg, grid, cv=3, scoring=scoring).fit(x, y)
        _same_results(ours, theirs, 3, rtol=1e-9)  # float64 R^2 and MAE: ~1e-15 apart


def _diverging(make, **kwargs):
    """The second grid point diverges on every fold (the first trains)."""
    x, y = make_classification(60, 3, n_informative=3, n_redundant=0, random_state=0)
    clf = MLPClassifier((4,), solver="sgd", momentum=0.0, max_iter=5, random_state=0)
    grid = {"learning_rate_init": [0.1, 1e300]}
    return make(clf, grid, cv=3, **kwargs).fit(x * 1e10, y)


@IGNORE_CONVERGENCE
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_diverged_member_scores_nan_and_ranks_last_as_in_grid_search_cv():
    with pytest.warns(FitFailedWarning, match="fits failed out of a total of 6"):
        ours = _diverging(PopulationSearchCV)
    with pytest.warns(FitFailedWarning):
        theirs = _diverging(GridSearchCV)
    for f in range(3):
        key = f"split{f}_test_score"
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], key)
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    assert list(ours.cv_results_["rank_test_score"]) == [1, 2]
    assert ours.best_params_ == theirs.best_params_ == {"learning_rate_init": 0.1}


@IGNORE_CONVERGENCE
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
def test_when_every_mean_score_is_nan_all_rank_first_as_in_grid_search_cv():
    """A failed fold in every grid point: every mean score is NaN. GridSearchCV ranks them all
    1; the population search cast the NaN ranks to int32 (-2**31, with a RuntimeWarning).
    The second fold trains on rows scaled by 1e300 and overflows at its second step."""
    x, y = make_classification(60, 3, n_informative=3, n_redundant=0, random_state=0)
    x[30:] *= 1e300
    folds = [(np.arange(30), np.arange(30, 60)), (np.arange(30, 60), np.arange(30))]
    clf = MLPClassifier((4,), solver="sgd", momentum=0.0, max_iter=5, random_state=0)
    grid = {"learning_rate_init": [0.1, 0.2]}
    theirs = GridSearchCV(clf, grid, cv=folds, refit=False).fit(x, y)
    ours = PopulationSearchCV(clf, grid, cv=folds, refit=False).fit(x, y)
    assert np.isfinite(theirs.cv_results_["split0_test_score"]).all()
    assert np.isnan(theirs.cv_results_["mean_test_score"]).all()
    assert np.isnan(ours.cv_results_["mean_test_score"]).all()
    assert list(ours.cv_results_["rank_test_score"]) == list(theirs.cv_results_["rank_test_score"])
    assert ours.best_index_ == theirs.best_index_ == 0


@pytest.mark.parametrize(
    "estimator, grid, error, match",
    [
        (MLPClassifier(solver="lbfgs"), {"alpha": [0.1]}, ValueError, "stochastic solvers"),
        (MLPClassifier(), {"early_stopping": [True]}, ValueError, "early_stopping=True"),
        (LogisticRegression(), {"C": [1.0]}, TypeError, "GridSearchCV for others"),
    ],
)
def test_what_a_population_cannot_train_is_refused_by_name(estimator, grid, error, match):
    x, y = make_classification(40, 3, n_informative=3, n_redundant=0, random_state=0)
    with pytest.raises(error, match=match):
        PopulationSearchCV(estimator, grid, cv=2).fit(x, y)


def _iris_search(make, **kwargs):
    x, y = load_iris(return_X_y=True)
    clf = MLPClassifier(
        (5,), solver="sgd", learning_rate_init=0.1, max_iter=15, random_state=0, batch_size=32
    )
    return make(clf, {"learning_rate_init": [0.01, 0.3]}, cv=3, **kwargs).fit(x, y)


@IGNORE_CONVERGENCE
@pytest.mark.slow
def test_a_callable_refit_picks_the_best_index_as_in_grid_search_cv():
    """GridSearchCV calls refit(cv_results_) for best_index_ (and then sets no best_score_);
    the population search took the rank's best: index 0 where the callable picks 1."""
    seen = []

    def worst(results):
        seen.append(results)
        return np.argmin(results["mean_test_score"])  # a NumPy integer counts

    ours = _iris_search(PopulationSearchCV, refit=worst)
    theirs = _iris_search(GridSearchCV, refit=worst)
    assert ours.best_index_ == theirs.best_index_ == 1
    assert seen[0] is ours.cv_results_
    assert ours.best_params_ == theirs.best_params_ == {"learning_rate_init": 0.3}
    assert not hasattr(ours, "best_score_") and not hasattr(theirs, "best_score_")
    assert ours.best_estimator_.learning_rate_init == 0.3
    x, _ = load_iris(return_X_y=True)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))


@pytest.mark.parametrize(
    "returned, error, match",
    [(0.0, TypeError, "is not an integer"), (2, IndexError, "out of range"), (-1, IndexError, "")],
)
@IGNORE_CONVERGENCE
def test_a_callable_refit_s_bad_index_is_refused_as_in_grid_search_cv(returned, error, match):
    for make in (GridSearchCV, PopulationSearchCV):
        with pytest.raises(error, match=f"best_index_ .*{match}"):
            _iris_search(make, refit=lambda results: returned)


@pytest.mark.parametrize("refit", [False, True])
@IGNORE_CONVERGENCE
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_when_every_fit_fails_it_is_a_value_error_as_in_grid_search_cv(refit):
    """Every member diverges: GridSearchCV raises; the population search warned and returned
    best_score_ nan (refit=False) or failed in the refit (refit=True)."""
    x, y = make_classification(60, 3, n_informative=3, n_redundant=0, random_state=0)
    clf = MLPClassifier((4,), solver="sgd", momentum=0.0, max_iter=5, random_state=0)
    grid = {"learning_rate_init": [1e299, 1e300]}
    for make in (GridSearchCV, PopulationSearchCV):
        with pytest.raises(ValueError, match=r"All the 6 fits failed\.(.|\n)*non-finite"):
            make(clf, grid, cv=3, refit=refit).fit(x * 1e10, y)


@pytest.mark.parametrize("scoring", [["accuracy", "f1_macro"], ("accuracy",), {"a": "accuracy"}])
@IGNORE_CONVERGENCE
def test_several_metrics_are_refused_by_name(scoring):
    x, y = make_classification(40, 3, n_informative=3, n_redundant=0, random_state=0)
    search = PopulationSearchCV(MLPClassifier(max_iter=2), {"alpha": [0.1]}, cv=2, scoring=scoring)
    with pytest.raises(ValueError, match="one metric: a string, a callable or None"):
        search.fit(x, y)


GRID_SEARCH_ARGUMENTS = {
    "n_jobs": 2,
    "verbose": 0,
    "pre_dispatch": "n_jobs",
    "error_score": 0.0,
    "return_train_score": True,
}


def test_grid_search_cv_s_arguments_are_parameters_that_clone():
    """Code that swaps GridSearchCV for PopulationSearchCV passes these: a TypeError before."""
    search = PopulationSearchCV(MLPClassifier(), {"alpha": [0.1]}, **GRID_SEARCH_ARGUMENTS)
    assert clone(search).get_params(deep=False).items() >= GRID_SEARCH_ARGUMENTS.items()
    assert search.set_params(n_jobs=None, error_score="raise").error_score == "raise"


@IGNORE_CONVERGENCE
def test_train_scores_and_cv_results_keys_are_grid_search_cv_s():
    ours = _iris_search(PopulationSearchCV, return_train_score=True, n_jobs=2)
    theirs = _iris_search(GridSearchCV, return_train_score=True, n_jobs=1)
    extra = [k for k in ours.cv_results_ if k not in theirs.cv_results_]
    assert [k for k in ours.cv_results_ if k not in extra] == list(theirs.cv_results_)
    assert extra == ["split0_n_iter", "split1_n_iter", "split2_n_iter"]
    for key in ("split0_train_score", "mean_train_score", "std_train_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], key)
    assert "mean_train_score" not in _iris_search(PopulationSearchCV).cv_results_


@IGNORE_CONVERGENCE
def test_a_diverged_member_scores_error_score_as_in_grid_search_cv():
    searches = []
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.warns(FitFailedWarning, match=r"3 fits failed(.|\n)* will be set to -1\.0\."):
            searches.append(_diverging(make, error_score=-1.0, return_train_score=True))
    ours, theirs = searches
    for key in ("split1_test_score", "split1_train_score", "rank_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], key)
    assert ours.cv_results_["split1_test_score"][1] == -1.0


@IGNORE_CONVERGENCE
def test_error_score_raise_raises_the_failed_fit_s_error_as_in_grid_search_cv():
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            _diverging(make, error_score="raise")


def _unscorable(make, **kwargs):
    """A grid point with finite weights whose held-out outputs are NaN on one fold: rows 0-3 of
    x are +-3e38 (finite float32) and only ever held out (fold 0). A relu hidden layer
    overflows them to inf and the softmax takes inf - inf: NaN, which the classifier refuses to
    score; tanh saturates at +-1 and scores them."""
    x, y = make_classification(60, 10, n_informative=4, n_classes=3, random_state=0)
    x = x.astype(np.float32)
    x[:4] = np.float32(3e38) * np.sign(x[:4])
    folds = [(np.arange(30, 60), np.arange(30)), (np.arange(4, 30), np.arange(30, 60))]
    clf = MLPClassifier((8,), solver="sgd", max_iter=5, random_state=0)
    grid = {"activation": ["relu", "tanh"]}
    return make(clf, grid, cv=folds, refit=False, return_train_score=True, **kwargs).fit(x, y)


@IGNORE_CONVERGENCE
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
@pytest.mark.parametrize("error_score", [np.nan, -1.0])
@pytest.mark.slow
def test_a_failed_scoring_scores_error_score_and_warns_as_in_grid_search_cv(error_score):
    """GridSearchCV scores a split whose scorer raises as error_score, with a warning, and
    goes on; the population search raised the classifier's refusal of NaN outputs."""
    searches = []
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.warns(UserWarning, match=f"Scoring failed.* set to {error_score}") as seen:
            searches.append(_unscorable(make, error_score=error_score))
        failed = [w for w in seen if str(w.message).startswith("Scoring failed")]
        assert len(failed) == 1 and "outputs that are not finite" in str(failed[0].message)
        assert not [w for w in seen if w.category is FitFailedWarning]
    ours, theirs = searches
    for key in ("split0_test_score", "split1_test_score", "mean_test_score", "rank_test_score",
                "split0_train_score", "split1_train_score"):  # fmt: skip
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], key)
    np.testing.assert_array_equal(ours.cv_results_["split0_test_score"][0], error_score)
    assert np.isfinite(ours.cv_results_["split1_test_score"]).all()
    assert ours.best_params_ == theirs.best_params_ == {"activation": "tanh"}


@IGNORE_CONVERGENCE
def test_a_failed_scoring_raises_with_error_score_raise_as_in_grid_search_cv():
    for make in (PopulationSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match=r"3 of 30 rows have outputs that are not finite"):
            _unscorable(make, error_score="raise")


@pytest.mark.parametrize(
    "name, value, allowed",
    [("error_score", "nan", "'raise'"), ("n_jobs", "2", "int"), ("verbose", "yes", "int")],
)
def test_bad_grid_search_arguments_are_named_with_the_allowed_values(name, value, allowed):
    x, y = make_classification(40, 3, n_informative=3, n_redundant=0, random_state=0)
    search = PopulationSearchCV(MLPClassifier(max_iter=2), {"alpha": [0.1]}, **{name: value})
    with pytest.raises(ValueError, match=f"'{name}' parameter .*{allowed}.*Got '{value}'"):
        search.fit(x, y)


@IGNORE_CONVERGENCE
def test_verbose_prints_grid_search_cv_s_first_line_and_one_line_per_population(capsys):
    _iris_search(PopulationSearchCV, verbose=1)
    assert capsys.readouterr().out == "Fitting 3 folds for each of 2 candidates, totalling 6 fits\n"
    _iris_search(PopulationSearchCV, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("[population 1/1] 6 members (100 rows), ")


@IGNORE_CONVERGENCE
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
def test_non_finite_mean_scores_warn_as_in_grid_search_cv():
    """GridSearchCV warns when a mean test or train score is not finite; the population
    search kept silent."""
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        _diverging(GridSearchCV, return_train_score=True)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        _diverging(PopulationSearchCV, return_train_score=True)

    def non_finite(caught):
        return [str(w.message).split(":")[0] for w in caught if "non-finite:" in str(w.message)]

    assert non_finite(theirs) == [
        "One or more of the test scores are non-finite",
        "One or more of the train scores are non-finite",
    ]
    assert non_finite(ours) == non_finite(theirs)
