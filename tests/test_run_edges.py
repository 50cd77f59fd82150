"""The run's edges: a signal that comes once training has finished, and a divergence that shows
first in the optimizer state."""

import json
import os
import signal

import numpy as np
import pytest

from jaxmlp import checkpoint, cli, run

XOR = ["--data", "xor", "--hidden", "8", "--no-progress"]


def epochs_logged(out):
    return [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["last epoch", "summary"])
def test_a_signal_after_the_last_epoch_lets_the_finished_run_write_its_summary(
    when, tmp_path, capsys, monkeypatch
):
    """SIGINT arrives while the last epoch is recorded (as ``record.signals`` notes it), or
    while the summary is written: every epoch is trained, so the run is not "interrupted at
    epoch 3/3": it writes its summary, says the signal came too late to stop anything, and
    exits 0; ``load_run`` calls it finished."""
    real_fit, real_summarize = run.trainer.fit, run.report.summarize

    def fit_signalled_at_the_end(*args, callback, **kwargs):
        def wrapped(record, state):
            if record["epoch"] == 3:
                callback.stop.append(signal.SIGINT)
            return callback(record, state)

        return real_fit(*args, callback=wrapped, **kwargs)

    def summarize_signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real_summarize(*args, **kwargs)

    if when == "last epoch":
        monkeypatch.setattr(run.trainer, "fit", fit_signalled_at_the_end)
    else:
        monkeypatch.setattr(run.report, "summarize", summarize_signalled)
    out = tmp_path / "run"
    assert cli.main(["train", *XOR, "--epochs", "3", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "interrupted" not in captured.err
    assert "note: SIGINT came after the run had finished its 3 epochs" in captured.err
    assert captured.out.splitlines()[-1].startswith("finished after 3 epochs")
    assert json.loads((out / "summary.json").read_text())["status"] == "finished"
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 3
    assert epochs_logged(out) == [1, 2, 3]
    assert run.load_run(out).status == "finished"


@pytest.mark.slow
def test_an_optimizer_state_that_overflows_while_the_parameters_stay_finite_is_a_divergence(
    tmp_path, capsys
):
    """Real training: inputs of 1e21, not standardised, make Adam's second moment (the squared
    gradient, ~1e42) overflow float32 in the first step, while the update (m / sqrt(inf) = 0)
    would leave the parameters finite and the loss (~1e20 x the initial) passes the divergence
    rule. fit finds that step (its gradient's square is not finite): the run diverged (exit 3,
    naming the epoch and the step), keeps epoch 0, and writes nothing invalid. (The saved
    state's own check, ``checkpoint_checks.non_finite``, stays for adagrad's sum of squares.)"""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)) * 1e21
    rows = "\n".join(f"{a:.6e},{b:.6e},{int(a > 0)}" for a, b in x)
    (tmp_path / "big.csv").write_text("a,b,label\n" + rows + "\n")
    out = tmp_path / "run"
    argv = ["train", "--no-progress", "--data", str(tmp_path / "big.csv"), "--standardize", "no"]
    argv += ["--hidden", "4", "--optimizer", "adam", "--epochs", "3", "--out", str(out)]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(
        "error: training diverged at epoch 1: the loss or gradient (or its square, kept in the "
        "optimizer's state, or the parameters its update leaves) of step 1 is not finite"
    ), err
    assert f"The last good checkpoint (epoch 0) is kept in {out}" in err
    assert "--init-from" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["kept_epoch"] == 0
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 0
    assert not (out / "metrics.jsonl").exists() or epochs_logged(out) == []
    model = run.load_run(out)  # what is there loads: nothing invalid was written
    assert model.status == "diverged" and model.epoch == 0


def test_a_runs_save_copies_its_state_to_the_host_once(tmp_path, monkeypatch):
    """Regression: each of a run's saves copied the parameters and optimizer state to the host
    twice, once for the recorder's check that they are finite (``non_finite``) and once more
    in ``checkpoint.save``; now the checked copy is the one saved."""
    copies, saves = [], []
    state_arrays, save = checkpoint.state_arrays, checkpoint.save
    monkeypatch.setattr(checkpoint, "state_arrays", lambda s: copies.append(1) or state_arrays(s))
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: saves.append(1) or save(*a, **k))
    argv = ["train", "--no-progress", "--data", "xor", "--hidden", "4", "--epochs", "2"]
    assert cli.main([*argv, "--checkpoint-every", "1", "--out", str(tmp_path / "run")]) == 0
    assert len(saves) == 3 and len(copies) == len(saves), (len(copies), len(saves))


def test_the_late_signal_note_names_an_early_stop_and_the_signal():
    """The note of a signal after patience ended a run says where it stopped, of how many."""
    note = run.report.late_signal(
        {"status": "early_stopped", "epochs": 7, "epochs_planned": 30}, signal.SIGTERM
    )
    assert note == (
        "note: SIGTERM came after the run had stopped early at epoch 7 of 30: nothing was "
        "stopped; its summary is written"
    )
    finished = run.report.late_signal({"status": "finished", "epochs": 3}, signal.SIGINT)
    assert "SIGINT came after the run had finished its 3 epochs" in finished


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lbfgs", "cg"])
def test_a_curvature_solver_trains_on_the_command_line_and_its_checkpoint_resumes(
    name, tmp_path, capsys
):
    """The line-search bookkeeping of lbfgs (optax's zoom: its errors start at inf) and of cg
    (the value before the first step: inf) is not an overflow: the run finishes, saves and
    resumes (it exited 3, "the optimizer state is not finite", at every run)."""
    out = tmp_path / "run"
    argv = ["train", *XOR, "--optimizer", name, "--batch-size", "full", "--out", str(out)]
    assert cli.main([*argv, "--epochs", "2"]) == 0, capsys.readouterr().err
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress"]) == 0
    assert epochs_logged(out) == [1, 2, 3]
    assert run.load_run(out).status == "finished"


@pytest.mark.slow
def test_an_interrupted_extension_leaves_no_summary_of_the_shorter_run(
    tmp_path, capsys, monkeypatch
):
    """A finished run of 3 epochs, resumed to 6 and stopped by SIGINT at epoch 4, kept the
    3-epoch run's summary.json (status finished, its metrics) beside config.json's 6 epochs
    and a checkpoint of epoch 4 (failed before: the file said finished). A resume that trains
    removes it: a run without summary.json is unfinished, and the next resume writes it."""
    out = tmp_path / "run"
    assert cli.main(["train", *XOR, "--epochs", "3", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "finished"
    real_fit = run.trainer.fit

    def fit_signalled(*args, callback, **kwargs):
        def wrapped(record, state):
            if record["epoch"] == 4:
                callback.stop.append(signal.SIGINT)
            return callback(record, state)

        return real_fit(*args, callback=wrapped, **kwargs)

    monkeypatch.setattr(run.trainer, "fit", fit_signalled)
    resume = ["train", "--out", str(out), "--resume", "--epochs", "6", "--no-progress"]
    assert cli.main(resume) == 128 + signal.SIGINT
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 4
    assert not (out / "summary.json").exists()
    assert run.load_run(out).status == "interrupted"
    monkeypatch.setattr(run.trainer, "fit", real_fit)
    assert cli.main(resume) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 6
    capsys.readouterr()


@pytest.mark.slow
def test_the_kept_checkpoint_of_a_diverged_run_passes_the_divergence_rule(tmp_path, capsys):
    """Regression: the explosion rule judges an epoch's running training loss, each batch's
    taken before its update; the parameters an epoch ends with were saved unjudged. Full-batch
    SGD whose loss grows ~10x an epoch: epoch 15's loss (that of epoch 14's parameters,
    2.4e5) exceeded 1e4 x the initial 7.3, yet epoch 14 was kept as "the last good
    checkpoint": evaluate and predict served parameters of that very loss, and the retry
    printed started from them. Now a save whose parameters give a loss over the rule's bound
    on the probe examples is a divergence: the kept checkpoint's loss is within the bound."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ [1.0, 2.0, 3.0] + rng.normal(size=200) * 0.1
    rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in np.c_[x, y])
    (tmp_path / "reg.csv").write_text("a,b,c,y\n" + rows + "\n")
    out = tmp_path / "run"
    argv = ["train", "--no-progress", "--data", str(tmp_path / "reg.csv"), "--hidden", "8"]
    argv += ["--activation", "tanh", "--optimizer", "sgd", "--lr", "1.2", "--batch-size", "full"]
    argv += ["--epochs", "200", "--val-fraction", "0", "--checkpoint-every", "1", "--out", str(out)]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    initial = json.loads((out / "config.json").read_text())["initial_loss"]
    kept = json.loads((out / "summary.json").read_text())["kept_epoch"]
    assert f"The last good checkpoint (epoch {kept}) is kept" in err
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    loss = json.loads(capsys.readouterr().out)["train"]["loss"]
    assert loss <= run.record.EXPLOSION * initial, (kept, loss, initial)


@pytest.mark.slow
def test_epoch_0s_parameters_are_the_explosion_rules_reference_never_judged_by_it(
    tmp_path, capsys, monkeypatch
):
    """A new run's epoch 0 is its initial parameters, whose loss is the rule's reference; on the
    probe examples alone (a data set sorted by its targets) it may lie over the bound. With the
    bound under the initial loss (EXPLOSION 0.5), epoch 0 was refused: the run ended with no
    checkpoint. Epoch 0 is saved; epoch 1's loss ends the run, keeping it."""
    monkeypatch.setattr(run.record, "EXPLOSION", 0.5)
    out = tmp_path / "run"
    assert cli.main(["train", *XOR, "--epochs", "3", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert f"The last good checkpoint (epoch 0) is kept in {out}" in err, err
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 0
