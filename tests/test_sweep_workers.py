"""``jaxmlp sweep --workers N``: up to N of the sweep's chunks trained at once on host threads,
each saved as it finishes, each one's results those of it trained alone: the folder's files (but
timings) and run_id are those of ``--workers 1``, and an interrupted sweep resumes (with any
``--workers``) to them.

A tanh XOR sweep of a momentum optimizer, 2 learning rates x 4 seeds in 3 chunks of 3 (the
last short: padded)."""

import json
import os
import signal
import time

import numpy as np
import pytest

from jaxmlp import cli, interrupt
from jaxmlp.run import sweeper

BASE = [
    "--data", "xor", "--hidden", "3", "--activation", "tanh", "--loss", "sse",
    "--optimizer", "momentum", "--momentum", "0.5", "--batch-size", "full", "--epochs", "20",
    "--seeds", "4", "--lr", "0.5,2", "--chunk", "3",
]  # fmt: skip
TIMES = ("seconds", "wall_seconds")


def untimed(value):
    """A JSON value without its timings (which differ from run to run)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def contents(out):
    """What a sweep folder holds but its timings: members.jsonl, members.csv (its seconds
    column out), summary.json, config.json (its --out out of the command), each chunk's records
    and curves."""
    lines = (out / "members.jsonl").read_text().splitlines()
    rows = [line.split(",") for line in (out / "members.csv").read_text().splitlines()]
    seconds = rows[0].index("seconds")
    config = json.loads((out / "config.json").read_text())
    config["command"] = config["command"].replace(str(out), "OUT")
    found = {
        "members": [untimed(json.loads(line)) for line in lines],
        "csv": [row[:seconds] + row[seconds + 1 :] for row in rows],
        "summary": untimed(json.loads((out / "summary.json").read_text())),
        "config": config,
        "files": sorted(p.name for p in out.iterdir()),
    }
    for path in sorted((out / "chunks").iterdir()):
        with np.load(path) as f:
            found[path.name] = untimed(json.loads(str(f["records"])))
            found[path.name + " curves"] = {k: f[k].tolist() for k in f if "loss" in k}
            found[path.name + " identity"] = str(f["identity"])
    return found


def sweep(out, *flags) -> None:
    assert cli.main(["sweep", *BASE, *flags, "--out", str(out)]) == 0


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    """The folder of the sweep ``BASE`` on one worker."""
    out = tmp_path_factory.mktemp("workers") / "one"
    sweep(out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["2", "5"])
def test_workers_write_the_files_of_one_worker(one, tmp_path, workers):
    """2 workers for 3 chunks, and more workers than chunks."""
    sweep(tmp_path / "two", "--workers", workers)
    assert contents(tmp_path / "two") == contents(one)


@pytest.mark.slow
def test_a_float64_sweep_on_workers_computes_in_float64(tmp_path):
    """x64 is a thread-local jax setting a worker's thread does not inherit: each chunk
    enters the run's precision itself (without, fit_population refused float64 there)."""
    sweep(tmp_path / "one", "--dtype", "float64")
    sweep(tmp_path / "two", "--dtype", "float64", "--workers", "2")
    assert contents(tmp_path / "two") == contents(tmp_path / "one")


@pytest.mark.slow
def test_an_interrupted_sweep_on_workers_saves_whole_chunks_and_resumes_to_one_workers(
    one, tmp_path, capsys, monkeypatch, command_handlers
):
    """SIGINT as the third chunk starts (its two workers busy with it and one of the first
    two): the chunks under way are abandoned inside, unsaved, and the resume (on another
    number of workers) trains only the missing ones, to the files of one worker."""
    real, returned, trained = sweeper._fit_chunk, [], []

    def signalled(run_, grid, part, first, *args):
        trained.append(first)
        if first == 6 and not interrupt.RECEIVED:  # the third chunk, the first time
            os.kill(os.getpid(), signal.SIGINT)
            while not interrupt.RECEIVED:  # the handler runs in the main thread
                time.sleep(0.001)
        found = real(run_, grid, part, first, *args)
        returned.append(first)
        return found

    monkeypatch.setattr(sweeper, "_fit_chunk", signalled)
    out = tmp_path / "s"
    assert cli.main(["sweep", *BASE, "--out", str(out), "--workers", "2"]) == 130
    hint = f"the finished chunks are saved; continue with: jaxmlp sweep --out {out} --resume"
    assert capsys.readouterr().err == f"interrupted: {hint}\n"
    assert 6 not in returned  # stopped inside
    saved = sorted(p.name for p in (out / "chunks").iterdir())
    # one of the first two chunks, or both (one that finished after the signal may be dropped)
    assert saved and set(saved) <= {f"{first // 3:05d}.npz" for first in returned} - {"00002.npz"}
    assert not (out / "summary.json").exists()
    missing = [first for first in (0, 3, 6) if f"{first // 3:05d}.npz" not in saved]
    trained.clear()
    assert cli.main(["sweep", "--out", str(out), "--resume", "--workers", "3"]) == 0
    assert sorted(trained) == missing
    assert contents(out) == contents(one)


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "x", ""])
def test_bad_workers_exit_2_with_one_line(value, fails, tmp_path):
    err = fails(["sweep", *BASE, "--workers", value, "--out", str(tmp_path / "s")])
    assert "--workers" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", [0, True, 2.0, "2", None])
def test_the_library_refuses_bad_workers(value, tmp_path):
    with pytest.raises(ValueError, match=r"--workers must be an integer >= 1, got"):
        sweeper.sweep({"data": "xor"}, tmp_path / "s", workers=value)
