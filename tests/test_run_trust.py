"""A run folder is read back only as it was written (issue runf): an edited config.json, other
data, an edited standardiser, a checkpoint of a longer run, a class list of the wrong length or
a damaged metrics.jsonl is refused (exit 2, one line) instead of giving other answers with exit
0; settings only ``fit`` checked are refused before the folder is written. Each test failed on
the code before its fix."""

import hashlib
import json
import pathlib
import shutil
import struct
import sys
import warnings

import jax
import numpy as np
import pytest

from jaxmlp import MLP, checkpoint, cli, load_run, save_run
from jaxmlp.run import data, folder
from jaxmlp.run.settings import LOCAL

CSV = ["--hidden", "8", "--epochs", "3", "--no-progress"]


def write_csv(path, rows=60, seed=0, labels=True):
    """Three features on different scales and (``labels``) the string labels a, b, c."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)) * [1, 10, 100] + [0, 5, 1000]
    y = (x[:, 0] + x[:, 1] / 10 > 0.5).astype(int) + (x[:, 2] > 1000)
    lines = ["f1,f2,f3" + ",label" * labels] + [
        f"{a:.4f},{b:.4f},{c:.4f}" + f",{'bac'[k]}" * labels
        for (a, b, c), k in zip(x, y, strict=True)
    ]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    here = tmp_path_factory.mktemp("trust")
    data = write_csv(here / "tr.csv")
    write_csv(here / "pr.csv", rows=10, labels=False)
    out = here / "A"
    assert cli.main(["train", "--data", str(data), *CSV, "--out", str(out)]) == 0
    return out


def copy_run(run, tmp_path) -> pathlib.Path:
    """A copy of ``run`` in ``tmp_path``, with the inputs ``pr.csv`` beside it."""
    shutil.copy(run.parent / "pr.csv", tmp_path / "pr.csv")
    return pathlib.Path(shutil.copytree(run, tmp_path / "run"))


def edit_config(out, change):
    config = json.loads((out / "config.json").read_text())
    change(config)
    (out / "config.json").write_text(json.dumps(config, indent=2))


def files_of(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def predict(out, capsys):
    capsys.readouterr()
    status = cli.main(["predict", str(out), "--input", str(out.parent / "pr.csv")])
    captured = capsys.readouterr()
    print(captured.err, end="", file=sys.stderr)  # for the caller's one_error
    return status, captured.out


# -- 1. config.json is checked against its run_id ---------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["data"].update(classes=c["data"]["classes"][::-1]),
        lambda c: c["data"].update(feature_names=c["data"]["feature_names"][::-1]),
        lambda c: c["data"].update(label_name="f1"),
        lambda c: c["data"].update(task="binary"),
        lambda c: c["settings"].update(standardize="no"),
    ],
    ids=["classes", "feature_names", "label_name", "task", "standardize"],
)
def test_an_edited_config_is_refused_by_predict_evaluate_and_load_run(
    change, csv_run, tmp_path, capsys, one_error
):
    out = copy_run(csv_run, tmp_path)
    edit_config(out, change)
    assert cli.main(["predict", str(out), "--input", str(csv_run.parent / "pr.csv")]) == 2
    one_error("config.json", "run_id")
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("config.json", "run_id")
    with pytest.raises(ValueError, match="run_id"):
        load_run(out)


def test_a_checkpoint_of_another_saved_model_is_refused(tmp_path, capsys, one_error):
    # save_run's run_id names the data and dtype only, so two models saved for the same data
    # shared it: either's checkpoint.npz was used silently in the other's folder, a 2-7-1 relu
    # net under a config.json whose model says 2-3-1 tanh, or another model's weights
    small, wide = MLP((2, 3, 1), "tanh", "sigmoid", "bce"), MLP((2, 7, 1), "relu", "sigmoid", "bce")
    a = save_run(tmp_path / "A", small, small.init(jax.random.key(0)))
    b = save_run(tmp_path / "B", wide, wide.init(jax.random.key(1)))
    c = save_run(tmp_path / "C", small, small.init(jax.random.key(2)))
    assert load_run(a).net == small and load_run(c).net == small
    (a / "checkpoint.npz").write_bytes((b / "checkpoint.npz").read_bytes())
    with pytest.raises(ValueError, match=r"A/config.json: its model has sizes \[2, 3, 1\].*"
                       r"checkpoint's is \[2, 7, 1\]"):  # fmt: skip
        load_run(a)
    d = save_run(tmp_path / "D", small, small.init(jax.random.key(3)))  # the same net
    (c / "checkpoint.npz").write_bytes((d / "checkpoint.npz").read_bytes())
    with pytest.raises(ValueError, match=r"C/config.json: its params_sha256 .* checkpoint"):
        load_run(c)
    (tmp_path / "x.csv").write_text("column_0,column_1\n0,1\n")
    assert cli.main(["predict", str(c), "--input", str(tmp_path / "x.csv")]) == 2
    one_error("params_sha256")


def test_an_edited_model_record_is_refused(csv_run, tmp_path, capsys, one_error):
    # config.json's model (the architecture a reader sees) went unchecked: edited to 3-16-3
    # sigmoid, evaluate and predict went on with the checkpoint's 3-8-3 relu net
    out = copy_run(csv_run, tmp_path)
    edit_config(out, lambda c: c["model"].update(sizes=[3, 16, 3], activation="sigmoid"))
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("config.json: its model has sizes [3, 16, 3]", "[3, 8, 3]")


def test_an_edited_learning_rate_is_not_resumed(csv_run, tmp_path, capsys, one_error):
    out = copy_run(csv_run, tmp_path)
    edit_config(out, lambda c: c["settings"].update(lr=0.5))
    before = files_of(out)
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "5", "--no-progress"]) == 2
    one_error("config.json", "run_id")
    assert files_of(out) == before


def test_a_config_with_a_key_twice_is_refused(csv_run, tmp_path, capsys, one_error):
    """Regression: Python's json keeps a repeated key's last value. config.json edited to
    ``"lr": 0.5, "lr": <the run's>`` matched its run_id and was resumed and evaluated, while
    every reader that keeps the first (and a person) saw a learning rate of 0.5: jaxmlp never
    writes a key twice, so such a file is refused, naming the key."""
    out = copy_run(csv_run, tmp_path)
    path = out / "config.json"
    text = path.read_text()
    path.write_text(text.replace('"lr": ', '"lr": 0.5, "lr": ', 1))  # the settings' lr
    before = files_of(out)
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("config.json: holds the key 'lr' twice", "edited")
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "5", "--no-progress"]) == 2
    one_error("config.json: holds the key 'lr' twice", "edited")
    assert files_of(out) == before
    with pytest.raises(ValueError, match="'lr' twice"):
        load_run(out)


def test_a_config_without_the_run_id_of_its_checkpoint_is_refused(
    csv_run, tmp_path, capsys, one_error
):
    out = copy_run(csv_run, tmp_path)
    edit_config(out, lambda c: c.pop("run_id"))
    assert predict(out, capsys)[0] == 2
    one_error("run id")


def test_init_from_a_run_with_an_edited_config_is_refused(csv_run, tmp_path, capsys, one_error):
    out = copy_run(csv_run, tmp_path)
    edit_config(out, lambda c: c["settings"].update(lr=0.5))
    data = str(csv_run.parent / "tr.csv")
    args = ["train", "--data", data, *CSV, "--init-from", str(out), "--out", str(tmp_path / "B")]
    assert cli.main(args) == 2
    one_error("config.json", "run_id")


def old_run_id(config) -> str:
    """The run_id rule before data facts joined it: settings (less the local ones and epochs)
    and the data's SHA-256."""
    fixed = {k: v for k, v in config["settings"].items() if k not in (*LOCAL, "epochs")}
    text = folder.to_json({"settings": fixed, "data_sha256": config["data"]["sha256"]}, None, True)
    return hashlib.sha256(text.encode()).hexdigest()


def make_old(out):
    """``out`` as the code before this fix wrote it: run_id by the old rule, in config.json and
    its checkpoint, no digest of the standardiser, a version 2 checkpoint."""
    config = json.loads((out / "config.json").read_text())
    config["run_id"] = old_run_id(config)
    config.pop("checkpoint_version")  # nor the format of its checkpoints (a version 2 one)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    ckpt = checkpoint.load(out / "checkpoint.npz")
    meta = {k: v for k, v in ckpt.meta["extra"].items() if k != "standardizer_sha256"}
    checkpoint.save(out / "checkpoint.npz", ckpt.state, net=ckpt.net, optimizer=ckpt.optimizer,
                    config=ckpt.config, extra=ckpt.extra, extra_meta=meta | {"run_id": config[
                        "run_id"]}, run_id=config["run_id"])  # fmt: skip
    raw = dict(np.load(out / "checkpoint.npz"))
    meta = json.loads(raw["__jaxmlp__"].tobytes())
    meta.pop("extra_sha256", None)
    meta.pop("state_sha256", None)  # the code before this fix wrote no digest of the state
    meta["version"] = 2
    raw["__jaxmlp__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(out / "checkpoint.npz", **raw)


@pytest.mark.slow
def test_a_run_folder_of_the_old_run_id_rule_still_predicts_evaluates_and_resumes(
    csv_run, tmp_path, capsys, one_error
):
    out = copy_run(csv_run, tmp_path)
    status, expected = predict(csv_run, capsys)
    assert status == 0
    make_old(out)
    assert predict(out, capsys) == (0, expected)
    assert cli.main(["evaluate", str(out)]) == 0
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "4", "--no-progress"]) == 0
    assert cli.main(["evaluate", str(out)]) == 0
    edit_config(out, lambda c: c["settings"].update(lr=0.5))  # the old rule covers settings
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("run_id")


# -- 2. evaluate checks the data's SHA-256 ----------------------------------------------------


def write_idx(folder, seed):
    """Fashion-MNIST-like IDX files: 120 training and 40 test images of random pixels."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for part, n in (("train", 120), ("t10k", 40)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60 + labels[:, None, None] * 19).astype(np.uint8)
        for name, a in (
            (f"{part}-images-idx3-ubyte", images),
            (f"{part}-labels-idx1-ubyte", labels),
        ):
            head = b"\0\0\x08" + bytes([a.ndim]) + b"".join(struct.pack(">I", s) for s in a.shape)
            (folder / name).write_bytes(head + a.tobytes())


@pytest.mark.slow
def test_evaluate_refuses_other_data_than_the_run_trained_on(tmp_path, capsys, one_error):
    idx, out = tmp_path / "idx", tmp_path / "F"
    write_idx(idx, 0)
    args = ["--data", "fashion-mnist", "--data-dir", str(idx), "--hidden", "4", "--epochs", "1"]
    assert cli.main(["train", *args, "--no-progress", "--out", str(out)]) == 0
    assert cli.main(["evaluate", str(out)]) == 0
    write_idx(idx, 1)
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("SHA-256")


@pytest.mark.parametrize(
    ("data_dir", "says"),
    [
        ("/nonexistent/idx", "data_dir '/nonexistent/idx' is not a folder"),
        (5, "data_dir must be a folder path or None, got 5"),
    ],
    ids=["gone", "number"],
)
def test_an_edited_data_dir_is_named_with_its_file(data_dir, says, tmp_path, capsys, one_error):
    """data_dir, outside the run_id (the data may move), edited to a folder that is not there
    fell back silently to $JAXMLP_DATA or the Debian copy and was refused as other data ("their
    SHA-256 changed"); edited to a number, "expected str, bytes or os.PathLike object"."""
    idx, out = tmp_path / "idx", tmp_path / "F"
    write_idx(idx, 0)
    args = ["--data", "fashion-mnist", "--data-dir", str(idx), "--hidden", "4", "--epochs", "1"]
    assert cli.main(["train", *args, "--no-progress", "--out", str(out)]) == 0
    edit_config(out, lambda c: c["settings"].update(data_dir=data_dir))
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 2
    one_error(f"{out / 'config.json'}: ", says)
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 2
    one_error(f"{out / 'config.json'}: ", says)
    if data_dir == 5:  # damage: no flag repairs it
        return
    assert cli.main(["evaluate", str(out), "--data-dir", str(idx)]) == 0  # where the data are now
    resumed = ["--resume", "--epochs", "2", "--data-dir", str(idx), "--no-progress"]
    assert cli.main(["train", "--out", str(out), *resumed]) == 0


@pytest.mark.parametrize("where", ["gone", "empty"])
def test_a_data_dir_given_that_is_not_there_or_lacks_the_files_is_refused(
    where, tmp_path, capsys, one_error, monkeypatch
):
    """--data-dir /does/not/exist (or a folder without the IDX files) fell back silently to
    $JAXMLP_DATA or the Debian copy: a new run trained on data from elsewhere with exit 0, and
    evaluate --data-dir read its run's data from there. A folder the user names is the only
    place looked; config.json's data_dir keeps naming config.json."""
    idx, elsewhere, out = tmp_path / "idx", tmp_path / "env", tmp_path / "F"
    write_idx(idx, 0)
    write_idx(elsewhere, 0)  # what the old search fell back to
    monkeypatch.setenv("JAXMLP_DATA", str(elsewhere))
    named = tmp_path / "does" / "not" / "exist"
    if where == "empty":
        named.mkdir(parents=True)
    args = ["--data", "fashion-mnist", "--hidden", "4", "--epochs", "1", "--no-progress"]
    capsys.readouterr()
    assert cli.main(["train", *args, "--data-dir", str(named), "--out", str(out)]) == 2
    one_error(f"data_dir {str(named)!r}", "train-images-idx3-ubyte")
    assert not out.exists()
    assert cli.main(["train", *args, "--data-dir", str(idx), "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--data-dir", str(named)]) == 2
    one_error(str(named))
    edit_config(out, lambda c: c["settings"].update(data_dir=str(named)))
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 2
    one_error(str(named), *([f"{out / 'config.json'}: "] if where == "gone" else []))


# -- 3. the standardiser has a digest ----------------------------------------------------------


def test_an_edited_standardiser_is_refused(csv_run, tmp_path, capsys, one_error):
    out = copy_run(csv_run, tmp_path)
    raw = dict(np.load(out / "checkpoint.npz"))
    raw["extra/mean"] = raw["extra/mean"] + 1
    np.savez(out / "checkpoint.npz", **raw)
    assert predict(out, capsys)[0] == 2
    one_error("checkpoint.npz", "extra")
    with pytest.raises(ValueError, match="extra"):
        checkpoint.load(out / "checkpoint.npz")


# -- 4. a checkpoint past the run's length -----------------------------------------------------


@pytest.mark.slow
def test_a_checkpoint_of_a_longer_run_is_refused(csv_run, tmp_path, capsys, one_error):
    longer = tmp_path / "L"
    data = str(csv_run.parent / "tr.csv")
    args = ["--data", data, "--hidden", "8", "--epochs", "5", "--no-progress"]
    assert cli.main(["train", *args, "--out", str(longer)]) == 0
    out = copy_run(csv_run, tmp_path)
    shutil.copy(longer / "checkpoint.npz", out / "checkpoint.npz")
    capsys.readouterr()
    assert predict(out, capsys)[0] == 2
    one_error("epoch 5 is past")
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 2
    one_error("epoch 5 is past")


# -- 5. a class list of the wrong length -------------------------------------------------------


def test_a_class_list_of_the_wrong_length_is_refused(tmp_path):
    net = MLP((2, 4, 3), "tanh", "softmax", "cross_entropy")
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match="2 class names.*3"):
        save_run(tmp_path / "a", net, params, classes=["x", "y"])
    out = save_run(tmp_path / "b", net, params, classes=["x", "y", "z"])
    # as an older save_run wrote it (no run_id), with one class name too few
    ckpt = checkpoint.load(out / "checkpoint.npz")
    checkpoint.save(out / "checkpoint.npz", ckpt.state, net=ckpt.net, optimizer=ckpt.optimizer,
                    config=ckpt.config, extra=ckpt.extra)  # fmt: skip
    edit_config(out, lambda c: (c.pop("run_id", None), c["data"].update(classes=["x", "y"])))
    with pytest.raises(ValueError, match="2 class names.*3"):
        load_run(out)


# -- 6. settings only fit checked are refused before anything is written -----------------------


@pytest.mark.parametrize(
    "flags",
    [
        ["--lr", "1e300"],
        ["--weight-decay", "1e300"],
        ["--clip-norm", "1e-50"],
        ["--epochs", "99999999999999"],
        ["--optimizer", "lm"],  # a classifier's cross-entropy: lm needs sse or mse
        ["--optimizer", "lbfgs", "--batch-size", "8"],  # full-batch solvers
        ["--optimizer", "cg", "--dropout", "0.5"],
    ],  # fmt: skip
    ids=["lr", "weight_decay", "clip_norm", "epochs", "lm_loss", "lbfgs_batches", "cg_dropout"],
)
def test_settings_fit_refuses_leave_no_run_folder(flags, csv_run, tmp_path, capsys, one_error):
    out, data = tmp_path / "new", str(csv_run.parent / "tr.csv")
    args = ["train", "--data", data, "--hidden", "8", "--epochs", "1", "--no-progress"]
    assert cli.main([*args, *flags, "--out", str(out)]) == 2
    one_error()
    assert not out.exists() or not any(out.iterdir())
    assert cli.main([*args, "--out", str(out)]) == 0  # the same --out then takes a run


def test_a_resume_too_long_for_fit_leaves_the_folder_as_it_was(
    csv_run, tmp_path, capsys, one_error
):
    out = copy_run(csv_run, tmp_path)
    before = files_of(out)
    args = ["train", "--out", str(out), "--resume", "--no-progress"]
    assert cli.main([*args, "--epochs", "99999999999999"]) == 2
    one_error("2**31")
    assert files_of(out) == before
    assert cli.main([*args, "--epochs", "4"]) == 0


# -- 7. a damaged metrics.jsonl -----------------------------------------------------------------


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda lines: lines[:1] + [lines[1][: len(lines[1]) // 2]] + lines[2:], "line 2"),
        (lambda lines: lines[:1] + lines[2:], "epoch 2"),
        (lambda lines: lines[:2], "epoch 3"),
    ],
    ids=["torn", "deleted", "cut"],
)
def test_a_damaged_metrics_log_is_refused_on_resume(
    damage, named, csv_run, tmp_path, capsys, one_error
):
    out = copy_run(csv_run, tmp_path)
    path = out / "metrics.jsonl"
    path.write_text("\n".join(damage(path.read_text().splitlines())) + "\n")
    before = files_of(out)
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "5", "--no-progress"]) == 2
    one_error("metrics.jsonl", named)
    assert files_of(out) == before


# -- minor --------------------------------------------------------------------------------------


def test_an_input_past_float32_is_named_so(tmp_path, capsys, one_error):
    data = write_csv(tmp_path / "tr.csv")
    out = tmp_path / "N"
    args = ["train", "--data", str(data), *CSV, "--standardize", "no", "--out", str(out)]
    assert cli.main(args) == 0
    (tmp_path / "big.csv").write_text("f1,f2,f3\n1,2,1e39\n")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning of an overflowing cast
        status = cli.main(["predict", str(out), "--input", str(tmp_path / "big.csv")])
    assert status == 2
    one_error("float32", "(0, 2)")


def test_the_resume_error_writes_yes_or_no(csv_run, tmp_path, capsys, one_error):
    out = copy_run(csv_run, tmp_path)
    args = ["train", "--out", str(out), "--resume", "--drop-last", "yes", "--no-progress"]
    assert cli.main(args) == 2
    one_error("--drop-last yes differs from the no")


# -- 8. a schedule that spans the run fixes its length ------------------------------------------


@pytest.mark.slow
def test_an_edited_epochs_of_a_cosine_run_is_not_resumed(tmp_path, capsys, one_error):
    """A hand edit of epochs in config.json resumed a cosine run with exit 0: its first epochs
    trained under a schedule over 2 epochs, the rest under one stretched over 4."""
    data = write_csv(tmp_path / "tr.csv")
    out = tmp_path / "C"
    args = ["--hidden", "4", "--epochs", "2", "--schedule", "cosine", "--no-progress"]
    assert cli.main(["train", "--data", str(data), *args, "--out", str(out)]) == 0
    edit_config(out, lambda c: c["settings"].update(epochs=4))
    before = files_of(out)
    capsys.readouterr()
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 2
    one_error("config.json: epochs 4", "a run of 2 epochs", "start a new run")
    assert files_of(out) == before
    edit_config(out, lambda c: c["settings"].update(epochs=2))  # restored: it resumes
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0


# -- full precision of the inputs ---------------------------------------------------------------

OLD_RUNS = pathlib.Path(__file__).parent / "data" / "old_runs"


def timestamp_csv(path, rows=166):
    """A timestamp column (~1.7e9 s: float32 keeps steps of 128 s), a noise column, labels."""
    rng = np.random.default_rng(0)
    t = 1.7e9 + np.sort(rng.choice(10**5, rows, replace=False))
    z = rng.normal(size=rows)
    body = (f"{a:.0f},{b:.6f},{'ab'[int(b > 0)]}" for a, b in zip(t, z, strict=True))
    lines = ["t,z,label", *body]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path, np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.slow
def test_a_run_keeps_the_precision_of_a_csv_column(dtype, tmp_path):
    # The features were cast to float32 before the standardiser saw them: a timestamp column
    # kept 6 of its 166 values in training, in the saved standardiser and in predict, exit 0.
    path, x = timestamp_csv(tmp_path / "t.csv")
    out = tmp_path / "run"
    args = ["train", "--data", str(path), "--val-fraction", "0", "--dtype", dtype]
    assert cli.main([*args, *CSV, "--out", str(out)]) == 0
    settings = folder.read_config(out)["settings"]
    with jax.enable_x64(dtype == "float64"):
        ds, _ = data.load_data(settings)
    assert ds.x_train.dtype == dtype
    assert len(np.unique(ds.x_train[:, 0])) == len(x)
    model = load_run(out)
    seen = model.inputs(x)
    assert seen.dtype == dtype
    np.testing.assert_array_equal(seen, ds.x_train)  # predict standardises as training did
    assert len(np.unique(seen[:, 0])) == len(x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.slow
def test_a_folder_written_before_full_precision_resumes_and_evaluates(dtype, tmp_path, capsys):
    # Written by jaxmlp 380a448 (tests/data/old_runs/README.md): its inputs were cast to
    # float32 first; its data, checked by their SHA-256, must be rebuilt by that rule.
    out = pathlib.Path(shutil.copytree(OLD_RUNS / f"gaussians_{dtype}", tmp_path / "old"))
    summary = json.loads((out / "summary.json").read_text())
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    # the loss to its last bits or so: sigmoid + bce's cost has since been written to keep the
    # digits of log1p(e^-z) (commit 01d0c16), 2 ulp apart here in float64
    assert scores["test"]["loss"] == pytest.approx(summary["test_loss"], rel=1e-14)
    assert scores["val"]["accuracy"] == summary["val_accuracy"]
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3
