"""Edges of predicting from a run: named columns for a run that records no feature names, outputs
that are not finite, class names whose output columns would collide, predictions written over
the run's data, and what save_run and predict say when they refuse."""

import jax
import numpy as np
import pandas as pd
import pytest

from jaxmlp import MLP, TrainConfig, cli, load_run, save_run


def saved(tmp_path, name="run", **kwargs):
    """A run of a (2, 1) identity net, y = x0 + 10 x1, saved without feature names."""
    net = MLP((2, 1), "identity", "identity", "mse")
    params = [{"w": np.array([[1.0], [10.0]], np.float32), "b": np.array([0.0], np.float32)}]
    return save_run(tmp_path / name, net, params, **kwargs)


def predicted(capsys, argv) -> list[str]:
    assert cli.main(argv) == 0
    return capsys.readouterr().out.split()


def test_named_columns_are_refused_by_a_run_that_records_no_feature_names(tmp_path, fails, capsys):
    # a header b,a was read by position: exit 0 and the answers of the columns swapped
    run = saved(tmp_path)
    (tmp_path / "ba.csv").write_text("b,a\n2,1\n")
    err = fails(["predict", str(run), "--input", str(tmp_path / "ba.csv")])
    assert "records no feature names" in err and "--no-header" in err and "column_0" in err
    with pytest.raises(ValueError, match="records no feature names"):
        load_run(run).predict(pd.DataFrame({"b": [2.0], "a": [1.0]}))
    # the run's default names, in any order, and inputs without a header go as before
    (tmp_path / "named.csv").write_text("column_1,column_0\n2,1\n")
    (tmp_path / "bare.csv").write_text("1,2\n")
    want = ["prediction", "21.0"]
    assert predicted(capsys, ["predict", str(run), "--input", str(tmp_path / "named.csv")]) == want
    argv = ["predict", str(run), "--input", str(tmp_path / "bare.csv"), "--no-header"]
    assert predicted(capsys, argv) == want
    frame = pd.DataFrame({"column_1": [2.0], "column_0": [1.0]})
    assert load_run(run).predict(frame).tolist() == [21.0]
    assert load_run(run).predict(np.array([[1.0, 2.0]])).tolist() == [21.0]
    assert load_run(run).predict(pd.DataFrame([[1.0, 2.0]])).tolist() == [21.0]  # columns 0, 1


def test_regression_outputs_that_are_not_finite_are_refused(tmp_path, fails):
    # exp(100) overflows float32: "inf" was printed (and null written to --output o.json), exit 0
    net = MLP(sizes=(1, 1), activation="relu", output="exp", loss="poisson")
    params = [{"w": np.array([[1.0]], np.float32), "b": np.array([0.0], np.float32)}]
    run = save_run(tmp_path / "exp", net, params)
    (tmp_path / "in.csv").write_text("column_0\n1\n50\n100\n")
    for output in ([], ["--output", str(tmp_path / "o.json")]):
        err = fails(["predict", str(run), "--input", str(tmp_path / "in.csv"), *output])
        assert "rows [2]" in err and "float32" in err and "overflow" in err
    assert not (tmp_path / "o.json").exists()
    with pytest.raises(ValueError, match=r"1 of 2 rows .* rows \[1\]"):
        load_run(run).predict(np.array([[1.0], [100.0]]))
    assert load_run(run).predict(np.array([[1.0], [50.0]])).shape == (2,)


@pytest.mark.parametrize(
    "output, classes, says",
    [
        ("softmax", ["a", "a", "b"], r"\['a'\] .*more than once"),  # columns p_a,p_a,p_b
        ("softmax", [1, 1.0, 2], r"\[1\.0\] .*more than once"),  # saved as 1.0, 1.0, 2.0
        ("sigmoid", ["spam", "p_spam"], r"\['p_spam'\] .*more than once"),  # spam,p_spam,p_spam,..
        ("softmax", [1, 2.5, "x"], "mix numbers and strings"),  # saved as '1', '2.5', 'x'
    ],
    ids=["twice", "equal-numbers", "collide", "mixed"],
)
def test_save_run_refuses_classes_whose_prediction_columns_are_not_distinct(
    tmp_path, output, classes, says
):
    # each was saved: predict wrote two columns of one name, and --output .json kept one of them
    net = MLP((2, 3) if output == "softmax" else (2, 2), "identity", output)
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match="save_run: .*" + says):
        save_run(tmp_path / "run", net, params, classes=classes)
    assert not (tmp_path / "run").exists()
    fine = ["a", "b", "c"] if output == "softmax" else ["spam", "ham"]
    assert load_run(save_run(tmp_path / "ok", net, params, classes=fine)).classes == fine


@pytest.mark.slow
def test_predict_output_never_overwrites_the_data_the_run_trained_on(tmp_path, fails, monkeypatch):
    # --output data.csv wrote the predictions over the run's training data, exit 0: the run could
    # no longer be evaluated or resumed on its data
    monkeypatch.chdir(tmp_path)
    rows = np.random.default_rng(0).normal(size=(24, 3)).round(3)
    np.savetxt("data.csv", rows, delimiter=",", fmt="%.3f")
    (tmp_path / "link.csv").symlink_to(tmp_path / "data.csv")
    train = ["train", "--data", "data.csv", "--task", "regression", "--hidden", "2"]
    assert cli.main([*train, "--epochs", "1", "--no-progress", "--out", "run"]) == 0
    np.savetxt("in.csv", rows[:3, :2], delimiter=",", fmt="%.3f")
    before = (tmp_path / "data.csv").read_bytes()
    for output in ("data.csv", str(tmp_path / "link.csv")):
        predict = ["predict", "run", "--input", "in.csv", "--no-header", "--output", output]
        assert "the run in run trained on" in fails(predict)
    assert (tmp_path / "data.csv").read_bytes() == before
    assert cli.main([*predict[:-1], "p.csv"]) == 0 and (tmp_path / "p.csv").is_file()


def test_save_run_of_float64_parameters_says_how_to_save_a_float64_run(tmp_path):
    # said only "parameters of a float32 run are float32", and left an empty folder
    net = MLP((1, 1), "identity", "identity", "mse")
    params = [{"w": np.array([[1.0]]), "b": np.array([0.0])}]
    with pytest.raises(ValueError, match=r"float64.*config=TrainConfig\(dtype='float64'\)"):
        save_run(tmp_path / "run", net, params)
    assert not (tmp_path / "run").exists()
    save_run(tmp_path / "run", net, params, config=TrainConfig(dtype="float64"))
    assert load_run(tmp_path / "run").dtype == "float64"


def test_a_label_column_left_in_the_inputs_is_named_not_read_as_a_number(tmp_path, fails):
    # both said "cannot read 'emu' as a number", naming no cause: the run records no label name
    named, bare = saved(tmp_path, "named", feature_names=["a", "b"]), saved(tmp_path, "bare")
    (tmp_path / "named.csv").write_text("a,b,kind\n1,2,emu\n")
    (tmp_path / "bare.csv").write_text("1,2,emu\n")
    err = fails(["predict", str(named), "--input", str(tmp_path / "named.csv")])
    assert "unknown columns ['kind']" in err and "cannot read" not in err
    err = fails(["predict", str(bare), "--input", str(tmp_path / "bare.csv"), "--no-header"])
    assert "expected 2 feature columns, got 3" in err and "label" in err


def test_a_csv_of_predictions_writes_the_probabilities_that_decided_them(tmp_path, capsys):
    # written to 6 digits, p_a and p_b of 0.49999991 and 0.50000012 were both 0.5 beside the
    # prediction b, and a CSV's probabilities were not the JSON's (all their digits)
    net = MLP((1, 2), (), "softmax", "cross_entropy")
    params = [{"w": np.zeros((1, 2), np.float32), "b": np.array([0, 4e-7], np.float32)}]
    run = save_run(tmp_path / "tie", net, params, classes=["a", "b"], feature_names=["f"])
    (tmp_path / "x.csv").write_text("f\n0\n")
    header, row = predicted(capsys, ["predict", str(run), "--input", str(tmp_path / "x.csv")])
    assert header == "prediction,p_a,p_b" and row.startswith("b,"), row
    p = np.array([float(v) for v in row.split(",")[1:]])
    np.testing.assert_array_equal(p.astype(np.float32), load_run(run).predict_proba([[0.0]])[0])
    assert p[0] < p[1]


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), -np.inf])
def test_save_run_refuses_a_class_named_by_a_number_that_is_not_finite(tmp_path, odd):
    # saved: config.json wrote it as the string 'nan', and load_run refused the folder that
    # save_run had just written, saying its class names mixed numbers and strings
    net = MLP((2, 3, 2), "tanh", "softmax", "cross_entropy")
    with pytest.raises(ValueError, match=r"save_run: the class name .* is not a finite number"):
        save_run(tmp_path / "run", net, net.init(jax.random.key(0)), classes=[odd, 1.0])
    assert not (tmp_path / "run").exists()


def test_complex_inputs_are_refused_not_cut_to_their_real_part(tmp_path, fails):
    # load_run(...).predict of complex inputs dropped the imaginary parts with a warning and
    # answered; the CLI refused an .npy of them, naming the file twice and ending in '..'
    run = saved(tmp_path)
    x = np.array([[1 + 5j, 2.0], [3.0, 4 - 1j]])
    with pytest.raises(ValueError, match=r"x: inputs must be real numbers, got dtype complex128"):
        load_run(run).predict(x)
    np.save(tmp_path / "c.npy", x)
    err = fails(["predict", str(run), "--input", str(tmp_path / "c.npy")])
    assert err.count("c.npy") == 1 and "complex" in err and ".." not in err, err


def test_a_data_frame_of_pandas_nullable_numbers_is_read_as_numbers(tmp_path):
    # convert_dtypes()' Int64, Float64 and boolean columns were refused: "inputs must be
    # numbers, got dtype object"; a missing value (pd.NA) is named as one
    model = load_run(saved(tmp_path, feature_names=["a", "b"]))
    frame = pd.DataFrame({"b": [2, 3], "a": [1.5, 0.0]}).convert_dtypes()
    assert list(frame.dtypes.astype(str)) == ["Int64", "Float64"]
    np.testing.assert_array_equal(model.predict(frame), [21.5, 30.0])
    flags = pd.DataFrame({"a": [True, False], "b": [1, 0]}).astype({"a": "boolean", "b": "Int8"})
    np.testing.assert_array_equal(model.predict(flags), [11.0, 0.0])
    with pytest.raises(ValueError, match=r"x: inputs contain NaN or Inf \(first at index \(1, 1\)"):
        model.predict(pd.DataFrame({"a": [1, 2], "b": pd.array([3, None], "Int64")}))


def test_a_column_named_in_another_unicode_spelling_is_named_as_that(tmp_path, fails):
    # the message read "lacks the columns ['café'] and has unknown columns ['café']": two
    # names that print alike (the run's NFC, the file's NFD, as macOS writes it), unexplained
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    run = saved(tmp_path, feature_names=[nfc, "b"])
    (tmp_path / "in.csv").write_text(f"{nfd},b\n1,2\n", encoding="utf-8")
    err = fails(["predict", str(run), "--input", str(tmp_path / "in.csv")])
    assert f"{nfd!r} is the run's column {nfc!r} written another way" in err, err
    with pytest.raises(ValueError, match="written another way"):
        load_run(run).predict(pd.DataFrame({nfd: [1.0], "b": [2.0]}))


@pytest.mark.slow
def test_raw_pixels_are_refused_by_a_run_of_a_named_set_of_pixels(tmp_path, fails):
    """A run of digits trained on its pixels read as pixel / 16 in [0, 1]: sklearn's
    load_digits() images, 0..16 as they are, are refused (predict, evaluate --data, load_run),
    saying to divide by 16; the pixels scaled are taken. (Regression: the raw pixels went in 16
    times too large, exit 0, predictions of nothing the net learned.)"""
    import importlib.resources

    from jaxmlp import datasets

    out = tmp_path / "digits"
    argv = ["train", "--data", "digits", "--hidden", "4", "--epochs", "1", "--no-progress"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    with importlib.resources.files("jaxmlp").joinpath("_data/digits.npz").open("rb") as f:
        archive = np.load(f)
        images, labels = archive["images"][:20], archive["labels"][:20]
    np.savez(tmp_path / "raw.npz", x=images)
    np.savez(tmp_path / "scaled.npz", x=images / 16)
    err = fails(["predict", str(out), "--input", str(tmp_path / "raw.npz")])
    assert "raw.npz" in err and "[0, 1]" in err and "divide them by 16" in err, err
    assert cli.main(["predict", str(out), "--input", str(tmp_path / "scaled.npz")]) == 0
    rows = np.concatenate([images.reshape(20, 64), labels[:, None]], axis=1)
    np.savetxt(tmp_path / "raw.csv", rows, fmt="%d", delimiter=",")
    err = fails(["evaluate", str(out), "--data", str(tmp_path / "raw.csv")])
    assert "raw.csv" in err and "divide them by 16" in err, err
    scaled = np.concatenate([images.reshape(20, 64) / 16, labels[:, None]], axis=1)
    np.savetxt(tmp_path / "scaled.csv", scaled, fmt="%.17g", delimiter=",")
    assert cli.main(["evaluate", str(out), "--data", str(tmp_path / "scaled.csv")]) == 0
    with pytest.raises(ValueError, match="divide them by 16"):
        load_run(out).predict(images.reshape(20, 64))
    assert load_run(out).predict(images.reshape(20, 64) / 16).shape == (20,)
    assert datasets.PIXEL_LEVELS["digits"] == 16 and images.max() == 16


def test_an_encoding_for_array_inputs_is_refused(tmp_path, fails, capsys):
    """``--encoding`` names a CSV file's text encoding; with .npz or .npy inputs it is refused,
    as ``--header`` is there and as ``evaluate --data x.npz --encoding`` is. (Regression: it
    was ignored, exit 0: a flag that did nothing.)"""
    run = saved(tmp_path)
    np.savez(tmp_path / "x.npz", x=np.array([[1.0, 2.0]]))
    np.save(tmp_path / "x.npy", np.array([[1.0, 2.0]]))
    for name in ("x.npz", "x.npy"):
        argv = ["predict", str(run), "--input", str(tmp_path / name)]
        err = fails([*argv, "--encoding", "latin-1"])
        assert "--encoding (encoding='latin-1') applies to .csv inputs" in err, err
        assert predicted(capsys, argv) == ["prediction", "21.0"]
    (tmp_path / "x.csv").write_text("column_0,column_1\n1,2\n", encoding="latin-1")
    argv = ["predict", str(run), "--input", str(tmp_path / "x.csv"), "--encoding", "latin-1"]
    assert predicted(capsys, argv) == ["prediction", "21.0"]
