"""jaxmlp.sklearn as a drop-in for sklearn.neural_network (issue 19): each parameter with
scikit-learn's meaning, checked step for step against scikit-learn 1.9 in float64 (same starting
weights from random_state, the same shuffled batches with the last one smaller, the same
updates); dtypes, sparse input, weights set by hand, its error messages and its divergence."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.sparse as sp
from sklearn import neural_network
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from jaxmlp.optim import weights_only
from jaxmlp.sklearn import MLPClassifier, MLPRegressor, _forward, _solvers


def _data(n=53, d=4, k=1, seed=0):
    """n = 53 with batch_size 10: five batches of 10 and a last one of 3 per epoch."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    t = np.tanh(x @ rng.normal(size=(d, k))) + 0.1 * rng.normal(size=(n, k))
    return x, t[:, 0] if k == 1 else t


def _fit(make, x, y, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short runs on purpose
        return make(**settings).fit(x, y)


def _weights(est):
    return est.coefs_ + est.intercepts_


def _assert_same_weights(ours, theirs, tol):
    for a, b in zip(_weights(ours), _weights(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


BASE = dict(hidden_layer_sizes=(8,), activation="tanh", alpha=0.01, batch_size=10, random_state=0)


@pytest.mark.parametrize(
    "settings",
    [
        dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
        dict(solver="sgd", learning_rate="invscaling", power_t=0.3, learning_rate_init=0.2),
        dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling", power_t=0.7),
        dict(solver="sgd", momentum=1.0, learning_rate_init=0.01),
        dict(solver="sgd", shuffle=False, learning_rate_init=0.1),
        dict(solver="sgd", early_stopping=True, validation_fraction=0.2, learning_rate_init=0.1),
        dict(solver="adam", beta_1=0.5, beta_2=0.9, learning_rate_init=0.01),
        dict(solver="adam", shuffle=False, n_iter_no_change=np.inf),
    ],
    ids=[
        "sgd",
        "invscaling-nesterov",
        "invscaling-momentum",
        "momentum-1",
        "no-shuffle",
        "early-stopping",
        "adam-betas",
        "adam-no-shuffle",
    ],
)
def test_stochastic_solvers_take_scikit_learn_s_steps(settings):
    """Eight epochs of mini-batches (the last one smaller, its L2 term alpha / (2 * 3) |w|^2)
    give scikit-learn's weights, loss curve and validation scores. invscaling changes eta
    between epochs, where optax.sgd's momentum convention (eta times the whole velocity) would
    part from scikit-learn's (each gradient kept at its own eta). Adam too, to rounding
    (test_adam_takes_scikit_learn_s_steps_where_v_is_small)."""
    x, y = _data()
    settings = BASE | dict(max_iter=8) | settings
    theirs = _fit(neural_network.MLPRegressor, x, y, **settings)
    ours = _fit(MLPRegressor, x, y, **settings)
    tol = 1e-10
    _assert_same_weights(ours, theirs, tol)
    assert ours.n_iter_ == theirs.n_iter_ == 8 and ours.t_ == theirs.t_  # 8 x the training set
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=tol)
    if settings.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=tol)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)


def test_optax_s_momentum_convention_would_part_from_scikit_learn_s(monkeypatch):
    """The twin of the invscaling cases above: optax.sgd's momentum (v <- g + mu v, step eta v,
    so a new eta rescales the whole velocity) in place of scale-then-trace leaves scikit-learn's
    weights by far more than the 1e-10 those cases allow."""
    x, y = _data()
    settings = BASE | dict(solver="sgd", learning_rate="invscaling", power_t=0.3, max_iter=8)
    theirs = _fit(neural_network.MLPRegressor, x, y, **settings | dict(learning_rate_init=0.2))

    def optax_sgd(solver, nesterov):
        def make(learning_rate, weight_decay, momentum, beta_1, beta_2, epsilon):
            del beta_1, beta_2, epsilon
            decay = optax.add_decayed_weights(weight_decay, mask=weights_only)
            return optax.chain(decay, optax.sgd(learning_rate, momentum, nesterov=nesterov))

        return make

    for cache in (_solvers.transformation, _solvers.runners):
        cache.cache_clear()
    monkeypatch.setattr(_solvers, "_factory", optax_sgd)
    try:
        ours = _fit(MLPRegressor, x, y, **settings | dict(learning_rate_init=0.2))
    finally:
        for cache in (_solvers.transformation, _solvers.runners):
            cache.cache_clear()
    gap = max(np.max(np.abs(a - b)) for a, b in zip(_weights(ours), _weights(theirs)))
    assert gap > 1e-3


@pytest.mark.slow
def test_every_epoch_uses_every_example():
    """Issue 19's example: 300 examples in batches of 200. Dropping the last 100 every epoch
    left a noisy one-step epoch loss that stopped training at iteration 16 with R^2 0.034;
    with the last, smaller batch trained on, the run is scikit-learn's (R^2 0.99)."""
    x, y = make_regression(300, 5, random_state=0)
    settings = dict(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0)
    theirs = _fit(neural_network.MLPRegressor, x, y, **settings)
    ours = _fit(MLPRegressor, x, y, **settings)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=1e-6)
    assert ours.score(x, y) > 0.99


def test_adaptive_divides_the_learning_rate_by_5_until_1e_6():
    """learning_rate="adaptive": each time the stopping rule fires (the loss has not improved by
    tol for more than n_iter_no_change epochs) eta is divided by 5, and training stops once eta
    is <= 1e-6; with tol huge that is every other epoch here, from 0.1 down to 2.56e-7."""
    x, y = _data()
    settings = BASE | dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=1e9,
        n_iter_no_change=1,
        max_iter=100,
    )
    theirs = _fit(neural_network.MLPRegressor, x, y, **settings)
    ours = _fit(MLPRegressor, x, y, **settings)
    assert ours.n_iter_ == theirs.n_iter_ == 1 + 2 * 9 < 100  # 8 divisions, then the stop
    assert _solvers.hyperparam(ours._opt_state, "learning_rate") == pytest.approx(0.1 / 5**8)
    _assert_same_weights(ours, theirs, 1e-10)
    constant = _fit(MLPRegressor, x, y, **settings | dict(learning_rate="constant"))
    assert constant.n_iter_ == 3  # without adaptive, the first firing stops


def _sparse_like(n=450, d=2500, seed=0):
    """Sparse-like input (1% nonzero): most weights see a zero gradient most steps, so Adam's
    second moment v stays near 0 and where epsilon goes decides the step."""
    x = sp.random(n, d, density=0.01, random_state=seed, format="csr")
    return x, np.random.default_rng(seed).integers(0, 3, n)


def _adam_gap(x, y, settings):
    theirs = _fit(neural_network.MLPClassifier, x, y, **settings)
    ours = _fit(MLPClassifier, x, y, **settings)
    return max(np.max(np.abs(a - b)) for a, b in zip(_weights(ours), _weights(theirs)))


ADAM = dict(solver="adam", random_state=0)


@pytest.mark.slow
def test_adam_takes_scikit_learn_s_steps_where_v_is_small(monkeypatch):
    """scikit-learn's Adam, -eta sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), in its order
    of float operations: its weights to rounding (4.1e-15 measured) on sparse-like data, and
    on digits (5.6e-17). optax.adam (eps added to sqrt(v_hat), what the estimators ran
    before) parts from them there by 0.94 and 1.0e-2."""
    x, y = _sparse_like()
    digits = load_digits()
    xd, yd = digits.data[:400] / 16, digits.target[:400]
    sparse = ADAM | dict(hidden_layer_sizes=(2,), learning_rate_init=0.1, max_iter=3)
    on_digits = ADAM | dict(hidden_layer_sizes=(16,), max_iter=10)
    assert _adam_gap(x, y, sparse) < 1e-13
    assert _adam_gap(xd, yd, on_digits) < 1e-13
    for cache in (_solvers.transformation, _solvers.runners):
        cache.cache_clear()
    monkeypatch.setattr(_solvers, "scale_by_sklearn_adam", optax.adam)  # (eta, b1, b2, eps)
    try:
        assert _adam_gap(x, y, sparse) > 0.1
        assert _adam_gap(xd, yd, on_digits) > 1e-3
    finally:
        for cache in (_solvers.transformation, _solvers.runners):
            cache.cache_clear()


@pytest.mark.slow  # optax's line search takes a while to compile: ~30 s on 2 busy cores
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lbfgs_with_max_iter_max_fun_and_tol():
    """lbfgs: optax's L-BFGS (zoom line search) on the whole set, stopped like scipy's
    L-BFGS-B by max_iter, max_fun (cost evaluations) or max |grad| <= tol. Its iterates are not
    scipy's, its fit is as good; it has no partial_fit (scikit-learn's AttributeError)."""
    x, y = _data()
    settings = BASE | dict(solver="lbfgs", max_iter=60)
    theirs = _fit(neural_network.MLPRegressor, x, y, **settings)
    ours = _fit(MLPRegressor, x, y, **settings)
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=0.02)
    penalty = 0.01 / (2 * len(x)) * sum(np.sum(w**2) for w in ours.coefs_)
    at_the_weights = 0.5 * np.mean((ours.predict(x) - y) ** 2) + penalty
    assert ours.n_iter_ == 60 and ours.loss_ == pytest.approx(at_the_weights, rel=1e-10)
    assert ours.loss_ < 2 * theirs.loss_
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        few = MLPRegressor(**settings | dict(max_fun=10)).fit(x, y)
    assert few.n_iter_ < 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        done = MLPRegressor(**settings | dict(tol=1e-1, max_iter=500)).fit(x, y)
    assert done.n_iter_ < 500
    assert not hasattr(ours, "partial_fit")
    labels = y > 0  # scikit-learn's regressor does not refuse (its check is never called)
    with pytest.raises(AttributeError) as sk:
        neural_network.MLPClassifier(**settings).partial_fit(x, labels, classes=[False, True])
    with pytest.raises(AttributeError) as mine:
        MLPClassifier(**settings).partial_fit(x, labels, classes=[False, True])
    assert str(mine.value) == str(sk.value)
    assert str(mine.value.__cause__) == str(sk.value.__cause__)
    assert "only available for stochastic optimizers. lbfgs is not" in str(mine.value.__cause__)


@pytest.mark.slow
def test_float64_input_computes_in_float64_and_float32_stays_float32():
    """float64 X gives float64 weights and predictions, computed in float64 inside
    jax.enable_x64 (the process stays in float32: a new array is float32 afterwards); float32
    X gives float32 weights, predictions and probabilities, as in scikit-learn."""
    x, y = _data()
    labels = y > 0
    for dtype in (np.float64, np.float32):
        reg = _fit(MLPRegressor, x.astype(dtype), y, **BASE, max_iter=2)
        clf = _fit(MLPClassifier, x.astype(dtype), labels, **BASE, max_iter=2)
        assert {w.dtype for w in _weights(reg) + _weights(clf)} == {np.dtype(dtype)}
        assert reg.predict(x.astype(dtype)).dtype == dtype
        assert clf.predict_proba(x.astype(dtype)).dtype == dtype
        assert jnp.asarray(1.0).dtype == jnp.float32 and not jax.config.jax_enable_x64
    sk = _fit(neural_network.MLPRegressor, x, y, **BASE, max_iter=2)
    np.testing.assert_allclose(reg.predict(x), sk.predict(x), atol=1e-5)  # float32 weights


def test_float64_inputs_beyond_float32_range_train_as_in_scikit_learn():
    """Finite float64 data that overflows float32 (1e30 * x) trains in float64, as it does in
    scikit-learn, instead of being refused as "NaN or Inf in x"."""
    x, y = _data()
    settings = BASE | dict(solver="sgd", max_iter=3)
    theirs = _fit(neural_network.MLPRegressor, 1e30 * x, y, **settings)
    ours = _fit(MLPRegressor, 1e30 * x, y, **settings)
    _assert_same_weights(ours, theirs, 1e-10)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.slow
def test_sparse_input_trains_and_predicts_like_dense(fmt, solver, monkeypatch):
    """Sparse X (CSR or CSC) gives the dense fit's weights and predictions; stochastic solvers
    densify one batch at a time here (the threshold lowered to one batch), prediction a block
    of rows at a time. lbfgs densifies the whole training set: it evaluates all of it at once."""
    x, y = _data()
    x[np.abs(x) < 0.8] = 0.0
    settings = BASE | dict(solver=solver, max_iter=5)
    dense = _fit(MLPRegressor, x, y, **settings)
    densified = []
    monkeypatch.setattr(_solvers, "_DENSE_ELEMENTS", 10 * x.shape[1])
    monkeypatch.setattr(_forward, "_BLOCK", 16)
    toarray = sp.csr_matrix.toarray
    monkeypatch.setattr(
        sp.csr_matrix, "toarray", lambda m, *a: densified.append(m.shape[0]) or toarray(m, *a)
    )
    sparse = _fit(MLPRegressor, getattr(sp, f"{fmt}_matrix")(x), y, **settings)
    _assert_same_weights(sparse, dense, 1e-12)
    densified.clear()
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(x)), dense.predict(x), rtol=1e-12)
    assert max(densified) == 16 < len(x)


@pytest.mark.parametrize(
    "solver, dtype, weighted", [("sgd", np.float64, False), ("adam", np.float32, True)]
)
def test_a_large_dense_x_streams_a_few_batches_at_a_time_as_the_on_device_fit(
    solver, dtype, weighted, monkeypatch, rows_on_device
):
    """Regression: a stochastic fit put all of a dense X on the device, and every epoch
    gathered a shuffled copy of it there (``x[order]`` in the compiled epoch): a 381 MB X grew
    the process by 907 MB (100 000 x 1000 float32, batch 200). An X of more than
    ``_solvers._DEVICE_ELEMENTS`` elements now stays on the host and travels a few batches at
    a time, as a sparse one does: the on-device fit's weights and loss curve bit for bit while
    an epoch's batches travel at once, and to the last bits with three batches at a time
    (no array of all the rows on the device)."""
    x, y = _data()
    x = x.astype(dtype)
    s = np.linspace(0.5, 2.0, len(x)) if weighted else None
    settings = BASE | dict(solver=solver, max_iter=5)

    def fitted():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # short runs on purpose
            return MLPRegressor(**settings).fit(x, y, sample_weight=s)

    on_device = fitted()
    monkeypatch.setattr(_solvers, "_DEVICE_ELEMENTS", x.size - 1, raising=False)
    rows = rows_on_device(monkeypatch)
    streamed = fitted()
    assert max(rows) < len(x), sorted(set(rows))  # no array of all the rows went there
    for a, b in zip(_weights(streamed), _weights(on_device), strict=True):
        assert a.dtype == dtype and a.tobytes() == b.tobytes()
    assert streamed.loss_curve_ == on_device.loss_curve_
    monkeypatch.setattr(_solvers, "_DENSE_ELEMENTS", 30 * x.shape[1])
    rows.clear()
    chunked = fitted()
    assert max(rows) <= 30, sorted(set(rows))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    _assert_same_weights(chunked, on_device, tol)
    np.testing.assert_allclose(chunked.loss_curve_, on_device.loss_curve_, rtol=tol)


def test_predict_holds_one_block_of_the_inputs_on_the_device_at_a_time(monkeypatch, rows_on_device):
    """Regression: the estimators' forward pass (``_forward.apply``: predict, predict_proba,
    score, the early-stopping score) computed its outputs a block of rows at a time but sent
    all of X, zero-padded, to the device in one call. Every transfer to the device is spied on
    (any other is disallowed): none holds more than a block's rows, dense or sparse, and the
    outputs are the one-block ones."""
    x, y = _data(n=300)
    classes = (y > 0).astype(int)
    est = _fit(MLPRegressor, x, y, **BASE, max_iter=2)
    clf = _fit(MLPClassifier, x, classes, **BASE, max_iter=2)
    whole = est.predict(x), clf.predict_proba(x)  # 300 rows: one block of 1024
    monkeypatch.setattr(_forward, "_BLOCK", 64)
    rows = rows_on_device(monkeypatch)
    with jax.transfer_guard_host_to_device("disallow"):
        blocked = est.predict(x), clf.predict_proba(x), est.predict(sp.csr_matrix(x))
    monkeypatch.undo()
    assert rows and max(rows) <= 64, sorted(set(rows))
    for got, want in zip(blocked, whole + whole[:1], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_predict_compiles_one_program_for_any_number_of_rows(monkeypatch):
    """The forward pass's last block is zero-padded to a whole one: predictions for any count of
    rows (one, a block, one more, several blocks) share one compiled program."""
    from jaxmlp import evaluation

    x, y = _data(n=300)
    est = _fit(MLPRegressor, x, y, **BASE, max_iter=1)
    monkeypatch.setattr(_forward, "_BLOCK", 64)
    est.predict(x[:1])
    compiled = evaluation._forward._cache_size()
    for n in (63, 64, 65, 300):
        assert est.predict(x[:n]).shape == (n,)
    assert evaluation._forward._cache_size() == compiled


def test_coefs_and_intercepts_can_be_set_to_warm_start():
    """Weights set by hand (whole lists, or arrays edited in place) are where a warm start
    begins, as in scikit-learn; weights that do not fit the network are refused."""
    x, y = _data()
    settings = BASE | dict(solver="sgd", max_iter=2, warm_start=True)
    theirs = _fit(neural_network.MLPRegressor, x, y, **settings)
    ours = _fit(MLPRegressor, x, y, **settings)
    for est in (theirs, ours):
        est.coefs_ = [0.5 * w for w in est.coefs_]
        est.intercepts_[1][:] = 0.25
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(x, y)
        ours.fit(x, y)
    _assert_same_weights(ours, theirs, 1e-10)

    never_fitted = MLPRegressor(**settings)  # weights set before any fit: the start too
    start = [0.5 * w for w in _fit(MLPRegressor, x, y, **settings).coefs_]
    never_fitted.coefs_, never_fitted.intercepts_ = start, [b.copy() for b in ours.intercepts_]
    ours.coefs_ = [w.copy() for w in start]
    for est in (never_fitted, ours):
        _fit(lambda est=est: est, x, y)
    _assert_same_weights(never_fitted, ours, 0.0)
    assert never_fitted.n_iter_ == 2 and never_fitted.t_ == 2 * len(x)

    ours.coefs_ = [np.zeros((3, 8)), ours.coefs_[1]]
    with pytest.raises(ValueError, match=r"params\[0\] does not match .* \(4, 8\)"):
        ours.fit(x, y)


@pytest.mark.slow
def test_error_messages_are_scikit_learn_s():
    x, y = _data()
    labels = np.arange(len(x)) % 3
    messages = []
    for make in (neural_network.MLPClassifier, MLPClassifier):
        est = _fit(make, x, labels, **BASE, max_iter=1, warm_start=True)
        with pytest.raises(ValueError) as warm:
            est.fit(x, labels % 2)
        est = _fit(make, x, labels, **BASE, max_iter=1, early_stopping=True)
        with pytest.raises(ValueError) as partial:
            est.partial_fit(x, labels)
        messages.append((str(warm.value), str(partial.value)))
    assert messages[0] == messages[1]
    assert "warm_start can only be used where `y` has the same classes" in messages[1][0]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_divergence_is_reported_as_scikit_learn_does(early_stopping):
    """A learning rate far too large: the loss (and the validation score) turn NaN and are
    recorded as such; training runs on as in scikit-learn, then a ValueError names the
    non-finite weights. With early stopping the best (finite) epoch's weights are kept."""
    x, y = _data()
    settings = BASE | dict(
        activation="relu",
        alpha=0.0,
        solver="sgd",
        learning_rate_init=3.0,
        max_iter=6,
        early_stopping=early_stopping,
    )
    results = []
    for make in (neural_network.MLPRegressor, MLPRegressor):
        est = make(**settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if make is neural_network.MLPRegressor:  # NumPy says where it overflows
                warnings.simplefilter("ignore", RuntimeWarning)
            if early_stopping:
                est.fit(x, y)
            else:
                with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
                    est.fit(x, y)
        results.append(est)
    theirs, ours = results
    assert np.isnan(ours.loss_curve_[1:]).all() and ours.n_iter_ == 6
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    if early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-10)
        assert np.isnan(ours.validation_scores_[1:]).all()
        _assert_same_weights(ours, theirs, 1e-10)


@pytest.mark.slow  # scikit-learn's fits beside ours, 2 x 15-30 epochs
@pytest.mark.parametrize("labels", [2, 3])
def test_a_diverged_classifier_s_validation_score_is_a_number_as_in_scikit_learn(labels):
    """scikit-learn scores a classifier's held-out labels however its outputs overflowed (its
    NaN score is for predictions that are numbers, a regressor's); a constant score then stops
    it after n_iter_no_change epochs. Before, a classifier's non-finite outputs scored NaN,
    which counts as an improvement: it ran on to max_iter (30 against scikit-learn's 15 and 18
    epochs here), NaN in validation_scores_ where scikit-learn has numbers."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)) * 10
    y = np.digitize(x[:, 0], [-5, 5]) if labels == 3 else (x[:, 0] > 0).astype(int)
    settings = dict(hidden_layer_sizes=(8,), activation="relu", alpha=0.0, solver="sgd")
    settings |= dict(learning_rate_init=50.0, max_iter=30, early_stopping=True, batch_size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow, in scikit-learn's
        theirs = neural_network.MLPClassifier(**settings, random_state=0).fit(x, y)
        ours = MLPClassifier(**settings, random_state=0).fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_ < settings["max_iter"]
    assert np.isfinite(ours.validation_scores_).all()
    if labels == 3:  # where its softmax overflows as scikit-learn's, the very same labels
        assert ours.validation_scores_ == theirs.validation_scores_
    _assert_same_weights(ours, theirs, 1e-10)  # the best epoch's, restored


@pytest.mark.slow  # 2 x 20 candidates x 2 folds, lbfgs's compile among them: ~35 s on 2 cores
def test_grid_search_over_the_new_parameters_picks_scikit_learn_s_choice():
    """GridSearchCV over learning_rate, power_t, momentum, nesterovs_momentum, shuffle, beta_1,
    beta_2 and epsilon: every fit takes scikit-learn's steps, so the cross-validated scores and
    the choice are scikit-learn's."""
    x, y = _data(n=60)
    grids = [
        dict(
            solver=["sgd"], learning_rate=["constant", "invscaling", "adaptive"], power_t=[0.25, 1]
        ),
        dict(solver=["sgd"], momentum=[0.5, 0.9], nesterovs_momentum=[True, False]),
        dict(solver=["adam"], shuffle=[True, False], beta_1=[0.5, 0.9]),
        dict(solver=["adam"], beta_2=[0.9, 0.999], epsilon=[1e-8, 1e-6]),
        dict(solver=["lbfgs"], max_fun=[20, 15000]),
    ]
    settings = BASE | dict(max_iter=5)
    searches = []
    for make in (neural_network.MLPRegressor, MLPRegressor):
        search = GridSearchCV(make(**settings), grids, cv=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            searches.append(search.fit(x, y))
    theirs, ours = searches
    assert len(ours.cv_results_["params"]) == 6 + 4 + 4 + 4 + 2
    stochastic = [p["solver"] != "lbfgs" for p in theirs.cv_results_["params"]]
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"][stochastic],
        theirs.cv_results_["mean_test_score"][stochastic],
        rtol=1e-10,
    )
    assert ours.best_params_ == theirs.best_params_


# -- sample weights ----------------------------------------------------------------------------


def _iris():
    x, y = load_iris(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sample_weight_takes_scikit_learn_s_steps(solver):
    """Weighted batches (each batch's loss, gradient and L2 term over its total weight, the
    last batch smaller) and the weighted validation score of early stopping: the classifier on
    iris and the regressor on make_regression take scikit-learn's steps (to rounding) and stop
    at its iteration."""
    gap = 1e-10
    x, y = _iris()
    sw = np.random.default_rng(0).uniform(0, 3, len(y))
    settings = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=60, random_state=0)
    settings |= dict(batch_size=32, learning_rate_init=0.01)
    pairs = [(neural_network.MLPClassifier, MLPClassifier, x, y, sw, settings)]
    xr, yr = make_regression(150, 5, noise=5, random_state=0)
    swr = np.random.default_rng(1).uniform(0, 3, len(yr))
    early = settings | dict(early_stopping=True)
    pairs.append((neural_network.MLPRegressor, MLPRegressor, xr, yr / yr.std(), swr, early))
    for theirs_, ours_, xx, yy, s, kw in pairs:
        theirs = theirs_(**kw).fit(xx, yy, sample_weight=s)
        ours = ours_(**kw).fit(xx, yy, sample_weight=s)
        assert ours.n_iter_ == theirs.n_iter_
        _assert_same_weights(ours, theirs, gap)
        assert ours.score(xx, yy, sample_weight=s) == pytest.approx(
            theirs.score(xx, yy, sample_weight=s), abs=10 * gap
        )
        plain = ours_(**kw).fit(xx, yy)
        assert max(np.max(np.abs(a - b)) for a, b in zip(plain.coefs_, ours.coefs_)) > 1e-3


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lbfgs_sample_weight_scores_as_scikit_learn_s_and_integer_weights_repeat_rows():
    """lbfgs's line search is optax's, not scipy's: the weighted fits agree in score (R^2 and
    weighted accuracy within 0.02), and integer weights are the rows repeated (full batch, the
    L2 term over the total weight as over the row count)."""
    x, y = _iris()
    sw = np.random.default_rng(0).integers(0, 4, len(y))
    settings = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=40, random_state=0)
    theirs = neural_network.MLPClassifier(**settings).fit(x, y, sample_weight=sw)
    ours = MLPClassifier(**settings).fit(x, y, sample_weight=sw)
    assert abs(ours.score(x, y, sample_weight=sw) - theirs.score(x, y, sample_weight=sw)) < 0.02
    rows = np.repeat(np.arange(len(y)), sw)
    repeated = MLPClassifier(**settings).fit(x[rows], y[rows])
    _assert_same_weights(ours, repeated, 1e-6)


@pytest.mark.parametrize(
    "sw, named",
    [
        (np.ones(5), "shape"),
        (np.r_[np.ones(59), np.nan], "NaN"),
        (np.r_[np.ones(59), -1.0], "Negative values"),
        (np.zeros(60), "non-zero"),
    ],
    ids=["short", "nan", "negative", "all-zero"],
)
def test_bad_sample_weights_are_a_value_error(sw, named):
    x, y = _data(n=60)
    with pytest.raises(ValueError, match=named):
        MLPRegressor(**BASE, max_iter=2).fit(x, y, sample_weight=sw)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_grid_search_passes_sample_weight_to_every_fit():
    """GridSearchCV(...).fit(X, y, sample_weight=w) hands each fold its rows' weights: the
    cross-validated scores are those of scikit-learn's own estimator, and not the unweighted
    ones."""
    x, y = _data(n=60)
    sw = np.random.default_rng(2).uniform(0.2, 3, 60)
    grid = dict(learning_rate_init=[0.01, 0.1])
    settings = BASE | dict(solver="sgd", max_iter=5)
    scores = []
    for make, weights in [
        (neural_network.MLPRegressor, sw),
        (MLPRegressor, sw),
        (MLPRegressor, None),
    ]:
        search = GridSearchCV(make(**settings), grid, cv=2)
        scores.append(search.fit(x, y, sample_weight=weights).cv_results_["mean_test_score"])
    np.testing.assert_allclose(scores[1], scores[0], rtol=1e-8)
    assert np.max(np.abs(scores[2] - scores[1])) > 1e-4
