"""``jaxmlp sweep --resume`` with flags given again: a resume checks them by the rules of
``jaxmlp train --resume`` (``settings.own_spellings``, ``settings.check_resume``), so a repeated
setting is accepted with the uninterrupted sweep's results, and a changed one is refused by name.

A tanh XOR sweep of a momentum optimizer, 2 learning rates x 2 seeds in 2 chunks; each test
resumes a copy whose second chunk is gone."""

import json
import pathlib
import re
import shutil

import numpy as np
import pytest

from jaxmlp import cli
from jaxmlp.run import chunks

BASE = [
    "--data", "xor", "--hidden", "3", "--activation", "tanh", "--loss", "sse",
    "--optimizer", "momentum", "--momentum", "0.5", "--batch-size", "full", "--epochs", "20",
    "--seeds", "2", "--lr", "0.5,2", "--chunk", "2",
]  # fmt: skip


def results(folder):
    """members.jsonl's records without the timings."""
    lines = (folder / "members.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The folder of the finished sweep ``BASE``."""
    out = tmp_path_factory.mktemp("resume") / "sweep"
    assert cli.main(["sweep", *BASE, "--out", str(out)]) == 0
    return out


@pytest.fixture
def half(swept, tmp_path):
    """A copy of ``swept`` as its interruption after the first chunk left it."""
    out = pathlib.Path(shutil.copytree(swept, tmp_path / "half"))
    for name in ("chunks/00001.npz", "members.jsonl", "members.csv", "summary.json"):
        (out / name).unlink()
    return out


@pytest.mark.slow
def test_a_resume_accepts_an_init_that_draws_every_layer_as_the_sweeps_default(swept, half):
    """``--init glorot_uniform`` is what a tanh sweep's None drew for both of its layers:
    train --resume takes it (own_spellings); sweep --resume refused it, naming that very fact
    ("its None draws its layers glorot_uniform, glorot_uniform")."""
    argv = ["sweep", "--out", str(half), "--resume", "--init", "glorot_uniform"]
    assert cli.main(argv) == 0
    assert results(half) == results(swept)


@pytest.mark.slow
@pytest.mark.parametrize(
    "flag, value",
    [("--optimizer", "adam"), ("--early-stopping", "3")],
)
def test_a_resume_names_the_changed_setting_not_what_build_then_refuses(half, fails, flag, value):
    """As train's: a setting that build does not resolve is compared before build, so
    ``--optimizer adam`` on a momentum sweep is refused as changed, not by the unused momentum
    it leaves ("momentum=0.5 would be ignored"), and ``--early-stopping 3`` as changed, not as
    needing a validation split."""
    err = fails(["sweep", "--out", str(half), "--resume", flag, value])
    assert f"{flag} {value} differs from the" in err and f"drop {flag}" in err, err


@pytest.mark.slow
def test_a_resume_refuses_a_val_fraction_that_the_folds_would_ignore(tmp_path, fails):
    """A new sweep with --folds refuses --val-fraction (the folds hold out their own rows); a
    resumed one took it with exit 0 and ignored it."""
    out = tmp_path / "folds"
    argv = [*BASE, "--seeds", "1", "--lr", "0.5", "--folds", "2", "--chunk", "1"]
    assert cli.main(["sweep", *argv, "--out", str(out)]) == 0
    (out / "chunks" / "00001.npz").unlink()
    err = fails(["sweep", "--out", str(out), "--resume", "--val-fraction", "0.2"])
    assert "--folds hold out their own validation rows: drop --val-fraction" in err, err


@pytest.mark.slow
def test_a_resume_whose_data_file_changed_or_went_says_to_restore_it(tmp_path, fails):
    """The way on was evaluate's: "pass the data with --data" for a changed file, "evaluate on
    other data with --data PATH" for one gone, which a resume then refused ("resume needs the
    same data", "--data ... differs"); a resume needs the file it trained on, at its path."""
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i % 3},{i % 5},{i % 2}\n" for i in range(12)))
    out = tmp_path / "sweep"
    argv = ["--data", str(csv), "--hidden", "2", "--batch-size", "full", "--epochs", "5"]
    assert cli.main(["sweep", *argv, "--seeds", "2", "--chunk", "1", "--out", str(out)]) == 0
    (out / "chunks" / "00001.npz").unlink()
    resume = ["sweep", "--out", str(out), "--resume"]
    for change in ("changed", "gone"):
        if change == "changed":
            csv.write_text(csv.read_text() + "1,1,1\n")
        else:
            csv.rename(tmp_path / "moved.csv")
        err = fails(resume)
        assert f"{csv}: " in err and change in err and "--data" not in err, err
        assert "a resume needs the data it trained on" in err, err


@pytest.mark.slow  # (the sweep it resumes trains for seconds)
@pytest.mark.parametrize("epochs", ["40", "10"])
def test_a_resume_with_another_length_names_the_value_and_the_way_on(half, fails, epochs):
    """A sweep resumes with its own length whatever its schedule (its chunks are trained to
    it); the line named neither the value given nor what to do, as every other refusal does."""
    err = fails(["sweep", "--out", str(half), "--resume", "--epochs", epochs])
    assert f"--epochs {epochs} differs from the 20 of the sweep in {half}" in err, err
    assert "drop --epochs, or start a new sweep" in err, err


@pytest.mark.slow  # (the sweep it resumes trains for seconds)
def test_a_resume_refusing_a_changed_setting_speaks_of_the_sweep(half, fails):
    """The line spoke of a run ("of the run in DIR: a resumed run keeps its settings (drop
    --lr, or start a new run)") where the folder holds a sweep."""
    err = fails(["sweep", "--out", str(half), "--resume", "--lr", "2,0.5"])
    assert f"--lr 2.0,0.5 differs from the 0.5,2.0 of the sweep in {half}" in err, err
    assert "a resumed sweep keeps its settings (drop --lr, or start a new sweep)" in err, err


@pytest.mark.slow
@pytest.mark.parametrize("kept", [1000.0, None], ids=["timed", "older"])
def test_a_resumed_sweeps_wall_time_adds_up_its_processes(half, capsys, kept):
    """A resumed sweep's wall_seconds and its "N members in X s" line counted only the last
    process (a resumed train run adds up all of them): the chunks now keep the sweep's time at
    their save; one saved before they did (``None``) still loads, and the time is said to be
    this process's."""
    path = half / "chunks" / "00000.npz"
    with np.load(path) as f:
        text, identity = str(f["records"]), str(f["identity"])
        curves = {k: f[k] for k in chunks.CURVES if k in f.files}
    chunks.write(path, json.loads(text), curves, identity, kept)  # the first process's time
    capsys.readouterr()
    assert cli.main(["sweep", "--out", str(half), "--resume"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads((half / "summary.json").read_text())
    seconds = float(re.fullmatch(r"4 members in ([\d.]+) s(.*); wrote .*", line)[1])
    assert seconds == pytest.approx(summary["wall_seconds"], abs=0.05)
    if kept:
        assert 1000 < seconds < 1000 + 600 and "wall_seconds_of" not in summary
    else:
        assert seconds < 600 and "this process's" in line
        assert summary["wall_seconds_of"].startswith("this process's")
