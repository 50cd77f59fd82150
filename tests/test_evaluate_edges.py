"""Edges of ``jaxmlp evaluate`` and ``predict``, each pinned by a test that failed on the code
before its fix: a named data set's labels checked against the run's classes as a file's are,
one rule for the JSON the CLI writes (non-finite numbers as "inf", "-inf", "nan"), multilabel
accuracy said to be per label, which array of an .npz ``--input`` reads, and rows whose outputs
are not finite, refused by evaluate as by predict."""

import json

import jax
import numpy as np
import pytest

from jaxmlp import MLP, cli, save_run


def saved(folder, sizes, output, loss, classes=None):
    """A run folder saved from Python (no training): ``sizes``' net, ``classes`` or none."""
    net = MLP(sizes, "tanh", output, loss)
    return save_run(folder, net, net.init(jax.random.key(0)), classes=classes)


def metrics(capsys, argv) -> dict:
    assert cli.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_a_named_sets_labels_are_checked_against_the_runs_classes_as_a_files_are(
    tmp_path, fails, capsys
):
    # evaluate RUN --data xor, RUN trained on labels 5.0/7.0, read xor's 0/1 as indices into
    # them (exit 0, n=4, accuracy 0.25) where xor's rows in a file were refused; a run of
    # classes ['no', 'yes'] gave moons' train and test metrics
    binary = (2, 3, 1), "sigmoid", "bce"
    run = saved(tmp_path / "five_seven", *binary, classes=[5.0, 7.0])
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.savez(tmp_path / "xor.npz", x=x, y=np.array([0, 1, 1, 0]))
    as_file = fails(["evaluate", str(run), "--data", str(tmp_path / "xor.npz")])
    assert "labels [0, 1] outside the classes [5.0, 7.0]" in as_file
    named = fails(["evaluate", str(run), "--data", "xor"])
    assert "'xor'" in named and "labels [0, 1] outside the classes [5.0, 7.0]" in named
    words = saved(tmp_path / "no_yes", *binary, classes=["no", "yes"])
    assert "labels [0, 1] outside the classes ['no', 'yes']" in fails(
        ["evaluate", str(words), "--data", "moons"]
    )
    # labels are read by value, not by position: classes [1, 0] swap xor's labels
    swapped = saved(tmp_path / "swapped", *binary, classes=[1, 0])
    plain = saved(tmp_path / "plain", *binary, classes=[0, 1])
    got, want = (metrics(capsys, ["evaluate", str(r), "--data", "xor"]) for r in (swapped, plain))
    assert got["data"]["accuracy"] == pytest.approx(1 - want["data"]["accuracy"])
    # a run that names no classes knows them by index, as a named set without names does
    for output in ("sigmoid", "threshold"):
        bare = saved(tmp_path / output, (2, 3, 1), output, "bce")
        assert metrics(capsys, ["evaluate", str(bare), "--data", "moons"])["test"]["n"] == 1000
    # digits names its classes 0..9: a run of those classes (or none) takes it, 1..10 not
    digits = (64, 3, 10), "softmax", "cross_entropy"
    for name, classes in (("d0", list(range(10))), ("dnone", None)):
        run = saved(tmp_path / name, *digits, classes=classes)
        assert metrics(capsys, ["evaluate", str(run), "--data", "digits"])["test"]["n"] == 359
    shifted = saved(tmp_path / "d1", *digits, classes=list(range(1, 11)))
    assert "labels [0] outside the classes" in fails(["evaluate", str(shifted), "--data", "digits"])


def strict(text):
    """``text`` as strict JSON: a bare NaN or Infinity (Python's, jq refuses it) fails."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_the_cli_writes_is_strict_with_non_finite_numbers_as_signed_strings(tmp_path, capsys):
    # evaluate --json printed "loss": Infinity (jq refuses it) where predict --output p.json
    # wrote null (which loses the sign): one rule now, the strings "inf", "-inf" and "nan"
    net = MLP((1, 1), "identity", "identity", "mse")
    params = [{"w": np.array([[1e20]], np.float32), "b": np.zeros(1, np.float32)}]
    large = save_run(tmp_path / "large", net, params)  # outputs 1e21, their squares past float32
    np.savez(tmp_path / "data.npz", x=np.array([[10.0], [-10.0]]), y=np.array([0.5, 1.5]))
    assert cli.main(["evaluate", str(large), "--data", str(tmp_path / "data.npz"), "--json"]) == 0
    assert strict(capsys.readouterr().out)["data"]["loss"] == "inf"
    params = [{"w": np.array([[1e38]], np.float32), "b": np.zeros(1, np.float32)}]
    run = save_run(tmp_path / "huge", net, params)  # outputs past float32: no prediction
    np.save(tmp_path / "x.npy", np.array([[10.0], [-10.0]]))
    argv = ["predict", str(run), "--input", str(tmp_path / "x.npy")]  # predictions: refused
    assert cli.main([*argv, "--output", str(tmp_path / "p.json")]) == 2  # (test_predict_edges)
    assert not (tmp_path / "p.json").exists()
    assert "not finite" in capsys.readouterr().err


@pytest.mark.slow
def test_multilabel_accuracy_is_said_to_be_per_label_where_accuracy_is_documented(capsys):
    # a multilabel run's "accuracy" (0.9833 where the exact-match accuracy scikit-learn's
    # accuracy_score gives is 0.9667) is the share of correct labels, 1 - the Hamming loss;
    # neither evaluate's help, evaluation.evaluate nor the README said so
    from sklearn.metrics import accuracy_score, hamming_loss

    from jaxmlp import evaluation

    net = MLP((2, 2), "identity", "sigmoid", "bce")
    params = [{"w": np.eye(2, dtype=np.float32), "b": np.zeros(2, np.float32)}]
    x = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]], np.float32)
    t = np.array([[1, 1], [1, 1], [0, 0]], np.float32)  # the second row: one label of two wrong
    got = evaluation.evaluate(net, params, x, t)["accuracy"]
    assert got == pytest.approx(1 - hamming_loss(t, x > 0)) == pytest.approx(5 / 6)
    assert accuracy_score(t, x > 0) == pytest.approx(2 / 3)  # exact match: another number
    assert "per label" in " ".join(evaluation.evaluate.__doc__.split())
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    assert "per label" in " ".join(capsys.readouterr().out.split())


def test_predict_help_says_which_array_of_an_npz_is_the_inputs(tmp_path, capsys):
    # an .npz whose lone array is named y (or x_test) is read as the inputs (files.read_array);
    # the help said only ".csv, .npz or .npy" and read_inputs "an .npz (array x)"
    from jaxmlp.run import predict

    np.savez(tmp_path / "lone.npz", y=np.ones((3, 2)))
    assert predict.read_inputs(tmp_path / "lone.npz", 2).shape == (3, 2)
    np.savez(tmp_path / "two.npz", y=np.ones((3, 2)), z=np.ones((3, 2)))
    with pytest.raises(ValueError, match="needs an array named 'x'"):
        predict.read_inputs(tmp_path / "two.npz", 2)
    assert "only array" in " ".join(predict.read_inputs.__doc__.split())
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    assert "its only array" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("output", ["sigmoid", "threshold"])
def test_a_multilabel_models_evaluate_takes_labels_not_other_numbers(tmp_path, output):
    # a target 0.5 (or 0.7) was no label, but Model.evaluate thresholded it silently: accuracy
    # 0.25 where a 0.5 counted as a negative label
    from jaxmlp import load_run

    model = load_run(saved(tmp_path / output, (2, 3, 2), output, "bce"))
    x = np.array([[0.1, 0.2], [1.0, 2.0]])
    assert model.evaluate(x, model.predict(x))["accuracy"] == 1  # its own labels (-1/+1, 0/1)
    assert model.evaluate(x, [[1, 0], [0, 1]])["n"] == 2
    for t in ([[0.5, 0], [0, 1]], [[0.7, 1], [0, 1]]):
        with pytest.raises(ValueError, match=r"t: a multilabel model's targets are labels, "):
            model.evaluate(x, t)


def test_evaluate_refuses_named_columns_for_a_run_that_records_no_feature_names(
    tmp_path, fails, capsys
):
    # a header b,a was read by position: accuracy 0 of a model right on every row, exit 0
    # (predict refused the same columns)
    net = MLP((2, 2), (), "softmax", "cross_entropy")
    w = np.array([[5.0, -5.0], [-5.0, 5.0]], np.float32)  # class 0 where a > b, else 1
    run = save_run(tmp_path / "run", net, [{"w": w, "b": np.zeros(2, np.float32)}])
    (tmp_path / "ba.csv").write_text("b,a,y\n0,1,0\n1,0,1\n")
    err = fails(["evaluate", str(run), "--data", str(tmp_path / "ba.csv")])
    assert "records no feature names" in err and "--no-header" in err, err
    (tmp_path / "named.csv").write_text("column_1,column_0,y\n0,1,0\n1,0,1\n")
    (tmp_path / "bare.csv").write_text("1,0,0\n0,1,1\n")
    (tmp_path / "mid.csv").write_text("1,0,0\n0,1,1\n")  # no header: by position
    cases = (["named.csv"], ["bare.csv", "--no-header"], ["bare.csv"],
             ["mid.csv", "--label-column", "1"])  # fmt: skip
    for file, *flags in cases:
        found = metrics(capsys, ["evaluate", str(run), "--data", str(tmp_path / file), *flags])
        assert found["data"]["accuracy"] == 1, (file, flags)


def test_a_regression_target_past_float32_is_named_as_that_not_as_inf(tmp_path):
    # Model.evaluate cast the targets to float32 first: 1e39 became inf (a RuntimeWarning) and
    # was refused as "t contains NaN or Inf"
    from jaxmlp import load_run

    model = load_run(saved(tmp_path / "r", (2, 3, 1), "identity", "mse"))
    x = np.array([[0.1, 0.2], [1.0, 2.0]])
    with pytest.raises(ValueError, match=r"t: value 1e\+39 exceeds the float32 range"):
        model.evaluate(x, [1e39, 1.0])


def test_a_missing_class_label_is_named_not_a_type_error(tmp_path):
    # None beside names failed np.unique ("'<' not supported between 'float' and 'str'"), and
    # pd.NA failed it with "boolean value of NA is ambiguous": TypeErrors from numpy and pandas
    import pandas as pd

    from jaxmlp import load_run

    model = load_run(saved(tmp_path / "r", (2, 3, 3), "softmax", "cross_entropy", ["a", "b", "c"]))
    x = np.array([[0.1, 0.2], [1.0, 2.0], [0.0, 0.0]])
    for missing in (None, pd.NA, float("nan")):
        t = pd.Series(["c", missing, "b"], dtype="string" if missing is pd.NA else object)
        with pytest.raises(ValueError, match=r"t has labels \[.*\] outside the classes .* index 1"):
            model.evaluate(x, t)
    assert model.evaluate(x, pd.Series(["c", "a", "b"], dtype="string"))["n"] == 3


def test_an_empty_data_dir_is_refused_as_train_refuses_it(tmp_path, fails):
    """``evaluate --data-dir ""`` (an unset shell variable) was passed over, exit 0, where
    ``train`` refuses it: for a Fashion-MNIST run it evaluated on config.json's folder
    instead of the one the user meant to name."""
    run = saved(tmp_path / "run", (2, 3, 1), "sigmoid", "bce")
    said = fails(["evaluate", str(run), "--data", "moons", "--data-dir", ""])
    assert "data_dir must be a folder path or None, got ''" in said


@pytest.mark.slow
def test_evaluate_refuses_rows_whose_outputs_are_not_finite_as_predict_does(tmp_path, fails):
    """Finite inputs that overflow the net: evaluate answered exit 0 with loss inf or nan, and
    a classifier's accuracy counted the rows that decide no class as wrong (0.5 here), where
    predict on the same rows refuses them, naming the rows. Now evaluate (the CLI's and
    Model.evaluate) refuses them too; a loss that is inf on finite outputs (a squared error
    past float32) is still an answer."""
    from jaxmlp import load_run

    net = MLP((1, 1), (), "exp", "poisson")
    one = {"w": np.array([[1.0]], np.float32), "b": np.array([0.0], np.float32)}
    poisson = save_run(tmp_path / "exp", net, [one])
    (tmp_path / "counts.csv").write_text("1,2\n100,3\n")  # exp(100) is past float32
    net = MLP((2, 2, 2), "identity", "softmax", "cross_entropy")
    split = {"w": np.array([[1.0, -1.0], [1.0, -1.0]], np.float32), "b": np.zeros(2, np.float32)}
    out = {"w": np.array([[1.0, 0.0], [0.0, 0.0]], np.float32), "b": np.zeros(2, np.float32)}
    classes = save_run(tmp_path / "cls", net, [split, out])  # inf x 1 + -inf x 0 is NaN
    (tmp_path / "labels.csv").write_text("1,1,0\n3e38,3e38,0\n")
    for run, file in ((poisson, "counts.csv"), (classes, "labels.csv")):
        argv = ["evaluate", str(run), "--data", str(tmp_path / file), "--no-header"]
        err = fails(argv)
        assert "data split: 1 of 2 rows have outputs that are not finite" in err, err
        assert "rows [1]" in err, err
        with pytest.raises(ValueError, match=r"1 of 2 rows .* rows \[1\]"):
            load_run(run).evaluate(*np.split(np.loadtxt(tmp_path / file, delimiter=","), [-1], 1))
    net = MLP((1, 1), (), "identity", "mse")  # an output of 1e20, whose square is past float32
    model = load_run(save_run(tmp_path / "mse", net, [one]))
    assert model.evaluate(np.array([[1e20], [1.0]]), [0.0, 1.0]) == {
        "n": 2, "loss": np.inf, "accuracy": None
    }  # fmt: skip


def test_evaluate_refuses_targets_it_would_reshape_or_parse_into_other_ones(tmp_path):
    # failed before: a classifier's t of shape (1, n), one row of n labels, was read as n
    # labels (flattened) and a 0-d one as one; a regression's text targets were read by
    # Python's float(), '1_000' as 1000 (no CSV reader's number), and a 0-d one was a TypeError
    from jaxmlp import load_run

    x = np.array([[0.1, 0.2], [1.0, 2.0], [0.0, 0.0]])
    classifier = load_run(saved(tmp_path / "c", (2, 3, 2), "softmax", "cross_entropy", ["a", "b"]))
    for t in (np.array([["a", "b", "a"]]), np.array([[["a"]], [["b"]], [["a"]]])):
        with pytest.raises(ValueError, match=r"t: .* one label per example, of shape \(n,\) or"):
            classifier.evaluate(x, t)
    with pytest.raises(ValueError, match=r"t: .* one per example, got a single value 'a'"):
        classifier.evaluate(x[:1], "a")
    assert classifier.evaluate(x, np.array([["a"], ["b"], ["a"]]))["n"] == 3
    regression = load_run(saved(tmp_path / "r", (2, 3, 1), "identity", "mse"))
    for t, shown in ((["3", "-3", "1_000"], "'3'"), (np.array([1.0, None, 2.0], object), "None")):
        with pytest.raises(ValueError, match=rf"t: a regression model's targets are numbers, "
                           rf"got {shown} at index \(\d,\)"):  # fmt: skip
            regression.evaluate(x, t)
    with pytest.raises(ValueError, match=r"t: .* one per example, got a single value 3.0"):
        regression.evaluate(x[:1], 3.0)
    assert regression.evaluate(x, np.array([1.0, 2, 3], object))["n"] == 3  # numbers, as objects


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_T = np.array([[0], [1], [1], [0]], np.float32)


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        ([[0, 9], [2, 3]], r"rows must index x's 4 rows, got values in \[0, 9\]"),  # was row 3
        ([[0, -1], [2, 3]], r"rows must index x's 4 rows, got values in \[-1, 3\]"),  # was row 3
        ([[0.5, 1], [2, 3]], r"rows must be integers of shape \(P=2, m >= 1\)"),  # a TypeError
        ([0, 1], r"rows must be integers of shape \(P=2, m >= 1\)"),  # an IndexError
        ([[0, 1]], r"rows must be integers of shape \(P=2, m >= 1\)"),  # jax's vmap error
        (np.zeros((2, 0), int), r"rows must be integers of shape \(P=2, m >= 1\)"),  # NaN
    ],
)
def test_evaluate_members_refuses_rows_it_would_read_as_others(rows, says):
    """Row 9 of 4 rows was row 3 (jax clamps an index past the end) and row -1 row 3 too: a
    member scored on rows it was not given, silently; no rows scored NaN."""
    from jaxmlp.evaluation import evaluate_members

    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), 2))
    with pytest.raises(ValueError, match=says):
        evaluate_members(net, params, XOR_X, XOR_T, rows)


def test_evaluate_members_refuses_params_that_are_no_stacked_members():
    """One member's params (not stacked), or members of another architecture: jax's vmap error
    on axis sizes, or a shape error from inside the compiled program."""
    from jaxmlp.evaluation import evaluate_members

    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    with pytest.raises(ValueError, match=r"params must be stacked on a leading axis of P"):
        evaluate_members(net, net.init(jax.random.key(0)), XOR_X, XOR_T)
    other = jax.vmap(MLP((2, 4, 1), "tanh", "sigmoid", "bce").init)(
        jax.random.split(jax.random.key(0), 2)
    )
    with pytest.raises(ValueError, match=r"does not match the architecture \(2, 3, 1\)"):
        evaluate_members(net, other, XOR_X, XOR_T)


def test_evaluate_members_refuses_no_members():
    """Params stacked on a leading axis of 0: an IndexError from inside the first member's
    check, not the rule's ValueError."""
    from jaxmlp.evaluation import evaluate_members

    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    none = jax.tree.map(lambda a: a[:0], jax.vmap(net.init)(jax.random.split(jax.random.key(0), 2)))
    with pytest.raises(ValueError, match=r"params must be stacked on a leading axis of P >= 1"):
        evaluate_members(net, none, XOR_X, XOR_T)


def test_evaluate_members_refuses_params_of_mixed_dtypes_as_evaluate_does():
    """A float16 weight beside float32 ones: ``evaluate`` refuses them (``one_dtype``), while
    ``evaluate_members`` took the first weight's float16 for the inputs and computed the rest by
    promotion, a loss that is neither the float16 net's nor the float32 one's."""
    from jaxmlp.evaluation import evaluate, evaluate_members

    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), 2))
    params[0]["w"] = params[0]["w"].astype(np.float16)
    says = r"params mix the dtypes \['float16', 'float32'\]"
    with pytest.raises(ValueError, match=says):
        evaluate(net, jax.tree.map(lambda a: a[0], params), XOR_X, XOR_T)
    with pytest.raises(ValueError, match=says):
        evaluate_members(net, params, XOR_X, XOR_T)
