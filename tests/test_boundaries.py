"""The Python API validates at its boundary (issue 16): each misuse is a ValueError naming the
problem, never a silently wrong number, an IndexError or a crash later in the run."""

import dataclasses
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import (
    MLP,
    Optimizer,
    TrainConfig,
    checkpoint,
    datasets,
    evaluate,
    fit,
    fit_population,
    initializers,
)

NET = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
T = np.array([[0.0], [1], [1], [0]], np.float32)


# -- init specs keep the user's numbers -----------------------------------------------------------


def test_an_init_spec_is_not_rounded():
    net = MLP((2, 3, 1), init="uniform:1,1.0000001")
    assert net.init_scheme == "uniform:1,1.0000001"
    w = np.asarray(net.init(jax.random.key(0))[0]["w"])
    assert ((w >= 1) & (w <= 1.0000001)).all()
    assert MLP((2, 1), init="normal:0.12345678").init_scheme == "normal:0.12345678"
    scheme = initializers.parse("normal:0.1234567890123")
    assert initializers.parse(str(scheme)) == scheme  # a round trip is exact
    assert str(initializers.parse("uniform:-1,1")) == "uniform:-1,1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("normal:inf", "arguments must be finite numbers"),
        ("uniform:nan,1", "arguments must be finite numbers"),
    ],
)
def test_init_specs_must_be_finite(spec, message):
    with pytest.raises(ValueError, match=message):
        initializers.parse(spec)


def test_an_init_beyond_the_dtype_is_refused_when_drawn():
    net = MLP((2, 3, 1), init="normal:1e39")
    with pytest.raises(ValueError, match=r"'normal:1e\+39': std = 1e\+39 is outside the range of"):
        net.init(jax.random.key(0))


# -- seeds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**32, 2**32 + 7, 2**63, 2**64, -1])
def test_seeds_past_32_bits_are_refused(seed):
    """Without x64, ``jax.random.key`` keeps a seed's low 32 bits: the seeds 2**32 and 0 drew
    the same initial parameters and shuffles (two "different" runs, one network)."""
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
        TrainConfig(seed=seed)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
        fit_population(NET, X, T, Optimizer(), TrainConfig(epochs=1), seeds=[0, seed])


def test_the_largest_seed_trains_its_own_network():
    config = TrainConfig(epochs=1, batch_size="full", seed=2**32 - 1, devices=1)
    last = fit(NET, X, T, Optimizer(), config)
    first = fit(NET, X, T, Optimizer(), dataclasses.replace(config, seed=0))
    assert len(last.history) == 1
    assert not np.array_equal(last.params[0]["w"], first.params[0]["w"])


# -- parameters, inputs and targets -----------------------------------------------------------


def test_evaluate_refuses_parameters_of_another_architecture():
    params = MLP((2, 4, 1), "tanh", "sigmoid", "bce").init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"params\[0\] does not match the architecture"):
        evaluate(NET, params, X, T)
    with pytest.raises(ValueError, match="params must be a list of 2 layer dicts .* got 0"):
        evaluate(NET, [], X, T)


def test_evaluate_refuses_a_batch_size_that_is_not_a_positive_integer():
    """``batch_size=-1`` evaluated no batch at all and returned loss 0.0, accuracy 0.0 (exit 0);
    0 and 2.5 failed inside ``range`` with messages that did not name the setting."""
    params = NET.init(jax.random.key(0))
    for bad in (-1, 0, 2.5, True):
        with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got"):
            evaluate(NET, params, X, T, batch_size=bad)
    assert evaluate(NET, params, X, T, batch_size=1) == pytest.approx(evaluate(NET, params, X, T))


def test_integer_parameters_are_refused():
    params = jax.tree.map(lambda a: a.astype(jnp.int32), NET.init(jax.random.key(0)))
    with pytest.raises(ValueError, match=r"params\[0\]\['b'\] has dtype int32: .* real floating"):
        NET.apply(params, X)
    with pytest.raises(ValueError, match="real floating"):
        fit(NET, X, T, params=params, config=TrainConfig(epochs=1, devices=1))


def test_class_labels_into_a_sigmoid_bce_net_are_refused():
    params = NET.init(jax.random.key(0))
    labels = np.arange(4) % 6 + 2  # 2..5: not 0/1
    with pytest.raises(
        ValueError, match=r"loss 'bce' must lie in \[0, 1\].*got values in \[2, 5\]"
    ):
        NET.cost(params, X, labels)
    with pytest.raises(ValueError, match="must lie in"):
        evaluate(NET, params, X, labels)
    with pytest.raises(ValueError, match="must lie in"):
        fit(NET, X, labels, config=TrainConfig(epochs=1, devices=1))
    assert np.isfinite(NET.cost(params, X, np.array([0, 1, 1, 0])))  # 0/1 labels are fine


def test_inputs_beyond_the_compute_dtype_are_refused():
    params = NET.init(jax.random.key(0))
    x = np.array([[1e300, 0.0]])
    with pytest.raises(ValueError, match=r"x: value 1e\+300 exceeds the float32 range"):
        NET.apply(params, x)
    with pytest.raises(ValueError, match="x must be real numbers, got dtype complex"):
        NET.apply(params, X + 1j)


# -- a validation set is x_val and t_val -----------------------------------------------------------


@pytest.mark.parametrize(("given", "missing"), [(dict(t_val=T), "x_val"), (dict(x_val=X), "t_val")])
def test_half_a_validation_set_is_refused_naming_the_missing_half(given, missing):
    """t_val alone was ignored (no validation ran); x_val alone was "t must have shape ...,
    got ()", naming t."""
    shown = f"{next(iter(given))} without {missing}"
    config = TrainConfig(epochs=1, batch_size="full")
    with pytest.raises(ValueError, match=shown):
        fit(NET, X, T, Optimizer("sgd"), config, **given)
    with pytest.raises(ValueError, match=shown):
        fit_population(NET, X, T, Optimizer("sgd"), config, seeds=[0, 1], **given)


# -- masked arrays -------------------------------------------------------------------------------


def _masked(a, *where):
    """``a`` as a NumPy masked array whose entries ``where`` are masked."""
    m = np.ma.masked_array(np.array(a), False)
    for w in where:
        m[w] = np.ma.masked
    return m


MASKED = "is a masked array with 1 masked entries"
CONFIG1 = TrainConfig(epochs=1, batch_size="full")


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("x", dict(x=_masked(X, (0, 0)))),
        ("t", dict(t=_masked(T, (1, 0)))),
        ("x_val", dict(x_val=_masked(X, (0, 0)), t_val=T)),
        ("t_val", dict(x_val=X, t_val=_masked(T, (1, 0)))),
    ],
)
def test_masked_data_is_refused_not_trained_on_the_values_under_its_mask(name, kwargs):
    """np.asarray drops a mask: the hidden numbers trained as if they were data."""
    data = {"x": X, "t": T} | kwargs
    x, t = data.pop("x"), data.pop("t")
    shown = f"{name} {MASKED}: fill"
    with pytest.raises(ValueError, match=shown):
        fit(NET, x, t, Optimizer("sgd"), CONFIG1, **data)
    with pytest.raises(ValueError, match=shown):
        fit_population(NET, x, t, Optimizer("sgd"), CONFIG1, seeds=[0, 1], **data)


def test_masked_data_is_refused_before_val_fraction_splits_it():
    x, t = np.tile(X, (4, 1)), np.tile(T, (4, 1))
    config = TrainConfig(epochs=1, val_fraction=0.25)
    with pytest.raises(ValueError, match=f"x {MASKED}"):
        fit(NET, _masked(x, (5, 1)), t, Optimizer("sgd"), config)
    with pytest.raises(ValueError, match=f"sample_weight {MASKED}"):
        fit(NET, x, t, Optimizer("sgd"), config, sample_weight=_masked(np.ones(16), 3))


def test_masked_inputs_are_refused_by_the_networks_own_methods():
    params = NET.init(jax.random.key(0))
    with pytest.raises(ValueError, match=f"x {MASKED}"):
        NET.predict(params, _masked(X, (2, 1)))
    with pytest.raises(ValueError, match=f"t {MASKED}"):
        evaluate(NET, params, X, _masked(T, (2, 0)))
    unmasked = np.ma.masked_array(X, False)  # nothing hidden: its numbers are the data
    np.testing.assert_array_equal(NET.predict(params, unmasked), NET.predict(params, X))


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        (dict(hyper={"lr": _masked([0.1, 0.2], 1)}), f"hyper['lr'] {MASKED}"),
        (dict(seeds=_masked([1, 2], 1)), f"seeds {MASKED}"),
        (dict(seeds=[0, 1], rows=(_masked([[0, 1], [1, 2]], (1, 1)), [[3], [0]])),
         f"rows {MASKED}"),
    ],
)  # fmt: skip
def test_masked_population_settings_are_refused_not_read_under_the_mask(kwargs, shown):
    """hyper={'lr': [0.1, --]} trained its second member with the hidden lr 0.2."""
    with pytest.raises(ValueError, match=re.escape(shown)):
        fit_population(NET, X, T, Optimizer("sgd"), CONFIG1, **kwargs)


# -- records -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(lr=float("inf")), "lr must be a finite number > 0, got inf"),
        (dict(lr=float("nan")), "lr must be a finite number > 0"),
        (dict(weight_decay=float("inf")), "weight_decay must be >= 0"),
        (dict(clip_norm=float("inf")), "clip_norm must be a finite number > 0"),
        (dict(momentum=float("nan")), "momentum must be in"),
    ],
)
def test_optimizer_numbers_must_be_finite(settings, message):
    with pytest.raises(ValueError, match=message):
        Optimizer(**settings)


@pytest.mark.slow
def test_numpy_numbers_are_stored_as_python_numbers(tmp_path):
    config = TrainConfig(
        epochs=np.int64(2), batch_size=np.int32(2), seed=np.uint8(3), val_fraction=np.float32(0)
    )
    assert type(config.epochs) is int and type(config.batch_size) is int
    assert type(config.seed) is int and type(config.val_fraction) is float
    opt = Optimizer("sgd", lr=np.float32(0.1), schedule="step", decay_steps=np.int64(3))
    assert type(opt.lr) is float and type(opt.decay_steps) is int
    result = fit(NET, X, T, opt, TrainConfig(**{**config.__dict__, "devices": 1}))
    checkpoint.save(tmp_path / "c.npz", result.state, net=NET, optimizer=opt, config=config)
    assert checkpoint.load(tmp_path / "c.npz").state.epoch == 2
    json.dumps(config.__dict__)


def test_numbers_given_as_0_d_jax_or_numpy_arrays_are_taken_as_python_numbers():
    """Regression: ``Optimizer(lr=jnp.float32(0.1))`` was refused: "lr must be a finite number
    > 0, got Array(0.1, dtype=float32)". A 0-d array of a real dtype is its number."""
    opt = Optimizer("momentum", lr=jnp.float32(0.1), momentum=np.array(0.5), clip_norm=jnp.array(2))
    assert (type(opt.lr), opt.lr) == (float, float(np.float32(0.1)))
    assert (opt.momentum, opt.clip_norm) == (0.5, 2.0)
    assert type(TrainConfig(val_fraction=jnp.float32(0.25)).val_fraction) is float
    for bad in (jnp.float32(-0.1), jnp.ones(2), jnp.array(True)):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            Optimizer(lr=bad)


def test_integer_settings_take_0_d_integer_arrays_as_their_numbers():
    """Regression: ``TrainConfig(epochs=np.array(3))`` was refused ("epochs must be an integer
    >= 1, got array(3)") while ``lr=np.array(0.1)`` was taken: a 0-d array of an integer dtype
    is its number for every integer setting, kept as Python's; of a float dtype it is no
    integer (as 3.0 is none), nor is a bool."""
    config = TrainConfig(
        epochs=np.array(3), batch_size=jnp.array(2), seed=np.array(4, np.uint8),
        early_stopping=jnp.int32(2), devices=np.array(1), chunk_steps=np.array(5),
    )  # fmt: skip
    kept = (config.epochs, config.batch_size, config.seed, config.early_stopping, config.devices)
    assert kept == (3, 2, 4, 2, 1) and {type(v) for v in kept} == {int}
    json.dumps(dataclasses.asdict(config))
    opt = Optimizer("sgd", lr=0.1, schedule="step", decay_steps=np.array(3), decay_rate=0.5)
    assert (type(opt.decay_steps), opt.decay_steps) == (int, 3)
    assert MLP((2, np.array(3), jnp.array(1))).sizes == (2, 3, 1)
    ds = datasets.load("xor", seed=np.array(1))
    assert ds.name == "xor"
    assert datasets.from_arrays(X, np.arange(len(X)) % 2, seed=jnp.array(2), n=np.array(2)).task
    for bad in (np.array(3.0), np.float64(3.0), jnp.array(True), np.True_, np.ones(1, int)):
        with pytest.raises(ValueError, match=r"epochs must be an integer >= 1, got "):
            TrainConfig(epochs=bad)
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
            datasets.load("xor", seed=bad)
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1, got array\(0\)"):
        TrainConfig(epochs=np.array(0))


def test_evaluate_of_no_examples_names_evaluation_not_training():
    """Regression: ``evaluate`` of an empty set said "training needs at least one example"."""
    with pytest.raises(ValueError, match="x is empty: evaluate needs at least one example"):
        evaluate(NET, NET.init(jax.random.key(0)), np.ones((0, 2), np.float32), T[:0])


def test_evaluate_refuses_non_finite_parameters():
    params = NET.init(jax.random.key(0))
    params[1]["w"] = params[1]["w"].at[0, 0].set(jnp.nan)
    with pytest.raises(ValueError, match=r"params\[1\]\['w'\] holds NaN or Inf values"):
        evaluate(NET, params, X, T)
    with pytest.raises(ValueError, match="holds NaN or Inf"):
        NET.check_params(params, finite=True)
    NET.check_params(params)  # shapes and dtypes only, by default


# -- numbers in the compute dtype ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"lr": 1e-320}, "lr = 1e-320 is outside the range of float32"),  # trained with lr 0
        ({"lr": 1e-40}, "lr = 1e-40 is outside"),  # a subnormal: XLA:CPU flushes it to 0
        ({"lr": 1e39}, "lr = 1e+39 is outside"),
        ({"lr": 0.1, "weight_decay": 1e-50}, "weight_decay = 1e-50 is outside"),
    ],
)
def test_a_number_the_float32_step_cannot_hold_is_refused(kwargs, shown):
    config = TrainConfig(epochs=1, batch_size="full")
    with pytest.raises(ValueError, match=re.escape(shown)):
        fit(NET, X, T, Optimizer("sgd", **kwargs), config)
    with pytest.raises(ValueError, match=re.escape(shown)):
        fit_population(NET, X, T, Optimizer("sgd", **kwargs), config, seeds=[0, 1])
    name, value = list(kwargs.items())[-1]
    with pytest.raises(ValueError, match=re.escape(shown)):
        fit_population(NET, X, T, Optimizer("sgd"), config, hyper={name: [0.1, value]})


def test_an_init_scale_that_rounds_to_zero_is_refused():
    config = TrainConfig(epochs=1, batch_size="full")
    with pytest.raises(ValueError, match="init_scale = 1e-50 is outside the range of float32"):
        fit_population(NET, X, T, Optimizer("sgd"), config, hyper={"init_scale": [1.0, 1e-50]})


@pytest.mark.slow
def test_outputs_with_nan_give_accuracy_nan_as_they_give_loss_nan():
    """argmax of a NaN row is 0 and NaN > 0.5 is false: such rows were counted correct
    (accuracy 1.0 beside loss NaN)."""
    from jaxmlp.step import correct

    net = MLP((2, 3, 3), "relu", "softmax", "cross_entropy")
    params = net.init(jax.random.key(0))
    x = jnp.array([[3e38, -3e38], [3e38, 3e38], [0.1, 0.2]], jnp.float32)
    assert np.isnan(net.apply(params, x)[:2]).all()
    for s in (None, [1.0, 1.0, 1.0]):
        result = evaluate(net, params, x, jnp.array([0, 0, 1]), sample_weight=s)
        assert np.isnan(result["loss"]) and np.isnan(result["accuracy"]), result
    y = jnp.array([[0.2, 0.8], [jnp.nan, 0.1]])
    for output in ("softmax", "sigmoid"):
        decider = MLP((2, 3, 2), "tanh", output, "mse")
        for s in (None, jnp.ones(2)):
            assert np.isnan(correct(decider, y, jnp.zeros((2, 2)), s)), (output, s)
        assert not np.isnan(correct(decider, y[:1], jnp.zeros((1, 2))))


# -- a row whose outputs are not finite has no label ---------------------------------------------


def _overflowing(output, k, loss):
    """A net whose outputs are NaN for the rows of ``X_HUGE`` with x_0 = 3e38 (both hidden
    units overflow float32 to inf and each output takes inf - inf) and finite for the others."""
    net = MLP((2, 2, k), "relu", output, loss)
    params = [
        {"w": jnp.array([[2.0, 2.0], [0.0, 0.0]]), "b": jnp.zeros(2)},
        {"w": jnp.array([[1.0] * k, [-1.0] * k]), "b": jnp.zeros(k)},
    ]
    return net, params


X_HUGE = np.array([[1.0, 0.0], [3e38, 0.0], [0.5, 0.0], [3e38, 1.0]], np.float32)  # finite
DECIDERS = [("softmax", 3, "cross_entropy"), ("sigmoid", 1, "bce"), ("sigmoid", 3, "bce"),
            ("threshold", 1, "bce")]  # fmt: skip
REFUSAL = r"2 of 4 rows.*rows \[1, 3\].*outside the range.*non-finite parameters"


@pytest.mark.parametrize(("output", "k", "loss"), DECIDERS)
def test_predict_refuses_rows_whose_outputs_are_not_finite(output, k, loss):
    """argmax of a NaN row is 0 and NaN > 0.5 is false: such rows were given class 0 (or the
    negative label) as if the network had decided them."""
    net, params = _overflowing(output, k, loss)
    y = np.asarray(net.apply(params, X_HUGE))
    assert np.isnan(y[[1, 3]]).all() and np.isfinite(y[[0, 2]]).all()
    with pytest.raises(ValueError, match=REFUSAL):
        net.predict(params, X_HUGE)
    assert net.predict(params, X_HUGE[[0, 2]]).shape[0] == 2  # finite rows are decided


@pytest.mark.parametrize(("output", "k", "loss"), DECIDERS)
def test_predict_under_jit_gives_such_rows_no_label(output, k, loss):
    """Traced, predict cannot raise: a row with a non-finite output is -1 (scikit-learn's 'no
    label'), every unit of it for multilabel, 0 for the threshold unit whose labels are -1/+1."""
    net, params = _overflowing(output, k, loss)
    labels = np.asarray(jax.jit(net.predict)(params, X_HUGE))
    eager = np.asarray(net.predict(params, X_HUGE[[0, 2]]))
    none = 0 if output == "threshold" else -1
    assert (labels[[1, 3]] == none).all(), labels
    np.testing.assert_array_equal(labels[[0, 2]], eager)
    assert none not in eager  # the sentinel is no label the output gives


def test_a_loaded_model_and_the_command_line_refuse_such_rows(tmp_path, capsys):
    from jaxmlp import cli, load_run, save_run

    for output, k, loss in DECIDERS:
        net, params = _overflowing(output, k, loss)
        model = load_run(save_run(tmp_path / f"{output}{k}", net, params))
        for predicts in (model.predict, model.predict_proba):
            with pytest.raises(ValueError, match=REFUSAL):
                predicts(X_HUGE)
        with pytest.raises(ValueError, match=REFUSAL):
            model.labels(model.outputs(X_HUGE))
        assert len(model.predict(X_HUGE[[0, 2]])) == 2
    np.save(tmp_path / "x.npy", X_HUGE)
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "softmax3"), "--input", f"{tmp_path}/x.npy"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and re.search(REFUSAL, err), err


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.slow
def test_the_sklearn_estimators_refuse_such_rows():
    """A label or a probability of a NaN output is refused; a regressor's NaN too, as
    ``jaxmlp predict`` refuses it (it returned NaN: test_sklearn_inputs.py)."""
    from jaxmlp.sklearn import MLPClassifier, MLPRegressor

    x = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    for output, k, y in [("softmax", 3, np.arange(12) % 3), ("sigmoid", 1, np.arange(12) % 2),
                         ("sigmoid", 3, (np.arange(36) % 4 == 0).reshape(12, 3))]:  # fmt: skip
        clf = MLPClassifier((2,), max_iter=2, random_state=0).fit(x, y)
        params = _overflowing(output, k, "mse" if output == "sigmoid" else "cross_entropy")[1]
        clf.coefs_ = [np.asarray(layer["w"]) for layer in params]
        clf.intercepts_ = [np.asarray(layer["b"]) for layer in params]
        for predicts in (clf.predict, clf.predict_proba, clf.predict_log_proba):
            with pytest.raises(ValueError, match=REFUSAL):
                predicts(X_HUGE)
        assert len(clf.predict(X_HUGE[[0, 2]])) == 2
    reg = MLPRegressor(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(x, x[:, 0])
    params = _overflowing("identity", 1, "mse")[1]
    reg.coefs_ = [np.asarray(layer["w"]) for layer in params]
    reg.intercepts_ = [np.asarray(layer["b"]) for layer in params]
    with pytest.raises(ValueError, match=REFUSAL):
        reg.predict(X_HUGE)
    assert np.isfinite(reg.predict(X_HUGE[[0, 2]])).all()
