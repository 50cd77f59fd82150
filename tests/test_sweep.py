"""``jaxmlp sweep`` (issue 17, command line): seeds x value lists x folds as populations into one
folder; its files, its members against ``fit_population`` / ``grid_search`` and solo ``fit``,
resuming after SIGKILL, bad input.

XOR 2-3-1 with a few seeds and a few hundred epochs: each program compiles once per shape, so
the sweeps below use chunks of one size.
"""

import contextlib
import csv
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import time
import warnings

import jax
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, cli, datasets, fit, fit_population, run, search
from jaxmlp.run import folder

XOR = [
    "--data", "xor", "--hidden", "3", "--activation", "sigmoid", "--loss", "sse",
    "--reduction", "sum", "--init", "uniform:0,1", "--optimizer", "sgd", "--batch-size", "full",
]  # fmt: skip
SWEEP = [*XOR, "--epochs", "300", "--seeds", "4", "--lr", "0.5,2", "--chunk", "4"]
NET = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
RTOL = 1e-4  # a member against its solo fit: tests/test_population.py states the bound and why


def results(path):
    """members.jsonl's records without the timings (which differ from run to run)."""
    lines = path.read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The folder of ``jaxmlp sweep SWEEP`` and what it printed."""
    out = tmp_path_factory.mktemp("sweep") / "xor"
    code, printed = main_output(["sweep", *SWEEP, "--out", str(out)])
    assert code == 0, printed
    return out, printed


def main_output(argv):
    """``(status, stdout)`` of ``cli.main(argv)`` (stdout captured around it)."""
    import contextlib
    import io

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        code = cli.main(argv)
    return code, text.getvalue()


@pytest.mark.slow
def test_sweep_writes_one_folder_of_strict_json_csv_and_figures(swept):
    out, printed = swept
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "members.jsonl", "members.csv", "summary.json", "chunks"} <= names
    assert {"loss_vs_lr.png", "success_vs_lr.png", "curves.png"} <= names
    config = strict((out / "config.json").read_text())
    assert config["settings"]["lr"] == [0.5, 2.0] and config["settings"]["seeds"] == [0, 1, 2, 3]
    assert config["settings"]["epochs"] == 300 and config["settings"]["chunk"] == 4
    assert config["command"].startswith("jaxmlp sweep ") and "--lr 0.5,2.0" in config["command"]
    assert config["sweep"]["members"] == 8 and config["sweep"]["grid"] == {"lr": [0.5, 2.0]}
    records = [strict(line) for line in (out / "members.jsonl").read_text().splitlines()]
    assert [r["member"] for r in records] == list(range(8))
    assert [(r["lr"], r["seed"]) for r in records] == [(lr, s) for lr in (0.5, 2) for s in range(4)]
    assert all(r["epochs"] == 300 and r["success"] == (r["train_accuracy"] == 1.0) for r in records)
    with (out / "members.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["train_loss"]) for r in rows] == [r["train_loss"] for r in records]
    summary = strict((out / "summary.json").read_text())
    assert [row["lr"] for row in summary["rows"]] == [0.5, 2.0]
    for row in summary["rows"]:
        group = [r for r in records if r["lr"] == row["lr"]]
        assert row["n"] == 4 and row["successes"] == sum(r["success"] for r in group)
        losses = [r["train_loss"] for r in group]
        assert row["train_loss_q50"] == pytest.approx(np.median(losses))
        assert row["success_low"] <= row["success_rate"] <= row["success_high"]
    assert set(summary["figures"]) == {"loss_vs_lr.png", "success_vs_lr.png", "curves.png"}
    device = jax.devices()[0]  # the machine, as train's summary records it
    assert summary["devices"] == 1 and summary["platform"] == device.platform
    assert summary["device_kind"] == device.device_kind
    assert "success [95 % CI]" in printed and "8 members in" in printed


def test_members_equal_fit_population_and_solo_fit_within_the_bound(swept):
    out, _ = swept
    ds = datasets.load("xor")
    pop = fit_population(
        NET, ds.x_train, ds.t_train, Optimizer("sgd"),
        TrainConfig(epochs=300, batch_size="full"),
        seeds=[0, 1, 2, 3] * 2, hyper={"lr": [0.5] * 4 + [2.0] * 4}, chunk=4,
    )  # fmt: skip
    found = results(out / "members.jsonl")
    for record, member in zip(found, pop.members, strict=True):
        for key, value in member.items():
            if key != "seconds":
                assert record[key] == value, key  # bit for bit: the same programs
    for k in (1, 6):
        solo = fit(
            NET, ds.x_train, ds.t_train, Optimizer("sgd", lr=found[k]["lr"]),
            TrainConfig(epochs=300, batch_size="full", seed=found[k]["seed"]),
        )  # fmt: skip
        last = solo.history[-1]
        np.testing.assert_allclose(found[k]["train_loss"], last["train_loss"], rtol=RTOL)
        assert found[k]["train_accuracy"] == last["train_accuracy"]


def test_a_short_last_chunk_is_padded_and_its_members_are_their_solo_fits(tmp_path):
    out = tmp_path / "padded"
    argv = [*XOR, "--epochs", "300", "--seeds", "3", "--lr", "0.5,2", "--chunk", "4"]
    code, printed = main_output(["sweep", *argv, "--out", str(out)])
    assert code == 0 and "chunk 2/2: 2 members" in printed
    found = results(out / "members.jsonl")
    assert [(r["lr"], r["seed"]) for r in found] == [(lr, s) for lr in (0.5, 2) for s in range(3)]
    ds = datasets.load("xor")
    for record in found[3:]:  # the last chunk: 2 members and 2 copies of the last one
        solo = fit(
            NET, ds.x_train, ds.t_train, Optimizer("sgd", lr=record["lr"]),
            TrainConfig(epochs=300, batch_size="full", seed=record["seed"]),
        )  # fmt: skip
        np.testing.assert_allclose(record["train_loss"], solo.history[-1]["train_loss"], rtol=RTOL)
    assert len(np.load(out / "chunks" / "00001.npz")["train_loss"]) == 2


@pytest.mark.slow
def test_folds_are_members_as_grid_search_trains_them(tmp_path):
    out = tmp_path / "folds"
    argv = [*XOR, "--epochs", "100", "--seeds", "2", "--momentum", "0,0.9", "--folds", "2"]
    code, _ = main_output(["sweep", *argv, "--chunk", "8", "--out", str(out)])
    assert code == 0
    ds = datasets.load("xor")
    expected = search.grid_search(
        NET, ds.x_train, ds.t_train, Optimizer("sgd"), TrainConfig(epochs=100, batch_size="full"),
        grid={"momentum": [0.0, 0.9]}, seeds=[0, 1], folds=2, chunk=8,
    )  # fmt: skip
    found = results(out / "members.jsonl")
    assert [(r["momentum"], r["seed"], r["fold"]) for r in found] == [
        (m, s, f) for m in (0.0, 0.9) for s in (0, 1) for f in (0, 1)
    ]
    for record, member in zip(found, expected, strict=True):
        assert {k: record[k] for k in member if k != "seconds"} == {
            k: v for k, v in member.items() if k != "seconds"
        }
    assert all(r["val_loss"] is not None for r in found)


@pytest.mark.slow  # ~25 s: a second process compiles its own programs
def test_sigkill_between_chunks_then_resume_gives_the_uninterrupted_members(tmp_path):
    """Killed in a new process after its first saved chunk, resumed: members.jsonl's results
    are those of the same sweep run uninterrupted, and the saved chunks are not trained again."""
    argv = [*XOR, "--epochs", "300", "--seeds", "12", "--lr", "0.5,2", "--chunk", "2"]
    whole = tmp_path / "whole"
    assert main_output(["sweep", *argv, "--out", str(whole)])[0] == 0
    out = tmp_path / "killed"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "jaxmlp", "sweep", *argv, "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    first = out / "chunks" / "00000.npz"
    deadline = time.monotonic() + 300
    while not first.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no chunk after 300 s"
        time.sleep(0.002)
    process.kill()  # SIGKILL: no handler runs
    process.communicate()
    saved = len(list((out / "chunks").glob("*.npz")))
    assert 1 <= saved < 12 and not (out / "members.jsonl").exists(), "not killed mid-way"
    code, printed = main_output(["sweep", "--out", str(out), "--resume"])
    assert code == 0
    assert printed.count("chunk ") == 12 - saved  # the saved chunks were not trained again
    assert results(out / "members.jsonl") == results(whole / "members.jsonl")
    # a resumed sweep keeps its settings
    assert cli.main(["sweep", "--out", str(out), "--resume", "--lr", "0.1,2"]) == 2


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--lr", ""], "--lr needs finite numbers"),
        (["--lr", "0.1,fast"], "--lr needs finite numbers"),
        (["--weight-decay", "0.1,nan"], "--weight-decay needs finite numbers"),
        (["--lr", "0.1,0.1"], "repeats a value"),
        (["--seeds", "0"], "--seeds needs a count"),
        (["--seeds", "1,x"], "--seeds needs a count"),
        (["--seeds", "3,3"], "repeats a seed"),
        (["--seeds", "0,4294967296"], "integer seeds in [0, 2**32 - 1]"),  # key(2**32) = key(0)
        (["--seeds", "99999999999999999999"], "--seeds needs a count N in [1, 100000]"),
        (["--seeds", "\u00b2"], "--seeds needs a count"),  # a digit to str.isdigit, not to int
        (["--seed", "4294967296"], "seed must be an integer in [0, 2**32 - 1]"),
        (["--epochs", "10,20"], "--epochs takes one value in a sweep"),
        (["--dropout", "0.1,0.2"], "--dropout takes one value in a sweep"),
        (["--optimizer", "adam", "--momentum", "0.5,0.9"], "--momentum would be ignored"),
        (["--lr", "0.1,-1"], "member 1"),
        (["--init-scale", "1,0"], "init_scale must be > 0"),
        (["--lr", "0.1,1e-320"], "lr = 1e-320 is outside the range of float32"),  # lr 0
        (["--folds", "1"], "folds must be an integer in [2, n=4]"),
        (["--folds", "2", "--val-fraction", "0.5"], "drop --val-fraction"),
        (["--chunk", "0"], "--chunk must be an integer >= 1"),
        (["--devices", "2"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(argv, says, tmp_path, capsys):
    out = tmp_path / "bad"
    assert cli.main(["sweep", *XOR, "--epochs", "5", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err, err
    assert not (out / "config.json").exists()  # nothing kept that a corrected sweep would refuse


@pytest.mark.slow
def test_an_existing_folder_is_refused_without_resume(swept, capsys):
    out, _ = swept
    assert cli.main(["sweep", *SWEEP, "--out", str(out)]) == 2
    err = capsys.readouterr().err  # "a run: continue it with --resume" said train's
    assert "already holds a sweep: continue it with --resume (jaxmlp sweep)" in err, err
    assert cli.main(["train", "--data", "xor", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds a sweep: continue it with --resume (jaxmlp sweep)" in err, err


def test_help_lists_the_sweepable_settings(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sweep", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--lr", "--momentum", "--weight-decay", "--clip-norm", "--init-scale"):
        assert f"{flag} " in text and flag in text.split("every other setting")[0], flag
    for flag in ("--seeds", "--folds", "--chunk", "--resume", "--hidden", "--optimizer"):
        assert flag in text
    assert run.SWEPT == ("lr", "momentum", "weight_decay", "clip_norm", "init_scale")


def test_wilson_interval_matches_its_closed_form():
    from jaxmlp.search import wilson

    low, high = wilson(19, 20)  # z = 1.96: the textbook's (0.7639, 0.9911)
    assert (round(low, 4), round(high, 4)) == (0.7639, 0.9911)
    assert wilson(0, 10)[0] == 0.0 and wilson(12, 12)[1] == 1.0  # exact, not 1 - 1e-16
    assert wilson(12, 12)[0] == pytest.approx(1 - wilson(0, 12)[1])


def test_a_members_infinite_loss_makes_the_quantiles_above_it_inf_not_nan(monkeypatch):
    """Regression: a member that did not diverge but whose last validation loss was inf (its
    parameters on their way to diverging) made its grid point's median validation loss NaN
    (NumPy's interpolation: inf - inf), not the 0.3 of {0.2, 0.3, inf}, and the 75 % and 90 %
    ones NaN, not inf; so did a figure's median line."""
    from jaxmlp.run import sweep_figures, sweep_report

    records = [
        {"lr": 0.1, "seed": s, "diverged_epoch": None, "stopped_epoch": None, "success": None}
        | {"train_loss": v, "val_loss": w}
        for s, (v, w) in enumerate([(0.1, 0.2), (0.2, 0.3), (0.3, math.inf)])
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor NumPy's "invalid value" warnings
        (row,) = sweep_report.rows(records, {"lr": [0.1]})
    assert row["val_loss_q50"] == pytest.approx(0.3) and row["val_loss_q25"] == pytest.approx(0.25)
    assert row["val_loss_q75"] == row["val_loss_q90"] == row["val_loss_mean"] == math.inf
    assert row["train_loss_q50"] == pytest.approx(0.2)
    lines = []
    monkeypatch.setattr(sweep_figures.plots, "_figure", lambda: _recording_figure(lines))
    monkeypatch.setattr(sweep_figures, "_finish", lambda fig, ax, path: path)
    sweep_figures._against(records, {"lr": [0.1]}, "lr", "val_loss", "unused.png")
    assert lines == [([0.1], [pytest.approx(0.3)])]


def _recording_figure(lines):
    """A stand-in for ``plots._figure`` whose axes record the lines plotted."""

    class Axes:
        def __getattr__(self, name):
            return lambda *a, **k: None

        def plot(self, xs, ys, **kwargs):
            lines.append((list(xs), [float(y) for y in ys]))
            return (type("Line", (), {"get_color": lambda self: "C0"})(),)

        transAxes = None

    return None, Axes()


def test_the_table_and_figures_tell_apart_values_that_six_digits_do_not():
    """lr 0.1 and 0.1000001 are two grid points (two float32 values): the table printed both
    as `0.1` (`:g`); a value six digits give exactly keeps its short form."""
    from jaxmlp.run import sweep_figures
    from jaxmlp.run.sweep_report import table

    rows = [{"lr": lr, "n": 1, "diverged": 0} for lr in (0.1, 0.1000001, 1.0)]
    labels = [line.split()[0] for line in table(rows, {"lr": [0.1, 0.1000001, 1.0]}).splitlines()]
    assert labels == ["lr", "0.1", "0.1000001", "1"]
    assert sweep_figures._label({"lr": 0.1000001, "momentum": 0.9}) == "lr 0.1000001, momentum 0.9"
    value_text = sweep_figures.value_text
    assert [value_text(v) for v in (0.01, 1e-5, 3.0, 0.30000000000000004)] == [
        "0.01",
        "1e-05",
        "3",
        "0.30000000000000004",
    ]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--drop-last", "yes"], "--drop-last would be ignored"),
        (["--optimizer", "adam", "--decay-rate", "0.5"], "--decay-rate would be ignored"),
    ],
)
def test_a_flag_the_sweep_would_ignore_exits_2_as_train_does(argv, says, tmp_path, capsys):
    for command in ("train", "sweep"):
        out = tmp_path / command
        assert cli.main([command, *XOR, "--epochs", "5", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and says in err, err
        assert not (out / "config.json").exists()


@pytest.mark.slow
def test_a_sweep_keeps_the_canonical_activation_spec_and_resumes_with_either_spelling(tmp_path):
    """As train does: ``elu:1.50`` is saved as ``elu:1.5``; a resume may spell it either way."""
    out = tmp_path / "elu"
    argv = [*XOR, "--activation", "elu:1.50", "--epochs", "5", "--seeds", "2", "--out", str(out)]
    assert main_output(["sweep", *argv])[0] == 0
    saved = json.loads((out / "config.json").read_text())["settings"]
    assert saved["activation"] == "elu:1.5"
    for spec in ("elu:1.5", "elu:1.50"):
        code, printed = main_output(["sweep", "--out", str(out), "--resume", "--activation", spec])
        assert code == 0, printed


# -- the folder is the sweep's: what a resume reads is checked ---------------------------------

SMALL = [*XOR, "--epochs", "20", "--seeds", "2", "--lr", "0.5,2", "--chunk", "2"]  # 2 chunks


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory):
    """Folders of the sweep SMALL and of the same with 4 hidden units, and SMALL's members."""
    root = tmp_path_factory.mktemp("two")
    for name, extra in (("a", []), ("b", ["--hidden", "4"])):
        assert main_output(["sweep", *SMALL, *extra, "--out", str(root / name)])[0] == 0
    return root / "a", root / "b", results(root / "a" / "members.jsonl")


def copy_of(folder, tmp_path):
    return pathlib.Path(shutil.copytree(folder, tmp_path / "copy"))


@pytest.mark.slow
def test_a_chunk_of_another_sweep_is_refused(two_sweeps, tmp_path, fails):
    """A chunk checked only its members' seeds and values: B's chunk (another network) in A's
    folder resumed with exit 0, its members reported as A's."""
    a, b, _ = two_sweeps
    out = copy_of(a, tmp_path)
    (out / "chunks" / "00001.npz").write_bytes((b / "chunks" / "00001.npz").read_bytes())
    assert "belongs to another sweep" in fails(["sweep", "--out", str(out), "--resume"])


def test_a_new_sweep_refuses_the_chunks_another_sweep_left(two_sweeps, tmp_path, fails):
    """Before it trains, naming them, and writing nothing (their chunks were once read and
    refused one by one as another sweep's)."""
    a, b, _ = two_sweeps
    out = copy_of(a, tmp_path)
    (out / "config.json").unlink()
    err = fails(["sweep", *SMALL, "--hidden", "4", "--out", str(out)])
    assert "members.csv, chunks/ of another run or sweep (but no config.json)" in err, err
    for name in ("summary.json", "members.jsonl", "members.csv"):
        (out / name).unlink()
    before = sorted(p.name for p in out.iterdir())
    err = fails(["sweep", *SMALL, "--hidden", "4", "--out", str(out)])
    assert "holds chunks/ of another run or sweep (but no config.json)" in err, err
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_changed_chunk_or_config_is_refused_and_a_lost_chunk_retrained(
    two_sweeps, tmp_path, fails
):
    """An edited record, an edited config.json and a truncated chunk resumed with exit 0 (the
    edit reported as a result) or a traceback; deleted chunks failed to save."""
    a, _, members = two_sweeps
    resume = ["sweep", "--resume", "--out"]
    out = copy_of(a, tmp_path)
    path = out / "chunks" / "00000.npz"
    with np.load(path) as f:
        saved = {k: f[k] for k in f.files}
    saved["records"] = np.array(str(saved["records"]).replace('"train_loss": ', '"train_loss": 1'))
    np.savez(path, **saved)
    assert "does not match its recorded SHA-256" in fails([*resume, str(out)])
    path.write_bytes((a / "chunks" / "00000.npz").read_bytes()[:1000])
    assert "not a readable chunk" in fails([*resume, str(out)])
    path.unlink()
    config = json.loads((out / "config.json").read_text())
    config["settings"]["hidden"] = [4]
    (out / "config.json").write_text(json.dumps(config))
    assert "do not match its run_id" in fails([*resume, str(out)])
    (out / "config.json").write_bytes((a / "config.json").read_bytes())
    shutil.rmtree(out / "chunks")
    assert main_output([*resume, str(out)])[0] == 0
    assert results(out / "members.jsonl") == members


def test_a_sweep_holds_its_folder(two_sweeps, tmp_path, fails):
    """Sweeps took no lock: two into one folder overwrote each other's chunks."""
    a, _, _ = two_sweeps
    for argv, out in ((["--resume"], copy_of(a, tmp_path)), (SMALL, tmp_path / "new")):
        out.mkdir(exist_ok=True)
        with folder.lock(out):
            assert "in use by" in fails(["sweep", *argv, "--out", str(out)])


@pytest.mark.parametrize("by", ["hand", "another_sweep"])
def test_a_sweep_whose_folder_was_made_again_writes_nothing_there(
    by, two_sweeps, tmp_path, fails, monkeypatch
):
    """The folder deleted and made again while a sweep trained (by hand, or by another sweep
    that holds it): the sweep wrote its chunks, records and summary there, exit 0, beside or over
    the other's files. Now it stops, exit 2, and leaves the new folder byte for byte."""
    from jaxmlp.run import sweeper

    _, b, _ = two_sweeps
    out, fit_chunk = tmp_path / "sweep", sweeper._fit_chunk

    def meanwhile(run_, *args):
        if args[2] > 0:  # first: the second chunk's
            shutil.rmtree(out)
            shutil.copytree(b, out) if by == "another_sweep" else out.mkdir()
        return fit_chunk(run_, *args)

    def contents(path):
        return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}

    monkeypatch.setattr(sweeper, "_fit_chunk", meanwhile)
    before = contents(b) if by == "another_sweep" else {}
    assert "the run folder was removed, moved or made again" in fails(
        ["sweep", *SMALL, "--out", str(out)]
    )
    assert contents(out) == before


def test_two_sweeps_without_out_started_in_one_second_take_two_folders(
    tmp_path, capsys, monkeypatch
):
    """As two trains (tests/test_runfolder.py): the default folder was made only after the
    plan, so two sweeps of one second shared a name and the second exited 2 "in use by"."""
    from jaxmlp.run import sweeper

    monkeypatch.chdir(tmp_path)
    plan, other = sweeper._plan, contextlib.ExitStack()

    def meanwhile(given, saved, out, held):
        result = plan(given, saved, out, held)
        out.mkdir(parents=True)  # another process, started in the same second
        other.enter_context(folder.lock(out))
        return result

    monkeypatch.setattr(sweeper, "_plan", meanwhile)
    with other:
        assert cli.main(["sweep", *SMALL]) == 0, capsys.readouterr().err
        taken, ours = sorted((tmp_path / "runs").iterdir(), key=lambda p: len(p.name))
        assert ours.name == taken.name + "-2"
        assert [p.name for p in taken.iterdir()] == [folder.LOCK]
        assert (ours / "summary.json").is_file() and not (ours / folder.LOCK).exists()


def test_an_empty_out_and_a_changed_folds_name_the_problem(
    two_sweeps, tmp_path, fails, monkeypatch
):
    a, _, _ = two_sweeps
    monkeypatch.chdir(tmp_path)
    for command in ("train", "sweep"):  # "" was the working directory
        assert "--out needs a folder name" in fails([command, *XOR, "--out", ""])
    err = fails(["sweep", "--out", str(copy_of(a, tmp_path)), "--resume", "--folds", "2"])
    assert "--folds 2 differs" in err  # not "drop --val-fraction", which was never given


def test_a_sweep_where_every_member_diverges_writes_its_summary_and_figures(tmp_path):
    """The loss figure set a log axis on no data: exit 2 with matplotlib's message, no
    summary.json."""
    argv = [*XOR, "--activation", "relu", "--output", "identity", "--epochs", "5", "--seeds", "2"]
    out = tmp_path / "diverged"
    code, printed = main_output(["sweep", *argv, "--lr", "1e20,1e30", "--out", str(out)])
    assert code == 0, printed
    summary = strict((out / "summary.json").read_text())
    assert all(row["diverged"] == row["n"] == 2 for row in summary["rows"]), summary["rows"]
    assert {p.name for p in out.glob("*.png")} == {"loss_vs_lr.png", "curves.png"}


def test_ctrl_c_names_the_folder_to_resume_or_says_nothing_was_saved(tmp_path, capsys, monkeypatch):
    """The hint said ``--out DIR`` when the folder was the default one, and offered a resume
    that failed ("nothing to resume") when no chunk had finished."""
    from jaxmlp.run import sweeper

    fit_chunk, calls = sweeper._fit_chunk, []

    def interrupted_at(k):
        def fake(*args):
            calls.append(1)
            if len(calls) == k:
                raise KeyboardInterrupt
            return fit_chunk(*args)

        return fake

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sweeper, "_fit_chunk", interrupted_at(2))
    assert cli.main(["sweep", *SMALL]) == 130
    (out,) = (tmp_path / "runs").iterdir()
    err = capsys.readouterr().err
    hint = f"continue with: jaxmlp sweep --out {out.relative_to(tmp_path)} --resume\n"
    assert err == f"interrupted: the finished chunks are saved; {hint}"
    assert main_output(["sweep", "--out", str(out), "--resume"])[0] == 0
    calls.clear()
    monkeypatch.setattr(sweeper, "_fit_chunk", interrupted_at(1))
    assert cli.main(["sweep", *SMALL, "--out", "first"]) == 130
    assert capsys.readouterr().err == "interrupted: no chunk had finished: nothing was saved\n"
    # a folder whose name the shell splits is quoted, as train's hint quotes it: the hint
    # said "--out my sweep --resume", which the shell reads as --out my and an argument sweep
    calls.clear()
    monkeypatch.setattr(sweeper, "_fit_chunk", interrupted_at(2))
    assert cli.main(["sweep", *SMALL, "--out", "my sweep"]) == 130
    assert capsys.readouterr().err.endswith(
        "continue with: jaxmlp sweep --out 'my sweep' --resume\n"
    )


def test_an_interrupt_while_the_report_is_written_names_the_resume_which_writes_it(
    tmp_path, capsys, monkeypatch
):
    """The report was written outside the interrupt's handling: Ctrl-C there said only
    "interrupted" (no way on), and no summary.json was left."""
    from jaxmlp.run import sweeper

    out, write = tmp_path / "s", sweeper.sweep_report.write

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweeper.sweep_report, "write", interrupted)
    assert cli.main(["sweep", *SMALL, "--out", str(out)]) == 130
    hint = f"the finished chunks are saved; continue with: jaxmlp sweep --out {out} --resume"
    assert capsys.readouterr().err == f"interrupted: {hint}\n"
    monkeypatch.setattr(sweeper.sweep_report, "write", write)
    assert main_output(["sweep", "--out", str(out), "--resume"])[0] == 0
    assert strict((out / "summary.json").read_text())["status"] == "finished"


def test_a_signal_while_the_report_is_written_is_said_not_swallowed(
    tmp_path, capsys, monkeypatch, command_handlers
):
    """Under the command's handlers (``interrupt.install``) a first SIGINT after the last chunk,
    while the report and figures were written, was recorded and never acted on: the sweep
    exited 0 with not a word. It still stops nothing (every member is trained), as in a run,
    but it is said, once the report is written."""
    import signal

    from jaxmlp import interrupt
    from jaxmlp.run import sweeper

    out, write = tmp_path / "s", sweeper.sweep_report.write

    def signalled(*args):
        os.kill(os.getpid(), signal.SIGINT)
        return write(*args)

    monkeypatch.setattr(sweeper.sweep_report, "write", signalled)
    assert cli.main(["sweep", *SMALL, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    said = "nothing was stopped; its report is written"
    assert err == f"note: SIGINT came after the sweep's last chunk: {said}\n"
    assert strict((out / "summary.json").read_text())["status"] == "finished"
    assert interrupt.PENDING == []


def test_a_first_ctrl_c_stops_a_sweep_inside_its_chunk(
    tmp_path, capsys, monkeypatch, command_handlers
):
    """Under the command's handlers a first SIGINT was acted on only between chunks: the chunk
    under way trained to its end (minutes, for a large one) before the sweep stopped. Now it is
    acted on between the chunk's compiled calls of epochs: the chunk is abandoned, unsaved,
    and the resume trains it, ending with the uninterrupted members."""
    import signal

    from jaxmlp.run import sweeper

    real, calls, epochs = sweeper.fit_population, [], {}

    def signalled(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second (last) chunk: interrupted as it starts
            os.kill(os.getpid(), signal.SIGINT)
        pop = real(*args, **kwargs)
        epochs[len(calls)] = pop.history["train_loss"].shape[1]
        return pop

    monkeypatch.setattr(sweeper, "fit_population", signalled)
    out = tmp_path / "s"
    assert cli.main(["sweep", *SMALL, "--out", str(out)]) == 130
    hint = f"the finished chunks are saved; continue with: jaxmlp sweep --out {out} --resume"
    assert capsys.readouterr().err == f"interrupted: {hint}\n"
    assert list(epochs) == [1]  # the second chunk returned nothing: it was stopped inside
    assert sorted(p.name for p in (out / "chunks").iterdir()) == ["00000.npz"]
    monkeypatch.setattr(sweeper, "fit_population", real)
    assert main_output(["sweep", "--out", str(out), "--resume"])[0] == 0
    whole = tmp_path / "whole"
    assert main_output(["sweep", *SMALL, "--out", str(whole)])[0] == 0
    assert results(out / "members.jsonl") == results(whole / "members.jsonl")


# `python -m jaxmlp sweep ...` sending itself SIGTERM as its second (last) chunk begins.
TERM = """
import os, runpy, signal, sys
from jaxmlp.run import sweeper
real, calls = sweeper._fit_chunk, []
def fit_chunk(*args):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGTERM)
    return real(*args)
sweeper._fit_chunk = fit_chunk
sys.argv = ["jaxmlp", *sys.argv[1:]]
runpy.run_module("jaxmlp", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow
def test_sigterm_stops_a_sweep_as_it_stops_a_run(tmp_path):
    """A sweep had no SIGTERM handler: it died by the signal (status -15) with its .lock left,
    where train saves and exits 143."""
    out = tmp_path / "s"
    argv = [sys.executable, "-c", TERM, "sweep", *SMALL, "--out", str(out)]
    process = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    hint = f"the finished chunks are saved; continue with: jaxmlp sweep --out {out} --resume"
    assert (process.returncode, process.stderr) == (143, f"interrupted: {hint}\n")
    # the chunk under way when the signal came is abandoned, unsaved; the report is not written
    assert sorted(p.name for p in (out / "chunks").iterdir()) == ["00000.npz"]
    assert not (out / folder.LOCK).exists() and not (out / "summary.json").exists()


def test_a_resumed_sweep_removes_the_temporaries_of_a_killed_write(two_sweeps, tmp_path):
    """Only train removed them (folder.remove_temporaries): a resumed sweep left them."""
    out = copy_of(two_sweeps[0], tmp_path)
    left = [out / ".members.jsonl.abcd1234.tmp", out / "chunks" / ".00001.npz.x_y2z9ab.tmp"]
    left += [out / ".summary.json.12345678.tmp"]
    for path in left:
        path.write_bytes(b"half")
    (out / "notes.tmp").write_text("mine")
    assert main_output(["sweep", "--out", str(out), "--resume"])[0] == 0
    assert not any(path.exists() for path in left)
    assert (out / "notes.tmp").read_text() == "mine"


@pytest.mark.parametrize(
    "seeds, folds, over",
    [(3, [None], "over seeds"), (1, [0, 1, 2], "over folds"), (2, [0, 1], "over seeds and folds")],
)
def test_the_figures_titles_say_what_the_bands_are_over(monkeypatch, tmp_path, seeds, folds, over):
    """A sweep of one seed and 3 folds titled its figures "median, 10-90 % over seeds" and
    "95 % Wilson interval over seeds": its members differ by fold only."""
    from jaxmlp.run import sweep_figures, sweep_report

    titles = []

    class Axes:
        def __getattr__(self, name):
            return lambda *a, **k: None

        def plot(self, *a, **k):
            return (type("Line", (), {"get_color": lambda self: "C0"})(),)

        def set_title(self, title):
            titles.append(title)

        transAxes = None

    monkeypatch.setattr(sweep_figures.plots, "_figure", lambda: (None, Axes()))
    monkeypatch.setattr(sweep_figures, "_finish", lambda fig, ax, path: path)
    records = [
        {"lr": lr, "seed": s, "fold": f, "diverged_epoch": None, "stopped_epoch": None}
        | {"success": s == 0, "train_loss": 0.1 + s, "val_loss": 0.2}
        for lr in (0.1, 1.0)
        for s in range(seeds)
        for f in folds
    ]
    grid = {"lr": [0.1, 1.0]}
    rows = sweep_report.rows(records, grid)
    curves = {"epoch": np.array([1, 2]), "train_loss": np.ones((len(records), 2))}
    sweep_figures.draw(records, rows, grid, curves, tmp_path)
    assert len(titles) == 3
    assert titles[0] == f"final train loss: median, 10-90 % {over}"
    assert titles[1] == f"success rate, 95 % Wilson interval {over}"
