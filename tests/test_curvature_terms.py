"""Each term of the hand curvature, fast, against jax in float64, with its 1 % twin: the
learnable-slope terms of the R-pass (dh/dalpha, d2h/dz dalpha, d2h/dalpha2), the Hessian
diagonal's and the input Hessian's terms, every (output, loss) pair's outer product
J^T (d2l/dy2) J u and the canonical pairs' Fisher factors, and ``fisher_vp``'s reduction. A
mutation probe (source terms x 1.01) found these caught only by slow tests, or by none."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from jax.scipy.special import gammaln, xlogy

from jaxmlp import MLP, activations, backprop, curvature, losses, outputs
from jaxmlp import reduction as reduction_module
from jaxmlp.curvature_check import relative_error

pytestmark = pytest.mark.usefixtures("x64", "fast_compile")

RIGHT, CAUGHT = 1e-12, 1e-4  # agreement with jax (round-off: ~1e-15 seen); a 1 % twin's error


def one_percent_off(rule):
    return lambda *args: 1.01 * rule(*args)


@pytest.fixture
def off():
    """``off(name, rule)``: the built-in activation ``name`` with ``rule`` 1 % off and every
    other rule right (each call undoes the one before; ``off.undo()`` the last), this test."""
    patches = pytest.MonkeyPatch()

    def patch(name, rule):
        patches.undo()
        record = activations._REGISTRY[name]
        changed = record._replace(**{rule: one_percent_off(getattr(record, rule))})
        patches.setitem(activations._REGISTRY, name, changed)
        activations._SPECS.clear()

    def undo():
        patches.undo()
        activations._SPECS.clear()

    patch.undo = undo
    yield patch
    undo()


def net_data(net, n=4, seed=0):
    """float64 params (w of scale 1 / sqrt(fan-in), slopes alpha spread over (0.3, 0.9); made
    here, not by ``net.init``, which compiles), x of scale 2 (units off their linear part),
    targets that suit the loss and sit far from the outputs, a direction v."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out, act in zip(net.sizes, net.sizes[1:], (*net.hidden_activations, None)):
        layer = {"w": rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in),
                 "b": 0.1 * rng.standard_normal(fan_out)}  # fmt: skip
        if act and activations.get(act).learnable:
            layer["alpha"] = np.linspace(0.3, 0.9, fan_out)
        params.append(jax.tree.map(jnp.asarray, layer))
    x = jnp.asarray(2 * rng.standard_normal((n, net.sizes[0])))
    k = net.sizes[-1]
    if net.loss == "cross_entropy":
        t = jax.nn.one_hot(rng.integers(0, k, n), k, dtype=jnp.float64)
    else:
        t = jnp.asarray(3 * rng.standard_normal((n, k)))
    v = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape)), params)
    return params, x, t, v


def cost_fn(net, x, t):
    return lambda p: backprop.cost_of(net, backprop.forward(net, p, x), t)


# -- the learnable slope in the R-pass ------------------------------------------------------------

SLOPE_RULES = {  # the rules in alpha that are not 0 (prelu's and ELU's d2h/dalpha2 are)
    "prelu": ("grad_alpha", "grad_z_alpha"),
    "elu_learnable": ("grad_alpha", "grad_z_alpha"),
    "isru_learnable": ("grad_alpha", "grad_z_alpha", "grad2_alpha"),
}


@pytest.mark.parametrize("act", SLOPE_RULES)
def test_hvp_with_a_learnable_slope_equals_jax_and_each_alpha_rule_1pct_off_fails(act, off):
    """R{a} = h' R{z} + h_alpha v_alpha, the h_z_alpha v_alpha of R{G} and R{dE/dalpha} (with
    g_a h_alpha_alpha v_alpha: only the slow whole matrix caught it 1 % off) against
    ``jax.jvp(jax.grad(E))``, the alpha leaf on its own (``relative_error``: leaf by leaf)."""
    net = MLP((2, 3, 2), act, "identity", "sse")
    params, x, t, v = net_data(net)
    want = jax.jit(lambda p: jax.jvp(jax.grad(cost_fn(net, x, t)), (p,), (v,))[1])(params)
    assert relative_error(curvature.hvp(net, params, x, t, v), want) <= RIGHT
    for rule in SLOPE_RULES[act]:
        off(act, rule)
        assert relative_error(curvature.hvp(net, params, x, t, v), want) > CAUGHT, rule


# -- the Hessian diagonal and the input Hessian ---------------------------------------------------


@pytest.fixture
def output_off(monkeypatch):
    """``output_off(name)``: the output ``name``'s curvature sum_k g_k d2y_k/dz2 u 1 % off."""

    def patch(name):
        record = outputs._OUTPUTS[name]
        changed = record._replace(curvature=one_percent_off(record.curvature))
        monkeypatch.setitem(outputs._OUTPUTS, name, changed)
        outputs._parse.cache_clear()  # the records of specs read so far

    yield patch
    outputs._parse.cache_clear()


def test_the_hessian_diagonal_equals_jax_and_each_term_1pct_off_fails(off, monkeypatch):
    """M_{l-1} = h' A h'^T + diag(h'' g_a) from A = w M w^T (the output's M coupled by
    softmax) and a learnable ISRU slope's h_alpha^2 A_ii + g_a h_alpha_alpha, against
    jax.hessian's diagonal; h'', h', the slope's rules and the pair's d2l/dz2 each 1 % off
    fail."""
    net = MLP((2, 3, 3), "isru_learnable", "softmax", "cross_entropy")
    params, x, t, _ = net_data(net)
    flat, unravel = ravel_pytree(params)
    want = unravel(jnp.diag(jax.jit(jax.hessian(lambda w: cost_fn(net, x, t)(unravel(w))))(flat)))
    assert relative_error(curvature.hessian_diagonal(net, params, x, t), want) <= RIGHT
    for rule in ("grad2", "grad", "grad_alpha", "grad2_alpha"):
        off("isru_learnable", rule)
        assert relative_error(curvature.hessian_diagonal(net, params, x, t), want) > CAUGHT, rule
    off.undo()
    record = losses._CANONICAL["softmax", "cross_entropy"]
    wrong = record._replace(hvp=one_percent_off(record.hvp))
    monkeypatch.setitem(losses._CANONICAL, ("softmax", "cross_entropy"), wrong)
    assert relative_error(curvature.hessian_diagonal(net, params, x, t), want) > CAUGHT


@pytest.mark.parametrize("output, loss", [("softmax", "cross_entropy"), ("sigmoid", "bce"),
                                          ("exp", "poisson")])  # fmt: skip
def test_the_input_hessian_equals_jax_and_each_term_1pct_off_fails(output, loss, off, output_off):
    """d2y/dx2 = T^T (d2y/dz2) T + sum_i J_ki S_i through two hidden layers (h'' T T^T and
    h' S carried twice), a coupled (softmax) and elementwise outputs (the sigmoid's record, exp's
    own), against ``jax.hessian`` of each example's y; an h'', an h' or the output's curvature
    1 % off fails."""
    net = MLP((2, 3, 3, 3), ("tanh", "isru_learnable"), output, loss)
    params, x, _, _ = net_data(net)
    want = jax.jit(jax.vmap(jax.hessian(lambda xi: net.apply(params, xi[None])[0])))(x)
    assert relative_error(curvature.input_hessian(net, params, x), want) <= RIGHT
    for act, rule in [("tanh", "grad2"), ("tanh", "grad"), ("isru_learnable", "grad2")]:
        off(act, rule)
        assert relative_error(curvature.input_hessian(net, params, x), want) > CAUGHT, rule
    off.undo()
    output_off(output)
    assert relative_error(curvature.input_hessian(net, params, x), want) > CAUGHT


# -- the pairs' outer products and Fisher factors -------------------------------------------------

FISHER_PAIRS = (*losses.CANONICAL, ("softmax:2.5", "cross_entropy"), ("threshold", "bce"))
OUTER_PAIRS = (*FISHER_PAIRS, ("tanh", "mse"), ("softmax", "bce"), ("sigmoid", "huber"))


def logits(output, loss, n=4, seed=0):
    """z (n, K) in (-1.5, 1.5) (K = 2 for exp: its Fisher enumerates K-tuples of counts) and
    targets t as the pair takes them (labels -1/+1 for threshold; in (-0.5, 0.5) for sse, mse
    and huber, whose units then lie on both sides of |y - t| = 1)."""
    rng = np.random.default_rng(seed)
    k = 2 if output == "exp" else 3
    z = jnp.asarray(rng.uniform(-1.5, 1.5, (n, k)))
    if loss == "cross_entropy":
        t = jnp.asarray(np.eye(k)[rng.integers(0, k, n)])
    elif loss == "poisson":
        t = jnp.asarray(rng.poisson(2.0, (n, k)).astype(np.float64))
    elif loss == "bce":
        t = jnp.asarray(rng.uniform(0, 1, (n, k)))
        t = jnp.sign(t - 0.5) if output == "threshold" else t
    else:
        t = jnp.asarray(rng.uniform(-0.5, 0.5, (n, k)))
    return z, t


def outer_reference(output, loss, z, t, u):
    """``J^T (d2l/dy2) J u`` per example, J = dy/dz and d2l/dy2 by jax from the output's and
    the loss's forward rules alone."""
    out, loss_fn = outputs.get(output), losses.get(loss).fn

    def one(zi, ti, ui):
        j = jax.jacobian(lambda z_: out.fn(z_[None])[0])(zi)
        l2 = jax.hessian(lambda y_: loss_fn(y_[None], ti[None])[0])(out.fn(zi[None])[0])
        return j.T @ l2 @ j @ ui

    return jax.jit(jax.vmap(one))(z, out.loss_targets(t), u)


def model_draws(loss, y):
    """One example's targets under the model of output ``y (K,)`` and their probabilities,
    in the loss's own terms: a class (categorical), a 0/1 pattern (Bernoulli units), a K-tuple
    of counts 0..59 (Poisson units; the tail weighs < 1e-20), y +- sqrt(K) e_k (a Gaussian of
    unit variance: the four moments that the covariance needs)."""
    k = y.shape[0]
    if loss == "cross_entropy":
        return jnp.eye(k), y
    if loss == "bce":
        b = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=k)))
        return b, jnp.prod(jnp.where(b > 0, y, 1 - y), axis=1)
    if loss == "poisson":
        c = jnp.asarray(list(itertools.product(range(60), repeat=k)), jnp.float64)
        return c, jnp.exp(jnp.sum(xlogy(c, y) - y - gammaln(c + 1), axis=1))
    d = np.sqrt(k) * jnp.concatenate([jnp.eye(k), -jnp.eye(k)])
    return y + d, jnp.full(2 * k, 1 / (2 * k))


def fisher_reference(output, loss, z, u):
    """``E_t[s s^T] u`` per example, s = dl/dz by jax at targets t drawn from the model
    (``model_draws``, enumerated exactly): the Fisher information of the logits."""
    out, loss_fn = outputs.get(output), losses.get(loss).fn

    def one(zi, ui):
        t, p = model_draws(loss, out.fn(zi[None])[0])
        score = jax.vmap(jax.grad(lambda z_, t_: loss_fn(out.fn(z_[None]), t_[None])[0]), (None, 0))
        s = score(zi, t)
        return s.T @ (p * (s @ ui))

    return jax.jit(jax.vmap(one))(z, u)


@pytest.mark.parametrize("output, loss", OUTER_PAIRS)
def test_each_pair_s_outer_product_equals_jax_and_1pct_off_fails(output, loss, monkeypatch):
    """``Pair.outer``, the canonical ones written with J cancelled against d2l/dy2, under both
    reductions; only the saturated sigmoid + bce was checked fast before."""
    z, t = logits(output, loss)
    y, u = outputs.get(output).fn(z), jnp.asarray(np.random.default_rng(1).standard_normal(z.shape))
    want = outer_reference(output, loss, z, t, u)
    for reduction, scale in (("sum", 1), ("mean", len(z))):
        got = losses.outer_curvature(output, loss, reduction, z, y, t, u)
        assert relative_error(got, want / scale) <= RIGHT, reduction
    record = losses.pair(output, loss)
    wrong = record._replace(outer=one_percent_off(record.outer))
    monkeypatch.setattr(losses, "pair", lambda output, loss: wrong)
    got = losses.outer_curvature(output, loss, "sum", z, y, t, u)
    assert relative_error(got, want) > CAUGHT


@pytest.mark.parametrize("output, loss", FISHER_PAIRS)
def test_each_canonical_fisher_factor_is_the_model_s_target_covariance(output, loss):
    """``Pair.fisher(z, y, u)`` = E_t[s s^T] u by exact enumeration over the model's targets
    (only the slow whole-network test checked it, and no 1 % twin)."""
    z, _ = logits(output, loss)
    y, u = outputs.get(output).fn(z), jnp.asarray(np.random.default_rng(1).standard_normal(z.shape))
    want = fisher_reference(output, loss, z, u)
    fisher = losses.pair(output, loss).fisher
    assert relative_error(fisher(z, y, u), want) <= RIGHT
    assert relative_error(one_percent_off(fisher)(z, y, u), want) > CAUGHT


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_fisher_vp_is_scaled_as_the_cost(reduction, monkeypatch):
    """F v = J^T Cov(t | z) J v with the reduction's 1/n: at one-hot targets it equals jax's
    J^T (d2E/dz_L2) J v of the reduced cost. The twins: the mean's 1/n dropped, the pair's
    Fisher 1 % off."""
    net = MLP((2, 3, 3), "tanh", "softmax", "cross_entropy", reduction=reduction)
    params, x, t, v = net_data(net)

    @jax.jit
    def want(params, v):
        def z_out(p):
            return backprop.forward(net, p, x).zs[-1]

        def cost(z):
            per_example = losses.get("cross_entropy").fn(jax.nn.softmax(z), t)
            return jnp.sum(per_example) / (len(x) if reduction == "mean" else 1)

        z, jv = jax.jvp(z_out, (params,), (v,))
        hjv = (jax.hessian(cost)(z).reshape(z.size, z.size) @ jv.ravel()).reshape(z.shape)
        return jax.vjp(z_out, params)[1](hjv)[0]

    want = want(params, v)
    assert relative_error(curvature.fisher_vp(net, params, x, v), want) <= RIGHT
    if reduction == "mean":
        summed = MLP(net.sizes, "tanh", "softmax", "cross_entropy", reduction="sum")
        assert relative_error(curvature.fisher_vp(summed, params, x, v), want) > CAUGHT
    record = losses.pair("softmax", "cross_entropy")
    wrong = record._replace(fisher=one_percent_off(record.fisher))
    monkeypatch.setattr(losses, "pair", lambda output, loss: wrong)
    assert relative_error(curvature.fisher_vp(net, params, x, v), want) > CAUGHT


# -- each loss's curvature under every reduction --------------------------------------------------

LOSS_PAIRS = (("identity", "sse"), ("tanh", "mse"), ("identity", "huber"), ("sigmoid", "bce"),
              ("softmax", "bce"), ("softmax", "cross_entropy"), ("exp", "poisson"))  # fmt: skip


@pytest.mark.parametrize("output, loss", LOSS_PAIRS)
def test_each_loss_s_curvature_is_scaled_as_its_reduced_cost(output, loss, monkeypatch):
    """d2E/dz2 u of E = sum_i s_i l_i (/ sum_i s_i for mean; s = 1 without weights) against
    jax.hessian of ``reduction.reduce`` in all the logits, one pair per loss (the slow
    test_curvature test covers five pairs: a dropped weight survived the fast tests). Twins:
    the weights dropped, the pair's d2l/dz2 1 % off."""
    z, t = logits(output, loss)
    y, u = outputs.get(output).fn(z), jnp.asarray(np.random.default_rng(1).standard_normal(z.shape))
    s = jnp.asarray([0.5, 0.0, 2.0, 1.25])

    @functools.partial(jax.jit, static_argnums=0)
    def want(reduction, weights):
        def cost(zf):
            zi = zf.reshape(z.shape)
            per_example = losses.per_example(output, loss, zi, outputs.get(output).fn(zi), t)
            return reduction_module.reduce(per_example, reduction, weights)

        return (jax.hessian(cost)(z.ravel()) @ u.ravel()).reshape(z.shape)

    for reduction, weights in itertools.product(("sum", "mean"), (None, s)):
        ref = want(reduction, weights if weights is not None else jnp.ones(len(z)))
        got = losses.curvature(output, loss, reduction, z, y, t, u, weights)
        assert relative_error(got, ref) <= RIGHT, (reduction, weights)
        if weights is not None:
            dropped = losses.curvature(output, loss, reduction, z, y, t, u)
            assert relative_error(dropped, ref) > CAUGHT, reduction
    record = losses.pair(output, loss)
    wrong = record._replace(hvp=one_percent_off(record.hvp))
    monkeypatch.setattr(losses, "pair", lambda output, loss: wrong)
    got = losses.curvature(output, loss, "mean", z, y, t, u, s)
    assert relative_error(got, want("mean", s)) > CAUGHT
