"""``PopulationSearchCV``: scikit-learn's ``GridSearchCV`` for jaxmlp's estimators, with every
(grid point, fold) fit trained as one member of a population.

grid x folds -> members (each a clone of the estimator with its point, on its fold's rows,
started by the estimator's own code) -> groups (one per network, solver, batch size and
training-set size: one compiled program each, ``n_jobs`` of them at once on host threads) ->
the estimator's epochs for all members of a group (``_population``) ->
each member's weights back in its estimator -> scored on its held-out rows -> cv_results_.

A member trains as ``estimator.fit`` trains it: the same starting weights and shuffles (drawn
from its ``random_state`` on the host, in the estimator's order), the same jitted steps
(``_solvers``' scan over the batches, vmapped over the members), the same L2 weight for the
last, smaller batch, and the same stopping and learning-rate rules after each epoch, applied
per member on the host (a stopped member's weights are kept and it no longer counts). Not bit
for bit: XLA compiles the batched program with other fusions and reduction orders than the
solo one, so a member's weights equal its solo fit's up to float rounding grown over the
epochs (~1e-6 in float32, ~1e-15 in float64 after 40 epochs of digits); its epochs and scores
are the solo fit's unless a stopping test or a prediction sits within that rounding of its
threshold (tests/test_sklearn_search.py: GridSearchCV's scores exactly, on digits), or chaotic
(large learning-rate) training grows it into other results. Running the
members one after another inside one program (``lax.map``) was tried: not bit for bit either
(XLA fuses the mapped body differently too) and slower.
Within one group everything in ``optax.inject_hyperparams``' state varies freely
(``learning_rate_init``, ``alpha``, ``momentum``, ``beta_1``, ``beta_2``, ``epsilon``) and so
does everything decided on the host (``random_state``, ``shuffle``, ``max_iter``, ``tol``,
``n_iter_no_change``, ``learning_rate``, ``power_t``); a structural parameter
(``hidden_layer_sizes``, ``activation``, ``solver``, ``batch_size``...) splits the members into
one population per value. ``solver="lbfgs"`` and ``early_stopping=True`` are refused.

>>> from sklearn.datasets import load_iris
>>> from jaxmlp.sklearn import MLPClassifier, PopulationSearchCV
>>> x, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier((8,), learning_rate_init=0.05, tol=1e-2, random_state=0)
>>> search = PopulationSearchCV(clf, {"alpha": [1e-4, 1e-2]}, cv=3).fit(x, y)
>>> len(search.cv_results_["params"]), sorted(search.best_params_), search.n_populations_
(2, ['alpha'], 1)
"""

import contextlib
import functools
import time
from typing import NamedTuple

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, ParameterGrid, check_cv
from sklearn.utils import _safe_indexing, indexable

from jaxmlp import host_threads
from jaxmlp.arrays import precision
from jaxmlp.sklearn import _population, _routing
from jaxmlp.sklearn._base import BaseMLP, _checked_weights
from jaxmlp.sklearn._cv_results import (
    best_index,
    param_columns,
    ranks,
    report_failures,
    score,
    warn_non_finite,
)
from jaxmlp.sklearn._refitted import RefittedMixin


class _Member(NamedTuple):
    est: BaseMLP  # a clone with the member's grid point, its bookkeeping updated as it trains
    rng: np.random.RandomState  # its random_state, past the starting weights
    x: np.ndarray  # (n, d) its training rows
    t: np.ndarray  # (n, K) its targets
    s: np.ndarray | None  # (n,) its rows' sample weights, or None
    params: list
    opt_state: object
    batch_size: int


def _train_group(prepared: list, indices: list, stop=None) -> float:
    """Train the members ``indices`` of ``prepared`` as one population (``_population.train``),
    their weights set in their estimators, in its precision (its inputs' dtype); its seconds.
    ``stop`` (``host_threads``') runs before each epoch."""
    start, dtype = time.perf_counter(), prepared[indices[0]].x.dtype
    with precision(dtype):
        weights = _population.train([prepared[i] for i in indices], dtype, stop)
        for i, w in zip(indices, weights, strict=True):
            prepared[i].est._set_weights(w, dtype)
    return time.perf_counter() - start


class PopulationSearchCV(RefittedMixin, MetaEstimatorMixin, BaseEstimator):
    """An exhaustive search over ``param_grid`` for a jaxmlp ``MLPClassifier``/``MLPRegressor``,
    scored by cross-validation as ``sklearn.model_selection.GridSearchCV`` scores it, with the
    fits of every grid point and fold trained as populations (see the module docstring).

    Args:
      estimator: a ``jaxmlp.sklearn`` estimator with a stochastic solver, no early stopping.
      param_grid: a dict of lists (or a list of them), as ``GridSearchCV``'s.
      scoring: None (the estimator's ``score``), a scorer name or a callable: one metric.
      n_jobs: populations trained at once, each on a host thread of its own (the cores of a
        CPU), counted as ``GridSearchCV`` counts its jobs (joblib's ``effective_n_jobs``: None
        1, -1 every core, -2 all but one...); a population is never split, so the results
        (but the times) are those of one at a time, bit for bit, and a search of one
        population runs on one thread.
      pre_dispatch: accepted for ``GridSearchCV``'s callers, and checked as it checks it.
      refit: refit the best point on all of X with ``estimator.fit`` (``best_estimator_``); a
        callable picks it, as ``GridSearchCV``'s: ``best_index_ = refit(cv_results_)``.
      cv: folds as ``GridSearchCV``'s (an int: stratified for a classifier).
      verbose: > 0 prints ``GridSearchCV``'s first line (folds, candidates, fits); > 1 also a
        line per population (members, rows, epochs, seconds).
      error_score: what a failed fit or scoring scores, a number, or "raise" to raise its
        error. A member fails where its fit would: its weights came out non-finite (``fit``'s
        ValueError), or its fold's training rows weigh nothing (all sample weights 0). Its
        scoring fails where the scorer raises (finite weights, held-out rows whose outputs are
        not finite: the classifier refuses them), with ``GridSearchCV``'s "Scoring failed"
        warning for that split. A grid point the estimator refuses (a bad
        value) raises before anything trains.
      return_train_score: also score each fit on its training rows (``split<i>_train_score``,
        ``mean_/std_train_score``).

    Attributes as ``GridSearchCV``'s: ``cv_results_`` (its keys in its order, then
    ``split<i>_n_iter``, the epochs each fit ran; ``mean_/std_fit_time`` is a group's time
    shared among its members), ``best_index_``, ``best_params_``, ``best_score_`` (not with a
    callable ``refit``), ``best_estimator_``, ``refit_time_``, ``n_splits_``, ``scorer_``,
    ``multimetric_`` (False: one metric), and
    ``n_populations_``, the compiled groups the members trained in; with ``refit``, the best
    estimator's ``predict``, ``predict_proba``, ``predict_log_proba``, ``score``, ``classes_``,
    ``n_features_in_`` and ``feature_names_in_`` (X with column names). Its tags are its
    estimator's (``_refitted``): ``is_classifier`` holds for a classifier's search.
    """

    _parameter_constraints = {  # GridSearchCV's rules for the arguments both take
        name: GridSearchCV._parameter_constraints[name]
        for name in ("param_grid", "n_jobs", "refit", "cv", "verbose", "pre_dispatch")
        + ("error_score", "return_train_score")
    }

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=5,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.error_score = error_score
        self.return_train_score = return_train_score

    def fit(self, X, y, groups=None, **params):
        """Run every grid point on every fold; then refit the best one. Returns ``self``.
        ``params``: ``GridSearchCV``'s fit parameters, routed as it routes them
        (``_routing``): ``sample_weight`` weighs each fit's training rows and, where the scorer
        takes it, each held-out fold's score; the refit gets all of it."""
        base = self.estimator
        if not isinstance(base, BaseMLP):
            raise TypeError(
                "PopulationSearchCV searches jaxmlp.sklearn's MLPClassifier or MLPRegressor, got "
                f"{type(base).__name__}: use sklearn.model_selection.GridSearchCV for others."
            )
        if not (self.scoring is None or isinstance(self.scoring, str) or callable(self.scoring)):
            raise ValueError(
                "PopulationSearchCV scores one metric: a string, a callable or None, got "
                f"scoring={self.scoring!r}."
            )
        self._validate_params()
        candidates = list(ParameterGrid(self.param_grid))
        X, y, groups = indexable(X, y, groups)
        self.scorer_ = check_scoring(base, self.scoring)
        routed = _routing.for_fit(self, self.scorer_, X, groups, params)
        fit_params, score_params = routed.estimator["fit"], routed.scorer["score"]
        _checked_weights(fit_params.get("sample_weight"), X)  # named against all of X, once
        cv = check_cv(self.cv, y, classifier=is_classifier(base))
        n_splits = cv.get_n_splits(X, y, **routed.splitter["split"])
        splits = list(cv.split(X, y, **routed.splitter["split"]))
        if len(splits) != n_splits:  # GridSearchCV's check and message, then the cv
            raise ValueError(
                "cv.split and cv.get_n_splits return inconsistent results. Expected "
                f"{n_splits} splits, got {len(splits)} (cv={self.cv!r})"
            )
        if not candidates or not splits:  # GridSearchCV's message, then what was given
            raise ValueError(
                "No fits were performed. Was the CV iterator empty? Were there no candidates? "
                f"(param_grid {self.param_grid!r}: {len(candidates)} candidates, cv "
                f"{len(splits)} splits)"
            )
        members = [(c, f) for c in range(len(candidates)) for f in range(len(splits))]
        if self.verbose > 0:
            print(
                f"Fitting {len(splits)} folds for each of {len(candidates)} candidates, "
                f"totalling {len(members)} fits"
            )
        prepared = [
            self._member(base, candidates[c], X, y, splits[f][0], fit_params, self.error_score)
            for c, f in members
        ]  # a ValueError for a fit that refused its weights: it fails, as in GridSearchCV
        failed = {i: str(m) for i, m in enumerate(prepared) if isinstance(m, ValueError)}
        by_group = {}
        for i, m in enumerate(prepared):
            if i in failed:
                continue
            key = (m.est.net_, m.est.solver, bool(m.est.nesterovs_momentum), m.est.backprop)
            key += (m.s is None,)
            by_group.setdefault((*key, m.x.shape, m.x.dtype, m.batch_size), []).append(i)
        per_fit = {k: np.zeros(len(members)) for k in ("fit_time", "score_time")}
        groups = list(by_group.values())
        jobs = (functools.partial(_train_group, prepared, indices) for indices in groups)
        n_jobs = min(effective_n_jobs(self.n_jobs), len(groups))  # GridSearchCV's count
        with contextlib.closing(host_threads.finished(jobs, n_jobs)) as done:
            for g, seconds in done:  # as they finish
                indices = groups[g]
                per_fit["fit_time"][indices] = seconds / len(indices)
                if self.verbose > 1:
                    epochs = max(prepared[i].est.n_iter_ for i in indices)
                    print(
                        f"[population {g + 1}/{len(groups)}] {len(indices)} members "
                        f"({len(prepared[indices[0]].x)} rows), {epochs} epochs, {seconds:.1f}s"
                    )
        self.n_populations_ = len(by_group)
        fitted = [failed.get(i) or m.est for i, m in enumerate(prepared)]
        per_fit |= self._scores(X, y, fitted, [splits[f] for _, f in members], score_params)
        per_fit["n_iter"] = np.array([getattr(e, "n_iter_", 0) for e in fitted])
        self._results(candidates, len(splits), per_fit)
        if self.refit:
            start = time.perf_counter()
            best = clone(self.best_params_, safe=False)  # not the object a member was given
            self.best_estimator_ = clone(base).set_params(**best).fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
        return self

    def get_metadata_routing(self):
        """``GridSearchCV``'s routing (``_routing.router``), for
        ``enable_metadata_routing=True``."""
        return _routing.router(self, check_scoring(self.estimator, self.scoring))

    @staticmethod
    def _member(
        base, params: dict, X, y, rows, fit_params=None, error_score=np.nan
    ) -> _Member | ValueError:
        """A clone with ``params`` started on ``rows`` of X, y (and ``fit_params``, cut to
        them: ``sample_weight``) by the estimator's own code; the fit's ValueError where it
        refuses the rows' weights (all 0: GridSearchCV's failed fit, scored ``error_score``),
        raised with ``error_score="raise"``."""
        est = clone(base).set_params(**clone(params, safe=False))  # GridSearchCV's: per fit
        if est.solver == "lbfgs" or est.early_stopping:
            raise ValueError(
                "PopulationSearchCV trains the stochastic solvers without early stopping, got "
                f"solver={est.solver!r}, early_stopping={est.early_stopping!r} (grid point "
                f"{params}): use sklearn.model_selection.GridSearchCV for those."
            )
        x, y = _safe_indexing(X, rows), _safe_indexing(y, rows)
        x, t, labels, _ = est._checked_targets(x, y, False)
        try:  # whole-X weights were checked: what is left is a fold's rows' sum of 0
            s = _checked_weights(_routing.rows(X, fit_params or {}, rows).get("sample_weight"), x)
        except ValueError as e:
            error = ValueError(
                f"{e} (the sample weights of the {len(x)} training rows of a cv split)"
            )
            if error_score == "raise":
                raise error from e
            return error
        if not isinstance(x, np.ndarray):
            x = x.toarray()  # sparse: the members' rows are stacked dense
        dtype = x.dtype
        with precision(dtype):
            rng, params = est._starting_point(x, t, True, dtype)
            est._stochastic_setup(x, t, labels, rng)
            batch_size = est._batch_size(len(x))
            opt_state = est._optimizer_state(params, batch_size, dtype)
        return _Member(est, rng, x, t, s, params, opt_state, batch_size)

    def _scores(self, X, y, fitted: list, splits: list, score_params: dict) -> dict:
        """Each fitted member scored on its held-out rows (``test_score``, ``score_time``) and,
        with ``return_train_score``, on its training rows (``score_params``, the scorer's
        sample weights, cut to the same rows); a failed fit (non-finite weights, or in place of
        its estimator the message of one that refused its weights) scores ``error_score`` or
        raises, and the failures are reported as ``GridSearchCV``
        reports them; a scoring that fails (``_cv_results.score``: an estimator refuses held-out
        rows whose outputs are not finite) scores ``error_score`` with a warning, or raises."""
        scores = {k: np.zeros(len(fitted)) for k in ("test_score", "score_time", "train_score")}
        errors = []
        for i, (est, (train, test)) in enumerate(zip(fitted, splits, strict=True)):
            start = time.perf_counter()
            try:
                if isinstance(est, str):  # the fit refused its rows' weights
                    raise ValueError(est)
                est._check_finite()
            except ValueError as error:
                if self.error_score == "raise":
                    raise
                scores["test_score"][i] = scores["train_score"][i] = self.error_score
                errors.append(str(error))
                continue
            held_out = _safe_indexing(X, test), _safe_indexing(y, test)
            weights = _routing.rows(X, score_params, test)
            scores["test_score"][i] = score(self.scorer_, est, *held_out, self.error_score, weights)
            scores["score_time"][i] = time.perf_counter() - start
            if self.return_train_score:
                trained_on = _safe_indexing(X, train), _safe_indexing(y, train)
                weights = _routing.rows(X, score_params, train)
                scores["train_score"][i] = score(
                    self.scorer_, est, *trained_on, self.error_score, weights
                )
        report_failures(errors, len(fitted), self.error_score)
        if not self.return_train_score:
            del scores["train_score"]
        return scores

    def _results(self, candidates, n_splits, per_fit: dict) -> None:
        """``cv_results_`` from ``per_fit`` (name -> one value per (grid point, fold)) and the
        best point, by ``GridSearchCV``'s rules (the mean over folds, unweighted; rank 1 the
        highest, ties sharing the lowest rank, nan last; all rank 1 when every mean is nan)."""
        table = {k: a.reshape(len(candidates), n_splits) for k, a in per_fit.items()}

        def splits(name):
            return {f"split{f}_{name}": table[name][:, f] for f in range(n_splits)}

        def stats(name):
            a = table[name]
            mean = a.mean(axis=1)
            if name.endswith("_score"):
                warn_non_finite(name, mean)
            return {f"mean_{name}": mean, f"std_{name}": a.std(axis=1)}

        results = stats("fit_time") | stats("score_time") | param_columns(candidates)
        results["params"] = candidates
        results |= splits("test_score") | stats("test_score")
        mean = results["mean_test_score"]
        results["rank_test_score"] = ranks(mean)
        if "train_score" in table:
            results |= splits("train_score") | stats("train_score")
        results |= splits("n_iter")
        self.cv_results_ = results
        self.n_splits_ = n_splits
        self.multimetric_ = False  # one metric: GridSearchCV's answer for one scorer
        self.best_index_ = best_index(self.refit, results)
        self.best_params_ = candidates[self.best_index_]
        if not callable(self.refit):
            self.best_score_ = float(mean[self.best_index_])
