"""Optimizers by name (issue 4): the update rules, schedules, weight decay, clipping, validation.

Each rule is checked against the math written out by hand, not against optax calling itself.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxmlp import Optimizer
from jaxmlp.optim import FIRST_ORDER, check_schedule


def params_with_slope():
    """Two layers, the first with a PReLU slope: ``w``, ``b`` and ``alpha`` leaves."""
    return [
        {
            "w": jnp.array([[1.0, -2.0], [0.5, 3.0]]),
            "b": jnp.array([0.25, -0.75]),
            "alpha": jnp.array([0.2, 0.3]),
        },
        {"w": jnp.array([[2.0], [-1.0]]), "b": jnp.array([1.5])},
    ]


def run(tx, params, grads_seq):
    """Apply ``tx`` to each gradient in turn; the parameters after each step."""

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    state = tx.init(params)
    out = []
    for g in grads_seq:
        params, state = step(params, state, g)
        out.append(params)
    return out


GRADS = [np.array(g, np.float32) for g in ([0.5, -1.0], [2.0, 0.25], [-1.5, 0.75])]
W0 = np.array([1.0, -1.0], np.float32)


@pytest.mark.parametrize("eta, mu", [(0.1, 0.9), (0.3, 0.5)])
def test_momentum_is_optax_heavy_ball_rule(eta, mu):
    """v <- g + mu v; w <- w - eta v, written out for 3 steps."""
    got = run(Optimizer("momentum", lr=eta, momentum=mu).build(3), jnp.asarray(W0), GRADS)
    w, v = W0.copy(), np.zeros(2)
    for g, w_got in zip(GRADS, got):
        v = g + mu * v
        w = w - eta * v
        np.testing.assert_allclose(w_got, w, rtol=1e-6)


def test_keras_momentum_form_agrees_for_constant_eta():
    """v <- mu v - eta g; w <- w + v gives the same iterates as optax's form when eta is fixed."""
    eta, mu = 0.1, 0.9
    got = run(Optimizer("momentum", lr=eta, momentum=mu).build(3), jnp.asarray(W0), GRADS)
    w, v = W0.copy(), np.zeros(2)
    for g, w_got in zip(GRADS, got):
        v = mu * v - eta * g
        w = w + v
        np.testing.assert_allclose(w_got, w, rtol=1e-6)


def test_keras_momentum_form_differs_once_eta_changes():
    """optax rescales the whole velocity by the current eta; Keras keeps each past step's eta."""
    mu = 0.9
    opt = Optimizer("momentum", lr=1.0, momentum=mu, schedule="step", decay_steps=1, decay_rate=0.5)
    got = run(opt.build(3), jnp.asarray(W0), GRADS)
    w_optax, w_keras, v_optax, v_keras = W0.copy(), W0.copy(), np.zeros(2), np.zeros(2)
    for step, g in enumerate(GRADS):
        eta = 0.5**step
        v_optax = g + mu * v_optax
        w_optax = w_optax - eta * v_optax
        v_keras = mu * v_keras - eta * g
        w_keras = w_keras + v_keras
    np.testing.assert_allclose(got[-1], w_optax, rtol=1e-6)
    assert np.max(np.abs(w_optax - w_keras)) > 0.1


def test_nesterov_rule():
    """v <- g + mu v; w <- w - eta (g + mu v)."""
    eta, mu = 0.1, 0.9
    got = run(Optimizer("nesterov", lr=eta, momentum=mu).build(3), jnp.asarray(W0), GRADS)
    w, v = W0.copy(), np.zeros(2)
    for g, w_got in zip(GRADS, got):
        v = g + mu * v
        w = w - eta * (g + mu * v)
        np.testing.assert_allclose(w_got, w, rtol=1e-6)


def test_plain_sgd_rule():
    eta = 0.1
    got = run(Optimizer("sgd", lr=eta).build(3), jnp.asarray(W0), GRADS)
    np.testing.assert_allclose(got[-1], W0 - eta * sum(GRADS), rtol=1e-6)


def test_adam_first_step_moves_each_weight_by_eta():
    """Adam's bias-corrected first step is eta * g / (|g| + eps): eta times the sign of g."""
    (got,) = run(Optimizer("adam", lr=0.01).build(1), jnp.asarray(W0), GRADS[:1])
    np.testing.assert_allclose(got, W0 - 0.01 * np.sign(GRADS[0]), rtol=1e-5)


# -- schedules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, total, expected",
    [
        (dict(schedule="constant"), 100, {0: 1.0, 50: 1.0, 99: 1.0}),
        (
            dict(schedule="step", decay_rate=0.5, decay_steps=10),
            100,
            {0: 1.0, 9: 1.0, 10: 0.5, 19: 0.5, 25: 0.25},
        ),
        (
            dict(schedule="exponential", decay_rate=0.5, decay_steps=10),
            100,
            {0: 1.0, 5: 0.5**0.5, 10: 0.5, 25: 0.5**2.5},
        ),
        (dict(schedule="cosine"), 100, {0: 1.0, 50: 0.5, 100: 0.0}),
        (dict(warmup_steps=10), 100, {0: 0.0, 5: 0.5, 10: 1.0, 60: 1.0}),
        (
            dict(schedule="cosine", warmup_steps=10),
            110,
            {0: 0.0, 4: 0.4, 10: 1.0, 60: 0.5, 110: 0.0},
        ),
        (
            dict(schedule="step", decay_rate=0.1, decay_steps=5, warmup_steps=10),
            100,
            {5: 0.5, 10: 1.0, 14: 1.0, 15: 0.1},
        ),
    ],
)
def test_schedule_gives_expected_eta(settings, total, expected):
    schedule = Optimizer("sgd", lr=1.0, **settings).learning_rate(total)
    for step, eta in expected.items():
        assert float(schedule(step)) == pytest.approx(eta, abs=1e-6), (settings, step)


@pytest.mark.parametrize(
    "settings, total",
    [
        (dict(schedule="step"), 1000),  # decay_steps 1000, the default
        (dict(schedule="step", decay_steps=5), 5),
        (dict(schedule="step", decay_steps=2, warmup_steps=3), 5),
        (dict(schedule="exponential", decay_steps=1000), 1),
        (dict(schedule="exponential", decay_steps=3, warmup_steps=4), 5),
        (dict(schedule="cosine"), 1),
        (dict(schedule="cosine", warmup_steps=4), 5),
    ],
)
@pytest.mark.slow
def test_a_schedule_that_would_never_decay_within_the_run_is_refused(settings, total):
    """Regression: a step schedule decays first at warmup_steps + decay_steps (1000 by default);
    on a shorter run the learning rate stayed as a constant schedule's, silently (jaxmlp train
    --data xor --schedule step --decay-rate 0.5 --epochs 20). Refused exactly where eta(k) of
    every step k < total is the constant schedule's: one step longer, it decays and is taken."""
    rate = {} if settings["schedule"] == "cosine" else {"decay_rate": 0.5}
    opt = Optimizer("sgd", lr=1.0, **rate, **settings)
    plain = Optimizer("sgd", lr=1.0, warmup_steps=opt.warmup_steps)
    steps = jnp.arange(total)
    assert (opt.learning_rate(total)(steps) == plain.learning_rate(total)(steps)).all()
    with pytest.raises(ValueError, match=f"never decay.*the run has {total} steps"):
        check_schedule(opt, total)
    check_schedule(opt, total + 1)
    assert opt.learning_rate(total + 1)(total) < plain.learning_rate(total + 1)(total)


def test_a_warmup_longer_than_the_run_of_a_constant_schedule_is_a_ramp_and_taken():
    """A constant schedule's warmup of more steps than the run raises eta linearly throughout
    (a learning-rate range test): it acts, so it is not refused."""
    check_schedule(Optimizer("sgd", lr=1.0, warmup_steps=10), 5)


def test_build_uses_the_schedule():
    """sgd with a step schedule moves w by eta(k) g at step k."""
    opt = Optimizer("sgd", lr=1.0, schedule="step", decay_rate=0.5, decay_steps=1)
    got = run(opt.build(3), jnp.zeros(2), [np.ones(2, np.float32)] * 3)
    np.testing.assert_allclose([float(p[0]) for p in got], [-1.0, -1.5, -1.75])


# -- weight decay and clipping ------------------------------------------------------------------


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_weight_decay_moves_weights_only(name):
    """With a zero gradient, decay moves every "w" and leaves biases and PReLU slopes alone."""
    params = params_with_slope()
    zero = jax.tree.map(jnp.zeros_like, params)
    (after,) = run(Optimizer(name, lr=0.1, weight_decay=0.5).build(1), params, [zero])
    for layer, new in zip(params, after):
        assert np.all(np.asarray(new["w"]) != np.asarray(layer["w"])), name
        np.testing.assert_array_equal(new["b"], layer["b"])
        if "alpha" in layer:
            np.testing.assert_array_equal(new["alpha"], layer["alpha"])


def test_weight_decay_is_the_gradient_of_half_lambda_w_squared():
    """sgd: w <- w - eta (g + lambda w)."""
    params = params_with_slope()
    grads = jax.tree.map(jnp.ones_like, params)
    (after,) = run(Optimizer("sgd", lr=0.1, weight_decay=0.5).build(1), params, [grads])
    for layer, new in zip(params, after):
        np.testing.assert_allclose(new["w"], layer["w"] - 0.1 * (1 + 0.5 * layer["w"]), rtol=1e-6)
        np.testing.assert_allclose(new["b"], layer["b"] - 0.1, rtol=1e-6)


@pytest.mark.slow
def test_no_weight_decay_by_default():
    params = params_with_slope()
    zero = jax.tree.map(jnp.zeros_like, params)
    for name in FIRST_ORDER:
        (after,) = run(Optimizer(name, lr=0.1).build(1), params, [zero])
        for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(params)):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_clip_norm_rescales_large_gradients_only():
    opt = Optimizer("sgd", lr=1.0, clip_norm=1.0)
    big = np.array([6.0, 8.0], np.float32)  # norm 10
    small = np.array([0.3, 0.4], np.float32)  # norm 0.5
    (clipped,) = run(opt.build(1), jnp.zeros(2), [big])
    (kept,) = run(opt.build(1), jnp.zeros(2), [small])
    np.testing.assert_allclose(clipped, -big / 10, rtol=1e-6)
    np.testing.assert_allclose(kept, -small, rtol=1e-6)


def test_clip_norm_is_global_over_leaves():
    opt = Optimizer("sgd", lr=1.0, clip_norm=1.0)
    params = [{"w": jnp.zeros(1), "b": jnp.zeros(1)}]
    grads = [{"w": jnp.array([3.0]), "b": jnp.array([4.0])}]  # global norm 5
    (after,) = run(opt.build(1), params, [grads])
    np.testing.assert_allclose(after[0]["w"], [-0.6], rtol=1e-6)
    np.testing.assert_allclose(after[0]["b"], [-0.8], rtol=1e-6)


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, shown",
    [
        (dict(name="bfgs"), "'bfgs'"),  # lbfgs is one (second_order)
        (dict(schedule="linear"), "'linear'"),
        (dict(lr=0.0), "0.0"),
        (dict(lr=-1e-3), "-0.001"),
        (dict(lr=float("nan")), "nan"),
        (dict(lr="0.1"), "'0.1'"),
        (dict(momentum=1.0), "1.0"),
        (dict(momentum=-0.1), "-0.1"),
        (dict(momentum="0.9"), "'0.9'"),
        (dict(weight_decay=-0.1), "-0.1"),
        (dict(weight_decay=float("nan")), "nan"),
        (dict(decay_rate=0.0), "0.0"),
        (dict(decay_rate=1.5), "1.5"),
        (dict(decay_steps=0), "0"),
        (dict(warmup_steps=-1), "-1"),
        (dict(warmup_steps=2.5), "2.5"),
        (dict(clip_norm=0.0), "0.0"),
    ],
)
def test_bad_settings_raise_value_error_naming_the_value(settings, shown):
    with pytest.raises(ValueError, match=f"{next(iter(settings))}.*{shown}|{shown}"):
        Optimizer(**settings)


def test_numpy_scalars_are_accepted():
    opt = Optimizer(
        "momentum", np.float32(0.1), np.float64(0.5), schedule="step", decay_steps=np.int64(3)
    )
    (w,) = run(opt.build(1), jnp.zeros(1), [np.ones(1, np.float32)])
    np.testing.assert_allclose(w, [-0.1], rtol=1e-6)


@pytest.mark.parametrize(
    "settings, named",
    [
        (dict(name="adam", momentum=0.5), "momentum"),
        (dict(name="rmsprop", momentum=0.0), "momentum"),
        (dict(name="sgd", decay_rate=0.5, decay_steps=7), "decay_rate"),
        (dict(name="sgd", schedule="cosine", decay_steps=7), "decay_steps"),
    ],
)
def test_a_setting_the_optimizer_would_ignore_is_refused(settings, named):
    # They were accepted and ignored (a momentum of adam, the decay of a constant schedule),
    # while the command line refused the same flags.
    with pytest.raises(ValueError, match=f"{named}=.* would be ignored: "):
        Optimizer(**settings)
    assert Optimizer("sgd", momentum=0.5).momentum_used == 0.5
    assert Optimizer("adam", schedule="step", decay_rate=0.5, decay_steps=7).decay_steps == 7


# -- a non-finite gradient reaches the parameters ------------------------------------------------


def carries(tx) -> dict:
    """For each non-finite value v: after two finite steps, one whose gradient has a single v
    among finite elements (one of them huge), then three finite steps, whether a parameter is
    non-finite after each of the last four."""
    params = params_with_slope()
    finite = jax.tree.map(lambda a: jnp.full_like(a, 0.5), params)

    @jax.jit
    def step(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    out = {}
    for bad in (np.inf, -np.inf, np.nan):
        broken = jax.tree.map(lambda a: a, finite)
        broken[0]["w"] = broken[0]["w"].at[1, 0].set(bad).at[0, 1].set(1e30)
        p, s, seen = params, tx.init(params), []
        for g in [finite, finite, broken, finite, finite, finite]:
            p, s = step(p, s, g)
            seen.append(not all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(p)))
        out[str(bad)] = seen[2:]
    return out


SETTINGS = [{}, {"clip_norm": 1.0}, {"weight_decay": 0.01}, {"warmup_steps": 5}]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(s) or "plain")
@pytest.mark.parametrize("name", FIRST_ORDER)
def test_a_first_order_update_carries_a_non_finite_gradient_into_the_parameters(name, settings):
    """What a population's unguarded epochs rely on (``member_epochs.make_member_epochs``): a step
    with a NaN or infinite gradient element leaves a parameter non-finite, and it stays so
    (the warmup's first steps have eta = 0: 0 * inf is NaN)."""
    assert carries(Optimizer(name, **settings).build(100)) == dict.fromkeys(
        ("inf", "-inf", "nan"), [True] * 4
    )


def test_an_update_that_clips_values_would_not_carry_an_infinite_gradient():
    """The check above can fail: clipping each element maps inf to a finite step."""
    out = carries(optax.chain(optax.clip(1.0), optax.sgd(0.1)))
    assert out == {"inf": [False] * 4, "-inf": [False] * 4, "nan": [True] * 4}


@pytest.mark.parametrize(
    "settings",
    [
        {"warmup_steps": 2**31},
        {"schedule": "step", "decay_steps": 2**31},
        {"schedule": "exponential", "decay_steps": 2**32},
    ],
)
def test_step_counts_beyond_int32_are_refused(settings, fails, tmp_path):
    """Regression: a JAX OverflowError traceback (exit 1) from the int32 step counter."""
    name = "warmup_steps" if "warmup_steps" in settings else "decay_steps"
    with pytest.raises(ValueError, match=f"{name} must be < 2\\*\\*31, got {settings[name]}"):
        Optimizer(**settings)
    argv = ["train", "--data", "xor", "--epochs", "1", "--hidden", "3", "--no-progress"]
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    assert f"{name} must be < 2**31" in fails([*argv, *flags, "--out", str(tmp_path / "r")])
    Optimizer(warmup_steps=2**31 - 1)


@pytest.mark.parametrize("x64", [False, True])
def test_a_decay_rate_that_is_0_in_the_float32_schedule_is_refused(x64, fails, tmp_path):
    """Regression: optax computes eta * decay_rate ** (step / decay_steps) in float32, in a
    float64 run too, where a decay_rate of 1e-40 is a subnormal, flushed to 0: eta was 0 from
    the second step on (not 0.91 eta, 0.4 eta at step 10 of decay_steps 1000), so the run
    trained one step, exit 0. A rate below float32's smallest normal number is refused, by
    ``Optimizer`` and ``jaxmlp train``; that number itself decays as it should."""
    tiny = float(np.finfo(np.float32).tiny)  # 1.175e-38
    settings = dict(schedule="exponential", decay_steps=1000)
    with jax.enable_x64(x64):
        eta = lambda opt: float(jax.jit(opt.learning_rate(10**4))(jnp.int32(1)))  # noqa: E731
        smallest = Optimizer("sgd", lr=1.0, decay_rate=tiny, **settings)
        assert eta(smallest) == pytest.approx(tiny ** (1 / 1000), rel=1e-6)
        below = Optimizer("sgd", lr=1.0, **settings)
        object.__setattr__(below, "decay_rate", 1e-40)  # as Optimizer took it before
        assert eta(below) == 0  # not 1e-40 ** (1 / 1000) = 0.91
    for rate in (1e-40, 1e-320, np.nextafter(np.float32(tiny), np.float32(0))):
        with pytest.raises(ValueError, match=r"decay_rate must be in \[1.175e-38, 1\], got"):
            Optimizer("sgd", decay_rate=rate, **settings)
    argv = ["train", "--data", "xor", "--epochs", "2", "--hidden", "3", "--no-progress"]
    argv += ["--optimizer", "sgd", "--schedule", "exponential", "--decay-rate=1e-40"]
    assert "decay_rate must be in [1.175e-38, 1], got 1e-40" in fails(
        [*argv, "--out", str(tmp_path)]
    )
