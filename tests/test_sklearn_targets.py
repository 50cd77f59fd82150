"""Degenerate classification targets as scikit-learn 1.9's MLPClassifier takes them: one class,
labels that are strings or bools, multilabel indicators with a constant column, and
``partial_fit`` whose ``classes`` name a label its first batch lacks. Both estimators fit the
same float64 data with the same settings, and give the same ``classes_``, outputs, predictions
and probabilities (shape and values), or raise the same error.

One class is scikit-learn's binary model with a target of 0 for every row: ``classes_`` holds
that class, ``predict`` always gives it, and ``predict_proba`` has two columns, 1 - y and y."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning

from jaxmlp.sklearn import MLPClassifier

# adam: the targets are read before any solver runs (sgd's steps are compared with
# scikit-learn's in test_sklearn_dropin.py)
SETTINGS = dict(hidden_layer_sizes=(4,), max_iter=5, learning_rate_init=0.05, random_state=0)

X = np.random.default_rng(0).normal(size=(40, 3))
POSITIVE = X[:, 0] > 0  # about half the rows
ZEROS, ONES = np.zeros(40, int), np.ones(40, int)


def _outcome(make, train):
    """``train(estimator)``'s fitted estimator, the warnings it gave (but ConvergenceWarning:
    5 epochs on purpose) and its answers on X; or the error it raised."""
    est = make(**SETTINGS)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(est)
    except ValueError as error:
        return error
    told = [(w.category, str(w.message)) for w in caught if w.category is not ConvergenceWarning]
    return est, told, est.predict(X), est.predict_proba(X), est.predict_log_proba(X)


CASES = {
    "one-class-int": lambda e: e.fit(X, ZEROS),
    "one-class-str": lambda e: e.fit(X, np.array(["a"] * 40)),
    "one-class-bool": lambda e: e.fit(X, ONES.astype(bool)),
    "one-class-column": lambda e: e.fit(X, ZEROS[:, None]),
    "binary-str": lambda e: e.fit(X, np.where(POSITIVE, "yes", "no")),
    "binary-bool": lambda e: e.fit(X, POSITIVE),
    "multilabel-constant-columns": lambda e: e.fit(X, np.c_[POSITIVE, ZEROS, ONES].astype(int)),
    "multilabel-all-0": lambda e: e.fit(X, np.zeros((40, 2), int)),
    "partial-fit-class-absent": lambda e: e.partial_fit(X, POSITIVE * 1, classes=[0, 1, 2]),
    "partial-fit-str-absent": lambda e: e.partial_fit(
        X, np.where(POSITIVE, "b", "a"), classes=["a", "b", "c"]
    ),
    "partial-fit-binary-one-seen": lambda e: e.partial_fit(X, ZEROS, classes=[0, 1]),
    "partial-fit-one-class": lambda e: e.partial_fit(X, ZEROS, classes=[0]),
    "partial-fit-then-absent-seen": lambda e: e.partial_fit(
        X, POSITIVE * 1, classes=[0, 1, 2]
    ).partial_fit(X, ZEROS + 2),
    # refused by both, with scikit-learn's messages
    "partial-fit-label-outside-classes": lambda e: e.partial_fit(X, POSITIVE * 3, classes=[0, 1]),
    "one-class-then-new-class": lambda e: e.fit(X, ZEROS).partial_fit(X, POSITIVE * 1),
    "warm-start-one-class-then-two": lambda e: (
        e.set_params(warm_start=True).fit(X, ZEROS).fit(X, POSITIVE * 1)
    ),
    "multiclass-multioutput": lambda e: e.fit(X, np.c_[np.arange(40) % 3, np.arange(40) % 2]),
}


@pytest.mark.parametrize("train", CASES.values(), ids=CASES.keys())
def test_degenerate_targets_are_answered_as_scikit_learn_answers_them(train):
    ours = _outcome(MLPClassifier, train)
    theirs = _outcome(neural_network.MLPClassifier, train)
    if isinstance(theirs, ValueError):
        assert isinstance(ours, ValueError), f"scikit-learn raised {theirs!r}, jaxmlp did not"
        assert str(ours) == str(theirs)
        return
    assert not isinstance(ours, ValueError), f"jaxmlp raised {ours!r}, scikit-learn did not"
    (est, told, *answers), (ref, warned, *expected) = ours, theirs
    assert told == warned  # a column y: scikit-learn's DataConversionWarning
    assert est.classes_.dtype == ref.classes_.dtype
    np.testing.assert_array_equal(est.classes_, ref.classes_)
    assert (est.n_outputs_, est.out_activation_) == (ref.n_outputs_, ref.out_activation_)
    predicted, proba, log_proba = answers
    assert predicted.dtype == expected[0].dtype
    np.testing.assert_array_equal(predicted, expected[0])
    for a, b in zip((proba, log_proba), expected[1:]):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_one_class_predicts_it_with_two_probability_columns():
    """The shape scikit-learn gives, though its ``predict_proba`` docstring says ``n_classes``
    columns: column 0, 1 - y, is the class's probability, column 1 the output y that training
    drives towards 0."""
    est, _, predicted, proba, _ = _outcome(MLPClassifier, CASES["one-class-str"])
    assert est.classes_.tolist() == ["a"] and set(predicted) == {"a"}
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
