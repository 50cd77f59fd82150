"""partial_fit keeps the optimizer it started with, as scikit-learn's does: its first call (or
the fit before it) builds the optimizer from ``solver``, ``learning_rate_init``,
``learning_rate``, ``power_t``, ``momentum``, ``nesterovs_momentum``, ``beta_1``, ``beta_2``
and ``epsilon``, and later calls continue it whatever ``set_params`` changed in between (the
next ``fit`` builds a new one). Before, a changed schedule, eta_0, power_t, nesterov or solver
took effect at the next partial_fit, and the weights parted from scikit-learn's."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning

from jaxmlp.sklearn import MLPClassifier

SGD = dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05)
ADAM = dict(solver="adam", learning_rate_init=0.05)


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)


def _partial_fits(make, x, y, first: dict, then: dict, pickled: bool = False):
    """Two partial_fit calls with ``first``, ``set_params(**then)``, three more."""
    est = make(hidden_layer_sizes=(6,), batch_size=16, random_state=0, **first)
    est.partial_fit(x, y, classes=[0, 1])
    est.partial_fit(x, y)
    est = pickle.loads(pickle.dumps(est)) if pickled else est
    est.set_params(**then)
    for _ in range(3):
        est.partial_fit(x, y)
    return est


def _gap(ours, theirs) -> float:
    pairs = zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True)
    return max(float(np.max(np.abs(a - b))) for a, b in pairs)


@pytest.mark.slow  # a compile per solver, and scikit-learn's fits beside: ~1-2 s each
@pytest.mark.parametrize(
    "first, then",
    [
        (SGD, dict(learning_rate_init=0.5)),
        (SGD, dict(power_t=0.1)),
        (SGD, dict(learning_rate="constant")),
        (SGD | dict(learning_rate="constant"), dict(learning_rate="invscaling")),
        (SGD, dict(nesterovs_momentum=False)),
        (SGD, dict(momentum=0.1)),
        (SGD, dict(solver="adam")),
        (ADAM, dict(solver="sgd")),
        (ADAM, dict(learning_rate_init=0.5, beta_1=0.5, epsilon=1e-2)),
    ],
    ids=[
        "eta0",
        "power_t",
        "to-constant",
        "to-invscaling",
        "nesterov",
        "momentum",
        "sgd-adam",
        "adam-sgd",
        "adam-hyper",
    ],
)
def test_partial_fit_continues_the_optimizer_of_its_first_call_as_scikit_learn(first, then):
    x, y = _data()
    theirs = _partial_fits(neural_network.MLPClassifier, x, y, first, then)
    ours = _partial_fits(MLPClassifier, x, y, first, then)
    assert _gap(ours, theirs) < 1e-10
    assert ours.t_ == theirs.t_ == 5 * 60
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    # the twin: the settings of `then` from the start are other weights
    changed = _partial_fits(MLPClassifier, x, y, first | then, {})
    assert _gap(changed, theirs) > 1e-6


@pytest.mark.slow
def test_the_kept_optimizer_survives_pickling_and_the_next_fit_builds_a_new_one():
    x, y = _data()
    then = dict(learning_rate_init=0.5, power_t=0.1)
    theirs = _partial_fits(neural_network.MLPClassifier, x, y, SGD, then)
    ours = _partial_fits(MLPClassifier, x, y, SGD, then, pickled=True)
    assert _gap(ours, theirs) < 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (ours, theirs):  # a warm-started fit takes the settings now set
            est.set_params(warm_start=True, max_iter=3).fit(x, y)
            est.partial_fit(x, y)
    assert _gap(ours, theirs) < 1e-10
