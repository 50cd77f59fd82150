"""jaxmlp.sklearn against scikit-learn's own MLPClassifier/MLPRegressor: the same parameters on
nine data sets (scikit-learn's toy sets, make_classification/make_regression, multilabel and
multi-output targets), for each of scikit-learn's solvers, give the same held-out score.

sgd and adam in float64 take scikit-learn's steps (same starting weights from random_state, the
same shuffled batches, the same update rules and float operations), so their scores agree to
1e-10 (their weights to rounding, ~1e-15: tests/test_sklearn_dropin.py). lbfgs runs optax's
L-BFGS with a zoom line search where scikit-learn runs scipy's L-BFGS-B: other iterates, the
same minimum, so its scores agree to 0.05 (accuracy or R^2). Poisson regression
(loss="poisson", the exp output) on Poisson counts is compared the same way, by D^2 (the
fraction of Poisson deviance explained) and the reported loss_.
"""

import warnings

import numpy as np
import pytest
from sklearn import datasets, neural_network
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import d2_tweedie_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from jaxmlp.sklearn import MLPClassifier, MLPRegressor

TOLERANCE = {"sgd": 1e-10, "adam": 1e-10, "lbfgs": 0.05}


def _subset(x, y, n=240):
    return x[:n], y[:n]


DATA = {
    "iris": lambda: datasets.load_iris(return_X_y=True),
    "wine": lambda: datasets.load_wine(return_X_y=True),
    "breast_cancer": lambda: _subset(*datasets.load_breast_cancer(return_X_y=True)),
    "digits": lambda: _subset(*datasets.load_digits(return_X_y=True)),
    "classification": lambda: datasets.make_classification(200, 8, random_state=0),
    "multilabel": lambda: datasets.make_multilabel_classification(
        200, 8, n_classes=3, random_state=0
    ),
    "diabetes": lambda: _subset(*datasets.load_diabetes(return_X_y=True)),
    "regression": lambda: datasets.make_regression(200, 6, noise=5.0, random_state=0),
    "multi-output regression": lambda: datasets.make_regression(
        200, 6, n_targets=3, noise=5.0, random_state=0
    ),
}
CLASSIFICATION = ("iris", "wine", "breast_cancer", "digits", "classification", "multilabel")


def _split(name):
    x, y = DATA[name]()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    scale = StandardScaler().fit(x_train)
    x_train, x_test = scale.transform(x_train), scale.transform(x_test)
    if name not in CLASSIFICATION:  # targets on a unit scale, so that R^2 is well conditioned
        mean, std = y_train.mean(0), y_train.std(0)
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return x_train, x_test, y_train, y_test


@pytest.mark.slow  # 27 fits, each compiled for its data: ~60 s on 2 cores
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("name", list(DATA))
def test_scores_agree_with_scikit_learn(name, solver):
    x_train, x_test, y_train, y_test = _split(name)
    settings = dict(
        hidden_layer_sizes=(16,),
        activation="tanh",
        solver=solver,
        alpha=1e-3,
        batch_size=32,
        learning_rate_init=0.01 if solver == "adam" else 0.05,
        max_iter=30,
        random_state=0,
    )
    classifier = name in CLASSIFICATION
    theirs = (neural_network.MLPClassifier if classifier else neural_network.MLPRegressor)(
        **settings
    )
    ours = (MLPClassifier if classifier else MLPRegressor)(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 iterations on purpose
        theirs.fit(x_train, y_train)
        ours.fit(x_train, y_train)
    expected = theirs.score(x_test, y_test)
    assert ours.score(x_test, y_test) == pytest.approx(expected, abs=TOLERANCE[solver])
    dummy = (DummyClassifier() if classifier else DummyRegressor()).fit(x_train, y_train)
    assert expected > dummy.score(x_test, y_test) + 0.1  # a comparison between useful models


@pytest.mark.parametrize(
    "solver",
    ["sgd", "adam", pytest.param("lbfgs", marks=pytest.mark.slow)],  # lbfgs: ~25 s
)
def test_poisson_regression_agrees_with_scikit_learn(solver):
    """MLPRegressor(loss="poisson") on counts drawn from a Poisson model with log-mean
    0.5 + x w + 0.3 sin(2 x_0): the same held-out D^2 and training loss_ (scikit-learn's half
    Poisson deviance) as scikit-learn's own, to 1e-10 for sgd and adam and 0.05 for lbfgs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 4))
    w = 0.5 * rng.standard_normal(4)
    y = rng.poisson(np.exp(0.5 + x @ w + 0.3 * np.sin(2 * x[:, 0]))).astype(float)
    settings = dict(
        loss="poisson",
        hidden_layer_sizes=(8,),
        activation="tanh",
        solver=solver,
        alpha=0.01 if solver == "lbfgs" else 1e-4,
        learning_rate_init=0.01,
        max_iter=1000 if solver == "lbfgs" else 60,
        random_state=0,
    )
    theirs, ours = neural_network.MLPRegressor(**settings), MLPRegressor(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(x[:300], y[:300])
        ours.fit(x[:300], y[:300])
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    expected = d2_tweedie_score(y[300:], theirs.predict(x[300:]), power=1)
    got = d2_tweedie_score(y[300:], ours.predict(x[300:]), power=1)
    assert got == pytest.approx(expected, abs=TOLERANCE[solver]) and expected > 0.5
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10 if solver != "lbfgs" else 0.05)
