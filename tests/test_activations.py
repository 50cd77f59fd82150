"""Activation records (issue 2): each forward rule against its formula written in NumPy, each
hand derivative against ``jax.grad`` of the forward rule on a dense float64 grid (kinks and
huge |z| included), the conventions at the kinks, PReLU's slope gradient, and a user's own
activation flowing through backprop and gradcheck."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, activations
from jaxmlp.gradient_check import gradcheck_matrix

SELU_LAMBDA, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772
BUILTIN = (
    "identity", "step", "sign", "sigmoid", "tanh", "arctan", "softsign", "isru",
    "relu", "leaky_relu", "prelu", "elu", "selu", "softplus",
)  # fmt: skip


def grid() -> np.ndarray:
    """-10..10 densely, the kink at 0 and its neighbours down to subnormals, and huge |z|."""
    special = [0.0, 1e-300, 5e-324, 1e-8, 0.5, 1.0, 20.0, 50.0, 100.0, 700.0, 710.0, 1e3, 1e4]
    special += [1e30, 1e300]
    return np.concatenate([np.linspace(-10, 10, 2001), special, -np.asarray(special)])


def numpy_forward(name: str, z: np.ndarray) -> np.ndarray:
    """The issue's definitions, independently, for |z| <= 30."""
    sigmoid = 1 / (1 + np.exp(-z))
    return {
        "identity": z,
        "step": (z > 0).astype(float),
        "sign": np.where(z > 0, 1.0, -1.0),
        "sigmoid": sigmoid,
        "tanh": np.tanh(z),
        "arctan": np.arctan(z),
        "softsign": z / (1 + np.abs(z)),
        "isru": z / np.sqrt(1 + z**2),
        "relu": np.maximum(z, 0.0),
        "leaky_relu": np.where(z > 0, z, 0.01 * z),
        "prelu": np.where(z > 0, z, 0.25 * z),
        "elu": np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),  # ELU alpha = 1
        "selu": SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * (np.exp(np.minimum(z, 0)) - 1)),
        "softplus": np.log1p(np.exp(z)),
    }[name]


def test_every_builtin_is_registered_with_a_name_fn_and_grad():
    assert set(BUILTIN) <= set(activations.names())
    for name in BUILTIN:
        act = activations.get(name)
        assert act.name == name and callable(act.fn) and callable(act.grad)
        assert act.learnable == (name == "prelu")


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", BUILTIN)
def test_forward_rule_matches_its_formula(name):
    z = np.linspace(-30, 30, 1201)
    got = np.asarray(activations.get(name).fn(jnp.asarray(z)))
    np.testing.assert_allclose(got, numpy_forward(name, z), rtol=1e-14, atol=1e-15)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", BUILTIN)
def test_hand_derivative_equals_jax_grad_on_a_dense_grid_with_kinks_and_huge_z(name):
    act = activations.get(name)
    z = jnp.asarray(grid())
    hand = np.asarray(act.grad(z))
    auto = np.asarray(jax.jit(jax.vmap(jax.grad(act.fn)))(z))
    assert hand.dtype == np.float64 and np.all(np.isfinite(hand))
    assert np.all(np.isfinite(np.asarray(act.fn(z))))
    # atol 1e-15 absorbs the last bit of 1 - tanh^2 and friends in deep saturation.
    np.testing.assert_allclose(hand, auto, rtol=1e-13, atol=1e-15)


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_conventions_at_the_kinks():
    zero = jnp.zeros(())
    at_zero = {name: float(activations.get(name).grad(zero)) for name in BUILTIN}
    assert at_zero["relu"] == 0.0 and at_zero["leaky_relu"] == 0.01
    assert at_zero["elu"] == 1.0 and at_zero["selu"] == pytest.approx(SELU_LAMBDA * SELU_ALPHA)
    assert at_zero["prelu"] == 0.25 and at_zero["identity"] == 1.0
    z = jnp.asarray(grid())
    for name in ("step", "sign"):  # derivative 0 everywhere, and the forward values of the issue
        assert not np.any(np.asarray(activations.get(name).grad(z)))
    assert float(activations.get("step").fn(zero)) == 0.0
    assert float(activations.get("sign").fn(zero)) == -1.0
    assert float(activations.get("elu").fn(jnp.asarray(-1.0))) == pytest.approx(np.exp(-1) - 1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturating_activations_are_exact_and_finite_at_huge_z(dtype):
    with jax.enable_x64(dtype == "float64"):
        z = jnp.asarray([-1e4, -1e3, 1e3, 1e4], dtype)
        for name in BUILTIN:
            act = activations.get(name)
            assert np.all(np.isfinite(np.asarray(act.fn(z)))), name
            assert np.all(np.isfinite(np.asarray(act.grad(z)))), name
        value = {name: np.asarray(activations.get(name).fn(z)) for name in BUILTIN}
        np.testing.assert_array_equal(value["sigmoid"], [0, 0, 1, 1])
        np.testing.assert_array_equal(value["softplus"], [0, 0, 1e3, 1e4])
        np.testing.assert_array_equal(value["tanh"], [-1, -1, 1, 1])
        np.testing.assert_allclose(value["elu"], [-1, -1, 1e3, 1e4])
        np.testing.assert_allclose(value["selu"][0], -SELU_LAMBDA * SELU_ALPHA, rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(activations.get("softplus").grad(z)), [0, 0, 1, 1])
        np.testing.assert_array_equal(np.asarray(activations.get("sigmoid").grad(z)), 0)


def test_a_nan_pre_activation_stays_nan_in_every_activation():
    """relu, step and sign compared z > 0 and gave 0 (or -1) for a NaN: a NaN weight, or an
    inf - inf pre-activation, became a finite output, so a network predicted numbers from a
    NaN and no finiteness check downstream could see it. Every activation keeps a NaN."""
    z = jnp.asarray([np.nan, -1.0, 0.0, 2.0], jnp.float32)
    for name in activations.names():
        act = activations.get(name)
        out = np.asarray(act.fn(z, *((act.alpha_init,) if act.learnable else ())))
        assert np.isnan(out[0]), name
        assert np.all(np.isfinite(out[1:])), name
    net = MLP((2, 3, 1), "relu", "identity", "mse")
    params = net.init(jax.random.key(0))
    params[0]["w"] = params[0]["w"].at[0, 0].set(jnp.nan)
    assert np.all(np.isnan(np.asarray(net.apply(params, jnp.ones((4, 2))))))


@pytest.mark.usefixtures("x64")
def test_prelu_slope_gradient_and_derivative_with_a_learned_slope_equal_jax_grad():
    prelu = activations.get("prelu")
    z = jnp.asarray(grid())
    alpha = jnp.linspace(-0.5, 1.5, z.size)
    d_alpha = jax.vmap(jax.grad(lambda a, zi: prelu.fn(zi, a)))(alpha, z)
    # atol: XLA flushes the subnormal 5e-324 to 0 in a product, not in a select.
    np.testing.assert_allclose(prelu.grad_alpha(z), d_alpha, rtol=0, atol=1e-300)
    np.testing.assert_array_equal(prelu.grad(z, alpha), jax.vmap(jax.grad(prelu.fn))(z, alpha))


# -- a user's own activation ----------------------------------------------------------------------


@pytest.fixture
def swish():
    """swish(z) = z sigmoid(z), derivative s + z s (1 - s), registered for one test."""

    def grad(z):
        s = jax.nn.sigmoid(z)
        return s + z * s * (1 - s)

    act = activations.register("swish_for_tests", lambda z: z * jax.nn.sigmoid(z), grad)
    yield act
    activations.unregister("swish_for_tests")
    assert "swish_for_tests" not in activations.names()


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_a_registered_activation_flows_through_backprop_and_the_gradcheck_matrix(swish):
    assert activations.get("swish_for_tests") is swish
    assert "swish_for_tests" in activations.names()
    z = jnp.asarray(grid()[:2001])
    np.testing.assert_allclose(swish.grad(z), jax.vmap(jax.grad(swish.fn))(z), rtol=1e-13)
    net = MLP((3, 4, 4, 3), "swish_for_tests", "softmax", "cross_entropy")
    params = net.init(jax.random.key(0), jnp.float64)
    x = jax.random.normal(jax.random.key(1), (4, 3), jnp.float64)
    t = jnp.array([0, 1, 2, 1])
    hand, auto = net.backprop(params, x, t), jax.grad(net.cost)(params, x, t)
    for h, a in zip(jax.tree.leaves(hand), jax.tree.leaves(auto)):
        np.testing.assert_allclose(h, a, rtol=1e-12, atol=1e-15)
    report = gradcheck_matrix(depths=(1, 2), activations=[swish.name], pairs=[("sigmoid", "bce")])
    assert report.ok and report.cells == 2, str(report)


def test_registration_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="'relu' is a built-in"):
        activations.register("relu", jnp.tanh, jnp.tanh)
    with pytest.raises(TypeError, match="int"):
        activations.register("mine", 3, jnp.tanh)
    with pytest.raises(ValueError, match="''"):
        activations.register("", jnp.tanh, jnp.tanh)
    with pytest.raises(ValueError, match="'relux'.*'relu'"):
        activations.get("relux")
    activations.unregister("relu")  # built-ins stay
    assert activations.get("relu").name == "relu"


@pytest.mark.slow
def test_a_re_registered_activation_is_never_run_by_a_program_compiled_for_the_old_one():
    """A name re-registered (or unregistered and registered again) with another rule: the
    compiled programs keyed on the ``MLP`` (which holds the name) must not run the old rule."""
    from jaxmlp import TrainConfig, evaluate, fit

    x = jax.random.normal(jax.random.key(1), (8, 2))
    t = jax.random.normal(jax.random.key(2), (8, 1))
    config = TrainConfig(epochs=2, batch_size=4)
    try:
        activations.register("cube_for_tests", lambda z: z**3, lambda z: 3 * z**2)
        net = MLP((2, 3, 1), "cube_for_tests", "identity", "mse")
        params = net.init(jax.random.key(0))
        evaluate(net, params, x, t)
        fit(net, x, t, config=config)
        for again in ("re-registered", "unregistered first"):
            if again == "unregistered first":
                activations.unregister("cube_for_tests")
            scale = 2.0 if again == "re-registered" else 3.0
            activations.register(
                "cube_for_tests", lambda z, c=scale: c * z**3, lambda z, c=scale: 3 * c * z**2
            )
            loss = evaluate(net, params, x, t)["loss"]
            np.testing.assert_allclose(loss, float(net.cost(params, x, t)), rtol=1e-6)
            activations.register(
                "fresh_cube_for_tests", lambda z, c=scale: c * z**3, lambda z, c=scale: 3 * c * z**2
            )
            fresh = fit(net.replace(activation="fresh_cube_for_tests"), x, t, config=config)
            again_ = fit(net, x, t, config=config)
            for a, b in zip(jax.tree.leaves(again_.params), jax.tree.leaves(fresh.params)):
                np.testing.assert_array_equal(a, b)
            activations.unregister("fresh_cube_for_tests")
    finally:
        activations.unregister("cube_for_tests")
        activations.unregister("fresh_cube_for_tests")


@pytest.mark.slow
def test_registration_refuses_rules_that_do_not_return_an_array_shaped_like_z():
    """grad returning a Python float, or (n,) for (n, k) z, worked for backprop and then failed
    deep inside input_jacobian, input_hessian or hessian_diagonal (TypeError, IndexError)."""
    ok, identity = (lambda z: 2 * z), (lambda z: 2 * jnp.ones_like(z))
    cases = [
        ((ok, lambda z: 2.0, lambda z: 0.0), r"grad\(z\) must return"),
        ((ok, identity, lambda z: 0.0), r"grad2\(z\) must return"),
        ((ok, lambda z: 2 * z.sum(-1), None), r"shape \(2,\)"),
        ((lambda z: z[0], identity, None), r"fn\(z\) must return.*\(2, 3\)"),
        ((ok, lambda z: jnp.ones(z.shape, int), None), "int"),
    ]
    for rules, text in cases:
        with pytest.raises(ValueError, match=text):
            activations.register("bad_rule_for_tests", *rules)
        assert "bad_rule_for_tests" not in activations.names()
    act = activations.register("lin2_for_tests", ok, identity, lambda z: jnp.zeros_like(z))
    try:
        net = MLP((2, 3, 1), act.name, "identity", "sse")
        params = net.init(jax.random.key(0))
        assert net.input_hessian(params, jnp.ones((4, 2))).shape == (4, 1, 2, 2)
    finally:
        activations.unregister("lin2_for_tests")


@pytest.mark.parametrize("dtype, huge", [("float32", 3e19), ("float64", 1e155)])
def test_isru_is_one_over_sqrt_alpha_where_z_squared_overflows(dtype, huge):
    """isru(z) = z / sqrt(1 + alpha z^2) was 0 where alpha z^2 overflows (|z| > 1.8e19 in
    float32, 1.3e154 in float64: z rsqrt(inf) = 0), where it is +-1/sqrt(alpha), and so were
    the learnable alpha's dh/dalpha = -h^3 / 2 and d2h/dalpha2 = 3/4 h^5 (in float64 against
    jax.grad in alpha, a twin 1 % off caught). Elsewhere the values keep their bits."""
    with jax.enable_x64(dtype == "float64"):
        z = jnp.asarray([-huge, huge, 3.0, -0.5], dtype)
        for spec, alpha in (("isru", 1.0), ("isru:0.25", 0.25), ("isru_learnable", 4.0)):
            act = activations.get(spec)
            a = jnp.full_like(z, alpha)
            h = np.asarray(act.fn(z, a) if act.learnable else act.fn(z))
            limit = np.asarray([-1, 1]) / np.sqrt(alpha)
            np.testing.assert_allclose(h[:2], limit, rtol=1e-15)
            as_written = z[2:] * jax.lax.rsqrt(1 + alpha * z[2:] * z[2:])
            np.testing.assert_array_equal(h[2:], as_written)
            if not act.learnable or dtype == "float32":
                continue
            grad = jax.vmap(jax.grad(act.fn, 1))
            hand = {"grad_alpha": act.grad_alpha(z, a), "grad2_alpha": act.grad2_alpha(z, a)}
            auto = {
                "grad_alpha": grad(z, a),
                "grad2_alpha": jax.vmap(jax.grad(jax.grad(act.fn, 1), 1))(z, a),
            }
            for rule in hand:
                np.testing.assert_allclose(hand[rule], auto[rule], rtol=1e-14)
                assert not np.allclose(1.01 * hand[rule], auto[rule], rtol=1e-3)


@pytest.mark.parametrize("dtype, huge", [("float32", 3e38), ("float64", 1.7e308)])
def test_isru_second_derivative_is_zero_not_nan_where_alpha_z_overflows(dtype, huge):
    """isru'' = -3 alpha z (1 + alpha z^2)^-5/2 was written as (-3 alpha z) * rsqrt(..)^5: where
    alpha z overflows, inf * 0 = NaN, where the value (and jax.grad's) is 0: at |z| > 1.1e38 in
    float32 for isru, and at a finite |z| = 1e19 for isru:1e30, a spec it accepts. Written with
    h = z r (|alpha h| <= sqrt(alpha)), it is ((-3 alpha h) r^2) r^2: finite, and the formula's
    value (computed in float64 logarithms, so that nothing overflows) everywhere, also where r^5
    underflows and the value does not (isru:1e30 at z = 1e-3 in float32: -3e-33, not 0)."""
    z64 = np.asarray([-huge, huge, 1e19, -1e19, 3.0, -0.5, 1e-3, 0.0])
    with jax.enable_x64(dtype == "float64"):
        z = jnp.asarray(z64, dtype)
        tiny, rtol = np.finfo(dtype).tiny, {"float32": 1e-6, "float64": 1e-13}[dtype]
        for spec, alpha in (("isru", 1.0), ("isru:1e30", 1e30), ("isru_learnable", 4.0)):
            act = activations.get(spec)
            extra = (jnp.full_like(z, alpha),) if act.learnable else ()
            hand = np.asarray(act.grad2(z, *extra))
            with np.errstate(divide="ignore"):
                log_az2 = np.log(alpha) + 2 * np.log(np.abs(z64))
                log_abs = np.log(3 * alpha) + np.log(np.abs(z64)) - 2.5 * np.logaddexp(0, log_az2)
            truth = -np.sign(z64) * np.exp(log_abs)  # -3 alpha z (1 + alpha z^2)^-5/2
            assert np.all(np.isfinite(hand)), (spec, hand)
            np.testing.assert_allclose(hand, truth, rtol=rtol, atol=tiny)


@pytest.mark.parametrize("dtype, huge", [("float32", 3e38), ("float64", 1.7e308)])
def test_arctan_second_derivative_is_zero_not_nan_where_2z_overflows(dtype, huge):
    """arctan'' = -2 z / (1 + z^2)^2 was -inf / inf = NaN where 2 z overflows (|z| > 1.7e38 in
    float32), where the value is -2 / z^3 = 0; as -2 (z / (1 + z^2)) / (1 + z^2), 0 there and
    the formula's float64 value at ordinary z."""
    z64 = np.asarray([-huge, huge, 1e19, -3.0, 0.5, 0.0])
    with jax.enable_x64(dtype == "float64"):
        hand = np.asarray(activations.get("arctan").grad2(jnp.asarray(z64, dtype)), np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        truth = -2 * z64 / (1 + z64**2) ** 2  # -2 z^-3: 0 in every dtype at the first two
    truth[:2] = 0.0
    np.testing.assert_allclose(hand, truth, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)
