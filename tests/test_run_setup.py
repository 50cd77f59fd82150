"""A run's setup as it is recorded and checked, each test failing on the code before its fix:
save_run's feature names and scaler checked against the net's inputs, the devices a run records
(those it trained on, with the warning that chose them), a resumed run's changed optimizer
refused as changed, an init that draws what the run's default drew accepted on resume, and a
full batch's device advice."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

from jaxmlp import MLP, cli, datasets, load_run, save_run

SMALL = ["--hidden", "8", "--no-progress"]


def write_csv(path, rows=60):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    k = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    lines = ["a,b,label"] + [f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(x, k, strict=True)]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def net_and_params():
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    return net, net.init(jax.random.key(0))


@pytest.mark.parametrize("names", [["a", "a"], ["a"], ["a", "b", "c"]])
def test_save_run_refuses_feature_names_twice_or_not_one_per_input(tmp_path, net_and_params, names):
    # ["a", "a"] was saved, and predict fed column a to both inputs without a word; ["a"] was
    # saved and refused only at predict
    net, params = net_and_params
    with pytest.raises(ValueError, match="save_run"):
        save_run(tmp_path / "run", net, params, feature_names=names)
    assert not (tmp_path / "run" / "checkpoint.npz").exists()
    save_run(tmp_path / "ok", net, params, feature_names=["a", "b"])
    assert load_run(tmp_path / "ok").predict(pd.DataFrame({"b": [0.0], "a": [1.0]})).shape == (1,)


@pytest.mark.parametrize(
    "scaler",
    [
        (np.zeros(2), np.ones(2)),  # a tuple: AttributeError '_asdict'
        datasets.Standardizer(np.zeros(5), np.ones(5)),  # another width: saved, broken at predict
        datasets.Standardizer(np.zeros(2), np.ones(3)),
    ],
    ids=["tuple", "width", "std-width"],
)
def test_save_run_refuses_a_scaler_that_is_not_a_standardizer_of_the_inputs(
    tmp_path, net_and_params, scaler
):
    net, params = net_and_params
    with pytest.raises(ValueError, match="save_run: .*(Standardizer|inputs)"):
        save_run(tmp_path / "run", net, params, scaler=scaler)
    good = datasets.Standardizer(np.zeros(2), np.full(2, 2.0))
    assert load_run(save_run(tmp_path / "ok", net, params, scaler=good)).scaler is not None


@pytest.mark.slow
def test_resume_with_another_optimizer_is_refused_as_a_changed_setting(tmp_path, capsys):
    # --optimizer adam on a momentum run was refused as "momentum=0.9 would be ignored", a flag
    # the user never gave
    data, out = write_csv(tmp_path / "tr.csv"), tmp_path / "run"
    assert cli.main(["train", "--data", str(data), *SMALL, "--epochs", "1", "--optimizer",
                     "momentum", "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    resume = ["train", "--out", str(out), "--resume", "--no-progress"]
    assert cli.main([*resume, "--optimizer", "adam"]) == 2
    line = error_line(capsys)
    assert "--optimizer adam differs from the momentum of the run" in line
    assert "--momentum" not in line and "momentum=" not in line


@pytest.mark.slow
@pytest.mark.parametrize(
    "activation, init, status",
    [("tanh", "glorot_uniform", 0), ("relu", "he_normal", 2)],
)
def test_resume_takes_an_init_that_draws_as_the_runs_default_did(
    tmp_path, capsys, activation, init, status
):
    # init None draws each layer by its activation's default: tanh and softmax layers both
    # glorot_uniform, so --init glorot_uniform is the run's own (it was refused as "differs from
    # the None"); a relu run's None draws its softmax output glorot_uniform, not he_normal
    data, out = write_csv(tmp_path / "tr.csv"), tmp_path / "run"
    assert cli.main(["train", "--data", str(data), *SMALL, "--epochs", "1", "--activation",
                     activation, "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    resume = ["train", "--out", str(out), "--resume", "--no-progress", "--epochs", "2"]
    assert cli.main([*resume, "--init", init]) == status
    if status:
        assert "--init he_normal differs from the None of the run" in error_line(capsys)
    else:
        assert json.loads((out / "summary.json").read_text())["epochs"] == 2


EIGHT = r"""
import json, sys, warnings
import jax
assert jax.device_count() == 8, jax.devices()
from jaxmlp import cli

folder = sys.argv[1]
common = ["--data", folder + "/tr.csv", "--hidden", "4", "--no-progress"]
statuses = [
    cli.main(["train", *common, "--epochs", "2", "--batch-size", "30", "--out", folder + "/b30"]),
    cli.main(["train", "--out", folder + "/b30", "--resume", "--epochs", "4", "--no-progress"]),
    cli.main(["train", *common, "--epochs", "1", "--batch-size", "full", "--val-fraction", "0",
              "--out", folder + "/full"]),
]
print(json.dumps(statuses))
"""


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
    """Runs on 8 simulated devices (the flag must come before jax starts: a subprocess): batch
    30 (which trains on 6), resumed to more epochs, and a full batch of 90 examples."""
    here = tmp_path_factory.mktemp("eight")
    write_csv(here / "tr.csv", rows=90)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env["PYTHONPATH"] = os.pathsep.join([str(pathlib.Path(__file__).parents[1]), *sys.path])
    done = subprocess.run([sys.executable, "-c", EIGHT, str(here)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, 0, 0], done.stderr
    return here, done.stderr


@pytest.mark.slow
def test_a_run_records_the_devices_it_trained_on_and_the_warning_that_chose_them(eight_devices):
    # batch 30 on 8 devices trains on 6, but summary.json said 8 and held no warning; resumed on
    # the same 6, it then warned falsely that the run trained on 8
    here, stderr = eight_devices
    summary = json.loads((here / "b30" / "summary.json").read_text())
    config = json.loads((here / "b30" / "config.json").read_text())
    assert summary["devices"] == 6 and config["devices"] == 6
    chose = [w for w in summary["warnings"] if "training on 6 device(s)" in w]
    assert len(chose) == 1, summary["warnings"]  # once, though the resume said it again
    assert "resumes on" not in stderr
    assert stderr.count("batch size 30 does not divide") == 2  # once a command, not twice


@pytest.mark.slow
def test_a_full_batch_is_advised_a_device_count_not_a_batch_size(eight_devices):
    # the full batch of 90 on 8 devices was advised "a batch size that is a multiple of 8",
    # which --batch-size full cannot choose
    here, stderr = eight_devices
    summary = json.loads((here / "full" / "summary.json").read_text())
    assert summary["devices"] == 6
    (line,) = [w for w in summary["warnings"] if "device(s)" in w]
    assert "a full batch of 90 examples" in line and "--devices 6" in line
    assert "or a batch size that is a multiple of 8 to use them all" not in line


@pytest.mark.filterwarnings("default::UserWarning")  # as the command shows them
def test_a_stalled_solver_s_warning_is_in_the_summary(tmp_path, capsys):
    # newton-cg at lr 1e12 refuses every step and fit warns so; stderr said it, but
    # summary.json held "warnings": [] beside "status": "early_stopped"
    csv = write_csv(tmp_path / "d.csv")
    argv = ["train", "--data", str(csv), "--label-column", "label", "--out", str(tmp_path / "r"),
            "--optimizer", "newton-cg", "--lr", "1e12", "--epochs", "30", "--batch-size", "full",
            *SMALL]  # fmt: skip
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    said = [w for w in summary["warnings"] if "refused every step" in w]
    assert len(said) == 1 and said[0].startswith("warning: "), summary["warnings"]
    assert err.count("refused every step") == 1, err


@pytest.mark.slow
def test_resume_takes_its_data_file_by_another_path_and_refuses_a_copy(
    tmp_path, capsys, monkeypatch
):
    # config.json kept the path as given, made absolute but not resolved ("sub/../d.csv"), and
    # --resume --data d.csv from the folder above was refused as "differs from .../sub/../d.csv"
    data, out, sub = write_csv(tmp_path / "d.csv"), tmp_path / "run", tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert (
        cli.main(["train", "--data", "../d.csv", *SMALL, "--epochs", "1", "--out", str(out)]) == 0
    )
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    resume = ["train", "--out", str(out), "--resume", "--no-progress"]
    (tmp_path / "copy.csv").write_bytes(data.read_bytes())  # the same rows, another file
    assert cli.main([*resume, "--epochs", "2", "--data", "copy.csv"]) == 2
    assert "--data " in error_line(capsys)
    assert cli.main([*resume, "--epochs", "2", "--data", "d.csv"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2
    assert json.loads((out / "config.json").read_text())["settings"]["data"].endswith("../d.csv")


@pytest.mark.slow
@pytest.mark.parametrize(
    "trained, given, status",
    [("relu", "relu,relu", 0), ("relu,relu", "relu", 0), ("elu", "elu:1,elu", 0),
     ("relu", "relu,tanh", 2)],
)  # fmt: skip
def test_resume_takes_the_runs_activations_spelt_per_layer_or_as_one(
    tmp_path, capsys, trained, given, status
):
    # --activation relu,relu on a 2-layer relu run (the same network) was refused as "differs
    # from the relu of the run"
    data, out = write_csv(tmp_path / "tr.csv"), tmp_path / "run"
    assert cli.main(["train", "--data", str(data), "--hidden", "4,4", "--no-progress",
                     "--epochs", "1", "--activation", trained, "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    resume = ["train", "--out", str(out), "--resume", "--no-progress", "--epochs", "2"]
    assert cli.main([*resume, "--activation", given]) == status
    if status:
        assert "--activation relu,tanh differs from the relu of the run" in error_line(capsys)
    else:
        assert json.loads((out / "summary.json").read_text())["epochs"] == 2


def test_evaluate_knows_the_runs_data_file_by_another_path(tmp_path, monkeypatch):
    # evaluate RUN --data d.csv, the file the run read as sub/../d.csv, was taken as other data
    # (its rows reported as "data", not "train")
    from jaxmlp.run import data as run_data

    data, copy = write_csv(tmp_path / "d.csv"), tmp_path / "copy.csv"
    copy.write_bytes(data.read_bytes())
    (tmp_path / "sub").mkdir()
    settings = {"data": str(tmp_path / "sub" / ".." / "d.csv")}
    config = {"data": {"file_sha256": run_data.file_sha256(data)}}
    monkeypatch.chdir(tmp_path)
    assert run_data.whose("d.csv", settings, config) == "own"
    assert run_data.whose("copy.csv", settings, config) == "other"


@pytest.mark.slow
def test_init_from_takes_the_runs_activations_spelt_per_layer(tmp_path, capsys):
    # --init-from a 2-layer relu run with --activation relu,relu (the same network) was refused
    # as "checkpoint is for another architecture: activation 'relu' (wanted ['relu', 'relu'])"
    data, first = write_csv(tmp_path / "tr.csv"), tmp_path / "first"
    args = ["train", "--data", str(data), "--hidden", "4,4", "--no-progress", "--epochs", "1"]
    assert cli.main([*args, "--out", str(first)]) == 0
    capsys.readouterr()
    again = [*args, "--init-from", str(first)]
    assert cli.main([*again, "--activation", "relu,tanh", "--out", str(tmp_path / "b")]) == 2
    assert "another architecture" in error_line(capsys)
    assert cli.main([*again, "--activation", "relu,relu", "--out", str(tmp_path / "a")]) == 0
    start = json.loads((tmp_path / "a" / "config.json").read_text())["init_from_params_sha256"]
    assert start == json.loads((first / "summary.json").read_text())["params_sha256"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("val_fraction", "0.1", "val_fraction must be in [0, 1), got '0.1'"),
        ("dropout", "0.1", "dropout must be in [0, 1), got '0.1'"),
        ("hidden", 3, "hidden must be a list of layer widths, such as [128, 64]"),
        ("hidden", "8", "hidden must be a list of layer widths"),
    ],
)
def test_a_setting_of_the_wrong_type_is_named_not_a_type_error(setting, value, says, tmp_path):
    """Regression: ``run.train`` raised TypeError "'<=' not supported between instances of 'int'
    and 'str'" (val_fraction), "'>' not supported ..." (dropout) and "Value after * must be an
    iterable, not int" (hidden), naming no setting."""
    from jaxmlp import run

    given = {"data": "xor", "hidden": [2], "epochs": 1, setting: value}
    with pytest.raises(ValueError) as error:
        run.train(given, tmp_path / "r", echo=lambda *a, **k: None)
    assert says in str(error.value), error.value
    good = {"hidden": np.array([8]), "dropout": 0.1, "val_fraction": 0.0}[setting]  # as before
    assert run.train(given | {setting: good}, tmp_path / "ok", echo=lambda *a, **k: None)


@pytest.mark.slow
def test_a_resume_takes_its_settings_as_numpy_numbers_and_arrays(tmp_path):
    """Regression: ``run.train`` starts a run given NumPy numbers and arrays (``np.int64``
    epochs, an array of widths), but its resume raised TypeError "Object of type int64 is not
    JSON serializable" comparing them with the run's own; now they compare as JSON records them:
    the run's own values are taken, another value is refused as changed."""
    from jaxmlp import run

    quiet = {"echo": lambda *a, **k: None}
    out = tmp_path / "r"
    given = {"data": "xor", "hidden": np.array([4]), "epochs": np.int64(1), "lr": np.float32(0.5)}
    run.train(given, out, **quiet)
    own = {"hidden": np.array([4]), "seed": np.int64(0), "lr": np.float32(0.5)}
    summary = run.train(own | {"epochs": np.int64(2)}, out, resume=True, **quiet)
    assert summary["epochs"] == 2
    with pytest.raises(ValueError, match="--seed 1 differs from the 0 of the run"):
        run.train({"seed": np.int64(1), "epochs": np.int64(3)}, out, resume=True, **quiet)
