"""The MLP description and its pure functions (issue 2): the public API example, the params
pytree, initialisation schemes and their string forms, every bad input's error message,
jit(apply) == apply, hashability as a static jit argument, predict."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import (
    MLP,
    Optimizer,
    TrainConfig,
    activations,
    backprop,
    evaluate,
    fit,
    fit_population,
    gradcheck,
    initializers,
    losses,
    outputs,
)
from jaxmlp import mlp as mlp_module

NET = MLP(sizes=(4, 8, 3), activation="tanh", output="softmax", loss="cross_entropy")
PARAMS = NET.init(jax.random.key(0))
X = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
LABELS = np.array([0, 1, 2, 0, 1])


@pytest.mark.slow
def test_the_public_api_example():
    y = NET.apply(PARAMS, X)
    assert y.shape == (5, 3) and y.dtype == jnp.float32
    np.testing.assert_allclose(y.sum(-1), 1, rtol=1e-6)  # after the output activation
    cost = NET.cost(PARAMS, X, LABELS)
    assert cost.shape == () and cost.dtype == jnp.float32
    np.testing.assert_array_equal(NET.predict(PARAMS, X), np.argmax(np.asarray(y), -1))
    assert NET.reduction == "mean" and NET.dropout == 0 and NET.init_scheme is None


@pytest.mark.slow
def test_params_are_a_plain_list_of_dicts_batch_first():
    net = MLP((3, 5, 4, 2), ("prelu", "relu"), "sigmoid", "bce")
    params = net.init(jax.random.key(1))
    assert type(params) is list and all(type(layer) is dict for layer in params)
    assert jax.tree.map(jnp.shape, params) == [
        {"w": (3, 5), "b": (5,), "alpha": (5,)},
        {"w": (5, 4), "b": (4,)},
        {"w": (4, 2), "b": (2,)},
    ]
    np.testing.assert_array_equal(params[0]["alpha"], 0.25)  # PReLU's learnable slope
    assert net.n_params == sum(v.size for v in jax.tree.leaves(params))
    x = np.ones((7, 3), np.float32)  # z = x w + b, batch first: the seeds' F = A W + b
    z1 = x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"])
    a1 = np.where(z1 > 0, z1, 0.25 * z1)
    z2 = a1 @ np.asarray(params[1]["w"]) + np.asarray(params[1]["b"])
    y = 1 / (1 + np.exp(-(np.maximum(z2, 0) @ np.asarray(params[2]["w"]) + params[2]["b"])))
    np.testing.assert_allclose(net.apply(params, x), y, rtol=1e-5)


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_init_dtype_float32_by_default_and_float64_on_request():
    assert {v.dtype for v in jax.tree.leaves(NET.init(jax.random.key(0)))} == {np.dtype("float32")}
    params = NET.init(jax.random.key(0), jnp.float64)
    assert {v.dtype for v in jax.tree.leaves(params)} == {np.dtype("float64")}
    assert NET.apply(params, X).dtype == jnp.float64  # computed in the dtype of params


# -- initialisation -------------------------------------------------------------------------------

FAN_IN, FAN_OUT = 400, 300


@pytest.mark.parametrize(
    "scheme, std",
    [
        ("glorot_uniform", np.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("glorot_normal", np.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("he_uniform", np.sqrt(2 / FAN_IN)),
        ("he_normal", np.sqrt(2 / FAN_IN)),
        ("lecun_normal", np.sqrt(1 / FAN_IN)),
        ("normal:0.01", 0.01),
        ("uniform:-1,3", np.sqrt(16 / 12)),
    ],
)
def test_init_schemes_draw_the_stated_distributions(scheme, std):
    net = MLP((FAN_IN, FAN_OUT, 2), "relu", init=scheme)
    params = net.init(jax.random.key(2))
    w, b = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    assert w.shape == (FAN_IN, FAN_OUT) and w.dtype == np.float32
    assert abs(w.std() / std - 1) < 0.02
    if scheme.startswith("uniform"):
        assert w.min() >= -1 and w.max() < 3 and abs(w.mean() - 1) < 0.01
        assert b.min() >= -1 and b.max() < 3 and b.std() > 0.5  # biases drawn too, as seed 003
    elif scheme.startswith("normal"):
        assert abs(w.mean()) < 1e-4 and abs(b.std() / 0.01 - 1) < 0.2
    else:
        assert not np.any(b) and abs(w.mean()) < 0.01 * std * 10  # variance scaling: biases 0


@pytest.mark.slow
def test_init_defaults_per_activation_and_keys_split_per_layer():
    default = {a: str(initializers.default_for(a)) for a in ("relu", "selu", "tanh", "sigmoid")}
    assert default == {
        "relu": "he_normal",
        "selu": "lecun_normal",
        "tanh": "glorot_uniform",
        "sigmoid": "glorot_uniform",
    }
    net = MLP((300, 300, 300, 2), "relu")
    params = net.init(jax.random.key(3))
    assert abs(np.asarray(params[0]["w"]).std() / np.sqrt(2 / 300) - 1) < 0.03  # He
    assert not np.allclose(params[0]["w"], params[1]["w"])  # one key per layer
    same = net.init(jax.random.key(3))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(same)))


def test_init_string_forms_parse_and_print_back():
    assert initializers.parse("uniform:0,1") == initializers.Scheme("uniform", (0.0, 1.0))
    assert initializers.parse("normal:0.01") == initializers.Scheme("normal", (0.01,))
    assert initializers.parse("he_normal") == initializers.Scheme("he_normal")
    for spec in ("uniform:0,1", "normal:0.01", "he_normal", "glorot_uniform", "uniform:-0.5,2"):
        assert str(initializers.parse(spec)) == spec
        assert MLP((2, 3), init=spec).init_scheme == spec
    assert set(initializers.NAMES) == {
        "uniform", "normal", "constant", "glorot_uniform", "glorot_normal", "he_uniform",
        "he_normal", "lecun_normal",
    }  # fmt: skip


# -- bad input: every error names the bad value ---------------------------------------------------

BAD = [
    # (call, error type, text the message must contain)
    (lambda: MLP((3,)), ValueError, "(3,)"),
    (lambda: MLP(()), ValueError, "()"),
    (lambda: MLP("34"), ValueError, "'34'"),
    (lambda: MLP(None), ValueError, "None"),
    (lambda: MLP((3, 0, 2)), ValueError, "got 0"),
    (lambda: MLP((3, -4, 2)), ValueError, "got -4"),
    (lambda: MLP((3, 2.5, 2)), ValueError, "got 2.5"),
    (lambda: MLP((3, 4.0, 2)), ValueError, "got 4.0"),
    (lambda: MLP((3, True, 2)), ValueError, "got True"),
    (lambda: MLP((3, 4, 2), activation="relux"), ValueError, "'relux'"),
    (lambda: MLP((3, 4, 2), activation=5), TypeError, "got 5"),
    (lambda: MLP((3, 4, 4, 2), activation=["tanh"]), ValueError, "['tanh']"),
    (lambda: MLP((3, 4, 4, 2), activation=["tanh", "nope"]), ValueError, "'nope'"),
    (lambda: MLP((3, 4, 2), activation="tanh:2"), ValueError, "'tanh' takes no constant"),
    (lambda: MLP((3, 4, 2), activation="elu:-1"), ValueError, "alpha must be a finite number >= 0"),
    (lambda: MLP((3, 4, 2), activation="isru:0"), ValueError, "alpha must be a finite number > 0"),
    (lambda: MLP((3, 4, 2), activation="elu:nan"), ValueError, "got 'nan'"),
    (lambda: MLP((3, 4, 2), activation="step:x"), ValueError, "in [0, 1], got 'x'"),
    (lambda: MLP((3, 4, 2), activation="tanh*3+relu*2"), ValueError, "5 units"),
    (lambda: MLP((3, 4, 2), activation="prelu*2+tanh*2"), ValueError, "learnable alpha"),
    (lambda: MLP((3, 4, 2), output="softmaxx"), ValueError, "'softmaxx'"),
    (lambda: MLP((3, 4, 2), loss="hinge"), ValueError, "'hinge'"),
    (lambda: MLP((3, 4, 2), loss=["sse"]), ValueError, "['sse']"),
    (lambda: MLP((3, 4, 2), output="identity", loss="bce"), ValueError, "'identity'"),
    (lambda: MLP((3, 4, 1), output="softmax", loss="cross_entropy"), ValueError, "(3, 4, 1)"),
    (lambda: MLP((3, 4, 2), reduction="avg"), ValueError, "'avg'"),
    (lambda: MLP((3, 4, 2), dropout=1.0), ValueError, "1.0"),
    (lambda: MLP((3, 4, 2), dropout=-0.1), ValueError, "-0.1"),
    (lambda: MLP((3, 4, 2), init="he_uniformm"), ValueError, "'he_uniformm'"),
    (lambda: MLP((3, 4, 2), init="uniform:1,0"), ValueError, "'uniform:1,0'"),
    (lambda: MLP((3, 4, 2), init="uniform:0"), ValueError, "'uniform:0'"),
    (lambda: MLP((3, 4, 2), init="normal:-1"), ValueError, "'normal:-1'"),
    (lambda: MLP((3, 4, 2), init="normal:a"), ValueError, "'normal:a'"),
    (lambda: NET.init(jax.random.key(0), jnp.int32), ValueError, "int32"),
    (lambda: NET.apply(PARAMS, np.ones((5, 3))), ValueError, "(5, 3)"),
    (lambda: NET.apply(PARAMS, np.ones(4)), ValueError, "(4,)"),
    (lambda: NET.apply(PARAMS, np.array([["a"] * 4])), ValueError, "<U1"),
    (lambda: NET.cost(PARAMS, X, np.ones((5, 2))), ValueError, "(5, 2)"),
    (lambda: NET.cost(PARAMS, X, np.ones((4, 3))), ValueError, "(4, 3)"),
    (lambda: NET.cost(PARAMS, X, np.ones(5)), ValueError, "(5,)"),
    (lambda: NET.cost(PARAMS, X, np.array([0, 1, 3, 0, 1])), ValueError, "got 3"),
    (lambda: NET.cost(PARAMS, X, np.array([0, -1, 2, 0, 1])), ValueError, "got -1"),
    (lambda: NET.backprop(PARAMS, X, np.array([0, 1, 2, 7, 1])), ValueError, "got 7"),
    (lambda: MLP((4, 8, 3)).cost(PARAMS, X, LABELS), ValueError, "'sse'"),
    (lambda: NET.apply(PARAMS[:1], X), ValueError, "got 1"),
    (lambda: NET.apply({"w": 1}, X), ValueError, "dict"),
    (lambda: NET.apply([PARAMS[1], PARAMS[0]], X), ValueError, "(8, 3)"),
    (lambda: NET.apply([{"w": PARAMS[0]["w"]}, PARAMS[1]], X), ValueError, "{'w': (4, 8)}"),
    (lambda: MLP((4, 8, 3), "prelu").apply(PARAMS, X), ValueError, "'alpha'"),
    (lambda: NET.input_jacobian(PARAMS, X, mode="sideways"), ValueError, "'sideways'"),
    (lambda: activations.get("nope"), ValueError, "'nope'"),
    (lambda: outputs.get("nope"), ValueError, "'nope'"),
    (lambda: losses.get("nope"), ValueError, "'nope'"),
    (lambda: initializers.parse(3), ValueError, "3"),
]


@pytest.mark.parametrize("call, error, text", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_an_error_naming_the_bad_value(call, error, text):
    with pytest.raises(error) as info:
        call()
    assert text in str(info.value)


@pytest.mark.parametrize("sizes", [{30, 4}, frozenset({2, 9}), {2: "in", 1: "out"}])
def test_sizes_in_no_order_are_refused(sizes):
    """Regression: a set (or a dict's keys) was taken as sizes in its iteration order, which
    is not the order written: MLP({30, 4}) built the net (4, 30), inputs and outputs swapped."""
    with pytest.raises(ValueError, match="sizes must be a sequence of layer widths"):
        MLP(sizes)
    assert MLP(np.array([30, 4])).sizes == MLP([30, 4]).sizes == (30, 4)


def test_a_dropout_given_as_a_0_d_array_is_its_number_as_every_numeric_setting():
    """Regression: MLP(dropout=jnp.float32(0.5)) was refused ("dropout must be in [0, 1), got
    Array(0.5, ...)") where Optimizer(lr=jnp.float32(0.1)) and TrainConfig(val_fraction=...)
    take a 0-d array of a real dtype as its number (``numeric.is_real``, the one rule)."""
    net = MLP((2, 3, 1), dropout=jnp.float32(0.5))
    assert (type(net.dropout), net.dropout) == (float, 0.5)
    assert net == MLP((2, 3, 1), dropout=0.5) and MLP((2, 3, 1), dropout=np.array(0.25)).dropout
    for bad in (jnp.float32(1.0), jnp.ones(2), jnp.array(True), np.float64("nan")):
        with pytest.raises(ValueError, match="dropout must be in \\[0, 1\\), got"):
            MLP((2, 3, 1), dropout=bad)


def test_errors_for_unknown_names_list_the_allowed_ones():
    for call, allowed in [
        (lambda: MLP((3, 4, 2), activation="relux"), "'leaky_relu'"),
        (lambda: MLP((3, 2), output="softmaxx"), "'softmax'"),
        (lambda: MLP((3, 2), loss="hinge"), "'cross_entropy'"),
        (lambda: MLP((3, 2), reduction="avg"), "'sum'"),
        (lambda: MLP((3, 2), init="he"), "'lecun_normal'"),
    ]:
        with pytest.raises(ValueError) as info:
            call()
        assert allowed in str(info.value)


# -- jit, hashing, predict ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.slow
def test_jit_of_apply_equals_apply(dtype):
    with jax.enable_x64(dtype == "float64"):
        net = MLP((4, 6, 5, 3), ("elu", "sigmoid"), "softmax", "cross_entropy")
        params = net.init(jax.random.key(4), dtype)
        eager = net.apply(params, X)
        jitted = jax.jit(net.apply)(params, X)
        assert jitted.dtype == eager.dtype == dtype
        np.testing.assert_allclose(jitted, eager, rtol=1e-6 if dtype == "float32" else 1e-14)
        np.testing.assert_allclose(
            jax.jit(net.cost)(params, X, LABELS), net.cost(params, X, LABELS), rtol=1e-6
        )


def test_under_jit_a_target_an_eager_call_refuses_makes_the_cost_nan_not_a_number():
    """Eagerly a label out of range, a bce target of 2 or a threshold label of 0 is refused;
    under jit (t traced) nothing can raise. A label K or -1 one-hot encoded to a row of zeros,
    which cost 0 and pushed nothing: 1-based labels 1..K trained on the others, exit 0, loss
    and accuracy looking fine (make_step's metrics too); a bce target of 2 gave a finite,
    meaningless cost. Such a value now makes the cost, its gradient and the step's loss NaN;
    valid targets cost under jit what they cost eagerly."""
    import optax

    from jaxmlp import make_step

    net = MLP((3, 4, 3), "tanh", "softmax", "cross_entropy")
    params, x = net.init(jax.random.key(0)), np.random.RandomState(0).randn(4, 3)
    labels = jnp.array([0, 1, 3, 0])
    with pytest.raises(ValueError, match="Integer labels must lie in"):
        net.cost(params, x, labels)
    assert np.isnan(jax.jit(net.cost)(params, x, labels))
    assert np.isnan(jax.jit(net.cost)(params, x, labels.at[2].set(-1)))
    assert all(np.isnan(g).all() for g in jax.tree.leaves(jax.jit(net.backprop)(params, x, labels)))
    tx = optax.sgd(0.1)
    metrics = jax.jit(make_step(net, tx))(params, tx.init(params), x, labels)[2]
    assert np.isnan(metrics["loss"]) and not metrics["finite"]
    good = jnp.array([0, 1, 2, 0])
    np.testing.assert_allclose(jax.jit(net.cost)(params, x, good), net.cost(params, x, good))
    binary = MLP((3, 4, 1), "tanh", "sigmoid", "bce")
    p1, soft = binary.init(jax.random.key(0)), jnp.array([0.0, 1, 0.25, 1])
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        binary.cost(p1, x, soft.at[2].set(2))
    for bad in (2.0, -1.0):
        assert np.isnan(jax.jit(binary.cost)(p1, x, soft.at[2].set(bad)))
    np.testing.assert_allclose(jax.jit(binary.cost)(p1, x, soft), binary.cost(p1, x, soft))
    threshold = MLP((3, 4, 1), "tanh", "threshold", "bce")
    with pytest.raises(ValueError, match="must be the labels -1 or 1"):
        threshold.cost(p1, x, jnp.array([1.0, -1, 0, 1]))
    assert np.isnan(jax.jit(threshold.cost)(p1, x, jnp.array([1.0, -1, 0, 1])))
    signs = jnp.array([1.0, -1, -1, 1])
    np.testing.assert_allclose(jax.jit(threshold.cost)(p1, x, signs), threshold.cost(p1, x, signs))
    text = " ".join(mlp_module.__doc__.split())
    assert "under ``jax.jit`` (t traced) nothing can raise" in text
    assert "makes the cost, its gradient and the step's loss NaN" in text
    assert "under ``jit`` a label out of range makes it NaN" in " ".join(net.cost.__doc__.split())


def test_messages_name_the_dtype_of_labels_the_validation_set_and_the_param_dtypes():
    """Float or string labels (n,) were told "t must have shape (6, 3) or integer labels (6,),
    got (6,)", the shape they had; a validation x of the wrong width was called x; check_params
    said float32, float64 or bfloat16 and took float16 (and float8, whose gradients are NaN)."""
    net = MLP((3, 4, 3), "tanh", "softmax", "cross_entropy")
    params, x = net.init(jax.random.key(0)), np.zeros((6, 3), np.float32)
    for labels, dtype in (
        (np.array([0.0, 1, 2, 0, 1, 2]), "float64"),
        (np.array(list("abcabc")), "<U1"),
    ):
        with pytest.raises(ValueError) as info:
            net.cost(params, x, labels)
        assert str(info.value) == (
            f"t of shape (6,) must be integer labels 0..2, got dtype {dtype}: cast whole numbers "
            "with .astype(int), map class names to 0..2, or pass targets of shape (6, 3)."
        )
    with pytest.raises(ValueError, match=r"^x_val must have shape \(n, 3\) .*got \(6, 2\)\.$"):
        fit(
            net,
            x,
            np.arange(6) % 3,
            config=TrainConfig(epochs=1),
            x_val=x[:, :2],
            t_val=np.arange(6) % 3,
        )
    with pytest.raises(ValueError, match=r"^t_val of shape \(6,\) must be integer labels"):
        fit(net, x, np.arange(6) % 3, config=TrainConfig(epochs=1), x_val=x, t_val=np.zeros(6))
    allowed = "['float16', 'bfloat16', 'float32', 'float64']"
    for dtype in ("float16", "bfloat16", "float32"):
        net.check_params(jax.tree.map(lambda v, d=dtype: v.astype(d), params))
    for dtype in ("float8_e4m3fn", "int32"):
        with pytest.raises(ValueError) as info:
            net.check_params(jax.tree.map(lambda v, d=dtype: v.astype(d), params))
        assert str(info.value).endswith(
            f"parameters must be real floating arrays, one of {allowed}."
        )


def test_mlp_is_immutable_hashable_and_a_static_jit_argument():
    same = MLP(sizes=[4, 8, 3], activation="tanh", output="softmax", loss="cross_entropy")
    assert same == NET and hash(same) == hash(NET) and same.sizes == (4, 8, 3)
    assert NET.replace(activation="relu") != NET and {NET: 1, same: 2} == {NET: 2}
    with pytest.raises(dataclasses.FrozenInstanceError):
        NET.loss = "sse"
    apply = jax.jit(lambda net, params, x: net.apply(params, x), static_argnums=0)
    np.testing.assert_allclose(apply(NET, PARAMS, X), NET.apply(PARAMS, X), rtol=1e-6)
    np.testing.assert_array_equal(apply(same, PARAMS, X), apply(NET, PARAMS, X))
    other = NET.replace(output="sigmoid", loss="bce")
    assert apply(other, PARAMS, X).shape == (5, 3)  # a different net: retraced, not confused
    assert not np.allclose(apply(other, PARAMS, X), apply(NET, PARAMS, X))


@pytest.mark.slow
def test_predict_argmax_threshold_or_values():
    sigmoid1 = MLP((4, 8, 1), "tanh", "sigmoid", "bce")
    p1 = sigmoid1.init(jax.random.key(5))
    labels = sigmoid1.predict(p1, X)
    assert labels.shape == (5,) and labels.dtype == jnp.int32
    np.testing.assert_array_equal(labels, np.asarray(sigmoid1.apply(p1, X))[:, 0] > 0.5)
    multi = MLP((4, 8, 3), "tanh", "sigmoid", "bce")
    p3 = multi.init(jax.random.key(5))
    np.testing.assert_array_equal(multi.predict(p3, X), np.asarray(multi.apply(p3, X)) > 0.5)
    regression = MLP((4, 8, 2), "tanh", "identity", "sse")
    p2 = regression.init(jax.random.key(5))
    np.testing.assert_array_equal(regression.predict(p2, X), regression.apply(p2, X))


@pytest.mark.parametrize("key", [0, np.int64(0), 0.5])
def test_init_names_the_key_it_needs(key):
    # net.init(0) raised jax's TypeError "JAX encountered invalid PRNG key data".
    with pytest.raises(
        ValueError, match=r"init needs a jax.random.key, e.g. jax.random.key\(0\), got"
    ):
        NET.init(key)
    assert NET.init(jax.random.PRNGKey(0))[0]["w"].shape == (4, 8)  # a raw key still works


def test_dropout_without_a_hidden_layer_is_refused():
    # MLP((2, 1), dropout=0.5) was accepted and ignored: dropout acts on hidden layers only.
    with pytest.raises(ValueError, match=r"dropout=0.5 would be ignored: .*sizes \(2, 1\)"):
        MLP((2, 1), dropout=0.5)
    assert MLP((2, 1), dropout=0.0).dropout == 0.0


@pytest.mark.slow
def test_dropout_acts_only_with_a_key():
    net = MLP((4, 64, 3), "relu", "softmax", "cross_entropy", dropout=0.5)
    params = net.init(jax.random.key(6))
    np.testing.assert_array_equal(net.apply(params, X), net.replace(dropout=0.0).apply(params, X))
    noisy = net.apply(params, X, key=jax.random.key(7))
    assert not np.allclose(noisy, net.apply(params, X))
    np.testing.assert_array_equal(noisy, net.apply(params, X, key=jax.random.key(7)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_eager_methods_refuse_nan_or_inf_inputs_and_targets_as_fit_does(bad):
    """fit and evaluate refused NaN and Inf, the eager methods did not: cost with an Inf x was a
    finite number, backprop NaN, and targets(t) passed a NaN against its docstring. Traced
    (under jit) only shapes are checked, as before."""
    net = MLP((3, 4, 2), "tanh", "identity", "sse")
    params = net.init(jax.random.key(0))
    x, t = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    xb, tb = x.copy(), t.copy()
    xb[1, 2], tb[2, 0] = bad, bad
    refused = "{} contains NaN or Inf; remove or impute them first"
    for call in (net.apply, net.predict, net.input_jacobian, net.input_hessian):
        with pytest.raises(ValueError, match=refused.format("x")):
            call(params, jnp.asarray(xb))
    methods = (net.cost, net.backprop, net.input_grad, net.hessian, net.hand_cost)
    for call in (*methods, lambda p, a, b: net.hvp(p, a, b, p)):
        for args, name in (((xb, t), "x"), ((x, tb), "t")):
            with pytest.raises(ValueError, match=refused.format(name)):
                call(params, *args)
    with pytest.raises(ValueError, match=refused.format("t_val")):
        net.targets(tb, 4, name="t_val")
    assert jax.jit(net.cost)(params, xb, tb).shape == ()  # traced: values not checked


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint32"])
def test_integer_inputs_and_targets_a_float16_net_cannot_hold_are_refused_as_floats_are(dtype):
    """A float16 net refused x = 70000.0 (past float16's 65504), but took the integer 70000:
    it became inf inside, and the outputs, through a saturated tanh, were finite numbers, exit
    0 (an integer t of 70000 gave a cost of inf). Integers are held to the dtype's range too;
    those it holds, and integer labels, are taken as before."""
    net = MLP((3, 4, 1), "tanh", "identity", "sse")
    params = net.init(jax.random.key(0), jnp.float16)
    x, t = np.ones((2, 3)), np.zeros(2)
    big = np.array([[70000, 1, 2], [1, 2, 3]]).astype(dtype)
    with pytest.raises(ValueError, match="x: value 70000 exceeds the float16 range"):
        net.apply(params, big)
    with pytest.raises(ValueError, match="t: value 70000 exceeds the float16 range"):
        net.cost(params, x, np.array([70000, 1]).astype(dtype))
    if dtype != "uint32":
        with pytest.raises(ValueError, match="x: value 70000 exceeds the float16 range"):
            net.apply(params, -big)
    small = (big % 1000).astype(dtype)
    np.testing.assert_array_equal(net.apply(params, small), net.apply(params, small.astype(float)))
    assert np.isfinite(net.cost(params, small, t))
    labels = MLP((3, 4, 3), "tanh", "softmax", "cross_entropy")
    p3 = labels.init(jax.random.key(0), jnp.float16)
    assert np.isfinite(labels.cost(p3, x, np.array([2, 0]).astype(dtype)))


@pytest.mark.parametrize("width", [2**31, 3_000_000_000, 99999999999999999999])
def test_a_width_of_2_31_or_more_is_refused(width, fails, tmp_path):
    """Regression: no upper bound; --hidden 3000000000 was killed out of memory without a word,
    --hidden 99999999999999999999 exited with an MLIR message."""
    with pytest.raises(ValueError, match=f"positive integer < 2\\*\\*31, got {width} in"):
        MLP((2, width, 1))
    argv = ["train", "--data", "xor", "--epochs", "1", "--no-progress", "--out", str(tmp_path)]
    assert "< 2**31, got" in fails([*argv, "--hidden", str(width)])


def test_dropout_is_kept_as_a_python_float_so_equal_nets_trace_alike():
    """Regression: dropout was kept as given. np.float32(0.1) == 0.1 as nets but hashed apart
    (the hash contract); np.float32(0.5) compared and hashed equal to 0.5 yet traced otherwise
    (the mask's np.float32 promotes float16 to float32), so a jitted function taking the net as
    a static argument reused the other's program: the output dtype followed the call order."""
    a, b = MLP((2, 3, 1), dropout=np.float32(0.5)), MLP((2, 3, 1), dropout=0.5)
    assert a == b and hash(a) == hash(b) and type(a.dropout) is float
    c, d = MLP((2, 3, 1), dropout=np.float32(0.1)), MLP((2, 3, 1), dropout=0.1)
    assert (c == d) == (hash(c) == hash(d))
    apply = jax.jit(lambda net, params, x, key: net.apply(params, x, key=key), static_argnums=0)
    params = jax.tree.map(lambda v: v.astype(jnp.float16), b.init(jax.random.key(0)))
    x, key = jnp.ones((4, 2), jnp.float16), jax.random.key(1)
    assert apply(a, params, x, key).dtype == apply(b, params, x, key).dtype == jnp.float16


def test_the_cost_and_its_derivatives_refuse_an_empty_batch():
    """Regression: on 0 rows cost was NaN and backprop 0, where evaluate and fit refuse."""
    net = MLP((2, 3, 1))
    params, x, t = net.init(jax.random.key(0)), jnp.ones((0, 2)), jnp.ones((0, 1))
    for method in (net.cost, net.backprop, net.value_and_backprop, net.input_grad, net.hand_cost):
        with pytest.raises(ValueError, match="x is empty: the cost needs at least one example"):
            method(params, x, t)
    assert net.apply(params, x).shape == (0, 1)  # outputs of no examples are no outputs


@pytest.mark.parametrize("weighted", [False, True])
def test_a_half_precision_mean_cost_sums_wider_than_its_dtype(weighted):
    """1000 float16 losses of 112.5 sum to 112500, past float16's 65504, though their mean is
    not: the mean cost was inf (and with weights of 100, whose total overflowed too, the
    weighted gradient was 0: every s_i / inf). The sums run in float32, the cost is rounded to
    float16 once."""
    net = MLP((1, 1), "identity", "identity", "sse")
    params = [{"w": jnp.zeros((1, 1), jnp.float16), "b": jnp.zeros(1, jnp.float16)}]
    x, t = jnp.zeros((1000, 1), jnp.float16), jnp.full((1000, 1), 15.0, jnp.float16)
    s = jnp.full(1000, 100.0, jnp.float16) if weighted else None
    cost = net.hand_cost(params, x, t, sample_weight=s) if weighted else net.cost(params, x, t)
    assert cost.dtype == jnp.float16 and float(cost) == 112.5
    grads = jax.grad(net.hand_cost)(params, x, t, sample_weight=s)
    assert grads[0]["b"].dtype == jnp.float16
    np.testing.assert_allclose(np.float32(grads[0]["b"]), -15.0, rtol=2e-3)
    if not weighted:  # evaluate's sum of a batch too (float16 weights of this total: refused)
        assert evaluate(net, params, x, t)["loss"] == 112.5


def test_params_with_leaves_that_are_no_arrays_are_refused_naming_the_leaf():
    """Regression: params whose leaves are Python lists (a params pytree after json.loads)
    passed check_params (np.shape of a list is its shape) and then failed with AttributeError
    "'list' object has no attribute 'dtype'" in apply, predict, cost, backprop, hvp and
    input_jacobian, and "... no attribute 'shape'" inside fit's step. A list has no dtype: the
    one the net would compute in would be a guess, so it is refused, with the conversion."""
    listed = [{k: np.asarray(v).tolist() for k, v in layer.items()} for layer in PARAMS]
    one_listed = [dict(PARAMS[0], b=PARAMS[0]["b"].tolist()), PARAMS[1]]
    for call in (
        lambda p: NET.apply(p, X),
        lambda p: NET.predict(p, X),
        lambda p: NET.cost(p, X, LABELS),
        lambda p: NET.backprop(p, X, LABELS),
        lambda p: NET.hvp(p, X, LABELS, PARAMS),
        lambda p: NET.input_jacobian(p, X),
        lambda p: fit(NET, X, LABELS, config=TrainConfig(epochs=1), params=p),
    ):
        for params, leaf in ((listed, "[wb]"), (one_listed, "b")):
            with pytest.raises(
                ValueError,
                match=rf"^params\[0\]\['{leaf}'\] is a list, not an "
                "array: .* convert params read from JSON with .*np.asarray",
            ):
                call(params)


@pytest.mark.slow
def test_params_with_masked_entries_are_refused_naming_the_leaf():
    """Regression: a NumPy masked array as a parameter of fit (and fit_population) trained from
    the numbers under its mask as if they were given (jnp.asarray drops the mask), silently;
    apply and the others refused it with JAX's own message. Refused everywhere, naming the leaf,
    as masked inputs are (numeric.check_unmasked); with nothing masked, fit takes it."""
    w = np.ma.masked_array(np.asarray(PARAMS[0]["w"]), mask=False)
    w[0, 0] = np.ma.masked
    masked = [dict(PARAMS[0], w=w), PARAMS[1]]
    stacked = lambda p: jax.tree.map(lambda a: np.ma.stack([a, a]), p)  # noqa: E731
    one = TrainConfig(epochs=1)
    for call in (
        lambda p: NET.apply(p, X),
        lambda p: NET.predict(p, X),
        lambda p: NET.cost(p, X, LABELS),
        lambda p: NET.backprop(p, X, LABELS),
        lambda p: fit(NET, X, LABELS, config=one, params=p),
        lambda p: fit_population(NET, X, LABELS, config=one, seeds=[0, 1], params=stacked(p)),
    ):
        with pytest.raises(ValueError, match=r"^params\[0\]\['w'\] is a masked array with 1 "):
            call(masked)
    unmasked = [dict(PARAMS[0], w=np.ma.masked_array(np.asarray(PARAMS[0]["w"]))), PARAMS[1]]
    got = fit(NET, X, LABELS, config=one, params=unmasked).params
    want = fit(NET, X, LABELS, config=one, params=PARAMS).params
    assert jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), got, want))


def test_a_dropout_rate_the_float32_masks_cannot_draw_is_refused():
    """Regression: MLP(dropout=1e-320) (or 1e-9, 5e-8) was accepted and dropped no unit at
    all: jax.random.bernoulli keeps a unit where a float32 uniform, on a grid of 2**-23, is
    below 1 - p, and 1 - 1e-9 is 1 there. Near 1, dropout=1 - 1e-9 kept 2**-23 of the units,
    119 x too many, each scaled by 1e9; float16 params with dropout=0.99999 scaled the kept
    units by 1 / (1 - p) = inf. Rates within 100 steps of 0 or 1 are refused (drawn > 1 % off)."""
    low, high = backprop.DROPOUT_RANGE
    assert (low, high) == (100 * 2.0**-23, 1 - 100 * 2.0**-23)
    for bad in (1e-320, 1e-9, 5e-8, 1e-6, 0.999999, 1 - 1e-9, np.float64(1e-320)):
        with pytest.raises(ValueError) as info:
            MLP((2, 3, 1), dropout=bad)
        assert str(info.value).startswith(f"dropout={float(bad)!r} cannot be drawn within 1 %")
        assert str(info.value).endswith("dropout must be 0 or in [1.192e-05, 0.9999881].")
    assert MLP((2, 3, 1), dropout=low).dropout == low and MLP((2, 3, 1), dropout=high).dropout


@pytest.mark.slow
def test_the_dropout_rates_allowed_drop_units_and_the_dtype_must_hold_the_kept_fraction():
    """The smallest rate allowed (``backprop.DROPOUT_RANGE``) drops units; float16 params, where
    the kept units are scaled, cannot hold 1 - p of 0.99998 (it was scaled to inf there)."""
    low = backprop.DROPOUT_RANGE[0]
    net = MLP((3, 1000, 1), "relu", dropout=low)  # the smallest rate allowed drops units
    params, x = net.init(jax.random.key(0)), np.ones((1000, 3), np.float32)
    mask = backprop.forward(net, params, jnp.asarray(x), jax.random.key(1)).masks[0]
    assert 0 < int((mask == 0).sum()) < 100  # 1e6 units at 1.19e-5: about 12
    near_one = MLP((2, 3, 1), dropout=0.99998)
    near_one.apply(near_one.init(jax.random.key(0)), x[:, :2], key=jax.random.key(1))
    with pytest.raises(ValueError, match=r"^dropout: the kept fraction 1 - dropout = 2\.0"):
        near_one.init(jax.random.key(0), jnp.float16)  # 2e-5 is below float16's normal range
    half = jax.tree.map(lambda v: v.astype(jnp.float16), net.init(jax.random.key(0)))
    with pytest.raises(ValueError, match=r"^dropout: the kept fraction 1 - dropout = 1\.3"):
        MLP((3, 1000, 1), "relu", dropout=0.99998658).apply(half, x, key=jax.random.key(1))


def test_init_refuses_a_dtype_that_params_may_not_hold():
    """Regression: net.init(key, jnp.float8_e4m3fn) drew float8 params that every method then
    refused (check_params: float8's few bits give NaN gradients); init takes the same dtypes."""
    allowed = "['float16', 'bfloat16', 'float32', 'float64']"
    for dtype in (jnp.float8_e4m3fn, jnp.int32, jnp.complex64, "float8_e5m2"):
        with pytest.raises(ValueError) as info:
            NET.init(jax.random.key(0), dtype)
        assert str(info.value).startswith("dtype must be one of " + allowed + ", got ")


def test_predict_refuses_regression_outputs_that_are_not_finite():
    """Regression: net.predict of a regression net returned inf (exp(100) past float32) as a
    prediction, where its docstring, outputs.check_decided ("nor is it a regression's
    prediction") and load_run(...).predict refuse a row whose outputs are not finite. Under
    jit, where nothing can raise, a regression's outputs stay as they are (inf, NaN)."""
    net = MLP((1, 1), "relu", "exp", "poisson")
    params = [{"w": np.array([[1.0]], np.float32), "b": np.array([0.0], np.float32)}]
    with pytest.raises(ValueError, match=r"^1 of 2 rows have outputs that are not finite .*\[1\]"):
        net.predict(params, np.array([[1.0], [100.0]]))
    np.testing.assert_allclose(net.predict(params, np.array([[1.0]])), [[np.e]], rtol=1e-6)
    assert np.isinf(jax.jit(net.predict)(params, np.array([[100.0]], np.float32))).all()


def test_params_of_mixed_dtypes_are_refused_where_the_net_computes(x64):
    """Regression: a float64 leaf in a float32 net (under x64) was computed by promotion:
    ``apply`` checked x against float32 and returned float64 outputs, ``backprop`` gave float64
    gradients for the float32 leaves (a pytree whose dtypes are not the params'), ``evaluate``
    scored the mixture; only gradcheck refused it. Each now names the leaf; ``fit`` (a warm
    start, cast to the run's dtype) still takes them."""
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = net.init(jax.random.key(0))
    mixed = [params[0], {**params[1], "w": np.asarray(params[1]["w"], np.float64)}]
    x, t = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    message = "params mix the dtypes ['float32', 'float64'] (params[1]['w'] is float64)"
    for call in (
        lambda: net.apply(mixed, x),
        lambda: net.backprop(mixed, x, t),
        lambda: net.cost(mixed, x, t),
        lambda: evaluate(net, mixed, x, t),
        lambda: gradcheck(net, mixed, x, t),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).startswith(message)
    result = fit(net, x, t, Optimizer("sgd"), TrainConfig(epochs=1), params=mixed)
    assert {a.dtype for a in jax.tree.leaves(result.params)} == {np.dtype(np.float32)}
