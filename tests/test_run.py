"""The run layer (issue 15): one validation split for every entry point, strict JSON in the run
folder, fused epochs marked, and a run folder loaded into Python (``jaxmlp.load_run``) or
written from it (``jaxmlp.save_run``) predicting bit for bit as ``jaxmlp predict`` does."""

import json
import math
import re
import sys

import jax
import numpy as np
import pandas as pd
import pytest

import jaxmlp
from jaxmlp import MLP, TrainConfig, arrays, cli, datasets, fit, outputs, run, train

FEATURES = ["height", "weight", "age"]


def _strict(line):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(line, parse_constant=refuse)


@pytest.fixture(scope="module")
def frame():
    """150 examples, three named features on different scales, three named classes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 3)) * [10.0, 1.0, 100.0] + [170.0, 0.0, 40.0]
    score = (x[:, 0] - 170) / 10 + x[:, 1]
    label = np.where(score < -0.5, "low", np.where(score < 0.5, "mid", "high"))
    return pd.DataFrame(dict(zip(FEATURES, x.T.round(3), strict=True)) | {"kind": label})


@pytest.fixture(scope="module")
def csv_run(frame, tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    frame.to_csv(folder / "train.csv", index=False)
    out = folder / "run"
    args = ["train", "--data", str(folder / "train.csv"), "--hidden", "8", "--epochs", "3",
            "--activation", "tanh", "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(args) == 0
    return folder, out


@pytest.mark.slow
def test_the_same_seed_gives_the_same_validation_split_everywhere(csv_run):
    """The run layer, ``datasets.load`` and ``fit(val_fraction=...)`` hold out the same rows."""
    folder, _ = csv_run
    settings = run.DEFAULTS | {"data": str(folder / "train.csv"), "seed": 3, "val_fraction": 0.2}
    ours, _ = run.load_data(settings | {"standardize": "no"})
    theirs = datasets.load(folder / "train.csv", seed=3, val_fraction=0.2, standardize=False)
    np.testing.assert_array_equal(ours.x_val, theirs.x_val)
    np.testing.assert_array_equal(ours.t_val, theirs.t_val)
    whole = datasets.load(folder / "train.csv", standardize=False)
    net = MLP((3, 3), "tanh", "softmax", "cross_entropy")
    config = TrainConfig(seed=3, val_fraction=0.2)
    _, _, x_val, t_val, _, _ = arrays.split(net, whole.x_train, whole.t_train, None, None, config)
    np.testing.assert_array_equal(x_val, theirs.x_val)
    np.testing.assert_array_equal(t_val, theirs.t_val)


@pytest.mark.slow
def test_metrics_lines_are_strict_json_with_non_finite_numbers_as_strings(tmp_path, monkeypatch):
    """A non-finite number in a record (here an accuracy Inf, a time NaN; a non-finite loss
    is a divergence) is written as the string "inf" or "nan" (``numeric.for_json``), not as a
    bare NaN that JSON readers refuse; a resume reads them back as floats, and its log (and its
    SHA-256 in the checkpoint) is unchanged."""
    real_fit = train.fit

    def fit_with_a_nan(*args, callback, **kwargs):
        def wrapped(record, state):
            return callback(record | {"seconds": math.nan, "train_accuracy": math.inf}, state)

        return real_fit(*args, callback=wrapped, **kwargs)

    monkeypatch.setattr(train, "fit", fit_with_a_nan)
    monkeypatch.setattr(run.trainer, "fit", fit_with_a_nan, raising=False)
    out = tmp_path / "run"
    run.train({"data": "xor", "hidden": [3], "epochs": 3}, out, echo=lambda line: None)
    records = [_strict(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert all(r["seconds"] == "nan" and r["train_accuracy"] == "inf" for r in records)
    for name in ("config.json", "summary.json"):
        _strict((out / name).read_text())
    history = run.folder.read_metrics(out / "metrics.jsonl", 3)
    assert all(math.isnan(r["seconds"]) and r["train_accuracy"] == math.inf for r in history)
    before = (out / "metrics.jsonl").read_text()
    run.train({"epochs": 4}, out, resume=True, echo=lambda line: None)
    assert (out / "metrics.jsonl").read_text().startswith(before)


@pytest.mark.slow
def test_fused_epochs_are_marked_and_share_the_calls_time(tmp_path):
    """XOR's 300 full-batch epochs run as one compiled call: each record says so and carries
    a 300th of the call's time, not the whole of it."""
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    t = np.array([[0], [1], [1], [0]], np.float32)
    config = TrainConfig(epochs=300, batch_size="full")
    assert train._epochs_per_call(net, 4, config) == 300
    history = fit(net, x, t, config=config).history
    assert {r["fused"] for r in history} == {300}
    assert len({r["seconds"] for r in history}) == 1
    out = tmp_path / "run"
    run.train({"data": "xor", "hidden": [3], "epochs": 50, "batch_size": "full"}, out,
              echo=lambda line: None)  # fmt: skip
    records = [_strict(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["fused"] >= 1 for r in records) and sum(r["fused"] == 1 for r in records) < 50


@pytest.mark.slow
def test_load_run_predicts_bit_for_bit_as_the_command_line(csv_run, frame, capsys):
    folder, out = csv_run
    rows = frame.iloc[:40]
    rows[FEATURES].to_csv(folder / "x.csv", index=False)
    assert cli.main(["predict", str(out), "--input", str(folder / "x.csv"),
                     "--output", str(folder / "p.npz")]) == 0  # fmt: skip
    with np.load(folder / "p.npz") as cli_out:
        labels, y = cli_out["prediction"], cli_out["y"]
    model = jaxmlp.load_run(out)
    x = rows[FEATURES].to_numpy()
    np.testing.assert_array_equal(model.predict(x), labels)
    np.testing.assert_array_equal(model.predict_proba(x), y)  # softmax: one column per class
    assert model.predict_proba(x).dtype == y.dtype
    # A data frame is read by column name: reordered columns give the same predictions.
    np.testing.assert_array_equal(model.predict(rows[FEATURES[::-1] + ["kind"]]), labels)
    assert set(model.predict(x)) <= {"low", "mid", "high"}
    # The standardiser is the run's: the raw inputs differ by orders of magnitude.
    assert model.scaler is not None and model.scaler.std[2] > 50 * model.scaler.std[1]
    result = model.evaluate(rows[FEATURES], rows["kind"])
    assert result["n"] == 40
    assert result["accuracy"] == pytest.approx(np.mean(labels == rows["kind"].to_numpy()))
    with pytest.raises(ValueError, match=r"lacks the columns \['age'\]"):
        model.predict(rows[["height", "weight"]])
    with pytest.raises(ValueError, match="outside the classes"):
        model.evaluate(x, ["tall"] * 40)


@pytest.mark.slow
def test_a_model_fitted_in_python_saves_and_loads_back(tmp_path, capsys):
    ds = datasets.load("moons", seed=1)  # standardised: info["standardizer"]
    net = MLP((2, 6, 1), "tanh", "sigmoid", "bce")
    result = fit(net, ds.x_train, ds.t_train, config=TrainConfig(epochs=3))
    scaler = ds.info["standardizer"]
    out = jaxmlp.save_run(tmp_path / "saved", net, result.params, scaler=scaler,
                          classes=["west", "east"], feature_names=["u", "v"])  # fmt: skip
    model = jaxmlp.load_run(out)
    raw = scaler.invert(ds.x_test[:50])  # the data as it came, before standardising
    y = np.asarray(net.apply(result.params, scaler.apply(raw)))
    np.testing.assert_array_equal(model.predict_proba(raw)[:, 1], y[:, 0])
    np.testing.assert_array_equal(model.predict(raw), np.where(y[:, 0] > 0.5, "east", "west"))
    # and the command line reads it too
    np.save(tmp_path / "x.npy", raw)
    assert cli.main(["predict", str(out), "--input", str(tmp_path / "x.npy")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "prediction,p_east" and len(printed) == 51
    assert [line.split(",")[0] for line in printed[1:]] == model.predict(raw).tolist()
    capsys.readouterr()
    # moons' labels 0/1 are not its classes west/east (were read as their indices, exit 0)
    assert cli.main(["evaluate", str(out), "--data", "moons"]) == 2
    assert "outside the classes ['west', 'east']" in capsys.readouterr().err
    names = np.array(["west", "east"])[ds.t_test[:, 0].astype(int)]
    rows = [f"{u!r},{v!r},{name}" for (u, v), name in zip(raw.tolist(), names, strict=False)]
    (tmp_path / "moons.csv").write_text("\n".join(["u,v,side", *rows]) + "\n")
    data = str(tmp_path / "moons.csv")
    assert cli.main(["evaluate", str(out), "--data", data, "--json"]) == 0  # names no data
    assert json.loads(capsys.readouterr().out)["data"]["n"] == 50
    with pytest.raises(ValueError, match="already holds a run"):
        jaxmlp.save_run(out, net, result.params)
    jax.clear_caches()


def test_a_data_frame_with_a_column_name_twice_is_refused_as_a_csv_file_is(tmp_path):
    # Model.predict took the first of two columns 'a' silently; a CSV header is refused
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    out = jaxmlp.save_run(tmp_path / "run", net, net.init(jax.random.key(0)),
                          feature_names=["a", "b"])  # fmt: skip
    model = jaxmlp.load_run(out)
    frame = pd.DataFrame([[5.0, 0.1, 1.0], [-5.0, 0.2, 2.0]], columns=["a", "a", "b"])
    with pytest.raises(ValueError, match=r"x: the columns \['a'\] are named more than once"):
        model.predict(frame)
    frame.to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(ValueError, match=r"twice.csv: the columns \['a'\] are named more than"):
        run.read_inputs(tmp_path / "twice.csv", 2, feature_names=["a", "b"])
    assert model.predict(frame.iloc[:, 1:]).shape == (2,)  # one 'a': fine


@pytest.mark.parametrize("output", ["threshold", "sigmoid"])
@pytest.mark.parametrize("units", [1, 2])
@pytest.mark.slow
def test_a_run_saved_without_classes_predicts_the_nets_own_labels(output, units, tmp_path):
    # save_run without classes gave a threshold output (labels -1/+1) the class names 0/1 and
    # its multilabel units 0/1: load_run's predict disagreed with net.predict, and evaluate
    # refused the net's own labels ("t has labels [-1] outside the classes [0, 1]").
    x = np.random.default_rng(0).standard_normal((12, 2))
    net = MLP((2, 3, units), "tanh", output, "bce")
    params = net.init(jax.random.key(0))
    model = jaxmlp.load_run(jaxmlp.save_run(tmp_path / "run", net, params))
    own = np.asarray(net.predict(params, x))
    assert set(own.ravel().tolist()) == set(outputs.get(output).labels)  # both labels occur
    np.testing.assert_array_equal(model.predict(x), own)
    assert model.evaluate(x, own)["accuracy"] == 1.0


@pytest.mark.slow
def test_a_command_line_threshold_run_on_a_named_set_predicts_the_nets_labels(tmp_path):
    # xor names no classes: its run predicted 0/1 where its net predicts -1/+1 (a CSV run
    # keeps the file's classes, by which its labels are named).
    out = tmp_path / "run"
    args = ["train", "--data", "xor", "--hidden", "3", "--output", "threshold", "--loss", "bce",
            "--epochs", "2", "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(args) == 0
    model = jaxmlp.load_run(out)
    x = datasets.load("xor").x_train
    np.testing.assert_array_equal(model.predict(x), model.net.predict(model.params, x))
    assert model.class_names() == [-1, 1]


@pytest.mark.slow
def test_a_float64_model_evaluates_its_regression_targets_exactly(tmp_path):
    # Model.encode cast regression targets to float32: targets of 1.7e9 moved by up to 64 and
    # a loss of 0.5 (every residual 1) read 0.0091 in a float64 run.
    x = np.random.default_rng(0).standard_normal((6, 2))
    with jax.enable_x64(True):
        net = MLP((2, 3, 1), "tanh", "identity", "sse")
        params = net.init(jax.random.key(0), jax.numpy.float64)
        params[1]["b"] = jax.numpy.array([1.7e9])  # outputs of a timestamp's size
        t = np.asarray(net.apply(params, x))[:, 0] + 1.0
        assert jaxmlp.evaluate(net, params, x, t)["loss"] == 0.5
        out = jaxmlp.save_run(tmp_path / "run", net, params, config=TrainConfig(dtype="float64"))
    assert jaxmlp.load_run(out).evaluate(x, t)["loss"] == 0.5


@pytest.mark.slow
def test_save_run_saves_a_bfloat16_runs_float32_parameters(tmp_path):
    """Regression: save_run required the parameters of a bfloat16 run to be bfloat16 ("cast
    them to bfloat16"), which the checkpoint then refused ("parameters of a bfloat16 run are
    float32"): fit's own result of such a run could not be saved. Its parameters are float32,
    the master weights (``arrays.params_dtype``), as fit returns and the checkpoint keeps them."""
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    x, t = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]), np.array([0, 1, 1, 0])
    config = TrainConfig(epochs=2, dtype="bfloat16")
    result = jaxmlp.fit(net, x, t, config=config)
    model = jaxmlp.load_run(jaxmlp.save_run(tmp_path / "run", net, result.params, config=config))
    assert model.dtype == "bfloat16"
    for saved, given in zip(model.params, result.params, strict=True):
        for name in given:
            np.testing.assert_array_equal(saved[name], given[name])
    half = jax.tree.map(lambda a: jax.numpy.asarray(a, "bfloat16"), result.params)
    with pytest.raises(ValueError, match="those of a bfloat16 run .* are float32"):
        jaxmlp.save_run(tmp_path / "half", net, half, config=config)


@pytest.mark.slow
def test_a_float64_command_line_run_trains_on_its_exact_regression_targets(tmp_path, capsys):
    # The targets were cast to float32 (datasets' TARGETS): a float64 run on targets of 1.7e9
    # (float32 keeps steps of 128 there) trained and evaluated on targets moved by up to 64.
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(40, 2)), 1.7e9 + rng.normal(size=40)
    path, out = tmp_path / "t.csv", tmp_path / "run"
    np.savetxt(path, np.column_stack([x, t]), "%.17g", ",", header="a,b,y", comments="")
    args = ["train", "--data", str(path), "--task", "regression", "--dtype", "float64",
            "--val-fraction", "0", "--hidden", "3", "--epochs", "2", "--no-progress"]  # fmt: skip
    assert cli.main([*args, "--out", str(out)]) == 0
    with jax.enable_x64(True):
        ds, _ = run.load_data(run.folder.read_config(out)["settings"])
    assert ds.t_train.dtype == np.float64
    np.testing.assert_array_equal(ds.t_train[:, 0], t)
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    loss = json.loads(capsys.readouterr().out)["train"]["loss"]
    assert loss == pytest.approx(jaxmlp.load_run(out).evaluate(x, t)["loss"], rel=1e-12)


# -- the command line's names come from their registries ----------------------------------------


def test_jaxmlp_alone_prints_the_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage: jaxmlp" in captured.err and "train" in captured.err


def test_train_help_lists_every_registered_name(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    from jaxmlp import activations, losses, optim, outputs

    for names in (activations.names(), outputs.NAMES, losses.NAMES, optim.OPTIMIZERS):
        for name in names:
            assert re.search(rf"\b{re.escape(name)}\b", text), name
    assert "adagrad" in text.split("--optimizer NAME")[-1].split("--lr ETA")[0]


def test_the_datasets_listing_says_where_each_set_comes_from(capsys):
    assert cli.main(["datasets"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == len(datasets.names())
    for row in rows:
        assert "generated: " in row or "real: " in row, row
        assert "seed 0" not in row, row  # lecture-note numbers mean nothing to a newcomer


# -- a run's accuracy and its predictions follow one rule (run.tasks) ----------------------------

MISMATCHED = [
    ("digits", "sigmoid", "a multiclass task predicts by taking the argmax"),
    ("digits", "threshold", "The outputs for multiclass are ['softmax', 'softmax:beta']"),
    ("multilabel", "softmax", "a multilabel task predicts by thresholding each unit"),
]


@pytest.mark.parametrize(("data", "output", "says"), MISMATCHED)
def test_a_task_and_an_output_that_decide_by_other_rules_are_refused(
    data, output, says, tmp_path, capsys
):
    # A multiclass run with sigmoid units reported per-unit 0/1 agreement as its accuracy (0.52)
    # while predict took the argmax (0.34); a multilabel run with a softmax reported argmax
    # agreement while predict thresholded each unit.
    out = tmp_path / "run"
    argv = ["train", "--data", data, "--output", output, "--hidden", "2", "--epochs", "1",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert says in err and repr(output) in err, err
    assert not out.exists()


def test_save_run_and_load_run_refuse_such_a_pair(tmp_path, monkeypatch):
    net = MLP((2, 3, 3), "tanh", "sigmoid", "bce")
    params = net.init(jax.random.key(0))
    says = r"save_run: a multiclass task .* 'sigmoid' .* \['softmax', 'softmax:beta'\]"
    with pytest.raises(ValueError, match=says):
        jaxmlp.save_run(tmp_path / "new", net, params, task="multiclass")
    two = MLP((2, 3, 2), "tanh", "sigmoid", "bce")  # binary of 2 units: the argmax
    with pytest.raises(ValueError, match=r"binary task of 2 output units predicts by taking"):
        jaxmlp.save_run(tmp_path / "two", two, two.init(jax.random.key(0)), task="binary")
    rules = sys.modules[jaxmlp.save_run.__module__].tasks  # the module save_run asks
    monkeypatch.setattr(rules, "check_output", lambda *args: None)  # a folder from before
    old = jaxmlp.save_run(tmp_path / "old", net, params, task="multiclass")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=f"{re.escape(str(old))}: a multiclass task"):
        jaxmlp.load_run(old)


CONSISTENT = [("multiclass", "softmax", 3), ("binary", "softmax:2", 2), ("binary", "threshold", 1),
              ("multilabel", "sigmoid", 2)]  # fmt: skip


@pytest.mark.parametrize(("task", "output", "k"), CONSISTENT)
def test_a_model_reports_the_accuracy_of_its_own_predictions(task, output, k, tmp_path):
    # the pairs that decide as their task predicts are kept, and a model's accuracy on its own
    # predictions is 1 (a multiclass sigmoid run's was the per-unit agreement, below 1)
    net = MLP((2, 3, k), "tanh", output, "cross_entropy" if "softmax" in output else "bce")
    model = jaxmlp.load_run(jaxmlp.save_run(tmp_path / "run", net, net.init(jax.random.key(0)),
                                            task=task))  # fmt: skip
    x = np.random.default_rng(0).standard_normal((40, 2))
    assert model.evaluate(x, model.predict(x))["accuracy"] == 1.0
    ds = datasets.load({"multiclass": "digits", "binary": "xor"}.get(task, task))
    settings = run.settings.DEFAULTS | {"output": output, "hidden": [2]}
    assert run.settings.build(settings, ds)[0].output == net.output  # train takes it too


def test_only_outputs_that_are_probabilities_give_probabilities(tmp_path, capsys):
    # A binary run with --output identity wrote p_<class> columns of -1.95 to 2.3, and
    # Model.predict_proba returned them.
    net = MLP((2, 3, 1), "tanh", "identity", "mse")
    params = net.init(jax.random.key(0))
    params[-1]["b"] = params[-1]["b"] + 5.0  # outputs past 1
    out = jaxmlp.save_run(tmp_path / "run", net, params, task="binary", classes=["no", "yes"])
    model = jaxmlp.load_run(out)
    x = np.random.default_rng(0).standard_normal((5, 2))
    assert (model.outputs(x) > 1).all() and set(model.predict(x)) == {"yes"}
    says = r"predict_proba needs outputs that are probabilities.*'sigmoid'.*'identity'"
    with pytest.raises(ValueError, match=says):
        model.predict_proba(x)
    (tmp_path / "in.csv").write_text("column_0,column_1\n0,1\n1,0\n")  # the run names none
    assert cli.main(["predict", str(out), "--input", str(tmp_path / "in.csv")]) == 0
    assert capsys.readouterr().out.splitlines() == ["prediction", "yes", "yes"]
