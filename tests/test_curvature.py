"""Curvature by hand (issue 18): h'' and the output curvature in the records against jax, the
R-operator Hv, Gauss-Newton, Fisher, exact Hessian (and PRML's closed form), its diagonal, the
outer-product approximation and the input Hessian against jax in float64; central differences of
the hand gradient; the Taylor remainder of order 3; and the mutation twins (an h'' 1 % off, a wrong
output curvature, a dropped term of the R-backward pass) that every check must catch."""

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.special import gammaln

import jaxmlp
from jaxmlp import MLP, activations, backprop, curvature, losses, outputs
from jaxmlp import reduction as reduction_module
from jaxmlp.curvature_check import (
    check_curvature,
    curvature_matrix,
    passes,
    relative_error,
    taylor_test_hessian,
)
from jaxmlp.gradient_matrix import gradcheck_matrix, valid_pairs

BUILTIN = tuple(a for a in activations.names() if a in activations._REGISTRY and
                activations._REGISTRY[a] in activations._BUILTIN)  # fmt: skip


def grid() -> np.ndarray:
    special = [0.0, 1e-300, 1e-8, 0.5, 1.0, 20.0, 50.0, 100.0, 700.0, 1e3, 1e4]
    return np.concatenate([np.linspace(-10, 10, 2001), special, -np.asarray(special)])


def data(net, seed=0, n=5):
    params = net.init(jax.random.key(seed), jnp.float64)
    params = [  # slopes off their init value, so that a wrong alpha term shows
        layer | {"alpha": layer["alpha"] + 0.1 * jnp.arange(layer["alpha"].size)}
        if "alpha" in layer
        else layer
        for layer in params
    ]
    x = jax.random.normal(jax.random.key(seed + 1), (n, net.sizes[0]), jnp.float64)
    k = net.sizes[-1]
    if net.output == "threshold":
        t = jnp.where(jnp.arange(n * k).reshape(n, k) % 3 == 0, 1.0, -1.0)
    elif net.loss == "cross_entropy":
        t = jax.nn.one_hot(jnp.arange(n) % k, k, dtype=jnp.float64)
    else:
        t = jax.random.uniform(jax.random.key(seed + 2), (n, k), jnp.float64, 0.05, 0.95)
    v = jax.tree.map(lambda p: jax.random.normal(jax.random.key(seed + 3), p.shape), params)
    return params, x, t, v


def cost_fn(net, x, t):
    return lambda p: backprop.cost_of(net, backprop.forward(net, p, x), t)


# -- the records ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", BUILTIN)
def test_hand_second_derivative_equals_jax_on_a_dense_grid_with_kinks(name):
    act = activations.get(name)
    z = jnp.asarray(grid())
    slope = (jnp.full_like(z, 0.3),) if act.learnable else ()
    hand = np.asarray(act.grad2(z, *slope))
    auto = jax.vmap(jax.grad(jax.grad(act.fn)))(z, *slope)
    assert np.all(np.isfinite(hand))
    np.testing.assert_allclose(hand, auto, rtol=1e-12, atol=1e-15)


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_kink_conventions_of_h2_and_the_smoothness_flags():
    zero = jnp.zeros(())
    assert float(activations.get("elu").grad2(zero)) == 1.0  # jax takes z <= 0's branch
    assert float(activations.get("softsign").grad2(zero)) == -2.0  # jax: |z|' = 1 at 0
    for name in ("step", "sign", "relu", "leaky_relu", "identity"):
        assert not np.any(np.asarray(activations.get(name).grad2(jnp.asarray(grid()))))
    smooth = {a for a in BUILTIN if activations.get(a).smooth}
    assert smooth == {"identity", "sigmoid", "tanh", "arctan", "isru", "softplus", "isru_learnable"}
    assert outputs.get("softmax").smooth and not outputs.get("relu").smooth


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_prelu_mixed_and_slope_second_derivatives_equal_jax():
    prelu = activations.get("prelu")
    z = jnp.asarray(grid())
    alpha = jnp.linspace(-0.5, 1.5, z.size)
    d_za = jax.vmap(jax.grad(jax.grad(prelu.fn, 0), 1))(z, alpha)
    d_aa = jax.vmap(jax.grad(jax.grad(prelu.fn, 1), 1))(z, alpha)
    np.testing.assert_array_equal(prelu.grad_z_alpha(z, alpha), d_za)
    np.testing.assert_array_equal(prelu.grad2_alpha(z, alpha), d_aa)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("output, loss", valid_pairs())
def test_output_curvature_of_every_pair_equals_jax_hessian_in_the_logits(output, loss):
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.uniform(-2, 2, (4, 3)))
    t = jnp.asarray(
        np.eye(3)[[0, 2, 1, 1]] if loss == "cross_entropy" else rng.uniform(0, 1, (4, 3))
    )
    t = 2 * t - 1 if output == "threshold" else t  # its labels are -1/+1
    y = outputs.get(output).fn(z)
    hand = jax.vmap(lambda u: losses.curvature(output, loss, "sum", z, y, t, u), 1, 2)(
        jnp.broadcast_to(jnp.eye(3), (4, 3, 3))
    )

    def per_example(zi, ti):
        return losses.per_example(
            output, loss, zi[None], outputs.get(output).fn(zi[None]), ti[None]
        )[0]

    auto = jax.vmap(jax.hessian(per_example))(z, t)
    np.testing.assert_allclose(hand, auto, rtol=1e-12, atol=1e-14)
    # the derived canonical records agree with the generic chain rule through their records
    if (output, loss) in losses.CANONICAL:
        u = jnp.asarray(rng.standard_normal((4, 3)))
        pair, chain = losses.pair(output, loss), losses.chain_pair(output, loss)
        np.testing.assert_allclose(
            pair.hvp(z, y, t, u), chain.hvp(z, y, t, u), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(
            pair.delta(z, y, t), chain.delta(z, y, t), rtol=1e-12, atol=1e-14
        )


WEIGHTED_PAIRS = (("softmax", "cross_entropy"), ("softmax:2.5", "cross_entropy"),
                  ("threshold", "bce"), ("exp", "poisson"), ("tanh", "mse"))  # fmt: skip


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
@pytest.mark.parametrize("output, loss", WEIGHTED_PAIRS)  # ~2 s each on 2 cores
def test_weighted_and_mean_output_curvature_equals_jax_hessian_of_the_reduced_cost(
    output, loss, mutant
):
    """d2E/dz2 u of the reduced cost, E = sum_i s_i l_i (/ sum_i s_i for mean), against
    jax.hessian of ``reduction.reduce`` in all the logits at once (no test passed sample_weight
    to ``losses.curvature``: dropping it, or the mean's 1/n, went unseen there); the twins drop
    each."""
    rng = np.random.default_rng(1)
    z = jnp.asarray(rng.uniform(-2, 2, (4, 3)))
    t = jnp.asarray(
        np.eye(3)[[0, 2, 1, 1]] if loss == "cross_entropy" else rng.uniform(0, 1, z.shape)
    )
    t = 2 * t - 1 if output == "threshold" else t
    y, u = outputs.get(output).fn(z), jnp.asarray(rng.standard_normal(z.shape))
    s = jnp.asarray([0.5, 0.0, 2.0, 1.25])

    def error(curvature, reduction, weights):
        def cost(zf):
            zi = zf.reshape(z.shape)
            per = losses.per_example(output, loss, zi, outputs.get(output).fn(zi), t)
            return reduction_module.reduce(per, reduction, weights)

        want = (jax.hessian(cost)(z.ravel()) @ u.ravel()).reshape(z.shape)
        got = curvature(output, loss, reduction, z, y, t, u, weights)
        return float(jnp.max(jnp.abs(got - want)) / jnp.max(jnp.abs(want)))

    for reduction, weights in itertools.product(("sum", "mean"), (None, s)):
        assert error(losses.curvature, reduction, weights) <= 1e-12, (reduction, weights)
    unweighted = mutant(losses.curvature, "reduction, sample_weight)", "reduction)")
    assert error(unweighted, "mean", s) > 1e-2 and error(unweighted, "sum", s) > 1e-2
    summed = mutant(losses.curvature, "reduction, sample_weight)", '"sum", sample_weight)')
    assert error(summed, "mean", None) > 1e-2 and error(summed, "mean", s) > 1e-2


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_softmax_cross_entropy_output_curvature_is_diag_y_minus_y_yT():
    z = jnp.asarray([[0.3, -1.0, 2.0]])
    y = jax.nn.softmax(z)
    t = jnp.asarray([[0.0, 1.0, 0.0]])
    h = jax.vmap(
        lambda u: losses.curvature("softmax", "cross_entropy", "sum", z, y, t, u[None])[0]
    )(jnp.eye(3))
    np.testing.assert_allclose(h, jnp.diag(y[0]) - jnp.outer(y[0], y[0]), rtol=1e-15)


# -- the hand passes against jax ------------------------------------------------------------------

SAMPLE = [  # each depth, and one of each kind of output, appears; prelu with its slopes
    ("tanh", "identity", "sse", 1),
    *(pytest.param(*cell, marks=pytest.mark.slow) for cell in (  # ~15 s each on 2 cores
        ("prelu", "softmax", "cross_entropy", 2), ("elu", "sigmoid", "bce", 3),
        ("softsign", "softmax:2.5", "mse", 2), ("isru", "relu", "huber", 1),
    )),
]  # fmt: skip


@pytest.mark.usefixtures("x64", "fast_compile")
@pytest.mark.parametrize("act, output, loss, depth", SAMPLE)
@pytest.mark.slow
def test_hand_curvature_equals_jax_hessian_and_jvp_of_grad(act, output, loss, depth):
    net = MLP((3,) + (4,) * depth + (2,), act, output, loss)
    params, x, t, v = data(net)
    f = cost_fn(net, x, t)
    flat, unravel = ravel_pytree(params)
    h_jax = jax.hessian(lambda w: f(unravel(w)))(flat)
    h = curvature.hessian(net, params, x, t)
    assert relative_error(h, h_jax) <= 1e-10
    assert (
        relative_error(
            curvature.hvp(net, params, x, t, v), jax.jvp(jax.grad(f), (params,), (v,))[1]
        )
        <= 1e-10
    )
    diag = ravel_pytree(curvature.hessian_diagonal(net, params, x, t))[0]
    assert relative_error(diag, jnp.diag(h_jax)) <= 1e-10
    errors = check_curvature(net, params, x, t)
    assert passes(errors) and set(errors) == {"hvp", "fd", "gn", "diagonal", "input"}, errors


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_exact_hessian_equals_prml_closed_form_for_one_hidden_layer():
    """PRML (5.93)-(5.95), Bishop's extended backprop for two layers, written out independently:
    with M = d2E/dz2 at the output, sigma = G_2 w_2^T (dE/da of the hidden units):
    w2 w2: a_j a_j' M_kk';  w1 w1: x_i x_i' [h''_j delta_jj' sigma_j + h'_j h'_j' (w2 M w2^T)_jj'];
    w1 w2: x_i h'_j [delta_jj' G_k + a_j' (w2 M)_jk]."""
    net = MLP((3, 4, 2), "tanh", "softmax", "bce", reduction="sum")
    params, x, t, _ = data(net)
    act = activations.get("tanh")
    h_prml = 0.0
    for xn, tn in zip(x, t):
        z1 = xn @ params[0]["w"] + params[0]["b"]
        a1 = jnp.tanh(z1)
        z2 = a1 @ params[1]["w"] + params[1]["b"]
        y = outputs.get("softmax").fn(z2[None])
        g2 = losses.delta("softmax", "bce", "sum", z2[None], y, tn[None])[0]
        m = jnp.stack(
            [
                losses.curvature("softmax", "bce", "sum", z2[None], y, tn[None], u[None])[0]
                for u in jnp.eye(2)
            ]
        )
        w2 = params[1]["w"]
        d1, d2, sigma = act.grad(z1), act.grad2(z1), w2 @ g2
        x1 = jnp.append(xn, 1.0)  # inputs and the bias's 1
        a1_ = jnp.append(a1, 1.0)
        h22 = jnp.einsum("j,l,km->jklm", a1_, a1_, m)  # (j, k, j', k')
        inner = jnp.diag(d2 * sigma) + d1[:, None] * (w2 @ m @ w2.T) * d1[None, :]
        h11 = jnp.einsum("i,l,jm->ijlm", x1, x1, inner)  # (i, j, i', j')
        cross = jnp.einsum("i,j,jl,k->ijlk", x1, d1, jnp.eye(5)[:4], g2)  # delta_jj' G_k
        cross = cross + jnp.einsum("i,j,l,jk->ijlk", x1, d1, a1_, w2 @ m)  # (i, j, j', k)
        n1, n2 = 4 * 4, 5 * 2

        def flat(block, rows, cols):
            return block.reshape(rows, cols)

        top = jnp.concatenate([flat(h11, n1, n1), flat(cross, n1, n2)], 1)
        bottom = jnp.concatenate([flat(cross, n1, n2).T, flat(h22, n2, n2)], 1)
        h_prml = h_prml + jnp.concatenate([top, bottom], 0)
    # PRML's order: w1[i, j] at i * 4 + j (b1 as input i = 3), then w2[j, k] at 16 + j * 2 + k
    # (b2 as hidden unit j = 4); ravel_pytree's order holds these indices:
    marks = [
        {"w": np.arange(12.0).reshape(3, 4), "b": 12.0 + np.arange(4)},
        {"w": 16.0 + np.arange(8).reshape(4, 2), "b": 24.0 + np.arange(2)},
    ]
    prml_of = np.asarray(ravel_pytree(marks)[0], int)
    h = curvature.hessian(net, params, x, t)
    np.testing.assert_allclose(h, h_prml[np.ix_(prml_of, prml_of)], rtol=1e-12, atol=1e-13)


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_fisher_is_the_expected_outer_product_of_score_vectors_for_the_canonical_pairs():
    """F = E_{t ~ model}[g_t g_t^T] with g_t = dE/dw at target t, enumerated exactly: every class
    (softmax, also with temperature 2.5), every 0/1 pattern (sigmoid; -1/+1 for threshold), the
    counts 0..59 of one Poisson output (exp; the tail beyond weighs < 1e-30), t = y +- sqrt(K)
    e_k (Gaussian: its covariance I)."""
    for output, loss in (*losses.CANONICAL, ("softmax:2.5", "cross_entropy"), ("threshold", "bce")):
        net = MLP((2, 3, 1 if output == "exp" else 2), "tanh", output, loss, reduction="sum")
        params, x, _, v = data(net, n=1)
        y = net.apply(params, x)[0]
        if output.startswith("softmax"):
            draws = [(jnp.eye(2)[k], y[k]) for k in range(2)]
        elif output in ("sigmoid", "threshold"):
            labels = [-1.0, 1.0] if output == "threshold" else [0.0, 1.0]
            patterns = jnp.asarray(list(itertools.product(labels, repeat=2)))
            draws = [(b, jnp.prod(jnp.where(b > 0, y, 1 - y))) for b in patterns]
        elif output == "exp":
            counts = np.arange(60.0)
            pmf = np.exp(counts * np.log(float(y[0])) - float(y[0]) - gammaln(counts + 1))
            draws = [(jnp.asarray([c]), p) for c, p in zip(counts, pmf)]
        else:
            draws = [(y + s * np.sqrt(2) * e, 0.25) for e in jnp.eye(2) for s in (1, -1)]
        g = [(ravel_pytree(net.backprop(params, x, tk[None]))[0], p) for tk, p in draws]
        fisher = sum(p * jnp.outer(gk, gk) for gk, p in g)
        fv = ravel_pytree(curvature.fisher_vp(net, params, x, v))[0]
        np.testing.assert_allclose(fv, fisher @ ravel_pytree(v)[0], rtol=1e-11, atol=1e-13)


def test_fisher_refusal_names_every_pair_it_takes():
    """The refusal listed CANONICAL's four pairs only, though the threshold output with bce and
    a tempered softmax with cross_entropy have a Fisher too (``losses.is_canonical``)."""
    taken = [(o, l) for o, l in valid_pairs() if losses.is_canonical(o, l)]
    assert ("threshold", "bce") in taken and ("softmax:2.5", "cross_entropy") in taken
    for output, loss in taken:
        net = MLP((2, 2), output=output, loss=loss)
        params = net.init(jax.random.key(0))
        curvature.fisher_vp(net, params, jnp.ones((1, 2)), params)  # taken
    net = MLP((2, 2), output="tanh", loss="mse")
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError) as refused:
        curvature.fisher_vp(net, params, jnp.ones((1, 2)), params)
    for output, loss in taken:
        named = "softmax:beta" if output.startswith("softmax:") else output
        assert f"['{named}', '{loss}']" in str(refused.value)


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_gauss_newton_fisher_and_outer_product_relations():
    net = MLP((3, 4, 3), "tanh", "softmax", "cross_entropy")
    params, x, t, v = data(net)
    gv, fv = curvature.gnvp(net, params, x, t, v), curvature.fisher_vp(net, params, x, v)
    assert relative_error(gv, fv) <= 1e-13  # one-hot targets: Gauss-Newton = Fisher
    g = curvature.gauss_newton(net, params, x, t)
    assert np.min(np.linalg.eigvalsh(np.asarray(g))) > -1e-12  # PSD for a canonical pair
    sse = MLP((3, 4, 2), "tanh", "identity", "sse", reduction="sum")
    params, x, t, _ = data(sse)
    jac = jax.jacobian(lambda w: backprop.forward(sse, ravel_pytree(params)[1](w), x).as_[-1])(
        ravel_pytree(params)[0]
    ).reshape(-1, ravel_pytree(params)[0].size)
    np.testing.assert_allclose(
        curvature.outer_product(sse, params, x, t), jac.T @ jac, rtol=1e-11, atol=1e-13
    )
    with pytest.raises(ValueError, match="canonical.*'tanh', 'mse'"):
        curvature.fisher_vp(MLP((3, 2), output="tanh", loss="mse"), params[:1], x, v[:1])


NON_CANONICAL = (("sigmoid", "mse"), ("softmax", "mse"), ("tanh", "mse"), ("exp", "huber"),
                 ("softmax", "bce"))  # fmt: skip


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
@pytest.mark.parametrize("output, loss", NON_CANONICAL)  # ~7 s each on 2 loaded cores
def test_gauss_newton_of_a_non_canonical_pair_is_jy_hl_jy_and_positive_semidefinite(
    output, loss, monkeypatch
):
    """The Gauss-Newton matrix of a pair whose loss is not convex in the logits is J_y^T H_L J_y,
    J_y = dy/dw of the outputs, H_L = d2E/dy2 (PSD: every loss is convex in y). gnvp was
    J_z^T (d2E/dz2) J_z for every pair, which keeps the output's own curvature sum_k dl/dy_k
    d2y_k/dz2: indefinite here (smallest eigenvalue -0.019, -0.15, -0.34 of a largest 0.1, 0.33,
    1.05 for sigmoid, softmax, tanh + mse; exp + huber -4e-4), so newton-cg's CG met negative
    curvature. Against jax.jacfwd and jax.hessian in float64; the twin, the loss's
    d2l/dy2 1 % off (softmax + bce: the part of it computed as cross_entropy's), is caught."""
    net = MLP((2, 3, 2), "tanh", output, loss)
    params, x, t, _ = data(net)
    x = 2 * x  # outputs away from the linear part of the output activation
    flat, unravel = ravel_pytree(params)

    def y_of(w):
        return backprop.forward(net, unravel(w), x).as_[-1]

    def cost_of_y(y):
        per = losses.get(loss).fn(y.reshape(t.shape), t)
        return reduction_module.reduce(per, net.reduction)

    j = jax.jacfwd(y_of)(flat).reshape(-1, flat.size)
    want = j.T @ jax.hessian(cost_of_y)(y_of(flat).ravel()) @ j
    got = curvature.gauss_newton(net, params, x, t)
    assert relative_error(got, want) <= 1e-10
    eig = np.linalg.eigvalsh(np.asarray(got))
    assert eig[0] >= -1e-12 * eig[-1] and eig[-1] > 0, eig
    record, outer = losses._LOSSES[loss], losses._softmax_outer
    if (output, loss) == ("softmax", "bce"):  # its t / y^2 part: cross_entropy's outer product
        monkeypatch.setattr(losses, "_softmax_outer", lambda y, t, u: 1.01 * outer(y, t, u))
    else:
        wrong = record._replace(grad2=lambda y, t: 1.01 * record.grad2(y, t))
        monkeypatch.setitem(losses._LOSSES, loss, wrong)
    assert relative_error(curvature.gauss_newton(net, params, x, t), want) > 1e-4


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_input_hessian_equals_jax_per_example_and_methods_compose_with_jit_and_vmap():
    net = MLP((3, 5, 4, 2), ("tanh", "prelu"), "softmax", "cross_entropy")
    params, x, t, v = data(net)
    ref = jax.vmap(jax.hessian(lambda xi: net.apply(params, xi[None])[0]))(x)
    got = net.input_hessian(params, x)
    assert got.shape == (5, 2, 3, 3) and relative_error(got, ref) <= 1e-10
    hv = jax.jit(net.hvp)(params, x, t, v)
    assert relative_error(hv, net.hvp(params, x, t, v)) <= 1e-13
    vs = jax.tree.map(lambda a: jnp.stack([a, 2 * a]), v)
    batched = jax.vmap(lambda vi: curvature.hvp(net, params, x, t, vi))(vs)
    assert (
        relative_error(jax.tree.map(lambda a: a[1], batched), jax.tree.map(lambda a: 2 * a, hv))
        <= 1e-13
    )
    h = net.hessian(params, x, t)
    assert relative_error(h @ ravel_pytree(v)[0], ravel_pytree(hv)[0]) <= 1e-12


# -- the Taylor test and the mutation twins --------------------------------------------------------


DROPPED_TERMS = {  # each a term of the R-backward pass
    "R{a}^T G": ("[(ra, g), (a, rg)]", "[(a, rg)]"),
    "G v_w^T": ('rg @ w.T + g @ v[l]["w"].T', "rg @ w.T"),
    "h'' R{z}": ("+ g_a * second", "+ 0 * second"),
}


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_taylor_remainder_is_third_order_with_the_hand_hessian_and_second_order_without(mutant):
    net = MLP((3, 4, 4, 2), "tanh", "sigmoid", "bce")
    params, x, t, _ = data(net)
    good = taylor_test_hessian(net, params, x, t)
    assert good.ok and 2.8 <= good.order <= 3.3, good
    old, new = DROPPED_TERMS["G v_w^T"]
    bad_hvp = mutant(curvature.hvp, old, new)
    bad = taylor_test_hessian(net, params, x, t, hvp_fn=lambda *a: bad_hvp(net, *a))
    assert not bad.ok and bad.order < 2.3, bad


@pytest.mark.slow
@pytest.mark.usefixtures("x64", "fast_compile")
@pytest.mark.parametrize("act", ["relu", "elu"])
def test_the_curvature_checks_at_a_kink_leave_it_out_or_refuse_not_fail_the_right_hessian(act):
    """One example of eight at a unit's kink (z = 0: relu's h' jumps there, elu's h''): the
    Hessian's Taylor test fitted order 1 (relu) or 2 (elu), a FAIL of the right Hv, and
    check_curvature's central differences of the gradient read 1.0 and 0.017, a FAIL too. The
    Taylor test leaves the example out as gradcheck does (``excluded``; every one at a kink
    refused); check_curvature refuses the differences there (fd=False skips them) by name."""
    from jaxmlp.kinks import AtKinks

    net = MLP((2, 3, 1), act, "identity", "sse")
    params = net.init(jax.random.key(0), jnp.float64)  # biases 0: x = 0 gives z = 0
    x = jax.random.normal(jax.random.key(1), (8, 2), jnp.float64).at[0].set(0.0)
    t = jnp.ones((8, 1))
    right = taylor_test_hessian(net, params, x, t)
    assert right.ok and right.excluded == (0,), right
    off = taylor_test_hessian(net, params, x, t, hvp_fn=lambda *a: jax.tree.map(
        lambda v: 1.01 * v, curvature.hvp(net, *a)))  # fmt: skip
    assert not off.ok, off
    with pytest.raises(AtKinks, match="Every example \\(2\\) sits at a kink"):
        taylor_test_hessian(net, params, jnp.zeros((2, 2)), jnp.ones((2, 1)))
    some = ("hvp", "fd")  # the checks a kink meets (the others are the matrix's)
    with pytest.raises(ValueError, match="fd: 1 example\\(s\\), rows \\[0\\] sit near a kink"):
        check_curvature(net, params, x, t, checks=some)
    assert passes(check_curvature(net, params, x, t, fd=False, checks=some))
    assert passes(check_curvature(net, params, x[1:], t[1:], checks=some))


@pytest.mark.usefixtures("x64")
def test_an_hvp_fn_that_is_complex_is_refused_not_read_as_its_real_part():
    """check_curvature passed an hvp_fn returning the hand Hv + 1j (hvp 3e-15, fd 2e-10: the
    cast to float64 dropped the imaginary part), and the Hessian's Taylor test stopped on
    float()'s TypeError. Both refuse it by leaf: Hv of a real cost is real."""
    net = MLP((3, 4, 2), "tanh", "softmax", "cross_entropy")
    params, x, t, _ = data(net)

    def complex_hvp(*a):
        return jax.tree.map(lambda v: v + 1j, curvature.hvp(net, *a))

    with pytest.raises(ValueError, match=r"hvp_fn: \[0\]\['b'\] must be real numbers"):
        check_curvature(net, params, x, t, hvp_fn=complex_hvp, checks=("hvp", "fd"))
    with pytest.raises(ValueError, match=r"hvp_fn: \[0\]\['b'\] must be real numbers"):
        taylor_test_hessian(net, params, x, t, hvp_fn=complex_hvp)


@pytest.mark.slow
def test_an_exactly_quadratic_cost_passes_the_taylor_test_and_its_twins_fail():
    # No hidden layer, identity and sse: E is quadratic in w and Hv exact, so the remainder is
    # round-off at every eps; with no point above the noise the test said order NaN, ok False.
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))
    net = MLP((2, 1), output="identity", loss="sse")
    params = net.init(jax.random.key(0))
    exact = taylor_test_hessian(net, params, x, t)
    assert exact.ok and exact.order == np.inf, exact

    def scaled(factor):
        return lambda *a: jax.tree.map(lambda v: factor * v, curvature.hvp(net, *a))

    off = taylor_test_hessian(net, params, x, t, hvp_fn=scaled(1.01))  # 1 % off: order 2
    assert not off.ok and 1.9 < off.order < 2.1, off
    broken = taylor_test_hessian(net, params, x, t, hvp_fn=scaled(np.nan))  # NaN at every eps
    assert not broken.ok and np.isnan(broken.order), broken
    few = taylor_test_hessian(net, params, x, t, hvp_fn=scaled(1 + 1e-9))  # 2 points over 2e-13
    assert few.remainder[0] > 1e-12 and np.isnan(few.order) and not few.ok, few  # none fitted


@pytest.mark.parametrize(
    "settings, named",
    [
        (dict(seed=-1), "seed must be an integer >= 0, got -1."),
        (dict(seed=1.5), "seed must be an integer >= 0, got 1.5."),
        (dict(n_eps=0), "n_eps must be an integer >= 3, got 0."),
        (dict(n_eps=2.5), "n_eps must be an integer >= 3, got 2.5."),
    ],
)
def test_the_curvature_checks_name_a_bad_seed_or_n_eps(settings, named):
    # numpy said "expected non-negative integer" (seed -1), SeedSequence raised a TypeError
    # (1.5); n_eps 0 fitted nothing (or passed on no eps at all), 2.5 ran three eps.
    net = MLP((2, 3, 1), "tanh")
    params, x, t = net.init(jax.random.key(0)), np.ones((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=re.escape(named)):
        taylor_test_hessian(net, params, x, t, **settings)
    if "seed" in settings:
        with pytest.raises(ValueError, match=re.escape(named)):
            check_curvature(net, params, x, t, **settings)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("term", DROPPED_TERMS)
def test_a_dropped_term_of_the_r_backward_pass_is_caught(term, mutant):
    net = MLP((3, 4, 4, 2), "tanh", "softmax", "mse")
    params, x, t, _ = data(net)
    assert passes(check_curvature(net, params, x, t, checks=("hvp", "fd")))
    bad_hvp = mutant(curvature.hvp, *DROPPED_TERMS[term])
    errors = check_curvature(
        net, params, x, t, hvp_fn=lambda *a: bad_hvp(net, *a), checks=("hvp", "fd")
    )
    assert errors["hvp"] > 1e-4 and errors["fd"] > 1e-4 and not passes(errors)


@pytest.fixture
def tanh_one_percent_off():
    """tanh registered with h'' 1 % off (h and h' right)."""
    tanh = activations.get("tanh")
    act = activations.register(
        "tanh_h2_off", tanh.fn, tanh.grad, lambda z: 1.01 * tanh.grad2(z), smooth=True
    )
    yield act
    activations.unregister("tanh_h2_off")


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_an_h2_one_percent_off_is_caught_by_every_check_that_uses_it(tanh_one_percent_off):
    net = MLP((3, 4, 4, 2), tanh_one_percent_off.name, "tanh", "sse")
    params, x, t, _ = data(net)
    errors = check_curvature(net, params, x, t)
    assert errors["gn"] <= 1e-10  # Gauss-Newton has no h'': right
    for check in ("hvp", "fd", "diagonal", "input"):
        assert errors[check] > 1e-5, (check, errors)
    report = curvature_matrix(
        depths=(1,), activations=["tanh", tanh_one_percent_off.name], pairs=[("identity", "sse")]
    )
    assert [row.ok for row in report.rows] == [True, False] and not report.ok


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize(
    "pair", [pytest.param(("softmax", "cross_entropy"), marks=pytest.mark.slow), ("sigmoid", "bce")]
)
def test_a_wrong_output_curvature_is_caught(pair, monkeypatch):
    record = losses._CANONICAL[pair]
    monkeypatch.setitem(
        losses._CANONICAL,
        pair,
        record._replace(hvp=lambda z, y, t, u: 1.01 * record.hvp(z, y, t, u)),
    )
    net = MLP((3, 4, 3), "tanh", *pair)
    params, x, t, _ = data(net)
    errors = check_curvature(net, params, x, t)
    for check in ("hvp", "fd", "gn", "diagonal"):
        assert errors[check] > 1e-4, (check, errors)


# The outer product J_y^T diag(d2l/dy2) J_y of a canonical pair as sums of squared gradients of
# logs, which stay finite where y saturates: bce's d2l/dy2 = t / y^2 + (1 - t) / (1 - y)^2 is
# (t, log y) and (1 - t, log(1 - y)); cross_entropy's (t, log y); poisson's t / y^2 with y = e^z
# is (t, z); sse's (1, y).
OUTER_TERMS = {
    ("sigmoid", "bce"): lambda z, t: [(t, jax.nn.log_sigmoid(z)), (1 - t, jax.nn.log_sigmoid(-z))],
    ("threshold", "bce"): lambda z, t: [
        ((t + 1) / 2, jax.nn.log_sigmoid(z)),
        ((1 - t) / 2, jax.nn.log_sigmoid(-z)),
    ],
    ("softmax", "cross_entropy"): lambda z, t: [(t, jax.nn.log_softmax(z))],
    ("softmax:2", "cross_entropy"): lambda z, t: [(t, jax.nn.log_softmax(2 * z))],
    ("exp", "poisson"): lambda z, t: [(t, z)],
    ("identity", "sse"): lambda z, t: [(jnp.ones_like(t), z)],
}


def outer_reference(net, params, x, t, v):
    """``sum over terms (c, f) of J_f^T diag(c) J_f v / n`` by jax (``OUTER_TERMS``)."""
    terms = OUTER_TERMS[(net.output, net.loss)]
    total = jax.tree.map(jnp.zeros_like, params)
    for i in range(len(terms(jnp.zeros_like(t), t))):

        def f(p, i=i):
            return terms(backprop.forward(net, p, x).zs[-1], t)[i][1]

        c = terms(backprop.forward(net, params, x).zs[-1], t)[i][0]
        jv = jax.jvp(f, (params,), (v,))[1]
        part = jax.vjp(f, params)[1](c * jv / x.shape[0])[0]
        total = jax.tree.map(jnp.add, total, part)
    return total


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize(  # ~3 s each on 2 cores
    "pair", [p if p == ("sigmoid", "bce") else pytest.param(p, marks=pytest.mark.slow)
             for p in OUTER_TERMS]
)  # fmt: skip
def test_outer_product_is_finite_and_exact_where_the_canonical_outputs_saturate(pair, monkeypatch):
    net = MLP((3, 4, 3), "tanh", *pair)
    params, x, _, v = data(net)
    row = {"bce": [0.0, 1.0, 0.3], "cross_entropy": [0.0, 1.0, 0.0], "poisson": [1.0, 2.0, 0.0],
           "sse": [1.0, 1.0, 1.0]}[net.loss]  # fmt: skip
    t = jnp.asarray([row] * 5)
    t = jnp.sign(t - 0.5) if net.output == "threshold" else t  # labels -1/+1, as 0/1 in bce
    moderate = params
    bias = jnp.asarray([-800.0, -800.0, 0.0] if net.output == "exp" else [800.0, -800.0, 0.0])
    saturated = params[:-1] + [params[-1] | {"b": bias}]
    for p in (moderate, saturated):  # y = 1 where t = 0 and y = 0 where t > 0 (exp: y = e^-800)
        assert np.isfinite(float(net.cost(p, x, t)))
        got = curvature.outer_product_vp(net, p, x, t, v)
        assert relative_error(got, outer_reference(net, p, x, t, v)) <= 1e-12
    # the mutation twin: the pair's outer product 1 % off is caught
    record = losses.pair(*pair)
    wrong = record._replace(outer=lambda z, y, t, u: 1.01 * record.outer(z, y, t, u))
    monkeypatch.setattr(losses, "pair", lambda output, loss: wrong)
    got = curvature.outer_product_vp(net, saturated, x, t, v)
    assert relative_error(got, outer_reference(net, saturated, x, t, v)) > 1e-4


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
@pytest.mark.parametrize("output", ["softmax", "softmax:2"])
def test_softmax_bce_gauss_newton_is_finite_where_a_wrong_output_underflows(output, monkeypatch):
    """softmax + bce with a class of target 1 at y ~ 1e-200 (a confident wrong prediction, cost
    ~460: finite): d2l/dy2 = t / y^2 overflowed (y^2 underflows to 0) and J^T (d2l/dy2) J u was
    inf * 0 = NaN, so newton-cg refused every step to its damping's ceiling (lbfgs: one step).
    Its t / y^2 part is the cross_entropy's outer product, computed with J cancelled; against the
    sum of squared gradients of log y and log(1 - y) (``outer_reference``); the twin, that outer
    product 1 % off, is caught."""
    net = MLP((3, 4, 3), "tanh", output, "bce")
    params, x, _, v = data(net)
    t = jnp.asarray([[0.0, 1.0, 0.0]] * 5)
    beta = outputs.get(output).beta
    wrong = params[:-1] + [params[-1] | {"b": jnp.asarray([230.0, -230.0, 230.0]) / beta}]
    monkeypatch.setitem(
        OUTER_TERMS,
        (output, "bce"),
        lambda z, t: [
            (t, jax.nn.log_softmax(beta * z)),
            (1 - t, jnp.log1p(-jax.nn.softmax(beta * z))),
        ],
    )
    for p in (params, wrong):
        assert np.isfinite(float(net.cost(p, x, t)))
        want = outer_reference(net, p, x, t, v)
        for product in (curvature.gnvp, curvature.outer_product_vp):
            assert relative_error(product(net, p, x, t, v), want) <= 1e-12, product
    record = losses.pair(output, "bce")
    off = record._replace(outer=lambda z, y, t, u: 1.01 * record.outer(z, y, t, u))
    monkeypatch.setattr(losses, "pair", lambda output, loss: off)
    assert relative_error(curvature.gnvp(net, wrong, x, t, v), want) > 1e-4


def test_an_activation_without_h2_is_refused_and_left_out_of_the_matrix():
    act = activations.register("no_h2_for_tests", jnp.tanh, lambda z: 1 - jnp.tanh(z) ** 2)
    try:
        net = MLP((2, 3, 1), act.name)
        params = net.init(jax.random.key(0))
        with pytest.raises(ValueError, match="'no_h2_for_tests'.*grad2="):
            net.hvp(params, jnp.ones((2, 2)), jnp.ones((2, 1)), params)
        report = curvature_matrix(
            depths=(1,), activations=[act.name, "tanh"], pairs=[("identity", "sse")]
        )
        assert report.left_out == (act.name,) and report.cells == 1
        assert "not checked (registered without grad2): no_h2_for_tests" in str(report)
    finally:
        activations.unregister(act.name)


# -- the matrix -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_gradcheck_matrix_carries_the_curvature_cells_and_fails_with_them(monkeypatch):
    report = gradcheck_matrix(
        depths=(1, 4), activations=["relu"], pairs=[("softmax", "mae")], curvature=True
    )
    assert report.curvature.cells == 1 and report.curvature.rows[0].depth == 1  # depths <= 3
    assert report.ok and "curvature: 1 cells (float64), 0 failing" in str(report)
    assert report.to_dict()["curvature"]["failing"] == 0
    assert (
        jaxmlp.gradcheck_matrix is gradcheck_matrix and jaxmlp.curvature_matrix is curvature_matrix
    )
    record = losses._CANONICAL["sigmoid", "bce"]
    monkeypatch.setitem(
        losses._CANONICAL,
        ("sigmoid", "bce"),
        record._replace(hvp=lambda z, y, t, u: 0.99 * record.hvp(z, y, t, u)),
    )
    bad = gradcheck_matrix(
        depths=(1,), activations=["tanh"], pairs=[("sigmoid", "bce")], curvature=True
    )
    assert bad.failing == 0 and bad.curvature.failing == 1 and not bad.ok


@pytest.mark.slow
@pytest.mark.usefixtures("fast_compile")
def test_a_quick_curvature_matrix_every_activation_pair_and_depth_once():
    acts = [a for a in BUILTIN]
    pairs = list(valid_pairs())
    rows = []
    # two thirds of the pairs, each with another activation, at depth 1 or 3 (depth 2 of every
    # activation and pair: the whole matrix below)
    for depth, some in ((1, pairs[0::3]), (3, pairs[2::3])):
        for i, pair in enumerate(some):
            report = curvature_matrix(
                depths=(depth,), activations=[acts[i % len(acts)]], pairs=[pair]
            )
            rows += report.rows
    assert len(rows) == 29 and all(row.ok for row in rows), [r for r in rows if not r.ok]


@pytest.mark.slow
@pytest.mark.usefixtures("fast_compile")
@pytest.mark.parametrize("spec", activations.specs())
def test_the_whole_curvature_matrix_agrees_with_jax_to_1e_10(spec):
    """Every activation spec at depth 2, each with a quarter of the output/loss pairs (the i-th
    spec the pairs i, i + 4, ... mod 4), so that every pair meets five or six activations and
    every activation ten or eleven pairs: the R-passes take an activation's h', h'' and a
    pair's output curvature as separate parts, which these cells combine in every layer kind
    the passes recurse through (input -> hidden, hidden -> hidden, hidden -> output; depths 1
    and 3 hold no other kind, the quick matrix above runs pairs there). Each cell costs ~0.4 s
    on the shared 2-core CPU (unoptimised XLA programs: most of it compiling eager ops), the
    whole cross product 345 s of the suite's 63 CPU-minutes (2026-12-06); it is ``jaxmlp
    gradcheck --curvature`` (depths 1-3, its last run in the README). One test per activation,
    so that the workers share the matrix."""
    specs, pairs = activations.specs(), list(valid_pairs())
    some = pairs[specs.index(spec) % 4 :: 4]
    report = curvature_matrix(depths=(2,), activations=[spec], pairs=some)
    assert report.cells == len(some)
    assert report.ok, "\n".join(str(r) for r in report.rows if not r.ok)
    for check in ("hvp", "gn", "diagonal", "input"):
        assert report.worst(check) <= 1e-10


# -- shapes at the boundary --------------------------------------------------------------------


@pytest.mark.slow
def test_products_refuse_targets_and_directions_that_would_broadcast():
    """t shaped (n,) made gnvp's output layer (3, 4) instead of (3, 1), integer labels gave 4x
    the one-hot answer, and a v with a scalar, an (n, p) or a transposed leaf broadcast: all
    with no error."""
    net = MLP((2, 3, 1), "tanh", "tanh", "sse")
    params = net.init(jax.random.key(0))
    x, t = jnp.ones((4, 2)), jnp.full((4, 1), 0.5)
    v = jax.tree.map(jnp.ones_like, params)
    products = {
        "hvp": lambda t_, v_: curvature.hvp(net, params, x, t_, v_),
        "gnvp": lambda t_, v_: curvature.gnvp(net, params, x, t_, v_),
        "outer_product_vp": lambda t_, v_: curvature.outer_product_vp(net, params, x, t_, v_),
        "hessian_diagonal": lambda t_, v_: curvature.hessian_diagonal(net, params, x, t_),
    }
    for product in products.values():
        product(t, v)
        with pytest.raises(ValueError, match=r"t must have shape \(n, K\) = \(4, 1\), got"):
            product(t[:, 0], v)
    softmax = MLP((2, 3, 3), "tanh", "softmax", "cross_entropy")
    p3 = softmax.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"labels and \(n,\) targets become"):
        curvature.gnvp(softmax, p3, x, jnp.array([0, 2, 1, 1]), jax.tree.map(jnp.ones_like, p3))
    for bad in (
        [v[0], {"w": v[1]["w"], "b": jnp.float32(1.0)}],  # a scalar b
        [v[0], {"w": v[1]["w"], "b": jnp.ones((4, 1))}],  # a per-example b
        [v[0] | {"extra": v[0]["b"]}, v[1]],
        [{"w": v[0]["w"].T, "b": v[0]["b"]}, v[1]],
    ):
        for name in ("hvp", "gnvp", "outer_product_vp"):
            with pytest.raises(ValueError, match="v must be shaped like params"):
                products[name](t, bad)
    with pytest.raises(ValueError, match="v must be shaped like params"):
        curvature.fisher_vp(net.replace(output="identity"), params, x, v[:1])


def test_products_of_the_cost_refuse_no_examples_as_the_net_does():
    """On x of no rows the products returned zeros, the curvature of a mean over no examples
    (0 / 0), where net.cost, net.backprop and net.hvp refuse; d2y/dx2 of no rows is no rows."""
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = net.init(jax.random.key(0))
    x, t, v = jnp.ones((0, 2)), jnp.ones((0, 1)), jax.tree.map(jnp.ones_like, params)
    for product in (
        lambda: curvature.hvp(net, params, x, t, v),
        lambda: curvature.gnvp(net, params, x, t, v),
        lambda: curvature.outer_product_vp(net, params, x, t, v),
        lambda: curvature.fisher_vp(net, params, x, v),
        lambda: curvature.hessian_diagonal(net, params, x, t),
        lambda: curvature.hessian(net, params, x, t),
    ):
        with pytest.raises(ValueError, match="x is empty: .* needs at least one example"):
            product()
    assert curvature.input_hessian(net, params, x).shape == (0, 1, 2, 2)


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_a_curvature_check_that_checks_nothing_is_no_pass():
    net = MLP((2, 3, 1), "tanh", "identity", "sse")
    params, x, t, _ = data(net)
    for kwargs in ({"checks": ()}, {"checks": ("fd",), "fd": False}):
        with pytest.raises(ValueError, match="No check to run"):
            check_curvature(net, params, x, t, **kwargs)
    with pytest.raises(ValueError, match="nothing was checked"):
        passes({})


# -- a NaN anywhere, labels, checks --------------------------------------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_a_nan_or_inf_in_any_leaf_fails_the_check_whichever_leaf_holds_it():
    """The worst leaf was taken with Python's max, which keeps a NaN only in first place: an Hv
    with a NaN in params[1]["w"] passed with errors of 1e-16."""
    net = MLP((2, 3, 1), "tanh", "identity", "sse")
    params, x, t, v = data(net)
    ref = curvature.hvp(net, params, x, t, v)
    for l, k in itertools.product((0, 1), ("w", "b")):
        for bad in (np.nan, np.inf, -np.inf):
            hv = jax.tree.map(np.array, ref)
            hv[l][k].flat[0] = bad
            np.testing.assert_equal(relative_error(hv, ref), abs(bad), err_msg=f"{l} {k}")
            assert np.isnan(relative_error(ref, hv)), (l, k, bad)  # in the reference: inf / inf

    def nan_in_last_w(p, x_, t_, v_):
        hv = curvature.hvp(net, p, x_, t_, v_)
        return [hv[0], hv[1] | {"w": hv[1]["w"].at[0, 0].set(jnp.nan)}]

    errors = check_curvature(net, params, x, t, hvp_fn=nan_in_last_w, checks=("hvp", "fd"))
    assert np.isnan(errors["hvp"]) and np.isnan(errors["fd"]) and not passes(errors)
    cell = jaxmlp.curvature_check.CurvatureCell("tanh", "identity", "sse", 1, {"hvp": 0.0}, True)
    rows = (cell, cell._replace(errors={"hvp": np.nan}, ok=False))
    assert np.isnan(jaxmlp.curvature_check.CurvatureMatrixReport(rows, 0.0).worst("hvp"))


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_integer_labels_are_taken_by_the_curvature_checks_as_by_gradcheck():
    """t was cast to float64 before its check: labels (n,) read as one target per example."""
    net = MLP((2, 3, 3), "tanh", "softmax", "cross_entropy")
    params, x, _, _ = data(net, n=4)
    labels = jnp.array([0, 2, 1, 1])
    checks = ("hvp", "gn")  # the others take t the same way
    by_labels = check_curvature(net, params, x, labels, checks=checks, fd=False)
    assert passes(by_labels)
    one_hot = jax.nn.one_hot(labels, 3)
    assert by_labels == check_curvature(net, params, x, one_hot, checks=checks, fd=False)
    assert taylor_test_hessian(net, params, x, labels, n_eps=8).ok
    with pytest.raises(ValueError, match="labels"):
        check_curvature(net, params, x, jnp.array([0, 3, 1, 1]))


@pytest.mark.usefixtures("x64")
def test_checks_given_as_one_string_is_refused_with_the_right_call():
    net = MLP((2, 3, 1), "tanh", "identity", "sse")
    params, x, t, _ = data(net)
    with pytest.raises(ValueError, match=r"checks must be a list or tuple of names.*\('hvp',\)"):
        check_curvature(net, params, x, t, checks="hvp")
    assert set(check_curvature(net, params, x, t, checks=["hvp"])) == {"hvp"}


@pytest.mark.parametrize(
    "changes",
    [{"activations": []}, {"pairs": []}, {"depths": ()}, {"activations": ["no_h2_empty"]}],
    ids=["no activation", "no pair", "no depth", "every activation without h2"],
)
def test_a_matrix_of_no_cells_is_refused_not_a_pass(changes):
    """curvature_matrix and gradcheck_matrix said ok=True with 0 cells checked, where
    check_curvature and passes({}) refuse an empty verdict; a pair given as a bare name failed
    with "too many values to unpack"."""
    act = activations.register("no_h2_empty", jnp.tanh, lambda z: 1 - jnp.tanh(z) ** 2)
    try:
        args = {"depths": (1,), "activations": ["tanh"], "pairs": [("identity", "sse")]}
        axis = next(iter(changes))
        with pytest.raises(ValueError, match=f"{axis} is empty"):
            curvature_matrix(**args | changes)
        if act.name not in changes.get("activations", ()):  # gradient: every activation checks
            with pytest.raises(ValueError, match=f"{axis} is empty"):
                gradcheck_matrix(**args | changes)
        for check in (curvature_matrix, gradcheck_matrix):
            with pytest.raises(ValueError, match="pairs must be \\(output, loss\\) pairs"):
                check(**args | {"pairs": ["identity"]})
    finally:
        activations.unregister(act.name)
