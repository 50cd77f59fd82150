"""Activation specs (issue 20): constants as parameters (ELU's and ISRU's alpha, the leaky slope,
step's value at 0), the learnable ELU and ISRU alphas with their hand derivatives in alpha, and
per-unit groups of one layer; each against jax in float64, with its mutation twin, through the
gradient and curvature matrices, the bad specs, and the round trip through a run folder."""

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, activation_specs, activations, cli, run
from jaxmlp.curvature_check import check_curvature, passes
from jaxmlp.gradient_matrix import gradcheck_matrix

EXAMPLES = ("elu:1.67326", "isru:0.5", "leaky_relu:0.2", "step:1")
LEARNABLE = ("elu_learnable", "isru_learnable")
GROUP = activation_specs.GROUP_EXAMPLE
PAIRS = [("softmax", "cross_entropy"), ("tanh", "mse")]
NEW = [*EXAMPLES, *LEARNABLE, GROUP]


def grid() -> np.ndarray:
    """-10..10 densely, the kink at 0 and its neighbours, and large |z|."""
    special = [0.0, 1e-300, 1e-8, 0.5, 1.0, 20.0, 50.0, 100.0, 700.0, 1e3, 1e4]
    return np.concatenate([np.linspace(-10, 10, 2001), special, -np.asarray(special)])


@pytest.fixture
def patched(monkeypatch):
    """``patched(name, **changes)``: the record ``name`` (built-in, or a constant's records via
    ``activation_specs.CONSTANTS``) with some rules replaced, for this test only."""

    def patch(name, **changes):
        if ":" in name:
            family = name.partition(":")[0]
            constant = activation_specs.CONSTANTS[family]
            make = constant.make
            monkeypatch.setitem(
                activation_specs.CONSTANTS,
                family,
                constant._replace(make=lambda c: make(c)._replace(**changes)),
            )
        else:
            record = activations._REGISTRY[name]
            monkeypatch.setitem(activations._REGISTRY, name, record._replace(**changes))
        activations._SPECS.clear()

    yield patch
    activations._SPECS.clear()


def one_percent_off(rule):
    return lambda *args: 1.01 * rule(*args)


# -- the spec strings -----------------------------------------------------------------------------


def test_plain_names_and_default_constants_give_the_plain_records_themselves():
    for spec, name in [
        ("elu:1", "elu"), ("elu:1.0", "elu"), ("isru:1", "isru"), ("leaky_relu:0.01", "leaky_relu"),
        ("step:0", "step"), ("step:-0.0", "step"), ("prelu:0.25", "prelu"),
    ]:  # fmt: skip
        assert activations.get(spec) is activations.get(name) is activations._REGISTRY[name]
    assert activations.get("elu:1.673260").name == "elu:1.67326"  # canonical: shortest exact
    assert activations.get("elu:1e+20").name == "elu:1e+20"
    assert activations.get("isru:0.5") is activations.get("isru:.5")  # one record per function
    assert MLP((2, 3, 1), "elu:1.673260") == MLP((2, 3, 1), "elu:1.67326")
    assert MLP((2, 3, 1), "elu:1.673260").activation == "elu:1.67326"
    assert MLP((2, 8, 1), "tanh*03+relu*5").activation == "tanh*3+relu*5"
    assert MLP((2, 3, 3, 1), ["step:1.0", "elu:1"]).activation == ("step:1", "elu")
    specs = activations.specs()
    assert specs[: len(activations.names())] == activations.names()
    assert set(EXAMPLES) | {GROUP} <= set(specs) and set(LEARNABLE) <= set(specs)


@pytest.mark.usefixtures("x64")
def test_constants_set_the_forward_rules_of_the_seeds():
    z = np.linspace(-30, 30, 1201)
    want = {
        "elu:1.67326": np.where(z > 0, z, 1.67326 * (np.exp(np.minimum(z, 0)) - 1)),  # seed 002
        "isru:0.5": z / np.sqrt(1 + 0.5 * z**2),  # seed 004
        "leaky_relu:0.2": np.where(z > 0, z, 0.2 * z),
        "step:1": (z >= 0).astype(float),  # seed 004
        "step:0.5": np.where(z > 0, 1.0, np.where(z < 0, 0.0, 0.5)),
    }
    for spec, values in want.items():
        got = np.asarray(activations.get(spec).fn(jnp.asarray(z)))
        np.testing.assert_allclose(got, values, rtol=1e-14, atol=1e-15, err_msg=spec)


def test_step_value_at_zero_in_both_conventions():
    """Seed 002: step(0) = 0 ("step"); seed 004: step(0) = 1 ("step:1"): at z = 0 exactly, and in
    a network whose hidden pre-activations are exactly 0; derivatives 0 in both."""
    zero = jnp.zeros(3)
    assert np.asarray(activations.get("step").fn(zero)).tolist() == [0, 0, 0]
    assert np.asarray(activations.get("step:1").fn(zero)).tolist() == [1, 1, 1]
    for spec in ("step", "step:1"):
        z = jnp.asarray([-1.0, 0.0, 1.0])
        assert not np.any(np.asarray(activations.get(spec).grad(z)))
        assert np.asarray(activations.get(spec).fn(z)).tolist()[::2] == [0, 1]
    x = jnp.ones((1, 2))
    outputs = {}
    for spec in ("step", "step:1"):
        net = MLP((2, 3, 1), spec)
        params = net.init(jax.random.key(0))
        params[0] = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}  # z = 0 in every hidden unit
        params[1] = {"w": jnp.ones((3, 1)), "b": jnp.zeros(1)}
        outputs[spec] = float(net.apply(params, x)[0, 0])
    assert outputs == {"step": 0.0, "step:1": 3.0}


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("spec", [*EXAMPLES, "elu:0", "isru:3", "leaky_relu:1", "step:0.5"])
def test_hand_derivatives_of_a_constant_equal_jax_on_a_dense_grid(spec):
    act = activations.get(spec)
    z = jnp.asarray(grid())
    for hand, auto in [
        (act.grad, jax.grad(act.fn)),
        (act.grad2, jax.grad(jax.grad(act.fn))),
    ]:
        want = np.asarray(jax.jit(jax.vmap(auto))(z))
        got = np.asarray(hand(z))
        assert np.all(np.isfinite(got)), spec
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=spec)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", LEARNABLE)
def test_learnable_alpha_derivatives_equal_jax_on_a_dense_grid(name):
    """h', h'', dh/dalpha, d2h/dz dalpha and d2h/dalpha2 of the learnable ELU and ISRU against
    jax, with alpha varying over the grid (ISRU: alpha > 0)."""
    act = activations.get(name)
    z = jnp.asarray(grid())
    alpha = jnp.linspace(0.05, 2.5, z.size)
    rules = {
        "grad": (act.grad, jax.grad(act.fn, 0)),
        "grad2": (act.grad2, jax.grad(jax.grad(act.fn, 0), 0)),
        "grad_alpha": (act.grad_alpha, jax.grad(act.fn, 1)),
        "grad_z_alpha": (act.grad_z_alpha, jax.grad(jax.grad(act.fn, 0), 1)),
        "grad2_alpha": (act.grad2_alpha, jax.grad(jax.grad(act.fn, 1), 1)),
    }
    for rule, (hand, auto) in rules.items():
        want = np.asarray(jax.jit(jax.vmap(auto))(z, alpha))
        got = np.asarray(hand(z, alpha))
        assert np.all(np.isfinite(got)), rule
        # atol: jax's d/dz expm1(z) = expm1(z) + 1 cancels to ~1e-16 absolute at z << 0, where
        # the hand alpha e^z keeps its digits (4.8e-22 at z = -50, where jax gives 0)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=rule)
    assert act.learnable and act.alpha_init == 1.0
    forward = {  # h(-1) with alpha = 1.67326: the seeds' formulas
        "elu_learnable": 1.67326 * (np.exp(-1) - 1),
        "isru_learnable": -1 / np.sqrt(1 + 1.67326),
    }[name]
    assert float(act.fn(jnp.asarray(-1.0), 1.67326)) == pytest.approx(forward, rel=1e-14)


@pytest.mark.slow
def test_learnable_alphas_start_at_their_initial_value_and_count_as_parameters():
    net = MLP((2, 4, 3, 1), ["elu_learnable:1.67326", "isru_learnable"])
    params = net.init(jax.random.key(0))
    np.testing.assert_array_equal(params[0]["alpha"], np.full(4, 1.67326, np.float32))
    np.testing.assert_array_equal(params[1]["alpha"], np.ones(3, np.float32))
    assert "alpha" not in params[2] and net.n_params == 2 * 4 + 4 + 4 + 4 * 3 + 3 + 3 + 3 + 1
    assert net.activation == ("elu_learnable:1.67326", "isru_learnable")
    assert MLP((2, 4, 1), "prelu:0.1").init(jax.random.key(0))[0]["alpha"][0] == np.float32(0.1)


# -- per-unit groups ------------------------------------------------------------------------------


@pytest.mark.usefixtures("x64")
def test_a_group_applies_each_activation_to_its_units_with_its_derivatives():
    group = activations.get("tanh*3+relu*2+step:1*1")
    assert group.width == 6 and not group.smooth and not group.learnable
    z = jnp.asarray(np.random.default_rng(0).normal(size=(5, 6)))
    for rule in ("fn", "grad", "grad2"):
        want = np.concatenate(
            [
                getattr(activations.get(name), rule)(z[:, lo:hi])
                for name, lo, hi in [("tanh", 0, 3), ("relu", 3, 5), ("step:1", 5, 6)]
            ],
            axis=1,
        )
        np.testing.assert_array_equal(getattr(group, rule)(z), want)
    assert activations.get("tanh*2+sigmoid*2").smooth


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_a_group_layer_backprops_and_hvps_like_jax():
    """Two group layers in one net (the matrices have one group spec per net)."""
    net = MLP(
        (3, 6, 4, 2), ["tanh*3+elu:1.67326*2+softplus*1", "isru:0.5*2+sigmoid*2"], "sigmoid", "bce"
    )
    params = net.init(jax.random.key(0), jnp.float64)
    x = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
    t = jax.random.uniform(jax.random.key(2), (5, 2), jnp.float64)
    hand, auto = net.backprop(params, x, t), jax.grad(net.cost)(params, x, t)
    for h, a in zip(jax.tree.leaves(hand), jax.tree.leaves(auto)):
        np.testing.assert_allclose(h, a, rtol=1e-12, atol=1e-15)
    v = jax.tree.map(jnp.ones_like, params)
    hv = jax.jit(net.hvp)(params, x, t, v)
    ref = jax.jit(lambda p: jax.jvp(jax.grad(lambda q: net.cost(q, x, t)), (p,), (v,))[1])(params)
    for h, a in zip(jax.tree.leaves(hv), jax.tree.leaves(ref)):
        np.testing.assert_allclose(h, a, rtol=1e-11, atol=1e-14)


def test_a_group_must_cover_the_layer_s_width():
    with pytest.raises(ValueError, match=r"'tanh\*3\+relu\*5'.* 8 units.*layer 1 has 7"):
        MLP((3, 7, 2), "tanh*3+relu*5")
    with pytest.raises(ValueError, match="layer 2 has 4"):
        MLP((3, 8, 4, 2), "tanh*3+relu*5")  # one spec for every hidden layer: each is checked
    MLP((3, 8, 4, 2), ["tanh*3+relu*5", "tanh"])


def test_a_plain_layer_compiles_without_slices_or_concatenation():
    """The common case by construction: only a group's record slices and concatenates."""
    x, t = jnp.ones((4, 3)), jnp.zeros((4, 2))

    def primitives(activation):
        net = MLP((3, 4, 2), activation)
        params = net.init(jax.random.key(0))
        jaxpr = jax.make_jaxpr(lambda p: net.value_and_backprop(p, x, t))(params)
        return {eqn.primitive.name for eqn in jaxpr.eqns}

    plain, group = primitives("tanh"), primitives("tanh*2+relu*2")
    assert not {"slice", "concatenate"} & plain
    assert {"slice", "concatenate"} <= group


# -- bad specs ------------------------------------------------------------------------------------


BAD_SPECS = [
    ("relux", "Unknown activation: 'relux'. It needs to be one of ['identity'"),
    ("relux:1", "'relux'"),
    ("tanh:0.5", "'tanh' takes no constant; the ones that do are ['elu', 'isru'"),
    ("elu:abc", "elu's alpha must be a finite number >= 0, got 'abc'"),
    ("elu:", "elu's alpha must be a finite number >= 0, got ''"),
    ("elu:-0.5", "elu's alpha must be a finite number >= 0, got '-0.5'"),
    ("elu:nan", "got 'nan'"),
    ("elu:inf", "got 'inf'"),
    ("isru:0", "isru's alpha must be a finite number > 0, got '0'"),
    ("isru:-1", "isru's alpha must be a finite number > 0"),
    ("isru_learnable:0", "isru_learnable's initial alpha must be a finite number > 0"),
    ("leaky_relu:1.5", "leaky_relu's slope must be a number in [0, 1], got '1.5'"),
    ("step:2", "step's value at 0 must be a number in [0, 1], got '2'"),
    ("prelu:inf", "prelu's initial alpha must be a finite number, got 'inf'"),
    ("tanh*0+relu*4", "counts positive whole numbers), got 'tanh*0'"),
    ("tanh*2.5", "got 'tanh*2.5'"),
    ("tanh*²", "got 'tanh*²'"),
    ("tanh*2+", "got 'tanh*2+'"),
    ("*4", "got '*4'"),
    ("tanh*2+nope*2", "'nope'"),
    ("tanh*2+isru:0*2", "isru's alpha must be a finite number > 0"),
    ("prelu*2+tanh*2", "'prelu' has a learnable alpha; per-unit groups take fixed activations"),
    (3, "got 3"),
]


@pytest.mark.parametrize("spec, message", BAD_SPECS)
def test_a_bad_spec_names_the_problem_and_the_allowed_values(spec, message):
    for call in (lambda: activations.get(spec), lambda: MLP((3, 4, 2), spec)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        if isinstance(spec, str):
            assert info.type is ValueError
            assert message in str(info.value)


def test_a_registered_name_cannot_hold_spec_characters():
    for name in ("my:act", "a*b", "a+b", "a,b", "a b"):
        with pytest.raises(ValueError, match="without ':', '\\*', '\\+', ','"):
            activations.register(name, jnp.tanh, jnp.tanh)


def test_a_group_of_a_registered_activation_follows_its_registration():
    tanh = activations.get("tanh")
    activations.register("tanh_for_groups", tanh.fn, tanh.grad, tanh.grad2, smooth=True)
    try:
        assert activations.get("tanh_for_groups*2+relu*2").grad2 is not None
        activations.register("tanh_for_groups", tanh.fn, tanh.grad)  # again, without h''
        assert activations.get("tanh_for_groups*2+relu*2").grad2 is None
    finally:
        activations.unregister("tanh_for_groups")
    with pytest.raises(ValueError, match="'tanh_for_groups'"):
        activations.get("tanh_for_groups*2+relu*2")


# -- the matrices and their mutation twins ---------------------------------------------------------


@pytest.mark.slow
def test_every_new_spec_passes_the_gradient_matrix():
    report = gradcheck_matrix(depths=(1, 2), activations=NEW, pairs=PAIRS)
    assert report.ok and report.cells == 4 * len(NEW), str(report)
    assert report.worst_rel_err_autodiff <= 1e-10 and report.worst_rel_err_fd <= 1e-5
    assert {row.activation for row in report.rows} == set(NEW)


def test_every_new_spec_is_in_the_whole_curvature_matrix():
    """The whole matrix (tests/test_curvature.py, slow) runs ``activations.specs()`` x every
    pair at depths 1-2 to 1e-10: every new spec must be among them."""
    assert set(NEW) <= set(activations.specs())


GRADIENT_MUTANTS = {  # a derivative 1 % off, in the record a spec builds
    "elu:1.67326": "grad",
    "isru:0.5": "grad",
    "leaky_relu:0.2": "grad",
    "elu_learnable": "grad_alpha",
    "isru_learnable": "grad_alpha",
}


@pytest.mark.parametrize("spec, rule", GRADIENT_MUTANTS.items())
def test_the_gradient_matrix_catches_a_derivative_one_percent_off(spec, rule, patched):
    record = activations.get(spec)
    patched(spec, **{rule: one_percent_off(getattr(record, rule))})
    report = gradcheck_matrix(depths=(2,), activations=[spec], pairs=PAIRS)
    assert report.failing == 2 and report.worst_rel_err_autodiff > 1e-4, str(report)


CURVATURE_MUTANTS = {
    "elu:1.67326": "grad2",
    "isru:0.5": "grad2",
    "elu_learnable": "grad_z_alpha",
    "isru_learnable": "grad_z_alpha",
    "isru_learnable:0.5": "grad2_alpha",  # (ELU's d2h/dalpha2 is 0: nothing to be off)
}


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("spec, rule", CURVATURE_MUTANTS.items())
@pytest.mark.slow
def test_the_curvature_checks_catch_a_second_derivative_one_percent_off(spec, rule, patched):
    net = MLP((3, 4, 4, 2), spec, "tanh", "mse")
    params = net.init(jax.random.key(0), jnp.float64)
    params = [
        layer | {"alpha": layer["alpha"] * 0.8} if "alpha" in layer else layer for layer in params
    ]
    x = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
    t = jax.random.uniform(jax.random.key(2), (5, 2), jnp.float64)
    checks = ("hvp", "fd", "gn")
    assert passes(check_curvature(net, params, x, t, checks=checks))
    record = activations.get(spec)
    patched(spec, **{rule: one_percent_off(getattr(record, rule))})
    errors = check_curvature(net, params, x, t, checks=checks)
    assert errors["hvp"] > 1e-6 and errors["fd"] > 1e-6 and not passes(errors), errors
    assert errors["gn"] <= 1e-10  # Gauss-Newton has no second derivative of h: right


@pytest.mark.slow
def test_the_matrices_catch_a_group_member_one_percent_off_and_a_slicing_mistake(monkeypatch):
    tanh = activations.get("tanh")
    activations.register(
        "tanh_off", tanh.fn, one_percent_off(tanh.grad), one_percent_off(tanh.grad2), smooth=True
    )
    try:
        report = gradcheck_matrix(
            depths=(1,), activations=["tanh*2+relu*2", "tanh_off*2+relu*2"], pairs=PAIRS[:1],
            curvature=True,
        )  # fmt: skip
        assert [row.ok for row in report.rows] == [True, False], str(report)
        assert [row.ok for row in report.curvature.rows] == [True, False], str(report.curvature)
    finally:
        activations.unregister("tanh_off")
    # h' taken from the wrong units: each member's rule applied to its neighbour's slice
    group = activations.get("tanh*2+sigmoid*2")
    sigmoid = activations.get("sigmoid")

    def shifted(z):
        return jnp.concatenate([tanh.grad(z[..., :2]), sigmoid.grad(z[..., 1:3])], -1)

    monkeypatch.setitem(activations._SPECS, group.name, group._replace(grad=shifted))
    report = gradcheck_matrix(depths=(1,), activations=[group.name], pairs=PAIRS[:1])
    assert report.failing == 1, str(report)


# -- the round trip: CLI, config.json, checkpoint, loaded model ----------------------------------


@pytest.mark.slow
def test_specs_round_trip_through_the_cli_the_run_folder_and_the_loaded_model(tmp_path, capsys):
    spec = ["tanh*3+elu:1.67326*5", "isru_learnable:0.5"]
    out = tmp_path / "run"
    status = cli.main(
        ["train", "--no-progress", "--out", str(out), "--data", "moons", "--hidden", "8,4",
         "--activation", "tanh*3+elu:1.673260*5,isru_learnable:.5", "--epochs", "2",
         "--batch-size", "full"]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["activation"] == spec
    model = run.load_run(out)
    assert model.net.activation == tuple(spec)
    assert activations.get(model.net.activation[0]).fn is activations.get(spec[0]).fn
    params = [{k: jnp.asarray(v) for k, v in layer.items()} for layer in model.params]
    assert not np.allclose(params[1]["alpha"], 0.5)  # trained: the alpha learned
    x = np.random.default_rng(0).normal(size=(6, 2))
    np.testing.assert_array_equal(  # (the model computes compiled: jit's bits, not eager's)
        model.outputs(x), np.asarray(jax.jit(model.net.apply)(params, model.inputs(x)))
    )
    bad = cli.main(["train", "--no-progress", "--out", str(tmp_path / "bad"), "--data", "moons",
                    "--hidden", "8", "--activation", "elu:-1"])  # fmt: skip
    err = capsys.readouterr().err
    assert bad == 2 and err.startswith("error: ") and "elu's alpha must be" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_the_sklearn_estimators_start_a_learnable_alpha_at_its_initial_value():
    from jaxmlp.sklearn import MLPRegressor

    x = np.random.default_rng(0).normal(size=(20, 3))
    est = MLPRegressor(hidden_layer_sizes=(5,), activation="elu_learnable", max_iter=1)
    with pytest.warns(Warning):  # one iteration: not converged
        est.fit(x, x[:, 0])
    assert np.all(np.abs(est._slopes[0] - 1.0) < 0.01)  # alpha_init 1 after one small step


@pytest.mark.parametrize(
    "spec", ["prelu:1e39", "elu:1e39", "isru:1e39", "leaky_relu:1e-50", "isru_learnable:1e-40"]
)
def test_a_constant_outside_float32_is_refused_by_the_shared_rule(spec):
    """Regression: constants were checked in float64 and used in float32, where prelu:1e39 and
    elu:1e39 gave Inf outputs, isru:1e39 gave 0 and leaky_relu:1e-50 was relu (slope 0)."""
    name, _, text = spec.partition(":")
    for call in (lambda: activations.get(spec), lambda: MLP((2, 3, 1), spec)):
        with pytest.raises(ValueError, match=r"= 1e[-+]\d+ is outside the range of float32 \(0,"):
            call()
    assert activations.get("leaky_relu:0").name == "leaky_relu:0"  # 0 itself is in range


def test_a_constant_outside_float32_is_one_line_from_the_cli(fails, tmp_path):
    """Regression: exit 2, but after a stray 'overflow encountered in cast' warning and with a
    'diverged run' message."""
    argv = ["train", "--data", "xor", "--epochs", "1", "--hidden", "3", "--no-progress"]
    err = fails([*argv, "--activation", "prelu:1e39", "--out", str(tmp_path / "r")])
    assert "prelu's initial alpha = 1e+39 is outside the range of float32" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec, text",
    [
        ("elu:1e-8", "elu's alpha = 1e-08"),
        ("elu:1e-6", "elu's alpha = 1e-06"),
        ("isru:1e6", "isru's alpha = 1000000.0"),
        ("leaky_relu:1e-6", "leaky_relu's slope = 1e-06"),
        ("step:1e-6", "step's value at 0 = 1e-06"),
        ("tanh*1+elu:1e-06*2", "elu's alpha = 1e-06"),
    ],
)
def test_a_constant_the_params_dtype_cannot_hold_is_refused(spec, text):
    """Regression: constants are checked in float32, and float16 params were taken as they are:
    elu:1e-8 computed as relu there, elu:1e-6 in subnormals (h' 27 % off at z = -2.5), isru:1e6
    with alpha inf (h = 0 for every z but 0, NaN there), silently, where an output's
    softmax:beta was checked in the params' dtype. Now a hidden constant is too, at init and for
    params given; a learnable alpha's initial value is no constant of the function (its alpha is
    in the params)."""
    net, key, x = MLP((2, 3, 1), spec), jax.random.key(0), np.ones((1, 2), np.float32)
    message = f"Activation {net.activation!r} in float16: {text} is outside the range of float16"
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        net.init(key, jnp.float16)
    half = jax.tree.map(lambda a: a.astype(jnp.float16), net.init(key))
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        net.apply(half, x)
    prelu = MLP((2, 3, 1), "prelu:1e-6")
    prelu.apply(jax.tree.map(lambda a: a.astype(jnp.float16), prelu.init(key)), x)
