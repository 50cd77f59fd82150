"""The constant init scheme (issue 20): every weight and bias equal, validated like the others."""

import jax
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
