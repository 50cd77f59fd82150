"""The ``jaxmlp`` command (issue 6): bare ``jaxmlp train`` on the embedded digits, the run folder
it writes, ``evaluate``, ``predict``, ``datasets``, ``gradcheck``, resuming, progress output.

One real subprocess trains digits with the defaults; the rest call ``cli.main`` in-process on
tiny data sets, which is much faster and sees the same code.
"""

import ast
import csv
import io
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxmlp import MLP, activations, checkpoint, cli, datasets, gradient_check, progress, run

SUMMARY_KEYS = {
    "train_loss", "train_accuracy", "test_loss", "test_accuracy", "epochs", "steps",
    "wall_seconds", "examples_per_second", "devices", "params_sha256", "gradcheck",
}  # fmt: skip
METRIC_KEYS = {"epoch", "train_loss", "seconds", "train_accuracy", "val_loss", "val_accuracy"}


def jaxmlp(*args, cwd, timeout=600):
    """``python -m jaxmlp ARGS`` in a subprocess: (exit status, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "jaxmlp", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Bare ``jaxmlp train --no-progress`` (the defaults: digits, 64-256-10 relu, Adam 1e-3,
    batch 32, 40 epochs, 10 % validation); the run goes to the default folder runs/<time>-digits."""
    cwd = tmp_path_factory.mktemp("bare")
    start = time.perf_counter()
    status, out, err = jaxmlp("train", "--no-progress", cwd=cwd)
    seconds = time.perf_counter() - start
    assert status == 0, err
    (folder,) = (cwd / "runs").iterdir()
    return folder, out, err, seconds


@pytest.mark.slow
def test_bare_train_reaches_97_percent_on_digits(digits_run):
    folder, out, err, seconds = digits_run
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.97, summary
    assert set(summary) >= SUMMARY_KEYS
    assert summary["epochs"] == 40 and summary["steps"] == 40 * 41  # 1295 = 40 x 32 + 15
    assert summary["gradcheck"]["ok"] and summary["gradcheck"]["max_rel_err"] <= 1e-10
    assert summary["devices"] == len(jax.devices())
    assert summary["device_kind"] == jax.devices()[0].device_kind
    print(f"bare jaxmlp train: {seconds:.1f} s, test accuracy {summary['test_accuracy']:.4f}")
    # stdout: the banner and the closing line, no progress bar (not a terminal); stderr: nothing
    assert len(out.splitlines()) == 2 and "digits" in out and "test_accuracy" in out
    assert err == ""


@pytest.mark.parametrize("slip", [0.0, 0.01])
@pytest.mark.slow
def test_the_summarys_gradient_check_catches_a_wrong_derivative(slip):
    """The summary's check (jaxmlp.gradcheck on the trained net, float64), and its mutation twin:
    a registered activation whose derivative is 1 % off must fail it."""
    name = f"softsign_slip_{slip}"
    activations.register(name, lambda z: z / (1 + abs(z)), lambda z: (1 + slip) / (1 + abs(z)) ** 2)
    try:
        net = MLP((4, 6, 3), name, "softmax", "cross_entropy")
        x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
        found = run.gradcheck(net, net.init(jax.random.key(0)), x, np.arange(32) % 3)
    finally:
        activations.unregister(name)
    assert found["dtype"] == "float64" and found["batch"] == 32
    if slip:
        assert not found["ok"] and found["max_rel_err"] > 1e-4, found
    else:
        assert found["ok"] and found["max_rel_err"] <= 1e-10, found


def test_the_run_folder_holds_every_file(digits_run):
    folder = digits_run[0]
    assert folder.name.endswith("-digits")
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "metrics.jsonl", "summary.json", "checkpoint.npz"} <= names
    assert {"loss.png", "accuracy.png"} <= names and "boundary.png" not in names  # 64-D
    for png in ("loss.png", "accuracy.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = lines(folder / "metrics.jsonl")
    assert [r["epoch"] for r in records] == list(range(1, 41))
    assert all(set(r) >= METRIC_KEYS and r["val_accuracy"] is not None for r in records)
    config = json.loads((folder / "config.json").read_text())
    assert config["settings"]["hidden"] == [256] and config["settings"]["val_fraction"] == 0.1
    assert config["data"]["n_train"] == 1295 and config["data"]["standardized"] is False
    assert config["command"].startswith("jaxmlp train --data digits")


def test_params_sha256_is_that_of_the_checkpoint(digits_run):
    folder = digits_run[0]
    summary = json.loads((folder / "summary.json").read_text())
    ckpt = checkpoint.load(folder / "checkpoint.npz")
    assert ckpt.state.epoch == 40
    assert checkpoint.params_sha256(ckpt.final_params) == summary["params_sha256"]


@pytest.mark.slow
def test_evaluate_reproduces_the_summary(digits_run, capsys):
    folder = digits_run[0]
    summary = json.loads((folder / "summary.json").read_text())
    assert cli.main(["evaluate", str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"train", "val", "test", "checkpoint"}
    facts = {"epoch": summary["epochs"], "epochs": summary["epochs_planned"], "status": "finished",
             "early_stopped": False, "params_epoch": summary["epochs"]}  # fmt: skip
    assert result.pop("checkpoint") == facts
    assert result["test"]["n"] == 359
    for split in result:
        assert result[split]["accuracy"] == pytest.approx(summary[f"{split}_accuracy"], abs=1e-12)
        assert result[split]["loss"] == pytest.approx(summary[f"{split}_loss"], rel=1e-6)
    assert cli.main(["evaluate", str(folder)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["split", "n", "loss", "accuracy"]
    assert table[-1].split()[0:2] == ["test", "359"]


@pytest.mark.slow
def test_predict_gives_the_nets_labels(digits_run, tmp_path, capsys):
    folder = digits_run[0]
    ds = datasets.load("digits", standardize=False)
    x = ds.x_test[:7]
    path = tmp_path / "x.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"column_{i}" for i in range(64)])  # digits names no columns
        writer.writerows(x.tolist())
    ckpt = checkpoint.load(folder / "checkpoint.npz")
    want = np.asarray(ckpt.net.predict(ckpt.final_params, x))

    assert cli.main(["predict", str(folder), "--input", str(path)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["prediction"] + [f"p_{k}" for k in range(10)]
    assert [int(r[0]) for r in rows[1:]] == want.tolist()
    probabilities = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-4)

    npz_in, npz_out = tmp_path / "x.npz", tmp_path / "p.npz"
    np.savez(npz_in, x=x)
    assert cli.main(["predict", str(folder), "--input", str(npz_in), "--output", str(npz_out)]) == 0
    with np.load(npz_out, allow_pickle=False) as saved:
        assert saved["prediction"].astype(int).tolist() == want.tolist()
        assert saved["y"].shape == (7, 10)


# -- small runs in-process -------------------------------------------------------------------------


def train(tmp_path, *args, name="run"):
    out = tmp_path / name
    status = cli.main(["train", "--no-progress", "--out", str(out), *map(str, args)])
    return status, out


@pytest.mark.slow
def test_a_run_on_two_dimensional_data_and_its_rerun(tmp_path, capsys):
    """Moons with a flag of each kind; the command in config.json reruns it to the same bits."""
    status, out = train(
        tmp_path, "--data", "moons", "--hidden", "4,3", "--activation", "tanh,elu",
        "--optimizer", "momentum", "--lr", "0.05", "--batch-size", "full", "--epochs", "3",
    )  # fmt: skip
    assert status == 0 and capsys.readouterr().err == ""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["figures"] == ["loss.png", "accuracy.png", "boundary.png"]
    assert summary["steps"] == 3 and summary["gradcheck"]["ok"]
    assert (out / "boundary.png").stat().st_size > 1000
    config = json.loads((out / "config.json").read_text())
    settings = config["settings"]
    assert (settings["output"], settings["loss"], settings["standardize"]) == (
        "sigmoid",
        "bce",
        "yes",
    )
    command = shlex.split(config["command"])
    assert command[:2] == ["jaxmlp", "train"] and command[-2:] == ["--out", str(out)]
    again = tmp_path / "again"
    assert cli.main([*command[1:-1], str(again), "--no-progress"]) == 0
    rerun = json.loads((again / "summary.json").read_text())
    assert rerun["params_sha256"] == summary["params_sha256"]
    assert json.loads((again / "config.json").read_text())["settings"] == settings


@pytest.mark.slow
def test_tiny_data_and_resuming_a_finished_run(tmp_path):
    """XOR (4 examples): no validation split, no test keys; --resume of the finished run
    trains nothing and rewrites the same summary."""
    status, out = train(tmp_path, "--data", "xor", "--hidden", "3", "--epochs", "2")
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "test_loss" not in summary and "val_loss" not in summary
    assert json.loads((out / "config.json").read_text())["settings"]["val_fraction"] == 0.0
    assert all(r["val_loss"] is None for r in lines(out / "metrics.jsonl"))
    before = (out / "checkpoint.npz").read_bytes()
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert (out / "checkpoint.npz").read_bytes() == before
    again = json.loads((out / "summary.json").read_text())
    assert again["params_sha256"] == summary["params_sha256"]
    assert len(lines(out / "metrics.jsonl")) == 2


@pytest.mark.slow
def test_regression_run_with_a_progress_bar(tmp_path, capsys):
    summary = run.train(
        {"data": "sine", "hidden": [4], "epochs": 3}, tmp_path / "r", progress="bar"
    )
    shown = capsys.readouterr().out
    assert "epoch 3/3" in shown and "loss " in shown and "compiling" in shown  # tqdm's bar
    settings = json.loads((tmp_path / "r" / "config.json").read_text())["settings"]
    assert (settings["output"], settings["loss"]) == ("identity", "sse")
    assert "test_accuracy" not in summary and summary["figures"] == ["loss.png"]


def test_plain_progress_lines_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm not installed
    progress = run.Progress(total=2, initial=0, mode="bar")
    for epoch in (1, 2):
        progress.update({"epoch": epoch, "train_loss": 0.5 / epoch, "val_loss": None})
    progress.close()
    shown = [line.rsplit("  (", 1)[0] for line in capsys.readouterr().out.splitlines()]
    assert shown == ["epoch 0/2  compiling...", "epoch 1/2  loss 0.5", "epoch 2/2  loss 0.25"]
    off = run.Progress(total=2, initial=0, mode=False)
    off.update({"epoch": 1, "train_loss": 0.5})
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("mode", ["bar", "lines"])
def test_a_progress_display_whose_reader_has_gone_goes_quiet(mode, capsys, monkeypatch):
    """A display whose stream's reader has gone (EPIPE): the BrokenPipeError of its first write
    (tqdm's bar, a plain line) went through fit's callback and stopped the run. Now the display
    goes quiet, saying so once on stderr."""

    class Gone(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(progress, "QUIETED", [])
    shown = run.Progress(total=2, initial=0, mode=mode, stream=Gone())
    for epoch in (1, 2):
        shown.update({"epoch": epoch, "train_loss": 0.5})
    shown.close()
    err = capsys.readouterr().err
    assert err.startswith("warning: the progress output was closed") and err.count("\n") == 1


def test_datasets_lists_every_name(capsys):
    assert cli.main(["datasets"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:6] == ["name", "task", "train", "test", "features", "classes"]
    assert [row.split()[0] for row in table[1:]] == list(datasets.names())
    digits = next(row.split() for row in table if row.startswith("digits"))
    assert digits[1:6] == ["multiclass", "1438", "359", "64", "10"]


def test_gradcheck_prints_the_matrix_and_its_verdict(tmp_path, capsys, monkeypatch):
    """The subcommand's wiring, on a stand-in report (the real matrix takes minutes; its own
    tests cover it): the table, the JSON file, exit 0 only if every cell passes."""
    cell = gradient_check.CellCheck(
        activation="tanh", output="softmax", loss="cross_entropy", depth=1,
        rel_err_autodiff=1e-16, rel_err_fd=1e-9, ok=True,
    )  # fmt: skip
    good = gradient_check.MatrixReport(
        rows=(cell, cell._replace(depth=2)), dtype="float64", seconds=0.1
    )
    asked = []
    monkeypatch.setattr(
        gradient_check, "gradcheck_matrix", lambda dtype: asked.append(dtype) or good
    )
    report = tmp_path / "gc.json"
    assert cli.main(["gradcheck", "--json", str(report)]) == 0
    assert cli.main(["gradcheck", "--dtype", "float32"]) == 0
    assert asked == ["float64", "float32"]
    assert "2 cells (float64), 0 failing" in capsys.readouterr().out
    assert json.loads(report.read_text()) == json.loads(json.dumps(good.to_dict()))

    bad = good._replace(rows=(cell._replace(ok=False), cell))
    monkeypatch.setattr(gradient_check, "gradcheck_matrix", lambda dtype: bad)
    assert cli.main(["gradcheck"]) == 1
    assert "1 failing" in capsys.readouterr().out


def test_gradcheck_curvature_asks_for_the_curvature_cells(capsys, monkeypatch):
    """``jaxmlp gradcheck --curvature`` asks the matrix for its curvature cells too (issue
    18); without the flag it does not (they take minutes)."""
    asked = []

    def matrix(dtype, **options):
        asked.append(options)
        return gradient_check.MatrixReport(rows=(), dtype=dtype, seconds=0.1)

    monkeypatch.setattr(gradient_check, "gradcheck_matrix", matrix)
    cli.main(["gradcheck", "--curvature"])
    cli.main(["gradcheck"])
    assert asked == [{"curvature": True}, {}]
    capsys.readouterr()


@pytest.mark.slow
def test_the_console_script_is_installed(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "jaxmlp")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("jaxmlp ")


@pytest.mark.slow
def test_the_readmes_python_example_runs_as_printed(capsys):
    """The README's API example, executed as it stands: it trains, and its comments hold."""
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert [(d["w"].shape, d["b"].shape) for d in scope["params"]] == [
        ((64, 128), (128,)), ((128, 10), (10,)),
    ]  # fmt: skip
    assert jax.tree.structure(scope["grads"]) == jax.tree.structure(scope["params"])
    assert scope["report"].ok
    printed = ast.literal_eval(capsys.readouterr().out.strip())
    assert set(printed) == {"loss", "accuracy"} and printed["accuracy"] >= 0.95, printed


@pytest.mark.parametrize("text", ["", " "])
def test_an_empty_hidden_is_refused_naming_none(text, fails, tmp_path):
    """Regression: --hidden '' was taken as 'none' (no hidden layer), as from an unset shell
    variable; 'none' says it."""
    argv = ["train", "--data", "xor", "--epochs", "1", "--no-progress", "--out", str(tmp_path)]
    err = fails([*argv, "--hidden", text])
    assert "such as 128,64 (or 'none' for no hidden layer), got" in err


@pytest.mark.parametrize("dtype", ["FLOAT32", "", "float64 ", "int32"])
def test_an_unknown_dtype_is_refused_naming_the_dtypes_before_the_data_are_read(
    dtype, fails, tmp_path
):
    """Regression: --dtype FLOAT32 (or '') exited 2 with numpy's "data type 'FLOAT32' not
    understood", naming no dtype jaxmlp takes, once the data had been read (all of
    Fashion-MNIST, for one). Refused with the dtypes, as the other settings, before."""
    missing = str(tmp_path / "missing.csv")  # read first, it would be named instead
    err = fails(["train", "--data", missing, "--dtype", dtype, "--out", str(tmp_path / "r")])
    assert f"Unknown dtype: {dtype!r}. It needs to be one of ['float32', 'float64', " in err


@pytest.mark.parametrize(
    "error",
    [
        jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 16000000 bytes."),
        MemoryError("Unable to allocate 14.9 GiB for an array with shape (2, 2000000000)"),
    ],
)
def test_a_network_or_batch_too_large_for_memory_is_one_line_not_a_traceback(
    error, monkeypatch, fails, tmp_path
):
    """Regression: jaxmlp train --hidden 2000000000 (a width MLP takes, < 2**31) ended in a
    traceback and exit 1: RESOURCE_EXHAUSTED from XLA, as jax raises it (in a 12 GB address
    space, for 16000000000 bytes). Exit 2, one line naming the allocation and the way on;
    another runtime error of XLA is no user error and still propagates."""

    raised = [error, jax.errors.JaxRuntimeError("INTERNAL: something else")]

    def train(*args, **kwargs):
        raise raised.pop(0)

    monkeypatch.setattr(run, "train", train)
    argv = ["train", "--data", "xor", "--hidden", "2000000000", "--out", str(tmp_path / "r")]
    err = fails(argv)
    assert err.startswith("error: out of memory: ") and "--hidden" in err
    assert str(error).rstrip(".") + "; a smaller network" in err
    with pytest.raises(jax.errors.JaxRuntimeError, match="INTERNAL"):
        cli.main(argv)


def test_gradcheck_json_is_checked_before_the_matrix_and_never_over_a_runs_file(
    tmp_path, fails, monkeypatch
):
    """``gradcheck --json`` named a run's own file (config.json) and wrote the report over it,
    exit 0, the run destroyed; a folder, or a path in no folder, failed only after the matrix
    had run (minutes), naming a temporary file. Now each is refused before the matrix runs,
    and a run's file named in another case (the same file on a case-insensitive file system)."""
    asked = []
    monkeypatch.setattr(gradient_check, "gradcheck_matrix", lambda dtype: asked.append(dtype))
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text('{"settings": {}}')
    for name, problem in [
        (folder / "config.json", "is a file of the jaxmlp run or sweep in"),
        (folder / "Config.JSON", "is a file of the jaxmlp run or sweep in"),  # on macOS: it
        (tmp_path, "is a folder; name a file in it"),
        (tmp_path / "none" / "gc.json", "no folder"),
    ]:
        said = fails(["gradcheck", "--json", str(name)])
        assert re.search(f"--json {re.escape(str(name))}: {problem}", said), said
    assert asked == [] and (folder / "config.json").read_text() == '{"settings": {}}'


def test_gradcheck_json_given_empty_is_refused_not_ignored(fails, monkeypatch):
    """Regression: ``gradcheck --json ''`` (an unset shell variable) ran the matrix, exited 0
    and wrote no report: the empty path was taken for no --json at all. It names the current
    folder, refused as a folder is, before the matrix runs."""
    asked = []
    monkeypatch.setattr(gradient_check, "gradcheck_matrix", lambda dtype: asked.append(dtype))
    assert "--json .: is a folder; name a file in it" in fails(["gradcheck", "--json", ""])
    assert asked == []


@pytest.mark.parametrize(
    "flag, command",
    [("--chunk", "train"), ("--val", "train"), ("--check", "train"), ("--fold", "sweep")],
)
def test_an_abbreviated_flag_is_refused_not_read_as_the_longer_one(flag, command, fails, tmp_path):
    """Regression: argparse took any unique prefix, so ``train --chunk 4`` (sweep's --chunk,
    on the wrong command) ran as ``--chunk-steps 4`` and ``--val 0.5`` as --val-fraction, exit
    0: a flag the user did not write. Only whole flag names are read."""
    err = fails([command, "--data", "xor", flag, "4", "--out", str(tmp_path / "r")])
    assert "unrecognized arguments" in err and flag in err


@pytest.mark.parametrize(
    "command, kept",
    [("train", "its checkpoint"), ("sweep", "its finished chunks")],
)
def test_a_resume_interrupted_before_it_began_says_the_folder_is_kept(
    command, kept, tmp_path, capsys, monkeypatch
):
    """A signal pending when train or sweep --resume started said "interrupted: nothing was
    saved", as if the run were lost; its folder is as it was, and resumes."""
    from jaxmlp import interrupt

    out = tmp_path / "run folder"
    monkeypatch.setattr(interrupt, "PENDING", [2])  # SIGINT, received during the imports
    assert cli.main([command, "--out", str(out), "--resume"]) == 130
    err = capsys.readouterr().err
    assert err == (
        f"interrupted before the {command} resumed: nothing new was saved, and {out} is as "
        f"it was ({kept} kept); continue with: jaxmlp {command} --out '{out}' --resume\n"
    )
    monkeypatch.setattr(interrupt, "PENDING", [2])
    assert cli.main([command, "--out", str(out)]) == 130  # a new one: nothing was saved
    assert capsys.readouterr().err == "interrupted: nothing was saved\n"
