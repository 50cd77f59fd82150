"""``jaxmlp sweep``'s value lists, checked before the folder is claimed, and named: members'
settings were checked only when the first chunk trained (after the plan line, leaving an empty
--out folder)."""

import pytest

from jaxmlp import cli

XOR = [
    "--data", "xor", "--hidden", "3", "--activation", "sigmoid", "--loss", "sse",
    "--reduction", "sum", "--init", "uniform:0,1", "--optimizer", "sgd", "--batch-size", "full",
    "--epochs", "3",
]  # fmt: skip


def refused(argv, tmp_path, capsys) -> str:
    """The one error line of ``jaxmlp sweep argv``: exit 2, no plan line, no folder made."""
    out = tmp_path / "sweep"
    assert cli.main(["sweep", *XOR, *argv, "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1, printed
    assert printed.err.startswith("error: ") and not out.exists(), printed.err
    return printed.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--momentum", "0.5,1.5"], "member 1: momentum must be in [0, 1), got 1.5"),
        (["--init-scale", "0"], "init_scale must be > 0, got [0.0]"),
        (["--optimizer", "lbfgs", "--lr", "0.1,0.2"], "Optimizer 'lbfgs'"),
        # an unswept number outside float32 was refused by the first chunk, the folder made
        (["--lr", "1e-50"], "lr = 1e-50 is outside the range of float32"),
        (["--lr", "1e-50", "--seeds", "2"], "lr = 1e-50 is outside the range of float32"),
        (
            ["--optimizer", "momentum", "--momentum", "0.5,0.99999999"],
            "member 1: momentum = 0.99999999 is 1.0 in float32",
        ),
        # what a curvature solver cannot run was refused by the first chunk, the folder made
        (["--optimizer", "lm", "--loss", "bce", "--seeds", "2"], "Optimizer 'lm' needs loss"),
        (["--optimizer", "lbfgs", "--batch-size", "2"], "'lbfgs' is a full-batch method"),
        (["--optimizer", "cg", "--dropout", "0.5"], "Optimizer 'cg' needs dropout=0"),
    ],
)
def test_a_members_setting_is_refused_before_the_folder_is_made(argv, says, tmp_path, capsys):
    err = refused(argv, tmp_path, capsys)
    assert says in err, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--init-scale", "-1,1"], "init_scale must be > 0, got [-1.0, 1.0]"),
        (["--lr", "-1e-3"], "lr must be a finite number > 0, got -0.001"),
    ],
)
def test_a_negative_value_list_is_read_as_values(argv, says, tmp_path, capsys):
    """argparse read both as options: "error: argument --lr: expected one argument"."""
    err = refused(argv, tmp_path, capsys)
    assert says in err, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--lr", "0.1,1_0"], "--lr needs finite numbers separated by commas, got '0.1,1_0'"),
        (["--init-scale", "\uff11,2"], "--init-scale needs finite numbers separated by commas"),
    ],
)
def test_a_value_list_takes_numbers_as_train_flags_and_csv_fields_do(argv, says, tmp_path, capsys):
    """Regression: a value list read each value with Python's float, which takes 1_0 (10) and
    full-width digits that --lr alone and a CSV file refuse."""
    err = refused(argv, tmp_path, capsys)
    assert says in err and ("(digit-group underscores" in err or "FULLWIDTH DIGIT ONE" in err)


def test_a_second_order_optimizer_sweeps_init_scale_and_names_what_it_refuses(tmp_path, capsys):
    """init_scale scales the initial parameters, not the optimizer: lbfgs refused it as one of
    its 'per-member numbers' (a message about first-order optimizers)."""
    lbfgs = ["--optimizer", "lbfgs", "--epochs", "2"]
    out = tmp_path / "scaled"
    assert cli.main(["sweep", *XOR, *lbfgs, "--init-scale", "1,2", "--out", str(out)]) == 0
    capsys.readouterr()
    err = refused(["--optimizer", "newton-cg", "--lr", "0.5,1"], tmp_path, capsys)
    assert "'newton-cg' compiles its numbers (lr" in err, err
    assert "members cannot differ in ['lr']" in err, err


def test_values_equal_in_the_members_dtype_are_refused_naming_them(tmp_path, capsys):
    """Two members of one float32 learning rate were trained, both printed 0.1."""
    err = refused(["--lr", "0.1,0.1000000001"], tmp_path, capsys)
    assert "--lr [0.1, 0.1000000001]: 0.1 and 0.1000000001 are one value in float32" in err, err


@pytest.mark.parametrize("value", ["1e39", "1e39,2e39", "1e-50,1e-60"])
def test_an_init_scale_outside_float32_is_one_line(value, fails, tmp_path):
    """Regression: 'warning: overflow encountered in cast' came first (the duplicate check cast
    the values to float32 before their range was checked), and two values outside the range
    were called one value in float32 rather than outside it."""
    argv = ["sweep", "--data", "xor", "--epochs", "1", "--hidden", "3"]
    err = fails([*argv, "--init-scale", value, "--out", str(tmp_path / "s")])
    assert "init_scale = 1e" in err and "is outside the range of float32" in err


@pytest.mark.parametrize(("folds", "said"), [(3, "1 of the 1000 training rows"), (2, None)])
def test_rows_that_no_fold_holds_are_said(folds, said, tmp_path, capsys):
    """K folds of n // K rows leave n mod K rows out of every member's training and validation
    (one program for all folds): the sweep said nothing of it ("--folds K: K-fold
    cross-validation"). (sine's regression: XOR's 4 rows in 3 folds leave a fold whose training
    rows miss a class, refused: tests/test_sweep_folds.py.)"""
    out = tmp_path / f"folds{folds}"
    argv = [a if a != "xor" else "sine" for a in XOR]
    assert cli.main(["sweep", *argv, "--folds", str(folds), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    if said is None:
        assert "in no fold" not in printed, printed
    else:
        assert f"--folds {folds}: {said} are in no fold" in printed, printed
