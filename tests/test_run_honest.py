"""Reading a run back says what it holds (probe 3): evaluate and predict name the checkpoint of an
unfinished run, a resume verifies the log it continues, predict never overwrites a run's own
files, and whole-number class labels stay whole numbers. Each test failed on the code before
its fix."""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from jaxmlp import cli, csv_fields, load_run
from jaxmlp.run import record, status

SMALL = ["--hidden", "8", "--no-progress"]


def write_csv(path, rows=60, labels=(3, 7, 9), header=True):
    """Two features and whole-number class labels ``labels`` (written as the ints they are)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    k = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    lines = (["a,b,label"] if header else []) + [
        f"{a:.4f},{b:.4f},{labels[c]}" for (a, b), c in zip(x, k, strict=True)
    ]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    here = tmp_path_factory.mktemp("honest")
    write_csv(here / "tr.csv")
    (here / "pr.csv").write_text("a,b\n0.5,0.1\n-1,2\n")
    out = here / "A"
    assert cli.main(["train", "--data", str(here / "tr.csv"), *SMALL, "--epochs", "3",
                     "--out", str(out)]) == 0  # fmt: skip
    return out


def copy_run(run, tmp_path) -> pathlib.Path:
    shutil.copy(run.parent / "pr.csv", tmp_path / "pr.csv")
    return pathlib.Path(shutil.copytree(run, tmp_path / "run"))


def one_line(capsys, start, *parts) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(start) and "Traceback" not in err, err
    for part in parts:
        assert part in err, err
    return err


# -- 1. evaluate and predict name the checkpoint of an unfinished run -------------------------


@pytest.mark.slow
def test_evaluate_and_predict_say_a_diverged_run_is_at_its_kept_epoch(tmp_path, capsys):
    out = tmp_path / "DV"
    argv = ["train", "--data", "xor", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "20"]
    assert cli.main([*argv, *SMALL, "--out", str(out)]) == 3
    kept = json.loads((out / "summary.json").read_text())["kept_epoch"]
    assert kept < 20
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0
    one_line(capsys, "note: ", str(out), "unfinished", f"epoch {kept} of 20", "(diverged)")
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["checkpoint"] == {
        "epoch": kept,
        "epochs": 20,
        "status": "diverged",
        "early_stopped": False,
        "params_epoch": kept,
    }
    model = load_run(out)
    facts = (model.epoch, model.epochs, model.status, model.finished, model.params_epoch)
    assert facts == (kept, 20, "diverged", False, kept)
    (tmp_path / "in.csv").write_text("column_0,column_1\n0,1\n")
    assert cli.main(["predict", str(out), "--input", str(tmp_path / "in.csv")]) == 0
    one_line(capsys, "note: ", f"{out} is unfinished: checkpoint of epoch {kept} of 20")


@pytest.mark.slow
def test_an_interrupted_or_running_run_is_named_so_and_a_finished_one_is_not(
    csv_run, tmp_path, capsys, monkeypatch
):
    model = load_run(csv_run)
    assert (model.epoch, model.epochs, model.status, model.finished) == (3, 3, "finished", True)
    capsys.readouterr()
    assert cli.main(["evaluate", str(csv_run)]) == 0
    assert capsys.readouterr().err == ""

    call = record.Recorder.__call__

    def interrupted_after_two(self, line, state):
        if line["epoch"] == 2:
            self.stop.append(15)
        return call(self, line, state)

    monkeypatch.setattr(record.Recorder, "__call__", interrupted_after_two)
    out = tmp_path / "B"
    argv = ["train", "--data", str(csv_run.parent / "tr.csv"), *SMALL, "--epochs", "5"]
    assert cli.main([*argv, "--out", str(out)]) == 143
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0
    one_line(capsys, "note: ", "checkpoint of epoch 2 of 5 (interrupted)")
    assert load_run(out).status == "interrupted"
    (out / ".lock").write_text(f"pid {os.getpid()} on {socket.gethostname()}\n")
    assert cli.main(["evaluate", str(out)]) == 0
    one_line(capsys, "note: ", "checkpoint of epoch 2 of 5 (still running?)")
    os.utime(out / ".lock", (1e9, 1e9))  # written in 2001: our pid is another process's now
    assert cli.main(["evaluate", str(out)]) == 0  # said "still running?" for a reused pid
    one_line(capsys, "note: ", "checkpoint of epoch 2 of 5 (interrupted)")


def test_a_run_folder_without_its_first_save_says_why_and_the_way_on(csv_run, tmp_path, capsys):
    """A folder a run is being set up in, or whose run was killed before its first save:
    evaluate said "not a jaxmlp run folder (no config.json)" or "checkpoint.npz: no such
    checkpoint file" whether a process was writing it or not. Now it says the run is starting
    (a process holds the folder: retry) or was stopped before its first save (resume it), and
    a checkpoint lost beside a log of epochs is named as lost (``folder.check_not_lost``)."""
    out = copy_run(csv_run, tmp_path)
    (out / "checkpoint.npz").unlink()
    (out / "metrics.jsonl").write_text("")  # as a run killed before its first save leaves it
    lock = f"pid {os.getpid()} on {socket.gethostname()}\n"
    assert cli.main(["evaluate", str(out)]) == 2
    one_line(capsys, "error: ", "stopped before its first save", "--resume")
    (out / ".lock").write_text(lock)  # a process (this one) holds the folder: it is starting
    assert cli.main(["evaluate", str(out)]) == 2
    one_line(capsys, "error: ", "no checkpoint yet", f"pid {os.getpid()}", "retry")
    (out / "config.json").unlink()
    assert cli.main(["evaluate", str(out)]) == 2
    one_line(capsys, "error: ", "no config.json yet", f"pid {os.getpid()}", "retry")
    (out / ".lock").unlink()
    assert cli.main(["evaluate", str(out)]) == 2
    one_line(capsys, "error: ", "not a jaxmlp run folder (no config.json)")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux's /proc")
def test_a_lock_of_a_killed_process_not_yet_reaped_holds_nothing(csv_run, tmp_path, capsys):
    """A run killed (OOM, kill -9) whose parent has not yet waited for it, or never will (a
    container's init that reaps nothing): the process is a zombie, alive to ``os.kill(pid, 0)``
    but holding no lock. Readers called its run running: evaluate said "no checkpoint yet: the
    run there is starting ... retry" of a run stopped before its first save, and a killed run's
    note "(still running?)", both for as long as the zombie stayed."""
    out = copy_run(csv_run, tmp_path)
    (out / "checkpoint.npz").unlink()
    (out / "metrics.jsonl").write_text("")
    child = subprocess.Popen(["sleep", "60"])
    try:
        child.kill()
        stat = pathlib.Path(f"/proc/{child.pid}/stat")
        for _ in range(200):  # until the kernel has made it a zombie
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.01)
        (out / ".lock").write_text(f"pid {child.pid} on {socket.gethostname()}\n")
        assert not status.held(out)
        assert cli.main(["evaluate", str(out)]) == 2
        one_line(capsys, "error: ", "stopped before its first save", "--resume")
    finally:
        child.wait()
    (tmp_path / "lost").mkdir()
    lost = copy_run(csv_run, tmp_path / "lost")
    (lost / "checkpoint.npz").unlink()
    with pytest.raises(ValueError, match="records 3 epochs: the checkpoint was deleted or moved"):
        load_run(lost)


@pytest.mark.slow
@pytest.mark.filterwarnings("default::UserWarning")  # the stall's, as the command shows it
def test_a_stalled_damped_run_is_finished_and_a_resume_adds_no_epoch(tmp_path, capsys):
    # lm whose damping reached its ceiling stops there, as early stopping does, and its summary
    # said "early_stopped"; evaluate and load_run said "unfinished ... (interrupted)", and each
    # --resume trained one more (no-op) epoch into metrics.jsonl and the summary
    out = tmp_path / "lm"
    argv = ["train", "--data", "sine", "--hidden", "4", "--optimizer", "lm", "--lr", "1e12",
            "--batch-size", "full", "--epochs", "20", "--no-progress",
            "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    model = load_run(out)
    facts = (model.epoch, model.epochs, model.status, model.finished, model.early_stopped)
    assert facts == (1, 20, "finished", True, True)
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0
    one_line(capsys, "note: ", f"{out} stopped early at epoch 1 of 20")
    before = (out / "metrics.jsonl").read_text()
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert (out / "metrics.jsonl").read_text() == before
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["status"], summary["epochs"], summary["steps"]) == ("early_stopped", 1, 1)


def test_an_early_stopped_run_names_the_best_epoch_its_parameters_are_of(tmp_path, capsys):
    # A run stopped early with restore-best held the best epoch's parameters (its val loss), but
    # Model.epoch and evaluate --json said the last epoch and "finished", nothing more, while
    # summary.json said "early_stopped".
    rng = np.random.default_rng(0)
    x, c = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)  # labels of noise: it overfits
    lines = ["a,b,label", *(f"{a:.4f},{b:.4f},{k}" for (a, b), k in zip(x, c, strict=True))]
    (tmp_path / "noise.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "ES"
    argv = ["train", "--data", str(tmp_path / "noise.csv"), "--hidden", "16", "--lr", "0.3",
            "--val-fraction", "0.25", "--early-stopping", "1", "--epochs", "40", *SMALL[2:],
            "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = {r["epoch"]: r["val_loss"] for r in log}
    best, last = min(val, key=val.get), max(val)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "early_stopped" and best < last < 40
    assert summary["params_epoch"] == best
    model = load_run(out)
    facts = (model.epoch, model.status, model.finished, model.early_stopped, model.params_epoch)
    assert facts == (last, "finished", True, True, best)
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["checkpoint"] == {"epoch": last, "epochs": 40, "status": "finished",
                                    "early_stopped": True, "params_epoch": best}  # fmt: skip
    assert result["val"]["loss"] == pytest.approx(val[best], rel=1e-5)
    says = f"note: {out} stopped early at epoch {last} of 40: parameters of epoch {best}"
    assert captured.err == says + ", the best validation loss\n"
    assert cli.main(["evaluate", str(out)]) == 0
    one_line(capsys, says)


# -- 2. a resume verifies the log it continues ------------------------------------------------


@pytest.mark.parametrize("edit", ["value", "other_seed"])
def test_an_edited_metrics_log_is_refused_on_resume(edit, csv_run, tmp_path, capsys):
    out = copy_run(csv_run, tmp_path)
    path = out / "metrics.jsonl"
    if edit == "value":
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        lines[1]["train_loss"] = 123.0
        path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    else:
        other = tmp_path / "other"
        argv = ["train", "--data", str(csv_run.parent / "tr.csv"), *SMALL, "--epochs", "3"]
        assert cli.main([*argv, "--seed", "5", "--out", str(other)]) == 0
        shutil.copy(other / "metrics.jsonl", path)
    capsys.readouterr()
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "5", "--no-progress"]) == 2
    one_line(capsys, "error: ", "metrics.jsonl")


def test_a_finished_runs_resume_drops_a_log_line_past_its_checkpoint(csv_run, tmp_path, capsys):
    """Regression: a line past the checkpoint's epoch in metrics.jsonl (logged just before a
    kill prevented the save, or appended by hand) is dropped by every reader
    (``folder.read_metrics``) and by a resume's next save, but a resume of a finished run, which
    saves nothing, left it in the file: the log then told of an epoch 4 the run never trained.
    The resume now keeps the log's verified lines only, byte for byte."""
    out = copy_run(csv_run, tmp_path)
    path = out / "metrics.jsonl"
    before = path.read_bytes()
    record = json.loads(before.splitlines()[-1]) | {"epoch": 4, "train_loss": 0.0}
    path.write_bytes(before + (json.dumps(record) + "\n").encode())
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert path.read_bytes() == before
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0  # the kept lines are still the recorded ones


# -- 3. predict never overwrites a run's own files --------------------------------------------


@pytest.mark.parametrize("name", ["config.json", "summary.json", "checkpoint.npz"])
def test_predict_refuses_to_overwrite_a_file_of_the_run(name, csv_run, tmp_path, capsys):
    out = copy_run(csv_run, tmp_path)
    before = (out / name).read_bytes()
    capsys.readouterr()
    argv = ["predict", str(out), "--input", str(tmp_path / "pr.csv"), "--output", str(out / name)]
    assert cli.main(argv) == 2
    one_line(capsys, "error: ", name)
    assert (out / name).read_bytes() == before
    argv[-1] = str(out / "predictions.csv")  # a new name beside the run's files is fine
    assert cli.main(argv) == 0
    assert (out / "predictions.csv").read_text().startswith("prediction,")


def test_predict_refuses_to_overwrite_its_input(csv_run, tmp_path, capsys):
    # --output naming --input (or a link to it) replaced the user's data with predictions
    inputs = tmp_path / "in.csv"
    inputs.write_text("a,b\n0.5,0.1\n-1,2\n")
    before = inputs.read_bytes()
    (tmp_path / "link.csv").symlink_to(inputs)
    capsys.readouterr()
    for output in (inputs, tmp_path / "." / "in.csv", tmp_path / "link.csv"):
        argv = ["predict", str(csv_run), "--input", str(inputs), "--output", str(output)]
        assert cli.main(argv) == 2
        line = one_line(capsys, "error: ", "--input")
        assert str(output) in line and str(inputs) in line
        assert inputs.read_bytes() == before


# -- 4. whole-number class labels stay whole numbers ------------------------------------------


def test_whole_number_labels_are_predicted_as_written(csv_run, tmp_path, capsys):
    capsys.readouterr()
    inputs = str(csv_run.parent / "pr.csv")
    assert cli.main(["predict", str(csv_run), "--input", inputs]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == "prediction,p_3,p_7,p_9"
    assert {row.split(",")[0] for row in rows} <= {"3", "7", "9"}
    assert cli.main(["predict", str(csv_run), "--input", inputs, "--output",
                     str(tmp_path / "p.npz")]) == 0  # fmt: skip
    with np.load(tmp_path / "p.npz") as saved:
        assert saved["classes"].tolist() == [3, 7, 9]
        assert set(saved["prediction"].tolist()) <= {3, 7, 9}
    assert load_run(csv_run).classes == [3, 7, 9]


@pytest.mark.slow
def test_a_run_that_recorded_float_class_names_keeps_them(csv_run, tmp_path, capsys, monkeypatch):
    """A run trained before labels stayed ints (its classes 3.0, 7.0, 9.0) predicts, evaluates
    other data, and resumes as before."""
    with monkeypatch.context() as old:  # the old rule: whole-number labels read as float64
        old.setattr(csv_fields, "_integers", lambda p, c, labels: np.array(
            [float(f) for _, f in labels]))  # fmt: skip
        out = tmp_path / "old"
        argv = ["train", "--data", str(csv_run.parent / "tr.csv"), *SMALL, "--epochs", "2"]
        assert cli.main([*argv, "--out", str(out)]) == 0
        capsys.readouterr()
        assert cli.main(["predict", str(out), "--input", str(csv_run.parent / "pr.csv")]) == 0
        before = capsys.readouterr().out
    assert load_run(out).classes == [3.0, 7.0, 9.0]
    assert cli.main(["predict", str(out), "--input", str(csv_run.parent / "pr.csv")]) == 0
    assert capsys.readouterr().out == before
    assert before.startswith("prediction,p_3.0,p_7.0,p_9.0\n")
    other = write_csv(tmp_path / "other.csv")
    assert cli.main(["evaluate", str(out), "--data", str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["n"] == 60
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress"]) == 0
    assert load_run(out).classes == [3.0, 7.0, 9.0]
