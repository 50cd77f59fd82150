"""Targets a careless user passes: what scikit-learn 1.9 refuses (or fails on with a confusing
message) is a ValueError here that names the problem and what y may hold. Weights set by hand,
warm starts refused and a batch whose weights sum to 0: what the estimator does with them."""

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn import neural_network

from jaxmlp.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BASE = {"hidden_layer_sizes": (3,), "max_iter": 2, "random_state": 0}


def _x(n=12):
    return np.random.default_rng(0).normal(size=(n, 3))


@pytest.mark.parametrize("fit", ["fit", "partial_fit"])
def test_regression_targets_as_strings_are_refused(fit):
    """scikit-learn's regressor fails in its loss (a NumPy UFuncTypeError: str minus float); the
    regressor here trained on the strings' numbers."""
    x, y = _x(), np.array([f"{v:.2f}" for v in np.linspace(-1, 1, 12)])
    with pytest.raises((TypeError, ValueError)):  # 1.9: NumPy's UFuncTypeError, "subtract"
        neural_network.MLPRegressor(**BASE).fit(x, y)
    with pytest.raises(ValueError, match=r"numeric y .*got dtype <U5.*y\.astype\(float\)"):
        getattr(MLPRegressor(**BASE), fit)(x, y)


def test_regression_targets_as_python_numbers_in_an_object_array_train_as_floats():
    """scikit-learn converts an object y to float64 (a pandas object column): so does this."""
    x, y = _x(), np.linspace(-1, 1, 12)
    ours = MLPRegressor(**BASE).fit(x, y.astype(object))
    np.testing.assert_array_equal(ours.coefs_[0], MLPRegressor(**BASE).fit(x, y).coefs_[0])


@pytest.mark.parametrize(
    "make, y",
    [
        (MLPRegressor, [0.5, None, 1.0, None] * 3),
        (MLPRegressor, np.array([[0.5, 1.0], [None, 2.0]] * 6, dtype=object)),
        (MLPClassifier, [0, 1, None, 1] * 3),
        (MLPClassifier, ["a", "b", None, "b"] * 3),
    ],
    ids=["regressor", "regressor-2d", "int-labels", "string-labels"],
)
def test_none_in_y_is_named_as_missing_targets(make, y):
    """Before: the regressor read None as NaN and trained to "non-finite parameter weights
    ... lower learning_rate_init"; the classifier said "Unknown label type: unknown" (ints) or
    raised a TypeError from sorting None with strings."""
    rows = "rows \\[2, 6, 10\\]" if make is MLPClassifier else "rows \\[1, 3, 5"
    with pytest.raises(ValueError, match=f"y has missing values \\(None\\) in .*{rows}"):
        make(**BASE).fit(_x(), y)


@pytest.mark.parametrize(
    "make, y, kinds",
    [
        (MLPClassifier, pd.Series(["a", "b", pd.NA, "b"] * 3, dtype="string"), "pd.NA"),
        (MLPClassifier, pd.Series(["a", None, pd.NA, "b"] * 3, dtype=object), "None, pd.NA"),
        (MLPRegressor, pd.Series([0.5, 1.0, pd.NA, 2.0] * 3, dtype=object), "pd.NA"),
    ],
    ids=["string-dtype", "object-both", "regressor"],
)
def test_pandas_na_in_y_is_named_as_missing_targets(make, y, kinds):
    """Before: pandas' TypeError "boolean value of NA is ambiguous" from scikit-learn's NaN
    check, where a None was already this ValueError naming its rows."""
    rows = r"rows \[2, 6, 10\]" if kinds == "pd.NA" else r"rows \[1, 2, 5, 6, 9"
    with pytest.raises(ValueError, match=rf"y has missing values \({kinds}\) in .*{rows}"):
        make(**BASE).fit(_x(), y)


@pytest.mark.parametrize("fit", ["fit", "partial_fit"])
def test_coefs_set_without_intercepts_is_a_value_error_naming_them(fit):
    """Before: AttributeError "'MLPRegressor' object has no attribute 'intercepts_'"."""
    est = MLPRegressor(**BASE, warm_start=True)
    est.coefs_ = [np.zeros((3, 3)), np.zeros((3, 1))]
    with pytest.raises(ValueError, match="coefs_ is set but intercepts_ is not"):
        getattr(est, fit)(_x(), np.linspace(-1, 1, 12))


def _frame(n=40):
    x = pd.DataFrame(np.random.default_rng(0).normal(size=(n, 3)), columns=["a", "b", "c"])
    return x, (x.a > 0).astype(int)


def _set_by_hand(est, widths=(3, 4, 1)):
    rng = np.random.default_rng(1)
    est.coefs_ = [rng.normal(size=io) for io in zip(widths, widths[1:])]
    est.intercepts_ = [np.zeros(w) for w in widths[1:]]
    return est


@pytest.mark.parametrize("fit", ["fit", "partial_fit"])
def test_weights_set_by_hand_then_fitted_know_the_columns(fit):
    """Before: a warm start from weights set on an estimator never fitted validated X with
    reset=False, so ``n_features_in_``/``feature_names_in_`` were never set and reordered
    columns predicted wrongly, warning only "fitted without feature names"."""
    x, y = _frame()
    est = _set_by_hand(MLPClassifier(**BASE | {"hidden_layer_sizes": (4,)}, warm_start=True))
    kwargs = {"classes": [0, 1]} if fit == "partial_fit" else {}
    getattr(est, fit)(x, y, **kwargs)
    assert est.n_features_in_ == 3 and list(est.feature_names_in_) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(x[["c", "b", "a"]])


def test_weights_set_by_hand_for_other_columns_are_a_value_error_and_can_be_set_again():
    """Weights for 3 columns on X of 4: the architecture's ValueError; weights set again for
    4 columns then fit (the refused fit left no width behind to refuse them with)."""
    x, y = _frame()
    x["d"] = 0.0
    est = _set_by_hand(MLPClassifier(**BASE | {"hidden_layer_sizes": (4,)}, warm_start=True))
    with pytest.raises(ValueError, match=r"params\[0\] does not match the architecture \(4, 4"):
        est.fit(x, y)
    _set_by_hand(est, (4, 4, 1)).fit(x, y)
    assert est.n_features_in_ == 4


@pytest.mark.parametrize(
    "change, back, match",
    [
        ({"hidden_layer_sizes": (6,)}, {"hidden_layer_sizes": (3,)}, r"architecture \(3, 6, 3\)"),
        ({"activation": "prelu"}, {"activation": "relu"}, "activation changed from 'relu' to"),
        ({"activation": "relu"}, {"activation": "prelu"}, "activation changed from 'prelu' to"),
    ],
    ids=["sizes", "to-prelu", "from-prelu"],
)
@pytest.mark.parametrize("fit", ["fit", "partial_fit"])
def test_a_refused_warm_start_leaves_the_fitted_model_as_it_was(fit, change, back, match):
    """Before: the refused fit had already made ``net_`` the new architecture's, so predict
    raised the same ValueError even after set_params back; and a switch to or from prelu was
    named as shapes of a learnable slope ``alpha``, not as the activation that changed."""
    x, y = _x(30), np.arange(30) % 3
    est = MLPClassifier(**BASE | back, warm_start=True).fit(x, y)
    predicted, coefs = est.predict_proba(x), [w.copy() for w in est.coefs_]
    with pytest.raises(ValueError, match=match):
        getattr(est.set_params(**change), fit)(x, y)
    np.testing.assert_array_equal(est.set_params(**back).predict_proba(x), predicted)
    assert all(np.array_equal(a, b) for a, b in zip(est.coefs_, coefs, strict=True))
    getattr(est, fit)(x, y)


@pytest.mark.parametrize(
    "settings, moves",
    [
        ({"solver": "sgd", "momentum": 0.0, "alpha": 0.5}, False),
        ({"solver": "sgd", "momentum": 0.9}, True),
        ({"solver": "adam"}, True),
    ],
    ids=["sgd-no-momentum", "sgd-momentum", "adam"],
)
def test_a_batch_whose_weights_sum_to_0_has_a_zero_gradient(settings, moves):
    """As README says: its gradient (with its L2 term) is 0, so plain sgd moves nothing on it,
    while momentum and adam step from their state as after any zero gradient (scikit-learn's
    optimizers do too; its estimator stops there with NumPy's ZeroDivisionError). README said it
    moves nothing whatever the solver."""
    x = _x(20)
    y = x[:, 0]
    settings = BASE | settings | {"batch_size": 10, "shuffle": False, "learning_rate_init": 0.1}
    one = MLPRegressor(**settings).partial_fit(x[:10], y[:10], sample_weight=np.ones(10))
    both = MLPRegressor(**settings).partial_fit(x, y, sample_weight=np.r_[np.ones(10), [0] * 10])
    moved = max(np.abs(a - b).max() for a, b in zip(one.coefs_, both.coefs_, strict=True))
    assert (moved > 1e-3) if moves else moved == 0.0


@pytest.mark.filterwarnings("ignore:A column-vector y was passed")  # k = 1: as a dense one's
@pytest.mark.parametrize("fit", ["fit", "partial_fit"])
@pytest.mark.parametrize("k", [1, 2])
def test_sparse_regression_targets_train_as_their_dense_values(fit, k):
    """A scipy.sparse y (mostly zero targets): scikit-learn's regressor fails in its loss
    (NumPy's LinAlgError); the regressor here failed with scipy's TypeError "sparse array length
    is ambiguous". Now it trains on y's values: the weights of the dense y."""
    x = _x()
    y = np.where(x[:, :k] > 0, x[:, :k], 0.0)
    dense = getattr(MLPRegressor(**BASE), fit)(x, y.ravel() if k == 1 else y)
    sparse = getattr(MLPRegressor(**BASE), fit)(x, sp.csr_matrix(y))
    for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert sparse.predict(x).shape == dense.predict(x).shape


def test_weights_set_by_hand_as_lists_predict_and_train_as_arrays():
    """Weights set as nested lists (``w.tolist()``): scikit-learn's predict multiplies by them;
    here predict raised AttributeError "'list' object has no attribute 'dtype'" and a warm
    start "... no attribute 'shape'". Now they are read as the arrays they spell."""
    x, y = _x(), np.linspace(-1, 1, 12)
    fitted = MLPRegressor(**BASE, warm_start=True).fit(x, y)
    weights = [w.copy() for w in fitted.coefs_], [b.copy() for b in fitted.intercepts_]
    as_lists = MLPRegressor(**BASE, warm_start=True).fit(x, y)
    as_lists.coefs_, as_lists.intercepts_ = ([a.tolist() for a in w] for w in weights)
    np.testing.assert_array_equal(as_lists.predict(x), fitted.predict(x))
    for est in (fitted, as_lists):
        est.fit(x, y)
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, as_lists.coefs_ + as_lists.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("loss, row, what", [
    ("squared_error", [3e38, 3e38, 3e38], "nan"),  # the hidden layer overflows: inf - inf
    ("poisson", [1e4, 1e4, 1e4], "inf"),  # exp of a large output overflows float32
])  # fmt: skip
def test_a_regressor_refuses_outputs_that_are_not_finite_as_the_classifier_does(loss, row, what):
    """Finite float32 inputs that overflow the network: predict returned NaN or inf with no
    word (scikit-learn's at least warns of the overflow in NumPy's exp), where the classifier,
    jaxmlp predict and load_run(...).predict refuse them, naming the rows. Now a ValueError
    here too; the finite rows beside them are still predicted alone."""
    x = _x().astype(np.float32)
    est = MLPRegressor(**BASE, loss=loss).fit(x, np.abs(x[:, 0]))
    out = [[1.0], [1.0], [1.0]] if loss == "poisson" else [[1.0], [-1.0], [1.0]]
    est.coefs_ = [np.ones((3, 3), np.float32), np.array(out, np.float32)]
    est.intercepts_ = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
    bad = np.array([[0.5, 0.5, 0.5], row], np.float32)
    with np.errstate(all="ignore"):  # the forward pass in NumPy, as scikit-learn's
        h = np.maximum(bad.astype(np.float32) @ est.coefs_[0], 0) @ est.coefs_[1]
        assert str((np.exp(h) if loss == "poisson" else h)[1, 0]) == what
    with pytest.raises(ValueError, match=r"1 of 2 rows have outputs that are not finite .*\[1\]"):
        est.predict(bad)
    with pytest.raises(ValueError, match=r"not finite"):
        est.score(bad, np.ones(2))
    assert np.isfinite(est.predict(bad[:1])).all()
    clf = MLPClassifier(**BASE).fit(x, x[:, 0] > 0)  # its sigmoid of inf - inf is NaN
    clf.coefs_ = [np.ones((3, 3), np.float32), np.array([[1.0], [-1.0], [1.0]], np.float32)]
    clf.intercepts_ = est.intercepts_
    with pytest.raises(ValueError, match=r"1 of 2 rows have outputs that are not finite"):
        clf.predict(np.array([[0.5, 0.5, 0.5], [3e38, 3e38, 3e38]], np.float32))


@pytest.mark.parametrize("make, method", [
    (MLPClassifier, "predict"), (MLPClassifier, "predict_proba"), (MLPClassifier, "score"),
    (MLPRegressor, "predict"), (MLPRegressor, "score"),
])  # fmt: skip
def test_weights_set_by_hand_on_an_estimator_never_fitted_do_not_predict(make, method):
    """Before: AttributeError "'MLPRegressor' object has no attribute 'net_'" (scikit-learn's:
    no attribute 'n_layers_'): such weights know no output nor classes until a fit. Now
    scikit-learn's NotFittedError (a ValueError and an AttributeError) saying how to go on."""
    from sklearn.exceptions import NotFittedError

    est = _set_by_hand(make(**BASE | {"hidden_layer_sizes": (4,)}))
    args = (_x(),) if method != "score" else (_x(), np.zeros(12))
    with pytest.raises(NotFittedError, match=r"set by hand .* never fitted.*warm_start=True"):
        getattr(est, method)(*args)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dtype, exponent", [(np.float32, 123), (np.float64, 1019)])
def test_huge_sample_weights_train_as_their_ratios(solver, dtype, exponent):
    """Weights of 2^123 in float32 (2^1019 in float64): 16 of them sum to 2^127, held by the
    dtype, but 1 / 2^127 is subnormal, and XLA:CPU, which divides by the batch's total weight
    as a product with its reciprocal, flushes it to 0: every gradient was 0 and the estimator
    returned its starting weights, silently (scikit-learn trains). With alpha = 0 the fit is
    the one of unit weights: only the ratios s_i / sum(s) count."""
    x = _x(16).astype(dtype)
    y = (x[:, 0] > 0).astype(int)
    settings = BASE | {"solver": solver, "alpha": 0.0, "max_iter": 3}  # one batch of 16
    ones = MLPClassifier(**settings).fit(x, y, sample_weight=np.ones(16))
    huge = MLPClassifier(**settings).fit(x, y, sample_weight=np.full(16, 2.0**exponent))
    for a, b in zip(ones.coefs_, huge.coefs_, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=0)


@pytest.mark.parametrize("where", ["coefs_", "intercepts_"])
@pytest.mark.parametrize("use", ["predict", "fit"])
def test_masked_weights_set_by_hand_are_refused(where, use):
    """Before: ``params_`` read the weights with ``np.asarray``, which drops a mask, so predict
    and a warm start used the numbers under it, silently (jaxmlp's ``MLP`` refuses masked
    parameters: ``numeric.check_unmasked``)."""
    x, y = _x(), np.linspace(-1, 1, 12)
    est = MLPRegressor(**BASE, warm_start=True).fit(x, y)
    weights = getattr(est, where)
    mask = np.zeros(weights[0].shape, bool)
    mask.flat[0] = True
    weights[0] = np.ma.masked_array(weights[0], mask)
    with pytest.raises(ValueError, match=rf"{where}\[0\] is a masked array with 1 masked entr"):
        est.predict(x) if use == "predict" else est.fit(x, y)


@pytest.mark.parametrize("n_coefs, n_intercepts, named", [
    (1, 2, r"coefs_ has 1 layers? and intercepts_ 2"),
    (2, 1, r"coefs_ has 2 layers? and intercepts_ 1"),
    (1, 1, r"params must be a list of 2 layer dicts for sizes \(3, 3, 1\), got 1"),
])  # fmt: skip
def test_weights_set_by_hand_for_another_number_of_layers_are_named(n_coefs, n_intercepts, named):
    """Before: predict's ValueError was ``zip()``'s, "zip() argument 2 is longer than argument
    1" (or argument 3, the fitted slopes, with both lists of one layer)."""
    x, y = _x(), np.linspace(-1, 1, 12)
    est = MLPRegressor(**BASE).fit(x, y)
    est.coefs_, est.intercepts_ = est.coefs_[-n_coefs:], est.intercepts_[-n_intercepts:]
    with pytest.raises(ValueError, match=named):
        est.predict(x)


def test_a_float64_layer_set_by_hand_among_float32_ones_predicts_in_float64():
    """Before: predict took its dtype from X and ``coefs_[0]`` alone: float32 X and a float64
    output layer set by hand on a float32 fit computed in float32, the float64 weights rounded
    (outputs 1e-7 off NumPy's float64 forward pass, as scikit-learn computes it). Outputs are in
    the dtype of X and all the weights."""
    x = _x().astype(np.float32)
    est = MLPRegressor(**BASE).fit(x, np.linspace(-1, 1, 12))
    est.coefs_[1] = est.coefs_[1].astype(np.float64) * (1 + 1e-3 * np.pi)
    w, b = [np.asarray(a, np.float64) for a in est.coefs_], est.intercepts_
    expected = np.maximum(x.astype(np.float64) @ w[0] + b[0], 0) @ w[1] + b[1]
    got = est.predict(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected.ravel(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("where", ["coefs_", "intercepts_"])
def test_complex_weights_set_by_hand_are_named(where):
    """Before: predict cast every weight to the complex dtype and jaxmlp's check named another
    one, ``params[0]['b'] has dtype complex64`` for a complex ``coefs_[1]``. bfloat16, a real
    float NumPy calls of kind "V", still predicts."""
    x, y = _x(), np.linspace(-1, 1, 12)
    est = MLPRegressor(**BASE).fit(x, y)
    real = getattr(est, where)[1]
    getattr(est, where)[1] = real.astype(np.complex128)
    said = rf"^{where}\[1\] must be real numbers, got dtype complex128\."
    with pytest.raises(ValueError, match=said):
        est.predict(x)
    getattr(est, where)[1] = real.astype(jnp.bfloat16)
    assert est.predict(x).dtype == np.float64
