"""``jaxmlp sweep --init-from RUN``: every member starts from the run's last good weights, as
``train --init-from`` does (it was recorded in config.json and ignored: the members started
from their seeds' weights, and a missing RUN exited 0)."""

import json
import shutil

import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, checkpoint, cli, datasets, fit_population

XOR = [
    "--data", "xor", "--hidden", "3", "--activation", "sigmoid", "--loss", "sse",
    "--reduction", "sum", "--init", "uniform:0,1", "--optimizer", "sgd", "--batch-size", "full",
]  # fmt: skip
SHORT = [*XOR, "--epochs", "5", "--lr", "0.5"]
RTOL = 1e-4  # a member against its solo fit: tests/test_population.py states the bound and why


def records(out):
    return [json.loads(line) for line in (out / "members.jsonl").read_text().splitlines()]


def without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two runs of XOR 2-3-1 (30 epochs at lr 1 and at lr 2), the weights to start from."""
    root = tmp_path_factory.mktemp("from")
    for name, lr in (("a", "1"), ("b", "2")):
        argv = ["train", *XOR, "--epochs", "30", "--lr", lr, "--out", str(root / name)]
        assert cli.main([*argv, "--no-progress"]) == 0
    return root


def test_every_member_starts_from_the_runs_weights_as_train_does(trained, tmp_path):
    run_dir = trained / "a"
    solo = tmp_path / "solo"
    argv = [*SHORT, "--seed", "0", "--init-from", str(run_dir), "--out", str(solo)]
    assert cli.main(["train", *argv, "--no-progress"]) == 0
    want = json.loads((solo / "metrics.jsonl").read_text().splitlines()[-1])["train_loss"]
    out, plain = tmp_path / "sweep", tmp_path / "plain"
    swept = ["sweep", *SHORT, "--seeds", "2"]
    assert cli.main([*swept, "--init-from", str(run_dir), "--out", str(out)]) == 0
    assert cli.main([*swept, "--out", str(plain)]) == 0
    for member in records(out):  # full batch: the seeds differ only in weights they do not draw
        assert member["train_loss"] == pytest.approx(want, rel=RTOL)
    assert records(plain)[0]["train_loss"] != pytest.approx(want, rel=RTOL)
    config = json.loads((out / "config.json").read_text())
    weights = checkpoint.load(run_dir / "checkpoint.npz").final_params
    assert config["init_from_params_sha256"] == checkpoint.params_sha256(weights)


def test_init_scale_multiplies_the_runs_weights_as_fit_population_scales_given_ones(
    trained, tmp_path
):
    """``init_scale`` multiplies the initial weights and biases, the run's too (``fit_population``
    with ``params`` and ``hyper={"init_scale": ...}``): the members are that population's."""
    run_dir, out = trained / "a", tmp_path / "scaled"
    argv = [*SHORT, "--init-scale", "1,2", "--init-from", str(run_dir), "--out", str(out)]
    assert cli.main(["sweep", *argv]) == 0
    weights = checkpoint.load(run_dir / "checkpoint.npz").final_params
    net = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
    ds = datasets.load("xor")
    pop = fit_population(
        net, ds.x_train, ds.t_train, Optimizer("sgd", lr=0.5),
        TrainConfig(epochs=5, batch_size="full"), seeds=[0, 0],
        hyper={"init_scale": [1.0, 2.0]},
        params=[{k: np.stack([v, v]) for k, v in layer.items()} for layer in weights],
    )  # fmt: skip
    found = [r["train_loss"] for r in records(out)]
    assert found == [m["train_loss"] for m in pop.members] and found[0] != found[1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--init-from", "nowhere"], "no run there (no checkpoint.npz)"),
        (["--init-from", "a", "--hidden", "4"], "checkpoint is for another architecture"),
    ],
)
def test_a_missing_run_or_another_architecture_exits_2_and_leaves_nothing(
    argv, says, trained, tmp_path, fails
):
    argv = [str(trained / a) if a in ("nowhere", "a") else a for a in argv]
    out = tmp_path / "sweep"
    assert says in fails(["sweep", *SHORT, *argv, "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("init", ["normal:0.1", None])
def test_another_init_than_the_runs_is_named_as_the_init_not_an_architecture(
    command, init, trained, tmp_path, fails
):
    """--init-from RUN with an --init other than RUN's (none given: the default) was refused
    as "checkpoint is for another architecture: init 'uniform:0,1' (wanted None)": the init is
    how weights were drawn, and the way on is to repeat RUN's."""
    argv = [a for a in SHORT if a not in ("--init", "uniform:0,1")]
    argv += ["--init", init] if init else []
    out, run_dir = tmp_path / "out", trained / "a"
    err = fails([command, *argv, "--init-from", str(run_dir), "--out", str(out)])
    mine = "normal:0.1" if init else "None (each layer's default)"
    assert f"--init-from {run_dir}: its weights were drawn by --init uniform:0,1, " in err
    kind = {"train": "run", "sweep": "sweep"}[command]
    assert f"this {kind} has {mine}" in err and "architecture" not in err
    assert err.endswith("(pass --init uniform:0,1).\n") and not out.exists()


def test_a_resume_restores_exactly_and_refuses_a_changed_run(trained, tmp_path, fails):
    start = tmp_path / "start"
    shutil.copytree(trained / "a", start)
    out = tmp_path / "sweep"
    argv = [*SHORT, "--seeds", "2", "--lr", "0.5,2", "--chunk", "2", "--init-from", str(start)]
    assert cli.main(["sweep", *argv, "--out", str(out)]) == 0
    members = without_seconds(records(out))
    (out / "chunks" / "00001.npz").unlink()
    assert cli.main(["sweep", "--out", str(out), "--resume"]) == 0
    assert without_seconds(records(out)) == members
    (out / "chunks" / "00001.npz").unlink()
    shutil.rmtree(start)
    shutil.copytree(trained / "b", start)  # other weights under the recorded path
    err = fails(["sweep", "--out", str(out), "--resume"])
    assert "its weights changed since the sweep began" in err, err
    config = json.loads((out / "config.json").read_text())
    del config["init_from_params_sha256"]  # a sweep begun when --init-from was ignored
    (out / "config.json").write_text(json.dumps(config))
    err = fails(["sweep", "--out", str(out), "--resume"])
    assert "records no init_from_params_sha256" in err, err


@pytest.mark.slow
def test_a_resume_refuses_chunks_begun_from_other_weights_than_config_json_records(
    trained, tmp_path, fails
):
    """config.json's init_from_params_sha256 lies outside its run_id: edited to the SHA-256 of
    other weights put under the run's path, the resume trained the missing chunk from them and
    reported it beside the chunk started from the first, exit 0. A chunk records the SHA-256 of
    the weights its members started from."""
    start = tmp_path / "start"
    shutil.copytree(trained / "a", start)
    out = tmp_path / "sweep"
    argv = [*SHORT, "--seeds", "2", "--lr", "0.5,2", "--chunk", "2", "--init-from", str(start)]
    assert cli.main(["sweep", *argv, "--out", str(out)]) == 0
    (out / "chunks" / "00001.npz").unlink()
    shutil.rmtree(start)
    shutil.copytree(trained / "b", start)
    config = json.loads((out / "config.json").read_text())
    weights = checkpoint.load(start / "checkpoint.npz").final_params
    config["init_from_params_sha256"] = checkpoint.params_sha256(weights)
    (out / "config.json").write_text(json.dumps(config))
    err = fails(["sweep", "--out", str(out), "--resume"])
    assert "00000.npz belongs to another sweep" in err, err
