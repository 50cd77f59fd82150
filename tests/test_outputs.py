"""The outputs of issues 19 and 20: softmax with a temperature beta (seed 003, "softmax:beta"),
seed 003's threshold unit (a sigmoid on -1/+1 labels that predicts -1/+1), and Poisson
regression (the exp output with scikit-learn's half Poisson deviance). Records and canonical
pairs against jax in float64 with their mutation twins, finiteness at large logits, bad input,
and the output spec through checkpoints and the command line."""

import csv
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neural_network._base import poisson_loss

import jaxmlp
from jaxmlp import MLP, checkpoint, cli, losses, outputs, softmax_bce
from jaxmlp.curvature_check import check_curvature
from jaxmlp.gradient_check import gradcheck
from jaxmlp.gradient_matrix import gradcheck_matrix, valid_pairs
from jaxmlp.train import TrainState


def small(output, loss, k=3, seed=0, n=5, width=4):
    """A (3, width, k) tanh net in float64, its inputs and targets that suit the pair. (A
    mutation twin takes its own width: jit caches the compiled passes per net.)"""
    net = MLP((3, width, k), "tanh", output, loss)
    params = net.init(jax.random.key(seed), jnp.float64)
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((n, 3)))
    if output == "threshold":
        t = jnp.asarray(rng.choice([-1.0, 1.0], (n, k)))
    elif loss == "poisson":
        t = jnp.asarray(rng.poisson(2.0, (n, k)).astype(np.float64))
    else:
        t = jax.nn.one_hot(rng.integers(0, k, n), k, dtype=jnp.float64)
    return net, params, x, t


# -- softmax with temperature beta ----------------------------------------------------------------


@pytest.mark.slow
def test_plain_softmax_is_unchanged_bit_for_bit():
    """ "softmax", "softmax:1" and "softmax:1.0" are one record; its outputs, cost and output
    delta are, bit for bit, jax.nn.softmax, logsumexp(z) - z_label (from the gaps to the largest
    logit, ``softmax_bce.cross_entropy_cost``: exact where logsumexp(z) - z_label cancels) and
    y - t."""
    assert outputs.get("softmax:1") is outputs.get("softmax:1.0") is outputs.get("softmax")
    assert MLP((2, 3), output="softmax:1.0", loss="cross_entropy").output == "softmax"
    assert losses.pair("softmax:1", "cross_entropy") is losses.pair("softmax", "cross_entropy")
    z = jax.random.normal(jax.random.key(0), (6, 4)) * 5
    t = jax.nn.one_hot(jnp.arange(6) % 4, 4)
    out, pair = outputs.get("softmax"), losses.pair("softmax", "cross_entropy")
    y = out.fn(z)
    assert jnp.array_equal(y, jax.nn.softmax(z, axis=-1))
    cost = jax.nn.logsumexp(z, -1) * jnp.sum(t, -1) - jnp.sum(t * z, -1)
    assert jnp.array_equal(pair.cost(z, y, t), softmax_bce.cross_entropy_cost(z, t))
    np.testing.assert_allclose(pair.cost(z, y, t), cost, rtol=1e-6, atol=1e-6)  # its rounding
    assert jnp.array_equal(pair.delta(z, y, t), y * jnp.sum(t, -1, keepdims=True) - t)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("beta", [0.5, 2.5])
@pytest.mark.slow
def test_tempered_softmax_records_and_pair_equal_jax(beta):
    """J = beta (diag(y) - y y^T), the second-order term, and the canonical pair's delta
    beta (y sum t - t) and curvature beta^2 (diag(y) - y y^T) sum t, against jax and against
    the chain rule through the records."""
    spec = f"softmax:{beta}"
    out = outputs.get(spec)
    rng = np.random.default_rng(1)
    z, g, u = (jnp.asarray(rng.standard_normal((4, 3))) for _ in range(3))
    t = jnp.asarray(rng.dirichlet(np.ones(3), 4) * 1.5)  # rows summing to 1.5: the general case
    y = out.fn(z)
    np.testing.assert_allclose(y, jax.nn.softmax(beta * z), rtol=1e-15)
    jac = jax.vmap(jax.jacobian(lambda zi: jax.nn.softmax(beta * zi)))(z)
    np.testing.assert_allclose(out.vjp(z, y, g), jnp.einsum("nk,nkj->nj", g, jac), rtol=1e-13)
    closed = beta * (jax.vmap(jnp.diag)(y) - y[:, :, None] * y[:, None, :])
    np.testing.assert_allclose(jac, closed, rtol=1e-13, atol=1e-16)

    def g_dot_y(zi, gi):
        return jnp.dot(gi, jax.nn.softmax(beta * zi))

    second = jax.vmap(lambda zi, gi, ui: jax.hessian(g_dot_y)(zi, gi) @ ui)(z, g, u)
    np.testing.assert_allclose(out.curvature(z, y, g, u), second, rtol=1e-12, atol=1e-15)

    pair, chain = losses.pair(spec, "cross_entropy"), losses.chain_pair(spec, "cross_entropy")

    def cost(zi, ti):
        return -jnp.sum(ti * jnp.log(jax.nn.softmax(beta * zi)))

    total = jnp.sum(t, -1, keepdims=True)
    np.testing.assert_allclose(pair.cost(z, y, t), jax.vmap(cost)(z, t), rtol=1e-13)
    np.testing.assert_allclose(pair.delta(z, y, t), beta * (y * total - t), rtol=1e-15)
    np.testing.assert_allclose(pair.delta(z, y, t), jax.vmap(jax.grad(cost))(z, t), rtol=1e-12)
    hess = jax.vmap(lambda zi, ti, ui: jax.hessian(cost)(zi, ti) @ ui)(z, t, u)
    np.testing.assert_allclose(pair.hvp(z, y, t, u), hess, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pair.hvp(z, y, t, u), chain.hvp(z, y, t, u), rtol=1e-12)
    np.testing.assert_allclose(pair.delta(z, y, t), chain.delta(z, y, t), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.slow
def test_tempered_softmax_cross_entropy_is_exact_at_logits_of_1e4(dtype):
    """From the logits with log-sum-exp: beta = 2.5, logits (1e4, -1e4, 0) and the wrong label
    1 cost logsumexp(2.5 z) - 2.5 z_1 = 2.5e4 + 2.5e4 exactly, and the delta is finite."""
    with jax.enable_x64(dtype == "float64"):
        net = MLP((1, 3), output="softmax:2.5", loss="cross_entropy")
        params = [{"w": jnp.asarray([[1e4, -1e4, 0.0]], dtype), "b": jnp.zeros(3, dtype)}]
        x, t = jnp.ones((1, 1), dtype), jnp.asarray([1])
        assert float(net.cost(params, x, t)) == 5e4
        grads = net.backprop(params, x, t)
        np.testing.assert_array_equal(grads[0]["b"], 2.5 * np.array([1.0, -1.0, 0.0]))


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_a_tempered_pair_one_percent_off_is_caught(monkeypatch):
    """Mutation twins: the tempered pair's delta 1 % off fails the gradient check, its
    curvature 1 % off fails the curvature checks."""
    right = losses._TEMPERED["softmax", "cross_entropy"]  # passes: the matrices test below
    for width, field in ((5, "delta"), (6, "hvp")):
        net, params, x, t = small("softmax:2.5", "cross_entropy", width=width)
        wrong = getattr(right(2.5), field)
        off = lambda *a, wrong=wrong: 1.01 * wrong(*a)  # noqa: E731
        monkeypatch.setitem(
            losses._TEMPERED,
            ("softmax", "cross_entropy"),
            lambda b, field=field, off=off: right(b)._replace(**{field: off}),
        )
        if field == "delta":
            assert not gradcheck(net, params, x, t).ok
        else:
            errors = check_curvature(net, params, x, t, checks=("hvp", "fd", "gn"))
            assert all(e > 1e-4 for e in errors.values()), errors


BAD_BETAS = ["0", "-2", "nan", "inf", "-inf", "two", "", "1,2"]


@pytest.mark.parametrize("spec", [f"softmax:{beta}" for beta in BAD_BETAS])
def test_a_bad_temperature_names_the_allowed_values(spec):
    with pytest.raises(ValueError, match=r"beta must be a finite number > 0, as in 'softmax:2.0'"):
        MLP((2, 3), output=spec, loss="cross_entropy")
    with pytest.raises(ValueError, match="takes no number.*'softmax'"):
        MLP((2, 1), output="sigmoid:2", loss="bce")
    with pytest.raises(ValueError, match="Unknown output: 2.0.*'softmax'"):
        outputs.get(2.0)


@pytest.mark.slow
@pytest.mark.parametrize("beta", ["1e-50", "1e-40", "1e39"])
def test_a_temperature_the_parameters_dtype_cannot_hold_is_refused(beta, fails, tmp_path):
    """Regression: beta * z is computed in the parameters' dtype, where 1e-50 (or the subnormal
    1e-40, flushed) is 0 and 1e39 Inf: a float32 softmax:1e-50 run gave every class 1/K, its
    loss stayed ln K with a zero gradient and it exited 0; softmax:1e39 "diverged, try a lower
    learning rate". Refused by the rule of every number a net takes (``numeric.outside``) where
    a dtype meets the net, drawing or given parameters; float64 holds them and takes them."""
    net = MLP((2, 3, 2), output=f"softmax:{beta}", loss="cross_entropy")
    says = f"Output {net.output!r}: the temperature beta = {float(beta)!r} is outside"
    with pytest.raises(ValueError, match=re.escape(says + " the range of float32")):
        net.init(jax.random.key(0))
    params = MLP((2, 3, 2), output="softmax", loss="cross_entropy").init(jax.random.key(0))
    with pytest.raises(ValueError, match=re.escape(says)):
        net.apply(params, np.ones((1, 2)))
    with jax.enable_x64(True):
        y = net.apply(net.init(jax.random.key(0), jnp.float64), np.array([[1.0, -2.0]]))
        assert np.isfinite(y).all()
    argv = ["train", "--data", "moons", "--epochs", "1", "--output", f"softmax:{beta}"]
    assert says in fails([*argv, "--no-progress", "--out", str(tmp_path / "r")])


@pytest.mark.slow
def test_a_temperature_whose_square_overflows_is_refused_by_name():
    # "softmax:1e200" was built, and its hvp raised a bare OverflowError from beta**2.
    with pytest.raises(ValueError, match=r"beta must be .* at most 1.34e\+154.*got '1e200'"):
        MLP((2, 3), output="softmax:1e200", loss="cross_entropy")
    net = MLP((2, 3), output="softmax:1e154", loss="cross_entropy")  # beta**2 a float: built
    with jax.enable_x64(True):
        params = net.init(jax.random.key(0), jnp.float64)
        net.hvp(params, np.ones((2, 2)), np.array([0, 1]), params)  # no OverflowError


@pytest.mark.slow
def test_the_spec_round_trips_through_a_checkpoint(tmp_path):
    net = MLP((2, 3, 3), "tanh", "softmax:2.0", "cross_entropy")
    assert net.output == "softmax:2" and net == MLP((2, 3, 3), "tanh", "softmax:2", "cross_entropy")
    params = net.init(jax.random.key(0))
    opt, config = jaxmlp.Optimizer("sgd"), jaxmlp.TrainConfig(epochs=1)
    state = TrainState(params, opt.build(1).init(params), 1, params, 0.5, 1)
    path = tmp_path / "c.npz"
    checkpoint.save(path, state, net=net, optimizer=opt, config=config)
    loaded = checkpoint.load(path)
    assert loaded.net == net and loaded.net.output == "softmax:2"
    with pytest.raises(ValueError, match="architecture"):
        checkpoint.load(path, net=net.replace(output="softmax:3"))


def _csv(path, x, labels):
    with open(path, "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow([*(f"x{i}" for i in range(x.shape[1])), "label"])
        rows.writerows([*map(float, xi), label] for xi, label in zip(x, labels))
    return path


@pytest.mark.slow
def test_the_spec_round_trips_through_the_command_line(tmp_path, capsys):
    """train --output softmax:2.0: config.json holds "softmax:2", --resume of the finished run
    accepts it, and predict gives class names; a bad beta exits 2 with one error line."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2))
    classes = np.array(["a", "b", "c"])[np.argmax(x @ [[1, -1, 0], [0, 1, -1]], 1)]
    data = _csv(tmp_path / "three.csv", x, classes)
    out = tmp_path / "run"
    args = ["train", "--no-progress", "--data", data, "--hidden", "4", "--epochs", "2"]
    assert cli.main([*map(str, args), "--output", "softmax:2.0", "--out", str(out)]) == 0
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert (settings["output"], settings["loss"]) == ("softmax:2", "cross_entropy")
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(out), "--input", str(data)]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.split()[1:]]
    assert len(rows) == 60 and {row[0] for row in rows} <= {"a", "b", "c"}
    status = cli.main([*map(str, args), "--output", "softmax:0", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "beta must be a finite number > 0" in err and "Traceback" not in err


# -- the threshold unit (seed 003) ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_threshold_is_the_sigmoid_on_labels_mapped_to_0_1_and_predicts_them():
    net, params, x, t = small("threshold", "bce", k=1)
    sigmoid = net.replace(output="sigmoid")
    t01 = (t + 1) / 2
    assert jnp.array_equal(net.apply(params, x), sigmoid.apply(params, x))
    assert net.cost(params, x, t) == sigmoid.cost(params, x, t01)
    for a, b in zip(
        jax.tree.leaves(net.backprop(params, x, t)),
        jax.tree.leaves(sigmoid.backprop(params, x, t01)),
    ):
        assert jnp.array_equal(a, b)
    labels = net.predict(params, x)
    assert labels.shape == (5,) and labels.dtype == jnp.int32
    np.testing.assert_array_equal(labels, np.where(sigmoid.predict(params, x) == 1, 1, -1))
    two = MLP((3, 4, 2), "tanh", "threshold", "sse")
    assert set(np.unique(two.predict(two.init(jax.random.key(0)), x)).tolist()) <= {-1, 1}


def test_threshold_refuses_0_1_labels_and_sigmoid_bce_refuses_minus_one():
    """Labels of the wrong convention are refused, never trained on: 0/1 for threshold (it
    would read 0 as a third value), -1/+1 for sigmoid + bce (a loss of log(1 - y) weighted
    -1: no probability model). The second refusal held before the threshold output existed."""
    x = np.ones((4, 2))
    threshold = MLP((2, 3, 1), "tanh", "threshold", "bce")
    params = threshold.init(jax.random.key(0))
    with pytest.raises(ValueError, match="output 'threshold' must be the labels -1 or 1, got 0"):
        threshold.cost(params, x, np.array([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="must be the labels -1 or 1, got 0.5"):
        jaxmlp.fit(threshold, x, np.array([0.5, 1.0, 1.0, -1.0]))
    sigmoid = threshold.replace(output="sigmoid")
    with pytest.raises(ValueError, match=r"'bce' must lie in \[0, 1\].*'threshold'"):
        jaxmlp.fit(sigmoid, x, np.array([-1.0, 1.0, 1.0, -1.0]))


@pytest.mark.slow
def test_threshold_trains_xor_on_minus_one_plus_one_labels():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    t = np.array([-1, 1, 1, -1])
    net = MLP((2, 4, 1), "tanh", "threshold", "bce", init="normal:1.0")
    result = jaxmlp.fit(
        net, x, t, jaxmlp.Optimizer("adam", lr=0.1), jaxmlp.TrainConfig(epochs=300, seed=0)
    )
    np.testing.assert_array_equal(net.predict(result.params, x), t)
    assert jaxmlp.evaluate(net, result.params, x, t)["accuracy"] == 1.0


@pytest.mark.slow
def test_threshold_through_the_command_line_predicts_the_class_names(tmp_path, capsys):
    """A CSV with labels -1/1: the binary task's 0/1 reach the net as -1/+1, and the run's
    predictions are the file's labels."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 2))
    labels = np.where(x[:, 0] + x[:, 1] > 0, 1, -1)
    data = _csv(tmp_path / "pm.csv", x, labels)
    out = tmp_path / "run"
    argv = ["train", "--no-progress", "--data", str(data), "--hidden", "4", "--epochs", "30",
            "--output", "threshold", "--lr", "0.05", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert (settings["output"], settings["loss"]) == ("threshold", "bce")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_accuracy"] > 0.8 and summary["gradcheck"]["ok"], summary
    capsys.readouterr()
    assert cli.main(["predict", str(out), "--input", str(data)]) == 0
    predicted = [float(line.split(",")[0]) for line in capsys.readouterr().out.split()[1:]]
    assert len(predicted) == 80 and set(predicted) <= {-1.0, 1.0}
    accuracy = np.mean(np.asarray(predicted) == labels)
    assert accuracy == pytest.approx(summary["train_accuracy"], abs=0.15)  # train and val rows


# -- Poisson regression ---------------------------------------------------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_poisson_loss_is_scikit_learns_half_deviance():
    rng = np.random.default_rng(2)
    y = rng.uniform(0.1, 4.0, (7, 2))
    t = rng.poisson(2.0, (7, 2)).astype(np.float64)
    t[0, 0] = 0.0  # 0 log 0 = 0
    per_example = losses.get("poisson").fn(jnp.asarray(y), jnp.asarray(t))
    assert float(jnp.mean(per_example)) == pytest.approx(poisson_loss(t, y), rel=1e-14)
    assert float(losses.get("poisson").fn(jnp.asarray(t[1:2] + 0.0), jnp.asarray(t[1:2]))[0]) == 0
    z = jnp.log(jnp.asarray(y))  # the canonical pair from the logits: the same loss
    pair = losses.pair("exp", "poisson")
    np.testing.assert_allclose(pair.cost(z, jnp.exp(z), t), per_example, rtol=1e-13)
    np.testing.assert_allclose(pair.delta(z, jnp.exp(z), t), jnp.exp(z) - t, rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.slow
def test_poisson_from_the_logits_is_finite_where_e_to_z_underflows(dtype):
    """z = -1e4: y = e^z = 0, so t log y is -inf, but from the logits l = e^z - t z + t log t - t
    = 2e4 + 2 log 2 - 2 for t = 2, and dl/dz = y - t = -2."""
    with jax.enable_x64(dtype == "float64"):
        net = MLP((1, 1), output="exp", loss="poisson")
        params = [{"w": jnp.asarray([[-1e4]], dtype), "b": jnp.zeros(1, dtype)}]
        x, t = jnp.ones((1, 1), dtype), jnp.asarray([2.0], dtype)
        expected = np.asarray(2e4 + 2 * np.log(2.0) - 2, dtype)
        assert float(net.cost(params, x, t)) == pytest.approx(float(expected), rel=1e-6)
        np.testing.assert_array_equal(net.backprop(params, x, t)[0]["b"], [-2.0])


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_a_poisson_pair_one_percent_off_is_caught(monkeypatch):
    right = losses._CANONICAL["exp", "poisson"]  # passes: the matrices test below
    wrong_delta = right._replace(delta=lambda *a: 1.01 * right.delta(*a))
    monkeypatch.setitem(losses._CANONICAL, ("exp", "poisson"), wrong_delta)
    net, params, x, t = small("exp", "poisson", k=2, width=5)
    assert not gradcheck(net, params, x, t).ok
    wrong_hvp = right._replace(hvp=lambda *a: 0.99 * right.hvp(*a))
    monkeypatch.setitem(losses._CANONICAL, ("exp", "poisson"), wrong_hvp)
    net, params, x, t = small("exp", "poisson", k=2, width=6)
    errors = check_curvature(net, params, x, t, checks=("hvp", "fd", "gn"))
    assert all(e > 1e-4 for e in errors.values()), errors


def test_poisson_needs_nonnegative_targets():
    net = MLP((2, 1), output="exp", loss="poisson")
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"'poisson' must be >= 0 \(counts or rates\).*\[-1, 3\]"):
        net.cost(params, np.ones((3, 2)), np.array([-1.0, 0.0, 3.0]))


# -- the matrices ---------------------------------------------------------------------------------


CHOSEN = [("exp", "poisson"), ("exp", "huber"), ("threshold", "bce"), ("threshold", "mae"),
          ("softmax:2.5", "cross_entropy"), ("softmax:2.5", "sse")]  # fmt: skip


@pytest.mark.slow
def test_the_gradient_matrix_covers_the_new_pairs():
    new = [p for p in valid_pairs() if p[0] in ("exp", "threshold", "softmax:2.5")]
    assert {("exp", "poisson"), ("threshold", "bce"), ("softmax:2.5", "cross_entropy")} <= set(new)
    assert len(new) == 16 and set(CHOSEN) <= set(new)
    report = gradcheck_matrix(depths=(1, 2), activations=["elu"], pairs=CHOSEN)
    assert report.ok and report.cells == 12, str(report)
    assert report.worst_rel_err_autodiff <= 1e-12


def test_the_curvature_matrix_covers_the_new_pairs():
    """The whole matrix (tests/test_curvature.py, slow) runs every pair of ``valid_pairs()`` at
    depths 1-2 to 1e-10, with every activation spec: the new pairs among them."""
    assert set(CHOSEN) <= set(valid_pairs())


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32])
def test_threshold_takes_unsigned_targets_and_refuses_their_0_with_the_labels_message(dtype):
    """Unsigned targets of the threshold output raised OverflowError (its label -1 cast to
    their dtype) from the label check: all +1 (the one label they can hold) is now taken as
    the floats are, a 0 refused with the labels' message."""
    x = np.ones((4, 2))
    net = MLP((2, 3, 1), "tanh", "threshold", "bce")
    params = net.init(jax.random.key(0))
    ones = np.ones(4, dtype)
    assert float(net.cost(params, x, ones)) == float(net.cost(params, x, ones.astype(float)))
    with pytest.raises(ValueError, match="output 'threshold' must be the labels -1 or 1, got 0"):
        net.cost(params, x, np.array([0, 1, 1, 1], dtype))
