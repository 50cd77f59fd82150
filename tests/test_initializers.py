"""The constant init scheme (issue 20): every weight and bias equal, validated like the others."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, initializers


def test_constant_init_sets_every_weight_and_bias_to_the_value():
    assert initializers.parse("constant:0.5") == initializers.Scheme("constant", (0.5,))
    assert str(initializers.parse("constant:-0.25")) == "constant:-0.25"
    net = MLP((3, 4, 5, 2), "tanh", init="constant:0.5")
    params = net.init(jax.random.key(0))
    for layer, (fan_in, fan_out) in zip(params, zip(net.sizes, net.sizes[1:])):
        assert layer["w"].shape == (fan_in, fan_out) and layer["b"].shape == (fan_out,)
        assert np.all(np.asarray(layer["w"]) == 0.5) and np.all(np.asarray(layer["b"]) == 0.5)
    # no key dependence: constant is not random
    other = net.init(jax.random.key(7))
    assert all(
        np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(other))
    )


@pytest.mark.parametrize(
    "spec, text",
    [
        ("constant", "takes 1 argument(s), e.g. 'constant:0.5'"),
        ("constant:1,2", "takes 1 argument(s)"),
        ("constant:nan", "'constant:nan': arguments must be finite numbers"),
        ("constant:inf", "'constant:inf': arguments must be finite numbers"),
        ("constant:x", "'constant:x': arguments must be numbers"),
    ],
)
def test_constant_init_rejects_bad_values_naming_them(spec, text):
    with pytest.raises(ValueError) as info:
        MLP((2, 3, 1), init=spec)
    assert text in str(info.value)


@pytest.mark.parametrize(
    "net",
    [
        MLP((3, 5, 2), "relu", "softmax", "cross_entropy", init="normal:0.3"),
        MLP((3, 4, 4, 1), "elu_learnable", init="normal:1.7"),  # learnable alphas
        MLP((3, 5, 2), "tanh", init="uniform:-0.5,2"),
        MLP((3, 5, 2), "relu"),  # the default (he_normal)
    ],
    ids=["normal", "normal-alpha", "uniform", "default"],
)
@pytest.mark.slow
def test_every_path_draws_the_same_bits(net):
    """One compiled draw: ``net.init`` called eagerly, inside ``jax.jit`` and under ``jax.vmap``
    (populations) gives the same bits. (Op by op, ``normal:std`` rounded ``std * normal`` 1 ulp
    away from the compiled draw in a few entries.)"""
    keys = jax.random.split(jax.random.key(3), 4)
    jitted = jax.jit(net.init)
    batched = jax.vmap(net.init)(keys)
    for i, key in enumerate(keys):
        eager = jax.tree.leaves(net.init(key))
        assert all(
            np.asarray(a).tobytes() == np.asarray(b).tobytes()
            for a, b in zip(eager, jax.tree.leaves(jitted(key)), strict=True)
        )
        assert all(
            np.asarray(a).tobytes() == np.asarray(b)[i].tobytes()
            for a, b in zip(eager, jax.tree.leaves(batched), strict=True)
        )


@pytest.mark.slow
def test_compiled_draws_are_cached_on_the_exact_numbers():
    """-0.0 == 0.0 as a dict key, but ``constant:-0`` draws negative zeros, and another std
    another network."""
    key = jax.random.key(0)
    plus = MLP((2, 3, 1), init="constant:0").init(key)
    minus = MLP((2, 3, 1), init="constant:-0").init(key)
    assert not np.signbit(np.asarray(plus[0]["w"])).any()
    assert np.signbit(np.asarray(minus[0]["w"])).all()
    a = MLP((2, 3, 1), init="normal:0.1").init(key)[0]["w"]
    b = MLP((2, 3, 1), init="normal:0.2").init(key)[0]["w"]
    np.testing.assert_allclose(2 * np.asarray(a), np.asarray(b), rtol=1e-6)
    with pytest.raises(ValueError, match="high = 1e\\+39 is outside the range of float32"):
        MLP((2, 3, 1), init="uniform:0,1e39").init(key)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("normal:1e-50", "'normal:1e-50': std = 1e-50 is outside the range of float32 (0,"),
        ("uniform:0,5e-324", "'uniform:0,5e-324': high = 5e-324 is outside the range of float32"),
        ("uniform:1e-50,1e-45", "low = 1e-50 is outside the range of float32"),
        ("constant:1e-40", "c = 1e-40 is outside the range of float32"),
        ("uniform:1,1.00000001", "uniform needs low < high in float32, the dtype drawn"),
    ],
)
def test_init_numbers_that_underflow_in_the_dtype_are_refused(spec, message):
    """Regression: only overflow was refused; these drew all-zero weights (uniform:1,1.00000001
    all ones), the symmetric start backprop cannot leave."""
    with pytest.raises(ValueError) as info:
        MLP((2, 3, 1), init=spec).init(jax.random.key(0))
    assert message in str(info.value)
    assert np.asarray(MLP((2, 3, 1), init="normal:1e-30").init(jax.random.key(0))[0]["w"]).any()


@pytest.mark.parametrize(
    "spec, share", [("normal:2e-38", "0.443"), ("uniform:0,1e-37", "0.118"), ("normal:1e-36", "")]
)
def test_an_init_that_draws_many_numbers_below_the_smallest_normal_is_refused(spec, share):
    """Regression: normal:2e-38 (a std within float32) drew 47 % of a float32 net's weights
    0, the flushed subnormals; uniform:0,1e-37 12 %. Over 1 % is refused, naming the share;
    normal:1e-36 (0.9 % expected) draws, and in float64 each draws no zero."""
    net = MLP((64, 64, 1), init=spec)
    if share:
        with pytest.raises(ValueError) as info:
            net.init(jax.random.key(0))
        assert str(info.value).startswith(f"Init {spec!r} would draw {share} of its numbers")
        assert "below 1.175e-38, the smallest normal float32, where they are 0" in str(info.value)
    else:
        w = np.asarray(net.init(jax.random.key(0))[0]["w"])
        assert 0 < (w == 0).mean() < 0.03  # 1.4 % of these 4096
    with jax.enable_x64(True):
        assert np.asarray(net.init(jax.random.key(0), jnp.float64)[0]["w"]).all()


@pytest.mark.slow
def test_uniform_bounds_whose_width_overflows_the_dtype_are_refused(fails, tmp_path):
    """Regression: uniform:-3e38,3e38 (each bound within float32) drew every weight and bias
    Inf, low + (high - low) u with high - low = 6e38 past float32: net.init returned them
    silently and --init exited 2 with "parameters of a diverged run ... a lower learning
    rate". The width must be a number of the dtype drawn; in float64 it is, and is drawn."""
    with pytest.raises(ValueError, match="high - low = 6e\\+38 is outside the range of float32"):
        MLP((2, 3, 1), init="uniform:-3e38,3e38").init(jax.random.key(0))
    params = MLP((2, 3, 1), init="uniform:-1.7e38,1.7e38").init(jax.random.key(0))
    assert all(np.isfinite(np.asarray(a)).all() for layer in params for a in layer.values())
    with jax.enable_x64(True):
        wide = MLP((2, 3, 1), init="uniform:-3e38,3e38").init(jax.random.key(0), jnp.float64)
        assert np.isfinite(np.asarray(wide[0]["w"])).all()
    argv = ["train", "--data", "xor", "--epochs", "1", "--hidden", "3", "--no-progress"]
    err = fails([*argv, "--init", "uniform:-3e38,3e38", "--out", str(tmp_path / "r")])
    assert "high - low = 6e+38 is outside the range of float32" in err


def test_a_zero_argument_scheme_takes_no_colon(fails, tmp_path):
    """Regression: 'he_normal:' was taken for 'he_normal' (--init he_normal: exited 0), where
    'relu:' and 'softmax:' are refused."""
    with pytest.raises(ValueError, match="'he_normal:': he_normal takes no arguments; write"):
        initializers.parse("he_normal:")
    argv = ["train", "--data", "xor", "--epochs", "1", "--hidden", "3", "--no-progress"]
    assert "takes no arguments" in fails(
        [*argv, "--init", "glorot_uniform:", "--out", str(tmp_path)]
    )


def test_the_cli_refuses_an_init_that_underflows(fails, tmp_path):
    """Regression: --init normal:1e-50 exited 0, trained from symmetric all-zero weights."""
    argv = ["train", "--data", "xor", "--epochs", "1", "--hidden", "3", "--no-progress"]
    err = fails([*argv, "--init", "normal:1e-50", "--out", str(tmp_path / "r")])
    assert "std = 1e-50 is outside the range of float32" in err


@pytest.mark.parametrize(
    "dtype, below, over, largest",
    [("float32", 6.2e37, 6.3e37, "5.42"), ("float16", 1.8e4, 1.9e4, "3.486")],
)
def test_a_normal_std_whose_largest_draw_overflows_the_dtype_is_refused(
    dtype, below, over, largest
):
    """Regression: normal:3e38 (std within float32) drew weights of Inf, std * a normal draw
    past float32 (jax.random.normal reaches 5.42 there, 3.49 in float16): net.init returned
    them silently, and fit then "diverged" and blamed the learning rate. The std times the
    largest draw of the dtype must be a number of it; a std just below that draws finite."""
    with pytest.raises(ValueError) as info:
        MLP((2, 3, 1), init=f"normal:{over}").init(jax.random.key(0), dtype)
    assert str(info.value).startswith(
        f"Init 'normal:{over:g}': std * {largest}, the largest normal draw in {dtype}, = "
    )
    assert f"is outside the range of {dtype} (0," in str(info.value)
    params = MLP((64, 64, 1), init=f"normal:{below}").init(jax.random.key(0), dtype)
    assert all(np.isfinite(np.asarray(a, np.float64)).all() for a in jax.tree.leaves(params))
