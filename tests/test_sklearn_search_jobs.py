"""``PopulationSearchCV(n_jobs=...)``: its populations (one per network, solver, batch size and
training-set size) trained at once on host threads, as ``GridSearchCV``'s ``n_jobs`` counts
them (joblib's ``effective_n_jobs``), with the ``cv_results_`` of one at a time, bit for bit."""

import threading

import numpy as np
import pytest
from sklearn.datasets import make_classification

from jaxmlp.sklearn import MLPClassifier, PopulationSearchCV, _solvers

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = make_classification(60, 4, n_informative=3, n_redundant=0, random_state=0)
GRID = {"hidden_layer_sizes": [(3,), (5,)], "solver": ["sgd", "adam"], "alpha": [1e-4, 1e-2]}


def search(x, n_jobs, monkeypatch=None, threads=None):
    """The fitted search of ``GRID`` on ``x``; ``threads`` collects the threads its
    populations' epochs (and its refit's) ran in."""
    if threads is not None:
        real = _solvers.set_hyperparams

        def spy(*args, **kwargs):
            threads.add(threading.get_ident())
            return real(*args, **kwargs)

        monkeypatch.setattr(_solvers, "set_hyperparams", spy)
    clf = MLPClassifier(max_iter=8, batch_size=10, learning_rate_init=0.05, random_state=0)
    return PopulationSearchCV(clf, GRID, cv=3, n_jobs=n_jobs).fit(x, Y)


def assert_same_results(a, b):
    """``cv_results_`` (but the times) and the best estimator equal, bit for bit."""
    assert list(a.cv_results_) == list(b.cv_results_)
    for key, value in a.cv_results_.items():
        if key.endswith("_time"):
            continue
        if key == "params" or key.startswith("param_"):
            assert list(value) == list(b.cv_results_[key]), key
        else:
            np.testing.assert_array_equal(value, b.cv_results_[key], key)
    assert a.best_index_ == b.best_index_ and a.n_populations_ == b.n_populations_
    for u, v in zip(a.best_estimator_.coefs_, b.best_estimator_.coefs_, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_n_jobs_trains_the_populations_at_once_with_the_results_of_one(dtype, monkeypatch):
    """n_jobs=2 was accepted and ignored: every population trained in the calling thread.
    Now they train on 2 threads of their own, to ``cv_results_`` equal to n_jobs=None's; a
    float64 search's in float64 (x64 is a thread-local jax setting a thread does not
    inherit)."""
    x = X.astype(dtype)
    one = search(x, None)
    threads = set()
    two = search(x, 2, monkeypatch, threads)
    assert one.n_populations_ == 4
    assert len(threads - {threading.get_ident()}) == 2, threads  # (the refit: this thread)
    assert_same_results(one, two)
    assert {c.dtype for c in two.best_estimator_.coefs_} == {np.dtype(dtype)}


@pytest.mark.slow
def test_n_jobs_minus_one_takes_the_cores_joblib_counts():
    from joblib import effective_n_jobs

    assert effective_n_jobs(-1) >= 1
    assert_same_results(search(X, None), search(X, -1))


def test_n_jobs_zero_is_refused_as_joblib_refuses_it():
    with pytest.raises(ValueError, match="n_jobs == 0"):
        search(X, 0)


@pytest.mark.slow
def test_an_error_in_one_population_stops_the_others_at_their_next_epoch(monkeypatch):
    """A population that fails (or a Ctrl-C in the caller, waiting) left the others on their
    threads training every epoch to their ends before the search raised; now each stops at its
    next epoch. One population waits at its 5th epoch (if it gets there) until the other
    has failed."""
    real, calls, failed = _solvers.set_hyperparams, [], threading.Event()

    def failing(*args, **kwargs):  # once an epoch on a population's thread (and by the setup)
        name = threading.current_thread().name
        if name != "MainThread":
            calls.append(name)
            if name.endswith("_1"):
                failed.set()
                raise MemoryError("one population failed")
            if calls.count(name) == 5:
                failed.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(_solvers, "set_hyperparams", failing)
    clf = MLPClassifier((3,), max_iter=400, batch_size=10, tol=0, random_state=0)
    grid = {"hidden_layer_sizes": [(3,), (5,)]}
    with pytest.raises(MemoryError, match="one population failed"):
        PopulationSearchCV(clf, grid, cv=3, n_jobs=2).fit(X, Y)
    assert failed.is_set() and calls.count("jaxmlp-chunk_0") < 50, len(calls)
