"""jaxmlp's solvers beyond scikit-learn's in the estimators: adamw's decoupled weight decay,
step for step against optax.adamw trained by hand."""

import warnings

import jax
import numpy as np
import optax
import pytest
from sklearn.exceptions import ConvergenceWarning

from jaxmlp.arrays import precision
from jaxmlp.mlp import MLP
from jaxmlp.optim import weights_only
from jaxmlp.sklearn import MLPRegressor, _lbfgs

# 53 rows in batches of 10, in order: five of 10 and a last one of 3 an epoch
SETTINGS = dict(
    hidden_layer_sizes=(6,),
    activation="tanh",
    solver="adamw",
    batch_size=10,
    shuffle=False,
    learning_rate_init=0.05,
    beta_1=0.8,
    beta_2=0.99,
    epsilon=1e-6,
    max_iter=3,
    warm_start=True,
)


def _fit(x, y, start, alpha):
    """The estimator's adamw from the weights ``start`` (set by hand, as a warm start)."""
    est = MLPRegressor(alpha=alpha, **SETTINGS)
    est.coefs_ = [layer["w"].copy() for layer in start]
    est.intercepts_ = [layer["b"].copy() for layer in start]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # three epochs on purpose
        return est.fit(x, y)


def _by_hand(est, x, y, start, tx):
    """``tx`` stepping on the estimator's cost over its batches; the L2 factor
    (``weight_decay``) is alpha over each batch's size."""
    tx = optax.inject_hyperparams(tx)(weight_decay=0.0)
    with precision(np.float64):
        params = jax.tree.map(np.asarray, start)
        state = tx.init(params)
        grad = jax.grad(est.net_.cost)
        for _ in range(SETTINGS["max_iter"]):
            for s in range(0, len(x), SETTINGS["batch_size"]):
                rows = slice(s, s + SETTINGS["batch_size"])
                state.hyperparams["weight_decay"] = est.alpha / len(x[rows])
                g = grad(params, x[rows], y[rows, None])
                updates, state = tx.update(g, state, params)
                params = optax.apply_updates(params, updates)
    return [{k: np.asarray(v) for k, v in layer.items()} for layer in params]


def _gap(est, params):
    return max(
        float(np.max(np.abs(a - layer[k])))
        for layer, w, b in zip(params, est.coefs_, est.intercepts_, strict=True)
        for k, a in (("w", w), ("b", b))
    )


@pytest.mark.slow
def test_adamw_decays_the_weights_decoupled_as_optax_adamw():
    """The estimator passed its hyperparameters to optax.adamw by position, into eps_root,
    mu_dtype and weight_decay's places: every adamw fit raised a TypeError. Now its steps are
    optax.adamw's with weight_decay alpha / n_b, decoupled (not adam on the gradient plus the
    L2 term), on the weights only; alpha = 0 is another run."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(53, 4))
    y = np.tanh(x @ rng.normal(size=4)) + 0.1 * rng.normal(size=53)
    start = [
        {"w": rng.normal(size=(4, 6)) / 2, "b": rng.normal(size=6) / 2},
        {"w": rng.normal(size=(6, 1)) / 2, "b": rng.normal(size=1) / 2},
    ]
    alpha = 1.0  # a decay of 0.1 a step on the weights: far from alpha = 0
    ours = _fit(x, y, start, alpha)
    adam = dict(b1=SETTINGS["beta_1"], b2=SETTINGS["beta_2"], eps=SETTINGS["epsilon"])
    lr = SETTINGS["learning_rate_init"]

    def adamw(weight_decay):
        return optax.adamw(lr, **adam, weight_decay=weight_decay, mask=weights_only)

    def coupled(weight_decay):
        decay = optax.add_decayed_weights(weight_decay, mask=weights_only)
        return optax.chain(decay, optax.adam(lr, **adam))

    assert _gap(ours, _by_hand(ours, x, y, start, adamw)) < 1e-12
    assert _gap(ours, _by_hand(ours, x, y, start, coupled)) > 1e-2
    assert _gap(ours, _fit(x, y, start, 0.0).params_) > 1e-2


def test_lbfgs_returns_the_better_iterate_when_a_line_search_raised_the_loss(monkeypatch):
    """optax's zoom line search, where it fails (float32 round-off near a minimum), can take a
    step that raises the loss; scipy's never does. lbfgs then stops (a decrease <= ftol) and
    returns the iterate before that step with its loss, not the worse one: on make_moons
    (200 rows, noise 0.2) in float32 with 8 tanh units and random_state=2 it returned 7.2757e-2
    where its previous iterate had 7.2757e-2 - 7e-8. Here a stand-in step replays losses."""
    losses = iter([3.0, 2.0, 2.5, 1.0])  # the loss at iterates 0, 1, 2, 3: iterate 2 is worse

    def fake_step(net, backprop):
        def step(params, state, x, t, half_decay, s=None):
            new = jax.tree.map(lambda a: a + 1, params)  # iterate k holds k
            loss = next(losses)  # the value its stopping rules compare, and the reported loss
            return new, state, loss, [{"w": np.ones(1)}], 0

        return step

    monkeypatch.setattr(_lbfgs, "_step", fake_step)
    est = MLPRegressor(solver="lbfgs", max_iter=10, tol=0.0, alpha=0.0)
    params = [{"w": np.zeros(1, np.float32), "b": np.zeros(1, np.float32)}]
    x, t = np.zeros((4, 1), np.float32), np.zeros((4, 1), np.float32)
    net = MLP((1, 1), "tanh", "identity", "sse")
    got, loss, n_iter, converged = _lbfgs.lbfgs(est, net, params, x, t, np.float32)
    assert (float(got[0]["w"][0]), loss, n_iter, converged) == (1.0, 2.0, 1, True)


def test_an_lbfgs_iteration_runs_no_forward_pass_beyond_its_line_search():
    """A classifier's reported loss (the clipped log loss) needs the network's outputs: each
    lbfgs iteration ran one more full-batch forward pass for it, after the line search had
    evaluated the cost at the same weights. It is now computed once, at the iterate returned
    (``_lbfgs._loss``): the iteration of a softmax net evaluates its hidden layer's
    tanh as often as that of an identity net of the same sizes, whose loss is its value (7
    times against 6 before)."""
    with precision(np.float64):
        x, t = np.ones((5, 3)), np.eye(2)[[0, 1, 0, 1, 0]]
        tanhs = {}
        for output, loss in (("softmax", "cross_entropy"), ("identity", "sse")):
            net = MLP((3, 4, 2), "tanh", output, loss)
            params = net.init(jax.random.PRNGKey(0), np.float64)
            state = _lbfgs._solver().init(params)
            step = _lbfgs._step(net, "hand")
            jaxpr = jax.make_jaxpr(step)(params, state, x, t, 1e-3)
            tanhs[output] = str(jaxpr).count(" tanh ")
    assert tanhs["softmax"] == tanhs["identity"] > 0


def test_lbfgs_counts_max_fun_as_scipy_counts_cost_evaluations(monkeypatch):
    """max_fun bounds the evaluations of the cost as scipy's L-BFGS-B counts them: the one at
    the starting weights, then those of each iteration's line search (optax's
    ``num_linesearch_steps``: the cost at the new iterate is the search's last, never evaluated
    again). lbfgs counted one more per iteration, so it stopped after about half the
    iterations scikit-learn runs (max_fun=20 on a 60-row regression: 10 against its 17), with
    a loss three times as high. scipy stops after the iteration that takes the count past
    max_fun: one trial each, max_fun=5 is 5 iterations (6 evaluations), as scikit-learn's."""
    trials = iter([1, 1, 2, 1, 1, 1, 1, 1, 1, 1])  # line-search evaluations per iteration

    def loss(params):  # at iterate k, falling fast: no other stop
        return 10.0 - float(params[0]["w"][0])

    def fake_step(net, backprop):
        def step(params, state, x, t, half_decay, s=None):
            new = jax.tree.map(lambda a: a + 1, params)  # iterate k holds k
            return new, state, loss(params), [{"w": np.ones(1)}], next(trials)

        return step

    monkeypatch.setattr(_lbfgs, "_step", fake_step)
    monkeypatch.setattr(_lbfgs, "_value", lambda net: lambda p, state, h: loss(p))
    net = MLP((1, 1), "tanh", "identity", "sse")
    params = [{"w": np.zeros(1, np.float32), "b": np.zeros(1, np.float32)}]
    x, t = np.zeros((4, 1), np.float32), np.zeros((4, 1), np.float32)
    # evaluations after iteration k: 1 + (1, 2, 4, 5, 6, ...)[k - 1]; the first past 5 is k = 4
    est = MLPRegressor(solver="lbfgs", max_iter=100, max_fun=5, tol=0.0, alpha=0.0)
    got, value, n_iter, converged = _lbfgs.lbfgs(est, net, params, x, t, np.float32)
    assert (n_iter, float(got[0]["w"][0]), value, converged) == (4, 4.0, 6.0, False)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lbfgs_refuses_an_alpha_whose_l2_factor_x_s_dtype_cannot_hold():
    """lbfgs's L2 factor alpha / (2 n) is stored in X's dtype: alpha=1e-37 on 100 float32 rows
    is 5e-40 there, a subnormal that XLA:CPU flushes to 0, so lbfgs trained without the term,
    silently (the weights of alpha=0, bit for bit), where the stochastic solvers refuse their
    alpha / batch_size alike (``_solvers.check_held``). Now it is the same ValueError."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    y = (np.sin(x[:, 0]) + x[:, 1]).astype(np.float32)
    est = MLPRegressor(
        hidden_layer_sizes=(4,), solver="lbfgs", alpha=1e-37, max_iter=2, random_state=0
    )
    with pytest.raises(ValueError, match=r"alpha / \(2 n\) = 5\.0+5e-40 is outside .* float32"):
        est.fit(x, y)


def test_lbfgs_refuses_a_gradient_whose_squared_norm_overflows_x_s_dtype():
    """optax's line search takes its slope <g, d> in X's dtype: where |g|^2 overflows it (a
    float32 gradient of ~1e23, alpha=1e25 on 100 rows), the slope is -inf, every search fails
    with a step of 0, and lbfgs stopped as converged (no decrease) on its random starting
    weights, loss_ 9e23, without a warning; scikit-learn (scipy in float64) fits the same
    estimator to the weights ~0 of such an alpha. Now it is a ValueError saying why."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    y = (np.sin(x[:, 0]) + x[:, 1]).astype(np.float32)
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", alpha=1e25, random_state=0)
    with pytest.raises(ValueError, match=r"squared norm of the gradient .* overflows float32"):
        est.fit(x, y)
