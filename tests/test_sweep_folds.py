"""A fold sweep's members are the folds' own runs: each fold's inputs standardised by its own
training rows (as scikit-learn's ``Pipeline(StandardScaler(), model)`` in ``cross_val_score``),
so no fold's validation rows shape its training; a sweep begun by the older rule (one
standardiser of every row) is not resumed by this one.
"""

import json

import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, cli, datasets, fit_population, search

RTOL = 1e-4  # a member against its solo fit: tests/test_population.py states the bound and why
SGD = ["--hidden", "4", "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "full"]


def records(out):
    return [json.loads(line) for line in (out / "members.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def outlier(tmp_path_factory):
    """A 41-row regression CSV whose row 5 holds an outlier (300 in a feature of spread 1):
    the fold that validates on it must meet it unscaled by it (41 rows: one in no fold)."""
    root = tmp_path_factory.mktemp("outlier")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(41, 2))
    x[5, 0] = 300.0
    y = np.sin(x[:, 1]) + x[:, 0] / 3000
    path = root / "d.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,y", comments="")
    return path


def fold_alone(path, fold, k=2, epochs=30):
    """The validation and training losses of fold ``fold`` trained alone on inputs standardised
    by a Standardizer fitted on its training rows (a one-member population: the sweep's
    member up to float rounding)."""
    ds = datasets.load(str(path), standardize=False, task="regression", dtype=np.float64)
    train, val = search.kfold_rows(len(ds.x_train), k, 0)
    x = datasets.Standardizer.fit(ds.x_train[train[fold]]).apply(ds.x_train, np.float32)
    net = MLP((2, 4, 1), "relu", "identity", "sse")
    pop = fit_population(
        net, x, ds.t_train.astype(np.float32).reshape(-1, 1), Optimizer("sgd", lr=0.1),
        TrainConfig(epochs=epochs, batch_size="full"), seeds=[0],
        rows=(train[fold : fold + 1], val[fold : fold + 1]),
    )  # fmt: skip
    return pop.members[0]


@pytest.mark.slow
def test_each_fold_is_standardised_by_its_own_training_rows(outlier, tmp_path):
    """The folds shared one standardiser fitted on every row: the fold validating on the
    outlier reported a validation loss of 0.66 where the fold trained alone, scaled by its own
    training rows, has 214 (the outlier, unseen in training, lies 200 spreads out)."""
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(outlier), "--task", "regression", *SGD, "--epochs", "30"]
    assert cli.main([*argv, "--folds", "2", "--standardize", "yes", "--out", str(out)]) == 0
    found = records(out)
    for fold, record in enumerate(found):
        alone = fold_alone(outlier, fold)
        for name in ("train_loss", "val_loss"):
            assert record[name] == pytest.approx(alone[name], rel=RTOL), (fold, name)
    assert max(r["val_loss"] for r in found) > 100
    config = json.loads((out / "config.json").read_text())
    assert config["sweep"]["standardizer"] == "each fold's own, fitted on its training rows"


@pytest.mark.slow
def test_a_fold_sweep_begun_by_the_shared_standardiser_is_not_resumed(outlier, tmp_path, fails):
    """Its chunks hold members scaled by every row: resumed, the sweep would mix both rules."""
    out = tmp_path / "old"
    argv = ["sweep", "--data", str(outlier), "--task", "regression", *SGD, "--epochs", "3"]
    argv += ["--folds", "2", "--standardize", "yes", "--seeds", "2", "--chunk", "2"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    del config["sweep"]["standardizer"]  # as the older jaxmlp wrote it (no run_id part)
    (out / "config.json").write_text(json.dumps(config))
    (out / "chunks" / "00001.npz").unlink()
    err = fails(["sweep", "--out", str(out), "--resume"])
    assert "one standardiser fitted on every training row" in err and "start a new sweep" in err
    assert not (out / "chunks" / "00001.npz").exists()


def test_a_fold_whose_training_rows_miss_a_class_is_refused(tmp_path, fails):
    """12 rows, 2 of class 1: under --seed 7 both fall in fold 1's validation rows, so fold 1
    trained on class 0 alone, classified all its training rows right and counted as a success
    (3/3) while it never saw class 1. The folds are drawn at random, not by class: refused,
    naming the fold, the class and the ways on, before anything is made."""
    rng = np.random.default_rng(1)
    y = np.zeros(12)
    y[[3, 7]] = 1
    path = tmp_path / "rare.csv"
    np.savetxt(path, np.column_stack([rng.normal(size=(12, 2)), y]), delimiter=",", fmt="%.6g")
    out = tmp_path / "out"
    argv = ["sweep", "--data", str(path), "--hidden", "3", "--epochs", "2", "--folds", "3"]
    err = fails([*argv, "--seed", "7", "--out", str(out)])
    assert "fold 1's training rows hold no example of class 1" in err, err
    assert "fewer --folds or another --seed" in err and not out.exists()


def test_a_fold_whose_training_rows_miss_a_label_value_is_refused(tmp_path, fails):
    """Multilabel: label 1's four positives all fall in fold 0's validation rows, so fold 0
    trained on label 1 always 0, classified every training row right and counted as a success
    (1/3) while it never saw label 1 set. Refused as for a class, naming the fold and label."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    y = np.zeros((30, 2))
    y[:, 0] = x[:, 0] > 0
    y[search.kfold_rows(30, 3, 0)[1][0][:4], 1] = 1
    path = tmp_path / "ml.npz"
    np.savez(path, x=x, y=y)
    out = tmp_path / "out"
    argv = ["sweep", "--data", str(path), "--hidden", "3", "--epochs", "2", "--folds", "3"]
    err = fails([*argv, "--out", str(out)])
    assert "fold 0's training rows hold no example of label 1 = 1" in err, err
    assert "fewer --folds or another --seed" in err and not out.exists()


def test_a_fold_its_standardiser_cannot_scale_is_refused_before_the_folder_is_made(tmp_path, fails):
    """Feature a varies by 1e-15 in fold 1's training rows and holds 1e30 in its validation
    rows: scaled by that fold's spread it leaves float32. The folds' inputs were built when the
    first chunk trained, after the plan line, leaving an empty --out folder."""
    x = np.random.default_rng(0).normal(size=(40, 3))
    x[:, 0] = 1.0 + 1e-15 * (np.arange(40) % 2)
    x[search.kfold_rows(40, 2)[1][1][0], 0] = 1e30
    path = tmp_path / "d.csv"
    np.savetxt(path, x, delimiter=",", header="a,b,y", comments="", fmt="%.17g")
    out = tmp_path / "out"
    argv = ["sweep", "--data", str(path), "--task", "regression", "--hidden", "2", "--epochs", "2"]
    err = fails([*argv, "--folds", "2", "--standardize", "yes", "--out", str(out)])
    assert "--folds 2: fold 1's inputs, standardised by its training rows: x[" in err, err
    assert "too far from the training data" in err and not out.exists()


def test_a_fold_sweep_reads_its_data_once_and_scales_each_fold_from_it(outlier, monkeypatch):
    """The folds were standardised from a second read of the file (raw, float64) beside the
    run's own; now the run's load keeps the raw inputs for them (``data.load_data``'s
    ``keep_raw``): one read, the folds those of the inputs as read, and the run's Dataset keeps
    no copy of them."""
    import contextlib

    from jaxmlp.run import data, sweeper

    reads, load = [], datasets.load
    monkeypatch.setattr(datasets, "load", lambda *a, **k: reads.append(a) or load(*a, **k))
    given = {"data": str(outlier), "task": "regression", "folds": 2, "standardize": "yes"}
    with contextlib.ExitStack() as held:
        run, *_, folds = sweeper._plan(given | {"hidden": [3]}, None, outlier.parent / "o", held)
    assert len(reads) == 1
    x = load(str(outlier), standardize=False, task="regression", dtype=np.float64).x_train
    train, val = search.kfold_rows(len(x), 2, 0)
    expected = datasets.standardize.by_folds(x, train, val, np.float32)
    for got, want in zip((folds.x, folds.train, folds.val), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert data.RAW not in run.data.info


def test_a_class_only_the_rows_in_no_fold_hold_is_refused(tmp_path, fails):
    """13 rows, class 2 in the one row in no fold of 3: the sweep said the row was in no fold,
    not that no member trained or validated on a class of the data."""
    x = np.random.default_rng(0).normal(size=(13, 2))
    val = search.kfold_rows(13, 3, 0)[1]
    y = np.full(13, 2)
    y[val] = np.arange(val.shape[1]) % 2
    path = tmp_path / "left.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", fmt="%.6g")
    out = tmp_path / "out"
    argv = ["sweep", "--data", str(path), "--hidden", "3", "--epochs", "2", "--folds", "3"]
    err = fails([*argv, "--out", str(out)])
    assert "--folds 3 (--seed 0): class 2 is held only by the 1 of the 13 rows in no fold" in err
    assert not out.exists()
