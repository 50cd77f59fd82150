"""Parameters where jaxmlp's estimators read more than scikit-learn's, or say more: activation
specs as ``jaxmlp.MLP`` reads them, and a width that is no integer."""

import re

import jax
import numpy as np
import pytest
from sklearn import neural_network

from jaxmlp import activations
from jaxmlp.mlp import MLP
from jaxmlp.sklearn import MLPClassifier, MLPRegressor


def _data(n=40, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, np.tanh(x @ rng.normal(size=(d, k)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "activation, hidden",
    [
        ("leaky_relu:0.2", (8,)),
        ("elu:1.67326", (8,)),
        ("tanh*3+relu*5", (8,)),
        (["tanh*3+relu*5", "isru:0.5"], (8, 4)),
        (["prelu", "tanh"], (8, 4)),
    ],
)
def test_activation_specs_train_as_jaxmlp_mlp_reads_them(activation, hidden):
    """Before: every spec but a bare name was scikit-learn's InvalidParameterError. One
    full-batch sgd step from given weights is w - eta grad, the gradient of ``jaxmlp.MLP``'s
    cost with that spec, and the fitted estimator predicts as that net. A learnable slope,
    which cannot be set by hand, starts where a fresh fit starts it (prelu: before, weights set
    by hand were refused for lacking it, ``params[0] does not match the architecture``)."""
    x, t = _data()
    sgd = dict(solver="sgd", momentum=0.0, alpha=0.0, learning_rate_init=0.1, shuffle=False)
    sgd |= dict(batch_size=len(x), max_iter=1, warm_start=True)
    est = MLPRegressor(hidden_layer_sizes=hidden, activation=activation, **sgd)
    sizes = (x.shape[1], *hidden, t.shape[1])
    rng = np.random.default_rng(1)
    est.coefs_ = [rng.normal(size=s) * 0.5 for s in zip(sizes, sizes[1:])]
    est.intercepts_ = [rng.normal(size=s[1]) * 0.5 for s in zip(sizes, sizes[1:])]
    net = MLP(sizes, activation, "identity", "sse")
    start = [
        {"w": w, "b": b} | ({} if act is None else {"alpha": np.full(len(b), act.alpha_init)})
        for w, b, act in zip(est.coefs_, est.intercepts_, _learnable(net) + [None])
    ]
    with pytest.warns(Warning, match="Maximum iterations"):
        est.fit(x, t)
    assert est.net_ == net
    with jax.enable_x64(True):
        grads = jax.grad(net.cost)(start, x, t)
        stepped = jax.tree.map(lambda p, g: p - 0.1 * g, start, grads)
        outputs = np.asarray(net.apply(stepped, x))
    for layer, fitted in zip(stepped, est.params_, strict=True):
        assert layer.keys() == fitted.keys()
        for name, value in layer.items():
            np.testing.assert_allclose(fitted[name], value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(est.predict(x), outputs, rtol=1e-12, atol=1e-12)


def _learnable(net) -> list:
    """Each hidden layer's activation record where it is learnable, else None."""
    records = [activations.get(a) for a in net.hidden_activations]
    return [r if r.learnable else None for r in records]


@pytest.mark.parametrize(
    "activation, named",
    [
        ("leaky_relu:2", r"slope must be a number in \[0, 1\], got '2'"),
        ("swish:1", r"Unknown activation: 'swish'.*'name:c' for .*'tanh\*3\+relu\*5'"),
        ("tanh*3+relu*4", "groups for 7 units, but hidden layer 1 has 8"),
        ("swish", r"among \{.*\}, an activation spec such as 'leaky_relu:0.2'"),
        (["tanh", 3], r"or an activation spec .*got 3\."),
    ],
)
def test_a_bad_activation_spec_names_the_allowed_forms(activation, named):
    x, t = _data()
    hidden = (8,) if isinstance(activation, str) else (8, 8)
    with pytest.raises(ValueError, match=named):
        MLPRegressor(hidden_layer_sizes=hidden, activation=activation, max_iter=1).fit(x, t)


@pytest.mark.parametrize(
    "sizes, hint", [((3.0,), r" \(write 3\)\."), ((4, 2.5), r"2\.5 is a float\.")]
)
def test_a_width_that_is_no_integer_says_so(sizes, hint):
    """Before: "hidden_layer_sizes must be > 0, got [3.0]." scikit-learn raises NumPy's
    TypeError ("'float' object cannot be interpreted as an integer"); this is scikit-learn's
    InvalidParameterError, a TypeError and a ValueError."""
    x, y = _data()[0], np.arange(40) % 2
    with pytest.raises(TypeError):
        neural_network.MLPClassifier(hidden_layer_sizes=sizes, max_iter=1).fit(x, y)
    with pytest.raises(TypeError) as error:
        MLPClassifier(hidden_layer_sizes=sizes, max_iter=1).fit(x, y)
    assert isinstance(error.value, ValueError)
    assert error.match(r"hidden_layer_sizes must hold integers, one width per hidden layer, got ")
    assert error.match(hint)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_warm_start_with_another_loss_reports_the_output_it_predicts_with():
    """A regressor fitted with squared_error, then continued with loss="poisson", predicts with
    the exp output, and a warm start back to squared_error with the identity again:
    ``out_activation_`` names the output ``predict`` applies. Before: "identity" throughout,
    while ``predict`` took exp of the last layer."""
    x, t = _data(k=1)
    t = np.abs(t).ravel()
    est = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", max_iter=2, random_state=0)
    est.fit(x, t).set_params(loss="poisson").partial_fit(x, t)

    def last_layer(x):
        h = np.maximum(x @ est.coefs_[0] + est.intercepts_[0], 0.0)
        return h @ est.coefs_[1] + est.intercepts_[1]

    assert est.out_activation_ == "exp"
    np.testing.assert_allclose(est.predict(x), np.exp(last_layer(x)).ravel(), rtol=1e-12)
    est.set_params(loss="squared_error", warm_start=True).fit(x, t)
    assert est.out_activation_ == "identity"
    np.testing.assert_allclose(est.predict(x), last_layer(x).ravel(), rtol=1e-12)


@pytest.mark.parametrize(
    "params, shown",
    [
        (dict(beta_2=0.99999999), "beta_2 = 0.99999999 is 1.0 in float32"),  # eta_t = 0
        (dict(beta_1=0.99999999), "beta_1 = 0.99999999 is 1.0 in float32"),  # m / 0: NaN
        (dict(epsilon=1e-50), "epsilon = 1e-50 is outside the range of float32"),  # 0 / 0
        (dict(epsilon=1e39), "epsilon = 1e+39 is outside the range of float32"),
        (dict(learning_rate_init=1e-50), "learning_rate_init = 1e-50 is outside the range"),
        (dict(solver="sgd", momentum=1e-50), "momentum = 1e-50 is outside the range"),
        (dict(alpha=1e300), "alpha / batch_size = 2.5e+298 is outside the range of float32"),
    ],
)
def test_a_hyperparameter_float32_cannot_hold_is_refused(params, shown):
    """Regression: the solver computes in X's dtype, float32 here, where beta_2 = 0.99999999
    is 1.0: eta_t = eta sqrt(1 - b2^t) / (1 - b1^t) was 0, and 50 epochs left loss_curve_ at
    its first value, exit 0, while scikit-learn trains (0.775 -> 0.707); beta_1 so gave NaN
    (reported as divergence: lower learning_rate_init), and numbers past float32's range
    became 0 or inf. Each used by the solver is refused, named; one it ignores is not."""
    x, t = _data()
    y = (t[:, 0] > 0).astype(int)
    x = x.astype(np.float32)
    with pytest.raises(ValueError, match=re.escape(shown)):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, **params).fit(x, y)
    if "beta_2" in params:  # float64 holds it: it trains
        est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0, **params)
        with pytest.warns(UserWarning):  # max_iter reached
            curve = est.fit(x.astype(np.float64), y).loss_curve_
        assert curve[-1] < curve[0]
    if params.get("epsilon") == 1e-50:  # sgd has no epsilon: ignored, as scikit-learn does
        sgd = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, solver="sgd", **params)
        with pytest.warns(UserWarning):
            sgd.fit(x, y)


def test_an_invscaling_power_whose_eta_underflows_trains_with_eta_0():
    """Regression: invscaling's eta_init / (t_ + 1)^power_t with power_t = 1e10 raised Python's
    OverflowError (a traceback after the first epoch; scikit-learn's own does too), where the
    quotient is 0 in every float: eta is 0 from the second epoch on, and with momentum 0 the
    weights stay as the first epoch left them."""
    x, t = _data()
    y = (t[:, 0] > 0).astype(int)
    sgd = dict(solver="sgd", learning_rate="invscaling", momentum=0.0, random_state=0)
    sgd |= dict(hidden_layer_sizes=(4,), shuffle=False, batch_size=len(x))
    with pytest.warns(UserWarning):  # max_iter reached
        one = MLPClassifier(max_iter=1, **sgd, power_t=1e10).fit(x, y)
    with pytest.warns(UserWarning):
        three = MLPClassifier(max_iter=3, **sgd, power_t=1e10).fit(x, y)
    assert three.n_iter_ == 3
    for a, b in zip(one.coefs_, three.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
