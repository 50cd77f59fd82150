"""Data a reader could take silently for something else (issue csvq): a cell only Python reads
as a number, one label written two ways, a pandas index column, an example shape predict
refused or another one it took, a test file lacking one of the run's classes. Each test marked
"failed before" failed on the code before its fix."""

import re

import numpy as np
import pytest

from jaxmlp import files
from jaxmlp.run.predict import read_inputs


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- 1. what a number is --------------------------------------------------------------------


ONLY_PYTHON = ["1_000", "\u0663", "\uff13", "\u0661.5", "1_0e2"]  # float() reads them all


@pytest.mark.parametrize("cell", ONLY_PYTHON)
def test_a_number_only_python_reads_is_refused_in_features_labels_and_header(cell, tmp_path):
    # failed before: '1_000' read as 1000 and Arabic-Indic or full-width digits as digits;
    # a first row holding one was taken for a header; a label column of them, for numbers
    feature = _write(tmp_path, "f.csv", f"a,b,y\n1,2,0\n{cell},4,1\n5,6,0\n")
    message = rf"line 3, column 'a': {cell!r} is a number to Python, not in a CSV file"
    with pytest.raises(ValueError, match=message):
        files.read_csv(feature)
    with pytest.raises(ValueError, match=message):
        read_inputs(feature, 3, feature_names=["a", "b", "y"])
    label = _write(tmp_path, "l.csv", f"a,y\n1,0\n2,{cell}\n3,1\n")
    with pytest.raises(ValueError, match=rf"line 3, column 'y': {cell!r} is a number to Python"):
        files.read_csv(label)
    names = _write(tmp_path, "n.csv", f"a,y\n1,cat\n2,dog\n3,{cell}\n")
    with pytest.raises(ValueError, match=rf"line 4, column 'y': {cell!r} is a number to Python"):
        files.read_csv(names)
    first = _write(tmp_path, "h.csv", f"{cell},2,0\n3,4,1\n5,6,0\n")
    with pytest.raises(ValueError, match=rf"line 1, column 'column_0': {cell!r} is a number"):
        files.read_csv(first)


@pytest.mark.parametrize("cell", ["\u200b1", "1\u200b", "\u20602", "\xad1", "\u200e-1.5"])
def test_a_number_with_a_character_that_does_not_show_is_refused_not_taken_for_a_name(
    cell, tmp_path
):
    # failed before: a first row '\u200b1,2,0' (a zero-width space pasted from the web, a
    # left-to-right mark) was no number, so a name, so the row a header: silently one example
    # fewer and a column named '\u200b1'
    hidden = next(c for c in cell if not c.isprintable())
    said = rf"{re.escape(repr(cell))} is a number but for {re.escape(repr(hidden))}, U\+"
    first = _write(tmp_path, "h.csv", f"{cell},2,0\n3,4,1\n5,6,0\n")
    with pytest.raises(ValueError, match=rf"h.csv, line 1, column 'column_0': {said}"):
        files.read_csv(first)
    feature = _write(tmp_path, "f.csv", f"a,b,y\n1,2,0\n{cell},4,1\n5,6,0\n")
    with pytest.raises(ValueError, match=rf"line 3, column 'a': {said}.*does not show"):
        files.read_csv(feature)


def test_the_message_says_why_and_how_to_write_the_number(tmp_path):
    path = _write(tmp_path, "u.csv", "a,y\n1_000,0\n\uff13,1\n")
    with pytest.raises(ValueError, match=r"digit-group underscores.*ASCII digits 0-9"):
        files.read_csv(path)
    path = _write(tmp_path, "w.csv", "a,y\n\uff13,1\n2,0\n")
    with pytest.raises(ValueError, match=r"U\+FF13 FULLWIDTH DIGIT THREE"):
        files.read_csv(path)


def test_spaces_exponents_signs_inf_and_nan_read_as_before(tmp_path):
    # pins the intended rule: spaces around a number are fine, 'inf' and 'nan' are numbers that
    # are then refused as such, '1e' is not a number
    path = _write(tmp_path, "s.csv", "a,b,y\n 1 ,+2.5e1, 0\n.5,-3.,1\n")
    x, labels, _, _ = files.read_csv(path)
    np.testing.assert_array_equal(x, [[1, 25], [0.5, -3]])
    np.testing.assert_array_equal(labels, [0, 1])
    for cell in ("inf", "-Infinity", "nan", "NaN"):
        bad = _write(tmp_path, "i.csv", f"a,b,y\n1,2,0\n{cell},4,1\n")
        with pytest.raises(ValueError, match=r"line 3, column 'a': NaN or Inf value"):
            files.read_csv(bad)
    half = _write(tmp_path, "e.csv", "a,b,y\n1,2,0\n1e,4,1\n")
    with pytest.raises(ValueError, match=r"line 3, column 'a': cannot read '1e' as a number"):
        files.read_csv(half)


# -- 2. a label column holds numbers or names -------------------------------------------------


def test_a_label_column_mixing_numbers_and_names_is_refused(tmp_path):
    # failed before: '1' and '1.0' were two classes beside 'cat' (three in all), one class
    # without it; a number's class depended on the other labels of the column
    path = _write(tmp_path, "m.csv", "a,y\n1,1\n2,1.0\n3,cat\n4,cat\n")
    message = r"m.csv, column 'y': the labels mix numbers \('1', line 2\) with names \('cat', line"
    with pytest.raises(ValueError, match=message + r" 4\): among names '1' and '1.0' would be"):
        files.read_csv(path)
    distinct = _write(tmp_path, "d.csv", "a,y\n0,1\n1,dog\n2,2\n")  # no number twice: refused too
    with pytest.raises(ValueError, match=r"numbers \('1', line 2\) with names \('dog', line 3\)"):
        files.read_csv(distinct)


@pytest.mark.parametrize("one, other", [("1,5", "2,25"), ("1,000", "12,500.5"), ("-0,5", "3,0")])
def test_labels_that_are_numbers_with_commas_are_refused_not_taken_for_class_names(
    one, other, tmp_path
):
    # failed before: quoted decimal commas ('1,5', a European file's) or digit groups ('1,000')
    # were class names: a regression target trained as classes '1,5' and '2,25', exit 0
    rows = f'1,"{one}"\n2,"{other}"\n3,"{one}"\n4,"{other}"\n'
    path = _write(tmp_path, "c.csv", "a,y\n" + rows)
    said = f"c.csv, column 'y': the labels are numbers written with a comma ({one!r}, line 2)"
    with pytest.raises(ValueError, match=re.escape(said) + r".*or as names"):
        files.read_csv(path)
    names = _write(tmp_path, "n.csv", f'a,y\n1,"{one}"\n2,cat\n3,"{other}"\n4,cat\n')
    assert sorted(set(files.read_csv(names)[1].tolist())) == sorted({one, other, "cat"})


@pytest.mark.parametrize("word", ["NA", "?", "n/a", "null"])
def test_a_missing_word_among_numeric_labels_is_a_missing_label(tmp_path, word):
    # failed before: "the labels mix numbers ('0', line 2) with names ('NA', line 4)", which
    # spoke of names the column does not have; a real name beside it is still a mix
    path = _write(tmp_path, "na.csv", f"a,y\n1,0\n2,1\n3,{word}\n4,1\n5,{word}\n")
    message = rf"na.csv, line 4, column 'y': missing label \({re.escape(repr(word))} reads as a"
    with pytest.raises(ValueError, match=message + r" missing value among numbers\); remove"):
        files.read_csv(path)
    mixed = _write(tmp_path, "m.csv", f"a,y\n1,0\n2,{word}\n3,cat\n")
    with pytest.raises(ValueError, match=r"numbers \('0', line 2\) with names \('cat', line 4"):
        files.read_csv(mixed)


def test_numbers_alone_are_one_class_per_value_and_missing_words_stay_names(tmp_path):
    numbers = _write(tmp_path, "n.csv", "a,y\n1,1\n2,1.0\n3,2\n4, 1e0\n")
    np.testing.assert_array_equal(files.read_csv(numbers)[1], [1, 1, 2, 1])
    names = _write(tmp_path, "w.csv", "a,y\n1,cat\n2,nan\n3,dog\n")
    with pytest.warns(UserWarning, match=r"label 'nan' .* missing value"):
        np.testing.assert_array_equal(files.read_csv(names)[1], ["cat", "nan", "dog"])


def test_the_command_line_refuses_mixed_labels_in_one_line(tmp_path, capsys):
    from jaxmlp import cli

    rows = "".join(f"{i},{['1', '1.0', 'cat'][i % 3]}\n" for i in range(12))
    path = _write(tmp_path, "m.csv", "a,y\n" + rows)
    args = ["train", "--data", str(path), "--hidden", "2", "--epochs", "1", "--no-progress"]
    assert cli.main([*args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the labels mix numbers" in err, err


# -- 3. an unnamed column -----------------------------------------------------------------------


@pytest.mark.parametrize("first", ["", "Unnamed: 0", " "])
def test_an_unnamed_column_a_pandas_index_is_refused_with_a_hint(first, tmp_path):
    # failed before: the index column (row numbers) trained as a feature named '' (exit 0)
    rows = "".join(f"{i},{i % 3}.5,{i % 2},{'ab'[i % 2]}\n" for i in range(8))
    path = _write(tmp_path, "p.csv", f"{first},a,b,label\n{rows}")
    message = rf"p.csv: column 0 of the header has no name \({first.strip()!r}\).*index=False"
    with pytest.raises(ValueError, match=message):
        files.read_csv(path)
    with pytest.raises(ValueError, match=message):
        read_inputs(path, 2, label_name="label", feature_names=["a", "b"])
    inner = _write(tmp_path, "i.csv", "a,,label\n1,2,x\n3,4,y\n")
    with pytest.raises(ValueError, match=r"i.csv: column 1 of the header has no name \(''\)"):
        files.read_csv(inner)


def test_the_command_line_refuses_an_index_column_in_one_line(tmp_path, capsys):
    from jaxmlp import cli

    rows = "".join(f"{i},{i % 3}.5,{'ab'[i % 2]}\n" for i in range(12))
    path = _write(tmp_path, "p.csv", ",a,label\n" + rows)
    args = ["train", "--data", str(path), "--hidden", "2", "--epochs", "1", "--no-progress"]
    assert cli.main([*args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "index=False" in err, err


# -- 4. the example shape training flattened ---------------------------------------------------


@pytest.mark.slow
def test_predict_takes_the_example_shape_training_took(tmp_path, capsys):
    # failed before: trained on x (n, 3, 1) (flattened to (n, 3)), predict refused that shape:
    # "inputs must have shape (n, 3) with n >= 1, got (5, 3, 1)"
    from jaxmlp import cli, load_run

    x = np.random.default_rng(0).normal(size=(40, 3, 1))
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0, 0] + x[:, 2, 0] > 0).astype(int))
    run = tmp_path / "run"
    args = ["--hidden", "4", "--epochs", "2", "--no-progress", "--out", str(run)]
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), *args]) == 0
    np.savez(tmp_path / "shaped.npz", x=x[:5])
    np.save(tmp_path / "flat.npy", x[:5, :, 0])
    printed = []
    for name in ("shaped.npz", "flat.npy"):
        capsys.readouterr()
        assert cli.main(["predict", str(run), "--input", str(tmp_path / name)]) == 0, name
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1] and printed[0].count("\n") == 6
    model = load_run(run)
    np.testing.assert_array_equal(model.outputs(x[:5]), model.outputs(x[:5, :, 0]))
    with pytest.raises(ValueError, match=r"x: inputs must have shape \(n, 3\) .*got \(5, 2, 2\)"):
        model.outputs(np.zeros((5, 2, 2)))


@pytest.mark.slow
def test_inputs_of_another_example_shape_are_refused(tmp_path, capsys):
    # failed before: trained on x (n, 2, 3), predict and evaluate took x (n, 3, 2), which
    # flattens to the same 6 features, and answered with exit 0 (other pixels in each column)
    import json

    from jaxmlp import cli, datasets, load_run, save_run

    x = np.random.default_rng(0).normal(size=(40, 2, 3))
    y = (x[:, 0, 0] + x[:, 1, 2] > 0).astype(int)
    turned = x.transpose(0, 2, 1)  # (40, 3, 2)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.savez(tmp_path / "turned.npz", x=turned, y=y)
    np.savez(tmp_path / "turned_x.npz", x=turned[:5])
    np.save(tmp_path / "flat.npy", x[:5].reshape(5, 6))
    run = tmp_path / "run"
    args = ["--hidden", "4", "--epochs", "2", "--no-progress", "--out", str(run)]
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), *args]) == 0
    capsys.readouterr()
    for command in (["predict", str(run), "--input", str(tmp_path / "turned_x.npz")],
                    ["evaluate", str(run), "--data", str(tmp_path / "turned.npz")]):  # fmt: skip
        assert cli.main(command) == 2, command
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "(3, 2)" in err and "(2, 3)" in err, err
    assert cli.main(["predict", str(run), "--input", str(tmp_path / "flat.npy")]) == 0  # rows
    assert json.loads((run / "config.json").read_text())["data"]["example_shape"] == [2, 3]
    model = load_run(run)
    with pytest.raises(ValueError, match=r"x: examples of shape \(3, 2\).*\(2, 3\)"):
        model.outputs(turned)
    with pytest.raises(ValueError, match=r"x: examples of shape \(3, 2\)"):
        model.evaluate(turned, y)
    np.testing.assert_array_equal(model.outputs(x), model.outputs(x.reshape(40, 6)))
    with pytest.raises(ValueError, match=r"x_test: examples of shape \(3, 2\).*\(2, 3\)"):
        datasets.from_arrays(x, y, turned, y)
    old = save_run(tmp_path / "old", model.net, model.params)  # no record: flattened as before
    assert load_run(old).outputs(turned).shape == (40, 1)


# -- 5. a test file lacking some of the run's classes ------------------------------------------


def _labelled(path, rows, seed, keep="abc"):
    """Two features and labels a, b, c (from the features), only the rows labelled in ``keep``;
    returns the features and labels written."""
    x = np.random.default_rng(seed).normal(size=(rows, 2))
    labels = np.array(list("abc"))[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)]
    x, labels = x[np.isin(labels, list(keep))], labels[np.isin(labels, list(keep))]
    lines = [f"{a!r},{b!r},{k}" for (a, b), k in zip(x.tolist(), labels, strict=True)]
    path.write_text("\n".join(["f1,f2,label", *lines]) + "\n")
    return x, labels


@pytest.fixture(scope="module")
def abc_run(tmp_path_factory):
    from jaxmlp import cli

    here = tmp_path_factory.mktemp("abc")
    _labelled(here / "train.csv", 90, seed=0)
    args = ["--hidden", "6", "--epochs", "5", "--no-progress", "--out", str(here / "run")]
    assert cli.main(["train", "--data", str(here / "train.csv"), *args]) == 0
    return here / "run"


@pytest.mark.parametrize("keep", ["ac", "b"])
@pytest.mark.slow
def test_evaluate_on_a_file_lacking_some_of_the_runs_classes(keep, abc_run, tmp_path, capsys):
    # failed before: "'...' has classes ['a', 'c'], the run's are ['a', 'b', 'c']: they must be
    # the same" (one class: "A multiclass task needs at least 2 classes"), exit 2
    import json

    from jaxmlp import cli, load_run

    x, labels = _labelled(tmp_path / "part.csv", 40, seed=1, keep=keep)
    capsys.readouterr()
    assert cli.main(["evaluate", str(abc_run), "--data", str(tmp_path / "part.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["data"]
    model = load_run(abc_run)
    p = model.outputs(x).astype(np.float64)  # softmax over the run's three classes
    t = np.searchsorted(["a", "b", "c"], labels)  # the run's class indices, not the file's
    per_example = -np.log(p[np.arange(len(t)), t])
    loss = per_example.mean() if model.net.reduction == "mean" else per_example.sum()
    assert result["n"] == len(x) and model.classes == ["a", "b", "c"]
    assert result["accuracy"] == pytest.approx(np.mean(p.argmax(1) == t), abs=1e-12)
    assert result["loss"] == pytest.approx(loss, rel=1e-5)
    assert model.evaluate(x, labels)["loss"] == pytest.approx(loss, rel=1e-5)


@pytest.mark.slow
def test_evaluate_takes_a_file_of_one_row(abc_run, tmp_path, capsys):
    # failed before: "x has 1 example: training needs at least 2 (one to learn from and a
    # second to make it a data set)", exit 2: the rule for data to train on refused data to
    # evaluate on, whose loss and accuracy are those of its one example
    import json

    from jaxmlp import cli, load_run

    (tmp_path / "one.csv").write_text("f1,f2,label\n0.4,-0.2,c\n")
    capsys.readouterr()
    assert cli.main(["evaluate", str(abc_run), "--data", str(tmp_path / "one.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["data"]
    p = load_run(abc_run).outputs(np.array([[0.4, -0.2]])).astype(np.float64)[0]
    assert result["n"] == 1 and result["accuracy"] == float(p.argmax() == 2)
    assert result["loss"] == pytest.approx(-np.log(p[2]), rel=1e-5)
    sine = tmp_path / "sine"
    args = ["--data", "sine", "--hidden", "2", "--epochs", "1", "--no-progress", "--out", str(sine)]
    assert cli.main(["train", *args]) == 0
    (tmp_path / "point.csv").write_text("column_0,t\n0.5,0.479\n")  # sine names no column
    capsys.readouterr()
    assert cli.main(["evaluate", str(sine), "--data", str(tmp_path / "point.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["data"]
    y = load_run(sine).outputs(np.array([[0.5]])).astype(np.float64)[0, 0]
    assert result["n"] == 1 and result["accuracy"] is None
    assert result["loss"] == pytest.approx(0.5 * (y - 0.479) ** 2, rel=1e-4)
    (tmp_path / "train1.csv").write_text("f1,f2,label\n0.4,-0.2,c\n")  # training still needs 2
    one = ["--data", str(tmp_path / "train1.csv"), "--out", str(tmp_path / "t")]
    assert cli.main(["train", *one, "--no-progress"]) == 2 and not (tmp_path / "t").exists()


def test_evaluate_names_the_labels_the_run_never_saw(abc_run, tmp_path, capsys):
    from jaxmlp import cli

    path = tmp_path / "new.csv"
    path.write_text("f1,f2,label\n0.1,0.2,a\n0.3,0.1,d\n-1,2,e\n1,1,d\n")
    assert cli.main(["evaluate", str(abc_run), "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "['d', 'e']" in err and "['a', 'b', 'c']" in err, err
    # failed before: "y has labels ['d', 'e'] outside the classes ..." named no file nor line
    assert "new.csv" in err and "'d', on line 3" in err, err


def test_evaluate_names_the_header_flag_given_and_hints_it_for_a_headerless_file(
    abc_run, tmp_path, capsys
):
    # failed before: '--header' was refused as "--no-header applies to --data FILE.csv only",
    # and a file without a header row was said to lack the run's columns, with no hint
    from jaxmlp import cli

    assert cli.main(["evaluate", str(abc_run), "--header"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --header applies to --data FILE.csv only"), err
    import jax

    from jaxmlp import MLP, save_run

    net = MLP((2, 3, 2), "tanh", "softmax", "cross_entropy")
    run = save_run(tmp_path / "run", net, net.init(jax.random.key(0)), classes=[7, 8],
                   feature_names=["f1", "f2"], label_name="label")  # fmt: skip
    bare = tmp_path / "bare.csv"
    bare.write_text("0.1,0.2,007\n0.3,0.1,008\n-1,2,007\n")
    assert cli.main(["evaluate", str(run), "--data", str(bare)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bare.csv" in err and "--no-header" in err, err
    assert "['f1', 'f2']" in err and "--header" in err.replace("--no-header", ""), err
    assert cli.main(["evaluate", str(run), "--data", str(bare), "--no-header"]) == 0


def test_labels_encode_as_a_runs_classes_with_any_of_them_absent():
    from jaxmlp import datasets

    x = np.arange(8.0).reshape(4, 2)
    ds = datasets.from_arrays(x, np.array([2, 2, 0, 2]), task="multiclass", classes=[0, 1, 2])
    np.testing.assert_array_equal(ds.t_train, [2, 2, 0, 2])
    assert ds.n_classes == 3 and ds.info["classes"] == [0, 1, 2]
    binary = datasets.from_arrays(x, np.array(["yes"] * 4), task="binary", classes=["no", "yes"])
    np.testing.assert_array_equal(binary.t_train, [[1], [1], [1], [1]])
    with pytest.raises(ValueError, match=r"y has labels \['maybe'\] outside the classes"):
        datasets.from_arrays(
            x, np.array(["yes", "maybe"] * 2), task="binary", classes=["no", "yes"]
        )
    with pytest.raises(ValueError, match="classes go with a binary or multiclass task"):
        datasets.from_arrays(x, np.arange(4.0), task="regression", classes=[0, 1])
    with pytest.raises(ValueError, match="classes applies to files and arrays, not to 'xor'"):
        datasets.load("xor", classes=[0, 1])
