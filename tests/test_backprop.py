"""Hand backpropagation (issue 3): ``net.backprop`` against ``jax.grad(net.cost)`` for every
activation x (output, loss) pair x depth, float64 and float32; dropout; the custom_vjp
``hand_cost`` under grad, jit and vmap; Hessians from the hand gradient; input derivatives.

Relative error of a gradient here: ``max |hand - autodiff| / max |autodiff|`` over every leaf,
the error against the gradient's own scale. float64 runs under ``jax.enable_x64`` test by test.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, activations, backprop, jacobian
from jaxmlp.gradient_matrix import valid_pairs

BUILTIN = (
    "identity", "step", "sign", "sigmoid", "tanh", "arctan", "softsign", "isru",
    "relu", "leaky_relu", "prelu", "elu", "selu", "softplus",
)  # fmt: skip
PAIRS = valid_pairs()
# The outputs of issues 19 and 20 (exp, threshold, a tempered softmax) share their hand records
# with the others: every activation at depth 2, and three activations at every depth.
NEWER = ("exp", "threshold", "softmax:2.5")
CELLS = [
    (a, o, l, d)
    for a in BUILTIN
    for o, l in PAIRS
    for d in (1, 2, 3, 4)
    if o not in NEWER or d == 2 or a in ("tanh", "relu", "prelu")
]


def data(net, dtype, seed=0, n=4):
    """Parameters (w ~ N(0, 1 / fan_in), b ~ N(0, 0.5^2), PReLU slopes in (0.1, 0.4)), inputs,
    and targets the net's loss accepts: labels -1/+1 for threshold, integer labels for
    cross_entropy, values in (0, 1) otherwise (every output can reach them, so no gradient
    vanishes by symmetry). Drawn with NumPy: cheaper than ``net.init`` op by op, and it is
    tested on its own."""
    rng = np.random.default_rng(seed)
    acts = (*net.hidden_activations, net.output)
    params = []
    for l, (fan_in, fan_out) in enumerate(zip(net.sizes, net.sizes[1:])):
        layer = {
            "w": rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in),
            "b": 0.5 * rng.standard_normal(fan_out),
        }
        if l < len(acts) - 1 and activations.get(acts[l]).learnable:
            layer["alpha"] = rng.uniform(0.1, 0.4, fan_out)
        params.append({k: v.astype(dtype) for k, v in layer.items()})
    params = jax.device_put(params)
    x = jnp.asarray(rng.standard_normal((n, net.sizes[0])), dtype)
    k = net.sizes[-1]
    if net.output == "threshold":  # its labels -1/+1
        t = jnp.asarray(rng.choice([-1.0, 1.0], (n, k)), dtype)
    elif net.loss == "cross_entropy" and k > 1:
        t = jnp.asarray(rng.integers(0, k, n))
    else:
        t = jnp.asarray(rng.uniform(0.05, 0.95, (n, k)), dtype)
    return params, x, t


def live_data(net, dtype, seed):
    """``data`` and its autodiff gradient, redrawn while that gradient vanishes: a dead ReLU net,
    or softmax + mae with one sign of y - t per example, whose gradient is 0 up to round-off.
    A relative error against round-off would pin nothing."""
    for s in range(seed, seed + 10):
        params, x, t = data(net, dtype, s)
        auto = jax.grad(net.cost)(params, x, t)
        if max(np.max(np.abs(np.asarray(a))) for a in jax.tree.leaves(auto)) > 1e-6:
            return params, x, t, auto
    raise AssertionError(f"no data with a non-zero gradient for {net}")


def rel_err(hand, auto) -> float:
    """max |hand - auto| / max |auto| over every leaf; the two trees must match exactly."""
    assert jax.tree.structure(hand) == jax.tree.structure(auto)
    hand, auto = (list(map(np.asarray, jax.tree.leaves(tree))) for tree in (hand, auto))
    for h, a in zip(hand, auto):
        assert h.shape == a.shape and h.dtype == a.dtype
    err = max(float(np.max(np.abs(h - a))) for h, a in zip(hand, auto))
    return err / max(float(np.max(np.abs(a))) for a in auto)


def cell_net(act, output, loss, depth, **kw):
    return MLP((3,) + (4,) * depth + (3,), act, output, loss, **kw)


def test_every_pair_and_builtin_is_in_the_matrix():
    assert set(BUILTIN) <= set(activations.names())
    assert len(PAIRS) == 43 and ("softmax", "cross_entropy") in PAIRS
    assert ("identity", "bce") not in PAIRS and ("sigmoid", "cross_entropy") not in PAIRS
    assert {("exp", "poisson"), ("threshold", "bce"), ("softmax:2.5", "cross_entropy")} <= set(
        PAIRS
    )
    assert ("identity", "poisson") not in PAIRS and ("exp", "bce") not in PAIRS


# -- the matrix: every activation x (output, loss) pair x depth 1-4 ------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("act, output, loss, depth", CELLS)
def test_hand_backprop_equals_jax_grad_float64(act, output, loss, depth):
    net = cell_net(act, output, loss, depth)
    params, x, t, auto = live_data(net, jnp.float64, seed=depth)
    assert rel_err(net.backprop(params, x, t), auto) <= 1e-12


FLOAT32_CELLS = [(a, "softmax", "cross_entropy") for a in BUILTIN] + [
    ("tanh", o, l) for o, l in (("identity", "sse"), ("identity", "mse"), ("sigmoid", "bce"),
                                ("tanh", "huber"), ("softmax", "mae"))
]  # fmt: skip


@pytest.mark.parametrize("act, output, loss", FLOAT32_CELLS)
def test_hand_backprop_equals_jax_grad_float32(act, output, loss):
    with jax.enable_x64(False):
        net = cell_net(act, output, loss, 3)
        params, x, t, auto = live_data(net, jnp.float32, seed=3)
        hand = net.backprop(params, x, t)
        assert hand[0]["w"].dtype == jnp.float32
        assert rel_err(hand, auto) <= 1e-5


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("loss, k_factor", [("sse", 1.0), ("mse", 2.0)])
@pytest.mark.slow
def test_multi_output_regression_gradient_sklearn_issue_8349(loss, k_factor):
    """scikit-learn's MLPRegressor got the squared-loss gradient of K > 1 outputs wrong by a
    factor K (its issue #8349). Here: sizes (3, 5, 4), identity output, K = 4; the hand gradient
    equals jax.grad and the textbook formula dE/dW_2 = a_1^T (c (y - t) / (K' n)) written out
    in NumPy, with c, K' = 1, 1 for sse and 2, K for mse."""
    net = MLP((3, 5, 4), "tanh", "identity", loss)
    params, x, t = data(net, jnp.float64, seed=8349, n=7)
    hand = net.backprop(params, x, t)
    assert rel_err(hand, jax.grad(net.cost)(params, x, t)) <= 1e-12
    w1, b1, w2, b2 = (np.asarray(params[l][k]) for l in (0, 1) for k in ("w", "b"))
    xn, tn = np.asarray(x), np.asarray(t)
    a1 = np.tanh(xn @ w1 + b1)
    y = a1 @ w2 + b2
    per_output = 4 if loss == "mse" else 1
    delta = k_factor * (y - tn) / (per_output * len(xn))
    np.testing.assert_allclose(hand[1]["w"], a1.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(hand[1]["b"], delta.sum(0), rtol=1e-12)
    np.testing.assert_allclose(
        hand[0]["w"], xn.T @ ((delta @ w2.T) * (1 - a1**2)), rtol=1e-12, atol=1e-15
    )


# -- tiny steps: products as sums -----------------------------------------------------------------


def written_out(x, params):
    """A tanh -> identity net's outputs with jnp's ``@``: an oracle independent of
    ``backprop.product``."""
    (l1, l2) = params
    return jnp.tanh(x @ l1["w"] + l1["b"]) @ l2["w"] + l2["b"]


def written_out_cost(x, t, params):
    """``written_out``'s sse cost, the mean over examples."""
    return 0.5 * jnp.sum((written_out(x, params) - t) ** 2) / x.shape[0]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("n", [4, 600])
@pytest.mark.slow
def test_tiny_steps_multiply_by_sums_larger_ones_by_dots_with_the_same_gradient(n):
    """A tiny step's products (n = 4: 6 |w| n below ``TINY_STEP_FLOPS``, each product at most
    256 multiplications) are broadcast sums, a larger step's (n = 600) dots; either way the
    hand gradient equals jax.grad of the net written with ``@``."""
    net = MLP((3, 5, 4), "tanh", "identity", "sse")
    params, x, t = data(net, jnp.float64, seed=n, n=n)
    assert backprop.is_tiny(net, n) == (n == 4)
    assert ("dot_general" in str(jax.make_jaxpr(net.backprop)(params, x, t))) == (n == 600)
    auto = jax.grad(written_out_cost, argnums=2)(x, t, params)
    assert rel_err(net.backprop(params, x, t), auto) <= 1e-13
    np.testing.assert_allclose(net.apply(params, x), written_out(x, params), rtol=1e-14)


@pytest.mark.usefixtures("x64")
def test_a_one_percent_error_in_the_summed_products_is_caught(monkeypatch):
    """The mutation twin: sums 1 % off in tiny steps fail the comparison above."""
    net = MLP((3, 5, 4), "tanh", "identity", "sse")
    params, x, t = data(net, jnp.float64, seed=4, n=4)
    right = backprop.product
    monkeypatch.setattr(backprop, "product", lambda a, b, tiny: right(a, b, tiny) * 1.01)
    auto = jax.grad(written_out_cost, argnums=2)(x, t, params)
    assert rel_err(net.backprop(params, x, t), auto) > 1e-3


def test_low_precision_and_large_products_stay_dots():
    """bfloat16 and float16 keep the dot (it accumulates wider than the sums would), integers
    theirs, and so does a product of more than 256 multiplications even in a tiny step."""

    def dot(a, b):
        return "dot_general" in str(jax.make_jaxpr(lambda a, b: backprop.product(a, b, True))(a, b))

    for dtype in (jnp.bfloat16, jnp.float16, jnp.int32):
        assert dot(jnp.ones((4, 3), dtype), jnp.ones((3, 2), dtype))
    assert not dot(jnp.ones((4, 8)), jnp.ones((8, 8)))
    assert dot(jnp.ones((4, 8)), jnp.ones((8, 9)))


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("act, reduction", [("tanh", "mean"), ("prelu", "sum"), ("relu", "mean"),
                                            ("selu", "sum")])  # fmt: skip
def test_dropout_hand_gradient_equals_jax_grad_with_the_same_key(act, reduction):
    net = cell_net(act, "softmax", "cross_entropy", 3, dropout=0.4, reduction=reduction)
    params, x, t = data(net, jnp.float64, seed=1)
    key = jax.random.key(7)
    hand = net.backprop(params, x, t, key=key)
    assert rel_err(hand, jax.grad(net.cost)(params, x, t, key=key)) <= 1e-12
    assert rel_err(hand, net.backprop(params, x, t)) > 1e-3  # the masks did act


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_backprop_keeps_the_params_structure_including_prelu_alpha():
    net = MLP((3, 4, 5, 2), ("prelu", "tanh"), "sigmoid", "bce")
    params, x, t = data(net, jnp.float64)
    grads = net.backprop(params, x, t)
    assert [sorted(layer) for layer in grads] == [["alpha", "b", "w"], ["b", "w"], ["b", "w"]]
    assert jax.tree.map(jnp.shape, grads) == jax.tree.map(jnp.shape, params)
    value, grads2 = net.value_and_backprop(params, x, t)
    assert value == net.cost(params, x, t)
    assert rel_err(grads2, grads) == 0.0


@pytest.mark.usefixtures("x64")
def test_backprop_is_jittable():
    net = cell_net("elu", "softmax", "cross_entropy", 2)
    params, x, t = data(net, jnp.float64)
    jitted = jax.jit(net.backprop)(params, x, t)
    assert rel_err(jitted, net.backprop(params, x, t)) <= 1e-14


# -- hand_cost: a custom_vjp whose grad runs the hand rule ----------------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("act, output, loss", [("prelu", "softmax", "cross_entropy"),
                                               ("softsign", "tanh", "huber")])  # fmt: skip
def test_grad_of_hand_cost_is_backprop_and_composes_with_jit(act, output, loss):
    net = cell_net(act, output, loss, 2)
    params, x, t = data(net, jnp.float64)
    assert net.hand_cost(params, x, t) == net.cost(params, x, t)
    by_hand = jax.grad(net.hand_cost)(params, x, t)
    assert rel_err(by_hand, net.backprop(params, x, t)) == 0.0
    assert rel_err(jax.jit(jax.grad(net.hand_cost))(params, x, t), by_hand) <= 1e-14
    dx = jax.grad(net.hand_cost, argnums=1)(params, x, t)
    assert rel_err(dx, net.input_grad(params, x, t)) == 0.0
    assert rel_err(dx, jax.grad(net.cost, argnums=1)(params, x, t)) <= 1e-12


@pytest.mark.usefixtures("x64")
def test_grad_of_hand_cost_inside_a_larger_cost_takes_its_cotangent():
    """E enters a larger cost, -2.5 E + 3 E^2: its cotangent is -2.5 + 6 E, not 1 (every caller
    of hand_cost differentiated E itself, so a backward rule that dropped the cotangent
    passed every test), for the params, x and weighted costs alike."""
    net = cell_net("tanh", "softmax", "cross_entropy", 2)
    params, x, t = data(net, jnp.float64)
    s = jnp.linspace(0.5, 2.0, x.shape[0])
    for weights in (None, s):

        def outer(cost, p, x_, w=weights):
            e = cost(p, x_, t, sample_weight=w)
            return -2.5 * e + 3 * e**2

        for argnums in (0, 1):
            by_hand = jax.grad(partial(outer, net.hand_cost), argnums)(params, x)
            auto = jax.grad(partial(outer, net.cost), argnums)(params, x)
            assert rel_err(by_hand, auto) <= 1e-12


def test_params_as_a_tuple_of_layers_get_derivatives_shaped_like_them():
    """``check_params`` takes a tuple of layer dicts as it takes a list, and jax.grad(net.cost)
    returns a tuple for it; the hand rules returned a list, so optax.apply_updates(params,
    grads) failed on the mismatch and jax.grad(net.hand_cost) raised JAX's TypeError about its
    backward rule's structure. Now every hand derivative is shaped like params, container too."""
    import optax

    from jaxmlp import curvature

    net = cell_net("prelu", "softmax", "cross_entropy", 2)
    params, x, t = data(net, jnp.float32)
    as_tuple = tuple(params)
    want = jax.tree.structure(jax.grad(net.cost)(as_tuple, x, t))
    t_k = net.targets(t, x.shape[0])
    derivatives = {
        "backprop": lambda p: net.backprop(p, x, t),
        "hand_cost": lambda p: jax.grad(net.hand_cost)(p, x, t),
        "hvp": lambda p: net.hvp(p, x, t, p),
        "gnvp": lambda p: curvature.gnvp(net, p, x, t_k, p),
        "diagonal": lambda p: curvature.hessian_diagonal(net, p, x, t_k),
    }
    for name, derivative in derivatives.items():
        tree = derivative(as_tuple)
        assert jax.tree.structure(tree) == want, name
        assert rel_err(list(tree), derivative(params)) == 0.0, name
    stepped = optax.apply_updates(as_tuple, net.backprop(as_tuple, x, t))
    assert jax.tree.structure(stepped) == want


@pytest.mark.usefixtures("x64")
def test_hand_cost_refuses_to_differentiate_its_targets_or_weights():
    """hand_cost's backward rule gives dE/dparams and dE/dx by hand and a zero cotangent to the
    targets and sample weights: jax.grad of it with respect to t or to the weights (learning to
    reweight examples, distilling targets) was 0.0 everywhere, exit 0, where jax.grad(net.cost)
    gives the derivative. Now that is a ValueError naming net.cost; the derivatives it does give
    are unchanged, d2E/dparams dt (t differentiated outside the hand rule's own grad) too."""
    net = cell_net("tanh", "sigmoid", "bce", 2)
    params, x, t = data(net, jnp.float64)
    s = jnp.linspace(0.5, 2.0, x.shape[0])
    assert np.abs(jax.grad(net.cost, argnums=2)(params, x, t)).max() > 1e-3
    with pytest.raises(ValueError, match=r"hand_cost .* t .* use net\.cost"):
        jax.grad(net.hand_cost, argnums=2)(params, x, t)
    with pytest.raises(ValueError, match=r"hand_cost .* sample_weight .* use net\.cost"):
        jax.grad(lambda w: net.hand_cost(params, x, t, sample_weight=w))(s)
    with pytest.raises(ValueError, match=r"hand_cost .* t .* use net\.cost"):  # t from params
        jax.grad(lambda p: net.hand_cost(p, x, net.apply(p, x)))(params)
    for w in (None, s):
        by_hand = jax.grad(net.hand_cost, argnums=(0, 1))(params, x, t, sample_weight=w)
        auto = jax.grad(net.cost, argnums=(0, 1))(params, x, t, sample_weight=w)
        assert rel_err(by_hand, auto) <= 1e-12
    mixed = jax.jacrev(jax.grad(net.hand_cost), argnums=2)(params, x, t)
    assert rel_err(mixed, jax.jacrev(jax.grad(net.cost), argnums=2)(params, x, t)) <= 1e-12


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_per_example_gradients_by_vmap_of_hand_cost_equal_vmap_of_jax_grad():
    net = cell_net("tanh", "softmax", "cross_entropy", 2, reduction="sum")
    params, x, t = data(net, jnp.float64)
    xs, ts = x[:, None, :], t[:, None]
    per_hand = jax.jit(jax.vmap(jax.grad(net.hand_cost), in_axes=(None, 0, 0)))(params, xs, ts)
    per_auto = jax.jit(jax.vmap(jax.grad(net.cost), in_axes=(None, 0, 0)))(params, xs, ts)
    assert per_hand[0]["w"].shape == (4, 3, 4)
    assert rel_err(per_hand, per_auto) <= 1e-12
    summed = jax.tree.map(lambda g: g.sum(0), per_hand)  # sum reduction: E = sum_i E_i
    assert rel_err(summed, net.backprop(params, x, t)) <= 1e-12
    for i in (0, 3):  # and each one is that example's own gradient
        one = net.backprop(params, x[i : i + 1], t[i : i + 1])
        assert rel_err(jax.tree.map(lambda g, i=i: g[i], per_hand), one) <= 1e-12


@pytest.mark.usefixtures("x64")
def test_grad_of_hand_cost_runs_the_hand_rule_not_autodiff():
    """With an activation whose registered derivative is wrong on purpose, grad(hand_cost)
    follows the wrong derivative (it is the hand rule) and jax.grad(cost) does not."""
    activations.register("tanh_off_by_2pc", jnp.tanh, lambda z: 1.02 * (1 - jnp.tanh(z) ** 2))
    try:
        net = cell_net("tanh_off_by_2pc", "identity", "sse", 2)
        params, x, t = data(net, jnp.float64)
        by_hand = jax.grad(net.hand_cost)(params, x, t)
        assert rel_err(by_hand, net.backprop(params, x, t)) == 0.0
        assert rel_err(by_hand, jax.grad(net.cost)(params, x, t)) > 1e-3
    finally:
        activations.unregister("tanh_off_by_2pc")


# -- second derivatives and input derivatives ----------------------------------------------------


def assert_trees_close(a, b, rtol):
    scale = max(float(jnp.max(jnp.abs(v))) for v in jax.tree.leaves(b))
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert u.shape == v.shape
        np.testing.assert_allclose(u, v, rtol=0, atol=rtol * scale)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("act, output, loss", [("tanh", "softmax", "cross_entropy"),
                                               ("prelu", "sigmoid", "bce")])  # fmt: skip
@pytest.mark.slow
def test_jacfwd_of_backprop_is_the_hessian_of_the_cost(act, output, loss):
    net = MLP((2, 3, 2), act, output, loss)
    params, x, t = data(net, jnp.float64, n=4)
    from_hand = jax.jit(jax.jacfwd(net.backprop))(params, x, t)
    assert_trees_close(from_hand, jax.jit(jax.hessian(net.cost))(params, x, t), rtol=1e-12)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("act, output", [("tanh", "softmax"), ("prelu", "sigmoid"),
                                         ("isru", "identity")])  # fmt: skip
def test_input_jacobian_by_hand_both_ways_equals_jacfwd_and_jacrev(act, output):
    net = MLP((3, 4, 5, 2), act, output, "sse")
    params, x, _ = data(net, jnp.float64, n=4)

    def one(xi):
        return net.apply(params, xi[None])[0]

    by_jacfwd = jax.jit(jax.vmap(jax.jacfwd(one)))(x)
    assert_trees_close(by_jacfwd, jax.jit(jax.vmap(jax.jacrev(one)))(x), rtol=1e-13)
    for mode in ("forward", "reverse"):
        jac = jax.jit(net.input_jacobian, static_argnames="mode")(params, x, mode=mode)
        assert jac.shape == (4, 2, 3)
        assert_trees_close(jac, by_jacfwd, rtol=1e-13)


def test_the_module_s_input_jacobian_refuses_what_the_method_refuses():
    """``jacobian.input_jacobian`` itself names a wrong x or params (as ``curvature``'s
    functions do), not a broadcasting TypeError from deep inside the product."""
    net = MLP((3, 4, 2), "tanh", "softmax", "cross_entropy")
    params = net.init(jax.random.key(0))
    for p, x, named in [(params, jnp.ones((5, 4)), r"x must have shape \(n, 3\)"),
                        (params, jnp.ones(3), r"x must have shape \(n, 3\)"),
                        (params[:1], jnp.ones((5, 3)), "params must be a list of 2")]:  # fmt: skip
        for mode in ("forward", "reverse"):
            with pytest.raises(ValueError, match=named):
                jacobian.input_jacobian(net, p, x, mode)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("act, output, loss", [("tanh", "softmax", "cross_entropy"),
                                               ("sigmoid", "tanh", "sse")])  # fmt: skip
def test_input_hessian_from_the_hand_input_gradient(act, output, loss):
    net = MLP((3, 4, 3), act, output, loss)
    params, x, t = data(net, jnp.float64, n=3)
    grad_x = jax.jit(net.input_grad)(params, x, t)
    assert_trees_close(grad_x, jax.jit(jax.grad(net.cost, argnums=1))(params, x, t), rtol=1e-13)
    hessian = jax.jit(jax.jacfwd(net.input_grad, argnums=1))(params, x, t)
    assert hessian.shape == (3, 3, 3, 3)
    reference = jax.jit(jax.hessian(net.cost, argnums=1))(params, x, t)
    assert_trees_close(hessian, reference, rtol=1e-12)
