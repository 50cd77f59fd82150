"""The run's edges: a signal that comes once training has finished, and a divergence that shows
first in the optimizer state."""

import json
import os
import signal

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
