"""Issue 15's defects of the command line and the run folder, each pinned by a test that failed
on the code before the fix: columns matched by name, the run's label column, run folders that
work from any directory, --task, extending a resumed run, ignored flags refused, CSV headers and
prediction formats."""

import io
import json
import os
import shlex
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

from jaxmlp import MLP, TrainConfig, cli, datasets, fit, progress, save_run

FEATURES = ["height", "weight", "age"]


@pytest.fixture(scope="module")
def frame():
    """120 examples, three named features on different scales, three named classes; the label
    column comes first."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 3)) * [10.0, 1.0, 100.0] + [170.0, 0.0, 40.0]
    score = (x[:, 0] - 170) / 10 + x[:, 1]
    label = np.where(score < -0.5, "low", np.where(score < 0.5, "mid", "high"))
    return pd.DataFrame({"kind": label} | dict(zip(FEATURES, x.T.round(3), strict=True)))


@pytest.fixture(scope="module")
def csv_run(frame, tmp_path_factory):
    """A run trained from inside its folder on ``train.csv`` named relatively, label first."""
    folder = tmp_path_factory.mktemp("defects")
    frame.to_csv(folder / "train.csv", index=False)
    before = os.getcwd()
    os.chdir(folder)
    try:
        status = cli.main(["train", "--data", "train.csv", "--label-column", "kind", "--hidden",
                           "4", "--epochs", "2", "--no-progress", "--out", "run"])  # fmt: skip
    finally:
        os.chdir(before)
    assert status == 0
    return folder, folder / "run"


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def predict(run, path, *flags):
    return cli.main(["predict", str(run), "--input", str(path), *map(str, flags)])


# -- predict matches columns by name ----------------------------------------------------------


@pytest.mark.slow
def test_predict_matches_columns_by_name_in_any_order(csv_run, frame, capsys):
    folder, out = csv_run
    frame[FEATURES].to_csv(folder / "in.csv", index=False)
    frame[FEATURES[::-1]].to_csv(folder / "reversed.csv", index=False)
    capsys.readouterr()
    assert predict(out, folder / "in.csv") == 0
    in_order = capsys.readouterr().out
    assert predict(out, folder / "reversed.csv") == 0
    assert capsys.readouterr().out == in_order
    with_label = frame[["age", "kind", "weight", "height"]]
    with_label.to_csv(folder / "with_label.csv", index=False)
    assert predict(out, folder / "with_label.csv") == 0
    assert capsys.readouterr().out == in_order


def test_predict_names_a_missing_or_unknown_column(csv_run, frame, capsys):
    folder, out = csv_run
    frame[["height", "weight"]].to_csv(folder / "missing.csv", index=False)
    assert predict(out, folder / "missing.csv") == 2
    assert "'age'" in error_line(capsys)
    frame[FEATURES].rename(columns={"age": "years"}).to_csv(folder / "renamed.csv", index=False)
    assert predict(out, folder / "renamed.csv") == 2
    line = error_line(capsys)
    assert "'years'" in line and "'age'" in line


def test_predict_takes_a_headerless_csv_by_position_only_when_told(csv_run, frame, capsys):
    folder, out = csv_run
    frame[FEATURES].to_csv(folder / "in.csv", index=False)
    frame[FEATURES].to_csv(folder / "bare.csv", index=False, header=False)
    capsys.readouterr()
    assert predict(out, folder / "in.csv") == 0
    named = capsys.readouterr().out
    assert predict(out, folder / "bare.csv") == 2
    assert "--no-header" in error_line(capsys)
    assert predict(out, folder / "bare.csv", "--no-header") == 0
    assert capsys.readouterr().out == named


def test_predict_takes_header_and_no_header_as_train_does(tmp_path, capsys):
    # predict had no --header: a header of numbers (feature names '2019', '2020') was refused
    # with advice to say --no-header, which then predicted the header row as data
    net = MLP((2, 3, 2), "tanh", "softmax", "cross_entropy")
    out = save_run(tmp_path / "run", net, net.init(jax.random.PRNGKey(0)),
                   classes=["cat", "dog"], feature_names=["2019", "2020"])  # fmt: skip
    rows = [(0.5, -1.0), (2.0, 0.25), (-1.5, 1.0)]
    (tmp_path / "bare.csv").write_text("".join(f"{a},{b}\n" for a, b in rows))
    (tmp_path / "swapped.csv").write_text("2020,2019\n" + "".join(f"{b},{a}\n" for a, b in rows))
    np.savez(tmp_path / "x.npz", x=np.array(rows))
    capsys.readouterr()
    assert predict(out, tmp_path / "bare.csv", "--no-header") == 0
    by_position = capsys.readouterr().out
    assert len(by_position.splitlines()) == 1 + len(rows)
    assert predict(out, tmp_path / "swapped.csv") == 2
    line = error_line(capsys)
    assert "--header" in line.replace("--no-header", "") and "--no-header" in line
    assert predict(out, tmp_path / "swapped.csv", "--header") == 0
    assert capsys.readouterr().out == by_position  # the columns matched by name
    assert predict(out, tmp_path / "swapped.csv", "--header", "--no-header") == 2
    assert "not allowed with" in error_line(capsys)
    assert predict(out, tmp_path / "x.npz", "--header") == 2
    assert "--header (header=True) applies to .csv inputs" in error_line(capsys)


# -- evaluate uses the run's label column ---------------------------------------------------------


def test_evaluate_reads_labels_from_the_runs_label_column(csv_run, frame, capsys):
    folder, out = csv_run
    frame.to_csv(folder / "again.csv", index=False)  # the label column first, as in training
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--data", str(folder / "again.csv"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)  # the file was reported as split "train"
    assert set(evaluated) == {"data", "checkpoint"}, evaluated  # as if the run's training split
    on_file = evaluated["data"]
    assert on_file["n"] == len(frame) and 0 <= on_file["accuracy"] <= 1
    moved = frame[[*FEATURES, "kind"]].rename(columns={"kind": "class"})
    moved.to_csv(folder / "renamed_label.csv", index=False)
    args = ["evaluate", str(out), "--data", str(folder / "renamed_label.csv"), "--json"]
    assert cli.main([*args, "--label-column", "class"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == on_file


def test_evaluate_says_plainly_when_the_label_column_is_missing(csv_run, frame, capsys):
    folder, out = csv_run
    frame[FEATURES].to_csv(folder / "no_labels.csv", index=False)
    assert cli.main(["evaluate", str(out), "--data", str(folder / "no_labels.csv")]) == 2
    line = error_line(capsys)
    assert "'kind'" in line and "label" in line and "regression" not in line
    assert cli.main(["evaluate", str(out), "--data-dir", str(folder)]) == 2
    assert "--data-dir" in error_line(capsys)


# -- a run folder works from any directory ---------------------------------------------------------


def test_a_run_is_evaluated_and_resumed_from_another_directory(csv_run, tmp_path, monkeypatch,
                                                               capsys):  # fmt: skip
    folder, out = csv_run
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["data"] == str(folder / "train.csv")
    assert len(config["data"]["file_sha256"]) == 64
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"train", "val", "checkpoint"}
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0


@pytest.mark.slow
def test_data_that_moved_or_changed_is_named(csv_run, frame, tmp_path, capsys):
    folder, out = csv_run
    run = tmp_path / "run"
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    args = ["train", "--data", str(data), "--label-column", "kind", "--hidden", "4", "--epochs",
            "1", "--no-progress", "--out", str(run)]  # fmt: skip
    assert cli.main(args) == 0
    frame.iloc[:-1].to_csv(data, index=False)  # one row fewer
    assert cli.main(["evaluate", str(run)]) == 2
    line = error_line(capsys)
    assert str(data) in line and "changed" in line
    assert cli.main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    assert str(data) in error_line(capsys)
    data.rename(tmp_path / "elsewhere.csv")
    assert cli.main(["evaluate", str(run)]) == 2
    line = error_line(capsys)
    assert str(data) in line and "gone" in line


def test_evaluate_takes_a_changed_file_given_by_its_path_as_other_data(frame, tmp_path, capsys):
    # evaluate RUN --data PATH, PATH the run's changed training file, was refused as "the run's
    # own data" with the advice to pass the data with --data, which was done
    run, data, copy = tmp_path / "run", tmp_path / "data.csv", tmp_path / "copy.csv"
    frame.to_csv(data, index=False)
    assert cli.main(["train", "--data", str(data), "--label-column", "kind", "--hidden", "4",
                     "--epochs", "1", "--no-progress", "--out", str(run)]) == 0  # fmt: skip
    capsys.readouterr()
    evaluate = ["evaluate", str(run), "--json", "--data"]
    assert cli.main([*evaluate, str(data)]) == 0  # unchanged: the run's own splits
    assert set(json.loads(capsys.readouterr().out)) == {"train", "val", "checkpoint"}
    frame.iloc[:-1].to_csv(data, index=False)
    frame.iloc[:-1].to_csv(copy, index=False)
    with pytest.warns(UserWarning, match=r"data.csv: changed since .* evaluated as other data"):
        assert cli.main([*evaluate, str(data)]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["data"]["n"] == len(frame) - 1
    assert cli.main([*evaluate, str(copy)]) == 0
    assert json.loads(capsys.readouterr().out) == changed  # as any other file of that content
    assert cli.main(["evaluate", str(run)]) == 2  # without --data: refused, as before
    assert "changed" in error_line(capsys)


# -- --task ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_integer_count_is_a_regression_with_task_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    count = rng.poisson(3 + 2 * x[:, 0].clip(-1, 1), size=60)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "count": count}).to_csv(tmp_path / "c.csv",
                                                                       index=False)  # fmt: skip
    base = ["train", "--data", str(tmp_path / "c.csv"), "--hidden", "3", "--epochs", "1",
            "--no-progress"]  # fmt: skip
    assert cli.main([*base, "--task", "regression", "--out", str(tmp_path / "r")]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["data"]["task"] == "regression" and config["settings"]["task"] == "regression"
    assert config["settings"]["loss"] == "sse"
    assert cli.main([*base, "--out", str(tmp_path / "auto")]) == 0
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["data"]["task"] == (
        "multiclass"
    )
    assert cli.main([*base, "--task", "colour", "--out", str(tmp_path / "x")]) == 2
    assert "'colour'" in error_line(capsys)


def test_train_help_states_the_auto_task_rule(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--task" in text and "default auto: strings, or whole numbers with 2 to 50" in text


# -- resuming: more epochs, resolved values ------------------------------------------------------


@pytest.mark.slow
def test_resume_with_more_epochs_equals_the_longer_run(tmp_path, capsys):
    base = ["--data", "moons", "--hidden", "4", "--batch-size", "100", "--no-progress"]
    assert cli.main(["train", *base, "--epochs", "4", "--out", str(tmp_path / "whole")]) == 0
    assert cli.main(["train", *base, "--epochs", "2", "--out", str(tmp_path / "part")]) == 0
    resume = ["train", "--out", str(tmp_path / "part"), "--resume", "--no-progress"]
    assert cli.main([*resume, "--standardize", "auto"]) == 0  # resolved: the run's "yes"
    assert cli.main([*resume, "--epochs", "4"]) == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    part = json.loads((tmp_path / "part" / "summary.json").read_text())
    assert part["params_sha256"] == whole["params_sha256"] and part["epochs"] == 4
    config = json.loads((tmp_path / "part" / "config.json").read_text())
    assert config["settings"]["epochs"] == 4 and config["train"]["epochs"] == 4
    capsys.readouterr()
    assert cli.main([*resume, "--lr", "0.01"]) == 2
    assert "--lr" in error_line(capsys)
    assert cli.main([*resume, "--epochs", "3"]) == 2
    assert "--epochs" in error_line(capsys)


@pytest.mark.slow
def test_a_run_saved_before_drop_last_existed_resumes_dropping_the_last_examples(tmp_path, capsys):
    """A config.json without ``drop_last`` is a run that dropped the last n mod batch_size
    examples: resumed, it keeps doing so (the bits of an uninterrupted --drop-last yes run),
    and --drop-last no is refused rather than silently changing it."""
    base = ["--data", "moons", "--hidden", "4", "--batch-size", "96", "--no-progress"]
    base += ["--drop-last", "yes"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert cli.main(["train", *base, "--epochs", "3", "--out", str(whole)]) == 0
    assert cli.main(["train", *base, "--epochs", "1", "--out", str(part)]) == 0
    config = json.loads((part / "config.json").read_text())
    assert config["settings"]["drop_last"] is True
    del config["settings"]["drop_last"]  # what a run saved before the setting holds
    (part / "config.json").write_text(json.dumps(config))
    resume = ["train", "--out", str(part), "--resume", "--no-progress"]
    assert cli.main([*resume, "--epochs", "3"]) == 0
    sha = [json.loads((p / "summary.json").read_text())["params_sha256"] for p in (whole, part)]
    assert sha[0] == sha[1]
    capsys.readouterr()
    assert cli.main([*resume, "--drop-last", "no", "--epochs", "3"]) == 2
    assert "--drop-last" in error_line(capsys)


def as_before_momentum_was_recorded(out):
    """``out`` as a run of momentum 0.9 by default was written before the value used was
    recorded: momentum null in config.json's settings and optimizer, the run_id of those
    settings in config.json and its checkpoint."""
    from jaxmlp import Optimizer, checkpoint
    from jaxmlp.run import folder

    config = json.loads((out / "config.json").read_text())
    config["settings"]["momentum"] = config["optimizer"]["momentum"] = None
    config["run_id"] = folder.identity(config["settings"], config["data"])
    (out / "config.json").write_text(json.dumps(config, indent=2))
    ckpt = checkpoint.load(out / "checkpoint.npz")
    extra = ckpt.meta["extra"] | {"run_id": config["run_id"]}
    checkpoint.save(out / "checkpoint.npz", ckpt.state, net=ckpt.net,
                    optimizer=Optimizer(**config["optimizer"]), config=ckpt.config,
                    extra=ckpt.extra, extra_meta=extra, run_id=config["run_id"])  # fmt: skip


@pytest.mark.slow
def test_the_momentum_a_run_used_is_recorded_and_older_runs_without_it_resume(tmp_path, capsys):
    """--optimizer momentum trains with mu 0.9 (optim.DEFAULT_MOMENTUM), but config.json said
    "momentum": null in its settings and optimizer record. Now it says 0.9; the same flags
    (or --momentum 0.9, the same training) make the same run_id; a folder written before,
    with null, still resumes (--momentum 0.9 is its own value) to the bits of a new run."""
    base = ["train", "--data", "xor", "--hidden", "3", "--optimizer", "momentum", "--lr", "0.5",
            "--batch-size", "full", "--no-progress"]  # fmt: skip
    runs = {name: tmp_path / name for name in ("a", "same", "given", "old")}
    assert cli.main([*base, "--epochs", "4", "--out", str(runs["a"])]) == 0
    assert cli.main([*base, "--epochs", "4", "--out", str(runs["same"])]) == 0
    assert cli.main([*base, "--momentum", "0.9", "--epochs", "4", "--out", str(runs["given"])]) == 0
    assert cli.main([*base, "--epochs", "2", "--out", str(runs["old"])]) == 0
    config = {k: json.loads((p / "config.json").read_text()) for k, p in runs.items()}
    assert config["a"]["settings"]["momentum"] == 0.9
    assert config["a"]["optimizer"]["momentum"] == 0.9
    assert "--momentum 0.9" in config["a"]["command"]
    assert config["a"]["run_id"] == config["same"]["run_id"] == config["given"]["run_id"]
    as_before_momentum_was_recorded(runs["old"])
    resume = ["train", "--out", str(runs["old"]), "--resume", "--no-progress"]
    assert cli.main([*resume, "--momentum", "0.9", "--epochs", "3"]) == 0
    assert cli.main([*resume, "--epochs", "4"]) == 0
    assert cli.main(["evaluate", str(runs["old"])]) == 0
    sha = [json.loads((runs[k] / "summary.json").read_text())["params_sha256"] for k in runs]
    assert len(set(sha)) == 1
    capsys.readouterr()
    assert cli.main([*resume, "--momentum", "0.5"]) == 2
    assert "--momentum 0.5 differs from the 0.9" in error_line(capsys)


@pytest.mark.slow
def test_a_cosine_run_cannot_be_extended(tmp_path, capsys):
    args = ["train", "--data", "xor", "--hidden", "2", "--schedule", "cosine", "--no-progress"]
    assert cli.main([*args, "--epochs", "2", "--out", str(tmp_path / "c")]) == 0
    resume = ["train", "--out", str(tmp_path / "c"), "--resume", "--no-progress"]
    assert cli.main([*resume, "--epochs", "5"]) == 2
    assert "cosine" in error_line(capsys)


# -- flags the setup ignores ------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--momentum", "0.9"], "--momentum"),
        (["--optimizer", "rmsprop", "--momentum", "0.5"], "--momentum"),
        (["--decay-rate", "0.5"], "--decay-rate"),
        (["--schedule", "cosine", "--decay-steps", "10"], "--decay-steps"),
        (["--hidden", "none", "--dropout", "0.2"], "--dropout"),
        (["--hidden", "none", "--activation", "tanh"], "--activation"),
        (["--data-dir", "."], "--data-dir"),
        (["--no-header"], "--no-header"),
        (["--batch-size", "full", "--drop-last", "yes"], "--drop-last"),
    ],
)
def test_a_flag_the_setup_ignores_is_an_error(flags, named, tmp_path, capsys):
    args = ["train", "--data", "xor", "--epochs", "1", "--no-progress", "--out", str(tmp_path)]
    assert cli.main([*args, *flags]) == 2
    line = error_line(capsys)
    assert named in line and "ignored" in line
    assert not (tmp_path / "config.json").exists()


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--schedule", "step", "--decay-rate", "0.5"], "decay_steps 1000"),
        (["--schedule", "cosine", "--warmup-steps", "20"], "warmup_steps 20"),
    ],
)
def test_a_schedule_that_would_never_decay_within_the_run_is_an_error(
    flags, named, tmp_path, capsys
):
    """Regression: --schedule step on xor's 20 steps (one an epoch) decays first at
    --decay-steps 1000: the run trained at a constant rate and exited 0. Refused before the
    folder is made, as a sweep of it is."""
    args = ["--data", "xor", "--epochs", "20", "--out", str(tmp_path / "r")]
    assert cli.main(["train", *args, "--no-progress", *flags]) == 2
    line = error_line(capsys)
    assert "would never decay" in line and named in line and "has 20 steps" in line
    assert cli.main(["sweep", *args, *flags]) == 2
    assert "would never decay" in error_line(capsys)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_the_rerun_command_of_a_run_without_hidden_layers_runs(tmp_path):
    assert cli.main(["train", "--data", "xor", "--hidden", "none", "--epochs", "1",
                     "--no-progress", "--out", str(tmp_path / "a")]) == 0  # fmt: skip
    command = shlex.split(json.loads((tmp_path / "a" / "config.json").read_text())["command"])
    assert cli.main([*command[1:-1], str(tmp_path / "b"), "--no-progress"]) == 0


@pytest.mark.slow
def test_flags_the_setup_uses_are_accepted(tmp_path):
    args = ["train", "--data", "xor", "--hidden", "2", "--epochs", "4", "--no-progress"]
    assert cli.main([*args, "--optimizer", "sgd", "--momentum", "0.5",
                     "--out", str(tmp_path / "a")]) == 0  # fmt: skip
    assert cli.main([*args, "--schedule", "step", "--decay-rate", "0.5", "--decay-steps", "2",
                     "--warmup-steps", "1", "--out", str(tmp_path / "b")]) == 0  # fmt: skip
    optimizer = json.loads((tmp_path / "b" / "config.json").read_text())["optimizer"]
    assert (optimizer["decay_rate"], optimizer["decay_steps"], optimizer["warmup_steps"]) == (
        0.5,
        2,
        1,
    )


# -- CSV headers, prediction formats, paths in errors --------------------------------------------


@pytest.mark.slow
def test_a_first_row_of_numbers_is_data_not_a_header(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 2))
    rows = np.column_stack([x, (x[:, 0] > 0).astype(int)])
    np.savetxt(tmp_path / "bare.csv", rows, delimiter=",", fmt="%.4f")
    args = ["train", "--hidden", "2", "--epochs", "1", "--no-progress"]
    assert cli.main([*args, "--data", str(tmp_path / "bare.csv"), "--out",
                     str(tmp_path / "a")]) == 0  # fmt: skip
    data = json.loads((tmp_path / "a" / "config.json").read_text())["data"]
    assert data["n_train"] + data["n_val"] == 30
    labelled = np.column_stack([x.round(4), np.where(x[:, 0] > 0, "yes", "no")])
    np.savetxt(tmp_path / "words.csv", labelled, delimiter=",", fmt="%s")  # looks like a header
    assert cli.main([*args, "--data", str(tmp_path / "words.csv"), "--no-header", "--out",
                     str(tmp_path / "b")]) == 0  # fmt: skip
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    data = config["data"]
    assert data["n_train"] + data["n_val"] == 30 and data["classes"] == ["no", "yes"]
    rerun = shlex.split(config["command"])  # the command that reruns it says --no-header
    assert "--no-header" in rerun and cli.main([*rerun[1:-1], str(tmp_path / "c")]) == 0


def test_predict_writes_the_format_its_output_extension_names(csv_run, frame, capsys):
    folder, out = csv_run
    frame[FEATURES].to_csv(folder / "in.csv", index=False)
    capsys.readouterr()
    assert predict(out, folder / "in.csv") == 0
    printed = capsys.readouterr().out.splitlines()
    assert predict(out, folder / "in.csv", "--output", folder / "p.json") == 0
    records = json.loads((folder / "p.json").read_text())
    assert len(records) == len(frame)
    assert [r["prediction"] for r in records] == [line.split(",")[0] for line in printed[1:]]
    assert set(records[0]) == set(printed[0].split(","))
    assert predict(out, folder / "in.csv", "--output", folder / "p.txt") == 2
    assert "'.txt'" in error_line(capsys)
    assert not (folder / "p.txt").exists()


@pytest.mark.parametrize("units", [1, 2])
def test_a_regression_runs_npz_predictions_hold_no_empty_y(units, tmp_path):
    # y was an empty (n, 0) array beside the outputs in 'prediction'
    net = MLP((2, 3, units), "tanh", "identity", "mse")
    out = save_run(tmp_path / "run", net, net.init(jax.random.PRNGKey(0)))
    np.savez(tmp_path / "x.npz", x=np.ones((4, 2)))
    assert predict(out, tmp_path / "x.npz", "--output", tmp_path / "p.npz") == 0
    with np.load(tmp_path / "p.npz") as saved:
        assert saved.files == ["prediction"]
        assert saved["prediction"].shape == (4, units)


def test_a_folder_given_for_a_file_is_named_as_given(csv_run, frame, capsys):
    folder, out = csv_run
    frame[FEATURES].to_csv(folder / "in.csv", index=False)
    (folder / "taken.csv").mkdir(exist_ok=True)
    assert predict(out, folder / "in.csv", "--output", folder / "taken.csv") == 2
    line = error_line(capsys)
    assert str(folder / "taken.csv") in line and ".tmp" not in line
    assert predict(out, folder / "taken.csv") == 2
    assert str(folder / "taken.csv") in error_line(capsys)
    assert cli.main(["train", "--data", str(folder / "taken.csv"), "--out", str(folder / "t")]) == 2
    assert f"{folder / 'taken.csv'}: a folder, not a file" in error_line(capsys)
    replaced = IsADirectoryError(21, "Is a directory", str(folder / ".x.csv.1.tmp"), None, "x.csv")
    assert cli._fail(replaced) == 2  # os.replace(temporary, path) failed: the user's path
    assert error_line(capsys) == "error: x.csv: Is a directory"


def test_the_python_loaders_take_a_task(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 60, size=200).astype(float)  # 60 whole values: over MAX_CLASSES
    path = tmp_path / "y.csv"
    pd.DataFrame({"a": rng.normal(size=200), "y": y}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="y holds 57 distinct whole numbers"):  # no guess
        datasets.load(path)
    assert datasets.load(path, task="regression").task == "regression"
    ds = datasets.load(path, task="classification")
    assert ds.task == "multiclass" and ds.n_classes == len(np.unique(y))
    assert datasets.load("digits", task="classification").task == "multiclass"
    with pytest.raises(ValueError, match="'digits' is a multiclass data set"):
        datasets.load("digits", task="regression")


def test_train_refuses_to_guess_the_task_of_many_integer_labels(tmp_path, capsys):
    # A CSV of 100 integer classes trained a regressor (exit 0): --task auto now refuses, naming
    # the flag and its values; --task classification trains the 100 classes.
    rng = np.random.default_rng(0)
    path = tmp_path / "c100.csv"
    pd.DataFrame({"a": rng.normal(size=300), "y": np.arange(300) % 100}).to_csv(path, index=False)
    flags = ["train", "--data", str(path), "--hidden", "2", "--epochs", "1", "--no-progress"]
    assert cli.main([*flags, "--out", str(tmp_path / "auto")]) == 2
    line = error_line(capsys)
    assert "y holds 100 distinct whole numbers (0 to 99)" in line
    assert "--task classification or --task regression" in line
    assert not (tmp_path / "auto").exists()
    out = tmp_path / "classes"
    assert cli.main([*flags, "--task", "classification", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["data"]["task"], config["data"]["n_classes"]) == ("multiclass", 100)


# -- the compilation cache ----------------------------------------------------------------------


# The same small run of each command that compiles: what it writes, and its bits (seconds aside).
CACHED_RUNS = {
    "train": ("summary.json", ["--data", "xor", "--hidden", "3", "--epochs", "2", "--no-progress"]),
    "sweep": ("members.jsonl", ["--data", "xor", "--hidden", "3", "--epochs", "20", "--seeds",
                                "2", "--lr", "0.5,2", "--chunk", "2"]),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(CACHED_RUNS))
def test_repeated_runs_share_compiled_programs_in_the_cache_folder(command, tmp_path):
    """A real process with $JAXMLP_COMPILE_CACHE set fills that folder, and a rerun reading it
    trains the same bits; --no-compile-cache leaves its folder untouched. (Regression, sweep:
    cache.enable was called for train, evaluate and predict only, so every sweep compiled its
    first chunk afresh, 18-37 s on digits, and --no-compile-cache was not a sweep flag.)"""
    written, args = CACHED_RUNS[command]

    def run_in(folder, out, *flags):
        env = os.environ | {"JAXMLP_COMPILE_CACHE": str(folder)}
        argv = [sys.executable, "-m", "jaxmlp", command, *args, "--out", str(out), *flags]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        text = (out / written).read_text()
        if command == "train":
            return json.loads(text)["params_sha256"]
        records = [json.loads(line) for line in text.splitlines()]
        return [{k: v for k, v in record.items() if k != "seconds"} for record in records]

    first = run_in(tmp_path / "xla", tmp_path / "a")
    cached = sorted(p.name for p in (tmp_path / "xla").iterdir())
    assert cached
    assert run_in(tmp_path / "xla", tmp_path / "b") == first
    assert sorted(p.name for p in (tmp_path / "xla").iterdir()) == cached  # read, not rewritten
    assert run_in(tmp_path / "none", tmp_path / "c", "--no-compile-cache") == first
    assert not (tmp_path / "none").exists()


# -- progress: fit's, and the command line's off a terminal -----------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_fits_80_columns_with_the_validation_metrics():
    screen = _Terminal()
    bar = progress.Progress(1000, 0, True, stream=screen)
    assert "compiling" in screen.getvalue()
    for epoch in (1, 2):
        bar.update({"epoch": epoch, "train_loss": 0.123456, "train_accuracy": 0.951234,
                    "val_loss": 0.140123, "val_accuracy": 0.94812})  # fmt: skip
    bar.close()
    shown = [line.rstrip("\n") for line in screen.getvalue().split("\r") if line.strip()]
    assert all(len(line) <= 80 for line in shown), shown
    assert shown[-1].startswith("epoch 2/1000") and "| val 0.1401 0.9481" in shown[-1]


def test_off_a_terminal_progress_is_a_plain_line_every_few_seconds(monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 3600.0)
    log = io.StringIO()  # not a terminal
    lines = progress.Progress(5, 0, True, stream=log)
    for epoch in range(1, 6):
        lines.update({"epoch": epoch, "train_loss": 1.0 / epoch})
    printed = [line.rsplit("  (", 1)[0] for line in log.getvalue().splitlines()]
    assert printed == ["epoch 0/5  compiling...", "epoch 1/5  loss 1", "epoch 5/5  loss 0.2"]


def test_fit_shows_progress_and_trains_the_same_bits(capsys):
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    t = np.array([[0], [1], [1], [0]], np.float32)
    config = TrainConfig(epochs=3, batch_size="full")
    quiet = fit(net, x, t, config=config)
    assert capsys.readouterr().out == ""
    shown = fit(net, x, t, config=config, progress="lines")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "epoch 0/3  compiling..." and printed[-1].startswith("epoch 3/3  loss ")
    for a, b in zip(jax.tree.leaves(quiet.params), jax.tree.leaves(shown.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_s_progress_ends_on_the_epoch_an_early_stop_ended_it_at(capsys, monkeypatch):
    # the display closed, and printed its last line, only at the run's last epoch or a
    # callback's stop: a run that patience ended left "epoch 1/200" as the log's last word
    # (a bar, left open) though it had trained on to its stop
    monkeypatch.setattr(progress, "LINE_SECONDS", 3600.0)
    rng = np.random.default_rng(0)
    x, x_val = rng.normal(size=(40, 2)), rng.normal(size=(20, 2))
    t, t_val = rng.integers(0, 2, (40, 1)), rng.integers(0, 2, (20, 1))  # noise: it overfits
    net, config = MLP((2, 16, 1), "tanh", "sigmoid", "bce"), TrainConfig(200, 8, early_stopping=2)
    result = fit(net, x, t, config=config, x_val=x_val, t_val=t_val, progress="lines")
    assert result.state.epoch < 200
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith(f"epoch {result.state.epoch}/200  loss "), printed


def test_the_command_line_shows_progress_off_a_terminal(tmp_path, capsys):
    args = ["train", "--data", "xor", "--hidden", "2", "--epochs", "2", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "epoch 0/2  compiling..." in out and "epoch 2/2  loss " in out


# -- CSV encodings (issue 16) ----------------------------------------------------------------------


def test_a_latin1_csv_trains_evaluates_and_predicts_with_encoding(frame, tmp_path, capsys):
    """A CSV in Latin-1 (class names with accents) is refused without ``--encoding``, naming the
    file and the line, and trains, evaluates and predicts with ``--encoding latin-1``."""
    accented = frame.assign(
        kind=frame["kind"].map({"low": "bas", "mid": "médian", "high": "élevé"})
    )
    path = tmp_path / "latin.csv"
    path.write_bytes(accented.to_csv(index=False).encode("latin-1"))
    run = tmp_path / "run"
    base = ["train", "--data", str(path), "--label-column", "kind", "--hidden", "4",
            "--epochs", "2", "--no-progress", "--out", str(run)]  # fmt: skip
    assert cli.main(base) == 2
    assert "latin.csv, line " in error_line(capsys) and not run.exists()
    assert cli.main([*base, "--encoding", "latin-1"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(run)]) == 0  # its own data: read as it was trained
    assert "train" in capsys.readouterr().out
    other = tmp_path / "other.csv"
    other.write_bytes(path.read_bytes())
    assert cli.main(["evaluate", str(run), "--data", str(other), "--encoding", "latin-1"]) == 0
    assert "data       120" in capsys.readouterr().out  # every row of the other file
    inputs = tmp_path / "inputs.csv"
    inputs.write_bytes(accented[FEATURES[::-1]].to_csv(index=False).encode("latin-1"))
    assert predict(run, inputs, "--encoding", "latin-1") == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "prediction,p_bas,p_médian,p_élevé" and len(printed) == 121
    assert cli.main(["train", "--data", "xor", "--encoding", "latin-1", "--out",
                     str(tmp_path / "x")]) == 2  # fmt: skip
    assert "--encoding would be ignored" in error_line(capsys)


@pytest.mark.slow
def test_chunk_steps_streams_from_the_host_with_the_same_bits(tmp_path):
    """``--chunk-steps N`` (the streamed engine, issue 15) trains as the on-device run does."""
    base = ["train", "--data", "xor", "--hidden", "3", "--epochs", "3", "--batch-size", "2",
            "--no-progress"]  # fmt: skip
    assert cli.main([*base, "--out", str(tmp_path / "device")]) == 0
    assert cli.main([*base, "--chunk-steps", "1", "--out", str(tmp_path / "host")]) == 0
    sha = [json.loads((tmp_path / r / "summary.json").read_text())["params_sha256"]
           for r in ("device", "host")]  # fmt: skip
    assert sha[0] == sha[1]
    saved = json.loads((tmp_path / "host" / "config.json").read_text())
    assert saved["settings"]["chunk_steps"] == 1 and saved["train"]["chunk_steps"] == 1


@pytest.mark.slow
def test_a_float32_run_trains_the_same_bits_whatever_jax_enable_x64_says(tmp_path):
    """A float32 run computes with x64 off whether or not the environment turns it on, so a run
    interrupted under JAX_ENABLE_X64=1 and resumed without it (or run on another machine)
    resumes exactly. (Regression: the flag leaked into the run's programs, and the same train
    command gave other params_sha256 with it set: 4de9fe0f... against 9c2f9652....)"""

    def train(out, x64):
        env = os.environ | {"JAX_ENABLE_X64": x64}
        args = ["--data", "xor", "--hidden", "3", "--epochs", "5", "--no-progress"]
        argv = [sys.executable, "-m", "jaxmlp", "train", *args, "--out", str(out)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads((out / "summary.json").read_text())["params_sha256"]

    assert train(tmp_path / "on", "1") == train(tmp_path / "off", "0")
