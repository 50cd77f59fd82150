"""Every JSON file of a run folder that changes what jaxmlp does or reports takes each key once
(``numeric.json_once``), as config.json and a checkpoint's metadata do: Python's json keeps a
repeated key's last value, another reader (and a person) the first, and jaxmlp writes each key
once. A metrics.jsonl line that a resume continues from and the summary.json that says a run
diverged are refused naming the key (exit 2, one line). Each test failed on the code before its
fix."""

import pathlib
import shutil

import numpy as np
import pytest

from jaxmlp import MLP, checkpoint, cli, load_run
from jaxmlp.run import folder

OLD_RUNS = pathlib.Path(__file__).parent / "data" / "old_runs"
NET = MLP((2, 3, 1), "tanh", "sigmoid", "bce")


def files_of(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def repeat(path, key: str, first: str, line: int = 1) -> None:
    """The file ``path`` with ``"key": first`` written before ``key``'s value in its ``line``:
    the key twice, the written value last."""
    lines = path.read_text().splitlines(keepends=True)
    assert f'"{key}": ' in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(f'"{key}": ', f'"{key}": {first}, "{key}": ', 1)
    path.write_text("".join(lines))


# -- metrics.jsonl ------------------------------------------------------------------------------


def test_a_metrics_line_with_a_key_twice_is_refused_naming_it(tmp_path):
    # read_metrics kept the last val_loss of line 1 (0.5) where a reader of the first saw 9.0
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss": 0.4}\n')
    repeat(path, "val_loss", "9.0")
    with pytest.raises(ValueError, match=r"metrics.jsonl: line 1 holds the key 'val_loss' twice"):
        folder.read_metrics(path, 2)


@pytest.mark.slow
def test_a_resume_of_a_log_with_a_key_twice_is_refused(tmp_path, one_error):
    # a checkpoint from before metrics_sha256 (jaxmlp 380a448) has no digest of its log: with
    # line 1's val_loss given as 9.0 before the logged one, the resume went on (exit 0) and
    # rewrote the line with the last value
    out = pathlib.Path(shutil.copytree(OLD_RUNS / "gaussians_float32", tmp_path / "old"))
    assert "metrics_sha256" not in checkpoint.read_meta(out / "checkpoint.npz")["extra"]
    repeat(out / "metrics.jsonl", "val_loss", "9.0")
    before = files_of(out)
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress"]) == 2
    one_error("metrics.jsonl: line 1 holds the key 'val_loss' twice", "edited")
    assert files_of(out) == before


# -- summary.json -------------------------------------------------------------------------------


def test_a_summary_with_a_key_twice_is_refused_naming_it(tmp_path, fails, unfinished_run):
    # summary.json giving status "interrupted" before "diverged": load_run, evaluate and
    # predict said the run diverged at its epoch 2 where a reader of the first saw interrupted
    out = unfinished_run
    path = out / "summary.json"
    path.write_text('{"status": "diverged", "kept_epoch": 2}\n')
    assert load_run(out).status == "diverged"
    repeat(path, "status", '"interrupted"')
    with pytest.raises(ValueError, match=r"summary.json: holds the key 'status' twice"):
        load_run(out)
    np.save(tmp_path / "x.npy", np.zeros((4, 2), np.float32))
    err = fails(["predict", str(out), "--input", str(tmp_path / "x.npy")])
    assert "summary.json: holds the key 'status' twice" in err and "edited" in err, err
