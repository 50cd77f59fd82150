"""Reliability (issue 10): every bad input ends in exit status 2 and one line naming it (the
command line) or a ValueError (the library); divergence exits 3 and keeps the last good
checkpoint; a run killed with SIGKILL and resumed ends bitwise where an uninterrupted one does;
SIGINT saves and exits cleanly."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxmlp import (
    MLP,
    Diverged,
    Optimizer,
    TrainConfig,
    TrainState,
    checkpoint,
    cli,
    datasets,
    evaluate,
    fit,
    run,
)  # fmt: skip

# -- files for the battery ----------------------------------------------------------------------


def _text(content):
    return lambda tmp: _write(tmp / "data.csv", content)


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _npz(**arrays):
    def make(tmp):
        path = tmp / "data.npz"
        np.savez(path, **arrays)
        return path

    return make


def _truncated_npz(tmp):
    path = _npz(x=np.zeros((8, 2)), y=np.arange(8) % 2)(tmp)
    return _write(path, path.read_bytes()[:100])


def _idx_folder(images: bytes):
    """A Fashion-MNIST folder whose training images file is ``images``; the rest are valid."""

    def make(tmp):
        folder = tmp / "fashion"
        folder.mkdir()
        good_images = b"\0\0\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        good_images += bytes(2 * 28 * 28)
        labels = b"\0\0\x08\x01" + (2).to_bytes(4, "big") + bytes([1, 2])
        _write(folder / "train-images-idx3-ubyte", images)
        _write(folder / "train-labels-idx1-ubyte", labels)
        _write(folder / "t10k-images-idx3-ubyte", good_images)
        _write(folder / "t10k-labels-idx1-ubyte", labels)
        return folder

    return make


GOOD_CSV = "a,b,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,0\n0.7,0.8,1\n"

# (arguments after "train", or a full command, expected words of the message). {file} is a file
# made by the third element, {dir} a folder. --data xor keeps the cases that load data instant.
TRAIN = [
    # flags the parser refuses
    (["--epochs", "abc"], "argument --epochs: expected an integer, got 'abc'"),
    (["--epochs"], "argument --epochs: expected one argument"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--lr", "nan"], "argument --lr: expected a finite number, got 'nan'"),
    (["--lr", "inf"], "argument --lr: expected a finite number, got 'inf'"),
    (["--batch-size", "half"], "expected a positive integer or 'full', got 'half'"),
    (["--hidden", "a,b"], "argument --hidden: expected positive layer widths"),
    (["--hidden", "0"], "such as 128,64"),
    (["--hidden", "64,,32"], "got '64,,32'"),
    (["--nosuch-flag"], "unrecognized arguments: --nosuch-flag"),
    # numbers Python's int() / float() alone read, not the CSV reader: 1_0 trained 10 epochs
    (["--epochs", "1_0"], "--epochs: expected an integer in ASCII digits 0-9 (such as 1000), got"),
    (["--epochs", "\uff15"], "got '\uff15' ('\uff15' is U+FF15 FULLWIDTH DIGIT FIVE)"),
    (["--seed", "\u0663"], "--seed: expected an integer in ASCII digits 0-9"),
    (["--lr", "1_0e-3"], "--lr: expected a number in ASCII digits 0-9 (such as 1e-3), got"),
    (["--dropout", "\uff10.1"], "U+FF10 FULLWIDTH DIGIT ZERO"),
    (["--batch-size", "3_2"], "expected a positive integer or 'full', got '3_2'"),
    (["--hidden", "1_6"], "argument --hidden: expected positive layer widths"),
    (["--hidden", "8,\uff18"], "argument --hidden: expected positive layer widths"),
    (["--data", "xor", "--activation", "elu:1_0"], "Activation 'elu:1_0': elu's alpha must be"),
    (["--data", "xor", "--output", "softmax:\uff12"], "the softmax temperature beta must be"),
    (["--data", "xor", "--init", "uniform:-1_0,1"], "arguments must be numbers"),
    # values the library refuses
    (["--data", "xor", "--epochs", "0"], "epochs must be an integer >= 1, got 0"),
    (["--data", "xor", "--batch-size", "0"], "batch_size must be an integer >= 1"),
    (["--data", "xor", "--lr", "-1"], "lr must be a finite number > 0, got -1.0"),
    (
        ["--data", "xor", "--optimizer", "momentum", "--momentum", "1.5"],
        "momentum must be in [0, 1), got 1.5",
    ),
    (["--data", "xor", "--weight-decay", "-0.1"], "weight_decay must be >= 0, got -0.1"),
    (["--data", "xor", "--clip-norm", "0"], "clip_norm must be a finite number > 0"),
    (["--data", "xor", "--optimizer", "adamax"], "Unknown optimizer: 'adamax'"),
    (["--data", "xor", "--schedule", "linear"], "Unknown schedule: 'linear'"),
    (
        ["--data", "xor", "--schedule", "linear", "--decay-rate", "0.5"],
        "Unknown schedule: 'linear'",
    ),
    (
        ["--data", "xor", "--optimizer", "adamax", "--momentum", "0.5"],
        "Unknown optimizer: 'adamax'",
    ),
    (["--data", "xor", "--activation", "swish"], "Unknown activation: 'swish'"),
    (["--data", "xor", "--hidden", "4", "--activation", "relu,tanh"], "one name per hidden layer"),
    (["--data", "xor", "--output", "softmaxx"], "Unknown output: 'softmaxx'"),
    (["--data", "xor", "--loss", "hinge"], "Unknown loss: 'hinge'"),
    (["--data", "xor", "--output", "identity", "--loss", "bce"], "needs outputs in (0, 1)"),
    (["--data", "sine", "--output", "softmax"], "softmax output needs at least 2 units"),
    (["--data", "xor", "--reduction", "avg"], "Unknown reduction: 'avg'"),
    (["--data", "xor", "--init", "xavier"], "Unknown init scheme: 'xavier'"),
    (["--data", "xor", "--init", "uniform:1,0"], "uniform needs low < high"),
    (["--data", "xor", "--init", "normal:0.1,2"], "takes 1 argument"),
    (["--data", "xor", "--dtype", "float16"], "Unknown dtype: 'float16'"),
    (["--data", "xor", "--backprop", "numeric"], "Unknown backprop: 'numeric'"),
    (["--data", "xor", "--seed", "-1"], "seed must be an integer in [0, 2**32 - 1], got -1"),
    (["--data", "xor", "--val-fraction", "1.5"], "val_fraction must be in [0, 1), got 1.5"),
    (["--data", "xor", "--val-fraction", "0.1"], "fraction 0.1 of 4 examples puts 0"),
    (["--data", "xor", "--early-stopping", "0"], "early_stopping must be an integer >= 1"),
    (["--data", "xor", "--early-stopping", "3"], "--early-stopping watches the validation loss"),
    (["--data", "xor", "--devices", "0"], "devices must be an integer >= 1, got 0"),
    (["--data", "xor", "--devices", "4096"], "devices=4096 but only"),
    (["--data", "xor", "--dropout", "1"], "dropout must be in [0, 1), got 1.0"),
    (["--data", "xor", "--dropout", "1e-320"], "dropout=1e-320 cannot be drawn within 1 %"),
    (["--data", "xor", "--standardize", "maybe"], "Unknown standardize: 'maybe'"),
    (["--data", "xor", "--checkpoint-every", "0"], "checkpoint_every must be an integer >= 1"),
    (["--data", "xor", "--label-column", "0"], "--label-column applies to .csv files only"),
    # data sets and files
    (["--data", "nosuch"], "Unknown dataset: 'nosuch'"),
    (["--data", "{dir}/missing.csv"], "missing.csv: no such file"),
    (["--data", "{file}"], "empty file", _text("")),
    (["--data", "{file}"], "has a header but no data rows", _text("a,b,label\n")),
    (["--data", "{file}"], "line 3: expected 3 fields", _text("a,b,label\n1,2,0\n1,2\n")),
    (["--data", "{file}"], "cannot read 'abc' as a number", _text("a,b,label\n1,abc,0\n1,2,1\n")),
    (["--data", "{file}"], "NaN or Inf value 'nan'", _text("a,b,label\n1,nan,0\n1,2,1\n")),
    (["--data", "{file}"], "missing label", _text("a,b,label\n1,2,\n1,2,1\n")),
    (["--data", "{file}"], "needs at least two columns", _text("a\n1\n2\n")),
    (["--data", "{file}"], "x has 1 example: training needs at least 2", _text("1,2,0\n")),
    (
        ["--data", "{file}", "--no-header"],
        "expected 3 fields as in the first row",
        _text("1,2,0\n1,2\n"),
    ),
    (["--data", "{file}", "--label-column", "y"], "no column named 'y'", _text(GOOD_CSV)),
    (
        ["--data", "{file}", "--label-column", "7"],
        "label_column 7 is out of range",
        _text(GOOD_CSV),
    ),  # fmt: skip
    (["--data", "{file}"], "missing arrays ['y']", _npz(x=np.zeros((4, 2)))),
    (["--data", "{file}"], "object array", _npz(x=np.array([[1, "a"]], object), y=[0])),
    (["--data", "{file}"], "not a readable .npz archive", _truncated_npz),
    (["--data", "{file}"], "x contains NaN or Inf", _npz(x=[[np.nan, 1.0], [0, 1]], y=[0, 1])),
    (["--data", "{file}"], "y contains NaN or Inf", _npz(x=[[0.0, 1.0], [0, 1]], y=[0, np.inf])),
    (["--data", "{file}"], "with n >= 1, got (0, 2)", _npz(x=np.zeros((0, 2)), y=np.zeros(0))),
    (["--data", "{file}"], "x has 3 examples but y has 2", _npz(x=np.zeros((3, 2)), y=[0, 1])),
    (["--data", "{file}"], "must be numeric, got dtype <U1", _npz(x=np.array([["a", "b"]]), y=[0])),
    (["--data", "{file}"], "x must have shape (n, d)", _npz(x=np.zeros(4), y=np.zeros(4))),
    (
        ["--data", "fashion-mnist", "--data-dir", "{file}"],
        "bad magic number",
        _idx_folder(b"\x12\x34\x08\x03" + bytes(20)),
    ),  # fmt: skip
    (
        ["--data", "fashion-mnist", "--data-dir", "{file}"],
        "truncated",
        _idx_folder(
            b"\0\0\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(100)
        ),
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    "case", TRAIN, ids=[f"train-{i}-{' '.join(c[0])[:40]}" for i, c in enumerate(TRAIN)]
)
def test_bad_train_input_exits_2_with_one_line(case, tmp_path, capsys):
    args, message, *make = case
    file = make[0](tmp_path) if make else None
    args = [a.format(file=file, dir=tmp_path) for a in args]
    out = tmp_path / "run"
    assert cli.main(["train", "--no-progress", "--out", str(out), *args]) == 2
    assert_one_error_line(capsys, message)
    assert not (out / "checkpoint.npz").exists()


def assert_one_error_line(capsys, message):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err


# -- bad runs, checkpoints and inputs ------------------------------------------------------------


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    """A finished 2-epoch run on XOR."""
    out = tmp_path_factory.mktemp("xor") / "run"
    run.train({"data": "xor", "hidden": [3], "epochs": 2}, out, echo=lambda line: None)
    return out


def copy_run(xor_run, tmp):
    folder = tmp / "copy"
    shutil.copytree(xor_run, folder)
    return folder


def _other_architecture(folder):
    net = MLP((2, 5, 1), "relu", "sigmoid", "bce")
    params = net.init(jax.random.key(0))
    state = TrainState(params, Optimizer().build(1).init(params), 1)
    checkpoint.save(folder / "checkpoint.npz", state, net=net, optimizer=Optimizer(),
                    config=TrainConfig(epochs=2, seed=0))  # fmt: skip


RUNS = [
    # (command with {run} = a copy of the XOR run, message, how to spoil the copy)
    (["train", "--resume"], "--resume needs --out DIR", None),
    (
        ["train", "--data", "xor", "--out", "{run}"],
        "already holds a run: continue it with --resume",
        None,
    ),  # fmt: skip
    (["train", "--out", "{run}/config.json"], "exists and is not a folder", None),
    (
        ["train", "--out", "{run}", "--resume", "--hidden", "8"],
        "--hidden 8 differs from the 3 of the run",
        None,
    ),  # fmt: skip
    (
        ["train", "--out", "{run}", "--resume"],
        "not a readable jaxmlp checkpoint",
        lambda f: _write(f / "checkpoint.npz", (f / "checkpoint.npz").read_bytes()[:300]),
    ),  # fmt: skip
    (
        ["train", "--out", "{run}", "--resume"],
        "another architecture: sizes [2, 5, 1]",
        _other_architecture,
    ),  # fmt: skip
    (
        ["train", "--out", "{run}", "--resume"],
        "config.json: cannot read",
        lambda f: _write(f / "config.json", "{not json"),
    ),  # fmt: skip
    (
        ["train", "--out", "{run}", "--resume"],
        "not a jaxmlp run config",
        lambda f: _write(f / "config.json", "[1, 2]"),
    ),  # fmt: skip
    (["evaluate", "{run}/nope"], "no such run folder", None),
    (
        ["evaluate", "{run}"],
        "not a jaxmlp run folder (no config.json)",
        lambda f: (f / "config.json").unlink(),
    ),  # fmt: skip
    (
        ["evaluate", "{run}"],
        "not a jaxmlp checkpoint",
        lambda f: np.savez(f / "checkpoint.npz", w=np.zeros(3)),
    ),  # fmt: skip
    (
        ["evaluate", "{run}", "--data", "sine"],
        "is a regression data set; the run learned binary",
        None,
    ),  # fmt: skip
    (["predict", "{run}"], "the following arguments are required: --input", None),
    (["predict", "{run}", "--input", "{run}/x.csv"], "x.csv: no such file", None),
    (
        ["predict", "{run}", "--input", "{run}/x.txt"],
        "unknown input format '.txt'",
        lambda f: _write(f / "x.txt", "1 2\n"),
    ),  # fmt: skip
    (
        ["predict", "{run}", "--input", "{run}/x.csv", "--no-header"],  # a,b,c: no such names
        "expected 2 feature columns, got 3",
        lambda f: _write(f / "x.csv", "1,2,3\n"),
    ),  # fmt: skip
    (
        ["predict", "{run}", "--input", "{run}/x.csv"],
        "line 3, column 'column_1': cannot read 'z' as a number",  # names the run takes
        lambda f: _write(f / "x.csv", "column_0,column_1\n1,2\n1,z\n"),
    ),  # fmt: skip
    (
        ["predict", "{run}", "--input", "{run}/x.csv"],
        "line 3, column 'column_1': NaN or Inf value 'inf'",  # names the run takes
        lambda f: _write(f / "x.csv", "column_0,column_1\n1,2\n1,inf\n"),
    ),  # fmt: skip
    (
        ["predict", "{run}", "--input", "{run}/x.npz"],
        "needs an array named 'x'",
        lambda f: np.savez(f / "x.npz", a=np.zeros((2, 2)), b=np.zeros(2)),
    ),  # fmt: skip
    (
        ["predict", "{run}", "--input", "{run}/x.npz"],
        "inputs must have shape (n, 2)",
        lambda f: np.savez(f / "x.npz", x=np.zeros((2, 3))),
    ),  # fmt: skip
    (
        ["predict", "{run}", "--input", "{run}/x.npy"],
        "the array is an object array, which cannot be loaded safely",
        lambda f: np.save(f / "x.npy", np.array([None, 1], object)),
    ),  # fmt: skip
    (["frobnicate"], "invalid choice: 'frobnicate'", None),
    (["gradcheck", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'", None),
]


@pytest.mark.parametrize("case", RUNS, ids=[f"run-{i}-{c[0][0]}" for i, c in enumerate(RUNS)])
def test_bad_run_folders_and_inputs_exit_2_with_one_line(case, xor_run, tmp_path, capsys):
    args, message, spoil = case
    folder = copy_run(xor_run, tmp_path)
    if spoil:
        spoil(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.name == "checkpoint.npz"}
    assert cli.main([a.format(run=folder) for a in args]) == 2
    assert_one_error_line(capsys, message)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.name == "checkpoint.npz"}
    assert after == before  # a refused command never touches the checkpoint


# -- the library: ValueError naming the problem ---------------------------------------------------

NET = MLP((2, 3, 3), "tanh", "softmax", "cross_entropy")
PARAMS = NET.init(jax.random.key(0))
X = np.zeros((4, 2), np.float32)
LABELS = np.array([0, 1, 2, 1])

LIBRARY = [
    (lambda: MLP((2,)), "at least two widths"),
    (lambda: MLP((2, -1, 1)), "positive integer < 2**31, got -1"),
    (lambda: MLP((2, 3, 1), "nosuch"), "Unknown activation: 'nosuch'"),
    (lambda: NET.cost(PARAMS, np.zeros((4, 3)), LABELS), "x must have shape (n, 2)"),
    (lambda: NET.cost(PARAMS, np.array([["a", "b"]]), LABELS[:1]), "x must be numeric"),
    (
        lambda: NET.cost(PARAMS, X, np.array([0, 1, 3, 1])),
        "must lie in [0, 2] for 3 outputs, got 3",
    ),
    (lambda: NET.cost(PARAMS, X, np.array([0, -1, 2, 1])), "got -1"),
    (lambda: NET.cost(PARAMS, X, np.zeros((4, 2))), "t must have shape (4, 3)"),
    (lambda: NET.cost(PARAMS[:1], X, LABELS), "params must be a list of 2 layer dicts"),
    (lambda: fit(NET, np.zeros((0, 2)), np.zeros(0, int)), "x is empty"),
    (lambda: fit(NET, X, LABELS, config=TrainConfig(dtype="float64")), "jax_enable_x64"),
    (lambda: fit(NET, X + [[0, np.nan]], LABELS), "x contains NaN or Inf"),
    (lambda: fit(NET, X, np.eye(3)[LABELS] - [0, np.inf, 0]), "t contains NaN or Inf"),
    (lambda: fit(NET, X, LABELS, x_val=X - [[np.inf, 0]], t_val=LABELS), "x_val contains NaN"),
    (lambda: evaluate(NET, PARAMS, X + [[0, np.nan]], LABELS), "x contains NaN or Inf"),
    (lambda: datasets.from_arrays([[np.nan, 1.0], [0, 1]], [0, 1]), "x contains NaN or Inf"),
    (lambda: datasets.from_arrays([[np.inf, 1.0], [0, 1]], [0, 1]), "first at index (0, 0)"),
    (lambda: datasets.from_arrays(np.zeros((0, 2)), np.zeros(0)), "n >= 1"),
    (lambda: datasets.from_arrays(np.zeros((2, 2)), [0, 1], task="ranking"), "Unknown task"),
    (lambda: run.read_inputs("x.parquet", 2), "no such file"),
    (lambda: run.train({"hiden": [3]}), "Unknown settings ['hiden']"),
    # an object t of None was NaN targets: "training diverged ... try a lower learning rate"
    (lambda: fit(MLP((2, 1)), X, np.array([None] * 4)), "t must be numeric, got dtype object"),
    (
        lambda: fit(MLP((2, 1)), X, np.zeros(4), x_val=X, t_val=np.array([None] * 4)),
        "t_val must be numeric, got dtype object",
    ),
]


@pytest.mark.parametrize("case", LIBRARY, ids=[f"library-{i}" for i in range(len(LIBRARY))])
def test_bad_library_input_raises_value_error(case):
    make, message = case
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_the_battery_has_at_least_40_cases():
    assert len(TRAIN) + len(RUNS) + len(LIBRARY) >= 40


# -- real processes: no traceback, --debug shows one ----------------------------------------------


def jaxmlp(*args, cwd, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "jaxmlp", *map(str, args)], cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--epochs", "-3", "--data", "xor"],
            "error: epochs must be an integer >= 1, got -3.",
        ),
        (["train", "--data", "no/such.csv"], "error: no/such.csv: no such file."),
        (["evaluate", "nowhere"], "error: nowhere: no such run folder."),
    ],
)
def test_a_real_process_prints_one_line_and_no_traceback(args, message, tmp_path):
    out, err = jaxmlp(*args, cwd=tmp_path).communicate(timeout=300)
    assert err == message + "\n" and out == ""


@pytest.mark.slow
def test_a_real_process_prints_a_warning_as_one_line(tmp_path):
    """Regression: a warning printed Python's two lines (the library file and line, then the
    source line of the warnings.warn call), where an error is one line."""
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(8)))
    run.train({"data": str(data), "hidden": [2], "epochs": 1}, tmp_path / "r", echo=print)
    with data.open("a") as file:
        file.write("9,0,1\n")  # the run's training file changed: evaluated as other data
    process = jaxmlp("evaluate", tmp_path / "r", "--data", data, cwd=tmp_path)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0
    assert err.startswith("warning: ") and err.count("\n") == 1 and "changed since" in err, err


@pytest.mark.slow
def test_debug_shows_the_traceback(tmp_path):
    process = jaxmlp("--debug", "train", "--data", "nosuch", cwd=tmp_path)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2  # was 1, Python's status for the traceback, not an error's
    assert "Traceback" in err and "Unknown dataset: 'nosuch'" in err
    assert err.endswith("\n") and err.splitlines()[-1].startswith("error: Unknown dataset"), err


# -- divergence ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_divergence_exits_3_naming_epoch_and_step(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--data", "sine", "--hidden", "4", "--optimizer", "sgd", "--lr", "1e4"]
    assert cli.main(["train", "--no-progress", "--out", str(out), *args]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "error: training diverged at epoch 1: the loss or gradient (or the parameters its update "
        "leaves) of step "
    )
    assert f"The last good checkpoint (epoch 0) is kept in {out}" in err
    assert "--lr 1000.0" in err and f"--init-from {out}" in err
    assert json.loads((out / "summary.json").read_text())["status"] == "diverged"


@pytest.mark.slow
def test_divergence_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    """fit raises Diverged in epoch 3 (as it does for a non-finite loss, with the state of the
    failing epoch): the checkpoint of epoch 2 stays as it was, metrics stop at epoch 2."""
    real_fit = run.trainer.fit

    def fit_diverging_in_epoch_3(*args, callback, **kwargs):
        def wrapped(record, state):
            if record["epoch"] == 3:
                raise Diverged(3, 5, state, [])
            return callback(record, state)

        return real_fit(*args, callback=wrapped, **kwargs)

    monkeypatch.setattr(run.trainer, "fit", fit_diverging_in_epoch_3)
    out = tmp_path / "run"
    args = ["train", "--no-progress", "--data", "xor", "--checkpoint-every", "1", "--out", str(out)]
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    assert "epoch 3: the loss or gradient of step 5 is not finite" in err
    assert f"The last good checkpoint (epoch 2) is kept in {out}" in err
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 2
    assert epochs_logged(out) == [1, 2]


@pytest.mark.parametrize(
    "epoch, every, waited, last_cost, due",
    [
        (1, None, 0.0, 0.0, True),  # the first save
        (7, None, 0.5, 0.02, True),  # half-second epochs: every one is saved
        (7, None, 0.1, 0.02, False),  # a save of 20 ms waits for 0.2 s of training
        (8, None, 0.2, 0.02, True),
        (7, 1, 0.0, 0.02, True),  # --checkpoint-every 1: every epoch, however short
        (7, 2, 9.0, 0.02, False),  # --checkpoint-every 2: odd epochs never
        (8, 2, 0.0, 0.02, True),
    ],
)
def test_checkpoints_take_at_most_a_tenth_of_the_time(epoch, every, waited, last_cost, due):
    assert run.save_due(epoch, every, waited, last_cost) is due


# -- killed and interrupted runs ----------------------------------------------------------------

# Every epoch saved: a signal sent after the first checkpoint lands mid-run (40 fused epochs
# otherwise pass in a blink after it).
KILL_RUN = [
    "--data", "moons", "--hidden", "32", "--epochs", "40", "--checkpoint-every", "1",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """The environment of the processes below: one persistent compilation cache, so only the
    first compiles (the same programs give the same bits; this saves about 2/3 of the time)."""
    folder = tmp_path_factory.mktemp("jax-cache")
    return os.environ | {
        "JAX_COMPILATION_CACHE_DIR": str(folder),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cached):
    """params_sha256 of the uninterrupted run, in a process of its own."""
    cwd = tmp_path_factory.mktemp("reference")
    process = jaxmlp("train", "--out", cwd / "run", *KILL_RUN, cwd=cwd, env=cached)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return json.loads((cwd / "run" / "summary.json").read_text())["params_sha256"]


def start_and_wait_for_checkpoint(out, cwd, env):
    process = jaxmlp("train", "--out", out, *KILL_RUN, cwd=cwd, env=env)
    deadline = time.monotonic() + 300
    while saved_epoch(out) < 1:  # a run saves epoch 0 first: wait for a trained epoch
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.002)
    return process


def saved_epoch(out) -> int:
    """The epoch of the checkpoint in ``out`` (-1: none yet)."""
    try:
        return checkpoint.read_meta(out / "checkpoint.npz")["epoch"]
    except ValueError:
        return -1


def resume(out, cwd, env):
    process = jaxmlp("train", "--out", out, "--resume", "--no-progress", cwd=cwd, env=env)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return json.loads((out / "summary.json").read_text())


def epochs_logged(out):
    return [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_sigkill_then_resume_is_bitwise_the_uninterrupted_run(reference, cached, tmp_path):
    """Killed right after its first checkpoint (during epoch 2 or the next save), resumed in a
    new process: the same params_sha256 as the uninterrupted run in a third process."""
    out = tmp_path / "run"
    process = start_and_wait_for_checkpoint(out, tmp_path, cached)
    process.kill()  # SIGKILL: no handler runs
    process.communicate()
    killed_at = checkpoint.read_meta(out / "checkpoint.npz")["epoch"]
    assert 1 <= killed_at < 40, f"the run was not killed mid-way (checkpoint at {killed_at})"
    summary = resume(out, tmp_path, cached)
    assert summary["params_sha256"] == reference
    assert epochs_logged(out) == list(range(1, 41))  # no epoch twice, none missing


@pytest.mark.slow
def test_sigint_saves_exits_130_and_resumes_bitwise(reference, cached, tmp_path):
    out = tmp_path / "run"
    process = start_and_wait_for_checkpoint(out, tmp_path, cached)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert err.count("\n") == 1 and "Traceback" not in err
    epoch = checkpoint.read_meta(out / "checkpoint.npz")["epoch"]
    assert 1 <= epoch < 40
    assert err.startswith(f"interrupted at epoch {epoch}/40: checkpoint saved; continue with: ")
    assert f"--out {out} --resume" in err
    assert epochs_logged(out) == list(range(1, epoch + 1))  # the log agrees with the checkpoint
    assert resume(out, tmp_path, cached)["params_sha256"] == reference
