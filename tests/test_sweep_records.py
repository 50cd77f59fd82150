"""What a sweep's records say about each member: ``success`` and ``final_train_accuracy`` are
facts of the parameters the member returns, not of its last epoch's running accuracy; the
settings recorded are the ones used; a sweep too large to hold is refused before it starts.
"""

import json

import jax
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, cli, datasets, fit_population, search
from jaxmlp.run import folder

# XOR 2-3-1 by momentum: seed 0's last epoch (58) counts 2 of 4 right before its update, and
# the parameters after that update classify all four (/tmp/probe_pop/p13.py found it).
XOR = [
    "--data", "xor", "--hidden", "3", "--activation", "tanh", "--output", "sigmoid",
    "--loss", "bce", "--batch-size", "full",
]  # fmt: skip
MOMENTUM = [*XOR, "--optimizer", "momentum", "--lr", "0.5"]
NET = MLP((2, 3, 1), "tanh", "sigmoid", "bce")


def records(out):
    return [json.loads(line) for line in (out / "members.jsonl").read_text().splitlines()]


def accuracy(params, k, x, t):
    """The share of ``x``'s rows member k of ``params`` classifies right."""
    member = jax.tree.map(lambda a: a[k], params)
    return float(np.mean(NET.predict(member, x).reshape(-1, 1) == t))


@pytest.mark.slow
def test_success_is_the_returned_parameters_classifying_every_training_row(tmp_path):
    """An epoch's train_accuracy counts each step's batch before its update, so the last epoch's
    describes the network one update before the returned one; success said so of it."""
    out = tmp_path / "sweep"
    assert cli.main(["sweep", *MOMENTUM, "--epochs", "58", "--seeds", "4", "--out", str(out)]) == 0
    ds = datasets.load("xor")
    config = TrainConfig(epochs=58, batch_size="full")
    pop = fit_population(NET, ds.x_train, ds.t_train, Optimizer("momentum", lr=0.5), config,
                         seeds=[0, 1, 2, 3])  # fmt: skip
    found = records(out)
    for k, r in enumerate(found):
        returned = accuracy(pop.params, k, ds.x_train, ds.t_train)
        assert r["success"] == (returned == 1.0), (k, r["train_accuracy"], returned)
        assert r["final_train_accuracy"] == returned
    assert found[0]["train_accuracy"] == 0.5 and found[0]["success"]  # the case that misled
    summary = json.loads((out / "summary.json").read_text())
    assert "final_train_accuracy" in summary["success_rule"]


@pytest.mark.slow
def test_with_folds_and_early_stopping_success_reads_the_restored_parameters_on_the_fold(
    tmp_path,
):
    out = tmp_path / "folds"
    argv = [*MOMENTUM, "--epochs", "40", "--seeds", "2", "--folds", "2", "--early-stopping", "3"]
    assert cli.main(["sweep", *argv, "--out", str(out)]) == 0
    ds = datasets.load("xor")
    rows = search.fold_rows(4, 2, 0, [0, 1, 0, 1])
    config = TrainConfig(epochs=40, batch_size="full", early_stopping=3)
    pop = fit_population(NET, ds.x_train, ds.t_train, Optimizer("momentum", lr=0.5), config,
                         seeds=[0, 0, 1, 1], rows=rows)  # fmt: skip
    for k, r in enumerate(records(out)):
        train = rows[0][k]
        returned = accuracy(pop.params, k, ds.x_train[train], ds.t_train[train])
        assert (r["seed"], r["fold"]) == ([0, 0, 1, 1][k], k % 2)
        assert r["final_train_accuracy"] == returned and r["success"] == (returned == 1.0)


@pytest.mark.slow
def test_the_momentum_recorded_is_the_one_used(tmp_path):
    """momentum and nesterov use 0.9 when none is given; members.jsonl and config.json said
    null. sgd without --momentum has none (null), and a given one is kept."""
    cases = [("momentum", [], 0.9), ("nesterov", [], 0.9), ("sgd", [], None)]
    cases += [("momentum", ["--momentum", "0.5"], 0.5), ("adam", [], None)]
    for k, (optimizer, extra, used) in enumerate(cases):
        out = tmp_path / f"s{k}"
        argv = [*XOR, "--optimizer", optimizer, *extra, "--lr", "0.1,0.2", "--epochs", "2"]
        assert cli.main(["sweep", *argv, "--out", str(out)]) == 0
        assert [r["momentum"] for r in records(out)] == [used, used], optimizer
        config = json.loads((out / "config.json").read_text())
        assert config["settings"]["momentum"] == used, optimizer
    assert cli.main(["sweep", "--out", str(tmp_path / "s0"), "--resume"]) == 0  # reads back


@pytest.mark.slow
def test_a_member_whose_returned_parameters_give_no_finite_loss_diverged_as_its_run_does(
    tmp_path,
):
    """lr 1e37's one step leaves finite weights of ~1e37, whose loss is NaN: jaxmlp train exits
    3 (diverged at epoch 1, its saved parameters' probe); the sweep recorded that member as not
    diverged, with its epoch's running loss 0.7294 and the lr 0.1 member's summary."""
    argv = [*XOR, "--activation", "relu", "--optimizer", "sgd", "--epochs", "1"]
    assert cli.main(["train", *argv, "--lr", "1e37", "--out", str(tmp_path / "run")]) == 3
    out = tmp_path / "sweep"
    assert cli.main(["sweep", *argv, "--lr", "1e37,0.1", "--out", str(out)]) == 0
    bad, good = records(out)
    assert (bad["diverged_epoch"], bad["diverged_step"], bad["params_epoch"]) == (1, 1, None)
    assert not bad["success"] and good["diverged_epoch"] is None and good["params_epoch"] == 1
    summary = json.loads((out / "summary.json").read_text())
    assert [row["diverged"] for row in summary["rows"]] == [1, 0]


LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))  # the bug: list(range(2**32))
from jaxmlp import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_count_of_seeds_beyond_a_sweeps_members_exits_2_before_it_builds_them(tmp_path):
    """--seeds 4294967296 built list(range(2**32)) before any check: a MemoryError traceback
    (here, under a 6 GiB address-space limit)."""
    import subprocess
    import sys

    out = tmp_path / "huge"
    argv = [*MOMENTUM, "--epochs", "2", "--seeds", "4294967296", "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", LIMITED, "sweep", *argv],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1, done.stderr
    assert "--seeds needs a count N in [1, 100000]" in done.stderr
    assert not out.exists()


def test_a_sweep_of_more_members_than_it_holds_is_refused_before_any_trains(
    tmp_path, capsys, monkeypatch
):
    from jaxmlp.run import sweeper

    def trained(*args):
        raise AssertionError("a chunk trained")

    monkeypatch.setattr(sweeper, "_fit_chunk", trained)
    out = tmp_path / "big"
    argv = [*MOMENTUM[:-2], "--lr", "0.1,0.2,0.3", "--epochs", "2", "--seeds", "40000"]
    assert cli.main(["sweep", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "120000 members (3 lr x 40000 seeds)" in err, err
    assert "more than a sweep's 100000" in err and not out.exists()


def test_a_chunk_reads_its_records_back_as_they_were_written(tmp_path):
    """A chunk's records are strict JSON, a non-finite number as the string "inf" (the JSON
    rule, numeric.for_json): read back on resume they were those strings, not the numbers the
    sweep that wrote them held; they are floats again, as metrics.jsonl's are."""
    from jaxmlp.run import chunks

    part = [{"seed": 0}, {"seed": 1}]
    written = [
        {"member": 0, "seed": 0, "val_loss": np.inf, "train_loss": 0.5, "diverged_epoch": None},
        {"member": 1, "seed": 1, "val_loss": 0.25, "train_loss": -np.inf, "diverged_epoch": None},
    ]
    written = [r | {chunks.FINAL: 0.5, "params_epoch": 3} for r in written]
    curves = {"train_loss": np.zeros((2, 3), np.float32)}
    chunks.write(tmp_path / "00000.npz", written, curves, "sweep")
    records, _ = chunks.read(tmp_path / "00000.npz", part, 0, "sweep")
    assert records == written
    assert [type(r["val_loss"]) for r in records] == [float, float]


@pytest.mark.slow
def test_with_restore_best_the_records_validation_metrics_are_the_returned_parameters(tmp_path):
    """A sweep's val_loss and val_accuracy were the last epoch's, not those of the restored
    parameters the member ends with (moons, 3 folds: seed 1 fold 1's val_loss 0.0168 where its
    best, returned, had 0.00055): a user choosing a model by cross-validation read the wrong
    number. Now they are those of ``params_epoch``, the epoch of the parameters returned."""
    out = tmp_path / "moons"
    argv = ["--data", "moons", "--hidden", "16", "--optimizer", "adam", "--lr", "0.05"]
    argv += ["--batch-size", "16", "--epochs", "200", "--folds", "3", "--early-stopping", "5"]
    assert cli.main(["sweep", *argv, "--seeds", "2", "--out", str(out)]) == 0
    found = records(out)
    for r in found:
        assert r["val_loss"] == r["best_val_loss"]
        assert r["stopped_epoch"] == r["epochs"] and r["params_epoch"] == r["epochs"] - 5
    rows = json.loads((out / "summary.json").read_text())["rows"]
    assert len(rows) == 1 and rows[0]["n"] == 6
    mean = np.mean([r["val_loss"] for r in found])
    assert rows[0]["val_loss_mean"] == pytest.approx(mean, rel=1e-12)
    assert [row["n"] for row in search.summarize(found)] == [6]  # not one row per params_epoch


def test_a_chunk_saved_before_members_last_parameters_were_probed_is_refused(tmp_path):
    """A chunk of an older jaxmlp (no ``probed``) may record a member whose last step left
    finite but huge weights with a non-finite loss as not diverged (lr 1e37's, with its running
    loss in the summary): a resumed sweep reported it as healthy. Its records cannot be checked
    again (a chunk holds no parameters): refused, naming what to do."""
    from jaxmlp.run import chunks

    record = {"member": 0, "seed": 0, "diverged_epoch": None, "params_epoch": 1}
    text = folder.to_json([record | {chunks.FINAL: 0.5}])
    curves = {"train_loss": np.zeros((1, 3), np.float32)}
    digest = chunks._digest("sweep", text, curves)  # as the older jaxmlp saved it
    np.savez(tmp_path / "00000.npz", records=np.array(text), identity=np.array("sweep"),
             sha256=np.array(digest), **curves)  # fmt: skip
    with pytest.raises(ValueError, match="records no probe of its members' last parameters"):
        chunks.read(tmp_path / "00000.npz", [{"seed": 0}], 0, "sweep")
    chunks.write(tmp_path / "00001.npz", [record | {chunks.FINAL: 0.5}], curves, "sweep")
    assert chunks.read(tmp_path / "00001.npz", [{"seed": 0}], 0, "sweep")[0][0]["member"] == 0


def test_a_chunk_whose_records_give_the_last_epochs_metrics_is_refused(tmp_path):
    """A chunk of an older jaxmlp (no params_epoch) gave, with restore-best, the last epoch's
    validation metrics; resumed beside new chunks, one sweep would mix both rules."""
    from jaxmlp.run import chunks

    record = {"member": 0, "seed": 0, "val_loss": 0.25, "diverged_epoch": None, chunks.FINAL: 1.0}
    curves = {"train_loss": np.zeros((1, 3), np.float32)}
    chunks.write(tmp_path / "00000.npz", [record], curves, "sweep")
    with pytest.raises(ValueError, match="no params_epoch: an older jaxmlp wrote it"):
        chunks.read(tmp_path / "00000.npz", [{"seed": 0}], 0, "sweep")


@pytest.mark.slow
def test_a_regression_sweep_has_no_success_even_with_an_output_that_thresholds(tmp_path):
    """SUCCESS_RULE gives a regression no success (null); a regression on targets in (0, 1)
    through a sigmoid output, whose net counts an accuracy (y and t on one side of 0.5), was
    reported "success 0/2 = 0.000" by the rule of classification, its members success false."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = 1 / (1 + np.exp(x[:, 1] - x[:, 0]))  # a share in (0, 1), not a class
    data = tmp_path / "shares.csv"
    data.write_text(
        "a,b,y\n" + "".join(f"{a!r},{b!r},{t!r}\n" for (a, b), t in zip(x.tolist(), y.tolist()))
    )
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(data), "--task", "regression", "--output", "sigmoid",
            "--loss", "sse", "--hidden", "3", "--epochs", "2", "--seeds", "2",
            "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    assert [r["success"] for r in records(out)] == [None, None]
    summary = json.loads((out / "summary.json").read_text())
    assert all("success_rate" not in row for row in summary["rows"])
