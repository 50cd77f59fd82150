"""The derivative checks' noise floors, dtypes and arguments: a cost far below the logits it
is computed from (round-off ~u |z|, not u |E|), eps_sweep's float64 E, the curvature products'
refusals of a v of another dtype and of missing targets, the matrix docstring's numbers."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, curvature
from jaxmlp.activations import specs
from jaxmlp.curvature_check import taylor_test_hessian
from jaxmlp.gradient_check import gradcheck, valid_pairs
from jaxmlp.gradient_matrix import gradcheck_matrix
from jaxmlp.taylor import eps_sweep, taylor_test

# E = 1.5e-5 computed as logsumexp(z) - z_t with |z| ~ 11: its round-off is ~1e-15, not 1e-21.
SMALL_E = MLP((3, 2), "tanh", "softmax", "cross_entropy", "mean")
SMALL_E_X, SMALL_E_T = np.array([[10.84350423, 0.01769282, -6.32435848]]), np.array([0])


def _scaled(fn, factor):
    return lambda *a: jax.tree.map(lambda g: factor * g, fn(*a))


@pytest.mark.slow  # ~3 s: three checks and their twins, each compiling
@pytest.mark.usefixtures("x64")
def test_a_cost_far_below_its_logits_passes_the_gradient_checks_and_a_gradient_1pct_off_fails():
    # Before: gradcheck failed the hand gradient (equal to jax.grad) against finite differences
    # (rel 3.8e-4 > 1e-5), taylor_test fitted order -0.57 (FAILED): their noise came from |E|.
    params = SMALL_E.init(jax.random.key(1), jnp.float64)
    x, t = SMALL_E_X, SMALL_E_T
    assert float(SMALL_E.cost(params, x, t)) < 2e-5
    report = gradcheck(SMALL_E, params, x, t)
    assert report.ok, report
    right = taylor_test(SMALL_E, params, x, t)
    assert right.ok and all(1.8 <= o <= 2.3 for o in right.orders), right
    # the mutation twin, at the same point: 1 % off is measurable above this floor
    off = _scaled(SMALL_E.backprop, 1.01)
    wrong = gradcheck(SMALL_E, params, x, t, grad_fn=off)
    assert not any(row.ok_fd for row in wrong.rows) and wrong.rel_err_fd > 5e-3, wrong
    assert not wrong.ok and wrong.rel_err_autodiff > 5e-3
    twin = taylor_test(SMALL_E, params, x, t, off)
    assert not twin.ok and twin.order < 1.5, twin


@pytest.mark.slow  # ~1.5 s: the Hessian's Taylor test and its twin, compiling
@pytest.mark.usefixtures("x64")
def test_a_cost_far_below_its_logits_passes_the_hessian_taylor_test_and_hv_1pct_off_fails():
    # Before: order -0.35, ok False: the remainder's round-off was taken for a wrong Hv.
    params = SMALL_E.init(jax.random.key(1), jnp.float64)
    x, t = SMALL_E_X, SMALL_E_T
    right = taylor_test_hessian(SMALL_E, params, x, t)
    assert right.ok and 2.8 <= right.order <= 3.3, right
    hvp = lambda p, x_, t_, v: curvature.hvp(SMALL_E, p, x_, t_, v)  # noqa: E731
    wrong = taylor_test_hessian(SMALL_E, params, x, t, hvp_fn=_scaled(hvp, 1.01))
    assert not wrong.ok and 1.8 <= wrong.order <= 2.3, wrong


@pytest.mark.slow  # ~1.7 s: compiles E in float64 and two gradients
def test_eps_sweep_takes_e_in_float64_for_float32_params_and_a_gradient_1pct_off_shows():
    # Before: E in float32 (rows cast to params' dtype, x64 off), against the module docstring:
    # abs err 9e-4, 5e-3, 4e-2 at eps 1e-4, 1e-5, 1e-6, where float64 E gives ~1e-8.
    net = MLP((3, 8, 2), "tanh", "identity", "sse")
    params = net.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    x, t = (rng.standard_normal((16, k)).astype(np.float32) for k in (3, 2))
    eps = (1e-4, 1e-5, 1e-6)
    right = eps_sweep(net, params, x, t, eps, n_directions=1)
    assert max(right.rel_err) < 1e-4, right
    off = jax.jit(_scaled(net.backprop, 1.01))
    wrong = eps_sweep(net, params, x, t, eps, grad_fn=off, n_directions=1)
    assert min(wrong.rel_err) > 5e-3, wrong  # the mutation twin, at the same eps
    assert params[0]["w"].dtype == jnp.float32 and not jax.config.jax_enable_x64


LINE = MLP((2, 3, 1), "tanh", "identity", "sse")  # a canonical pair: every product applies
PRODUCTS = {
    "hvp": curvature.hvp,
    "gnvp": curvature.gnvp,
    "outer_product_vp": curvature.outer_product_vp,
    "fisher_vp": lambda net, p, x, t, v: curvature.fisher_vp(net, p, x, v),
}


@pytest.mark.usefixtures("x64")  # so that a float64 v stays float64
@pytest.mark.parametrize("product", PRODUCTS)
@pytest.mark.parametrize("v_dtype", ["complex64", "int32", "float64"])
def test_the_curvature_products_refuse_a_v_of_another_dtype_than_params(product, v_dtype):
    # Before: accepted; the product followed v (float32 params, float64 v: a float64 result).
    params = LINE.init(jax.random.key(0), jnp.float32)
    x, t = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    v = jax.tree.map(lambda p: jnp.ones(p.shape, v_dtype), params)
    named = f"v[0]['b'] has dtype {v_dtype}; v must have the dtype of params, float32."
    with pytest.raises(ValueError, match=re.escape(named)):
        PRODUCTS[product](LINE, params, x, t, v)
    right = jax.tree.map(jnp.ones_like, params)  # the twin: the same call with a float32 v
    shapes = jax.eval_shape(lambda p, v: PRODUCTS[product](LINE, p, x, t, v), params, right)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(shapes))


@pytest.mark.parametrize(
    "name, call",
    [
        ("hvp", lambda p, x, v: curvature.hvp(LINE, p, x, None, v)),
        ("gnvp", lambda p, x, v: curvature.gnvp(LINE, p, x, None, v)),
        ("outer_product_vp", lambda p, x, v: curvature.outer_product_vp(LINE, p, x, None, v)),
        ("hessian_diagonal", lambda p, x, v: curvature.hessian_diagonal(LINE, p, x, None)),
    ],
)
def test_the_curvature_products_that_need_targets_say_so_for_t_none(name, call):
    # Before: hvp(net, p, x, None, v) ended in a TypeError deep in losses.
    params = LINE.init(jax.random.key(0))
    x = np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match=re.escape(f"{name} needs targets t, got None")):
        call(params, x, params)


def test_the_matrix_docstring_counts_the_default_matrix_as_it_is():
    # Before: "the 2 520 cells of the default matrix take about a minute"; it has 3612 (README:
    # 3612 cells in 351.6 s).
    cells = len(specs()) * len(valid_pairs()) * 4  # depths (1, 2, 3, 4)
    doc = " ".join(gradcheck_matrix.__doc__.split())
    assert f"the {cells} cells of the default matrix" in doc and "2 520" not in doc


@pytest.mark.slow  # ~4 s: two gradchecks of a learnable-activation net
@pytest.mark.usefixtures("x64")
def test_an_ill_conditioned_cost_passes_finite_differences_and_a_gradient_1pct_off_fails():
    # softmax + bce with a class probability ~1e-23 and soft targets: E (~16), computed from
    # y, jumped by 1.7e-11 between neighbouring points (1 - y of the unit near 1), so its central
    # differences carried ~1e-6 (rel err 1.3e-5 against them, over 1e-5: a false FAIL, fd) and
    # the hand gradient read 1.1e-10 against autodiff (a false FAIL, autodiff). From the logits
    # (softmax_bce) they read 4.6e-9 and 5e-16: the whole check passes.
    rng = np.random.default_rng(0)
    net = MLP((3, 4, 3), "elu_learnable", "softmax", "bce", "mean")
    params = net.init(jax.random.key(1), jnp.float64)
    x, t = rng.standard_normal((7, 3)) * 8, rng.random((7, 3))
    right = gradcheck(net, params, x, t)
    assert right.ok and right.rel_err_fd < 1e-7, right
    wrong = gradcheck(net, params, x, t, grad_fn=_scaled(net.backprop, 1.01))
    assert not any(row.ok_fd for row in wrong.rows) and wrong.rel_err_fd > 5e-3, wrong
