"""A run folder's records and its checkpoint agree, or the folder is refused (exit 2, one line):
a checkpoint edited and passed off as an older format (version 1 or 2, before the whole-state
digest) where config.json records that the run writes a newer one, while genuine older folders
load; config.json's optimizer and train records that are not the checkpoint's. Each test failed
on the code before its fix."""

import dataclasses
import json
import pathlib
import re
import shutil

import jax
import numpy as np
import pytest

from jaxmlp import MLP, checkpoint, cli, datasets, load_run, save_run
from jaxmlp.run import folder

XOR = [
    "--data", "xor", "--hidden", "3", "--optimizer", "momentum", "--lr", "0.1",
    "--batch-size", "full", "--no-progress",
]  # fmt: skip
OLD_RUNS = pathlib.Path(__file__).parent / "data" / "old_runs"


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("records") / "run"
    assert cli.main(["train", *XOR, "--epochs", "3", "--out", str(out)]) == 0
    return out


def copied(run, tmp_path) -> pathlib.Path:
    return pathlib.Path(shutil.copytree(run, tmp_path / "run"))


def files_of(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def edit_config(out, change):
    config = json.loads((out / "config.json").read_text())
    change(config)
    (out / "config.json").write_text(json.dumps(config, indent=2))


def rewrite(path, drop=(), meta=None, remove=(), **arrays):
    """The checkpoint at ``path`` rewritten in place (valid zip CRCs) with metadata fields
    changed (``meta``) or left out (``drop``), or arrays replaced or left out (``remove``)."""
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files if k not in remove}
    old = json.loads(contents.pop(checkpoint.META).tobytes())
    new = {k: v for k, v in (old | (meta or {})).items() if k not in drop}
    contents |= arrays
    contents[checkpoint.META] = np.frombuffer(json.dumps(new).encode(), np.uint8)
    np.savez(path, **contents)


def resume(out, *flags) -> int:
    return cli.main(["train", "--out", str(out), "--resume", "--no-progress", *flags])


# -- a checkpoint passed off as an older format -------------------------------------------------

DOWNGRADES = {  # what a genuine file of that version lacks, left out
    "version 2": ({"version": 2}, ("state_sha256",)),
    "version 1": ({"version": 1}, ("state_sha256", "config_sha256")),
}


@pytest.mark.parametrize("downgrade", DOWNGRADES.values(), ids=DOWNGRADES)
def test_a_checkpoint_passed_off_as_an_older_format_is_refused(
    downgrade, xor_run, tmp_path, capsys, one_error
):
    # version 2 files have no state_sha256: one of today's with its momentum edited, the digest
    # dropped and version 2 claimed, resumed from the edited state with exit 0 (and a version 1
    # claim dropped the settings' digest too)
    out = copied(xor_run, tmp_path)
    assert json.loads((out / "config.json").read_text())["checkpoint_version"] == 3
    with np.load(out / "checkpoint.npz") as archive:
        momentum = archive["opt_state/0"] + 1.0
    meta, drop = downgrade
    rewrite(out / "checkpoint.npz", drop=drop, meta=meta, **{"opt_state/0": momentum})
    before = files_of(out)
    assert resume(out, "--epochs", "5") == 2
    one_error("checkpoint.npz", f"format version {meta['version']}", "config.json")
    assert files_of(out) == before
    assert cli.main(["evaluate", str(out)]) == 2
    one_error(f"format version {meta['version']}")
    with pytest.raises(ValueError, match=f"older than the {checkpoint.VERSION} its run writes"):
        load_run(out)


CONFIG_EDITS = {  # config.json made to say that the run writes an older format
    "checkpoint_version deleted": lambda c: c.pop("checkpoint_version"),
    "checkpoint_version lowered": lambda c: c.update(checkpoint_version=2),
}


@pytest.mark.parametrize("edit", CONFIG_EDITS.values(), ids=CONFIG_EDITS)
def test_a_config_json_edited_to_take_an_older_format_is_refused(
    edit, xor_run, tmp_path, capsys, one_error
):
    # config.json's checkpoint_version lay outside its run_id: deleted (the folder then looked
    # written before it) or lowered, a checkpoint with its momentum edited, passed off as
    # version 2, resumed from the edited state with exit 0, and evaluate used it
    out = copied(xor_run, tmp_path)
    with np.load(out / "checkpoint.npz") as archive:
        momentum = archive["opt_state/0"] + 1.0
    rewrite(out / "checkpoint.npz", drop=("state_sha256",), meta={"version": 2},
            **{"opt_state/0": momentum})  # fmt: skip
    edit_config(out, edit)
    before = files_of(out)
    assert resume(out, "--epochs", "5") == 2
    one_error("config.json: its settings or data record do not match its run_id")
    assert files_of(out) == before
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("do not match its run_id")


def test_a_folder_with_a_run_id_refuses_a_version_1_checkpoint(
    xor_run, tmp_path, capsys, one_error
):
    # a config.json with a run_id but no checkpoint_version (written 2026-12-05 to 12-07) is of
    # a run whose checkpoints are of version 2 or newer (run ids came with version 2): one
    # passed off as version 1, without the settings' digest, loaded as any format would
    out = copied(xor_run, tmp_path)
    config = json.loads((out / "config.json").read_text())
    old_id = folder.identity(config["settings"], config["data"])  # as such a folder has it
    edit_config(out, lambda c: c.update(run_id=old_id) or c.pop("checkpoint_version"))
    rewrite(out / "checkpoint.npz", drop=("state_sha256", "config_sha256"),
            meta={"version": 1, "run_id": old_id})  # fmt: skip
    before = files_of(out)
    assert resume(out, "--epochs", "5") == 2
    one_error("checkpoint.npz", "format version 1, older than the 2 its run writes")
    assert files_of(out) == before


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_genuine_folder_of_an_older_format_still_loads(dtype, capsys):
    # written by jaxmlp 380a448 (tests/data/old_runs/README.md): version 2 checkpoints, and a
    # config.json from before it recorded the format its run writes
    out = OLD_RUNS / f"gaussians_{dtype}"
    assert "checkpoint_version" not in json.loads((out / "config.json").read_text())
    assert checkpoint.read_meta(out / "checkpoint.npz")["version"] == 2
    assert load_run(out).epoch == 2
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    assert load_run(OLD_RUNS / "ignored_settings").net.sizes == (2, 1)


@pytest.mark.parametrize("value", ["3", True, 0, 2.5, None], ids=repr)
def test_a_malformed_checkpoint_version_in_config_json_is_refused(value, xor_run, tmp_path):
    out = copied(xor_run, tmp_path)
    edit_config(out, lambda c: c.update(checkpoint_version=value))
    with pytest.raises(ValueError, match=r"config.json: its checkpoint_version .* is not"):
        load_run(out)


def test_a_run_of_a_newer_checkpoint_format_asks_for_a_newer_jaxmlp(xor_run, tmp_path):
    out = copied(xor_run, tmp_path)
    newer = checkpoint.VERSION + 1  # (a run_id of it, as a newer jaxmlp would write)
    run_id = lambda c: folder.identity(c["settings"], c["data"], newer)  # noqa: E731
    edit_config(out, lambda c: c.update(checkpoint_version=newer, run_id=run_id(c)))
    rewrite(out / "checkpoint.npz", meta={"version": checkpoint.VERSION + 1})
    with pytest.raises(ValueError, match="newer than this jaxmlp reads .*upgrade jaxmlp"):
        load_run(out)


# -- config.json's optimizer and train records --------------------------------------------------

RECORDS = {
    "optimizer": lambda c: c["optimizer"].update(name="sgd", momentum=None),
    "learning rate": lambda c: c["optimizer"].update(lr=0.5),
    "batch size": lambda c: c["train"].update(batch_size=2),
    "seed": lambda c: c["train"].update(seed=7),
}


@pytest.mark.parametrize("change", RECORDS.values(), ids=RECORDS)
def test_an_optimizer_or_train_record_not_the_checkpoints_is_refused(
    change, xor_run, tmp_path, capsys, one_error
):
    # config.json's optimizer and train records (what a reader sees of how the run trained)
    # went unchecked: edited to sgd, evaluate and resume went on with exit 0, and the resume
    # kept the edited record
    out = copied(xor_run, tmp_path)
    edit_config(out, change)
    before = files_of(out)
    assert resume(out, "--epochs", "5") == 2
    one_error("config.json: its", "record", "checkpoint")
    assert files_of(out) == before
    assert cli.main(["evaluate", str(out)]) == 2
    one_error("config.json: its")
    with pytest.raises(ValueError, match=r"config.json: its (optimizer|train) record has"):
        load_run(out)


def test_a_malformed_optimizer_record_is_refused(xor_run, tmp_path):
    out = copied(xor_run, tmp_path)
    edit_config(out, lambda c: c.update(optimizer=["momentum"]))
    with pytest.raises(ValueError, match=r"config.json: its optimizer record is malformed"):
        load_run(out)


def test_a_checkpoint_of_other_optimizer_settings_is_not_resumed(
    xor_run, tmp_path, capsys, one_error
):
    # a checkpoint whose own optimizer (digests and all) differs from the one the run's settings
    # build was resumed with the settings' learning rate, exit 0
    out = copied(xor_run, tmp_path)
    ckpt = checkpoint.load(out / "checkpoint.npz")
    other = dataclasses.replace(ckpt.optimizer, lr=0.5)
    checkpoint.save(out / "checkpoint.npz", ckpt.state, net=ckpt.net, optimizer=other,
                    config=ckpt.config, extra=ckpt.extra, extra_meta=ckpt.meta["extra"],
                    run_id=ckpt.meta["run_id"])  # fmt: skip
    edit_config(out, lambda c: c["optimizer"].update(lr=0.5))  # as its checkpoint says
    assert load_run(out).epoch == 3  # what evaluate and predict read holds together
    before = files_of(out)
    assert resume(out, "--epochs", "5") == 2
    one_error("checkpoint.npz", "lr=0.5", "lr=0.1")
    assert files_of(out) == before


def test_a_run_resumed_on_another_device_count_or_extended_still_loads(xor_run, tmp_path):
    # the records' epochs and devices are the run's own: a resume may change them
    out = copied(xor_run, tmp_path)
    assert resume(out, "--epochs", "4", "--devices", "1") == 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["devices"] is None and config["extended_from"] == 3
    assert checkpoint.read_meta(out / "checkpoint.npz")["train"]["devices"] == 1
    assert load_run(out).epoch == 4


# -- the standardiser -------------------------------------------------------------------------

SCALERS = {  # the edit of an older checkpoint's standardiser, and what the error names
    "std of one value": ({"extra/std": np.array([3.0], np.float32)}, (), "shape (1,)"),
    "no standardiser": ({}, ("extra/mean", "extra/std"), "none"),
    "zero std": ({"extra/std": np.array([0.0, 1.0], np.float32)}, (), "std"),
    "nan mean": ({"extra/mean": np.array([np.nan, 0.0], np.float32)}, (), "mean"),
}


@pytest.mark.parametrize("edit", SCALERS.values(), ids=SCALERS)
def test_an_older_checkpoint_with_an_edited_standardiser_is_refused(
    edit, tmp_path, capsys, one_error
):
    # version 2 files from before extra_sha256 have no digest of their standardiser (and one
    # that has may drop it): a std of one value was broadcast over both inputs, no
    # standardiser left the inputs raw; predict gave other probabilities with exit 0
    out = pathlib.Path(shutil.copytree(OLD_RUNS / "gaussians_float32", tmp_path / "old"))
    arrays, remove, named = edit
    rewrite(out / "checkpoint.npz", drop=("extra_sha256",), remove=remove, **arrays)
    with pytest.raises(ValueError, match=f"standardiser.*{re.escape(named)}"):
        load_run(out)
    (tmp_path / "x.csv").write_text("0.5,1.0\n-1.0,2.0\n")
    args = ["predict", str(out), "--input", str(tmp_path / "x.csv"), "--no-header"]
    assert cli.main(args) == 2
    one_error("checkpoint.npz", "standardiser")


def test_a_standardiser_in_a_run_that_standardised_nothing_is_refused(xor_run, tmp_path):
    out = copied(xor_run, tmp_path)
    assert json.loads((out / "config.json").read_text())["data"]["standardized"] is False
    meta = checkpoint.read_meta(out / "checkpoint.npz")
    rewrite(out / "checkpoint.npz", meta={"version": 2}, drop=("state_sha256", "extra_sha256"),
            **{"extra/mean": np.zeros(2), "extra/std": np.ones(2)})  # fmt: skip
    edit_config(out, lambda c: c.pop("checkpoint_version"))  # a folder from before it
    assert meta["extra_sha256"] is not None
    with pytest.raises(ValueError, match="standardiser"):
        load_run(out)


@pytest.mark.parametrize(
    "std", [[0.0, 1.0], [np.nan, 1.0], [-1.0, 1.0]], ids=["zero", "nan", "negative"]
)
def test_save_run_refuses_a_standardiser_load_run_would_refuse(std, tmp_path):
    # save_run checked the standardiser's shape only: a std of 0 was written, and its model's
    # predictions were inf or nan
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    scaler = datasets.Standardizer(np.zeros(2), np.array(std))
    with pytest.raises(ValueError, match=r"save_run: the scaler's std holds float64 values"):
        save_run(tmp_path / "m", net, net.init(jax.random.key(0)), scaler=scaler)
    assert not (tmp_path / "m").exists()
