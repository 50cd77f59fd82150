"""``search.grid_search`` and ``search.summarize`` at their boundary: what they refuse (as the
sweep does), what they default to (as ``fit_population`` does), and which columns they group by.
"""

import csv
import json
import math
import re

import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, fit_population, run, search

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_T = np.array([[0], [1], [1], [0]], np.float32)
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
CONFIG = TrainConfig(epochs=2, batch_size="full")


def grid_search(grid, **kwargs):
    config = kwargs.pop("config", CONFIG)
    return search.grid_search(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, grid, **kwargs)


@pytest.mark.parametrize(
    ("grid", "seeds", "says"),
    [
        ({"lr": [0.1, 0.1]}, [0], r"grid\['lr'\] \[0.1, 0.1\] repeats a value: give each"),
        ({"lr": np.array([0.5, 0.5])}, [0], r"grid\['lr'\] \[0.5, 0.5\] repeats a value"),
        ({"lr": [0.1]}, [0, 0], r"seeds \[0, 0\] repeats a seed: give each seed once"),
    ],
)
def test_a_repeated_grid_value_or_seed_is_refused_as_the_sweep_refuses_it(grid, seeds, says):
    """It trained twice and summarize counted it twice (n 2 for one value, a std of copies)."""
    with pytest.raises(ValueError, match=says):
        grid_search(grid, seeds=seeds)
    with pytest.raises(ValueError, match=says):
        search.plan(grid, seeds)


def test_grid_values_equal_in_the_members_dtype_are_refused_naming_them():
    """0.1 and 0.1000000001 are one float32: two identical members, two rows printed 0.1."""
    grid, says = {"lr": [0.1, 0.1000000001]}, r"0.1 and 0.1000000001 are one value in float32"
    with pytest.raises(ValueError, match=r"grid\['lr'\] \[0.1, 0.1000000001\]: " + says):
        grid_search(grid)
    with pytest.raises(ValueError, match=says):
        search.plan(grid, [0], dtype=np.float32)
    assert len(search.plan(grid, [0], dtype=np.float64)) == 2  # two values in float64


@pytest.mark.slow
def test_the_members_seed_defaults_to_config_seed_as_in_fit_population():
    """It was 0 whatever config.seed said."""
    records = grid_search({"lr": [0.5, 1.0]}, config=TrainConfig(epochs=1, seed=7))
    assert [r["seed"] for r in records] == [7, 7]


def sweep_record(member, lr, success, final):
    """A record as a sweep's members.jsonl holds it (the results of one member)."""
    return {
        "member": member, "seed": member % 2, "fold": None, "lr": lr, "momentum": None,
        "weight_decay": 0.0, "clip_norm": None, "init_scale": 1.0, "epochs": 5,
        "stopped_epoch": None, "diverged_epoch": None, "diverged_step": None,
        "train_loss": 0.1 * member, "train_accuracy": 0.5, "val_loss": None,
        "val_accuracy": None, "best_val_loss": None, "seconds": 0.01 * member,
        "final_train_accuracy": final, "success": success,
    }  # fmt: skip


def test_summarize_groups_a_sweeps_records_by_their_settings_never_by_results():
    """success and final_train_accuracy vary between members of one point: they were taken as
    swept settings, splitting each point into rows."""
    records = [
        sweep_record(0, 0.1, True, 1.0),
        sweep_record(1, 0.1, False, 0.75),
        sweep_record(2, 0.5, True, 1.0),
        sweep_record(3, 0.5, False, 0.5),
    ]
    rows = search.summarize(records)
    assert [(r["lr"], r["n"]) for r in rows] == [(0.1, 2), (0.5, 2)]
    assert "success" not in rows[0] and "final_train_accuracy" not in rows[0]
    assert rows[1]["final_train_accuracy_mean"] == 0.75


def test_summarize_by_one_name_or_names_it_knows():
    records = [sweep_record(k, lr, True, 1.0) for k, lr in enumerate((0.1, 0.1, 0.5))]
    assert search.summarize(records, by="lr") == search.summarize(records, by=["lr"])
    assert [r["n"] for r in search.summarize(records, by="lr")] == [2, 1]  # was KeyError 'l'
    for by, bad in ((["nope"], "'nope'"), ("nope", "'nope'"), (["lr", 3], "3")):
        with pytest.raises(ValueError, match=rf"summarize by {bad}: no such column") as info:
            search.summarize(records, by=by)
        assert "'lr'" in str(info.value) and "'seed'" in str(info.value)  # the columns there are


def grid_record(member, setting, value, loss):
    """A record as grid_search returns it: its grid's names only (here one)."""
    return {"member": member, "seed": member % 2, setting: value, "diverged_epoch": None,
            "train_loss": loss, "fold": None}  # fmt: skip


def test_summarize_keeps_apart_the_points_of_grids_joined_into_one_list(tmp_path):
    """Records of a grid over lr joined to those of a grid over momentum (as plan's message
    says to search several grids) were one row: n 8, the mean over every lr and momentum, as
    lr and momentum were not in every record; read back from write_records' file (None where a
    record lacks a name), the same records gave a row per point."""
    by_lr = [grid_record(k, "lr", lr, lr) for k, lr in enumerate((0.1, 0.1, 1.0, 1.0))]
    by_momentum = [grid_record(k, "momentum", m, m) for k, m in enumerate((0.5, 0.5, 0.9, 0.9))]
    rows = search.summarize(by_lr + by_momentum)
    points = [(r["lr"], r["momentum"], r["n"], r["train_loss_mean"]) for r in rows]
    assert points == [
        (0.1, None, 2, 0.1), (1.0, None, 2, 1.0), (None, 0.5, 2, 0.5), (None, 0.9, 2, 0.9)
    ]  # fmt: skip
    path = search.write_records(by_lr + by_momentum, tmp_path / "joined.jsonl")
    read = [json.loads(line) for line in path.read_text().splitlines()]
    assert search.summarize(read) == rows
    assert [r["n"] for r in search.summarize(by_lr + by_momentum, by="lr")] == [2, 2, 4]


def test_summarize_names_the_keys_a_record_lacks():
    """A record without diverged_epoch was a KeyError 'diverged_epoch'."""
    with pytest.raises(ValueError, match=r"record 0 has no 'diverged_epoch'") as info:
        search.summarize([{"lr": 0.1, "seed": 0, "train_loss": 1.0}])
    assert "grid_search" in str(info.value)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ({"diverged_epoch": math.nan}, "record 1's diverged_epoch is nan"),  # pandas' empty cell
        ({"diverged_epoch": ""}, "record 1's diverged_epoch is ''"),  # csv.DictReader's
        ({"diverged_epoch": 2.0}, "record 1's diverged_epoch is 2.0"),
        ({"diverged_epoch": True}, "record 1's diverged_epoch is True"),
        ({"train_loss": "0.25"}, "record 1's train_loss is '0.25'"),
        ({"val_loss": "nan"}, "record 1's val_loss is 'nan'"),  # members.jsonl's NaN, as text
    ],
)
def test_summarize_refuses_records_whose_cells_it_would_misread(edit, says):
    """Records read back from members.csv (pandas: an empty diverged_epoch is NaN; csv: '')
    summarized as every member diverged and no metric, exit 0."""
    good = {"lr": 0.1, "seed": 0, "diverged_epoch": None, "train_loss": 0.5, "val_loss": math.nan}
    with pytest.raises(ValueError, match=re.escape(says)) as info:
        search.summarize([good, good | edit])
    assert "members.jsonl" in str(info.value)
    row = search.summarize([good, good | {"seed": 1, "diverged_epoch": np.int64(3)}])[0]
    assert row["diverged"] == 1 and row["train_loss_mean"] == 0.5  # NaN val_loss is a number


def test_arrays_and_non_finite_numbers_in_lists_are_written_as_json_in_both_formats(tmp_path):
    """JSONL raised TypeError for an ndarray and a bare 'Out of range float' for a NaN in a
    list, where CSV wrote both; both now write them as JSON (NaN and infinities as the
    strings "nan", "inf" and "-inf", numeric.for_json: null lost the sign)."""
    records = [{"lr": 0.1, "w": np.array([1.0, np.nan]), "v": [np.float32(2), -math.inf]}]
    line = search.write_records(records, tmp_path / "r.jsonl").read_text()
    assert json.loads(line) == {"lr": 0.1, "w": [1.0, "nan"], "v": [2.0, "-inf"]}
    with open(search.write_records(records, tmp_path / "r.csv"), newline="") as f:
        row = next(csv.DictReader(f))
    assert row == {"lr": "0.1", "w": '[1.0, "nan"]', "v": '[2.0, "-inf"]'}


@pytest.mark.parametrize("grid", [[{"lr": [0.1]}], None, "lr", {"lr": [0.1]}.items()])
def test_a_grid_that_is_no_dict_is_a_value_error_saying_what_a_grid_is(grid):
    """A list of dicts (scikit-learn's ParameterGrid) or None was an AttributeError (.items)."""
    says = r"grid must be a dict of setting name -> list of values .*, got "
    with pytest.raises(ValueError, match=says):
        grid_search(grid)
    with pytest.raises(ValueError, match=says):
        search.plan(grid, [0])


@pytest.mark.parametrize("folds", [2, None])
def test_val_fraction_is_refused_naming_what_grid_search_takes(folds):
    """The message was fit_population's, pointing at its rows argument, which grid_search lacks."""
    config = TrainConfig(epochs=1, val_fraction=0.25)
    with pytest.raises(ValueError, match=r"config.val_fraction=0.25") as info:
        grid_search({"lr": [0.1]}, config=config, folds=folds)
    says = str(info.value)
    assert "folds" in says and "x_val and t_val" in says and "rows" not in says, says


def test_a_grid_of_more_members_than_a_sweep_holds_is_refused_before_any_is_listed(monkeypatch):
    """grid_search and plan had no bound (the sweep's is 100000 members): 3 lr x 40000 seeds
    listed and trained 120000 members, and a grid of a few long lists would list billions."""
    from jaxmlp.run import sweeper

    def trained(*args, **kwargs):
        raise AssertionError("a member trained")

    monkeypatch.setattr(search, "fit_population", trained)
    grid, seeds = {"lr": [0.1, 0.2, 0.3]}, list(range(40000))
    says = r"120000 members \(3 lr x 40000 seeds\) are more than a grid search's 100000"
    with pytest.raises(ValueError, match=says):
        grid_search(grid, seeds=seeds)
    with pytest.raises(ValueError, match=says):
        search.plan(grid, seeds)
    many = {name: list(np.linspace(0.1, 0.9, 1000)) for name in ("lr", "momentum", "clip_norm")}
    with pytest.raises(ValueError, match=r"1000000000 members \(1000 lr x 1000 momentum x "):
        search.plan(many, [0])
    assert len(search.plan({"lr": [0.1, 0.2]}, list(range(25000)), folds=2)) == 100000
    assert sweeper.MAX_MEMBERS == search.MAX_MEMBERS == 100000  # one bound, one rule


@pytest.mark.parametrize("z", [-1.96, 0.0, float("nan"), float("inf"), True, "1.96"])
def test_wilson_refuses_a_z_that_is_no_positive_number(z):
    """Regression: a negative z (scipy's norm.ppf(0.025) is -1.96) gave (0.3, 0.3) for 3 of 10,
    a 95 % interval of no width, and NaN or inf the whole of [0, 1], silently; a string was a
    TypeError. z is the normal quantile of the interval's level: a finite number > 0."""
    with pytest.raises(ValueError, match=r"z must be a finite number > 0, got"):
        search.wilson(3, 10, z)
    assert search.wilson(3, 10, np.float64(search.Z95)) == search.wilson(3, 10)


def test_quantiles_next_to_an_infinity_are_that_infinity_not_nan():
    """Regression: NumPy interpolates a quantile as a + (b - a) t, which is NaN where b is inf
    (inf - inf): the median of {0.2, 0.3, inf} was NaN, not 0.3, and the 75 % and 90 % ones
    NaN, not inf. Elsewhere the quantiles are NumPy's linear ones; a NaN value stays NaN."""
    q = (0.1, 0.25, 0.5, 0.75, 0.9)
    got = search.quantiles([0.2, 0.3, math.inf], q)
    np.testing.assert_allclose(got[:3], [0.22, 0.25, 0.3], rtol=1e-12)
    assert list(got[3:]) == [math.inf, math.inf]
    assert list(search.quantiles([-math.inf, 1.0, 2.0], (0.1, 0.5))) == [-math.inf, 1.0]
    assert list(search.quantiles([1.0, math.inf, math.inf], q)) == [math.inf] * 5
    assert np.isnan(search.quantiles([-math.inf, math.inf], 0.5))  # no median
    assert np.isnan(search.quantiles([0.2, math.nan, 0.3], 0.5))
    rng = np.random.default_rng(0)
    finite = rng.normal(size=(7, 5))
    np.testing.assert_array_equal(search.quantiles(finite, q, axis=0), np.quantile(finite, q, 0))
    finite[2:, 1] = np.nan
    with np.errstate(all="raise"):
        got = search.quantiles(finite, 0.5, axis=0, skip_nan=True)
    np.testing.assert_array_equal(got, np.nanquantile(finite, 0.5, axis=0))


@pytest.mark.slow
def test_standardize_scales_each_fold_by_its_own_training_rows():
    """grid_search indexes x as given: x standardised on all rows (``datasets.load``'s
    default) lets each fold's validation rows shape its training. ``standardize=True`` with
    raw x scales each fold by a Standardizer fitted on its training rows, as the sweep does:
    each fold's member is that fold trained alone on so scaled inputs; without folds it is
    refused."""
    from jaxmlp import datasets, fit_population

    rng = np.random.default_rng(0)
    x = rng.normal(size=(41, 2))
    x[5, 0] = 300.0  # an outlier in one fold's validation rows
    t = (np.sin(x[:, 1]) + x[:, 0] / 3000).reshape(-1, 1)
    net = MLP((2, 4, 1), "relu", "identity", "sse")
    sgd, config = Optimizer("sgd", lr=0.1), TrainConfig(epochs=30, batch_size="full")
    found = search.grid_search(net, x, t, sgd, config, {"lr": [0.1]}, folds=2, standardize=True)
    train, val = search.kfold_rows(41, 2)
    for f, record in enumerate(found):
        xs = datasets.Standardizer.fit(x[train[f]]).apply(x, np.float32)
        rows = (train[f : f + 1], val[f : f + 1])
        alone = fit_population(net, xs, t, sgd, config, seeds=[0], rows=rows)
        for name in ("train_loss", "val_loss"):
            assert record[name] == pytest.approx(alone.members[0][name], rel=1e-4), (f, name)
    with pytest.raises(ValueError, match="standardize=True scales each fold"):
        search.grid_search(net, x, t, sgd, config, {"lr": [0.1]}, standardize=True)


@pytest.mark.parametrize("seed", [None, True, -1, 1.5, "3", 2**32])
def test_kfold_rows_refuses_a_seed_that_is_no_seed(seed):
    """seed=None drew other folds at each call (NumPy's fresh entropy): a member's training rows
    and the validation rows asked for again disagreed; True was seed 1 and 2**32 a seed no
    run takes. Refused by the seeds' one rule (``datasets.check_seed``)."""
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\], got "):
        search.kfold_rows(10, 2, seed)
    with pytest.raises(ValueError, match=r"seed must be an integer"):
        search.fold_rows(10, 2, seed, [0])


@pytest.mark.parametrize("standardize", ["no", "yes", 1, None, np.array([True, False])])
def test_standardize_that_is_no_bool_is_refused(standardize):
    """``standardize="no"`` (the CLI's word) was read by its truth: every fold standardised,
    the results those of ``standardize=True``."""
    with pytest.raises(ValueError, match=r"standardize must be True or False, got "):
        grid_search({"lr": [0.1]}, folds=2, standardize=standardize)


@pytest.mark.parametrize(
    ("x", "t", "says"),
    [
        (np.zeros((40, 2)), np.zeros((30, 1)), r"t must have shape \(40, 1\) .*got \(30, 1\)"),
        (np.zeros(40), np.zeros((40, 1)), r"x must have shape \(n, 2\) .*got \(40,\)"),
    ],
)  # fmt: skip
def test_standardized_folds_refuse_the_data_as_given_not_as_k_copies(x, t, says):
    """``standardize=True`` makes k copies of x (and t): a mismatch is named by the shapes the
    caller gave, not those of the copies (t must have shape (160, 1), got (120, 1))."""
    net = MLP((2, 4, 1), "relu", "identity", "sse")
    with pytest.raises(ValueError, match=says):
        search.grid_search(net, x, t, Optimizer("sgd"), CONFIG, {"lr": [0.1]}, folds=4,
                           standardize=True)  # fmt: skip


def rare_class():
    """12 rows of which rows 3 and 7 are class 1: under seed 7 both fall in fold 1's validation
    rows of 3 folds (``test_sweep_folds``' data)."""
    x = np.random.default_rng(1).normal(size=(12, 2)).astype(np.float32)
    y = np.zeros(12, int)
    y[[3, 7]] = 1
    return x, y


@pytest.mark.parametrize(
    ("net", "targets"),
    [
        (MLP((2, 3, 1), "tanh", "sigmoid", "bce"), lambda y: y[:, None].astype(np.float32)),
        (MLP((2, 3, 2), "tanh", "softmax", "cross_entropy"), lambda y: y),
        (MLP((2, 3, 2), "tanh", "softmax", "cross_entropy"), lambda y: np.eye(2)[y]),
        (MLP((2, 3, 1), "tanh", "threshold", "sse"), lambda y: 2.0 * y[:, None] - 1),
    ],
)
def test_a_fold_whose_training_rows_miss_a_class_is_refused_as_the_sweep_refuses_it(net, targets):
    """Fold 1 trained on class 0 alone and reported a validation accuracy on class 1, which it
    never saw (0.0 for the sigmoid net), while ``jaxmlp sweep --folds`` refused those folds."""
    x, y = rare_class()
    config = TrainConfig(epochs=1, batch_size="full", seed=7)
    says = r"folds=3 \(config.seed=7\): fold 1's training rows hold no example of class 1, "
    with pytest.raises(ValueError, match=says + r".*use fewer folds or another config.seed"):
        search.grid_search(net, x, targets(y), Optimizer("sgd"), config, {"lr": [0.1]}, folds=3)


def test_a_fold_whose_training_rows_miss_a_label_value_is_refused():
    """Multilabel: label 1's positives all in fold 0's validation rows (as the sweep's test)."""
    x = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    t = np.zeros((30, 2), np.float32)
    t[:, 0] = x[:, 0] > 0
    t[search.kfold_rows(30, 3, 0)[1][0][:4], 1] = 1
    net = MLP((2, 3, 2), "tanh", "sigmoid", "bce")
    with pytest.raises(ValueError, match="fold 0's training rows hold no example of label 1 = 1"):
        search.grid_search(net, x, t, Optimizer("sgd"), CONFIG, {"lr": [0.1]}, folds=3)


def left_over_class(n=13, k=3):
    """n rows of classes 0 and 1 in every fold's training and validation rows, and class 2 in
    the n mod k rows in no fold (``kfold_rows(n, k, 0)``)."""
    x = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    val = search.kfold_rows(n, k, 0)[1]
    y = np.full(n, 2)
    y[val] = np.arange(val.shape[1]) % 2
    return x, y


def test_a_class_only_the_rows_in_no_fold_hold_is_refused():
    """Class 2 only in the row no fold holds: no member trained or validated on it, and the
    search's scores read as those of a 3-class problem."""
    x, y = left_over_class()
    net = MLP((2, 3, 3), "tanh", "softmax", "cross_entropy")
    says = r"folds=3 \(config.seed=0\): class 2 is held only by the 1 of the 13 rows in no fold"
    with pytest.raises(ValueError, match=says):
        search.grid_search(net, x, y, Optimizer("sgd"), CONFIG, {"lr": [0.1]}, folds=3)
    y[y == 2] = 0  # that row's class in the folds too: searched
    records = search.grid_search(net, x, y, Optimizer("sgd"), CONFIG, {"lr": [0.1]}, folds=3)
    assert [r["fold"] for r in records] == [0, 1, 2]


@pytest.mark.parametrize(
    ("seeds", "says"),
    [
        ([], r"must be a non-empty list of integer seeds in \[0, 2\*\*32 - 1\], each once"),
        (3, r"must be a non-empty list of integer seeds in \[0, 2\*\*32 - 1\], each once"),
        ([0, 0], r"\[0, 0\] repeats a seed: give each seed once"),
        ([0, 2**32], r"seed must be an integer in \[0, 2\*\*32 - 1\], got 4294967296"),
    ],
)
def test_a_sweep_and_a_grid_search_check_their_seeds_by_one_rule(seeds, says):
    """The sweep's own check said "integers >= 0" (2**32 is none) and refused a tuple that
    grid_search takes."""
    from jaxmlp.run.settings import sweep_seeds

    for check in (lambda: sweep_seeds(seeds, 0), lambda: search.plan({"lr": [0.1]}, seeds)):
        with pytest.raises(ValueError, match=says):
            check()
    assert sweep_seeds((0, np.int64(1)), 0) == search.check_seeds("s", [0, 1]) == [0, 1]


@pytest.mark.parametrize(
    "search_with",
    [
        lambda v: grid_search({"lr": [0.1, v]}),
        lambda v: run.sweep(
            {"data": "xor", "hidden": [3], "epochs": 1, "lr": [0.1, v]}, "-", echo=print
        ),
        lambda v: fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), CONFIG, hyper={"lr": [v]}),
    ],
)
def test_an_integer_no_float_holds_is_a_value_error_naming_it(search_with):
    """10**400 as a grid, hyper or sweep value was an OverflowError from math.isfinite."""
    with pytest.raises(ValueError, match=r"finite numbers? .*got .*1000000000"):
        search_with(10**400)


def test_summarize_skips_a_column_of_lists_and_refuses_to_group_by_it():
    """A list-valued column (write_records writes them) was a TypeError, unhashable 'list',
    whether by named it or not."""
    records = [sweep_record(k, lr, True, 1.0) for k, lr in enumerate((0.1, 0.1, 0.5))]
    records = [r | {"curve": [0.5, k]} for k, r in enumerate(records)]
    assert [(r["lr"], r["n"]) for r in search.summarize(records)] == [(0.1, 2), (0.5, 1)]
    with pytest.raises(ValueError, match=r"summarize by 'curve': its values .*\[0.5, 0\]"):
        search.summarize(records, by="curve")
